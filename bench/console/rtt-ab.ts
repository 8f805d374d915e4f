// A/B harness for the console proxy's tail latency (not run by `npm run bench`): several LIMEN
// bench servers started with different Node flags / env, round trips rotating one at a time over
// direct TCP and every variant (noise lands on all alike), and per variant what the kernel and V8
// say — GCs during the round trips, CPU µs and context switches (all threads) per round trip —
// figures that, unlike p99 on a shared machine, barely move with the load. docs/performance.md
// says what it found.
//   VARIANTS='[{"name":"a"},{"name":"b","flags":["--max-semi-space-size=16"]}]' \
//   PRE=sessions,bulk N=2000 ROUNDS=3 [STRACE_DIR=/tmp/x] node --import tsx bench/console/rtt-ab.ts
// PRE replays the console bench's earlier phases (500 idle sessions, 3 × 208 MB bulk) first, so
// the heap is in the state the bench's round trips meet.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { bulkRequest } from './protocol.js';
import { ask, benchLimenSessions, startNodeChild, tcpConn, type BenchLimenInfo, type Conn } from './clients.js';
import type { LoopProbeReport } from '../lib/loop-probe.js';

const children: ChildProcess[] = [];
process.once('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
// every child is ours, started here and stopped by its own handle
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Variant {
  name: string;
  flags?: string[];
  env?: Record<string, string>;
}
interface Mode {
  name: string;
  open(): Promise<Conn>;
  child?: ChildProcess;
}

async function startLimen(v: Variant, sourcePort: number): Promise<Mode> {
  const { child, info } = await startNodeChild<BenchLimenInfo>(children, 'limen-server.ts', [String(sourcePort)], ['--expose-gc', ...(v.flags ?? [])], v.env);
  return { name: v.name, child, open: await benchLimenSessions(info) };
}

function procCost(pid: number): { cpu: number; csw: number; nv: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  let csw = 0;
  let nv = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    csw += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
    nv += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)?.[1] ?? 0);
  }
  return { cpu: (Number(x[11]) + Number(x[12])) / 100, csw: csw + nv, nv };
}
const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))]!;
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

async function main() {
  const variants = JSON.parse(process.env.VARIANTS ?? '[{"name":"limen"}]') as Variant[];
  const pre = (process.env.PRE ?? '').split(',').filter(Boolean);
  const N = Number(process.env.N ?? 2000);
  const ROUNDS = Number(process.env.ROUNDS ?? 1);
  const source = await startNodeChild<{ port: number }>(children, 'source.ts', []);
  const direct: Mode = { name: 'direct', open: () => tcpConn(source.info.port) };
  const limens: Mode[] = [];
  for (const v of variants) limens.push(await startLimen(v, source.info.port));
  if (pre.includes('sessions')) {
    for (const m of limens) {
      const cs: Conn[] = [];
      for (let i = 0; i < 500; i += 8) cs.push(...(await Promise.all(Array.from({ length: 8 }, () => m.open()))));
      await sleep(1500);
      cs.forEach((c) => c.close());
      await sleep(1000);
    }
  }
  if (pre.includes('bulk')) {
    for (let r = 0; r < 3; r++)
      for (const m of limens) {
        const c = await m.open();
        c.send(bulkRequest(208e6));
        await c.receive(208e6);
        c.close();
      }
  }
  const modes = [direct, ...limens];
  for (let round = 0; round < ROUNDS; round++) {
    const l0 = loadavg();
    const dir = process.env.STRACE_DIR;
    // syscalls per round trip (strace slows the process: counts only, not times)
    const tracers = dir ? limens.map((m) => spawn('strace', ['-c', '-f', '-p', String(m.child!.pid), '-o', join(dir, `strace-${m.name}.txt`)], { stdio: 'ignore' })) : [];
    if (tracers.length) await sleep(1000);
    const cost0 = limens.map((m) => procCost(m.child!.pid!));
    await Promise.all(limens.map((m) => ask(m.child!, 'probe:start', 'probe')));
    const conns = await Promise.all(modes.map((m) => m.open()));
    const out: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m.name, []]));
    const msg = Buffer.alloc(64, 0x42);
    // one round trip per path in turn, as console.bench.ts does
    for (let k = -200; k < N; k++) {
      for (const [i, c] of conns.entries()) {
        const t0 = process.hrtime.bigint();
        c.send(msg);
        await c.receive(64);
        if (k >= 0) out[modes[i]!.name]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    const cost1 = limens.map((m) => procCost(m.child!.pid!));
    conns.forEach((c) => c.close());
    for (const t of tracers) t.kill('SIGINT');
    const probes = await Promise.all(limens.map((m) => ask<{ probe: LoopProbeReport }>(m.child!, 'probe:stop', 'probe')));
    const dp99 = pct([...out.direct!].sort((a, b) => a - b), 0.99);
    console.log(`round ${round} load ${l0}→${loadavg()}`);
    for (const m of modes) {
      const xs = out[m.name]!;
      const slow = xs.filter((x) => x > dp99 + 0.5).length;
      const s = [...xs].sort((a, b) => a - b);
      const pi = limens.indexOf(m);
      const cost = pi >= 0 ? ` cpu/rt ${((1e6 * (cost1[pi]!.cpu - cost0[pi]!.cpu)) / (N + 200)).toFixed(0)}µs csw/rt ${((cost1[pi]!.csw - cost0[pi]!.csw) / (N + 200)).toFixed(2)} nvcsw ${cost1[pi]!.nv - cost0[pi]!.nv}` : '';
      const gc = pi >= 0 ? ` gc ${probes[pi]!.probe.gc.count}× ${probes[pi]!.probe.gc.totalMs.toFixed(1)}ms max ${probes[pi]!.probe.gc.maxMs.toFixed(2)}` : '';
      console.log(
        `  ${m.name.padEnd(12)} p50 ${pct(s, 0.5).toFixed(3)} p90 ${pct(s, 0.9).toFixed(3)} p99 ${pct(s, 0.99).toFixed(3)} p99.9 ${pct(s, 0.999).toFixed(3)} added ${(pct(s, 0.99) - dp99).toFixed(3)} slow ${slow}${gc}${cost}`,
      );
    }
  }
  await Promise.all(children.map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))));
}
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
