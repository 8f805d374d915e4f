// groups, group_members, group_vms: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';
import { sanitizeGroupLimits, type GroupLimits, type GroupUsage } from './group-quota.js';

export interface GroupRecord {
  id: string;
  name: string;
  description: string;
  quota: GroupLimits;
  memberCount: number;
  vmCount: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface MemberRecord {
  userId: string;
  username: string;
  status: string;
  addedAt: Date;
}

interface Row {
  id: string;
  name: string;
  description: string;
  quota: unknown;
  member_count: number;
  vm_count: number;
  created_at: Date | string;
  updated_at: Date | string;
}

const toRecord = (r: Row): GroupRecord => ({
  id: r.id,
  name: r.name,
  description: r.description,
  quota: sanitizeGroupLimits(typeof r.quota === 'string' ? JSON.parse(r.quota) : r.quota),
  memberCount: Number(r.member_count),
  vmCount: Number(r.vm_count),
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

const SELECT = sql`select g.*,
    (select count(*) from group_members m where m.group_id = g.id)::int as member_count,
    (select count(*) from group_vms gv where gv.group_id = g.id)::int as vm_count
  from groups g`;

/** Serializes every allocation decision charged to one group (same key space style as user quotas). */
export async function lockGroupQuota(tx: Queryable, groupId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(7231993, hashtext(${groupId}))`);
}

export async function insertGroup(db: Queryable, g: { name: string; description: string; quota: GroupLimits; createdBy: string }): Promise<string> {
  const r = await queryOne<{ id: string }>(db, sql`insert into groups (name, description, quota, created_by)
    values (${g.name}, ${g.description}, ${JSON.stringify(g.quota)}::jsonb, ${g.createdBy}) returning id`);
  return r!.id;
}

export async function findGroup(db: Queryable, id: string): Promise<GroupRecord | undefined> {
  const r = await queryOne<Row>(db, sql`${SELECT} where g.id = ${id}`);
  return r ? toRecord(r) : undefined;
}

export async function listGroups(db: Queryable, opts: { memberId?: string } = {}): Promise<GroupRecord[]> {
  const rows = opts.memberId
    ? await queryRows<Row>(db, sql`${SELECT} where exists (select 1 from group_members m where m.group_id = g.id and m.user_id = ${opts.memberId}) order by lower(g.name)`)
    : await queryRows<Row>(db, sql`${SELECT} order by lower(g.name)`);
  return rows.map(toRecord);
}

export async function updateGroup(db: Queryable, id: string, patch: { name?: string; description?: string; quota?: GroupLimits }): Promise<boolean> {
  const r = await queryRows(db, sql`update groups set
      name = coalesce(${patch.name ?? null}, name),
      description = coalesce(${patch.description ?? null}, description),
      quota = coalesce(${patch.quota ? JSON.stringify(patch.quota) : null}::jsonb, quota),
      updated_at = now()
    where id = ${id} returning id`);
  return r.length > 0;
}

export async function deleteGroup(db: Queryable, id: string): Promise<boolean> {
  return (await queryRows(db, sql`delete from groups where id = ${id} returning id`)).length > 0;
}

export async function listMembers(db: Queryable, groupId: string): Promise<MemberRecord[]> {
  const rows = await queryRows<{ user_id: string; username: string; status: string; added_at: Date | string }>(
    db,
    sql`select m.user_id, u.username, u.status, m.added_at from group_members m join users u on u.id = m.user_id
      where m.group_id = ${groupId} order by lower(u.username)`,
  );
  return rows.map((r) => ({ userId: r.user_id, username: r.username, status: r.status, addedAt: new Date(r.added_at) }));
}

/** Adds the users that exist and are not members yet; returns the ids actually added. */
export async function addMembers(db: Queryable, groupId: string, userIds: string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const ids = sql.join(userIds.map((u) => sql`${u}::uuid`), sql`, `);
  const rows = await queryRows<{ user_id: string }>(db, sql`insert into group_members (group_id, user_id)
    select ${groupId}, u.id from users u where u.id in (${ids})
    on conflict do nothing returning user_id`);
  return rows.map((r) => r.user_id);
}

export async function removeMember(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  return (await queryRows(db, sql`delete from group_members where group_id = ${groupId} and user_id = ${userId} returning user_id`)).length > 0;
}

export async function isMember(db: Queryable, groupId: string, userId: string): Promise<boolean> {
  return (await queryRows(db, sql`select 1 from group_members where group_id = ${groupId} and user_id = ${userId}`)).length > 0;
}

/** Ids of the groups a user belongs to (template visibility 'group', via ctx.groupsOf). */
export async function groupIdsOf(db: Queryable, userId: string): Promise<string[]> {
  return (await queryRows<{ group_id: string }>(db, sql`select group_id from group_members where user_id = ${userId}`)).map((r) => r.group_id);
}

/** Existing user ids among `ids` (to report the unknown ones). */
export async function existingUsers(db: Queryable, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const list = sql.join(ids.map((u) => sql`${u}::uuid`), sql`, `);
  return new Set((await queryRows<{ id: string }>(db, sql`select id from users where id in (${list})`)).map((r) => r.id));
}

/** What the group's VMs hold, counting every state (creating included), like user quotas do. */
export async function groupUsage(db: Queryable, groupId: string): Promise<GroupUsage> {
  const r = await queryOne<GroupUsage>(db, sql`select count(*)::int as vms, coalesce(sum(v.vcpus), 0)::int as vcpus,
      coalesce(sum(v.memory_mb), 0)::int as memory_mb, coalesce(sum(v.disk_gb), 0)::int as disk_gb
    from group_vms gv join vms v on v.uuid = gv.vm_uuid where gv.group_id = ${groupId}`);
  return r ?? { vms: 0, vcpus: 0, memory_mb: 0, disk_gb: 0 };
}

export async function addGroupVm(db: Queryable, groupId: string, vmUuid: string): Promise<void> {
  await db.execute(sql`insert into group_vms (vm_uuid, group_id) values (${vmUuid}, ${groupId})`);
}

export async function groupVmUuids(db: Queryable, groupId: string): Promise<string[]> {
  return (await queryRows<{ vm_uuid: string }>(db, sql`select gv.vm_uuid from group_vms gv join vms v on v.uuid = gv.vm_uuid
    where gv.group_id = ${groupId} order by v.created_at, v.uuid`)).map((r) => r.vm_uuid);
}

/** The group a VM was provisioned for, if any. */
export async function groupOfVm(db: Queryable, vmUuid: string): Promise<string | undefined> {
  return (await queryOne<{ group_id: string }>(db, sql`select group_id from group_vms where vm_uuid = ${vmUuid}`))?.group_id;
}
