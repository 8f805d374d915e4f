// Migration between two real hosts that do NOT share LIMEN's disk directory: the shared libvirtd
// (qemu:///system, `default`, sees this machine's files) and a second libvirtd
// (scripts/services/libvirt-host2.sh) that sees, at the very same path, an EMPTY private 48 MiB
// tmpfs of its own (mounted in its namespace only). So every byte that reaches `h2` went through
// libvirt's storage API (vol-download | vol-upload, or QEMU's NBD mirror for a live move), and what
// h2 holds is read through its namespace (`nsenter -t <its libvirtd> -m`), never through LIMEN.
// Proves: the probe tells the hosts apart; an attached ISO is refused (eject first); a cold move
// copies the disk (same SHA-256 on h2, gone here) and the VM boots there (VNC greeting from h2's
// port); a live move with --copy-storage-all brings it back running (data intact, gone from h2);
// a VM with snapshots moves cold with them (list, current flag, revert on the target restores
// the disk); a copy that fills the target leaves the VM on its source, its disk intact and no
// partial volume; a partial volume left by a "crash" is removed by the reconciler; deleting a VM
// that lives on h2 removes its volume there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { TestApp } from '../helpers/app.js';
import { buildRealHostsApp, tearDownRealHosts } from './real-hosts-app.js';
import { privateServices, type PrivateServices } from '../helpers/services.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { assertErrorBody } from '../helpers/contract.js';
import type { HypervisorDriver } from '../../src/hypervisor/index.js';
import { storageShared } from '../../src/modules/vms/vm-storage-move.js';
import { readRfbGreeting, unlimitedQuota, waitFor, waitGone, waitState, type VmJson } from '../vms/vm-helpers.js';

const URI = process.env.LIMEN_TEST_LIBVIRT_URI;
const REAL = process.env.LIMEN_TEST_REAL === '1';
const ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const why =
  URI === undefined ? 'LIMEN_TEST_LIBVIRT_URI is not set (no real libvirt here)' : process.getuid?.() !== 0 ? 'the second libvirt host needs root' : !existsSync(ISO) ? `${ISO} is missing (grub-rescue-pc)` : null;
if (why && REAL) throw new Error(`storage migration test cannot run: ${why}`);

type Vm = VmJson & { host: string; migrating_to: string | null; error_message: string | null };
interface SnapJson { id: string; name: string; state: string }

const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const qemuIo = (file: string, cmd: string, prefix: string[] = []) => spawnSync(prefix[0] ?? 'qemu-io', [...prefix.slice(1), ...(prefix.length ? ['qemu-io'] : []), '-r', '-U', '-f', 'qcow2', '-c', cmd, file], { encoding: 'utf8' });
const patternOk = (r: ReturnType<typeof spawnSync>): boolean => r.status === 0 && !/Pattern verification failed|error/i.test(String(r.stdout) + String(r.stderr));

describe('migration between hosts without shared storage (real libvirt, copy through the storage API)', { skip: why ?? false, timeout: 900_000 }, () => {
  let svc: PrivateServices;
  let driver: HypervisorDriver;
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  let isoId: string;
  let disks: string;
  let h2Pid: string;
  const made: string[] = [];

  const api = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object, who?: TestUser) =>
    t.app.inject({ method, url, headers: (who ?? user).auth, ...(payload ? { payload } : {}) });
  const get = async (uuid: string): Promise<Vm> => (await api('GET', `/api/vms/${uuid}`)).json<Vm>();
  const migrate = (uuid: string, host: string) => api('POST', `/api/admin/vms/${uuid}/migrate`, { host }, admin);
  const hostDriver = (host: string) => t.app.limen.hosts.registry.driverFor(host);
  const has = async (host: string, uuid: string) => (await hostDriver(host).listDomains()).find((d) => d.uuid === uuid);
  /** a command in h2's mount namespace: it sees h2's private disk directory */
  const onH2 = (...args: string[]) => spawnSync('nsenter', ['-t', h2Pid, '-m', ...args], { encoding: 'utf8' });
  const h2File = (name: string) => join(disks, name);
  const h2Has = (name: string) => onH2('test', '-e', h2File(name)).status === 0;
  const h2Sha = (name: string) => onH2('sha256sum', h2File(name)).stdout.split(' ')[0];
  const h2Pattern = (name: string, cmd: string) => patternOk(qemuIo(h2File(name), cmd, ['nsenter', '-t', h2Pid, '-m']));
  const localPattern = (uuid: string, cmd: string) => patternOk(qemuIo(join(disks, `${uuid}.qcow2`), cmd));
  const write = (uuid: string, cmd: string) => execFileSync('qemu-io', ['-f', 'qcow2', '-c', cmd, join(disks, `${uuid}.qcow2`)], { stdio: 'pipe' });

  const createVm = async (name: string, iso: string | null): Promise<Vm> => {
    const r = await api('POST', '/api/vms', { name, vcpus: 1, memory_mb: 96, disk_gb: 1, ...(iso ? { iso } : {}) });
    assert.equal(r.statusCode, 202, r.body);
    const v = r.json<Vm>();
    made.push(v.uuid);
    await waitState(t.app, user, v.uuid, 'stopped', 90_000);
    await waitFor('provisioning done', () => !t.app.limen.vmAccess.isBusy(v.uuid), 30_000);
    return get(v.uuid);
  };
  const power = async (uuid: string, action: 'start' | 'stop', state: string) => {
    assert.equal((await api('POST', `/api/vms/${uuid}/action`, { action })).statusCode, 202);
    await waitState(t.app, user, uuid, state, 90_000);
    await waitFor(`${action} settled`, () => !t.app.limen.vmAccess.isBusy(uuid), 60_000);
  };
  const greeting = async (host: string, uuid: string) => {
    const vnc = await hostDriver(host).getVncEndpoint(uuid);
    assert.ok(vnc, `VNC endpoint on ${host}`);
    return { port: vnc.port, hello: await readRfbGreeting(vnc.host, vnc.port, 60_000) };
  };

  before(async () => {
    ({ t, driver } = await buildRealHostsApp(URI!, 20_000));
    disks = join(t.dataDir, 'disks');
    svc = privateServices('limen-storage-');
    const h2Uri = svc.run('libvirt-host2.sh', 'start', `${disks}:48m`);
    h2Pid = svc.run('libvirt-host2.sh', 'pid');
    [admin, user] = await Promise.all([newAdmin(t.app), newUser(t.app)]);
    await unlimitedQuota(t.app, admin, user.id);
    const added = await api('POST', '/api/admin/hosts', { name: 'h2', uri: h2Uri }, admin);
    assert.equal(added.statusCode, 201, added.body);
    // VMs are made on default (LIMEN writes new disks on this machine)
    assert.equal((await api('POST', '/api/admin/hosts/h2/drain', undefined, admin)).statusCode, 200);
    const up = await t.app.inject({ method: 'PUT', url: '/api/admin/isos/grub-rescue.iso', headers: { ...admin.auth, 'content-type': 'application/octet-stream' }, payload: createReadStream(ISO) });
    assert.equal(up.statusCode, 201, up.body);
    isoId = up.json<{ id: string }>().id;
  });

  after(() => tearDownRealHosts({ uri: URI!, t, driver, svc, owner: user, vms: made }));

  let mover: Vm;

  test('the probe tells the hosts apart: default shares with itself, not with h2', async () => {
    assert.equal(await storageShared(hostDriver('default'), hostDriver('default'), disks), true);
    assert.equal(await storageShared(hostDriver('default'), hostDriver('h2'), disks), false);
    assert.equal(await storageShared(hostDriver('h2'), hostDriver('default'), disks), false);
  });

  test('cold: an attached ISO is refused; ejected, the disk is copied to h2 (same bytes there, gone here) and the VM boots on h2', async (tc) => {
    mover = await createVm('mover', isoId);
    assert.equal((await api('POST', '/api/admin/hosts/h2/undrain', undefined, admin)).statusCode, 200);
    const refused = assertErrorBody(await migrate(mover.uuid, 'h2'), 409, 'CONFLICT') as { details?: Record<string, unknown> };
    assert.equal(refused.details?.iso, true);
    assert.equal((await get(mover.uuid)).host, 'default');
    assert.equal((await api('POST', `/api/vms/${mover.uuid}/media`, { iso: null })).statusCode, 200);

    write(mover.uuid, 'write -P 0x5a 0 24M');
    const local = join(disks, `${mover.uuid}.qcow2`);
    const before = sha256File(local);
    const bytes = statSync(local).size;
    const t0 = Date.now();
    const m = await migrate(mover.uuid, 'h2');
    const ms = Date.now() - t0;
    assert.equal(m.statusCode, 200, `${m.body} — ${String((await get(mover.uuid)).error_message)}`);
    assert.equal(m.json<Vm>().host, 'h2');
    assert.equal(existsSync(local), false, 'the source disk is removed after the commit');
    assert.equal(h2Sha(`${mover.uuid}.qcow2`), before, 'h2 holds the same bytes');
    assert.ok(await has('h2', mover.uuid));
    assert.equal(await has('default', mover.uuid), undefined);
    tc.diagnostic(`cold move with copy: ${(bytes / 1048576).toFixed(1)} MiB in ${ms} ms (POST → 200, probe + copy + read-back + define) = ${(bytes / 1048576 / (ms / 1000)).toFixed(1)} MiB/s`);
    const audit = (await api('GET', '/api/admin/audit?action=vm.migrate', undefined, admin)).json<{ items: { target_id: string; details: { storage?: string; volumes?: { bytes: number; ms: number; sha256: string }[] } }[] }>();
    const copied = audit.items.find((a) => a.target_id === mover.uuid && a.details.storage === 'copied');
    assert.ok(copied?.details.volumes?.length === 1, 'the audit records the copied volume');
    assert.equal(copied.details.volumes[0]!.sha256, before);
    const v0 = copied.details.volumes[0]!;
    tc.diagnostic(`the disk copy itself (vol-download | vol-upload + read-back hash): ${(v0.bytes / 1048576).toFixed(1)} MiB in ${v0.ms} ms = ${(v0.bytes / 1048576 / (v0.ms / 1000)).toFixed(1)} MiB/s`);

    await power(mover.uuid, 'start', 'running');
    const g = await greeting('h2', mover.uuid);
    assert.ok(g.port >= 6100 && g.port <= 6199, `VNC port ${g.port} is h2's`);
    assert.match(g.hello, /^RFB 003\.00[38]/);
  });

  test('live with --copy-storage-all: the running guest comes back to default with its disk, gone from h2', async (tc) => {
    await waitFor('running on h2', async () => ((await has('h2', mover.uuid))?.state === 'running' && (await get(mover.uuid)).state === 'running' ? true : undefined), 60_000);
    const t0 = Date.now();
    const m = await migrate(mover.uuid, 'default');
    assert.equal(m.statusCode, 202, m.body);
    const landed = await waitFor('live move done', async () => {
      const v = await get(mover.uuid);
      return v.migrating_to === null ? v : undefined;
    }, 300_000, 200);
    const ms = Date.now() - t0;
    assert.equal(landed.host, 'default', `host after the move (error: ${String(landed.error_message)})`);
    assert.equal(landed.state, 'running');
    assert.equal((await has('default', mover.uuid))?.state, 'running');
    assert.equal(await has('h2', mover.uuid), undefined);
    // removed right after the commit, by the same operation
    await waitFor('move finished', () => !t.app.limen.vmAccess.isBusy(mover.uuid), 30_000);
    assert.equal(h2Has(`${mover.uuid}.qcow2`), false, 'the volume on h2 is removed after the commit');
    assert.ok(localPattern(mover.uuid, 'read -P 0x5a 0 24M'), 'the 24 MiB written before the moves is on the local disk');
    const g = await greeting('default', mover.uuid);
    assert.ok(g.port < 6100 || g.port > 6199, `VNC port ${g.port} is default's`);
    assert.match(g.hello, /^RFB 003\.00[38]/);
    tc.diagnostic(`live move with storage mirror (1 GiB virtual disk, 24 MiB written, 96 MiB RAM): ${ms} ms`);
  });

  test('a VM with snapshots moves cold with them: list and current kept on h2, revert there restores the disk', async () => {
    await power(mover.uuid, 'stop', 'stopped');
    const snapshot = async (name: string): Promise<SnapJson> => {
      const r = await api('POST', `/api/vms/${mover.uuid}/snapshots`, { name });
      assert.equal(r.statusCode, 202, r.body);
      const id = r.json<SnapJson>().id;
      return waitFor(`snapshot ${name}`, async () => (await api('GET', `/api/vms/${mover.uuid}/snapshots`)).json<{ items: SnapJson[] }>().items.find((s) => s.id === id && s.state === 'ready'), 60_000);
    };
    write(mover.uuid, 'write -P 0x41 0 4k');
    const first = await snapshot('first');
    write(mover.uuid, 'write -P 0x42 0 4k');
    await snapshot('second');
    write(mover.uuid, 'write -P 0x43 0 4k');
    const exported = await hostDriver('default').exportSnapshots(mover.uuid);
    assert.equal(exported.items.length, 2);

    const m = await migrate(mover.uuid, 'h2');
    assert.equal(m.statusCode, 200, `${m.body} — ${String((await get(mover.uuid)).error_message)}`);
    const onTarget = await hostDriver('h2').exportSnapshots(mover.uuid);
    assert.deepEqual(onTarget.items.map((s) => s.name), exported.items.map((s) => s.name), 'same snapshots, parents first, on h2');
    assert.notEqual(onTarget.current, null);
    assert.equal(onTarget.current, exported.current, 'current snapshot kept');
    assert.deepEqual((await api('GET', `/api/vms/${mover.uuid}/snapshots`)).json<{ items: SnapJson[] }>().items.map((s) => s.name).sort(), ['first', 'second']);
    assert.ok(h2Pattern(`${mover.uuid}.qcow2`, 'read -P 0x43 0 4k'), 'h2 has the latest data');

    const r = await api('POST', `/api/snapshots/${first.id}/restore`);
    assert.equal(r.statusCode, 202, r.body);
    await waitFor('revert done on h2', async () => (await api('GET', `/api/vms/${mover.uuid}/snapshots`)).json<{ items: SnapJson[] }>().items.find((s) => s.id === first.id && s.state === 'ready'), 60_000);
    await waitFor('disk reverted on h2', () => h2Pattern(`${mover.uuid}.qcow2`, 'read -P 0x41 0 4k') || undefined, 30_000);
    assert.equal((await get(mover.uuid)).host, 'h2');
  });

  let big: Vm;

  test('a copy that fills the target fails: the VM stays on its source, its disk intact, no partial volume on h2', async () => {
    assert.equal((await api('POST', '/api/admin/hosts/h2/drain', undefined, admin)).statusCode, 200);
    big = await createVm('big', null);
    assert.equal(big.host, 'default');
    assert.equal((await api('POST', '/api/admin/hosts/h2/undrain', undefined, admin)).statusCode, 200);
    write(big.uuid, 'write -P 0x77 0 64M');
    const local = join(disks, `${big.uuid}.qcow2`);
    const before = sha256File(local);
    const r = await migrate(big.uuid, 'h2');
    assertErrorBody(r, 503, 'UNAVAILABLE');
    const v = await get(big.uuid);
    assert.equal(v.host, 'default');
    assert.equal(v.state, 'stopped');
    assert.equal(v.migrating_to, null);
    assert.match(String(v.error_message), /migration to h2 failed/);
    assert.equal(sha256File(local), before, 'source disk untouched');
    assert.equal(h2Has(`${big.uuid}.qcow2`), false, 'no partial volume on h2');
    assert.equal(await has('h2', big.uuid), undefined);
    assert.ok(await has('default', big.uuid));
  });

  test('a partial volume left on the target by a crash mid-copy is removed by the reconciler; the VM stays', async () => {
    const h2 = hostDriver('h2');
    const name = `${big.uuid}.qcow2`;
    // what a crash mid-copy leaves: the row marked migrating, an incomplete file on the target
    await t.app.limen.vmAccess.exclusive(big.uuid, async () => {
      await h2.storage.createVolume(disks, name, { format: 'raw', capacityBytes: 0 });
      const up = h2.storage.upload(disks, name);
      up.stream.end(Buffer.alloc(1024 * 1024, 0x77));
      await up.done;
      await t.app.limen.database.db.execute(sql`update vms set migrating_to = 'h2' where uuid = ${big.uuid}`);
    });
    assert.ok(h2Has(name), 'the partial volume is there');
    const settled = await waitFor('migration settled', async () => {
      const v = await get(big.uuid);
      return v.migrating_to === null ? v : undefined;
    }, 60_000);
    assert.equal(settled.host, 'default');
    assert.equal(h2Has(name), false, 'partial volume removed');
    assert.ok(localPattern(big.uuid, 'read -P 0x77 0 64M'), 'the source disk is intact');
  });

  test('deleting a VM that lives on h2 removes its volume there (LIMEN has no local file, so it asks the VM\'s host)', async () => {
    assert.equal((await get(mover.uuid)).host, 'h2');
    assert.ok(h2Has(`${mover.uuid}.qcow2`));
    assert.equal((await api('DELETE', `/api/vms/${mover.uuid}`)).statusCode, 202);
    await waitGone(t.app, user, mover.uuid, 60_000);
    assert.equal(h2Has(`${mover.uuid}.qcow2`), false);
    assert.equal(await has('h2', mover.uuid), undefined);
  });
});
