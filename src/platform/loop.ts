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
