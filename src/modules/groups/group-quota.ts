// Group quota arithmetic (pure). A group quota caps the SUM of the resources of the VMs provisioned
// for the group; null or absent = unlimited. Members' own quotas apply on top (quotas module).

export const GROUP_QUOTA_KEYS = ['vms', 'vcpus', 'memory_mb', 'disk_gb'] as const;
export type GroupQuotaKey = (typeof GROUP_QUOTA_KEYS)[number];
export type GroupLimits = Record<GroupQuotaKey, number | null>;
export type GroupUsage = Record<GroupQuotaKey, number>;

export interface GroupDenial {
  resource: GroupQuotaKey;
  limit: number;
  used: number;
  requested: number;
}

export function sanitizeGroupLimits(v: unknown): GroupLimits {
  const out: GroupLimits = { vms: null, vcpus: null, memory_mb: null, disk_gb: null };
  if (typeof v !== 'object' || v === null) return out;
  for (const k of GROUP_QUOTA_KEYS) {
    const x = (v as Record<string, unknown>)[k];
    out[k] = typeof x === 'number' ? x : null;
  }
  return out;
}

/** Limits after applying a patch (keys absent from the patch keep their value; null = unlimited). */
export function patchGroupLimits(current: GroupLimits, patch: Partial<GroupLimits>): GroupLimits {
  const next = { ...current };
  for (const k of GROUP_QUOTA_KEYS) if (k in patch) next[k] = patch[k] ?? null;
  return next;
}

/** The first resource the request (the sum of a whole batch) would push over the group's limit. */
export function findGroupDenial(limits: GroupLimits, usage: GroupUsage, request: Partial<GroupUsage>): GroupDenial | undefined {
  for (const key of GROUP_QUOTA_KEYS) {
    const requested = request[key] ?? 0;
    const limit = limits[key];
    if (requested <= 0 || limit === null) continue;
    if (usage[key] + requested > limit) return { resource: key, limit, used: usage[key], requested };
  }
  return undefined;
}
