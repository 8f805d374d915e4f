// "Provision for group" on the group page: which templates it offers, the sizes it starts from,
// the VM names it will create, how pushed progress merges with what the page holds, and how a
// quota refusal (the whole batch refused, nothing created) is explained. Pure and import-free
// (tested in test/web/ui-logic.test.ts).

export interface TemplateLike {
  id: string;
  name: string;
  state: string;
  visibility: 'private' | 'everyone' | 'group';
  group_id: string | null;
  min_vcpus: number;
  min_memory_mb: number;
  min_disk_gb: number;
}

export interface ProvisionItemLike {
  user_id: string;
  username: string;
  vm_uuid: string | null;
  vm_name: string;
  state: 'pending' | 'succeeded' | 'failed';
  error: string | null;
}

export interface ProvisionLike {
  id: string;
  group_id: string;
  state: 'running' | 'succeeded' | 'partial' | 'failed';
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
  items: ProvisionItemLike[];
}

/**
 * Templates the group's members can see and that can be cloned now: shared with everyone or with
 * this group, and ready. (An admin may see private templates too; a VM a member cannot see the
 * template of would surprise them, so those are not offered.)
 */
export function templatesForGroup<T extends TemplateLike>(templates: readonly T[], groupId: string): T[] {
  return templates
    .filter((t) => t.state === 'ready' && (t.visibility === 'everyone' || (t.visibility === 'group' && t.group_id === groupId)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface ProvisionSizes {
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
}

/** The form's starting sizes: the template's minimums (the server refuses anything smaller). */
export function sizesFromTemplate(t: TemplateLike): ProvisionSizes {
  return { vcpus: t.min_vcpus, memory_mb: t.min_memory_mb, disk_gb: t.min_disk_gb };
}

/** Sizes below the template's minimums, by key (empty when the form may be sent). */
export function sizesBelowMinimum(t: TemplateLike, s: ProvisionSizes): (keyof ProvisionSizes)[] {
  const min = sizesFromTemplate(t);
  return (Object.keys(min) as (keyof ProvisionSizes)[]).filter((k) => !(s[k] >= min[k]));
}

/** The server's default prefix for a group (its name as a slug), so the form shows what will happen. */
export function defaultNamePrefix(groupName: string): string {
  const slug = groupName.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 24);
  return slug || 'group';
}

/** The prefix rule of the provision API: 1–32 of letters, digits, ".", "_", "-", starting with a letter or digit. */
export const isValidNamePrefix = (prefix: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(prefix);

/** Each member's VM name, "<prefix>-<username>" (as the server names them). */
export const memberVmName = (prefix: string, username: string): string => `${prefix}-${username}`.slice(0, 64);

const settled = (p: ProvisionLike): number => (p.state === 'running' ? p.succeeded + p.failed : p.total + 1);

/**
 * Merge a pushed or fetched provision into the one the panel shows. Another provision's update
 * is ignored; progress only moves forward (an older copy arriving late — a refetch racing an
 * event — never brings back "pending" rows).
 */
export function applyProvisionUpdate<P extends ProvisionLike>(current: P | null, incoming: P): P | null {
  if (current === null) return incoming;
  if (current.id !== incoming.id) return current;
  return settled(incoming) >= settled(current) ? incoming : current;
}

/** One line for the progress bar and the summary. */
export function provisionSummary(p: ProvisionLike): string {
  const done = p.succeeded + p.failed;
  switch (p.state) {
    case 'running':
      return `${done} of ${p.total} machines done${p.failed ? `, ${p.failed} failed` : ''}…`;
    case 'succeeded':
      return `All ${p.total} machines created.`;
    case 'partial':
      return `${p.succeeded} of ${p.total} machines created; ${p.failed} failed (listed below).`;
    default:
      return `No machine was created: all ${p.total} failed (listed below).`;
  }
}

export interface ErrorLike {
  errorCode?: string;
  message?: string;
  details?: Record<string, unknown>;
}

export interface QuotaRefusal {
  /** whose quota refused: the group's sum, or one or more members' own */
  scope: 'group' | 'member';
  resource: string;
  limit: number | null;
  used: number;
  requested: number;
  /** the members over their own quota, when the server could name them */
  members: string[];
  message: string;
}

/** A QUOTA_EXCEEDED answer to a provision, or null for any other error (shown as a plain error). */
export function quotaRefusal(e: unknown): QuotaRefusal | null {
  const err = e as ErrorLike | null;
  if (!err || typeof err !== 'object' || err.errorCode !== 'QUOTA_EXCEEDED') return null;
  const d = err.details ?? {};
  const members = Array.isArray(d['members']) ? (d['members'] as { username?: unknown }[]).map((m) => String(m.username ?? '')).filter(Boolean) : [];
  return {
    scope: d['scope'] === 'group' ? 'group' : 'member',
    resource: String(d['resource'] ?? ''),
    limit: typeof d['limit'] === 'number' ? d['limit'] : null,
    used: Number(d['used'] ?? 0),
    requested: Number(d['requested'] ?? 0),
    members,
    message: String(err.message ?? 'Quota exceeded'),
  };
}
