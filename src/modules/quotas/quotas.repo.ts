// Quota storage and usage, derived from the database (never from live libvirt reads), so a
// decision and the allocation it guards happen in one transaction.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';
import { CONTRACT_DEFAULTS, QUOTA_KEYS, zeroUsage, type QuotaLimits, type QuotaUsage } from './quota-rules.js';

// VM states that hold running resources (CPU time and guest memory on the host).
export const RUNNING_STATES = ['starting', 'running', 'paused', 'stopping'] as const;

/**
 * Serializes every allocation decision of one user, on PostgreSQL and PGlite alike. Held until
 * the surrounding transaction ends, so check-then-insert cannot interleave.
 */
export async function lockUserQuota(tx: Queryable, userId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(7231992, hashtext(${userId}))`);
}

function sanitizeLimits(v: unknown): Partial<QuotaLimits> {
  const out: Partial<QuotaLimits> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const k of QUOTA_KEYS) {
    if (!(k in v)) continue;
    const x = (v as Record<string, unknown>)[k];
    out[k] = typeof x === 'number' ? x : null;
  }
  return out;
}

export async function getDefaults(db: Queryable): Promise<QuotaLimits> {
  const r = await queryOne<{ value: unknown }>(db, sql`select value from settings where key = 'quota_defaults'`);
  return { ...CONTRACT_DEFAULTS, ...sanitizeLimits(r?.value) };
}

export async function setDefaults(db: Queryable, limits: QuotaLimits): Promise<void> {
  await db.execute(sql`insert into settings (key, value, updated_at) values ('quota_defaults', ${JSON.stringify(limits)}::jsonb, now())
    on conflict (key) do update set value = excluded.value, updated_at = now()`);
}

export async function getOverrides(db: Queryable, userId: string): Promise<Partial<QuotaLimits>> {
  const r = await queryOne<{ overrides: unknown }>(db, sql`select overrides from user_quotas where user_id = ${userId}`);
  return sanitizeLimits(r?.overrides);
}

export async function setOverrides(db: Queryable, userId: string, overrides: Partial<QuotaLimits>): Promise<void> {
  await db.execute(sql`insert into user_quotas (user_id, overrides, updated_at) values (${userId}, ${JSON.stringify(overrides)}::jsonb, now())
    on conflict (user_id) do update set overrides = excluded.overrides, updated_at = now()`);
}

let snapshotsTable: boolean | undefined;

async function hasSnapshotsTable(db: Queryable): Promise<boolean> {
  if (snapshotsTable) return true;
  const r = await queryOne<{ t: string | null }>(db, sql`select to_regclass('public.vm_snapshots')::text as t`);
  snapshotsTable = r?.t !== null && r?.t !== undefined;
  return snapshotsTable;
}

/** Allocation and running usage of one user, counting VMs in every state (creating included). */
export async function getUsage(db: Queryable, userId: string): Promise<QuotaUsage> {
  const running = sql.join(RUNNING_STATES.map((s) => sql`${s}`), sql`, `);
  const r = await queryOne<Record<string, number>>(db, sql`
    select count(*)::int as vms, coalesce(sum(vcpus), 0)::int as vcpus, coalesce(sum(memory_mb), 0)::int as memory_mb,
      coalesce(sum(disk_gb), 0)::int as disk_gb,
      (count(*) filter (where state in (${running})))::int as running_vms,
      coalesce(sum(vcpus) filter (where state in (${running})), 0)::int as running_vcpus,
      coalesce(sum(memory_mb) filter (where state in (${running})), 0)::int as running_memory_mb
    from vms where owner_id = ${userId}`);
  const usage = { ...zeroUsage(), ...r };
  // templates a user made hold disk too (their base image), charged when they were created
  const t = await queryOne<{ gb: number }>(db, sql`select coalesce(sum(quota_disk_gb), 0)::int as gb from vm_templates where owner_id = ${userId}`);
  usage.disk_gb += t?.gb ?? 0;
  if (await hasSnapshotsTable(db)) {
    const s = await queryOne<{ n: number }>(db, sql`select count(*)::int as n from vm_snapshots sn join vms v on v.uuid = sn.vm_uuid where v.owner_id = ${userId}`);
    usage.snapshots = s?.n ?? 0;
  }
  return usage;
}

/** Everything allocated on a host, for the overcommit guard. */
export async function getHostAllocation(db: Queryable, host: string): Promise<{ vcpus: number; memoryMb: number }> {
  // the host row lock serializes every allocation on this host (placement takes the same lock)
  await queryRows(db, sql`select name from hosts where name = ${host} for update`);
  const rows = await queryRows<{ vcpus: number; memory_mb: number }>(db, sql`select coalesce(sum(vcpus), 0)::int as vcpus,
    coalesce(sum(memory_mb), 0)::int as memory_mb from vms where host = ${host}`);
  return { vcpus: rows[0]?.vcpus ?? 0, memoryMb: rows[0]?.memory_mb ?? 0 };
}
