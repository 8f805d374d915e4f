// Scheduled snapshots: the routes, and the loop that runs due schedules (one runner per cluster).
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app.js';
import { runLoop } from '../../platform/loop.js';
import type { SnapshotsService } from '../snapshots/index.js';
import { registerScheduleRoutes } from './schedules.routes.js';
import { createSchedulesService } from './schedules.service.js';
import { createSnapshotScheduler, SCHEDULER_LEASE } from './snapshot-scheduler.js';

export { parseCron, nextRun, CronError } from './cron.js';
export { SCHEDULER_LEASE, scheduledSnapshotName } from './snapshot-scheduler.js';

export interface ScheduleModuleOptions {
  /** how often due schedules are looked for (default 30 s; cron has minute resolution) */
  everyMs?: number;
  /** the clock schedules are timed by (default ctx.now) */
  now?: () => Date;
}

export function registerScheduleModule(ctx: AppContext, snapshots: SnapshotsService, opts: ScheduleModuleOptions = {}): FastifyPluginAsync {
  return async (app) => {
    const now = opts.now ?? ctx.now;
    const scheduler = createSnapshotScheduler(ctx, snapshots, now);
    const schedules = createSchedulesService(ctx, scheduler, now);
    // Own stop signal: this plugin's onClose may run before the app-wide one.
    const stop = new AbortController();
    ctx.shutdown.addEventListener('abort', () => stop.abort(), { once: true });
    const loop = runLoop({
      name: 'snapshot-scheduler',
      everyMs: opts.everyMs ?? 30_000,
      signal: stop.signal,
      log: ctx.log,
      metrics: ctx.metrics,
      // elected like the reconciler: only the lease holder runs schedules
      tick: async (signal) => {
        if (await ctx.cluster.lead(SCHEDULER_LEASE)) await scheduler.runDue(signal);
      },
    });
    app.addHook('onClose', async () => {
      stop.abort();
      await loop.stopped;
      await schedules.idle();
    });
    await app.register(registerScheduleRoutes(schedules));
  };
}
