// Group (class) administration: CRUD, members, the group quota, and the group's VMs. Every admin
// action is audited in the same transaction as the change. Members may read the groups they are
// in (never another group: 404).
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app.js';
import { inTransaction, isUniqueViolation, type Queryable } from '../../platform/db/query.js';
import { AppError, conflict, notFound, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import type { VmRecord } from '../vms/index.js';
import { findGroupDenial, patchGroupLimits, sanitizeGroupLimits, type GroupLimits, type GroupUsage } from './group-quota.js';
import * as repo from './groups.repo.js';

export interface GroupInput {
  name: string;
  description?: string;
  quota?: Partial<GroupLimits>;
  members?: string[];
}

const MAX_MEMBERS_PER_CALL = 500;

function normalizeGroupName(raw: string): string {
  const name = raw.normalize('NFC').trim();
  // eslint-disable-next-line no-control-regex
  if (name.length < 1 || name.length > 64 || /[\u0000-\u001f\u007f]/.test(name)) throw validationFailed('name', 'Group name must be 1-64 characters without control characters');
  return name;
}

/**
 * Inside an allocation transaction: takes the group's quota lock and refuses when `request` (the
 * sum of a whole batch, or a resize delta) would exceed the group quota. Call AFTER the members'
 * quota locks (users first, then the group: one global lock order, no deadlock).
 */
export async function enforceGroupQuota(tx: Queryable, group: { id: string; quota?: GroupLimits }, request: Partial<GroupUsage>): Promise<void> {
  await repo.lockGroupQuota(tx, group.id);
  const limits = group.quota ?? (await repo.findGroup(tx, group.id))?.quota;
  if (!limits) throw notFound('Group');
  const denial = findGroupDenial(limits, await repo.groupUsage(tx, group.id), request);
  if (denial) {
    throw new AppError('QUOTA_EXCEEDED', `Group quota exceeded for ${denial.resource}: limit ${denial.limit}, in use ${denial.used}, requested ${denial.requested}`, {
      ...denial,
      scope: 'group',
      group_id: group.id,
    });
  }
}

export function createGroupsService(ctx: AppContext) {
  const db = ctx.database.db;

  async function load(q: Queryable, id: string): Promise<repo.GroupRecord> {
    const g = await repo.findGroup(q, id);
    if (!g) throw notFound('Group');
    return g;
  }

  async function checkUsers(q: Queryable, ids: string[]): Promise<void> {
    if (ids.length > MAX_MEMBERS_PER_CALL) throw validationFailed('user_ids', `At most ${MAX_MEMBERS_PER_CALL} users per call`);
    const known = await repo.existingUsers(q, ids);
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0) throw new AppError('VALIDATION_FAILED', `Unknown user id(s): ${unknown.slice(0, 5).join(', ')}`, { field: 'user_ids', unknown });
  }

  const uniqueName = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      if (isUniqueViolation(e)) throw conflict('A group with this name already exists', { field: 'name' });
      throw e;
    });

  return {
    load: (id: string) => load(db, id),
    list: () => repo.listGroups(db),
    usage: (id: string) => repo.groupUsage(db, id),
    members: async (id: string) => {
      await load(db, id);
      return repo.listMembers(db, id);
    },

    /** The groups a user belongs to (GET /api/me/groups). */
    listFor: (principal: Principal) => repo.listGroups(db, { memberId: principal.id }),

    /** One group as a member sees it: not a member = 404 (admins see every group). */
    async loadFor(principal: Principal, id: string): Promise<repo.GroupRecord> {
      const g = await repo.findGroup(db, id);
      if (!g || (principal.role !== 'admin' && !(await repo.isMember(db, id, principal.id)))) throw notFound('Group');
      return g;
    },

    create: (req: FastifyRequest, principal: Principal, input: GroupInput) =>
      uniqueName(
        inTransaction(db, async (tx) => {
          const name = normalizeGroupName(input.name);
          const members = [...new Set(input.members ?? [])];
          await checkUsers(tx, members);
          const quota = patchGroupLimits(sanitizeGroupLimits({}), input.quota ?? {});
          const id = await repo.insertGroup(tx, { name, description: input.description ?? '', quota, createdBy: principal.id });
          await repo.addMembers(tx, id, members);
          await audit(tx, req, { action: 'group.create', targetType: 'group', targetId: id, result: 'success', details: { name, quota, members } });
          return load(tx, id);
        }),
      ),

    update: (req: FastifyRequest, id: string, patch: { name?: string; description?: string }) =>
      uniqueName(
        inTransaction(db, async (tx) => {
          await load(tx, id);
          const name = patch.name === undefined ? undefined : normalizeGroupName(patch.name);
          await repo.updateGroup(tx, id, { name, description: patch.description });
          await audit(tx, req, { action: 'group.update', targetType: 'group', targetId: id, result: 'success', details: { ...patch } });
          return load(tx, id);
        }),
      ),

    /** Deletes the group; its VMs stay with their owners (and keep counting on their own quotas). */
    remove: (req: FastifyRequest, id: string) =>
      inTransaction(db, async (tx) => {
        const g = await load(tx, id);
        await repo.deleteGroup(tx, id);
        await audit(tx, req, { action: 'group.delete', targetType: 'group', targetId: id, result: 'success', details: { name: g.name, members: g.memberCount, vms: g.vmCount } });
      }),

    addMembers: (req: FastifyRequest, id: string, userIds: string[]) =>
      inTransaction(db, async (tx) => {
        await load(tx, id);
        const ids = [...new Set(userIds)];
        await checkUsers(tx, ids);
        const added = await repo.addMembers(tx, id, ids);
        await audit(tx, req, { action: 'group.members.add', targetType: 'group', targetId: id, result: 'success', details: { added, already: ids.filter((u) => !added.includes(u)) } });
        return repo.listMembers(tx, id);
      }),

    /** Removes a member; VMs provisioned for them stay in the group (and on its quota) until deleted. */
    removeMember: (req: FastifyRequest, id: string, userId: string) =>
      inTransaction(db, async (tx) => {
        await load(tx, id);
        if (!(await repo.removeMember(tx, id, userId))) throw notFound('Member');
        await audit(tx, req, { action: 'group.members.remove', targetType: 'group', targetId: id, result: 'success', details: { user_id: userId } });
      }),

    /** Sets some of the group's limits (null = unlimited); lowering below usage only blocks new VMs. */
    setQuota: (req: FastifyRequest, id: string, patch: Partial<GroupLimits>) =>
      inTransaction(db, async (tx) => {
        const g = await load(tx, id);
        await repo.lockGroupQuota(tx, id);
        const quota = patchGroupLimits(g.quota, patch);
        await repo.updateGroup(tx, id, { quota });
        await audit(tx, req, { action: 'group.quota.set', targetType: 'group', targetId: id, result: 'success', details: { patch } });
        return load(tx, id);
      }),

    /** The group's VMs (admin view), oldest first. */
    async vms(id: string, principal: Principal): Promise<VmRecord[]> {
      await load(db, id);
      const out: VmRecord[] = [];
      for (const uuid of await repo.groupVmUuids(db, id)) {
        const vm = await ctx.vmAccess.loadVmFor(principal, uuid).catch(() => undefined);
        if (vm) out.push(vm);
      }
      return out;
    },
  };
}

export type GroupsService = ReturnType<typeof createGroupsService>;
