// Real QEMU end to end through HTTP (qemu:///system under scripts/test.sh, TCG, tiny guest booting
// the GRUB rescue CD): create+start, `running` on /ws/events, the RFB greeting on the VNC port,
// stop, delete, nothing left. Then a libvirt connection loss under a running LIMEN: health goes
// degraded and back, requests fail fast instead of hanging, state resyncs and a fresh snapshot is
// pushed. The daemon itself is shared with other suites, so the loss is simulated by closing and
// reopening LIMEN's connection (driver.close() + connect()), not by restarting libvirtd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { realLibvirtUri, startRealVmStack, type RealVmStack } from '../helpers/real-vms.js';
import type { TestApp } from '../helpers/app.js';
import type { TestUser } from '../helpers/factories.js';
import type { HypervisorDriver } from '../../src/hypervisor/index.js';
import { openEvents, readRfbGreeting, waitFor, waitGone, waitState, type VmJson } from './vm-helpers.js';

const URI = realLibvirtUri();

describe('VMs on real QEMU through the HTTP API', { skip: !URI && 'no real libvirt (LIMEN_TEST_LIBVIRT_URI unset)', timeout: 180_000 }, () => {
  let stack: RealVmStack;
  let t: TestApp;
  let driver: HypervisorDriver;
  let outside: HypervisorDriver;
  let user: TestUser;
  let isoId: string;
  let made: string[];

  before(async () => {
    stack = await startRealVmStack(URI!, { pollIntervalMs: 500, app: { vmOptions: { shutdownTimeoutMs: 3_000, reconcileEveryMs: 2_000 } } });
    ({ t, driver, outside, user, isoId, made } = stack);
  });

  after(async () => {
    await stack?.close();
  });

  const create = async (name: string): Promise<VmJson> => {
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: user.auth, payload: { name, vcpus: 1, memory_mb: 96, disk_gb: 1, iso: isoId, start: true } });
    assert.equal(r.statusCode, 202, r.body);
    const vm = r.json<VmJson>();
    made.push(vm.uuid);
    return vm;
  };

  test('create + start → running on /ws/events → RFB greeting → stop → delete leaves nothing', async () => {
    const ev = await openEvents(t.app, user.token);
    try {
      await ev.next((m) => m.type === 'snapshot');
      const vm = await create('real "e2e" <vm>');
      await ev.next((m) => m.type === 'vm.state' && m.vm?.uuid === vm.uuid && m.vm.state === 'running', 60_000);
      const vnc = await driver.getVncEndpoint(vm.uuid);
      assert.ok(vnc, 'VNC endpoint');
      assert.equal(vnc.host, '127.0.0.1');
      assert.match(await readRfbGreeting(vnc.host, vnc.port), /^RFB 003\.008/);

      const stats = await t.app.inject({ method: 'GET', url: `/api/vms/${vm.uuid}/stats`, headers: user.auth });
      assert.equal(stats.statusCode, 200, stats.body);
      assert.ok(stats.json<{ cpu_percent: number }>().cpu_percent >= 0);

      assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: user.auth, payload: { action: 'stop' } })).statusCode, 202);
      await ev.next((m) => m.type === 'vm.state' && m.vm?.uuid === vm.uuid && m.vm.state === 'stopped', 30_000);
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: user.auth })).statusCode, 202);
      await ev.next((m) => m.type === 'vm.deleted' && m.vm?.uuid === vm.uuid, 30_000);
      assert.ok(!(await outside.listDomains()).some((d) => d.uuid === vm.uuid), 'domain gone from libvirt');
      assert.equal(existsSync(join(t.dataDir, 'disks', `${vm.uuid}.qcow2`)), false, 'disk gone');
    } finally {
      ev.close();
    }
  });

  test('graceful shutdown that the guest ignores times out and reports it; the VM keeps running', async () => {
    const vm = await create('acpi-deaf');
    await waitState(t.app, user, vm.uuid, 'running', 60_000);
    const r = await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: user.auth, payload: { action: 'shutdown' } });
    assert.equal(r.statusCode, 202);
    assert.equal(r.json<VmJson>().state, 'stopping');
    // GRUB has no ACPI handling: after the (test-shortened) timeout the VM is running again, with a message
    const back = await waitFor('shutdown timeout reported', async () => {
      const v = (await t.app.inject({ method: 'GET', url: `/api/vms/${vm.uuid}`, headers: user.auth })).json<VmJson>();
      return v.state === 'running' && v.error_message ? v : undefined;
    }, 30_000);
    assert.match(String(back.error_message), /shutdown timed out/);
  });

  test('libvirt connection loss: degraded health, fast failures, resync and a new snapshot after reconnect', async () => {
    const vm = (await t.app.inject({ method: 'GET', url: '/api/vms', headers: user.auth })).json<{ items: VmJson[] }>().items.find((v) => v.name === 'acpi-deaf')!;
    const ev = await openEvents(t.app, user.token);
    try {
      await ev.next((m) => m.type === 'snapshot');
      await driver.close();
      const health = await t.app.inject({ method: 'GET', url: '/api/health' });
      assert.equal(health.statusCode, 503);
      assert.equal(health.json<{ libvirt: string }>().libvirt, 'disconnected');
      const t0 = Date.now();
      const refused = await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: user.auth, payload: { action: 'stop' } });
      assert.equal(refused.statusCode, 503);
      assert.ok(Date.now() - t0 < 5_000, 'no request hangs while libvirt is away');

      // while LIMEN is blind, the VM is powered off behind its back
      await outside.destroy(vm.uuid);
      const snapshotsBefore = ev.messages.filter((m) => m.type === 'snapshot').length;
      await driver.connect();
      await waitFor('health ok again', async () => (await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode === 200 || undefined, 20_000);
      await waitState(t.app, user, vm.uuid, 'stopped', 20_000);
      await waitFor('a fresh snapshot after reconnect', () => ev.messages.filter((m) => m.type === 'snapshot').length > snapshotsBefore || undefined, 20_000);
      // events flow again
      await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: user.auth, payload: { action: 'start' } });
      await ev.next((m) => m.type === 'vm.state' && m.vm?.uuid === vm.uuid && m.vm.state === 'running', 30_000);
    } finally {
      ev.close();
    }
    await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: user.auth });
    await waitGone(t.app, user, vm.uuid, 30_000);
  });
});
