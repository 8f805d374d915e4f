// Scheduled snapshots: the routes, and the loop that runs due schedules (one runner per cluster).
import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../../app.js';
import { startLeasedLoop } from '../../platform/loop.js';
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
    // elected like the reconciler: only the lease holder runs schedules
    const loop = startLeasedLoop(ctx, {
      name: 'snapshot-scheduler',
      everyMs: opts.everyMs ?? 30_000,
      lease: SCHEDULER_LEASE,
      tick: async (signal) => {
        await scheduler.runDue(signal);
      },
    });
    app.addHook('onClose', async () => {
      await loop.stop();
      await schedules.idle();
    });
    await app.register(registerScheduleRoutes(schedules));
  };
}
