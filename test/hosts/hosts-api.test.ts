// Hosts API and placement over two simulated hosts (libvirt's test driver: test:///default and a
// node file of its own): add / list / drain / remove, VMs spread by placement, every action
// addressed to the VM's own host. The real two-daemon test is test/hosts/two-hosts-real.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { assertErrorBody } from '../helpers/contract.js';
import { waitState, waitGone, type VmJson } from '../vms/vm-helpers.js';
import { writeTestNode } from './test-node.js';

interface HostJson {
  id: string;
  name: string;
  state: string;
  status: string;
  capacity: { vcpus: number; memory_mb: number } | null;
  allocated: { vms: number; vcpus: number; memory_mb: number };
}

describe('hypervisor hosts (simulated)', () => {
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  let h2Uri: string;

  const hosts = async () => (await t.app.inject({ method: 'GET', url: '/api/admin/hosts', headers: admin.auth })).json<{ items: HostJson[]; total: number }>();
  const create = async (name: string, memory_mb = 512): Promise<VmJson> => {
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name, vcpus: 1, memory_mb, disk_gb: 1 } });
    assert.equal(r.statusCode, 202, r.body);
    return r.json<VmJson>();
  };

  before(async () => {
    // memory overcommit 1: test:///default has 3072 MiB, the second node too, so placement is easy to follow
    t = await buildTestApp({ env: { LIMEN_MEMORY_OVERCOMMIT: '1' } });
    admin = await newAdmin(t.app);
    user = await newUser(t.app);
    await t.app.inject({ method: 'PUT', url: `/api/admin/users/${user.id}/quota`, headers: admin.auth, payload: { vms: 20, vcpus: 20, memory_mb: 65536, disk_gb: 100 } });
    h2Uri = writeTestNode(t.dataDir, 'h2', 4, 3072);
  });
  after(() => t.close());

  test('the default host is listed with the capacity libvirt reports', async () => {
    const l = await hosts();
    assert.equal(l.total, 1);
    const d = l.items[0]!;
    assert.equal(d.name, 'default');
    assert.equal(d.state, 'active');
    assert.equal(d.status, 'connected');
    assert.deepEqual(d.capacity && { vcpus: d.capacity.vcpus, memory_mb: d.capacity.memory_mb }, { vcpus: 16, memory_mb: 3072 });
  });

  test('add validates name and URI, refuses duplicates and unreachable URIs, answers 201 with capacity', async () => {
    assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'Bad Name', uri: h2Uri } }), 400, 'VALIDATION_FAILED');
    assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'h2', uri: '/etc/passwd' } }), 400, 'VALIDATION_FAILED');
    // what the console's ssh tunnel would refuse (an option smuggled into keyfile=) never gets in
    const smuggled = await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'h3', uri: 'qemu+ssh://root@hv1/system?keyfile=-oProxyCommand=x' } });
    assertErrorBody(smuggled, 400, 'VALIDATION_FAILED');
    assert.match(smuggled.body, /keyfile/);
    assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'default', uri: h2Uri } }), 409, 'CONFLICT');
    assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: user.auth, payload: { name: 'h2', uri: h2Uri } }), 403, 'FORBIDDEN');
    const r = await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'h2', uri: h2Uri } });
    assert.equal(r.statusCode, 201, r.body);
    const h = r.json<HostJson>();
    assert.equal(h.id, 'h2');
    assert.deepEqual(h.capacity && { vcpus: h.capacity.vcpus, memory_mb: h.capacity.memory_mb }, { vcpus: 4, memory_mb: 3072 });
    assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/hosts', headers: admin.auth, payload: { name: 'h3', uri: h2Uri } }), 409, 'CONFLICT');
    const audit = (await t.app.inject({ method: 'GET', url: '/api/admin/audit?action=host.add', headers: admin.auth })).json<{ items: { action: string; result: string }[] }>();
    assert.ok(audit.items.some((a) => a.action === 'host.add' && a.result === 'success'));
    const health = (await t.app.inject({ method: 'GET', url: '/api/health' })).json<{ status: string; hosts: { name: string; status: string }[] }>();
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.hosts.map((x) => `${x.name}:${x.status}`), ['default:simulated', 'h2:simulated']);
  });

  test('placement spreads VMs over both hosts (most free memory first); actions reach the VM\'s own host', async () => {
    const vms: VmJson[] = [];
    for (let i = 0; i < 4; i++) vms.push(await create(`spread-${i}`));
    const on = vms.map((v) => v.host);
    assert.deepEqual([...on].sort(), ['default', 'default', 'h2', 'h2'], `placed on ${on.join(',')}`);
    const onH2 = vms.find((v) => v.host === 'h2')!;
    await waitState(t.app, user, onH2.uuid, 'stopped');
    const start = await t.app.inject({ method: 'POST', url: `/api/vms/${onH2.uuid}/action`, headers: user.auth, payload: { action: 'start' } });
    assert.equal(start.statusCode, 202, start.body);
    await waitState(t.app, user, onH2.uuid, 'running');
    // the domain lives on h2's libvirt only
    assert.equal(await t.app.limen.hosts.registry.driverFor('h2').getState(onH2.uuid), 'running');
    await assert.rejects(t.driver.getState(onH2.uuid), /not found|no domain/i);
    const l = await hosts();
    assert.equal(l.items.find((h) => h.name === 'h2')!.allocated.vms, 2);
  });

  test('a drained host gets no new VMs; undrain returns it to placement', async () => {
    const d = await t.app.inject({ method: 'POST', url: '/api/admin/hosts/h2/drain', headers: admin.auth });
    assert.equal(d.statusCode, 200, d.body);
    assert.equal(d.json<HostJson>().state, 'draining');
    // h2 has more free memory now, but it is draining
    for (let i = 0; i < 2; i++) assert.equal((await create(`drained-${i}`)).host, 'default');
    assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/hosts/nope/drain', headers: admin.auth }), 404, 'NOT_FOUND');
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/admin/hosts/h2/undrain', headers: admin.auth })).json<HostJson>().state, 'active');
    assert.equal((await create('after-undrain')).host, 'h2');
  });

  test('a host with VMs cannot be removed; the default host never; an empty host can', async () => {
    assertErrorBody(await t.app.inject({ method: 'DELETE', url: '/api/admin/hosts/default', headers: admin.auth }), 409, 'CONFLICT');
    const b = assertErrorBody(await t.app.inject({ method: 'DELETE', url: '/api/admin/hosts/h2', headers: admin.auth }), 409, 'CONFLICT');
    assert.equal((b.details as { vms: number }).vms, 3);
    const mine = (await t.app.inject({ method: 'GET', url: '/api/vms', headers: user.auth })).json<{ items: VmJson[] }>().items.filter((v) => v.host === 'h2');
    for (const v of mine) {
      if (v.state === 'running') {
        await t.app.inject({ method: 'POST', url: `/api/vms/${v.uuid}/action`, headers: user.auth, payload: { action: 'stop' } });
        await waitState(t.app, user, v.uuid, 'stopped');
      } else await waitState(t.app, user, v.uuid, 'stopped');
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/vms/${v.uuid}`, headers: user.auth })).statusCode, 202);
      await waitGone(t.app, user, v.uuid);
    }
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/api/admin/hosts/h2', headers: admin.auth })).statusCode, 204);
    assert.deepEqual((await hosts()).items.map((h) => h.name), ['default']);
    assert.equal(t.app.limen.hosts.registry.has('h2'), false);
  });
});
