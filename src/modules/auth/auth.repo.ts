// users and sessions: SQL only, plain typed rows mapped to camelCase.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';
import { invalidatePrincipals } from './principal-cache.js';

export type Role = 'user' | 'admin';
export type UserStatus = 'pending' | 'active' | 'rejected' | 'disabled';

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  role: Role;
  status: UserStatus;
  createdAt: Date;
  updatedAt: Date;
  approvedAt: Date | null;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: Role;
  status: UserStatus;
  created_at: Date | string;
  updated_at: Date | string;
  approved_at: Date | string | null;
}

export const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  role: r.role,
  status: r.status,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  approvedAt: r.approved_at === null ? null : new Date(r.approved_at),
});

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRecord | undefined> {
  const r = await queryOne<UserRow>(db, sql`select * from users where lower(username) = lower(${username})`);
  return r ? toUser(r) : undefined;
}

export async function findUserById(db: Queryable, id: string): Promise<UserRecord | undefined> {
  const r = await queryOne<UserRow>(db, sql`select * from users where id = ${id}`);
  return r ? toUser(r) : undefined;
}

export async function insertUser(
  db: Queryable,
  u: { username: string; passwordHash: string; role: Role; status: UserStatus; approvedBy?: string | null },
): Promise<UserRecord> {
  const approved = u.status === 'active';
  const r = await queryOne<UserRow>(db, sql`
    insert into users (username, password_hash, role, status, approved_at, approved_by)
    values (${u.username.toLowerCase()}, ${u.passwordHash}, ${u.role}, ${u.status},
      ${approved ? sql`now()` : null}, ${u.approvedBy ?? null})
    returning *`);
  return toUser(r!);
}

export async function setPassword(db: Queryable, userId: string, passwordHash: string): Promise<void> {
  await db.execute(sql`update users set password_hash = ${passwordHash}, updated_at = now() where id = ${userId}`);
  invalidatePrincipals();
}

export async function countAdmins(db: Queryable): Promise<number> {
  const r = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from users where role = 'admin' and status = 'active'`);
  return r?.n ?? 0;
}

// ---- sessions ----

export interface SessionRecord {
  id: string;
  familyId: string;
  userId: string;
  expiresAt: Date;
  revokedAt: Date | null;
  replacedBy: string | null;
}

interface SessionRow {
  id: string;
  family_id: string;
  user_id: string;
  expires_at: Date | string;
  revoked_at: Date | string | null;
  replaced_by: string | null;
}

const toSession = (r: SessionRow): SessionRecord => ({
  id: r.id,
  familyId: r.family_id,
  userId: r.user_id,
  expiresAt: new Date(r.expires_at),
  revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at),
  replacedBy: r.replaced_by,
});

export async function insertSession(
  db: Queryable,
  s: { familyId: string | null; userId: string; tokenHash: string; expiresAt: Date; ip: string; userAgent: string | undefined },
): Promise<SessionRecord> {
  const r = await queryOne<SessionRow>(db, sql`
    insert into sessions (family_id, user_id, token_hash, expires_at, ip, user_agent)
    values (coalesce(${s.familyId}::uuid, gen_random_uuid()), ${s.userId}, ${s.tokenHash}, ${s.expiresAt.toISOString()},
      ${s.ip}, ${s.userAgent?.slice(0, 300) ?? null})
    returning *`);
  return toSession(r!);
}

export async function findSessionByTokenHash(db: Queryable, tokenHash: string): Promise<SessionRecord | undefined> {
  const r = await queryOne<SessionRow>(db, sql`select * from sessions where token_hash = ${tokenHash}`);
  return r ? toSession(r) : undefined;
}

export async function findSessionByTokenHashForUpdate(db: Queryable, tokenHash: string): Promise<SessionRecord | undefined> {
  const r = await queryOne<SessionRow>(db, sql`select * from sessions where token_hash = ${tokenHash} for update`);
  return r ? toSession(r) : undefined;
}

export async function markRotated(db: Queryable, id: string, replacedBy: string): Promise<void> {
  await db.execute(sql`update sessions set revoked_at = now(), revoked_reason = 'rotated', replaced_by = ${replacedBy} where id = ${id}`);
  invalidatePrincipals();
}

export async function revokeFamily(db: Queryable, familyId: string, reason: string): Promise<void> {
  await db.execute(sql`update sessions set revoked_at = coalesce(revoked_at, now()),
    revoked_reason = case when revoked_at is null then ${reason} else revoked_reason end where family_id = ${familyId}`);
  invalidatePrincipals();
}

export async function revokeAllForUser(db: Queryable, userId: string, reason: string): Promise<void> {
  await db.execute(sql`update sessions set revoked_at = now(), revoked_reason = ${reason} where user_id = ${userId} and revoked_at is null`);
  invalidatePrincipals();
}

/** True while the family has a live (unrevoked, unexpired) member: the login is still valid. */
export async function familyIsLive(db: Queryable, familyId: string): Promise<boolean> {
  const rows = await queryRows<{ one: number }>(db, sql`select 1 as one from sessions
    where family_id = ${familyId} and revoked_at is null and expires_at > now() limit 1`);
  return rows.length > 0;
}

/** The principal behind an access token: user plus whether its session is still live. */
/** The user and whether the session family is live (until when: its last live session's expiry). */
export async function findPrincipal(db: Queryable, userId: string, familyId: string): Promise<{ user: UserRecord; live: boolean; liveUntil: Date | null } | undefined> {
  const r = await queryOne<UserRow & { live_until: Date | string | null }>(db, sql`
    select u.*, (select max(s.expires_at) from sessions s where s.family_id = ${familyId} and s.user_id = u.id
      and s.revoked_at is null and s.expires_at > now()) as live_until
    from users u where u.id = ${userId}`);
  if (!r) return undefined;
  const liveUntil = r.live_until === null ? null : new Date(r.live_until);
  return { user: toUser(r), live: liveUntil !== null, liveUntil };
}
