// Where a backup's time goes (issue 9's ratio explained): the same 2 GiB file through each stage of
// the copy on its own, one round of every stage after another so that the machine's load hits
// them alike. Wall time and the process's CPU time (all threads; for `cp`, the child's) are both
// reported: on a shared machine wall time moves with the load, CPU time per GiB much less.
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { copyChunks } from '../../src/modules/backups/chunked.js';
import { HashPool } from '../../src/modules/backups/hash-pool.js';

const STEP = 8 * 1024 * 1024;
const SYNC_EVERY = 256 * 1024 * 1024;

export interface Stage {
  key: string;
  what: string;
  wallMs: number[];
  cpuMs: number[];
}

/** Runs fn, returns [wall ms, CPU ms of this process's threads]. */
async function measure(fn: () => Promise<void>): Promise<[number, number]> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return [wall, (c.user + c.system) / 1000];
}

/** A shell command's wall and CPU time (bash `time` counts its children). */
function measureShell(cmd: string, ...args: string[]): [number, number] {
  const t0 = process.hrtime.bigint();
  // `time` reports on the group's stderr; the command's own stderr goes to /dev/null
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; { time { ${cmd}; } 2>/dev/null; } 2>&1`, 'bash', ...args], { encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status ?? r.signal})`);
  const [u, s] = r.stdout.trim().split('\n').at(-1)!.split(' ').map(Number);
  return [wall, (u! + s!) * 1000];
}

/** Plain Node read (and write) loop: 8 MiB positional calls, one after the other. */
async function readWrite(src: string, size: number, dst: string | undefined, sync: 'none' | 'final' | 'periodic'): Promise<void> {
  const fh = await open(src, 'r');
  const out = dst === undefined ? undefined : await open(dst, 'wx');
  const buf = Buffer.allocUnsafe(STEP);
  let syncing: Promise<void> | undefined;
  try {
    for (let at = 0; at < size; at += STEP) {
      const n = Math.min(STEP, size - at);
      await fh.read(buf, 0, n, at);
      if (!out) continue;
      await out.write(buf, 0, n, at);
      // as the copy path does it: one fdatasync in flight, started every 256 MiB, not awaited
      if (sync === 'periodic' && (at + n) % SYNC_EVERY === 0 && !syncing) syncing = out.datasync().finally(() => (syncing = undefined));
    }
    await syncing;
    if (out && sync !== 'none') await out.datasync();
  } finally {
    await fh.close();
    await out?.close();
  }
}

async function copyPath(src: string, size: number, pool: HashPool, dst: string | undefined): Promise<void> {
  const fh = await open(src, 'r');
  const out = dst === undefined ? undefined : await open(dst, 'wx');
  try {
    await copyChunks({ src: fh, srcOffset: 0, size, pool, dst: out && { fh: out, offset: 0, syncEvery: SYNC_EVERY } });
    await out?.datasync();
  } finally {
    await fh.close();
    await out?.close();
  }
}

/** SHA-256 of one core as OpenSSL measures it (8 MiB blocks): the hashing ceiling per core. */
export function opensslSha256MBs(): number {
  const out = execFileSync('openssl', ['speed', '-seconds', '2', '-bytes', String(STEP), '-evp', 'sha256'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const line = out.split('\n').find((l) => /^sha256\s/.test(l));
  const k = Number(line?.trim().split(/\s+/).at(-1)?.replace(/k$/, ''));
  return (k * 1000) / 1e6;
}

export async function measureBreakdown(src: string, size: number, copy: string, rounds: number): Promise<Stage[]> {
  const cores = availableParallelism();
  const one = new HashPool(1);
  const all = new HashPool(Math.min(cores, 8));
  const stages: (Omit<Stage, 'wallMs' | 'cpuMs'> & { run: () => Promise<[number, number]> })[] = [
    { key: 'cp', what: '`cp` (copy_file_range in the kernel, no fsync)', run: async () => measureShell('cp "$1" "$2"', src, copy) },
    { key: 'cp_fsync', what: '`cp` + `sync` of the copy', run: async () => measureShell('cp "$1" "$2" && sync "$2"', src, copy) },
    { key: 'read', what: 'read only (Node, 8 MiB reads)', run: () => measure(() => readWrite(src, size, undefined, 'none')) },
    { key: 'read_hash_1', what: 'read + SHA-256, 1 worker', run: () => measure(() => copyPath(src, size, one, undefined)) },
    { key: 'read_hash_n', what: `read + SHA-256, ${all.size} workers (verify)`, run: () => measure(() => copyPath(src, size, all, undefined)) },
    { key: 'read_write', what: 'read + write, no fsync (Node, 8 MiB)', run: () => measure(() => readWrite(src, size, copy, 'none')) },
    { key: 'read_write_fsync', what: 'read + write + final fdatasync', run: () => measure(() => readWrite(src, size, copy, 'final')) },
    { key: 'read_write_periodic', what: 'read + write + fdatasync every 256 MiB + final', run: () => measure(() => readWrite(src, size, copy, 'periodic')) },
    { key: 'copy_path', what: `the backup copy path: read + SHA-256 + write on ${all.size} workers + fdatasync every 256 MiB + final`, run: () => measure(() => copyPath(src, size, all, copy)) },
  ];
  const out: Stage[] = stages.map((s) => ({ key: s.key, what: s.what, wallMs: [], cpuMs: [] }));
  try {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < stages.length; i++) {
        rmSync(copy, { force: true });
        const [wall, cpu] = await stages[i]!.run();
        out[i]!.wallMs.push(wall);
        out[i]!.cpuMs.push(cpu);
      }
      rmSync(copy, { force: true });
      console.log(`breakdown round ${r + 1}: ${out.map((s) => `${s.key} ${s.wallMs.at(-1)!.toFixed(0)} ms`).join(', ')}`);
    }
  } finally {
    rmSync(copy, { force: true });
    await one.close();
    await all.close();
  }
  return out;
}
