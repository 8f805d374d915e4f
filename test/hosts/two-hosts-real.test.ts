// Two real hypervisor hosts on this machine: the shared libvirtd (qemu:///system) as `default`
// and a second, independent libvirtd that this test starts through the project's own script
// (scripts/services/libvirt-host2.sh: own mount namespace, own socket, stopped by PID). Proves:
// VMs spread by placement; a drained host gets no new VM; killing the second daemon marks its VMs
// host_reachable: false (state kept, still counted against quotas), degrades health and sets
// libvirt_connection_status{host="h2"} 0; actions on them fail fast with 503; restarting it
// resyncs (a guest that died while its host was away is seen stopped).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { privateServices, type PrivateServices } from '../helpers/services.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { assertErrorBody } from '../helpers/contract.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { unlimitedQuota, waitFor, waitGone, waitState, type VmJson } from '../vms/vm-helpers.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const REAL = process.env.LIMEN_TEST_REAL === '1';
const why = URI === undefined ? 'LIMEN_TEST_LIBVIRT_URI is not set (no real libvirt here)' : process.getuid?.() !== 0 ? 'the second libvirt host needs root' : null;
if (why && REAL) throw new Error(`two-host test cannot run: ${why}`);

describe('two real hypervisor hosts', { skip: why ?? false, timeout: 600_000 }, () => {
  let svc: PrivateServices;
  let h2: (cmd: 'start' | 'stop' | 'stop-daemon' | 'start-daemon') => string;
  let h2Uri: string;
  let driver: HypervisorDriver;
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  const vms: VmJson[] = [];

  const health = async () => {
    const r = await t.app.inject({ method: 'GET', url: '/api/health' });
    return { code: r.statusCode, body: r.json<{ status: string; libvirt: string; hosts: { name: string; state: string; status: string }[] }>() };
  };
  const metric = async (host: string) => {
    const text = (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
    return text.split('\n').find((l) => l.startsWith(`libvirt_connection_status{host="${host}"}`))?.split(' ')[1];
  };
  const create = async (name: string, start = false): Promise<VmJson> => {
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name, vcpus: 1, memory_mb: 64, disk_gb: 1, start } });
    assert.equal(r.statusCode, 202, r.body);
    return r.json<VmJson>();
  };

  before(async () => {
    svc = privateServices('limen-host2-');
    h2 = (cmd) => svc.run('libvirt-host2.sh', cmd);
    h2Uri = h2('start');
    driver = createLibvirtDriver({ uri: URI!, pollIntervalMs: 500, callTimeoutMs: 5_000, maxBackoffMs: 2_000 });
    t = await buildTestApp({
      driver,
      engine: process.env.LIMEN_TEST_PG_URL ? 'postgres' : 'pglite',
      env: { LIMEN_VM_ACCEL: 'tcg' },
      vmOptions: { shutdownTimeoutMs: 3_000, reconcileEveryMs: 1_000 },
      hostWatchEveryMs: 500,
      // the second host's driver gives up on a dead daemon fast and retries often
      createHostDriver: (uri) => createLibvirtDriver({ uri, pollIntervalMs: 500, callTimeoutMs: 3_000, connectTimeoutMs: 3_000, maxBackoffMs: 1_000 }),
    });
    [admin, user] = await Promise.all([newAdmin(t.app), newUser(t.app)]);
    await unlimitedQuota(t.app, admin, user.id);
  });

  after(async () => {
    try {
      if (t) {
        for (const v of vms) {
          await t.app.inject({ method: 'POST', url: `/api/vms/${v.uuid}/action`, headers: user.auth, payload: { action: 'stop' } });
          await waitState(t.app, user, v.uuid, 'stopped', 30_000).catch(() => undefined);
          await t.app.inject({ method: 'DELETE', url: `/api/vms/${v.uuid}`, headers: user.auth });
          await waitGone(t.app, user, v.uuid, 30_000).catch(() => undefined);
        }
        await t.close();
      }
      await driver?.close();
    } finally {
      if (svc) {
        svc.run('libvirt-host2.sh', 'stop');
        svc.remove();
      }
    }
  });

  test('the second host is added through the API with the capacity its libvirt reports', async () => {
    const r = await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'h2', uri: h2Uri } });
    assert.equal(r.statusCode, 201, r.body);
    const host = r.json<{ status: string; simulated: boolean; capacity: { vcpus: number } }>();
    assert.equal(host.status, 'connected');
    assert.equal(host.simulated, false);
    assert.ok(host.capacity.vcpus >= 1);
    const h = await health();
    assert.equal(h.code, 200, JSON.stringify(h.body));
    assert.deepEqual(h.body.hosts.map((x) => `${x.name}:${x.status}`), ['default:connected', 'h2:connected']);
  });

  test('VMs spread over both hosts; each domain is defined on its own host only', async () => {
    for (let i = 0; i < 4; i++) vms.push(await create(`spread-${i}`));
    assert.deepEqual(vms.map((v) => v.host).sort(), ['default', 'default', 'h2', 'h2']);
    for (const v of vms) await waitState(t.app, user, v.uuid, 'stopped');
    const onH2 = vms.filter((v) => v.host === 'h2').map((v) => v.uuid);
    const h2Domains = (await t.app.limen.hosts.registry.driverFor('h2').listDomains()).map((d) => d.uuid);
    const defaultDomains = (await driver.listDomains()).map((d) => d.uuid);
    for (const u of onH2) {
      assert.ok(h2Domains.includes(u));
      assert.ok(!defaultDomains.includes(u));
    }
  });

  test('a drained host gets no new VMs', async () => {
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/admin/hosts/h2/drain', headers: admin.auth })).statusCode, 200);
    const a = await create('while-drained-0');
    const b = await create('while-drained-1');
    vms.push(a, b);
    assert.deepEqual([a.host, b.host], ['default', 'default']);
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/admin/hosts/h2/undrain', headers: admin.auth })).statusCode, 200);
  });

  test('the second host going away: its VMs unreachable (state kept, quota still counted), health degraded; coming back resyncs', async () => {
    const guest = vms.find((v) => v.host === 'h2')!;
    assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${guest.uuid}/action`, headers: user.auth, payload: { action: 'start' } })).statusCode, 202);
    await waitState(t.app, user, guest.uuid, 'running', 90_000);
    const usage = async () => (await t.app.inject({ method: 'GET', url: '/api/quota', headers: user.auth })).json<{ usage: { vms: number; running_vms: number } }>().usage;
    const before = await usage();

    h2('stop-daemon');
    const down = await waitFor('health degraded with h2 disconnected', async () => {
      const h = await health();
      return h.code === 503 && h.body.hosts.find((x) => x.name === 'h2')?.status === 'disconnected' ? h : undefined;
    }, 60_000);
    assert.equal(down.body.status, 'degraded');
    assert.equal(down.body.libvirt, 'connected', 'the default host is still up');
    const unreachable = await waitFor('host_reachable false', async () => {
      const r = await t.app.inject({ method: 'GET', url: `/api/vms/${guest.uuid}`, headers: user.auth });
      const v = r.json<VmJson>();
      return v.host_reachable === false ? v : undefined;
    }, 60_000);
    assert.equal(unreachable.state, 'running', 'its last known state is kept, never guessed');
    assert.equal(await metric('h2'), '0');
    assert.equal(await metric('default'), '1');
    assert.deepEqual(await usage(), before, 'VMs of an unreachable host still count against quotas');
    // actions on it fail fast and leave the row alone
    assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/vms/${guest.uuid}/action`, headers: user.auth, payload: { action: 'stop' } }), 503, 'UNAVAILABLE');
    // new VMs go to the host that is up
    const c = await create('while-h2-down');
    vms.push(c);
    assert.equal(c.host, 'default');

    // the guest dies while its host's daemon is away: only a resync can tell
    const pidFile = readdirSync(join(svc.state, 'libvirt-host2', 'run', 'qemu')).find((f) => f.endsWith('.pid') && f.includes(guest.uuid));
    assert.ok(pidFile, 'the guest QEMU pid file');
    process.kill(Number(readFileSync(join(svc.state, 'libvirt-host2', 'run', 'qemu', pidFile), 'utf8').trim()), 'SIGKILL');

    h2('start-daemon');
    await waitFor('health ok again', async () => ((await health()).code === 200 ? true : undefined), 60_000);
    const back = await waitFor('the VM resynced', async () => {
      const v = (await t.app.inject({ method: 'GET', url: `/api/vms/${guest.uuid}`, headers: user.auth })).json<VmJson>();
      return v.host_reachable === true && v.state === 'stopped' ? v : undefined;
    }, 60_000);
    assert.equal(back.host, 'h2');
    assert.equal(await metric('h2'), '1');
  });
});
