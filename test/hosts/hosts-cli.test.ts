// `limen hosts list|add|drain|undrain|remove` as an operator runs it (node bin/limen.js, the build
// when there is one): straight in the database when no server holds it, and through the running
// server's admin API when the server holds the embedded database — the usual case with `npm
// start`, where opening the database from a second process is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../helpers/app.js';
import type { TestUser } from '../helpers/factories.js';
import { runLimen, serverHoldingDataDir } from '../helpers/cli.js';
import { writeTestNode } from './test-node.js';

const limen = (env: Record<string, string>, ...args: string[]) => runLimen(['hosts', ...args], env);

describe('limen hosts (CLI)', { timeout: 180_000 }, () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test('no server running: add, list, drain, undrain, remove straight in the embedded database; refusals exit 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'limen-hosts-cli-'));
    dirs.push(dataDir);
    const env = { LIMEN_DATA_DIR: dataDir };
    const node = writeTestNode(dataDir, 'hx', 6, 4096);

    const added = await limen(env, 'add', 'hx', node);
    assert.equal(added.code, 0, added.out);
    assert.match(added.out, /added hx: 6 CPUs, 4096 MiB/);
    const listed = await limen(env, 'list');
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /^hx\tactive\treachable\t0 VMs\t0\/6 vCPU, 0\/4096 MiB\t/m);
    assert.match((await limen(env, 'drain', 'hx')).out, /hx: draining/);
    assert.match((await limen(env, 'undrain', 'hx')).out, /hx: active/);
    const dup = await limen(env, 'add', 'hx', node);
    assert.deepEqual([dup.code, /host hx exists/.test(dup.out)], [1, true], dup.out);
    const bad = await limen(env, 'add', 'hy', '/etc/passwd');
    assert.deepEqual([bad.code, /not a libvirt URI/.test(bad.out)], [1, true], bad.out);
    assert.match((await limen(env, 'remove', 'hx')).out, /removed hx/);
    assert.doesNotMatch((await limen(env, 'list')).out, /^hx\t/m);
  });

  describe('a server holds the embedded database', () => {
    let t: TestApp;
    let admin: TestUser;
    let env: Record<string, string>;
    const hostsSeen = async () =>
      (await t.app.inject({ method: 'GET', url: '/api/admin/hosts', headers: admin.auth })).json<{ items: { name: string; state: string }[] }>().items.map((h) => `${h.name}:${h.state}`);

    before(async () => {
      ({ t, admin, env } = await serverHoldingDataDir());
    });
    after(() => t.close());

    test('every command goes through the admin API: the server sees the change at once, refusals carry its error', async () => {
      const node = writeTestNode(t.dataDir, 'h9', 2, 2048);
      const added = await limen(env, 'add', 'h9', node, '--cpu-overcommit', '2');
      assert.equal(added.code, 0, added.out);
      assert.match(added.out, /added h9: 2 CPUs, 2048 MiB/);
      assert.deepEqual(await hostsSeen(), ['default:active', 'h9:active']);
      const listed = await limen(env, 'list');
      assert.match(listed.out, /^default\tactive\treachable\t/m);
      assert.match(listed.out, /^h9\tactive\treachable\t0 VMs\t0\/2 vCPU, 0\/2048 MiB\t/m);
      assert.match((await limen(env, 'drain', 'h9')).out, /h9: draining/);
      assert.deepEqual(await hostsSeen(), ['default:active', 'h9:draining']);
      const unknown = await limen(env, 'drain', 'nope');
      assert.deepEqual([unknown.code, /refused \(404 NOT_FOUND\)/.test(unknown.out)], [1, true], unknown.out);
      const audit = (await t.app.inject({ method: 'GET', url: '/api/admin/audit?action=host.drain', headers: admin.auth })).json<{ items: { actor_username: string | null }[] }>();
      assert.equal(audit.items[0]?.actor_username, admin.username, 'audited as the signed-in admin');
      assert.match((await limen(env, 'remove', 'h9')).out, /removed h9/);
      assert.deepEqual(await hostsSeen(), ['default:active']);
      const wrong = await limen({ ...env, LIMEN_ADMIN_PASSWORD: 'not-the-password-1' }, 'list');
      assert.deepEqual([wrong.code, /sign-in failed \(401\)/.test(wrong.out)], [1, true], wrong.out);
    });
  });
});
