// audit_log rows: who did what to which target, with what result.
import { sql, type SQL } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export type AuditResult = 'success' | 'failure' | 'denied';

export interface AuditEntry {
  actorId: string | null;
  actorUsername: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  result: AuditResult;
  details?: Record<string, unknown>;
  requestId: string | null;
  ip: string | null;
}

export interface AuditRow {
  id: string;
  at: string;
  actor_id: string | null;
  actor_username: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  result: AuditResult;
  details: Record<string, unknown>;
  request_id: string | null;
  ip: string | null;
}

export async function insertAudit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.execute(sql`insert into audit_log (actor_id, actor_username, action, target_type, target_id, result, details, request_id, ip)
    values (${e.actorId}, ${e.actorUsername}, ${e.action}, ${e.targetType}, ${e.targetId}, ${e.result},
      ${JSON.stringify(e.details ?? {})}::jsonb, ${e.requestId}, ${e.ip})`);
}

export interface AuditFilter {
  actorId?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  result?: AuditResult;
  since?: string;
  until?: string;
  limit: number;
  offset: number;
}

function where(f: AuditFilter): SQL {
  const parts: SQL[] = [sql`true`];
  if (f.actorId) parts.push(sql`actor_id = ${f.actorId}`);
  if (f.action) parts.push(sql`action = ${f.action}`);
  if (f.targetType) parts.push(sql`target_type = ${f.targetType}`);
  if (f.targetId) parts.push(sql`target_id = ${f.targetId}`);
  if (f.result) parts.push(sql`result = ${f.result}`);
  if (f.since) parts.push(sql`at >= ${f.since}`);
  if (f.until) parts.push(sql`at < ${f.until}`);
  return sql.join(parts, sql` and `);
}

export async function listAudit(db: Queryable, f: AuditFilter): Promise<{ items: AuditRow[]; total: number }> {
  const w = where(f);
  const items = await queryRows<AuditRow>(db, sql`select id::text as id, at, actor_id, actor_username, action, target_type,
    target_id, result, details, request_id, ip from audit_log where ${w} order by audit_log.id desc limit ${f.limit} offset ${f.offset}`);
  const total = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from audit_log where ${w}`);
  return { items, total: total?.n ?? 0 };
}
