// snapshot_schedules rows: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export type RunResult = 'success' | 'partial' | 'failure';

export interface ScheduleRecord {
  id: string;
  vmUuid: string | null;
  groupId: string | null;
  cron: string;
  retention: number;
  enabled: boolean;
  createdBy: string | null;
  nextRunAt: Date;
  lastRunAt: Date | null;
  lastResult: RunResult | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  vm_uuid: string | null;
  group_id: string | null;
  cron: string;
  retention: number;
  enabled: boolean;
  created_by: string | null;
  next_run_at: Date | string;
  last_run_at: Date | string | null;
  last_result: RunResult | null;
  last_error: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

const toRecord = (r: Row): ScheduleRecord => ({
  id: r.id,
  vmUuid: r.vm_uuid,
  groupId: r.group_id,
  cron: r.cron,
  retention: r.retention,
  enabled: r.enabled,
  createdBy: r.created_by,
  nextRunAt: new Date(r.next_run_at),
  lastRunAt: date(r.last_run_at),
  lastResult: r.last_result,
  lastError: r.last_error,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

export async function insertSchedule(
  db: Queryable,
  s: { vmUuid: string | null; groupId: string | null; cron: string; retention: number; enabled: boolean; createdBy: string; nextRunAt: Date },
): Promise<ScheduleRecord> {
  const r = await queryOne<Row>(db, sql`insert into snapshot_schedules (vm_uuid, group_id, cron, retention, enabled, created_by, next_run_at)
    values (${s.vmUuid}, ${s.groupId}, ${s.cron}, ${s.retention}, ${s.enabled}, ${s.createdBy}, ${s.nextRunAt.toISOString()}) returning *`);
  return toRecord(r!);
}

export async function findSchedule(db: Queryable, id: string): Promise<ScheduleRecord | undefined> {
  const r = await queryOne<Row>(db, sql`select * from snapshot_schedules where id = ${id}`);
  return r ? toRecord(r) : undefined;
}

export async function listSchedules(db: Queryable, target: { vmUuid: string } | { groupId: string }): Promise<ScheduleRecord[]> {
  const where = 'vmUuid' in target ? sql`vm_uuid = ${target.vmUuid}` : sql`group_id = ${target.groupId}`;
  return (await queryRows<Row>(db, sql`select * from snapshot_schedules where ${where} order by created_at, id`)).map(toRecord);
}

export async function countSchedules(db: Queryable, target: { vmUuid: string } | { groupId: string }): Promise<number> {
  const where = 'vmUuid' in target ? sql`vm_uuid = ${target.vmUuid}` : sql`group_id = ${target.groupId}`;
  return (await queryOne<{ n: number }>(db, sql`select count(*)::int as n from snapshot_schedules where ${where}`))?.n ?? 0;
}

export async function updateSchedule(db: Queryable, id: string, patch: { cron?: string; retention?: number; enabled?: boolean; nextRunAt?: Date }): Promise<ScheduleRecord | undefined> {
  const r = await queryOne<Row>(db, sql`update snapshot_schedules set
      cron = coalesce(${patch.cron ?? null}, cron),
      retention = coalesce(${patch.retention ?? null}::int, retention),
      enabled = coalesce(${patch.enabled ?? null}::boolean, enabled),
      next_run_at = coalesce(${patch.nextRunAt?.toISOString() ?? null}::timestamptz, next_run_at),
      updated_at = now()
    where id = ${id} returning *`);
  return r ? toRecord(r) : undefined;
}

export async function deleteSchedule(db: Queryable, id: string): Promise<void> {
  await db.execute(sql`delete from snapshot_schedules where id = ${id}`);
}

/** Enabled schedules due at `now`, oldest due first. */
export async function dueSchedules(db: Queryable, now: Date, limit: number): Promise<ScheduleRecord[]> {
  return (
    await queryRows<Row>(db, sql`select * from snapshot_schedules where enabled and next_run_at <= ${now.toISOString()}::timestamptz order by next_run_at, id limit ${limit}`)
  ).map(toRecord);
}

/**
 * Moves a due schedule to its next time, only if nobody else did since it was read: the one
 * caller that gets the row back runs it (compare-and-set on next_run_at).
 */
export async function claimRun(db: Queryable, s: ScheduleRecord, next: Date): Promise<boolean> {
  const r = await queryRows(db, sql`update snapshot_schedules set next_run_at = ${next.toISOString()}::timestamptz
    where id = ${s.id} and next_run_at = ${s.nextRunAt.toISOString()}::timestamptz returning id`);
  return r.length > 0;
}

export async function recordRun(db: Queryable, id: string, at: Date, result: RunResult, error: string | null): Promise<void> {
  await db.execute(sql`update snapshot_schedules set last_run_at = ${at.toISOString()}::timestamptz, last_result = ${result},
    last_error = ${error === null ? null : error.slice(0, 1000)} where id = ${id}`);
}
