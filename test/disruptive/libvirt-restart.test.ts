// libvirtd stopped and started under a running LIMEN (issue 4): health goes degraded and back,
// requests fail fast (never hang past their timeout), events resume and state resyncs. Runs in the
// disruptive phase of scripts/test.sh (alone, last), and only on a daemon LIMEN's script started.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { openEvents, unlimitedQuota, waitFor, waitState, type VmJson } from '../vms/vm-helpers.js';

const ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'services', 'libvirt.sh');
const owned = URI !== undefined && spawnSync('bash', [SCRIPT, 'owned']).status === 0;
// On a fresh machine (CI) scripts/test.sh starts libvirtd, so this runs; a daemon someone else
// started is never restarted by a test, and then the test says why it skipped.
const skip = !owned ? 'libvirtd was not started by LIMEN here: a shared daemon is never restarted by tests' : false;

// async, so the event loop (LIMEN's own loops, the lists below) keeps running while it stops
const daemon = async (cmd: 'stop-daemon' | 'start-daemon') => (await promisify(execFile)('bash', [SCRIPT, cmd], { encoding: 'utf8', timeout: 90_000 })).stdout;

/** Lists domains back to back until a list fails; counts the answers and keeps those without `uuid`. */
async function listUntilDown(driver: HypervisorDriver, uuid: string): Promise<{ ok: number; without: string[][] }> {
  const without: string[][] = [];
  let ok = 0;
  for (const until = Date.now() + 30_000; Date.now() < until; ok++) {
    const list = await driver.listDomains().catch(() => null);
    if (list === null) break;
    if (!list.some((d) => d.uuid === uuid)) without.push(list.map((d) => d.uuid));
  }
  return { ok, without };
}

describe('libvirtd restart under a running LIMEN', { skip, timeout: 300_000 }, () => {
  let t: TestApp;
  let driver: HypervisorDriver;
  let user: TestUser;
  let admin: TestUser;
  let uuid: string;

  before(async () => {
    driver = createLibvirtDriver({ uri: URI!, pollIntervalMs: 500, callTimeoutMs: 5_000, maxBackoffMs: 2_000 });
    t = await buildTestApp({ driver, env: { LIMEN_VM_ACCEL: 'tcg' }, vmOptions: { shutdownTimeoutMs: 3_000, reconcileEveryMs: 2_000 } });
    [user, admin] = await Promise.all([newUser(t.app), newAdmin(t.app)]);
    await unlimitedQuota(t.app, admin, user.id);
    const up = await t.app.inject({ method: 'PUT', url: '/api/admin/isos/grub-restart.iso', headers: { ...admin.auth, 'content-type': 'application/octet-stream' }, payload: createReadStream(ISO) });
    assert.equal(up.statusCode, 201, up.body);
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name: 'survivor', vcpus: 1, memory_mb: 96, disk_gb: 1, iso: up.json<{ id: string }>().id, start: true } });
    assert.equal(r.statusCode, 202, r.body);
    uuid = r.json<VmJson>().uuid;
    await waitState(t.app, user, uuid, 'running', 90_000);
  });

  after(async () => {
    if (spawnSync('virsh', ['-c', URI!, 'version']).status !== 0) await daemon('start-daemon');
    await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: user.auth, payload: { action: 'stop' } });
    await waitState(t.app, user, uuid, 'stopped', 60_000).catch(() => undefined);
    await t.app.inject({ method: 'DELETE', url: `/api/vms/${uuid}`, headers: user.auth });
    await waitFor('VM deleted', async () => (await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: user.auth })).statusCode === 404 || undefined, 60_000).catch(() => undefined);
    await t.close();
    await driver.close();
  });

  test('health degrades and recovers; requests fail fast; events resume; state resyncs', async () => {
    assert.ok(existsSync(ISO));
    const ev = await openEvents(t.app, user.token);
    try {
      await ev.next((m) => m.type === 'snapshot');
      // Lists in flight while the daemon goes away either fail or hold the running VM: a partial
      // list (lookups cut mid-way) once made the reconciler mark the VM missing.
      const lists = listUntilDown(driver, uuid);
      await daemon('stop-daemon');
      await waitFor('health degraded', async () => {
        const h = await t.app.inject({ method: 'GET', url: '/api/health' });
        return h.statusCode === 503 && h.json<{ libvirt: string }>().libvirt === 'disconnected' ? true : undefined;
      }, 30_000);
      const listed = await lists;
      assert.ok(listed.ok > 0, 'no list answered before the daemon stopped');
      assert.deepEqual(listed.without, [], `lists answered without the running VM: ${JSON.stringify(listed.without)}`);
      const t0 = Date.now();
      const r = await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: user.auth, payload: { action: 'pause' } });
      assert.equal(r.statusCode, 503, r.body);
      assert.ok(Date.now() - t0 < 6_000, `a request waited ${Date.now() - t0} ms while libvirt was down`);
      // The guest keeps running without libvirtd; LIMEN reports it as it was, not as stopped.
      assert.equal((await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: user.auth })).json<VmJson>().state, 'running');

      const snapshots = ev.messages.filter((m) => m.type === 'snapshot').length;
      await daemon('start-daemon');
      await waitFor('health ok again', async () => (await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode === 200 || undefined, 60_000);
      await waitFor('a fresh snapshot after reconnect', () => ev.messages.filter((m) => m.type === 'snapshot').length > snapshots || undefined, 30_000);

      // Events flow again: a power-off through LIMEN arrives on the stream.
      const stop = await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: user.auth, payload: { action: 'stop' } });
      assert.equal(stop.statusCode, 202, stop.body);
      await ev.next((m) => m.type === 'vm.state' && m.vm?.uuid === uuid && m.vm.state === 'stopped', 60_000);
      assert.equal(await driver.getState(uuid), 'shutoff');
    } finally {
      ev.close();
    }
  });
});
