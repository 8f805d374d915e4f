// Quota arithmetic shared by the dashboard bars and the create dialog. Pure and import-free so the
// node tests (test/web/) can run it without a browser or a bundler.

export const QUOTA_KEYS = [
  'vms', 'vcpus', 'memory_mb', 'disk_gb', 'snapshots', 'running_vms', 'running_vcpus', 'running_memory_mb',
] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];

/** `null` means unlimited (CONTRACT.md §4: PUT takes `null` = unlimited). */
export type QuotaLimits = Record<QuotaKey, number | null>;
export type QuotaUsage = Record<QuotaKey, number>;
export interface Quota { limits: QuotaLimits; usage: QuotaUsage }

export const QUOTA_LABELS: Record<QuotaKey, string> = {
  vms: 'Virtual machines',
  vcpus: 'vCPUs',
  memory_mb: 'Memory',
  disk_gb: 'Disk',
  snapshots: 'Snapshots',
  running_vms: 'Running VMs',
  running_vcpus: 'Running vCPUs',
  running_memory_mb: 'Running memory',
};

/** How much of `key` is still free; `null` = unlimited. Never negative (a lowered limit can leave usage above it). */
export function remaining(q: Quota, key: QuotaKey): number | null {
  const limit = q.limits[key];
  if (limit === null) return null;
  return Math.max(0, limit - (q.usage[key] ?? 0));
}

/** Usage above the limit happens when an admin lowers a limit: running machines are never touched. */
export function isOverLimit(q: Quota, key: QuotaKey): boolean {
  const limit = q.limits[key];
  return limit !== null && (q.usage[key] ?? 0) > limit;
}

/** Fraction 0..1 for a bar; unlimited shows as empty, over-limit as full. */
export function usageFraction(q: Quota, key: QuotaKey): number {
  const limit = q.limits[key];
  const used = q.usage[key] ?? 0;
  if (limit === null) return 0;
  if (limit <= 0) return used > 0 ? 1 : 0;
  return Math.min(1, used / limit);
}

export interface VmSize { vcpus: number; memory_mb: number; disk_gb: number }

/** Resources a new VM of `size` would exceed, in the order the server reports them. */
export function exceededByCreate(q: Quota, size: VmSize): QuotaKey[] {
  const want: [QuotaKey, number][] = [['vms', 1], ['vcpus', size.vcpus], ['memory_mb', size.memory_mb], ['disk_gb', size.disk_gb]];
  return want.filter(([key, n]) => {
    const r = remaining(q, key);
    return r !== null && n > r;
  }).map(([key]) => key);
}

/** Resources that starting a stopped VM of `size` would exceed (running limits are checked at start). */
export function exceededByStart(q: Quota, size: Pick<VmSize, 'vcpus' | 'memory_mb'>): QuotaKey[] {
  const want: [QuotaKey, number][] = [['running_vms', 1], ['running_vcpus', size.vcpus], ['running_memory_mb', size.memory_mb]];
  return want.filter(([key, n]) => {
    const r = remaining(q, key);
    return r !== null && n > r;
  }).map(([key]) => key);
}

/** True when `value` of `key` fits what is left (unlimited always fits). */
export function fits(q: Quota, key: QuotaKey, value: number): boolean {
  const r = remaining(q, key);
  return r === null || value <= r;
}

/** Format a quantity of `key` for people: memory in MiB/GiB, disk in GB, the rest as counts. */
export function formatQuantity(key: QuotaKey, n: number): string {
  if (key === 'memory_mb' || key === 'running_memory_mb') return formatMemoryMb(n);
  if (key === 'disk_gb') return `${n} GB`;
  return String(n);
}

export function formatMemoryMb(mb: number): string {
  if (mb >= 1024 && mb % 1024 === 0) return `${mb / 1024} GiB`;
  if (mb >= 1024) return `${(mb / 1024).toFixed(1)} GiB`;
  return `${mb} MiB`;
}
