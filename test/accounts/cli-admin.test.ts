// `limen admin create` and `limen admin reset-password` against a real embedded database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase } from '../../src/platform/db/db.js';
import { buildApp } from '../../src/app.js';
import { CapturedLogs, FakeHypervisorHealth, staticHostProbe, testDriver } from '../helpers/app.js';

// bin/limen.js runs the build (npm test builds first) and falls back to the sources.
const CLI = join(import.meta.dirname, '..', '..', 'bin', 'limen.js');

function limen(dataDir: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default' },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

async function canLogin(dataDir: string, username: string, password: string): Promise<number> {
  const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default' } });
  const database = await openDatabase({ databaseUrl: undefined, dataDir });
  const app = await buildApp({ config, database, driver: testDriver(), hypervisor: new FakeHypervisorHealth(), hostProbe: staticHostProbe, logStream: new CapturedLogs() });
  try {
    return (await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } })).statusCode;
  } finally {
    await app.close();
    await database.close();
  }
}

test('admin create, then reset-password, work on the embedded database', { timeout: 300_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-cli-'));
  try {
    const c = limen(dataDir, 'admin', 'create', '--username', 'Operator1', '--password', 'operator password 1');
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /created admin "operator1"/);
    const dup = limen(dataDir, 'admin', 'create', '--username', 'operator1');
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already exists/);
    const weak = limen(dataDir, 'admin', 'create', '--username', 'weakling', '--password', 'password123');
    assert.equal(weak.status, 1);
    assert.match(weak.stderr, /common/);
    assert.equal(await canLogin(dataDir, 'operator1', 'operator password 1'), 200);

    const r = limen(dataDir, 'admin', 'reset-password', 'operator1');
    assert.equal(r.status, 0, r.stderr);
    const generated = /password: (\S+)/.exec(r.stdout)?.[1];
    assert.ok(generated && generated.length >= 12);
    assert.equal(await canLogin(dataDir, 'operator1', 'operator password 1'), 401);
    assert.equal(await canLogin(dataDir, 'operator1', generated), 200);
    const missing = limen(dataDir, 'admin', 'reset-password', 'nobody');
    assert.equal(missing.status, 1);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
