// Background work made explicit (house rule 7): every loop has a name, stops on an AbortSignal,
// never overlaps itself (single-flight), and is timed and counted.
import { tracingChannel } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

/**
 * Every tick is traced on this channel when someone listens (bench/lib/loop-probe.ts: which loop
 * held the event loop, and for how long). Context: `{ name }`. Free when nobody subscribes.
 */
export const loopTicks = tracingChannel<unknown, { name: string }>('limen:loop');

export interface LoopOptions {
  name: string;
  everyMs: number;
  signal: AbortSignal;
  tick: (signal: AbortSignal) => Promise<void>;
  log: Logger;
  metrics?: Metrics;
  /** Run the first tick right away (default true). */
  immediate?: boolean;
}

export interface RunningLoop {
  name: string;
  /** Runs a tick now unless one is in flight; resolves when that tick (or the in-flight one) ends. */
  kick(): Promise<void>;
  /** Resolves once the loop has stopped and its last tick finished. */
  stopped: Promise<void>;
}

export function runLoop(opts: LoopOptions): RunningLoop {
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const runTick = (): Promise<void> => {
    if (inFlight) return inFlight;
    if (opts.signal.aborted) return Promise.resolve();
    const end = opts.metrics?.loopDuration.startTimer({ loop: opts.name });
    inFlight = (async () => {
      try {
        if (loopTicks.hasSubscribers) await loopTicks.tracePromise(() => opts.tick(opts.signal), { name: opts.name });
        else await opts.tick(opts.signal);
        opts.metrics?.loopRuns.inc({ loop: opts.name, result: 'ok' });
      } catch (err) {
        opts.metrics?.loopRuns.inc({ loop: opts.name, result: 'error' });
        if (!opts.signal.aborted) opts.log.warn({ loop: opts.name, err }, 'background loop tick failed');
      } finally {
        end?.();
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  const schedule = (): void => {
    if (opts.signal.aborted) return;
    timer = setTimeout(() => {
      void runTick().then(schedule);
    }, opts.everyMs);
    timer.unref();
  };

  opts.signal.addEventListener(
    'abort',
    () => {
      clearTimeout(timer);
      void (inFlight ?? Promise.resolve()).then(resolveStopped);
    },
    { once: true },
  );

  if (opts.immediate ?? true) void runTick().then(schedule);
  else schedule();
  if (opts.signal.aborted) resolveStopped();

  return { name: opts.name, kick: runTick, stopped };
}

/** What a module's loop needs of the app context (structural, so platform/ never imports app.ts). */
export interface ModuleLoopContext {
  shutdown: AbortSignal;
  log: Logger;
  metrics: Metrics;
  cluster: { lead(lease: string): Promise<boolean> };
}

export interface ModuleLoopOptions {
  name: string;
  everyMs: number;
  tick: (signal: AbortSignal) => Promise<void>;
  /** Tick only on the instance holding this cluster lease: one runner across instances (a dead holder's lease frees with its session). */
  lease?: string;
  /** Time and count the ticks in the loop metrics (default true; very frequent loops opt out). */
  counted?: boolean;
}

export interface ModuleLoop extends RunningLoop {
  /** Stops the loop and resolves once its last tick finished (a plugin's onClose). */
  stop(): Promise<void>;
}

/**
 * A module's background loop, wired the one way every module needs it: its own stop signal,
 * aborted by the app's shutdown too (a plugin's onClose may run before the app-wide one),
 * optionally elected through a cluster lease.
 */
export function startLeasedLoop(ctx: ModuleLoopContext, opts: ModuleLoopOptions): ModuleLoop {
  const stop = new AbortController();
  // AbortSignal.any links without an 'abort' listener per loop on the app-wide signal
  const signal = AbortSignal.any([ctx.shutdown, stop.signal]);
  const { lease, tick } = opts;
  const loop = runLoop({
    name: opts.name,
    everyMs: opts.everyMs,
    signal,
    log: ctx.log,
    ...(opts.counted === false ? {} : { metrics: ctx.metrics }),
    tick: lease === undefined ? tick : async (signal) => {
      if (await ctx.cluster.lead(lease)) await tick(signal);
    },
  });
  return {
    ...loop,
    async stop() {
      stop.abort();
      await loop.stopped;
    },
  };
}
