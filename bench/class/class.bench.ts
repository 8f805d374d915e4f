// Class bench: time to provision N VMs for a class from one template AND start them all (every
// VM `running`), as linked clones (qcow2 overlays on the base) next to the same N as full copies,
// in the same run, on the same libvirt, with the same tiny TCG guest (GRUB rescue CD in each
// CD-ROM). The base holds BENCH_BASE_MB of written data (default 256 MiB) so a full copy has
// something to copy, as a real image would. Reports both times, the ratio (full / linked) and the
// disk each VM adds. Until groups provisioning landed, the N are created through the batch API
// (POST /api/vms/batch), the same function groups use. Results merge into bench/results/<date>.json.
import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/app.js';
import { openDatabase } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { createLibvirtDriver } from '../../src/hypervisor/index.js';
import { authRepo, hashPassword } from '../../src/modules/auth/index.js';
import { mergeResults, round } from '../lib/results.js';

const URI = process.env.LIBVIRT_URI ?? 'qemu:///system';
const ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const N = Number(process.env.BENCH_CLASS_SIZE ?? 20);
const BASE_MB = Number(process.env.BENCH_BASE_MB ?? 256);
if (!existsSync(ISO)) throw new Error(`${ISO} missing: apt-get install grub-rescue-pc`);

const dataDir = mkdtempSync(join(tmpdir(), 'limen-bench-class-'));
chmodSync(dataDir, 0o755);
const config = loadConfig({
  env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: URI, LOG_LEVEL: 'warn', LIMEN_VM_ACCEL: 'tcg', LIMEN_CPU_OVERCOMMIT: '64', LIMEN_MEMORY_OVERCOMMIT: '8' },
  isRoot: true,
  qemuAvailable: true,
  version: '0.0.0-bench',
  commit: 'bench',
});
const database = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir });
await migrate(database, MIGRATIONS_DIR);
const driver = createLibvirtDriver({ uri: URI, pollIntervalMs: 1000 });
await driver.connect();
const app = await buildApp({
  config,
  database,
  driver,
  accel: 'tcg',
  hostProbe: { sample: async () => ({ cpuPercent: 0, memoryPercent: 0, diskPercent: 0 }) },
  logStream: new Writable({ write: (_c, _e, cb) => cb() }),
  slowRequestLimits: { bodyTimeoutMs: 600_000 },
});
await app.ready();

const user = await authRepo.insertUser(database.db, { username: 'teacher', passwordHash: await hashPassword('Bench-password-123'), role: 'admin', status: 'active' });
const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user.username, password: 'Bench-password-123' } });
const auth = { authorization: `Bearer ${login.json<{ access_token: string }>().access_token}` };
await app.inject({ method: 'PUT', url: `/api/admin/users/${user.id}/quota`, headers: auth, payload: { vms: null, vcpus: null, memory_mb: null, disk_gb: null, running_vms: null, running_vcpus: null, running_memory_mb: null } });
const iso = (await app.inject({ method: 'PUT', url: '/api/admin/isos/grub-rescue.iso', headers: { ...auth, 'content-type': 'application/octet-stream' }, payload: createReadStream(ISO) })).json<{ id: string }>().id;

// The template: a 1 GiB qcow2 with BASE_MB of data written, imported like a cloud image.
const img = join(dataDir, 'base-src.qcow2');
execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '1G']);
execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${BASE_MB}M`, img], { stdio: 'ignore' });
const imported = await app.inject({ method: 'POST', url: '/api/templates/import?name=class-base&cloud_init=false', headers: { ...auth, 'content-type': 'application/octet-stream' }, payload: readFileSync(img) });
if (imported.statusCode !== 201) throw new Error(`template import: ${imported.body}`);
const tpl = imported.json<{ id: string }>().id;
rmSync(img);

interface Vm {
  uuid: string;
  state: string;
}
const list = async (): Promise<Vm[]> => (await app.inject({ method: 'GET', url: '/api/vms', headers: auth })).json<{ items: Vm[] }>().items;
const diskBytes = (uuid: string): number => (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', join(dataDir, 'disks', `${uuid}.qcow2`)], { encoding: 'utf8' })) as { 'actual-size': number })['actual-size'];

async function provision(mode: 'linked' | 'full'): Promise<{ seconds: number; bytesPerVm: number }> {
  const t0 = performance.now();
  const r = await app.inject({ method: 'POST', url: '/api/vms/batch', headers: auth, payload: { template: tpl, clone_mode: mode, name_prefix: mode, count: N, iso, start: true, memory_mb: 64 } });
  if (r.statusCode !== 202) throw new Error(`${mode} batch: ${r.body}`);
  const uuids = r.json<{ items: Vm[] }>().items.map((v) => v.uuid);
  for (;;) {
    const vms = (await list()).filter((v) => uuids.includes(v.uuid));
    if (vms.some((v) => v.state === 'error') || vms.length < uuids.length) throw new Error(`${mode}: a VM failed: ${JSON.stringify(vms.filter((v) => v.state !== 'running'))}`);
    if (vms.every((v) => v.state === 'running')) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const seconds = (performance.now() - t0) / 1000;
  const bytesPerVm = uuids.reduce((n, u) => n + diskBytes(u), 0) / uuids.length;
  for (const u of uuids) await app.inject({ method: 'DELETE', url: `/api/vms/${u}`, headers: auth });
  while ((await list()).length > 0) await new Promise((res) => setTimeout(res, 500));
  return { seconds, bytesPerVm };
}

try {
  const linked = await provision('linked');
  const full = await provision('full');
  const ratio = full.seconds / linked.seconds;
  const entries = [
    { name: `class: ${N} linked clones provisioned and running`, value: round(linked.seconds, 2), unit: 's', baseline: round(full.seconds, 2), ratio: round(linked.seconds / full.seconds, 3), target: 'faster than full copies', met: linked.seconds < full.seconds },
    { name: `class: ${N} full copies provisioned and running`, value: round(full.seconds, 2), unit: 's', baseline: null, ratio: null, target: null, met: null },
    { name: 'class: disk added per linked clone', value: round(linked.bytesPerVm / 1024 ** 2, 2), unit: 'MiB', baseline: round(full.bytesPerVm / 1024 ** 2, 2), ratio: round(linked.bytesPerVm / full.bytesPerVm, 4), target: null, met: null },
  ];
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const md = `# class bench (${new Date().toISOString()})\n\n${N} VMs from one template (base: 1 GiB virtual, ${BASE_MB} MiB written), TCG, 64 MiB, GRUB rescue CD, started; load ${load}.\n\n` +
    `| mode | provisioned + all running | disk per VM |\n|---|---|---|\n| linked (overlay) | ${linked.seconds.toFixed(1)} s | ${(linked.bytesPerVm / 1024 ** 2).toFixed(2)} MiB |\n| full copy | ${full.seconds.toFixed(1)} s | ${(full.bytesPerVm / 1024 ** 2).toFixed(1)} MiB |\n\nfull / linked time: ${ratio.toFixed(2)}x\n`;
  console.log(md);
  console.log(`results: ${mergeResults(entries, { suffix: 'class', text: md })}`);
} finally {
  await app.close();
  await driver.close();
  await database.close();
  rmSync(dataDir, { recursive: true, force: true });
}
