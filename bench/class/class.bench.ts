// Class bench: "Provision for group" of N members from one template AND start them all (every VM
// `running`), as linked clones (qcow2 overlays on the base) next to the same N as full copies, in
// the same run, on the same libvirt, with the same tiny TCG guest (GRUB rescue CD in each CD-ROM).
// Both sides go through POST /api/admin/groups/{id}/provision (one all-or-nothing batch) and are
// removed with the group's bulk delete. The base holds BENCH_BASE_MB of written data (default
// 256 MiB) so a full copy has something to copy, as a real image would. Reports both times, the
// ratio and the disk each VM adds, with the 1-minute load average (the machine may be shared: the
// ratio still compares like with like). Results merge into bench/results/<date>.json.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { authRepo, hashPassword } from '../../src/modules/auth/index.js';
import { mergeResults, round } from '../lib/results.js';
import { loadAverage, startBenchApp } from '../lib/bench-app.js';

const N = Number(process.env.BENCH_CLASS_SIZE ?? 20);
const BASE_MB = Number(process.env.BENCH_BASE_MB ?? 256);
/** One side may take minutes on a loaded 2-core machine; past this something is stuck. */
const SIDE_TIMEOUT_MS = 30 * 60_000;

const bench = await startBenchApp('class', { env: { LIMEN_CPU_OVERCOMMIT: '64', LIMEN_MEMORY_OVERCOMMIT: '8' }, pollIntervalMs: 1000, bodyTimeoutMs: 600_000 });
const { app, auth, dataDir } = bench;

interface Vm {
  uuid: string;
  name: string;
  state: string;
}
interface Provision {
  id: string;
  state: string;
  items: { username: string; state: string; error: string | null }[];
}

async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object, want = [200]): Promise<T> {
  const r = await app.inject({ method, url, headers: auth, ...(payload ? { payload } : {}) });
  if (!want.includes(r.statusCode)) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
  return r.json<T>();
}
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
/** Every VM this bench made: their domains are removed even when a run fails. */
const made = new Set<string>();

try {
  // The class: N approved students with the default quotas (one small VM each fits them).
  const hash = await hashPassword('Student-password-123');
  const members: string[] = [];
  for (let i = 0; i < N; i++) members.push((await authRepo.insertUser(bench.database.db, { username: `student${String(i).padStart(2, '0')}`, passwordHash: hash, role: 'user', status: 'active' })).id);
  const group = await api<{ id: string }>('POST', '/api/admin/groups', { name: 'bench-class', members }, [201]);

  // The template: a 1 GiB qcow2 with BASE_MB of data written, imported like a cloud image.
  const img = join(dataDir, 'base-src.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '1G']);
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a 0 ${BASE_MB}M`, img], { stdio: 'ignore' });
  const imported = await app.inject({ method: 'POST', url: `/api/templates/import?name=class-base&cloud_init=false&visibility=group&group_id=${group.id}`, headers: { ...auth, 'content-type': 'application/octet-stream' }, payload: readFileSync(img) });
  if (imported.statusCode !== 201) throw new Error(`template import: ${imported.body}`);
  const template = imported.json<{ id: string }>().id;
  rmSync(img);

  const groupVms = async (): Promise<Vm[]> => (await api<{ items: Vm[] }>('GET', `/api/admin/groups/${group.id}/vms`)).items;
  const diskBytes = (uuid: string): number =>
    (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', join(dataDir, 'disks', `${uuid}.qcow2`)], { encoding: 'utf8' })) as { 'actual-size': number })['actual-size'];

  async function provision(mode: 'linked' | 'full'): Promise<{ seconds: number; bytesPerVm: number; load: string }> {
    const load = loadAverage();
    const t0 = performance.now();
    const p = await api<Provision>('POST', `/api/admin/groups/${group.id}/provision`, { template, clone_mode: mode, name_prefix: mode, start: true, memory_mb: 64 }, [202]);
    for (;;) {
      const now = await api<Provision>('GET', `/api/admin/group-provisions/${p.id}`);
      const failed = now.items.filter((i) => i.state === 'failed');
      if (failed.length > 0) throw new Error(`${mode}: ${failed.length} members failed: ${JSON.stringify(failed.slice(0, 3))}`);
      const vms = await groupVms();
      for (const v of vms) made.add(v.uuid);
      if (now.state === 'succeeded' && vms.length === N && vms.every((v) => v.state === 'running')) break;
      if (performance.now() - t0 > SIDE_TIMEOUT_MS) throw new Error(`${mode}: not all running after ${SIDE_TIMEOUT_MS / 60_000} min: ${JSON.stringify(vms.filter((v) => v.state !== 'running'))}`);
      await sleep(250);
    }
    const seconds = (performance.now() - t0) / 1000;
    const vms = await groupVms();
    for (const v of vms) made.add(v.uuid);
    const bytesPerVm = vms.reduce((n, v) => n + diskBytes(v.uuid), 0) / vms.length;
    console.log(`${mode}: ${N} provisioned and running in ${seconds.toFixed(1)} s (load at start ${load})`);
    // The group's bulk delete powers each VM off and removes it with its disk. A VM whose create
    // operation is still winding down (state recorded, lock not yet released) is refused as busy:
    // asked again until every VM is being deleted.
    const until = Date.now() + SIDE_TIMEOUT_MS;
    for (;;) {
      const left = await groupVms();
      if (left.length === 0) break;
      if (left.some((v) => v.state !== 'deleting')) {
        const del = await api<{ failed: number; items: { name: string; message?: string }[] }>('POST', `/api/admin/groups/${group.id}/actions`, { action: 'delete' });
        const refused = del.items.filter((i) => i.message && !/deleting/i.test(i.message));
        if (refused.length > 0) console.log(`${mode}: delete refused for ${refused.length}, asking again (${refused[0]!.name}: ${refused[0]!.message})`);
      }
      if (Date.now() > until) throw new Error(`${mode}: the group's VMs were not deleted`);
      await sleep(1000);
    }
    return { seconds, bytesPerVm, load };
  }

  const linked = await provision('linked');
  const full = await provision('full');
  const ratio = full.seconds / linked.seconds;
  const entries = [
    { name: `class: ${N} linked clones provisioned for a group and running`, value: round(linked.seconds, 2), unit: 's', baseline: round(full.seconds, 2), ratio: round(linked.seconds / full.seconds, 3), target: 'faster than full copies', met: linked.seconds < full.seconds },
    { name: `class: ${N} full copies provisioned for a group and running`, value: round(full.seconds, 2), unit: 's', baseline: null, ratio: null, target: null, met: null },
    { name: 'class: disk added per linked clone', value: round(linked.bytesPerVm / 1024 ** 2, 2), unit: 'MiB', baseline: round(full.bytesPerVm / 1024 ** 2, 2), ratio: round(linked.bytesPerVm / full.bytesPerVm, 4), target: null, met: null },
  ];
  const md =
    `# class bench (${new Date().toISOString()})\n\n` +
    `"Provision for group" for a group of ${N} members from one template (base: 1 GiB virtual, ${BASE_MB} MiB written), ` +
    `TCG, 1 vCPU, 64 MiB, GRUB rescue CD, start after create; timed from the POST until every VM is \`running\`. ` +
    `Both sides run in the same script on the same machine, one after the other.\n\n` +
    `| mode | provisioned + all running | disk per VM | 1/5/15-min load at its start |\n|---|---|---|---|\n` +
    `| linked (overlay) | ${linked.seconds.toFixed(1)} s | ${(linked.bytesPerVm / 1024 ** 2).toFixed(2)} MiB | ${linked.load} |\n` +
    `| full copy | ${full.seconds.toFixed(1)} s | ${(full.bytesPerVm / 1024 ** 2).toFixed(1)} MiB | ${full.load} |\n\n` +
    `full / linked time: ${ratio.toFixed(2)}x; linked / full disk: ${(linked.bytesPerVm / full.bytesPerVm).toFixed(4)}; load at the end ${loadAverage()}\n`;
  console.log(md);
  console.log(`results: ${mergeResults(entries, { suffix: 'class', text: md })}`);
} finally {
  for (const uuid of made) {
    await bench.driver.destroy(uuid).catch(() => undefined);
    await bench.driver.undefineDomain(uuid).catch(() => undefined);
  }
  await bench.close();
}
