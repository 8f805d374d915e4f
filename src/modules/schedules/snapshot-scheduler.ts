// Runs snapshot schedules: for every VM of a due schedule, take a snapshot through the snapshots
// service (same transaction, quota, libvirt work and audit as a user's), wait for it, then delete
// the oldest snapshots THIS schedule took of that VM beyond its retention (never a manual one,
// never another schedule's). A VM that fails does not stop the others; every failure counts in
// limen_scheduled_snapshot_failures_total (alert: ScheduledSnapshotFailing) and is recorded on
// the schedule (last_result, last_error).
//
// One runner per cluster: the loop ticks on every instance but only the holder of the
// `loop:snapshot-scheduler` lease runs due schedules, and each run also holds the schedule's own
// advisory lock (a "run now" on another instance waits its turn instead of doubling it).
import { Counter } from 'prom-client';
import type { AppContext } from '../../app.js';
import type { Principal } from '../../platform/http/principal.js';
import { groupVmUuids } from '../groups/index.js';
import { listScheduledSnapshots, type SnapshotsService } from '../snapshots/index.js';
import { nextRun, parseCron } from './cron.js';
import * as repo from './schedules.repo.js';

export const SCHEDULER_LEASE = 'loop:snapshot-scheduler:default';
const scheduleLock = (id: string): string => `snapshot-schedule:${id}`;

/** Who acts for a schedule: the VM module sees an admin (every VM), quotas charge the VM's owner. */
const SCHEDULER: Principal = { id: '00000000-0000-0000-0000-000000000000', username: 'snapshot-scheduler', role: 'admin', status: 'active', sessionFamily: 'scheduler' };

/** Due schedules handled per tick (the rest wait for the next tick). */
const BATCH = 20;

export interface RunOutcome {
  result: repo.RunResult;
  vms: number;
  failed: { vm_uuid: string; error: string }[];
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function scheduledSnapshotName(scheduleId: string, at: Date): string {
  return `auto-${scheduleId.slice(0, 8)}-${at.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}`;
}

export function createSnapshotScheduler(ctx: AppContext, snapshots: SnapshotsService, now: () => Date = ctx.now) {
  const db = ctx.database.db;
  const failures = new Counter({
    name: 'limen_scheduled_snapshot_failures_total',
    help: 'Scheduled snapshots that failed (snapshot or retention cleanup of one VM), by schedule kind',
    labelNames: ['kind'],
    registers: [ctx.metrics.registry],
  });
  const runs = new Counter({ name: 'limen_scheduled_snapshot_runs_total', help: 'Snapshot schedule runs by result', labelNames: ['result'], registers: [ctx.metrics.registry] });
  for (const kind of ['vm', 'group']) failures.inc({ kind }, 0);
  for (const result of ['success', 'partial', 'failure']) runs.inc({ result }, 0);

  const running = new Set<string>();

  /** Snapshot + retention for one VM; throws what went wrong. */
  async function snapshotVm(s: repo.ScheduleRecord, vmUuid: string, at: Date): Promise<void> {
    const { settled } = await snapshots.startCreate(undefined, SCHEDULER, vmUuid, { name: scheduledSnapshotName(s.id, at), description: `scheduled (${s.cron})` }, { scheduleId: s.id, createdBy: null });
    const err = await settled;
    if (err) throw err;
    const taken = (await listScheduledSnapshots(db, s.id, vmUuid)).filter((x) => x.state === 'ready');
    for (const old of taken.slice(0, Math.max(0, taken.length - s.retention))) {
      const removed = await snapshots.startRemove(undefined, SCHEDULER, old.id);
      const e = await removed.settled;
      if (e) throw new Error(`retention could not delete ${old.name}: ${e.message}`);
    }
  }

  /** One run of a schedule over its VMs (the caller holds the schedule's lock). */
  async function runLocked(s: repo.ScheduleRecord, at: Date): Promise<RunOutcome> {
    const targets = s.vmUuid ? [s.vmUuid] : await groupVmUuids(db, s.groupId!);
    const failed: RunOutcome['failed'] = [];
    for (const vmUuid of targets) {
      try {
        await snapshotVm(s, vmUuid, at);
      } catch (e) {
        failures.inc({ kind: s.vmUuid ? 'vm' : 'group' });
        failed.push({ vm_uuid: vmUuid, error: messageOf(e) });
        ctx.log.warn({ schedule: s.id, vm: vmUuid, err: e }, 'scheduled snapshot failed');
      }
    }
    const result: repo.RunResult = failed.length === 0 ? 'success' : failed.length === targets.length ? 'failure' : 'partial';
    runs.inc({ result });
    const error = failed.length === 0 ? null : failed.map((f) => `${f.vm_uuid}: ${f.error}`).join('; ');
    await repo.recordRun(db, s.id, at, result, error);
    return { result, vms: targets.length, failed };
  }

  /** Runs a schedule now unless a run of it is in progress anywhere (then undefined). */
  async function runOnce(s: repo.ScheduleRecord): Promise<RunOutcome | undefined> {
    // in-process guard first: the embedded database's lock table lets one process re-enter
    if (running.has(s.id)) return undefined;
    running.add(s.id);
    try {
      if (!(await ctx.cluster.tryLock(scheduleLock(s.id)))) return undefined;
      try {
        return await runLocked(s, now());
      } finally {
        await ctx.cluster.unlock(scheduleLock(s.id));
      }
    } finally {
      running.delete(s.id);
    }
  }

  return {
    runOnce,
    isRunning: (id: string) => running.has(id),

    /** The loop's tick: every due schedule is moved to its next time first (missed runs collapse into one), then run. */
    async runDue(signal?: AbortSignal): Promise<number> {
      const at = now();
      let ran = 0;
      for (const s of await repo.dueSchedules(db, at, BATCH)) {
        if (signal?.aborted) break;
        let next: Date;
        try {
          next = nextRun(parseCron(s.cron), at);
        } catch (e) {
          // stored expressions were validated; one that cannot fire any more is switched off
          ctx.log.warn({ schedule: s.id, err: e }, 'snapshot schedule can no longer fire; disabling it');
          await repo.updateSchedule(db, s.id, { enabled: false });
          continue;
        }
        if (!(await repo.claimRun(db, s, next))) continue;
        if (await runOnce(s)) ran++;
      }
      return ran;
    },
  };
}

export type SnapshotScheduler = ReturnType<typeof createSnapshotScheduler>;
