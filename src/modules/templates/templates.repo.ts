// vm_templates rows: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export type TemplateVisibility = 'private' | 'everyone' | 'group';
export type TemplateSourceKind = 'vm' | 'cloud_image';

export interface TemplateRecord {
  id: string;
  name: string;
  description: string;
  ownerId: string | null;
  visibility: TemplateVisibility;
  groupId: string | null;
  source: TemplateSourceKind;
  cloudInit: boolean;
  minVcpus: number;
  minMemoryMb: number;
  minDiskGb: number;
  virtualSizeBytes: number;
  sizeBytes: number;
  state: 'creating' | 'ready';
  basePath: string;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  name: string;
  description: string;
  owner_id: string | null;
  visibility: TemplateVisibility;
  group_id: string | null;
  source: TemplateSourceKind;
  cloud_init: boolean;
  min_vcpus: number;
  min_memory_mb: number;
  min_disk_gb: number;
  virtual_size_bytes: string | number;
  size_bytes: string | number;
  state: 'creating' | 'ready';
  base_path: string;
  created_at: Date | string;
  updated_at: Date | string;
}

const toRecord = (r: Row): TemplateRecord => ({
  id: r.id,
  name: r.name,
  description: r.description,
  ownerId: r.owner_id,
  visibility: r.visibility,
  groupId: r.group_id,
  source: r.source,
  cloudInit: r.cloud_init,
  minVcpus: r.min_vcpus,
  minMemoryMb: r.min_memory_mb,
  minDiskGb: r.min_disk_gb,
  virtualSizeBytes: Number(r.virtual_size_bytes),
  sizeBytes: Number(r.size_bytes),
  state: r.state,
  basePath: r.base_path,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

export interface NewTemplate {
  id: string;
  name: string;
  description: string;
  ownerId: string;
  visibility: TemplateVisibility;
  groupId: string | null;
  source: TemplateSourceKind;
  cloudInit: boolean;
  minVcpus: number;
  minMemoryMb: number;
  minDiskGb: number;
  virtualSizeBytes: number;
  basePath: string;
  /** disk charged to the owner's quota */
  quotaDiskGb: number;
}

export async function insertTemplate(db: Queryable, t: NewTemplate): Promise<TemplateRecord> {
  const r = await queryOne<Row>(
    db,
    sql`insert into vm_templates (id, name, description, owner_id, visibility, group_id, source, cloud_init, min_vcpus, min_memory_mb, min_disk_gb,
        virtual_size_bytes, quota_disk_gb, state, base_path)
      values (${t.id}, ${t.name}, ${t.description}, ${t.ownerId}, ${t.visibility}, ${t.groupId}, ${t.source}, ${t.cloudInit}, ${t.minVcpus},
        ${t.minMemoryMb}, ${t.minDiskGb}, ${t.virtualSizeBytes}, ${t.quotaDiskGb}, 'creating', ${t.basePath})
      returning *`,
  );
  return toRecord(r!);
}

export async function findTemplate(db: Queryable, id: string, lock?: 'update' | 'share'): Promise<TemplateRecord | undefined> {
  const r =
    lock === 'update'
      ? await queryOne<Row>(db, sql`select * from vm_templates where id = ${id} for update`)
      : lock === 'share'
        ? await queryOne<Row>(db, sql`select * from vm_templates where id = ${id} for share`)
        : await queryOne<Row>(db, sql`select * from vm_templates where id = ${id}`);
  return r ? toRecord(r) : undefined;
}

/** Templates `userId` may see: everyone's, their own, their groups'; all of them for admins (userId undefined). */
export async function listVisibleTemplates(db: Queryable, userId: string | undefined, groupIds: string[]): Promise<TemplateRecord[]> {
  if (userId === undefined) return (await queryRows<Row>(db, sql`select * from vm_templates order by lower(name), id`)).map(toRecord);
  const groups = groupIds.length > 0 ? sql`or (visibility = 'group' and group_id in (${sql.join(groupIds.map((g) => sql`${g}::uuid`), sql`, `)}))` : sql``;
  return (
    await queryRows<Row>(db, sql`select * from vm_templates where visibility = 'everyone' or owner_id = ${userId} ${groups} order by lower(name), id`)
  ).map(toRecord);
}

export async function listTemplatesInState(db: Queryable, state: 'creating' | 'ready'): Promise<TemplateRecord[]> {
  return (await queryRows<Row>(db, sql`select * from vm_templates where state = ${state} order by created_at`)).map(toRecord);
}

export interface TemplateEdit {
  name?: string;
  description?: string;
  visibility?: TemplateVisibility;
  groupId?: string | null;
  minVcpus?: number;
  minMemoryMb?: number;
  minDiskGb?: number;
  cloudInit?: boolean;
}

export async function updateTemplate(db: Queryable, id: string, e: TemplateEdit): Promise<TemplateRecord | undefined> {
  const sets = [sql`updated_at = now()`];
  if (e.name !== undefined) sets.push(sql`name = ${e.name}`);
  if (e.description !== undefined) sets.push(sql`description = ${e.description}`);
  if (e.visibility !== undefined) sets.push(sql`visibility = ${e.visibility}`);
  if (e.groupId !== undefined) sets.push(sql`group_id = ${e.groupId}`);
  if (e.minVcpus !== undefined) sets.push(sql`min_vcpus = ${e.minVcpus}`);
  if (e.minMemoryMb !== undefined) sets.push(sql`min_memory_mb = ${e.minMemoryMb}`);
  if (e.minDiskGb !== undefined) sets.push(sql`min_disk_gb = ${e.minDiskGb}`);
  if (e.cloudInit !== undefined) sets.push(sql`cloud_init = ${e.cloudInit}`);
  const r = await queryOne<Row>(db, sql`update vm_templates set ${sql.join(sets, sql`, `)} where id = ${id} returning *`);
  return r ? toRecord(r) : undefined;
}

export async function markTemplateReady(db: Queryable, id: string, sizes: { virtualSizeBytes: number; sizeBytes: number; minDiskGb: number }): Promise<TemplateRecord | undefined> {
  const r = await queryOne<Row>(
    db,
    sql`update vm_templates set state = 'ready', virtual_size_bytes = ${sizes.virtualSizeBytes}, size_bytes = ${sizes.sizeBytes},
        min_disk_gb = greatest(min_disk_gb, ${sizes.minDiskGb}), updated_at = now()
      where id = ${id} and state = 'creating' returning *`,
  );
  return r ? toRecord(r) : undefined;
}

export async function deleteTemplateRow(db: Queryable, id: string): Promise<boolean> {
  return (await queryRows<{ id: string }>(db, sql`delete from vm_templates where id = ${id} returning id`)).length > 0;
}

/** VMs whose disk needs the template's base (linked clones; full clones still copying). */
export async function countDependentVms(db: Queryable, id: string): Promise<number> {
  return (await queryOne<{ n: number }>(db, sql`select count(*)::int as n from vms where backing_template_id = ${id}`))?.n ?? 0;
}

export async function countTemplateUses(db: Queryable, id: string): Promise<{ linked: number; full: number }> {
  const r = await queryOne<{ linked: number; full: number }>(
    db,
    sql`select (count(*) filter (where clone_mode = 'linked'))::int as linked, (count(*) filter (where clone_mode = 'full'))::int as full
      from vms where template_id = ${id}`,
  );
  return { linked: r?.linked ?? 0, full: r?.full ?? 0 };
}

export async function nameTakenByOwner(db: Queryable, ownerId: string, name: string, exceptId?: string): Promise<boolean> {
  const r = await queryOne<{ n: number }>(
    db,
    sql`select count(*)::int as n from vm_templates where owner_id = ${ownerId} and lower(name) = lower(${name}) and id <> ${exceptId ?? '00000000-0000-0000-0000-000000000000'}`,
  );
  return (r?.n ?? 0) > 0;
}
