// Snapshots on real QEMU (qcow2 internal snapshots through libvirt): a marker written on the
// disk comes back after a revert; a snapshot of a running VM brings it back running.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { REAL } from '../helpers/db.js';
import { uploadIso, waitFor, waitState } from '../vms/vm-helpers.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const ISO = ['/usr/lib/grub-rescue/grub-rescue-cdrom.iso', '/usr/share/grub-rescue/grub-rescue-cdrom.iso'].find((p) => existsSync(p));
if (REAL && (!URI || !ISO)) throw new Error('real tier: LIMEN_TEST_LIBVIRT_URI and the GRUB rescue ISO are required');
const skip = !URI || !ISO ? 'needs real libvirt (npm test starts it)' : false;

interface SnapJson { id: string; state: string; includes_memory: boolean }

/** Writes a 4 KiB pattern at offset 0 of a (stopped) VM's qcow2 disk. */
const writeMarker = (disk: string, byte: number) => execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${byte.toString(16)} 0 4k`, disk], { stdio: 'pipe' });
const markerIs = (disk: string, byte: number): boolean => {
  // qemu-io exits non-zero and says so when the pattern does not match.
  const r = spawnSync('qemu-io', ['-f', 'qcow2', '-c', `read -P 0x${byte.toString(16)} 0 4k`, disk], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return r.status === 0 && !/Pattern verification failed/.test(r.stdout + r.stderr);
};

describe('snapshots on real QEMU', { skip, timeout: 240_000 }, () => {
  let t: TestApp;
  let driver: HypervisorDriver;
  let admin: TestUser;
  let u: TestUser;
  let isoId: string;
  const created: string[] = [];

  before(async () => {
    driver = createLibvirtDriver({ uri: URI! });
    t = await buildTestApp({ driver, env: { LIMEN_VM_ACCEL: 'tcg' }, vmOptions: { shutdownTimeoutMs: 3000 } });
    admin = await newAdmin(t.app);
    u = await newUser(t.app);
    const up = await uploadIso(t.app, admin, `grub-${Date.now()}.iso`, readFileSync(ISO!));
    assert.equal(up.statusCode, 201, up.body);
    isoId = up.json<{ id: string }>().id;
  });
  after(async () => {
    for (const uuid of created) {
      await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: admin.auth, payload: { action: 'stop' } });
      await t.app.inject({ method: 'DELETE', url: `/api/vms/${uuid}`, headers: admin.auth });
    }
    await waitFor('test VMs deleted', async () => {
      for (const uuid of created) if ((await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: admin.auth })).statusCode !== 404) return undefined;
      return true;
    }, 60_000).catch(() => undefined);
    await t.close();
    await driver.close();
  });

  const newVm = async (name: string): Promise<{ uuid: string; disk: string }> => {
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: { name, vcpus: 1, memory_mb: 96, disk_gb: 1, iso: isoId } });
    assert.equal(r.statusCode, 202, r.body);
    const uuid = r.json<{ uuid: string }>().uuid;
    created.push(uuid);
    await waitState(t.app, u, uuid, 'stopped', 60_000);
    const { findVm } = await import('../../src/modules/vms/vms.repo.js');
    return { uuid, disk: (await findVm(t.app.limen.database.db, uuid))!.diskPath };
  };
  const snapshot = async (uuid: string, name: string): Promise<SnapJson> => {
    const r = await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/snapshots`, headers: u.auth, payload: { name } });
    assert.equal(r.statusCode, 202, r.body);
    const id = r.json<SnapJson>().id;
    return waitFor(`snapshot ${name} ready`, async () => {
      const items = (await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}/snapshots`, headers: u.auth })).json<{ items: SnapJson[] }>().items;
      return items.find((s) => s.id === id && s.state === 'ready');
    }, 60_000);
  };
  const revert = async (id: string) => {
    const r = await t.app.inject({ method: 'POST', url: `/api/snapshots/${id}/restore`, headers: u.auth });
    assert.equal(r.statusCode, 202, r.body);
  };

  test('a disk marker comes back after reverting a shut-off snapshot', async () => {
    const { uuid, disk } = await newVm('marker');
    writeMarker(disk, 0x41);
    assert.ok(markerIs(disk, 0x41));
    const s = await snapshot(uuid, 'with-A');
    assert.equal(s.includes_memory, false);
    writeMarker(disk, 0x42);
    assert.ok(markerIs(disk, 0x42) && !markerIs(disk, 0x41));
    await revert(s.id);
    await waitFor('marker restored', () => markerIs(disk, 0x41) || undefined, 30_000);
    const { vm } = { vm: await waitState(t.app, u, uuid, 'stopped') };
    assert.equal(vm.state, 'stopped');
  });

  test('reverting a running snapshot brings the VM back running, with memory', async () => {
    const { uuid } = await newVm('live');
    assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: u.auth, payload: { action: 'start' } })).statusCode, 202);
    await waitState(t.app, u, uuid, 'running', 60_000);
    const s = await snapshot(uuid, 'running-state');
    assert.equal(s.includes_memory, true);
    await waitState(t.app, u, uuid, 'running', 30_000);
    await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: u.auth, payload: { action: 'stop' } });
    await waitState(t.app, u, uuid, 'stopped', 60_000);
    await revert(s.id);
    await waitState(t.app, u, uuid, 'running', 60_000);
    // libvirt loads the memory image with the guest paused, then resumes it: wait for the end.
    await waitFor('revert finished', async () => {
      const items = (await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}/snapshots`, headers: u.auth })).json<{ items: SnapJson[] }>().items;
      return items.find((x) => x.id === s.id && x.state === 'ready');
    }, 60_000);
    await waitFor('domain running', async () => (await driver.getState(uuid)) === 'running' || undefined, 15_000);
    await waitState(t.app, u, uuid, 'running', 15_000);
  });
});
