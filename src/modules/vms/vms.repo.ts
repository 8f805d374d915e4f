// vms rows: SQL only. Every state write bumps state_version; writes that come from a refresh or a
// background operation pass the version they read and lose to anything newer (compare-and-set).
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';
import type { BootDevice } from '../../hypervisor/index.js';
import type { DesiredState, VmState } from './vm-state.js';
import type { CloudInitSpec } from './cloud-init.js';

export type CloneMode = 'linked' | 'full';
export type IpSource = 'lease' | 'agent';

/**
 * Every column plus the VM's host's last reachability verdict (hosts.reachable, written by the
 * host watchdog): one scalar subquery, so reads and RETURNING clauses carry it alike.
 */
const VM_COLUMNS = sql.raw('*, (select h.reachable from hosts h where h.name = vms.host) as host_reachable');

export interface PendingChanges {
  vcpus?: number;
  memory_mb?: number;
}

export interface VmRecord {
  uuid: string;
  ownerId: string;
  name: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  isoId: string | null;
  bootOrder: BootDevice[];
  host: string;
  /** false while the VM's host is unreachable (its state is the last one known) */
  hostReachable: boolean;
  /** the host a migration in progress is moving the VM to (null: none) */
  migratingTo: string | null;
  state: VmState;
  desiredState: DesiredState;
  stateVersion: number;
  errorMessage: string | null;
  pendingChanges: PendingChanges;
  diskPath: string;
  /** the template the VM was made from (null: from an ISO, or the template was deleted since) */
  templateId: string | null;
  /** the template whose base image the disk depends on: linked clones, and full clones while copying */
  backingTemplateId: string | null;
  cloneMode: CloneMode | null;
  /** content of the cloud-init seed (null: no seed ISO) */
  cloudInit: CloudInitSpec | null;
  ipAddresses: string[];
  ipSource: IpSource | null;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  uuid: string;
  owner_id: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  iso_id: string | null;
  boot_order: BootDevice[] | string;
  host: string;
  host_reachable?: boolean | null;
  migrating_to?: string | null;
  state: VmState;
  desired_state: DesiredState;
  state_version: string | number;
  error_message: string | null;
  pending_changes: PendingChanges | string | null;
  disk_path: string;
  template_id: string | null;
  backing_template_id: string | null;
  clone_mode: CloneMode | null;
  cloud_init: CloudInitSpec | string | null;
  ip_addresses: string[] | string | null;
  ip_source: IpSource | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const json = <T>(v: T | string | null, fallback: T): T => (v === null ? fallback : typeof v === 'string' ? (JSON.parse(v) as T) : v);

function toRecord(r: Row): VmRecord {
  return {
    uuid: r.uuid,
    ownerId: r.owner_id,
    name: r.name,
    vcpus: r.vcpus,
    memoryMb: r.memory_mb,
    diskGb: r.disk_gb,
    isoId: r.iso_id,
    bootOrder: json<BootDevice[]>(r.boot_order, ['cdrom', 'hd']),
    host: r.host,
    hostReachable: r.host_reachable !== false,
    migratingTo: r.migrating_to ?? null,
    state: r.state,
    desiredState: r.desired_state,
    stateVersion: Number(r.state_version),
    errorMessage: r.error_message,
    pendingChanges: json<PendingChanges>(r.pending_changes, {}),
    diskPath: r.disk_path,
    templateId: r.template_id ?? null,
    backingTemplateId: r.backing_template_id ?? null,
    cloneMode: r.clone_mode ?? null,
    cloudInit: json<CloudInitSpec | null>(r.cloud_init ?? null, null),
    ipAddresses: json<string[]>(r.ip_addresses ?? null, []),
    ipSource: r.ip_source ?? null,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export interface NewVm {
  uuid: string;
  ownerId: string;
  name: string;
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  isoId: string | null;
  bootOrder: BootDevice[];
  host: string;
  desiredState: DesiredState;
  diskPath: string;
  templateId?: string | null;
  cloneMode?: CloneMode | null;
  cloudInit?: CloudInitSpec | null;
}

export async function insertVm(db: Queryable, v: NewVm): Promise<VmRecord> {
  const cloud = v.cloudInit ? JSON.stringify(v.cloudInit) : null;
  // a clone depends on the template's base from the start (a full clone until its copy is done)
  const backing = v.templateId && v.cloneMode ? v.templateId : null;
  const r = await queryOne<Row>(
    db,
    sql`insert into vms (uuid, owner_id, name, vcpus, memory_mb, disk_gb, iso_id, boot_order, host, state, desired_state, disk_path,
        template_id, backing_template_id, clone_mode, cloud_init)
      values (${v.uuid}, ${v.ownerId}, ${v.name}, ${v.vcpus}, ${v.memoryMb}, ${v.diskGb}, ${v.isoId}, ${JSON.stringify(v.bootOrder)}::jsonb,
        ${v.host}, 'creating', ${v.desiredState}, ${v.diskPath}, ${v.templateId ?? null}, ${backing}, ${v.cloneMode ?? null}, ${cloud}::jsonb)
      returning ${VM_COLUMNS}`,
  );
  return toRecord(r!);
}

/** A full clone's copy is complete: its disk no longer needs the template's base. */
export async function releaseBacking(db: Queryable, uuid: string): Promise<void> {
  await db.execute(sql`update vms set backing_template_id = null where uuid = ${uuid} and clone_mode = 'full'`);
}

/** Records the guest addresses libvirt reported; true when they changed. */
export async function writeAddresses(db: Queryable, uuid: string, addresses: string[], source: IpSource | null): Promise<VmRecord | undefined> {
  const r = await queryOne<Row>(
    db,
    sql`update vms set ip_addresses = ${JSON.stringify(addresses)}::jsonb, ip_source = ${source}, ip_checked_at = now()
      where uuid = ${uuid} and (ip_addresses <> ${JSON.stringify(addresses)}::jsonb or ip_source is distinct from ${source})
      returning ${VM_COLUMNS}`,
  );
  return r ? toRecord(r) : undefined;
}

export async function findVm(db: Queryable, uuid: string, opts: { forUpdate?: boolean } = {}): Promise<VmRecord | undefined> {
  const r = opts.forUpdate
    ? await queryOne<Row>(db, sql`select ${VM_COLUMNS} from vms where uuid = ${uuid} for update`)
    : await queryOne<Row>(db, sql`select ${VM_COLUMNS} from vms where uuid = ${uuid}`);
  return r ? toRecord(r) : undefined;
}

export async function listVms(db: Queryable, ownerId?: string): Promise<VmRecord[]> {
  const rows = ownerId
    ? await queryRows<Row>(db, sql`select ${VM_COLUMNS} from vms where owner_id = ${ownerId} order by created_at, uuid`)
    : await queryRows<Row>(db, sql`select ${VM_COLUMNS} from vms order by created_at, uuid`);
  return rows.map(toRecord);
}

/**
 * One page of a VM list (a user's own, or every VM for an admin) in the API's order, and the
 * number of VMs the whole list has. One statement: the total rides along as a scalar subquery, so a
 * page costs one round trip; only a page past the end needs a second (count) query.
 */
export async function listVmPage(db: Queryable, f: { ownerId?: string; limit: number; offset: number }): Promise<{ items: VmRecord[]; total: number }> {
  const where = f.ownerId ? sql`where owner_id = ${f.ownerId}` : sql``;
  // The total as a scalar subquery, not `count(*) over ()`: a window aggregate materialises every
  // matching row (all columns) before the limit — for an admin's first page of 1,000 VMs that was
  // ~40 % of the statement's CPU on the embedded database (docs/performance.md). VM_COLUMNS, not
  // `*`: the list must carry host_reachable like every other read of a VM.
  const rows = await queryRows<Row & { total: string | number }>(
    db,
    sql`select ${VM_COLUMNS}, (select count(*) from vms ${where}) as total from vms ${where} order by created_at, uuid limit ${f.limit} offset ${f.offset}`,
  );
  if (rows.length > 0) return { items: rows.map(toRecord), total: Number(rows[0]!.total) };
  if (f.offset === 0) return { items: [], total: 0 };
  const r = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from vms ${where}`);
  return { items: [], total: r?.n ?? 0 };
}

export async function listVmsInStates(db: Queryable, states: readonly VmState[]): Promise<VmRecord[]> {
  const list = sql.join(states.map((s) => sql`${s}`), sql`, `);
  return (await queryRows<Row>(db, sql`select ${VM_COLUMNS} from vms where state in (${list}) order by created_at`)).map(toRecord);
}

/**
 * What the guest-address poller has to look at: running or paused VMs (ask libvirt) and stopped
 * ones that still show addresses (clear them). Filtered here, not in JavaScript: with the embedded
 * database a platform of 1,000 mostly stopped VMs would otherwise decode every row every 15 s on
 * the event loop.
 */
export async function listVmsForAddressPoll(db: Queryable): Promise<VmRecord[]> {
  return (
    await queryRows<Row>(db, sql`select ${VM_COLUMNS} from vms where state in ('running', 'paused')
      or (state in ('stopped', 'error', 'missing') and ip_addresses <> '[]'::jsonb) order by created_at`)
  ).map(toRecord);
}

export async function countVmsOf(db: Queryable, ownerId: string): Promise<number> {
  const r = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from vms where owner_id = ${ownerId}`);
  return r?.n ?? 0;
}

export async function countByState(db: Queryable): Promise<Record<string, number>> {
  const rows = await queryRows<{ state: string; n: number }>(db, sql`select state, count(*)::int as n from vms group by state`);
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

export interface StateWrite {
  state: VmState;
  desiredState?: DesiredState;
  /** null clears the message; undefined keeps it */
  errorMessage?: string | null;
  /** only write when the row still has this version (a newer write wins) */
  ifVersion?: number;
  /** only write when the row is in one of these states */
  ifStates?: readonly VmState[];
  /** clear pending_changes (a power cycle applied them) */
  clearPending?: boolean;
}

/** Writes a state and bumps the version; undefined when the guard did not match (nothing written). */
export async function writeState(db: Queryable, uuid: string, w: StateWrite): Promise<VmRecord | undefined> {
  const guards = [sql`uuid = ${uuid}`];
  if (w.ifVersion !== undefined) guards.push(sql`state_version = ${w.ifVersion}`);
  if (w.ifStates) guards.push(sql`state in (${sql.join(w.ifStates.map((s) => sql`${s}`), sql`, `)})`);
  const r = await queryOne<Row>(
    db,
    sql`update vms set state = ${w.state},
        desired_state = ${w.desiredState === undefined ? sql`desired_state` : sql`${w.desiredState}`},
        error_message = ${w.errorMessage === undefined ? sql`error_message` : sql`${w.errorMessage}`},
        pending_changes = ${w.clearPending ? sql`'{}'::jsonb` : sql`pending_changes`},
        state_version = state_version + 1, updated_at = now()
      where ${sql.join(guards, sql` and `)}
      returning ${VM_COLUMNS}`,
  );
  return r ? toRecord(r) : undefined;
}

export interface VmEdit {
  name?: string;
  vcpus?: number;
  memoryMb?: number;
  diskGb?: number;
  isoId?: string | null;
  bootOrder?: BootDevice[];
  pendingChanges?: PendingChanges;
  errorMessage?: string | null;
}

export async function updateVm(db: Queryable, uuid: string, e: VmEdit): Promise<VmRecord | undefined> {
  const sets = [sql`updated_at = now()`];
  if (e.name !== undefined) sets.push(sql`name = ${e.name}`);
  if (e.vcpus !== undefined) sets.push(sql`vcpus = ${e.vcpus}`);
  if (e.memoryMb !== undefined) sets.push(sql`memory_mb = ${e.memoryMb}`);
  if (e.diskGb !== undefined) sets.push(sql`disk_gb = ${e.diskGb}`);
  if (e.isoId !== undefined) sets.push(sql`iso_id = ${e.isoId}`);
  if (e.bootOrder !== undefined) sets.push(sql`boot_order = ${JSON.stringify(e.bootOrder)}::jsonb`);
  if (e.pendingChanges !== undefined) sets.push(sql`pending_changes = ${JSON.stringify(e.pendingChanges)}::jsonb`);
  if (e.errorMessage !== undefined) sets.push(sql`error_message = ${e.errorMessage}`);
  const r = await queryOne<Row>(db, sql`update vms set ${sql.join(sets, sql`, `)} where uuid = ${uuid} returning ${VM_COLUMNS}`);
  return r ? toRecord(r) : undefined;
}

/** Marks a migration as started; undefined when the row is gone. */
export async function markMigrating(db: Queryable, uuid: string, target: string): Promise<VmRecord | undefined> {
  const r = await queryOne<Row>(db, sql`update vms set migrating_to = ${target}, error_message = null, updated_at = now() where uuid = ${uuid} returning ${VM_COLUMNS}`);
  return r ? toRecord(r) : undefined;
}

/**
 * Ends a migration: `host` moves to `movedTo` (the VM now lives there) or stays (null: rolled
 * back). Bumps state_version so no observation read before the move overwrites what follows it.
 */
export async function endMigration(db: Queryable, uuid: string, movedTo: string | null, errorMessage: string | null): Promise<VmRecord | undefined> {
  const host = movedTo === null ? sql`host` : sql`${movedTo}`;
  const r = await queryOne<Row>(
    db,
    sql`update vms set host = ${host}, migrating_to = null, error_message = ${errorMessage}, state_version = state_version + 1, updated_at = now()
      where uuid = ${uuid} returning ${VM_COLUMNS}`,
  );
  return r ? toRecord(r) : undefined;
}

export async function deleteVmRow(db: Queryable, uuid: string): Promise<boolean> {
  const r = await queryRows<{ uuid: string }>(db, sql`delete from vms where uuid = ${uuid} returning uuid`);
  return r.length > 0;
}

export async function nameTaken(db: Queryable, ownerId: string, name: string, exceptUuid?: string): Promise<boolean> {
  const r = await queryOne<{ n: number }>(
    db,
    sql`select count(*)::int as n from vms where owner_id = ${ownerId} and name = ${name} and uuid <> ${exceptUuid ?? '00000000-0000-0000-0000-000000000000'}`,
  );
  return (r?.n ?? 0) > 0;
}
