// Who may see, use and change a template (pure).
import type { Principal } from '../../platform/http/principal.js';
import type { TemplateRecord, TemplateVisibility } from './templates.repo.js';

/** Visible (and usable for clones): admins all; others their own, everyone's, their groups'. */
export function canSee(p: Principal, t: Pick<TemplateRecord, 'ownerId' | 'visibility' | 'groupId'>, groupIds: readonly string[]): boolean {
  if (p.role === 'admin' || t.ownerId === p.id || t.visibility === 'everyone') return true;
  return t.visibility === 'group' && t.groupId !== null && groupIds.includes(t.groupId);
}

/** Changing or deleting: its owner or an admin. */
export function canManage(p: Principal, t: Pick<TemplateRecord, 'ownerId'>): boolean {
  return p.role === 'admin' || t.ownerId === p.id;
}

/**
 * Which visibility a principal may give: admins any; a user keeps a template private or shares it
 * with a group they belong to (publishing to everyone is an admin's decision).
 */
export function visibilityProblem(p: Principal, visibility: TemplateVisibility, groupId: string | null, groupIds: readonly string[]): string | null {
  if (visibility === 'group' && !groupId) return 'visibility "group" needs group_id';
  if (visibility !== 'group' && groupId) return 'group_id is only for visibility "group"';
  if (p.role === 'admin') return null;
  if (visibility === 'everyone') return 'only an admin can share a template with everyone';
  if (visibility === 'group' && !groupIds.includes(groupId!)) return 'you can only share with a group you belong to';
  return null;
}

export const TEMPLATE_NAME_MAX = 64;
export const TEMPLATE_DESCRIPTION_MAX = 2000;

export const GIB = 1024 ** 3;
export const gbCeil = (bytes: number): number => Math.max(1, Math.ceil(bytes / GIB));
