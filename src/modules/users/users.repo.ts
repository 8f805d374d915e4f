// Admin queries over users: SQL only.
import { sql, type SQL } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';
import { invalidatePrincipals, toUser, type Role, type UserRecord, type UserStatus } from '../auth/index.js';

export interface UserListFilter {
  status?: UserStatus;
  role?: Role;
  username?: string;
  limit: number;
  offset: number;
}

export async function listUsers(db: Queryable, f: UserListFilter): Promise<{ items: UserRecord[]; total: number }> {
  const parts: SQL[] = [sql`true`];
  if (f.status) parts.push(sql`status = ${f.status}`);
  if (f.role) parts.push(sql`role = ${f.role}`);
  if (f.username) parts.push(sql`username like ${'%' + f.username.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%'}`);
  const w = sql.join(parts, sql` and `);
  const rows = await queryRows<Parameters<typeof toUser>[0]>(db, sql`select * from users where ${w} order by created_at desc, username limit ${f.limit} offset ${f.offset}`);
  const total = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from users where ${w}`);
  return { items: rows.map(toUser), total: total?.n ?? 0 };
}

export async function lockUser(db: Queryable, id: string): Promise<UserRecord | undefined> {
  const r = await queryOne<Parameters<typeof toUser>[0]>(db, sql`select * from users where id = ${id} for update`);
  return r ? toUser(r) : undefined;
}

/** Serializes admin-count invariants (last admin) across concurrent requests. */
export async function lockAdmins(db: Queryable): Promise<number> {
  const rows = await queryRows<{ id: string }>(db, sql`select id from users where role = 'admin' and status = 'active' for update`);
  return rows.length;
}

export async function updateStatus(db: Queryable, id: string, status: UserStatus, approvedBy: string | null): Promise<UserRecord> {
  const r = await queryOne<Parameters<typeof toUser>[0]>(db, sql`update users set status = ${status}, updated_at = now(),
    approved_at = case when ${status} = 'active' and approved_at is null then now() else approved_at end,
    approved_by = case when ${status} = 'active' and approved_by is null then ${approvedBy}::uuid else approved_by end
    where id = ${id} returning *`);
  invalidatePrincipals();
  return toUser(r!);
}

export async function updateRole(db: Queryable, id: string, role: Role): Promise<UserRecord> {
  const r = await queryOne<Parameters<typeof toUser>[0]>(db, sql`update users set role = ${role}, updated_at = now() where id = ${id} returning *`);
  invalidatePrincipals();
  return toUser(r!);
}

export async function deleteUser(db: Queryable, id: string): Promise<void> {
  await db.execute(sql`delete from users where id = ${id}`);
  invalidatePrincipals();
}
