// Snapshot schedules: a VM's owner (or an admin) schedules its VM; admins schedule a whole group.
// A schedule is reached through its target: another user's VM schedule is a 404, and a group
// schedule exists only for admins. Every change is audited with the change.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app.js';
import { inTransaction } from '../../platform/db/query.js';
import { conflict, notFound, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import { findGroup } from '../groups/index.js';
import { CronError, nextRun, parseCron } from './cron.js';
import * as repo from './schedules.repo.js';
import type { SnapshotScheduler } from './snapshot-scheduler.js';

export interface ScheduleInput {
  cron: string;
  retention: number;
  enabled?: boolean;
}

const MAX_PER_TARGET = 10;

export function createSchedulesService(ctx: AppContext, scheduler: SnapshotScheduler, now: () => Date = ctx.now) {
  const db = ctx.database.db;
  const inFlight = new Set<Promise<unknown>>();

  /** Parses and returns the normalized expression and its first run after now. */
  function plan(cron: string): { cron: string; next: Date } {
    try {
      const parsed = parseCron(cron);
      return { cron: parsed.source, next: nextRun(parsed, now()) };
    } catch (e) {
      if (e instanceof CronError) throw validationFailed('cron', `Invalid cron expression: ${e.message}`);
      throw e;
    }
  }

  async function load(principal: Principal, id: string): Promise<repo.ScheduleRecord> {
    const s = await repo.findSchedule(db, id);
    if (!s) throw notFound('Snapshot schedule');
    if (s.vmUuid) {
      await ctx.vmAccess.loadVmFor(principal, s.vmUuid).catch(() => {
        throw notFound('Snapshot schedule');
      });
    } else if (principal.role !== 'admin') throw notFound('Snapshot schedule');
    return s;
  }

  async function create(req: FastifyRequest, principal: Principal, target: { vmUuid: string } | { groupId: string }, input: ScheduleInput) {
    const { cron, next } = plan(input.cron);
    return inTransaction(db, async (tx) => {
      if ('vmUuid' in target) await ctx.vmAccess.loadVmFor(principal, target.vmUuid, { tx, forUpdate: true });
      else if (!(await findGroup(tx, target.groupId))) throw notFound('Group');
      if ((await repo.countSchedules(tx, target)) >= MAX_PER_TARGET) throw conflict(`At most ${MAX_PER_TARGET} snapshot schedules per ${'vmUuid' in target ? 'VM' : 'group'}`);
      const s = await repo.insertSchedule(tx, {
        vmUuid: 'vmUuid' in target ? target.vmUuid : null,
        groupId: 'groupId' in target ? target.groupId : null,
        cron,
        retention: input.retention,
        enabled: input.enabled ?? true,
        createdBy: principal.id,
        nextRunAt: next,
      });
      await audit(tx, req, { action: 'snapshot_schedule.create', targetType: 'snapshot_schedule', targetId: s.id, result: 'success', details: { ...target, cron, retention: input.retention } });
      return s;
    });
  }

  return {
    createForVm: (req: FastifyRequest, principal: Principal, vmUuid: string, input: ScheduleInput) => create(req, principal, { vmUuid }, input),
    createForGroup: (req: FastifyRequest, principal: Principal, groupId: string, input: ScheduleInput) => create(req, principal, { groupId }, input),

    async listForVm(principal: Principal, vmUuid: string) {
      await ctx.vmAccess.loadVmFor(principal, vmUuid);
      return repo.listSchedules(db, { vmUuid });
    },

    async listForGroup(groupId: string) {
      if (!(await findGroup(db, groupId))) throw notFound('Group');
      return repo.listSchedules(db, { groupId });
    },

    get: load,

    /** A new expression, or switching a schedule back on, restarts its timing from now. */
    async update(req: FastifyRequest, principal: Principal, id: string, patch: Partial<ScheduleInput>) {
      const s = await load(principal, id);
      const planned = patch.cron !== undefined ? plan(patch.cron) : patch.enabled && !s.enabled ? plan(s.cron) : undefined;
      return inTransaction(db, async (tx) => {
        const next = await repo.updateSchedule(tx, id, { cron: planned?.cron, retention: patch.retention, enabled: patch.enabled, nextRunAt: planned?.next });
        if (!next) throw notFound('Snapshot schedule');
        await audit(tx, req, { action: 'snapshot_schedule.update', targetType: 'snapshot_schedule', targetId: id, result: 'success', details: { ...patch } });
        return next;
      });
    },

    /** Deletes the schedule; the snapshots it took stay (as ordinary snapshots no retention touches). */
    async remove(req: FastifyRequest, principal: Principal, id: string) {
      const s = await load(principal, id);
      await inTransaction(db, async (tx) => {
        await repo.deleteSchedule(tx, id);
        await audit(tx, req, { action: 'snapshot_schedule.delete', targetType: 'snapshot_schedule', targetId: id, result: 'success', details: { vm_uuid: s.vmUuid, group_id: s.groupId, cron: s.cron } });
      });
    },

    /** Runs the schedule now in the background (its timing is unchanged); 409 while a run is in progress here. */
    async runNow(req: FastifyRequest, principal: Principal, id: string) {
      const s = await load(principal, id);
      if (scheduler.isRunning(id)) throw conflict('This schedule is running right now');
      await audit(db, req, { action: 'snapshot_schedule.run', targetType: 'snapshot_schedule', targetId: id, result: 'success', details: { phase: 'accepted' } });
      const p = scheduler
        .runOnce(s)
        .catch((err: unknown) => ctx.log.error({ err, schedule: id }, 'snapshot schedule run failed'))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      return s;
    },

    /** Resolves when every run started by runNow has finished (app close). */
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

export type SchedulesService = ReturnType<typeof createSchedulesService>;
