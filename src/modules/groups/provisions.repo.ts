// group_provisions and group_provision_items: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export type ProvisionState = 'running' | 'succeeded' | 'partial' | 'failed';
export type ItemState = 'pending' | 'succeeded' | 'failed';

export interface ProvisionItem {
  userId: string;
  username: string;
  vmUuid: string | null;
  vmName: string;
  state: ItemState;
  error: string | null;
}

export interface ProvisionRecord {
  id: string;
  groupId: string;
  templateId: string | null;
  namePrefix: string;
  requestedBy: string | null;
  state: ProvisionState;
  total: number;
  createdAt: Date;
  finishedAt: Date | null;
  items: ProvisionItem[];
}

interface Row {
  id: string;
  group_id: string;
  template_id: string | null;
  name_prefix: string;
  requested_by: string | null;
  state: ProvisionState;
  total: number;
  created_at: Date | string;
  finished_at: Date | string | null;
}

interface ItemRow {
  user_id: string;
  username: string;
  vm_uuid: string | null;
  vm_name: string;
  state: ItemState;
  error: string | null;
}

export async function insertProvision(
  db: Queryable,
  p: { id: string; groupId: string; templateId: string; namePrefix: string; requestedBy: string; items: { userId: string; username: string; vmUuid: string; vmName: string }[] },
): Promise<void> {
  await db.execute(sql`insert into group_provisions (id, group_id, template_id, name_prefix, requested_by, state, total)
    values (${p.id}, ${p.groupId}, ${p.templateId}, ${p.namePrefix}, ${p.requestedBy}, 'running', ${p.items.length})`);
  for (const i of p.items) {
    await db.execute(sql`insert into group_provision_items (provision_id, user_id, username, vm_uuid, vm_name, state)
      values (${p.id}, ${i.userId}, ${i.username}, ${i.vmUuid}, ${i.vmName}, 'pending')`);
  }
}

export async function findProvision(db: Queryable, id: string): Promise<ProvisionRecord | undefined> {
  const r = await queryOne<Row>(db, sql`select * from group_provisions where id = ${id}`);
  if (!r) return undefined;
  const items = await queryRows<ItemRow>(db, sql`select * from group_provision_items where provision_id = ${id} order by lower(username)`);
  return {
    id: r.id,
    groupId: r.group_id,
    templateId: r.template_id,
    namePrefix: r.name_prefix,
    requestedBy: r.requested_by,
    state: r.state,
    total: r.total,
    createdAt: new Date(r.created_at),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at),
    items: items.map((i) => ({ userId: i.user_id, username: i.username, vmUuid: i.vm_uuid, vmName: i.vm_name, state: i.state, error: i.error })),
  };
}

export async function listProvisionIds(db: Queryable, groupId: string, limit = 50): Promise<string[]> {
  return (await queryRows<{ id: string }>(db, sql`select id from group_provisions where group_id = ${groupId} order by created_at desc limit ${limit}`)).map((r) => r.id);
}

export async function settleItem(db: Queryable, provisionId: string, userId: string, state: ItemState, error: string | null): Promise<void> {
  await db.execute(sql`update group_provision_items set state = ${state}, error = ${error}, updated_at = now()
    where provision_id = ${provisionId} and user_id = ${userId} and state = 'pending'`);
}

/** Marks a running provision finished; false when someone else (another request, the tracker) already did. */
export async function finishProvision(db: Queryable, id: string, state: ProvisionState): Promise<boolean> {
  return (await queryRows(db, sql`update group_provisions set state = ${state}, finished_at = now() where id = ${id} and state = 'running' returning id`)).length > 0;
}

/** Where a VM's creation stands: its row's state, or why it was rolled back (the audit row of the failure). */
export async function creationOutcome(db: Queryable, vmUuid: string): Promise<{ state: string | null; errorMessage: string | null; rollbackError: string | null }> {
  const vm = await queryOne<{ state: string; error_message: string | null }>(db, sql`select state, error_message from vms where uuid = ${vmUuid}`);
  if (vm) return { state: vm.state, errorMessage: vm.error_message, rollbackError: null };
  const a = await queryOne<{ error: string | null }>(db, sql`select details->>'error' as error from audit_log
    where target_type = 'vm' and target_id = ${vmUuid} and action = 'vm.create' and result = 'failure' order by at desc limit 1`);
  return { state: null, errorMessage: null, rollbackError: a?.error ?? 'the VM was removed before it was ready' };
}
