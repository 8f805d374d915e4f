// An open-loop HTTP load generator: requests are SCHEDULED at a fixed rate, evenly spaced, whatever
// the server does, over a pool of keep-alive connections; each latency is measured from the
// request's scheduled time (a request that waited for a free connection or for the generator
// counts that wait — no coordinated omission).
// Why not autocannon's overallRate: it gives every connection a per-second quota it sends back to
// back at each 1-s tick, so with 200 connections all of them fire within the same millisecond once
// a second — a burst of 200 concurrent requests, i.e. a closed loop in disguise (measured: p99
// 335 ms "at 50 % load" on a quiet machine, which is the burst draining, not the server's latency).
import { Agent, request } from 'node:http';

export interface OpenLoopOptions {
  url: string;
  headers?: Record<string, string>;
  /** requests per second offered */
  rate: number;
  durationS: number;
  /** keep-alive connections in the pool */
  connections: number;
}

export interface OpenLoopResult {
  offered: number;
  completed: number;
  /** completed per second of the run */
  rps: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

const percentile = (sorted: number[], p: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const target = new URL(o.url);
  const total = Math.round(o.rate * o.durationS);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const pending: Promise<void>[] = [];

  const fire = (scheduledAt: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = request({ host: target.hostname, port: target.port, path: target.pathname + target.search, headers: o.headers, agent }, (res) => {
        res.resume();
        res.once('end', () => {
          latencies.push(performance.now() - scheduledAt);
          if (res.statusCode! < 200 || res.statusCode! >= 300) non2xx++;
          resolve();
        });
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.once('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });

  const start = performance.now();
  const interval = 1000 / o.rate;
  let sent = 0;
  // a 1 ms ticker sends every request whose time has come (late ticks catch up at once; the
  // latency still starts at the scheduled time)
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) pending.push(fire(start + sent++ * interval));
      if (sent >= total) done();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  const elapsedS = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  return {
    offered: total,
    completed: latencies.length,
    rps: r2(latencies.length / elapsedS),
    p50: r2(percentile(sorted, 50)),
    p99: r2(percentile(sorted, 99)),
    max: r2(sorted.at(-1) ?? 0),
    non2xx,
    errors,
  };
}
