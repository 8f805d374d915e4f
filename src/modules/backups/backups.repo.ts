// backups rows: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export type BackupStatus = 'running' | 'completed' | 'failed' | 'interrupted';
export type BackupOrigin = 'api' | 'cli' | 'drill';

export interface BackupRow {
  id: string;
  status: BackupStatus;
  file_path: string | null;
  size_bytes: string | number | null;
  origin: BackupOrigin;
  requested_by: string | null;
  with_isos: boolean;
  vm_count: number | null;
  progress: Record<string, unknown>;
  error: string | null;
  started_at: string | Date;
  completed_at: string | Date | null;
  duration_ms: number | null;
  verified_at: string | Date | null;
  verified_ok: boolean | null;
}

const COLUMNS = sql`id::text as id, status, file_path, size_bytes, origin, requested_by::text as requested_by, with_isos, vm_count, progress,
  error, started_at, completed_at, duration_ms, verified_at, verified_ok`;

export async function insertBackup(db: Queryable, b: { origin: BackupOrigin; requestedBy: string | null; withIsos: boolean }): Promise<BackupRow> {
  return (await queryOne<BackupRow>(db, sql`insert into backups (status, origin, requested_by, with_isos)
    values ('running', ${b.origin}, ${b.requestedBy}, ${b.withIsos}) returning ${COLUMNS}`))!;
}

export async function setProgress(db: Queryable, id: string, progress: Record<string, unknown>): Promise<void> {
  await db.execute(sql`update backups set progress = ${JSON.stringify(progress)}::jsonb where id = ${id} and status = 'running'`);
}

export async function completeBackup(db: Queryable, id: string, r: { filePath: string; size: number; vmCount: number; durationMs: number }): Promise<void> {
  await db.execute(sql`update backups set status = 'completed', file_path = ${r.filePath}, size_bytes = ${r.size}, vm_count = ${r.vmCount},
    duration_ms = ${r.durationMs}, completed_at = now(), progress = '{"step":"done"}'::jsonb where id = ${id}`);
}

export async function failBackup(db: Queryable, id: string, error: string, durationMs: number): Promise<void> {
  await db.execute(sql`update backups set status = 'failed', error = ${error}, duration_ms = ${durationMs}, completed_at = now() where id = ${id}`);
}

export async function recordVerification(db: Queryable, filePath: string, ok: boolean): Promise<void> {
  await db.execute(sql`update backups set verified_at = now(), verified_ok = ${ok} where file_path = ${filePath}`);
}

export async function getBackup(db: Queryable, id: string): Promise<BackupRow | undefined> {
  return queryOne<BackupRow>(db, sql`select ${COLUMNS} from backups where id = ${id}`);
}

export async function listBackups(db: Queryable, limit: number, offset: number): Promise<{ items: BackupRow[]; total: number }> {
  const items = await queryRows<BackupRow>(db, sql`select ${COLUMNS} from backups order by started_at desc, id limit ${limit} offset ${offset}`);
  const total = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from backups`);
  return { items, total: total?.n ?? 0 };
}

/** What a running backup would have to undo if its process died (migrations/0011). */
export interface BackupRecovery {
  /** the partial archive file and the work dir being written */
  partial?: string;
  work_dir?: string;
  /** the VM paused for a consistent disk copy (and its host), until it is resumed */
  paused_vm?: string | null;
  paused_host?: string | null;
}

/** Merges into the row's recovery record (awaited BEFORE the file is created or the VM paused). */
export async function setRecovery(db: Queryable, id: string, r: BackupRecovery): Promise<void> {
  await db.execute(sql`update backups set recovery = recovery || ${JSON.stringify(r)}::jsonb where id = ${id}`);
}

/** Ids of backups recorded as running (by this process, another instance, or a dead one). */
export async function runningBackupIds(db: Queryable): Promise<string[]> {
  return (await queryRows<{ id: string }>(db, sql`select id::text as id from backups where status = 'running'`)).map((r) => r.id);
}

/**
 * Marks backups left 'running' by a process that died as interrupted (all running rows, or only
 * `ids`). Returns what those backups left behind, for the caller to undo.
 */
export async function markInterrupted(db: Queryable, ids?: string[]): Promise<BackupRecovery[]> {
  if (ids && ids.length === 0) return [];
  const only = ids ? sql` and id in (${sql.join(ids.map((i) => sql`${i}::uuid`), sql`, `)})` : sql``;
  const rows = await queryRows<{ recovery: BackupRecovery | string }>(db, sql`update backups set status = 'interrupted',
    error = 'the LIMEN process ended while this backup ran', completed_at = now()
    where status = 'running'${only} returning recovery`);
  return rows.map((r) => (typeof r.recovery === 'string' ? (JSON.parse(r.recovery) as BackupRecovery) : r.recovery));
}

/** Completed archives beyond the newest `keep` (retention): returns their paths. */
export async function completedBeyond(db: Queryable, keep: number): Promise<{ id: string; file_path: string }[]> {
  return queryRows(db, sql`select id::text as id, file_path from backups where status = 'completed' and file_path is not null
    order by completed_at desc, id offset ${keep}`);
}

export async function markPruned(db: Queryable, id: string): Promise<void> {
  await db.execute(sql`update backups set file_path = null, error = 'removed by retention' where id = ${id}`);
}
