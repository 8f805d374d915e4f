// Console proxy benchmark (issue 6): one VNC-like source (source.ts), reached three ways from a
// Node client — (a) direct TCP, the physical limit here; (b) Debian's websockify; (c) LIMEN's
// console proxy (a real app in a child process, console ticket and all) — measuring
//   - throughput of a 200 MB bulk transfer source → client (MB/s, 1 MB = 10^6 bytes; median of runs),
//   - round trips of 64-byte messages (p50/p99; "added" = proxy minus direct),
//   - memory per idle session with 500 concurrent sessions: PSS (/proc/<pid>/smaps_rollup) of
//     every proxy process (websockify forks one per connection: all are summed), after − before.
// Results merge into bench/results/<date>.json and bench/results/<date>-console.md.
// Run: node --import tsx bench/console/console.bench.ts  (or npm run bench)
// Knobs: BENCH_BULK_MB (200), BENCH_RUNS (3), BENCH_RTT (2000), BENCH_SESSIONS (500), BENCH_LIMEN_FLAGS,
//   BENCH_MAX_LOAD (3) + BENCH_LOAD_WAIT_S (60): wait that long for a calmer machine first.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bulkRequest } from './protocol.js';
import { ask, benchLimenSessions, startNodeChild, tcpConn, wsConn, type BenchLimenInfo, type Conn } from './clients.js';
import type { LoopProbeReport, Span } from '../lib/loop-probe.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'bench/results');

const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const BULK_BYTES = Math.round(num('BENCH_BULK_MB', 200) * 1e6);
const RUNS = num('BENCH_RUNS', 3);
const RTT_N = num('BENCH_RTT', 2000);
const RTT_WARMUP = 200;
const SESSIONS = num('BENCH_SESSIONS', 500);
const MAX_LOAD = num('BENCH_MAX_LOAD', 3);
const LOAD_WAIT_S = Number(process.env.BENCH_LOAD_WAIT_S ?? 60);

const SERVER_FLAGS = execFileSync('bash', ['-c', 'source scripts/lib/common.sh && printf %s "$LIMEN_SERVER_NODE_FLAGS"'], { cwd: ROOT, encoding: 'utf8' })
  .split(' ')
  .filter(Boolean);

const TARGETS = { vsWebsockify: 1.2, vsDirect: 0.6, p99AddedMs: 1, idleKiB: 64 };

// ---------------------------------------------------------------------------------------------
// Processes: every child is ours, recorded by PID and stopped by that PID only.

const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => c.kill('SIGKILL'), 5000);
    c.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    c.kill('SIGTERM');
  });
}
// Last resort on any exit path: no child outlives the bench.
process.once('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function waitForPort(port: number, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory: proportional set size, so pages shared between websockify's forks count once in total.

function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited meanwhile
  }
}

/** The PID and all its descendants (websockify's per-connection forks). */
function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // Field 4 of stat is the PPID; the command (field 2) may contain spaces, so split after ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(e), ppid);
    } catch {
      /* gone */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out;
}

const treePssKiB = (root: number): { kib: number; processes: number } => {
  const pids = processTree(root);
  return { kib: pids.reduce((a, p) => a + pssKiB(p), 0), processes: pids.length };
};

/**
 * CPU time (s) used by a process tree so far, reaped children included (websockify's finished
 * per-connection forks land in its cutime/cstime). Unlike MB/s, CPU per byte barely depends on
 * what else runs on the machine.
 */
function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 after the ')' split.
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      /* gone */
    }
  }
  return ticks / 100; // USER_HZ is 100 on Linux
}

const loadavg = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

// ---------------------------------------------------------------------------------------------
// Modes

interface Mode {
  name: 'direct' | 'websockify' | 'limen';
  label: string;
  open(): Promise<Conn>;
  /** The proxy's process (none for direct). */
  pid?: number;
  /** Count the process's descendants too (websockify's forks; not tsx's esbuild helper of LIMEN). */
  tree?: boolean;
  /** Full GC in the proxy; answers its memoryUsage(). */
  gc?(): Promise<{ heapUsed: number; external: number; arrayBuffers: number }>;
  /** LIMEN only: arm / read its event-loop probe (bench/lib/loop-probe.ts). */
  probe?: { start(): Promise<void>; stop(): Promise<LoopProbeReport> };
}

async function startLimen(sourcePort: number): Promise<Mode> {
  const { child, info } = await startNodeChild<BenchLimenInfo>(children, 'limen-server.ts', [String(sourcePort)], [
    '--expose-gc',
    // the flags `npm start` runs the server with (scripts/lib/common.sh)
    ...SERVER_FLAGS,
    // For finding per-byte costs, e.g. BENCH_LIMEN_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/p" or "--trace-gc".
    ...(process.env.BENCH_LIMEN_FLAGS?.split(' ').filter(Boolean) ?? []),
  ]);
  const open = await benchLimenSessions(info);
  return {
    name: 'limen',
    label: 'LIMEN console proxy',
    pid: child.pid,
    open,
    gc: () => ask(child, 'gc', 'heapUsed'),
    probe: {
      start: async () => void (await ask(child, 'probe:start', 'probe')),
      stop: async () => (await ask<{ probe: LoopProbeReport }>(child, 'probe:stop', 'probe')).probe,
    },
  };
}

async function startWebsockify(sourcePort: number): Promise<Mode> {
  const port = await freePort();
  // Debian's websockify (python3): one forked process per connection, as deployed with noVNC.
  const child = spawn('websockify', [`127.0.0.1:${port}`, `127.0.0.1:${sourcePort}`], { stdio: 'ignore' });
  children.push(child);
  await waitForPort(port);
  return { name: 'websockify', label: 'websockify (Debian)', pid: child.pid, tree: true, open: () => wsConn(`ws://127.0.0.1:${port}/`) };
}

// ---------------------------------------------------------------------------------------------
// Measurements

/** MB/s of one bulk transfer, and the proxy's CPU seconds per GB moved (when there is a proxy). */
async function throughput(mode: Mode, bytes: number): Promise<{ mbs: number; cpuPerGB: number | null }> {
  const c = await mode.open();
  let s: number;
  let cpu0 = 0;
  try {
    // Warm-up (JIT, socket buffers), then the measured transfer on the same connection.
    c.send(bulkRequest(8e6));
    await c.receive(8e6);
    if (mode.pid) cpu0 = treeCpuSeconds(mode.pid);
    const t0 = process.hrtime.bigint();
    c.send(bulkRequest(bytes));
    await c.receive(bytes);
    s = Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    c.close();
  }
  if (!mode.pid) return { mbs: bytes / 1e6 / s, cpuPerGB: null };
  await sleep(300); // websockify reaps the connection's fork: its CPU time moves to the parent
  return { mbs: bytes / 1e6 / s, cpuPerGB: (treeCpuSeconds(mode.pid) - cpu0) / (bytes / 1e9) };
}

/**
 * Sequential 64-byte echoes, one round trip per path in turn (direct, websockify, LIMEN, direct, …)
 * on one open connection each, so whatever else runs on the machine lands on every path alike: a
 * burst of other work shorter than a batch used to hit only the path whose batch was running.
 */
interface Sample {
  /** wall-clock start, ms since the epoch (to line up with the proxy's probe spans) */
  at: number;
  ms: number;
}

async function roundTrips(modes: Mode[], n: number, samples: Record<string, Sample[]> = {}): Promise<Record<string, number[]>> {
  const msg = Buffer.alloc(64, 0x42);
  const conns = await Promise.all(modes.map((m) => m.open()));
  const out: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m.name, []]));
  for (const m of modes) samples[m.name] = [];
  try {
    // The first RTT_WARMUP of each path are warm-up (JIT, socket buffers).
    for (let k = -RTT_WARMUP; k < n; k++) {
      for (const [i, c] of conns.entries()) {
        const at = performance.timeOrigin + performance.now();
        const t0 = process.hrtime.bigint();
        c.send(msg);
        await c.receive(msg.length);
        if (k >= 0) {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          out[modes[i]!.name]!.push(ms);
          samples[modes[i]!.name]!.push({ at, ms });
        }
      }
    }
  } finally {
    for (const c of conns) c.close();
  }
  for (const xs of Object.values(out)) xs.sort((a, b) => a - b);
  return out;
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** A LIMEN round trip this much slower than direct TCP's p99 counts as slow and is explained below. */
const SLOW_ADDED_MS = 0.5;

/**
 * Lines each slow sample up with what the proxy process was doing meanwhile (probe spans: loop
 * ticks, synchronous embedded-database calls with the loop that made them, GC). A sample with no
 * span of the proxy's own is "unexplained" (the machine: other processes, the scheduler).
 */
function explainSlowSamples(samples: Sample[], slowMs: number, spans: Span[]): { slow: number; by: Record<string, number> } {
  const by: Record<string, number> = {};
  let slow = 0;
  // Database calls and GC hold the thread; a tick only says which loop was running.
  const blocking = spans.filter((x) => !x.what.startsWith('tick '));
  for (const smp of samples) {
    if (smp.ms <= slowMs) continue;
    slow++;
    const end = smp.at + smp.ms;
    const hits = new Set(blocking.filter((x) => x.at < end && x.at + x.ms > smp.at).map((x) => x.what));
    const key = hits.size ? [...hits].sort().join(' + ') : 'unexplained';
    by[key] = (by[key] ?? 0) + 1;
  }
  return { slow, by };
}

function probeSummary(p: LoopProbeReport): string {
  const r = (x: number) => round(x, 2);
  const loops = Object.entries(p.loops).map(([k, v]) => `${k} ${v.ticks}× max ${r(v.maxMs)} ms`).join(', ') || 'none';
  const db = Object.entries(p.db).map(([k, v]) => `${k} ${v.calls} calls ${r(v.totalMs)} ms (max ${r(v.maxMs)})`).join(', ') || 'none';
  return `${r(p.seconds)} s; delay p50 ${p.eld.p50} p99 ${p.eld.p99} max ${p.eld.max} ms; ticks: ${loops}; database: ${db}; GC ${p.gc.count}× ${r(p.gc.totalMs)} ms (max ${r(p.gc.maxMs)})`;
}

interface MemResult {
  /** (PSS after − PSS before) / n: the target's definition. */
  perSessionKiB: number;
  /** PSS slope over the second half of the sessions: the marginal cost, without one-time costs. */
  marginalKiB: number;
  /** JS heap (after full GC) per session, LIMEN only. */
  heapPerSessionKiB: number | null;
  before: number;
  after: number;
  processes: number;
}

async function idleSessionKiB(mode: Mode, n: number): Promise<MemResult> {
  const pid = mode.pid;
  if (pid === undefined) throw new Error('no process to measure');
  // One session opened and closed first, so lazily loaded code is in the baseline, not the delta.
  (await mode.open()).close();
  await sleep(500);
  const measure = async () => {
    await sleep(1500); // let the sessions settle (session rows written, buffers released)
    const heap = await mode.gc?.();
    return { pss: mode.tree ? treePssKiB(pid) : { kib: pssKiB(pid), processes: 1 }, heap };
  };
  const before = await measure();
  const conns: Conn[] = [];
  let started = 0;
  const openUpTo = async (count: number) => {
    // A few at a time: like browsers arriving, without a connect storm against a 2-core machine.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (started < count) {
          started++;
          conns.push(await mode.open());
        }
      }),
    );
  };
  await openUpTo(Math.floor(n / 2));
  const mid = await measure();
  await openUpTo(n);
  const after = await measure();
  for (const c of conns) c.close();
  await sleep(1000);
  const half = n - Math.floor(n / 2);
  return {
    perSessionKiB: (after.pss.kib - before.pss.kib) / n,
    marginalKiB: (after.pss.kib - mid.pss.kib) / half,
    heapPerSessionKiB: before.heap && after.heap ? (after.heap.heapUsed - before.heap.heapUsed) / 1024 / n : null,
    before: before.pss.kib,
    after: after.pss.kib,
    processes: after.pss.processes,
  };
}

// ---------------------------------------------------------------------------------------------
// Results

interface Entry {
  name: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
  target: string | null;
  met: boolean | null;
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

function writeResults(entries: Entry[], md: string): { json: string; mdPath: string } {
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(RESULTS, { recursive: true });
  const json = join(RESULTS, `${date}.json`);
  // Other benches write into the same day's file: replace only our own entries.
  const existing: Entry[] = existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as Entry[]) : [];
  const ours = new Set(entries.map((e) => e.name));
  writeFileSync(json, `${JSON.stringify([...existing.filter((e) => !ours.has(e.name)), ...entries], null, 2)}\n`);
  const mdPath = join(RESULTS, `${date}-console.md`);
  writeFileSync(mdPath, md);
  return { json, mdPath };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = Date.now();
  if (spawnSync('sh', ['-c', 'command -v websockify'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('websockify is not installed: apt-get install -y websockify (the bench compares against it)');
  }
  for (let waited = 0; loadavg() > MAX_LOAD && waited < LOAD_WAIT_S; waited += 5) {
    if (waited === 0) console.log(`load ${loadavg()} > ${MAX_LOAD}: waiting up to ${LOAD_WAIT_S} s for a calmer machine`);
    await sleep(5000);
  }
  const loadStart = loadavg();
  console.log(`console bench: ${BULK_BYTES / 1e6} MB bulk × ${RUNS}, ${RTT_N} round trips, ${SESSIONS} idle sessions; load ${loadStart}`);

  const source = await startNodeChild<{ port: number }>(children, 'source.ts', []);
  const direct: Mode = { name: 'direct', label: 'direct TCP', open: () => tcpConn(source.info.port) };
  const websockify = await startWebsockify(source.info.port);
  const limen = await startLimen(source.info.port);
  const modes = [direct, websockify, limen];

  // Memory first, on fresh proxy processes (a bulk transfer before would inflate the baseline).
  const mem: Record<string, MemResult> = {};
  for (const m of [limen, websockify]) {
    mem[m.name] = await idleSessionKiB(m, SESSIONS);
    const r = mem[m.name]!;
    const heap = r.heapPerSessionKiB === null ? '' : `, JS heap ${round(r.heapPerSessionKiB, 1)} KiB`;
    console.log(`  ${m.label}: ${round(r.perSessionKiB, 1)} KiB PSS per idle session (marginal ${round(r.marginalKiB, 1)} KiB${heap}; ${r.processes} processes)`);
  }

  // Interleaved runs, so a change in the machine's load hits every mode alike.
  const tput: Record<string, number[]> = { direct: [], websockify: [], limen: [] };
  const cpu: Record<string, number[]> = { direct: [], websockify: [], limen: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const m of modes) {
      const x = await throughput(m, BULK_BYTES);
      tput[m.name]!.push(x.mbs);
      if (x.cpuPerGB !== null) cpu[m.name]!.push(x.cpuPerGB);
    }
  }
  // LIMEN's event-loop probe runs only during the round trips (its 1 ms timer costs a little).
  await limen.probe!.start();
  const samples: Record<string, Sample[]> = {};
  const rtt = await roundTrips(modes, RTT_N, samples);
  const probe = await limen.probe!.stop();
  const stalls = explainSlowSamples(samples.limen!, pct(rtt.direct!, 0.99) + SLOW_ADDED_MS, probe.spans);
  console.log(`  LIMEN event loop during the round trips: ${probeSummary(probe)}`);
  console.log(`  LIMEN samples > direct p99 + ${SLOW_ADDED_MS} ms: ${stalls.slow}; overlapping: ${JSON.stringify(stalls.by)}`);
  for (const m of modes) {
    const c = cpu[m.name]!.length ? `, proxy CPU ${round(median(cpu[m.name]!), 2)} s/GB` : '';
    console.log(`  ${m.label}: ${round(median(tput[m.name]!), 0)} MB/s (runs ${tput[m.name]!.map((x) => round(x, 0)).join(', ')})${c}; RTT p50 ${round(pct(rtt[m.name]!, 0.5), 3)} ms p99 ${round(pct(rtt[m.name]!, 0.99), 3)} ms`);
  }
  const loadEnd = loadavg();

  await Promise.all([...children].reverse().map(stopChild));

  const T = (name: string) => median(tput[name]!);
  const P = (name: string, p: number) => pct(rtt[name]!, p);
  const e = (name: string, value: number, unit: string, baseline: number | null, target: string | null, met: boolean | null, ratio?: number): Entry => ({
    name: `console.${name}`,
    value: round(value, 3),
    unit,
    baseline: baseline === null ? null : round(baseline, 3),
    ratio: ratio !== undefined ? round(ratio, 3) : baseline ? round(value / baseline, 3) : null,
    target,
    met,
  });
  const p99Added = P('limen', 0.99) - P('direct', 0.99);
  const entries: Entry[] = [
    e('direct.throughput', T('direct'), 'MB/s', null, null, null),
    e('websockify.throughput', T('websockify'), 'MB/s', T('direct'), null, null),
    e('limen.throughput_vs_websockify', T('limen'), 'MB/s', T('websockify'), `>= ${TARGETS.vsWebsockify}x websockify`, T('limen') >= TARGETS.vsWebsockify * T('websockify')),
    e('limen.throughput_vs_direct', T('limen'), 'MB/s', T('direct'), `>= ${TARGETS.vsDirect * 100}% of direct TCP`, T('limen') >= TARGETS.vsDirect * T('direct')),
    e('direct.rtt_p50', P('direct', 0.5), 'ms', null, null, null),
    e('direct.rtt_p99', P('direct', 0.99), 'ms', null, null, null),
    e('websockify.rtt_p50', P('websockify', 0.5), 'ms', P('direct', 0.5), null, null),
    e('websockify.rtt_p99', P('websockify', 0.99), 'ms', P('direct', 0.99), null, null),
    e('limen.rtt_p50', P('limen', 0.5), 'ms', P('direct', 0.5), null, null),
    e('limen.rtt_p99', P('limen', 0.99), 'ms', P('direct', 0.99), null, null),
    e('limen.rtt_p99_added', p99Added, 'ms', P('direct', 0.99), `<= ${TARGETS.p99AddedMs} ms`, p99Added <= TARGETS.p99AddedMs, p99Added / P('direct', 0.99)),
    e('websockify.idle_session_pss', mem.websockify!.perSessionKiB, 'KiB', null, null, null),
    e('limen.idle_session_pss', mem.limen!.perSessionKiB, 'KiB', mem.websockify!.perSessionKiB, `<= ${TARGETS.idleKiB} KiB`, mem.limen!.perSessionKiB <= TARGETS.idleKiB),
    e('limen.idle_session_pss_marginal', mem.limen!.marginalKiB, 'KiB', mem.websockify!.marginalKiB, null, null),
    e('limen.idle_session_js_heap', mem.limen!.heapPerSessionKiB ?? 0, 'KiB', null, null, null),
    e('websockify.cpu_per_gb', median(cpu.websockify!), 's/GB', null, null, null),
    e('limen.cpu_per_gb', median(cpu.limen!), 's/GB', median(cpu.websockify!), null, null),
    e('load_1min_start', loadStart, 'load', null, `<= ${MAX_LOAD} for a quiet machine`, loadStart <= MAX_LOAD),
    e('load_1min_end', loadEnd, 'load', null, `<= ${MAX_LOAD} for a quiet machine`, loadEnd <= MAX_LOAD),
  ];

  const wsv = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'websockify'], { encoding: 'utf8' }).stdout || 'unknown';
  const row = (m: Mode) =>
    `| ${m.label} | ${round(T(m.name), 0)} (${tput[m.name]!.map((x) => round(x, 0)).join(' / ')}) | ${cpu[m.name]!.length ? round(median(cpu[m.name]!), 2) : '—'} | ${round(P(m.name, 0.5), 3)} | ${round(P(m.name, 0.99), 3)} | ${mem[m.name] ? `${round(mem[m.name]!.perSessionKiB, 1)} KiB (marginal ${round(mem[m.name]!.marginalKiB, 1)}; ${mem[m.name]!.processes} proc.)` : '—'} |`;
  const met = (n: string) => entries.find((x) => x.name === `console.${n}`)?.met ?? null;
  const tick = (b: boolean | null) => (b ? 'met' : 'MISSED');
  const md = `# Console proxy benchmark — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, websockify ${wsv}; LIMEN runs with\n\`${[...SERVER_FLAGS, ...(process.env.BENCH_LIMEN_FLAGS?.split(' ').filter(Boolean) ?? [])].join(' ') || '(no flags)'}\` as \`npm start\` does (scripts/lib/common.sh).
1-min load ${loadStart} at start, ${loadEnd} at end (other work was running on this shared machine
when it is above ${MAX_LOAD}; numbers are then pessimistic for all modes alike). Total bench time ${round((Date.now() - t0) / 1000, 0)} s.

Source: a VNC-like TCP server in its own process (bench/console/source.ts); client: Node \`net\` /
\`ws\` (no compression) in the bench process; each proxy in its own process. Throughput: ${BULK_BYTES / 1e6} MB
source → client after an 8 MB warm-up, median of ${RUNS} interleaved runs (all runs in brackets).
Proxy CPU: user+system seconds of the proxy process(es) per GB moved (load-independent, unlike MB/s).
Round trips: ${RTT_N} sequential 64-byte echoes per path after ${RTT_WARMUP} warm-up, one at a time
rotating over the paths (direct, websockify, LIMEN, direct, …), so the machine's noise lands on
every path alike; "added" = LIMEN's p99 − direct TCP's p99. Memory: PSS of the proxy
process(es) with ${SESSIONS} idle sessions minus before, divided by ${SESSIONS}; "marginal" is the slope
between ${Math.floor(SESSIONS / 2)} and ${SESSIONS} sessions (without one-time costs such as JIT code and heap growth). LIMEN is
measured after a full GC; its sessions include the ticket check and the session/audit rows in the
embedded database (JS heap per session: ${mem.limen!.heapPerSessionKiB === null ? '?' : round(mem.limen!.heapPerSessionKiB, 1)} KiB).

| path | MB/s | proxy CPU s/GB | RTT p50 ms | RTT p99 ms | PSS per idle session |
|---|---|---|---|---|---|
${modes.map(row).join('\n')}

| target | value | |
|---|---|---|
| ≥ ${TARGETS.vsWebsockify}× websockify's throughput | ${round(T('limen') / T('websockify'), 2)}× | ${tick(met('limen.throughput_vs_websockify'))} |
| ≥ ${TARGETS.vsDirect * 100} % of direct TCP | ${round((100 * T('limen')) / T('direct'), 0)} % | ${tick(met('limen.throughput_vs_direct'))} |
| p99 added latency ≤ ${TARGETS.p99AddedMs} ms | ${round(p99Added, 3)} ms | ${tick(met('limen.rtt_p99_added'))} |
| ≤ ${TARGETS.idleKiB} KiB per idle session | ${round(mem.limen!.perSessionKiB, 1)} KiB (websockify ${round(mem.websockify!.perSessionKiB, 0)} KiB) | ${tick(met('limen.idle_session_pss'))} |

Where LIMEN's CPU per byte goes (V8 CPU profile and --trace-gc of the LIMEN process during the bulk
transfer): the kernel copy (writev/read) as for any proxy, then the per-chunk JavaScript of the pump
(send, backpressure check). Garbage collection used to dominate (a fresh 64 KiB ArrayBuffer per read
made V8 run a full mark-compact every ~20 MB); the pump now reads the VNC socket into one reused
buffer per session (net \`onread\`, console-proxy.ts) and pauses the socket until the frame is written.
`;
  console.log(md);
  // Only runs with the issue's parameters are results; quick runs with smaller knobs just print.
  if (BULK_BYTES === 200e6 && SESSIONS === 500 && RTT_N >= 2000) {
    const { json, mdPath } = writeResults(entries, md);
    console.log(`results: ${json}, ${mdPath}`);
  } else console.log('(not written to bench/results: non-default BENCH_* sizes)');
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(err);
    await Promise.all(children.map(stopChild));
    process.exit(1);
  },
);
