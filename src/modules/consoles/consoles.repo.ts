// console_tickets and console_sessions: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export async function insertTicket(db: Queryable, t: { tokenHash: string; userId: string; vmUuid: string; sessionFamily: string; expiresAt: Date }): Promise<void> {
  await db.execute(sql`insert into console_tickets (token_hash, user_id, vm_uuid, session_family, expires_at)
    values (${t.tokenHash}, ${t.userId}, ${t.vmUuid}, ${t.sessionFamily}, ${t.expiresAt.toISOString()})`);
}

/**
 * Marks a ticket used and returns it — only if it exists, is unused, unexpired and for this VM.
 * One UPDATE, so two connections racing with the same ticket cannot both win.
 */
export async function consumeTicket(db: Queryable, tokenHash: string, vmUuid: string, now: Date): Promise<{ userId: string; sessionFamily: string } | undefined> {
  const r = await queryOne<{ user_id: string; session_family: string }>(db, sql`update console_tickets set used_at = ${now.toISOString()}
    where token_hash = ${tokenHash} and vm_uuid = ${vmUuid} and used_at is null and expires_at > ${now.toISOString()}
    returning user_id, session_family`);
  return r ? { userId: r.user_id, sessionFamily: r.session_family } : undefined;
}

export async function purgeTickets(db: Queryable, before: Date): Promise<void> {
  await db.execute(sql`delete from console_tickets where expires_at < ${before.toISOString()}`);
}

export interface SessionRow {
  id: string;
  user_id: string | null;
  username: string;
  vm_uuid: string;
  instance_id: string;
  client_ip: string | null;
  started_at: string;
  ended_at: string | null;
  end_reason: string | null;
  bytes_to_vm: string | number;
  bytes_to_client: string | number;
}

export async function insertSession(db: Queryable, s: { userId: string; username: string; vmUuid: string; instanceId: string; clientIp: string }): Promise<string> {
  const r = await queryOne<{ id: string }>(db, sql`insert into console_sessions (user_id, username, vm_uuid, instance_id, client_ip)
    values (${s.userId}, ${s.username}, ${s.vmUuid}, ${s.instanceId}, ${s.clientIp}) returning id`);
  return r!.id;
}

export async function endSession(db: Queryable, id: string, reason: string, bytesToVm: number, bytesToClient: number): Promise<void> {
  await db.execute(sql`update console_sessions set ended_at = now(), end_reason = ${reason},
    bytes_to_vm = ${bytesToVm}, bytes_to_client = ${bytesToClient} where id = ${id} and ended_at is null`);
}

/** Marks this instance's live sessions as alive. */
export async function touchSessions(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.execute(sql`update console_sessions set last_seen_at = now() where id in (${sql.join(ids.map((i) => sql`${i}::uuid`), sql`, `)})`);
}

/** Open rows nobody refreshed for a while belong to an instance that died: close them. */
export async function endStaleSessions(db: Queryable, staleS: number): Promise<number> {
  const rows = await queryRows<{ id: string }>(db, sql`update console_sessions set ended_at = now(), end_reason = 'instance_lost'
    where ended_at is null and last_seen_at < now() - make_interval(secs => ${staleS}) returning id`);
  return rows.length;
}

export async function countOpen(db: Queryable, userId?: string): Promise<number> {
  const r = await queryOne<{ n: number }>(db, userId
    ? sql`select count(*)::int as n from console_sessions where ended_at is null and user_id = ${userId}`
    : sql`select count(*)::int as n from console_sessions where ended_at is null`);
  return r?.n ?? 0;
}

export async function listSessions(db: Queryable, f: { open?: boolean; limit: number; offset: number }): Promise<{ items: SessionRow[]; total: number }> {
  const w = f.open === undefined ? sql`true` : f.open ? sql`ended_at is null` : sql`ended_at is not null`;
  const items = await queryRows<SessionRow>(db, sql`select * from console_sessions where ${w} order by started_at desc limit ${f.limit} offset ${f.offset}`);
  const total = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from console_sessions where ${w}`);
  return { items, total: total?.n ?? 0 };
}

export async function findSession(db: Queryable, id: string): Promise<SessionRow | undefined> {
  return queryOne<SessionRow>(db, sql`select * from console_sessions where id = ${id}`);
}

export async function requestKill(db: Queryable, id: string): Promise<void> {
  await db.execute(sql`update console_sessions set kill_requested_at = now() where id = ${id} and ended_at is null`);
}

export async function killRequested(db: Queryable, instanceId: string): Promise<string[]> {
  const rows = await queryRows<{ id: string }>(db, sql`select id from console_sessions
    where instance_id = ${instanceId} and ended_at is null and kill_requested_at is not null`);
  return rows.map((r) => r.id);
}
