// Snapshot schedule routes: a VM's (owner or admin), a group's (admin), and one schedule by id
// (reached through its target: not yours = 404).
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../auth/index.js';
import type { ScheduleRecord } from './schedules.repo.js';
import type { ScheduleInput, SchedulesService } from './schedules.service.js';

const Uuid = Type.String({ format: 'uuid' });
const security = [{ bearer: [] }];
const tags = ['snapshots'];
const Time = Type.String({ format: 'date-time' });

export const Schedule = Type.Object({
  id: Uuid,
  vm_uuid: Type.Union([Uuid, Type.Null()]),
  group_id: Type.Union([Uuid, Type.Null()]),
  cron: Type.String(),
  retention: Type.Integer(),
  enabled: Type.Boolean(),
  next_run_at: Time,
  last_run_at: Type.Union([Time, Type.Null()]),
  last_result: Type.Union([Type.Literal('success'), Type.Literal('partial'), Type.Literal('failure'), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Time,
  updated_at: Time,
});

const toDto = (s: ScheduleRecord) => ({
  id: s.id,
  vm_uuid: s.vmUuid,
  group_id: s.groupId,
  cron: s.cron,
  retention: s.retention,
  enabled: s.enabled,
  next_run_at: s.nextRunAt.toISOString(),
  last_run_at: s.lastRunAt?.toISOString() ?? null,
  last_result: s.lastResult,
  last_error: s.lastError,
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
});

const CronT = Type.String({ minLength: 9, maxLength: 200, description: '5 fields, UTC: minute hour day-of-month month day-of-week' });
const RetentionT = Type.Integer({ minimum: 1, maximum: 100, description: 'newest snapshots this schedule keeps per VM' });
const CreateBody = Type.Object({ cron: CronT, retention: RetentionT, enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const PatchBody = Type.Object({ cron: Type.Optional(CronT), retention: Type.Optional(RetentionT), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 });
const List = Type.Object({ items: Type.Array(Schedule), total: Type.Integer() });
const listOf = (rows: ScheduleRecord[]) => ({ items: rows.map(toDto), total: rows.length });

export function registerScheduleRoutes(schedules: SchedulesService): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/vms/:uuid/snapshot-schedules',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Snapshot schedules of a VM', params: Type.Object({ uuid: Uuid }), response: { 200: List } } },
      async (req) => listOf(await schedules.listForVm(principalOf(req), (req.params as { uuid: string }).uuid)),
    );

    app.post(
      '/api/vms/:uuid/snapshot-schedules',
      {
        config: { auth: 'user' },
        schema: { tags, security, summary: 'Snapshot a VM on a cron schedule, keeping the newest `retention` scheduled snapshots', params: Type.Object({ uuid: Uuid }), body: CreateBody, response: { 201: Schedule } },
      },
      async (req, reply) => reply.code(201).send(toDto(await schedules.createForVm(req, principalOf(req), (req.params as { uuid: string }).uuid, req.body as ScheduleInput))),
    );

    app.get(
      '/api/admin/groups/:id/snapshot-schedules',
      { config: { auth: 'admin' }, schema: { tags: ['groups'], security, summary: 'Snapshot schedules of a group', params: Type.Object({ id: Uuid }), response: { 200: List } } },
      async (req) => listOf(await schedules.listForGroup((req.params as { id: string }).id)),
    );

    app.post(
      '/api/admin/groups/:id/snapshot-schedules',
      {
        config: { auth: 'admin' },
        schema: { tags: ['groups'], security, summary: 'Snapshot every VM of a group on a cron schedule (retention per VM)', params: Type.Object({ id: Uuid }), body: CreateBody, response: { 201: Schedule } },
      },
      async (req, reply) => reply.code(201).send(toDto(await schedules.createForGroup(req, principalOf(req), (req.params as { id: string }).id, req.body as ScheduleInput))),
    );

    app.get(
      '/api/snapshot-schedules/:id',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'A snapshot schedule with its last run', params: Type.Object({ id: Uuid }), response: { 200: Schedule } } },
      async (req) => toDto(await schedules.get(principalOf(req), (req.params as { id: string }).id)),
    );

    app.patch(
      '/api/snapshot-schedules/:id',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Change or pause a snapshot schedule', params: Type.Object({ id: Uuid }), body: PatchBody, response: { 200: Schedule } } },
      async (req) => toDto(await schedules.update(req, principalOf(req), (req.params as { id: string }).id, req.body as Partial<ScheduleInput>)),
    );

    app.delete(
      '/api/snapshot-schedules/:id',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Delete a snapshot schedule (the snapshots it took stay)', params: Type.Object({ id: Uuid }), response: { 204: Type.Null() } } },
      async (req, reply) => {
        await schedules.remove(req, principalOf(req), (req.params as { id: string }).id);
        return reply.code(204).send();
      },
    );

    app.post(
      '/api/snapshot-schedules/:id/run',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Run a schedule now (its timing is unchanged); the outcome shows in last_run_at / last_result', params: Type.Object({ id: Uuid }), response: { 202: Schedule } } },
      async (req, reply) => reply.code(202).send(toDto(await schedules.runNow(req, principalOf(req), (req.params as { id: string }).id))),
    );
  };
}
