// Quota arithmetic (pure, the most tested code of the module). Limits of null mean unlimited.
// Usage may exceed a limit after an admin lowers it: that blocks new allocations only.

export const QUOTA_KEYS = ['vms', 'vcpus', 'memory_mb', 'disk_gb', 'snapshots', 'running_vms', 'running_vcpus', 'running_memory_mb'] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];
export type QuotaLimits = Record<QuotaKey, number | null>;
export type QuotaUsage = Record<QuotaKey, number>;
export type QuotaRequest = Partial<Record<QuotaKey, number>>;

export const CONTRACT_DEFAULTS: QuotaLimits = {
  vms: 5,
  vcpus: 8,
  memory_mb: 16384,
  disk_gb: 200,
  snapshots: 10,
  running_vms: 3,
  running_vcpus: 8,
  running_memory_mb: 16384,
};

/** The `resource` label of vm_quota_denied_total for each quota key (CONTRACT.md §6). */
export const METRIC_RESOURCE: Record<QuotaKey, string> = {
  vms: 'vms',
  vcpus: 'vcpus',
  memory_mb: 'memory',
  disk_gb: 'disk',
  snapshots: 'snapshots',
  running_vms: 'running_vms',
  running_vcpus: 'running_vcpus',
  running_memory_mb: 'running_memory',
};

export interface QuotaDenial {
  resource: QuotaKey;
  limit: number;
  used: number;
  requested: number;
}

/**
 * The first resource the request would push over its limit, or undefined when it fits.
 * Only resources the request increases are checked, so shrinking is always allowed.
 */
export function findDenial(limits: QuotaLimits, usage: QuotaUsage, request: QuotaRequest): QuotaDenial | undefined {
  for (const key of QUOTA_KEYS) {
    const requested = request[key];
    if (requested === undefined || requested <= 0) continue;
    const limit = limits[key];
    if (limit === null) continue;
    if (usage[key] + requested > limit) return { resource: key, limit, used: usage[key], requested };
  }
  return undefined;
}

/** Effective limits: per-user overrides (null = unlimited) over the instance defaults. */
export function effectiveLimits(defaults: QuotaLimits, overrides: Partial<QuotaLimits>): QuotaLimits {
  const out = { ...defaults };
  for (const key of QUOTA_KEYS) if (key in overrides) out[key] = overrides[key] ?? null;
  return out;
}

/** Resources whose usage is above the limit (after a limit was lowered). */
export function overLimit(limits: QuotaLimits, usage: QuotaUsage): QuotaKey[] {
  return QUOTA_KEYS.filter((k) => limits[k] !== null && usage[k] > limits[k]);
}

export const zeroUsage = (): QuotaUsage => ({ vms: 0, vcpus: 0, memory_mb: 0, disk_gb: 0, snapshots: 0, running_vms: 0, running_vcpus: 0, running_memory_mb: 0 });
