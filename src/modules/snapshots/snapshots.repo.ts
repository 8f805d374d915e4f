// vm_snapshots rows: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export type SnapshotState = 'creating' | 'ready' | 'reverting' | 'deleting';

export interface SnapshotRecord {
  id: string;
  vmUuid: string;
  name: string;
  description: string;
  state: SnapshotState;
  includesMemory: boolean;
  sizeBytes: number | null;
  errorMessage: string | null;
  /** taken by a snapshot schedule (retention may delete it); false = taken by a person */
  scheduled: boolean;
  scheduleId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  vm_uuid: string;
  name: string;
  description: string;
  state: SnapshotState;
  includes_memory: boolean;
  size_bytes: string | number | null;
  error_message: string | null;
  scheduled: boolean;
  schedule_id: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const toRecord = (r: Row): SnapshotRecord => ({
  id: r.id,
  vmUuid: r.vm_uuid,
  name: r.name,
  description: r.description,
  state: r.state,
  includesMemory: r.includes_memory,
  sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
  errorMessage: r.error_message,
  scheduled: r.scheduled,
  scheduleId: r.schedule_id,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

export async function insertSnapshot(
  db: Queryable,
  s: { vmUuid: string; name: string; description: string; createdBy: string | null; scheduleId?: string | null },
): Promise<SnapshotRecord> {
  const scheduleId = s.scheduleId ?? null;
  const r = await queryOne<Row>(db, sql`insert into vm_snapshots (vm_uuid, name, description, state, created_by, schedule_id, scheduled)
    values (${s.vmUuid}, ${s.name}, ${s.description}, 'creating', ${s.createdBy}, ${scheduleId}, ${scheduleId !== null}) returning *`);
  return toRecord(r!);
}

export async function findSnapshot(db: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<SnapshotRecord | undefined> {
  const r = await queryOne<Row>(db, opts.forUpdate ? sql`select * from vm_snapshots where id = ${id} for update` : sql`select * from vm_snapshots where id = ${id}`);
  return r ? toRecord(r) : undefined;
}

export async function listSnapshotsOf(db: Queryable, vmUuid: string): Promise<SnapshotRecord[]> {
  return (await queryRows<Row>(db, sql`select * from vm_snapshots where vm_uuid = ${vmUuid} order by created_at, id`)).map(toRecord);
}

export async function listInStates(db: Queryable, states: SnapshotState[]): Promise<SnapshotRecord[]> {
  return (await queryRows<Row>(db, sql`select * from vm_snapshots where state in (${sql.join(states.map((s) => sql`${s}`), sql`, `)})`)).map(toRecord);
}

/**
 * The VMs the snapshot reconciler looks at, with their hosts: those with snapshot rows, plus every
 * VM on a host not in `sweptHosts` (a libvirt snapshot may have lost its row: a create killed
 * inside libvirt's call).
 */
export async function snapshotReconcileTargets(db: Queryable, sweptHosts: readonly string[]): Promise<{ uuid: string; host: string }[]> {
  const unswept = sweptHosts.length === 0 ? sql`true` : sql`v.host not in (${sql.join(sweptHosts.map((h) => sql`${h}`), sql`, `)})`;
  return queryRows<{ uuid: string; host: string }>(db, sql`select v.uuid::text as uuid, v.host from vms v
    where ${unswept} or exists (select 1 from vm_snapshots s where s.vm_uuid = v.uuid) order by v.uuid`);
}

export async function updateSnapshot(
  db: Queryable,
  id: string,
  patch: { state?: SnapshotState; includesMemory?: boolean; sizeBytes?: number | null; errorMessage?: string | null },
): Promise<SnapshotRecord | undefined> {
  const r = await queryOne<Row>(db, sql`update vm_snapshots set
      state = coalesce(${patch.state ?? null}, state),
      includes_memory = coalesce(${patch.includesMemory ?? null}::boolean, includes_memory),
      size_bytes = case when ${patch.sizeBytes !== undefined} then ${patch.sizeBytes ?? null}::bigint else size_bytes end,
      error_message = case when ${patch.errorMessage !== undefined} then ${patch.errorMessage ?? null} else error_message end,
      updated_at = now()
    where id = ${id} returning *`);
  return r ? toRecord(r) : undefined;
}

export async function deleteSnapshotRow(db: Queryable, id: string): Promise<void> {
  await db.execute(sql`delete from vm_snapshots where id = ${id}`);
}

export async function snapshotNameTaken(db: Queryable, vmUuid: string, name: string): Promise<boolean> {
  return (await queryRows(db, sql`select 1 from vm_snapshots where vm_uuid = ${vmUuid} and name = ${name}`)).length > 0;
}

/** Snapshots a schedule took of one VM, oldest first (the ones retention may delete). */
export async function listScheduledSnapshots(db: Queryable, scheduleId: string, vmUuid: string): Promise<SnapshotRecord[]> {
  return (
    await queryRows<Row>(db, sql`select * from vm_snapshots where scheduled and schedule_id = ${scheduleId} and vm_uuid = ${vmUuid} order by created_at, id`)
  ).map(toRecord);
}
