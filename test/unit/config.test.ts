// Config (CONTRACT.md §2): bad values stop start-up with one clear line; secrets persist 0600.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig, ConfigError } from '../../src/config/config.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'limen-cfg-'));
const load = (env: Record<string, string>) => loadConfig({ env: { LIMEN_DATA_DIR: tmp(), ...env }, isRoot: true, qemuAvailable: true });

describe('config', () => {
  test('defaults follow the contract', () => {
    const c = load({});
    assert.equal(c.port, 18443);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.libvirtUri, 'qemu:///system');
    assert.equal(c.vmAccel, 'auto');
    assert.equal(c.adminUser, 'admin');
    assert.equal(c.isoDir, join(c.dataDir, 'isos'));
    assert.equal(loadConfig({ env: { LIMEN_DATA_DIR: tmp() }, isRoot: false, qemuAvailable: true }).libvirtUri, 'qemu:///session');
    assert.equal(loadConfig({ env: { LIMEN_DATA_DIR: tmp() }, isRoot: true, qemuAvailable: false }).libvirtUri, 'test:///default');
  });

  for (const [name, value] of [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['LIMEN_VM_ACCEL', 'fast'],
    ['DATABASE_URL', 'mysql://x'],
    ['LIBVIRT_URI', 'not a uri'],
    ['LIMEN_ADMIN_USER', 'A!'],
    ['LIMEN_SECRET', 'short'],
    ['LIMEN_PUBLIC_ORIGIN', 'example.com/path'],
  ] as const) {
    test(`malformed ${name}=${value} is refused naming the variable`, () => {
      assert.throws(() => load({ [name]: value }), (err: unknown) => err instanceof ConfigError && err.variable === name);
    });
  }

  test('an unreadable *_FILE names the _FILE variable', () => {
    assert.throws(() => load({ LIMEN_SECRET_FILE: '/nonexistent/secret' }), (err: unknown) => err instanceof ConfigError && err.variable === 'LIMEN_SECRET_FILE');
  });

  test('*_FILE values are read and trimmed', () => {
    const f = join(tmp(), 'db-url');
    writeFileSync(f, 'postgres://u:p@127.0.0.1:5432/limen\n');
    assert.equal(load({ DATABASE_URL_FILE: f }).databaseUrl, 'postgres://u:p@127.0.0.1:5432/limen');
  });

  test('an unwritable data dir is refused', () => {
    const f = join(tmp(), 'a-file');
    writeFileSync(f, 'x');
    assert.throws(
      () => loadConfig({ env: { LIMEN_DATA_DIR: join(f, 'data') } }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'LIMEN_DATA_DIR',
    );
  });

  test('generated secrets are 0600 and reused on the next start', () => {
    const dir = tmp();
    const a = loadConfig({ env: { LIMEN_DATA_DIR: dir } });
    const b = loadConfig({ env: { LIMEN_DATA_DIR: dir } });
    assert.equal(a.secret, b.secret);
    assert.equal(a.alertWebhookToken, b.alertWebhookToken);
    assert.notEqual(a.secret, a.alertWebhookToken);
    assert.ok(a.secret.length >= 32);
    for (const f of readdirSync(join(dir, 'secrets'))) {
      assert.equal(statSync(join(dir, 'secrets', f)).mode & 0o777, 0o600, f);
      assert.ok(readFileSync(join(dir, 'secrets', f), 'utf8').trim().length >= 32);
    }
    assert.equal(statSync(join(dir, 'secrets')).mode & 0o777, 0o700);
  });

  test('the CLI stops with exit 1 and one clear line on a bad value', () => {
    for (const env of [{ PORT: 'abc' }, { LIMEN_SECRET_FILE: '/nonexistent' }, { LIMEN_DATA_DIR: '/proc/version/data' }]) {
      const r = spawnSync(process.execPath, ['bin/limen.js', 'serve'], {
        env: { PATH: process.env.PATH, LIMEN_DATA_DIR: tmp(), LIBVIRT_URI: 'test:///default', ...env },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(Object.keys(env)[0]!));
    }
  });
});
