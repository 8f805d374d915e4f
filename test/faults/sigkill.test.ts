// LIMEN SIGKILLed in the middle of create, delete, snapshot and backup (issue 12, item 2): the real
// server runs as a child process on real PostgreSQL and real QEMU (TCG), is killed at the moment
// the operation is under way (the hook points below), started again on the same data, and must
// repair itself: no VM lost or duplicated, database = libvirt = disk directory, quota usage exact,
// no partial archive left, no guest left paused, and the next operation works without any manual step.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { PG_URL, REAL } from '../helpers/db.js';
import { waitFor } from '../vms/vm-helpers.js';
import { assertConsistent, limenChild, serverDatabase, whenTrue, type LimenChild } from './limen-child.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const skip = !URI || !PG_URL ? 'needs real libvirt and PostgreSQL (LIMEN_TEST_LIBVIRT_URI, LIMEN_TEST_PG_URL)' : false;
if (REAL && skip) throw new Error(`LIMEN_TEST_REAL=1 but the SIGKILL fault tests cannot run: ${skip}`);

interface Vm {
  uuid: string;
  name: string;
  state: string;
}
interface Backup {
  id: string;
  status: string;
  file: string | null;
  error: string | null;
}

describe('faults: LIMEN SIGKILLed during create, delete, snapshot and backup', { skip, timeout: 480_000 }, () => {
  let dataDir: string;
  let db: Awaited<ReturnType<typeof serverDatabase>>;
  let outside: HypervisorDriver;
  let limen: LimenChild;
  const made = new Set<string>();

  const check = () => assertConsistent({ child: limen, db, outside, dataDir });
  const state = async (uuid: string) => (await db.query<{ state: string }>('select state from vms where uuid = $1', [uuid]))[0]?.state;
  const create = async (name: string, start: boolean): Promise<Vm> => {
    const r = await limen.api<Vm>('POST', '/api/vms', { name, vcpus: 1, memory_mb: 64, disk_gb: 1, start });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    made.add(r.body.uuid);
    return r.body;
  };
  const restart = async () => {
    await limen.kill();
    await limen.start();
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'limen-faults-kill-'));
    chmodSync(dataDir, 0o755); // libvirt-qemu reaches the disks
    db = await serverDatabase('limen_faults_kill');
    outside = createLibvirtDriver({ uri: URI! });
    await outside.connect();
    limen = limenChild({ dataDir, databaseUrl: db.url, libvirtUri: URI! });
    await limen.start();
    const q = await limen.api('PUT', `/api/admin/users/${(await db.query<{ id: string }>("select id::text as id from users where username = 'admin'"))[0]!.id}/quota`, {
      vms: null, vcpus: null, memory_mb: null, disk_gb: null, snapshots: null, running_vms: null, running_vcpus: null, running_memory_mb: null,
    });
    assert.equal(q.status, 200, JSON.stringify(q.body));
  });

  after(async () => {
    await limen?.kill();
    for (const uuid of made) {
      await outside.destroy(uuid).catch(() => undefined);
      for (const s of await outside.listSnapshots(uuid).catch(() => [])) await outside.deleteSnapshot(uuid, s.name).catch(() => undefined);
      await outside.undefineDomain(uuid).catch(() => undefined);
    }
    await outside?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('killed while three creations are in flight: every accepted VM exists after the restart', async () => {
    const accepted = await Promise.all([create('k-create-1', true), create('k-create-2', false), create('k-create-3', true)]);
    // hook: kill while at least one of them is still being provisioned (if the machine was faster, at once)
    const creating = (await db.query<{ n: number }>("select count(*)::int as n from vms where state = 'creating'"))[0]!.n;
    await restart();
    console.log(`# killed with ${creating} of 3 VMs still in 'creating'`);
    const vms = await check();
    // accepted = promised: none rolled back or lost (the reconciler finishes interrupted creations)
    assert.deepEqual(vms.map((v) => v.name).sort(), accepted.map((v) => v.name).sort());
    for (const v of accepted) {
      const want = v.name === 'k-create-2' ? 'stopped' : 'running';
      await waitFor(`${v.name} ${want}`, async () => (await state(v.uuid)) === want || undefined, 60_000);
    }
  });

  test('killed while a running VM is being deleted: the deletion finishes after the restart', async () => {
    const [victim] = (await limen.api<{ items: Vm[] }>('GET', '/api/vms')).body.items.filter((v) => v.name === 'k-create-1');
    assert.ok(victim);
    const r = await limen.api('DELETE', `/api/vms/${victim.uuid}`);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    // hook: the row is in 'deleting' (the domain is being destroyed / undefined)
    await whenTrue('the VM row in deleting', async () => (await state(victim.uuid)) === 'deleting' || (await state(victim.uuid)) === undefined);
    await restart();
    await waitFor('the deletion to finish', async () => (await state(victim.uuid)) === undefined || undefined, 60_000);
    const vms = await check();
    assert.deepEqual(vms.map((v) => v.name).sort(), ['k-create-2', 'k-create-3']);
    assert.equal((await outside.listDomains()).some((d) => d.uuid === victim.uuid), false, 'domain gone');
  });

  test('killed while a running VM is being snapshotted: the snapshot is kept or dropped, never half', async () => {
    const vm = (await limen.api<{ items: Vm[] }>('GET', '/api/vms')).body.items.find((v) => v.name === 'k-create-3')!;
    assert.equal(vm.state, 'running');
    const r = await limen.api<{ id: string }>('POST', `/api/vms/${vm.uuid}/snapshots`, { name: 'before-crash' });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    // hook: the snapshot row exists in 'creating' (libvirt is saving disk + memory)
    const snapState = async () => (await db.query<{ state: string }>('select state from vm_snapshots where id = $1', [r.body.id]))[0]?.state;
    const atKill = await snapState();
    await restart();
    console.log(`# snapshot was '${atKill}' at the kill`);
    await check();
    const after = await snapState();
    assert.ok(after === 'ready' || after === undefined, `snapshot settled, not ${after}`);
    // no manual step: the next snapshot of the same VM works
    const again = await limen.api<{ id: string }>('POST', `/api/vms/${vm.uuid}/snapshots`, { name: 'after-crash' });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    await waitFor('the new snapshot ready', async () => (await snapState2(again.body.id)) === 'ready' || undefined, 60_000);
    await check();

    async function snapState2(id: string) {
      return (await db.query<{ state: string }>('select state from vm_snapshots where id = $1', [id]))[0]?.state;
    }
  });

  test('killed while a backup copies a paused VM: no partial archive, the VM runs again, the next backup works', async () => {
    const backupsDir = join(dataDir, 'backups');
    const waitBackup = (id: string) =>
      waitFor(`backup ${id} to end`, async () => {
        const row = (await limen.api<{ items: Backup[] }>('GET', '/api/admin/backups')).body.items.find((b) => b.id === id);
        return row && row.status !== 'running' ? row : undefined;
      }, 120_000, 200);
    const first = await limen.api<Backup>('POST', '/api/admin/backups', {});
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const good = await waitBackup(first.body.id);
    assert.equal(good.status, 'completed', good.error ?? '');

    // A VM with 512 MiB of real data, running: the backup pauses it for the copy of its disk.
    const big = await create('k-bulk', false);
    await waitFor('bulk VM stopped', async () => (await state(big.uuid)) === 'stopped' || undefined, 60_000);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 0 512M', join(dataDir, 'disks', `${big.uuid}.qcow2`)], { stdio: 'ignore', timeout: 60_000 });
    assert.equal((await limen.api('POST', `/api/vms/${big.uuid}/action`, { action: 'start' })).status, 202);
    await waitFor('bulk VM running', async () => (await state(big.uuid)) === 'running' || undefined, 60_000);

    const second = await limen.api<Backup>('POST', '/api/admin/backups', {});
    assert.equal(second.status, 202);
    // hook: the partial archive exists and the VM is paused for its disk copy (both seen in one
    // look, then the kill at once: a loaded machine must not let the copy finish in between)
    const partialWritten = () => readdirSync(backupsDir).some((f) => f.endsWith('.partial'));
    await whenTrue('the backup to pause the big VM', async () => partialWritten() && (await outside.getState(big.uuid)) === 'paused' && partialWritten(), 90_000);
    await limen.kill();
    assert.equal(await outside.getState(big.uuid), 'paused', 'the kill left the guest paused');
    await limen.start();

    const rows = (await limen.api<{ items: Backup[] }>('GET', '/api/admin/backups')).body.items;
    const interrupted = rows.find((b) => b.id === second.body.id)!;
    assert.equal(interrupted.status, 'interrupted');
    assert.match(interrupted.error ?? '', /ended while this backup ran/);
    assert.deepEqual(readdirSync(backupsDir).filter((f) => f.startsWith('.')), [], 'no partial archive or work dir left');
    assert.ok(existsSync(good.file!), 'the earlier archive is untouched');
    await waitFor('the paused VM to run again', async () => ((await outside.getState(big.uuid)) === 'running' && (await state(big.uuid)) === 'running') || undefined, 60_000);
    await check();

    const third = await limen.api<Backup>('POST', '/api/admin/backups', {});
    const done = await waitBackup(third.body.id);
    assert.equal(done.status, 'completed', done.error ?? '');
    assert.equal((await limen.api<{ ok: boolean }>('GET', '/api/admin/backups')).status, 200);
    assert.equal(await outside.getState(big.uuid), 'running', 'resumed after its copy');
    await check();
  });
});
