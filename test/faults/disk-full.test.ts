// The data dir's filesystem full during a VM creation and a backup (issue 12, item 2): LIMEN's
// data dir is a small tmpfs (mounted here, unmounted after), the database is a real PostgreSQL
// (elsewhere, as in production with DATABASE_URL), VMs are real QEMU (TCG). Full → a create is
// refused with 503 UNAVAILABLE in the contract's shape and nothing of it appears; a backup fails
// with a clear "no space left" and leaves no partial file, and the VM it paused runs again.
// Space freed → both work again, without a restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { PG_URL, REAL } from '../helpers/db.js';
import { newAdmin, type TestUser } from '../helpers/factories.js';
import { assertErrorBody } from '../helpers/contract.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { verifyArchive } from '../../src/modules/backups/verify.js';
import { unlimitedQuota, waitFor, waitState, type VmJson } from '../vms/vm-helpers.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const isRoot = process.getuid?.() === 0;
const skip = !URI || !PG_URL ? 'needs real libvirt and PostgreSQL' : !isRoot ? 'mounting a small tmpfs as the data dir needs root' : false;
if (REAL && skip) throw new Error(`LIMEN_TEST_REAL=1 but the disk-full fault test cannot run: ${skip}`);

interface Backup {
  id: string;
  status: string;
  file: string | null;
  error: string | null;
}

describe('faults: the data dir runs out of space', { skip, timeout: 180_000 }, () => {
  let mnt: string;
  let t: TestApp;
  let driver: HypervisorDriver;
  let admin: TestUser;
  let runner: VmJson;
  const filler = () => join(mnt, 'filler');

  const backup = async (): Promise<Backup> => {
    const r = await t.app.inject({ method: 'POST', url: '/api/admin/backups', headers: admin.auth, payload: {} });
    assert.equal(r.statusCode, 202, r.body);
    const id = r.json<Backup>().id;
    return waitFor(`backup ${id}`, async () => {
      const row = (await t.app.inject({ method: 'GET', url: '/api/admin/backups', headers: admin.auth })).json<{ items: Backup[] }>().items.find((b) => b.id === id);
      return row && row.status !== 'running' ? row : undefined;
    }, 90_000, 200);
  };
  const vms = async () => (await t.app.inject({ method: 'GET', url: '/api/vms', headers: admin.auth })).json<{ items: VmJson[] }>().items;
  const usage = async () => (await t.app.inject({ method: 'GET', url: '/api/quota', headers: admin.auth })).json<{ usage: Record<string, number> }>().usage;
  const leftovers = () => readdirSync(join(mnt, 'backups')).filter((f) => f.startsWith('.'));

  before(async () => {
    mnt = mkdtempSync(join(tmpdir(), 'limen-faults-full-'));
    // 192 MiB: above the 64 MiB LIMEN keeps free for new VMs, room for thin disks and small archives
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=192m,mode=0755', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`cannot mount a tmpfs for the data dir (needs root with CAP_SYS_ADMIN): ${m.stderr}`);
    chmodSync(mnt, 0o755);
    driver = createLibvirtDriver({ uri: URI!, pollIntervalMs: 500 });
    t = await buildTestApp({ engine: 'postgres', driver, env: { LIMEN_DATA_DIR: mnt, LIMEN_VM_ACCEL: 'tcg' } });
    admin = await newAdmin(t.app);
    await unlimitedQuota(t.app, admin, admin.id);
    // a running VM with 32 MiB of data: the backup pauses it to copy that disk, and the copy is what runs out of space
    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: admin.auth, payload: { name: 'full-runner', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
    assert.equal(r.statusCode, 202, r.body);
    const uuid = r.json<VmJson>().uuid;
    await waitState(t.app, admin, uuid, 'stopped', 60_000);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xcd 0 32M', join(mnt, 'disks', `${uuid}.qcow2`)], { stdio: 'ignore', timeout: 60_000 });
    assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: admin.auth, payload: { action: 'start' } })).statusCode, 202);
    runner = await waitState(t.app, admin, uuid, 'running', 90_000);
  });

  after(async () => {
    for (const vm of (await vms().catch(() => [])) as VmJson[]) {
      await driver.destroy(vm.uuid).catch(() => undefined);
      await driver.undefineDomain(vm.uuid).catch(() => undefined);
    }
    await t?.close();
    await driver?.close();
    if (mnt) {
      spawnSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  test('full disk: create refused with 503 UNAVAILABLE and nothing created; backup fails cleanly; both work once space is freed', async () => {
    const good = await backup();
    assert.equal(good.status, 'completed', good.error ?? '');
    const before = { vms: await vms(), usage: await usage(), disks: readdirSync(join(mnt, 'disks')).sort() };

    // fill the filesystem but 4 MiB: the database dump still fits, the VM's 32 MiB disk does not
    const avail = () => Number(execFileSync('df', ['--output=avail', '-B1', mnt], { encoding: 'utf8' }).split('\n')[1]);
    execFileSync('fallocate', ['-l', String(avail() - 4 * 1024 * 1024), filler()]);
    assert.ok(avail() < 5 * 1024 * 1024, `the data dir is full (${avail()} bytes free)`);

    const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: admin.auth, payload: { name: 'no-room', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
    assert.equal(r.statusCode, 503, r.body);
    assertErrorBody(r, 503, 'UNAVAILABLE');
    assert.match(r.json<{ message: string }>().message, /data directory is full/);
    assert.equal(r.json<{ details: { resource: string } }>().details.resource, 'disk');
    // nothing half-done: no row, no disk, no domain, quota untouched
    assert.deepEqual((await vms()).map((v) => v.uuid), before.vms.map((v) => v.uuid));
    assert.deepEqual(readdirSync(join(mnt, 'disks')).sort(), before.disks);
    assert.deepEqual(await usage(), before.usage);
    for (const d of await driver.listDomains()) {
      if (before.vms.some((v) => v.uuid === d.uuid)) continue;
      assert.ok(!(await driver.getDomainXml(d.uuid).catch(() => '')).includes(mnt), `no domain of the refused VM (${d.name})`);
    }

    const failed = await backup();
    assert.equal(failed.status, 'failed');
    assert.match(failed.error ?? '', /no space left in .* while writing the backup \(step: vm\); nothing was kept/);
    assert.deepEqual(leftovers(), [], 'no partial archive or work dir');
    assert.equal((await verifyArchive(good.file!)).ok, true, 'the earlier archive is intact');
    // the VM the backup paused for its copy runs again
    assert.equal(await driver.getState(runner.uuid), 'running');
    await waitState(t.app, admin, runner.uuid, 'running');
    // the server itself is fine: health is about the database and libvirt
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/health' })).statusCode, 200);

    // space freed: no restart, no manual step
    unlinkSync(filler());
    const ok = await t.app.inject({ method: 'POST', url: '/api/vms', headers: admin.auth, payload: { name: 'room-again', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
    assert.equal(ok.statusCode, 202, ok.body);
    const vm = await waitState(t.app, admin, ok.json<VmJson>().uuid, 'stopped', 60_000);
    assert.ok(existsSync(join(mnt, 'disks', `${vm.uuid}.qcow2`)));
    assert.equal(await driver.getState(vm.uuid), 'shutoff');
    const again = await backup();
    assert.equal(again.status, 'completed', again.error ?? '');
    assert.equal((await verifyArchive(again.file!)).ok, true);
    const u = await usage();
    assert.equal(u.vms, before.usage.vms! + 1);
    assert.equal(u.disk_gb, before.usage.disk_gb! + 1);
  });
});
