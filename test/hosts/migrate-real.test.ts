// VM migration between two real hypervisor hosts on this machine: the shared libvirtd
// (qemu:///system) as `default` and a second libvirtd in its own mount namespace
// (scripts/services/libvirt-host2.sh; own host UUID, VNC ports 6100-6199, migration ports
// 49400-49499), sharing LIMEN's disk directory like hosts on shared storage. QEMU TCG guests boot
// the GRUB rescue CD. Proves: a stopped VM moves cold and starts on the target (VNC greeting from
// the target's port); the running guest moves back live (still answers VNC, gone from the source,
// running on the target, vms.host updated, quota usage unchanged); an unreachable target is
// refused with 503 and the VM is untouched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import type { TestApp } from '../helpers/app.js';
import { buildRealHostsApp, tearDownRealHosts } from './real-hosts-app.js';
import { privateServices, type PrivateServices } from '../helpers/services.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { assertErrorBody } from '../helpers/contract.js';
import type { HypervisorDriver } from '../../src/hypervisor/index.js';
import { readRfbGreeting, unlimitedQuota, waitFor, waitState, type VmJson } from '../vms/vm-helpers.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const REAL = process.env.LIMEN_TEST_REAL === '1';
const ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const why =
  URI === undefined ? 'LIMEN_TEST_LIBVIRT_URI is not set (no real libvirt here)' : process.getuid?.() !== 0 ? 'the second libvirt host needs root' : !existsSync(ISO) ? `${ISO} is missing (grub-rescue-pc)` : null;
if (why && REAL) throw new Error(`migration test cannot run: ${why}`);

type Vm = VmJson & { host: string; migrating_to: string | null };

describe('VM migration between two real hypervisor hosts', { skip: why ?? false, timeout: 900_000 }, () => {
  let svc: PrivateServices;
  let h2: (cmd: 'start' | 'stop' | 'stop-daemon' | 'start-daemon') => string;
  let driver: HypervisorDriver;
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  let isoId: string;
  let vm: Vm;

  const get = async (uuid: string): Promise<Vm> => (await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: user.auth })).json<Vm>();
  const migrate = (uuid: string, host: string) => t.app.inject({ method: 'POST', url: `/api/admin/vms/${uuid}/migrate`, headers: admin.auth, payload: { host } });
  const has = async (host: string, uuid: string) => (await t.app.limen.hosts.registry.driverFor(host).listDomains()).find((d) => d.uuid === uuid);
  const usage = async () => (await t.app.inject({ method: 'GET', url: '/api/quota', headers: user.auth })).json<{ usage: Record<string, number> }>().usage;
  const greeting = async (host: string, uuid: string) => {
    const vnc = await t.app.limen.hosts.registry.driverFor(host).getVncEndpoint(uuid);
    assert.ok(vnc, `VNC endpoint on ${host}`);
    return { port: vnc.port, hello: await readRfbGreeting(vnc.host, vnc.port, 60_000) };
  };

  before(async () => {
    svc = privateServices('limen-migrate-');
    h2 = (cmd) => svc.run('libvirt-host2.sh', cmd);
    const h2Uri = h2('start');
    ({ t, driver } = await buildRealHostsApp(URI!, 10_000));
    [admin, user] = await Promise.all([newAdmin(t.app), newUser(t.app)]);
    await unlimitedQuota(t.app, admin, user.id);
    const added = await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'h2', uri: h2Uri } });
    assert.equal(added.statusCode, 201, added.body);
    const up = await t.app.inject({ method: 'PUT', url: '/api/admin/isos/grub-rescue.iso', headers: { ...admin.auth, 'content-type': 'application/octet-stream' }, payload: createReadStream(ISO) });
    assert.equal(up.statusCode, 201, up.body);
    isoId = up.json<{ id: string }>().id;
  });

  after(() => tearDownRealHosts({ uri: URI!, t, driver, svc, owner: user, vms: vm ? [vm.uuid] : [] }));

  test('cold: a stopped VM moves to the second host and starts there (VNC greeting from that host\'s port)', async (tc) => {
    // created on default: h2 drained meanwhile
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/admin/hosts/h2/drain', headers: admin.auth })).statusCode, 200);
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name: 'mover', vcpus: 1, memory_mb: 96, disk_gb: 1, iso: isoId } });
    assert.equal(r.statusCode, 202, r.body);
    vm = r.json<Vm>();
    assert.equal(vm.host, 'default');
    await waitState(t.app, user, vm.uuid, 'stopped', 90_000);
    await waitFor('provisioning done', () => !t.app.limen.vmAccess.isBusy(vm.uuid), 30_000);
    // a draining target is refused; undrained it takes the VM
    assertErrorBody(await migrate(vm.uuid, 'h2'), 409, 'CONFLICT');
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/admin/hosts/h2/undrain', headers: admin.auth })).statusCode, 200);

    const t0 = Date.now();
    const m = await migrate(vm.uuid, 'h2');
    const coldMs = Date.now() - t0;
    assert.equal(m.statusCode, 200, m.body);
    assert.equal(m.json<Vm>().host, 'h2');
    assert.ok(await has('h2', vm.uuid), 'defined on h2');
    assert.equal(await has('default', vm.uuid), undefined, 'gone from default');
    tc.diagnostic(`cold migration (define + disk check + undefine + commit): ${coldMs} ms`);

    assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: user.auth, payload: { action: 'start' } })).statusCode, 202);
    await waitState(t.app, user, vm.uuid, 'running', 90_000);
    const g = await greeting('h2', vm.uuid);
    assert.ok(g.port >= 6100 && g.port <= 6199, `VNC port ${g.port} is h2's (6100-6199)`);
    assert.match(g.hello, /^RFB 003\.00[38]/);
  });

  test('live: the running guest moves back to default and keeps running', async (tc) => {
    // settled first: the start finished (on a loaded machine it may outlast the call timeout) and libvirt says running
    await waitFor('running on h2, nothing in flight', async () =>
      !t.app.limen.vmAccess.isBusy(vm.uuid) && (await get(vm.uuid)).state === 'running' && (await has('h2', vm.uuid))?.state === 'running' ? true : undefined, 90_000);
    const before = await usage();
    const t0 = Date.now();
    const m = await migrate(vm.uuid, 'default');
    assert.equal(m.statusCode, 202, m.body);
    assert.equal(m.json<Vm>().migrating_to, 'default');
    assert.equal(m.json<Vm>().state, 'running');
    const landed = await waitFor('migration done', async () => {
      const v = await get(vm.uuid);
      return v.migrating_to === null ? v : undefined;
    }, 300_000, 100);
    const liveMs = Date.now() - t0;
    assert.equal(landed.host, 'default', `host after the move (error: ${String(landed.error_message)})`);
    assert.equal(landed.state, 'running');
    assert.equal(await has('h2', vm.uuid), undefined, 'gone from h2');
    assert.equal((await has('default', vm.uuid))?.state, 'running', 'running on default');
    const g = await greeting('default', vm.uuid);
    assert.ok(g.port < 6100 || g.port > 6199, `VNC port ${g.port} is default's`);
    assert.match(g.hello, /^RFB 003\.00[38]/);
    assert.deepEqual(await usage(), before, 'quota usage unchanged');
    const metrics = (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
    assert.match(metrics, /vm_action_total\{action="migrate",result="success"\} 2/);
    tc.diagnostic(`live migration of a running 96 MiB TCG guest, POST to vms.host updated: ${liveMs} ms`);
  });

  test('an unreachable target is refused with 503 and the VM stays running where it is', async () => {
    h2('stop-daemon');
    try {
      await waitFor('h2 disconnected', async () => {
        const hosts = (await t.app.inject({ method: 'GET', url: '/api/admin/hosts', headers: admin.auth })).json<{ items: { name: string; status: string }[] }>();
        return hosts.items.find((h) => h.name === 'h2')?.status === 'disconnected' ? true : undefined;
      }, 60_000);
      assertErrorBody(await migrate(vm.uuid, 'h2'), 503, 'UNAVAILABLE');
      const same = await get(vm.uuid);
      assert.equal(same.host, 'default');
      assert.equal(same.state, 'running');
      assert.equal(same.migrating_to, null);
      assert.equal((await has('default', vm.uuid))?.state, 'running');
    } finally {
      h2('start-daemon');
    }
  });
});
