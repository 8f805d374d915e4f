// What holds a LIMEN process's event loop, recorded inside that process (the bench servers start
// it; their bench asks for a report over IPC):
//   - an event-loop delay histogram (perf_hooks.monitorEventLoopDelay),
//   - every background loop tick (runLoop publishes on the 'limen:loop' tracing channel) with its
//     wall time,
//   - every synchronous call into the embedded database's WebAssembly (PGlite execProtocolRawSync),
//     attributed to the loop whose tick made it (AsyncLocalStorage bound to the tick) or to
//     "request/other",
//   - garbage collections (PerformanceObserver 'gc').
// Times are wall-clock milliseconds (performance.timeOrigin + now()), so a bench can line them up
// with its own slow samples.
import { AsyncLocalStorage } from 'node:async_hooks';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { loopTicks } from '../../src/platform/loop.js';

export interface Span {
  /** wall-clock start, ms since the epoch */
  at: number;
  ms: number;
  what: string;
}

export interface LoopProbeReport {
  seconds: number;
  /** event-loop delay in ms (resolution ELD_RESOLUTION_MS: values include the timer's period) */
  eld: { count: number; p50: number; p99: number; p999: number; max: number; mean: number };
  /** per loop: ticks and wall ms; per source: sync database calls and their ms */
  loops: Record<string, { ticks: number; totalMs: number; maxMs: number }>;
  db: Record<string, { calls: number; totalMs: number; maxMs: number }>;
  gc: { count: number; totalMs: number; maxMs: number };
  /** every span ≥ minSpanMs (DB calls, GC) and every tick, for lining up with slow samples */
  spans: Span[];
}

// 10 ms, as prom-client's own monitor in LIMEN: a 1 ms timer woke the measured process 1,000
// times a second during the very round trips it was measuring (the other paths had no such timer).
const ELD_RESOLUTION_MS = 10;

const wallNow = (): number => performance.timeOrigin + performance.now();
const OTHER = 'request/other';

export interface LoopProbe {
  start(): void;
  stop(): LoopProbeReport;
}

export function createLoopProbe(opts: { pglite?: object; minSpanMs?: number } = {}): LoopProbe {
  const minSpanMs = opts.minSpanMs ?? 0.2;
  const current = new AsyncLocalStorage<string>();
  loopTicks.start.bindStore(current, (ctx) => ctx.name);

  let active = false;
  let t0 = 0;
  let eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  let loops: LoopProbeReport['loops'] = {};
  let db: LoopProbeReport['db'] = {};
  let gc = { count: 0, totalMs: 0, maxMs: 0 };
  let spans: Span[] = [];
  const tickStarts = new WeakMap<object, number>();

  const add = <E extends { totalMs: number; maxMs: number }>(m: Record<string, E>, key: string, ms: number, init: () => E): E => {
    const e = (m[key] ??= init());
    e.totalMs += ms;
    e.maxMs = Math.max(e.maxMs, ms);
    return e;
  };

  loopTicks.subscribe({
    start: (ctx) => void tickStarts.set(ctx, wallNow()),
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: (ctx) => {
      const at = tickStarts.get(ctx);
      if (!active || at === undefined) return;
      const ms = wallNow() - at;
      add(loops, ctx.name, ms, () => ({ ticks: 0, totalMs: 0, maxMs: 0 })).ticks++;
      spans.push({ at, ms, what: `tick ${ctx.name}` });
    },
    error: () => undefined,
  });

  // The embedded database's synchronous entry point: all of its CPU runs inside this call.
  const pg = opts.pglite as { execProtocolRawSync?: (m: Uint8Array) => unknown } | undefined;
  if (pg?.execProtocolRawSync) {
    const orig = pg.execProtocolRawSync.bind(pg);
    pg.execProtocolRawSync = (m: Uint8Array) => {
      if (!active) return orig(m);
      const at = wallNow();
      try {
        return orig(m);
      } finally {
        const ms = wallNow() - at;
        const who = current.getStore() ?? OTHER;
        add(db, who, ms, () => ({ calls: 0, totalMs: 0, maxMs: 0 })).calls++;
        if (ms >= minSpanMs) spans.push({ at, ms, what: `db ${who}` });
      }
    };
  }

  const gcObserver = new PerformanceObserver((list) => {
    if (!active) return;
    for (const e of list.getEntries()) {
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      if (e.duration >= minSpanMs) spans.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, what: 'gc' });
    }
  });

  return {
    start() {
      loops = {};
      db = {};
      gc = { count: 0, totalMs: 0, maxMs: 0 };
      spans = [];
      eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
      eld.enable();
      gcObserver.observe({ entryTypes: ['gc'] });
      t0 = wallNow();
      active = true;
    },
    stop() {
      active = false;
      eld.disable();
      gcObserver.disconnect();
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      return {
        seconds: (wallNow() - t0) / 1000,
        eld: { count: eld.count, p50: ms(eld.percentile(50)), p99: ms(eld.percentile(99)), p999: ms(eld.percentile(99.9)), max: ms(eld.max), mean: ms(eld.mean) },
        loops,
        db,
        gc,
        spans,
      };
    },
  };
}

/** IPC glue for a bench server process: 'probe:start' / 'probe:stop' (answers the report). */
export function answerProbeRequests(probe: LoopProbe): void {
  process.on('message', (m) => {
    if (m === 'probe:start') {
      probe.start();
      process.send?.({ probe: 'started' });
    } else if (m === 'probe:stop') process.send?.({ probe: probe.stop() });
  });
}
