// Admin-only messages on /ws/events (the server's `publishAdmin`): received alerts, backup
// progress and group provisioning progress. Pure and import-free (tested in test/web/ui-logic.test.ts).

export interface AlertLike { fingerprint: string; starts_at: string; status: string; updated_at: string; received_at: string }
export interface BackupLike { id: string; status: string; progress?: unknown }

export type AdminEvent =
  | { type: 'alert.firing' | 'alert.resolved'; alert?: AlertLike; truncated?: boolean }
  | { type: 'backup.progress' | 'backup.completed' | 'backup.failed'; backup: { id: string; step?: string; bytes?: number; [k: string]: unknown } }
  | { type: 'group.provision.progress'; provision: { id: string; group_id: string; [k: string]: unknown } };

const ADMIN_TYPES = new Set(['alert.firing', 'alert.resolved', 'backup.progress', 'backup.completed', 'backup.failed', 'group.provision.progress']);

/** An admin event from one websocket message, or null (VM events and anything unknown). */
export function parseAdminEvent(data: unknown): AdminEvent | null {
  let msg: unknown;
  try {
    msg = JSON.parse(String(data));
  } catch {
    return null;
  }
  if (!msg || typeof msg !== 'object') return null;
  const m = msg as { type?: unknown; alert?: { fingerprint?: unknown }; backup?: { id?: unknown }; provision?: { id?: unknown; group_id?: unknown; items?: unknown }; truncated?: unknown };
  if (typeof m.type !== 'string' || !ADMIN_TYPES.has(m.type)) return null;
  if (m.type === 'group.provision.progress') return typeof m.provision?.id === 'string' && typeof m.provision.group_id === 'string' && Array.isArray(m.provision.items) ? (msg as AdminEvent) : null;
  if (m.type.startsWith('alert.')) return m.truncated === true || typeof m.alert?.fingerprint === 'string' ? (msg as AdminEvent) : null;
  return typeof m.backup?.id === 'string' ? (msg as AdminEvent) : null;
}

const alertKey = (a: AlertLike): string => `${a.fingerprint}\u0000${Date.parse(a.starts_at)}`;

/** Firing first, then newest received (the order of the alerts page). */
export function sortAlerts<A extends AlertLike>(list: readonly A[]): A[] {
  return [...list].sort((a, b) => (a.status === b.status ? b.received_at.localeCompare(a.received_at) : a.status === 'firing' ? -1 : 1));
}

/**
 * Merge one pushed alert into the page's list: a new occurrence is added, a known one replaced
 * unless the copy we hold is newer (a refetch that raced the event must not bring "firing" back).
 */
export function applyAlertEvent<A extends AlertLike>(list: readonly A[], alert: A): A[] {
  const key = alertKey(alert);
  const i = list.findIndex((a) => alertKey(a) === key);
  if (i < 0) return sortAlerts([...list, alert]);
  const current = list[i]!;
  if (Date.parse(current.updated_at) > Date.parse(alert.updated_at)) return list as A[];
  const next = list.slice();
  next[i] = alert;
  return sortAlerts(next);
}

/** Fold a `backup.progress` into the list the backups page shows (completion and failure refetch). */
export function applyBackupProgress<B extends BackupLike>(list: readonly B[], ev: { id: string; step?: string; bytes?: number }): B[] {
  const i = list.findIndex((b) => b.id === ev.id);
  if (i < 0 || list[i]!.status !== 'running') return list as B[];
  const next = list.slice();
  next[i] = { ...list[i]!, progress: { step: ev.step, bytes: ev.bytes } };
  return next;
}
