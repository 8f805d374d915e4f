// hosts rows: SQL only.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';

export type HostState = 'active' | 'draining';

export interface HostRecord {
  name: string;
  uri: string;
  state: HostState;
  cpus: number | null;
  memoryMb: number | null;
  diskGb: number | null;
  cpuOvercommit: number | null;
  memoryOvercommit: number | null;
  reachable: boolean;
  lastSeenAt: Date | null;
  createdAt: Date;
}

/** A host with what is allocated on it (every VM row counts, whatever its state). */
export interface HostLoadRecord extends HostRecord {
  vmCount: number;
  usedVcpus: number;
  usedMemoryMb: number;
  usedDiskGb: number;
}

interface Row {
  name: string;
  uri: string;
  state: HostState;
  cpus: number | null;
  memory_mb: number | null;
  disk_gb: number | null;
  cpu_overcommit: number | null;
  memory_overcommit: number | null;
  reachable: boolean;
  last_seen_at: Date | string | null;
  created_at: Date | string;
  vm_count?: number;
  used_vcpus?: number;
  used_memory_mb?: number;
  used_disk_gb?: number;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toRecord(r: Row): HostRecord {
  return {
    name: r.name,
    uri: r.uri,
    state: r.state,
    cpus: num(r.cpus),
    memoryMb: num(r.memory_mb),
    diskGb: num(r.disk_gb),
    cpuOvercommit: num(r.cpu_overcommit),
    memoryOvercommit: num(r.memory_overcommit),
    reachable: r.reachable,
    lastSeenAt: r.last_seen_at === null ? null : new Date(r.last_seen_at),
    createdAt: new Date(r.created_at),
  };
}

const toLoad = (r: Row): HostLoadRecord => ({
  ...toRecord(r),
  vmCount: r.vm_count ?? 0,
  usedVcpus: r.used_vcpus ?? 0,
  usedMemoryMb: r.used_memory_mb ?? 0,
  usedDiskGb: r.used_disk_gb ?? 0,
});

export async function listHosts(db: Queryable): Promise<HostRecord[]> {
  return (await queryRows<Row>(db, sql`select * from hosts order by created_at, name`)).map(toRecord);
}

export async function findHost(db: Queryable, name: string): Promise<HostRecord | undefined> {
  const r = await queryOne<Row>(db, sql`select * from hosts where name = ${name}`);
  return r && toRecord(r);
}

/**
 * Every host with its allocation. `lock` takes the host rows `for update` first: placement runs
 * inside the create transaction, so two concurrent creates cannot both fill the last room.
 */
export async function listHostLoads(db: Queryable, opts: { lock?: boolean } = {}): Promise<HostLoadRecord[]> {
  if (opts.lock) await queryRows(db, sql`select name from hosts order by name for update`);
  const rows = await queryRows<Row>(
    db,
    sql`select h.*, coalesce(a.n, 0)::int as vm_count, coalesce(a.vcpus, 0)::int as used_vcpus,
          coalesce(a.memory_mb, 0)::int as used_memory_mb, coalesce(a.disk_gb, 0)::int as used_disk_gb
        from hosts h
        left join (select host, count(*) as n, sum(vcpus) as vcpus, sum(memory_mb) as memory_mb, sum(disk_gb) as disk_gb
                   from vms group by host) a on a.host = h.name
        order by h.created_at, h.name`,
  );
  return rows.map(toLoad);
}

export async function insertHost(db: Queryable, h: { name: string; uri: string; cpuOvercommit: number | null; memoryOvercommit: number | null }): Promise<HostRecord> {
  const r = await queryOne<Row>(
    db,
    sql`insert into hosts (name, uri, cpu_overcommit, memory_overcommit) values (${h.name}, ${h.uri}, ${h.cpuOvercommit}, ${h.memoryOvercommit}) returning *`,
  );
  return toRecord(r!);
}

/** The default host's URI follows LIBVIRT_URI (the driver this instance was started with). */
export async function seedDefaultHost(db: Queryable, uri: string): Promise<void> {
  await queryRows(db, sql`insert into hosts (name, uri) values ('default', ${uri})
    on conflict (name) do update set uri = excluded.uri, updated_at = now() where hosts.uri <> excluded.uri`);
}

export async function setHostState(db: Queryable, name: string, state: HostState): Promise<HostRecord | undefined> {
  const r = await queryOne<Row>(db, sql`update hosts set state = ${state}, updated_at = now() where name = ${name} returning *`);
  return r && toRecord(r);
}

export async function recordCapacity(db: Queryable, name: string, c: { cpus: number; memoryMb: number; diskGb: number | null }): Promise<void> {
  await queryRows(db, sql`update hosts set cpus = ${c.cpus}, memory_mb = ${c.memoryMb}, disk_gb = ${c.diskGb}, last_seen_at = now()
    where name = ${name}`);
}

/** Records the watchdog's verdict; true when it changed (then clients get a fresh snapshot). */
export async function recordReachable(db: Queryable, name: string, reachable: boolean): Promise<boolean> {
  const r = await queryRows<{ name: string }>(
    db,
    sql`update hosts set reachable = ${reachable}, updated_at = now(), last_seen_at = case when ${reachable} then now() else last_seen_at end
      where name = ${name} and reachable <> ${reachable} returning name`,
  );
  return r.length > 0;
}

export async function countVmsOnHost(db: Queryable, name: string): Promise<number> {
  const r = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from vms where host = ${name}`);
  return r?.n ?? 0;
}

export async function deleteHost(db: Queryable, name: string): Promise<boolean> {
  return (await queryRows(db, sql`delete from hosts where name = ${name} returning name`)).length > 0;
}
