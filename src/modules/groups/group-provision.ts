// "Provision for group": one VM per active member from a template, in ONE request.
//
// The decision is all-or-nothing: ctx.vmAccess.createBatch runs, in one transaction, every
// member's quota (the quotas policy: each member's own advisory lock, taken in member-id order so
// two batches never deadlock) and the host capacity guard, inserts every row, and then our inTx
// hook takes the group's lock, checks the group quota for the SUM of the batch and writes the
// group_vms rows and the provision record. Any refusal rolls everything back: nothing is created.
//
// After the commit each VM is provisioned in the background by the VM module (clone → define →
// start); a VM whose libvirt work fails is rolled back by it (row, overlay, domain), and is listed
// here as failed with the reason. Progress goes to admins over /ws/events
// (`group.provision.progress`) and is readable at GET /api/admin/group-provisions/{id}.
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app.js';
import { AppError, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import type { QuotaKey, QuotasService } from '../quotas/index.js';
import { MAX_BATCH, type CreateVmInput } from '../vms/index.js';
import * as repo from './groups.repo.js';
import * as prov from './provisions.repo.js';
import { enforceGroupQuota } from './groups.service.js';

export interface ProvisionInput {
  template: string;
  name_prefix?: string;
  clone_mode?: 'linked' | 'full';
  start?: boolean;
  vcpus?: number;
  memory_mb?: number;
  disk_gb?: number;
}

/** How often a running provision is checked, and for how long at most (then the reconciler's outcome is read on GET). */
const TRACK_EVERY_MS = 500;
const TRACK_FOR_MS = 30 * 60_000;

/** The VM name of a member: "<prefix>-<username>" (usernames are [a-z0-9_.-], so the name is safe). */
export function memberVmName(prefix: string, username: string): string {
  return `${prefix}-${username}`.slice(0, 64);
}

function defaultPrefix(groupName: string): string {
  const slug = groupName.normalize('NFKD').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 24);
  return slug || 'group';
}

export function createGroupProvisioner(ctx: AppContext, quotas: QuotasService) {
  const db = ctx.database.db;
  const tracking = new Set<string>();

  /** Settles the items whose VM finished (or was rolled back); returns the record after that. */
  async function refresh(id: string): Promise<prov.ProvisionRecord | undefined> {
    const p = await prov.findProvision(db, id);
    if (!p || p.state !== 'running') return p;
    let changed = false;
    for (const item of p.items) {
      if (item.state !== 'pending' || !item.vmUuid) continue;
      const o = await prov.creationOutcome(db, item.vmUuid);
      if (o.state === 'creating') continue;
      const failed = o.state === null || o.state === 'error';
      await prov.settleItem(db, id, item.userId, failed ? 'failed' : 'succeeded', failed ? (o.rollbackError ?? o.errorMessage ?? 'failed') : null);
      changed = true;
    }
    let next = changed ? (await prov.findProvision(db, id))! : p;
    if (next.items.every((i) => i.state !== 'pending')) {
      const failed = next.items.filter((i) => i.state === 'failed').length;
      const state: prov.ProvisionState = failed === 0 ? 'succeeded' : failed === next.items.length ? 'failed' : 'partial';
      // the progress tracker and a GET may settle the same provision at once: one of them finishes it
      if (!(await prov.finishProvision(db, id, state))) return prov.findProvision(db, id);
      await audit(db, undefined, {
        action: 'group.provision',
        actor: null,
        targetType: 'group',
        targetId: next.groupId,
        result: failed === 0 ? 'success' : 'failure',
        details: { phase: 'finished', provision_id: id, state, failed: next.items.filter((i) => i.state === 'failed').map((i) => ({ user_id: i.userId, error: i.error })) },
      });
      next = (await prov.findProvision(db, id))!;
      changed = true;
    }
    if (changed) ctx.events.publishAdmin('group.provision.progress', { provision: toProvisionDto(next) });
    return next;
  }

  function track(id: string): void {
    if (tracking.has(id)) return;
    tracking.add(id);
    const until = Date.now() + TRACK_FOR_MS;
    const step = async (): Promise<void> => {
      try {
        const p = await refresh(id);
        if (!p || p.state !== 'running' || Date.now() > until || ctx.shutdown.aborted) {
          tracking.delete(id);
          return;
        }
      } catch (err) {
        ctx.log.warn({ err, provision: id }, 'group provision progress check failed');
      }
      setTimeout(() => void step(), TRACK_EVERY_MS).unref();
    };
    void step();
  }

  /**
   * A member's quota refused the batch: the error names the resource but not the member. Name
   * the members that were over (read after the rollback, for the message only; the decision was
   * the transaction's).
   */
  async function explainRefusal(e: unknown, members: repo.MemberRecord[], sizes: { vcpus?: number; memory_mb?: number; disk_gb?: number }): Promise<unknown> {
    if (!(e instanceof AppError) || e.code !== 'QUOTA_EXCEEDED' || e.details?.scope === 'group') return e;
    const resource = e.details?.resource as QuotaKey | undefined;
    const over: { user_id: string; username: string }[] = [];
    for (const m of members) {
      const q = await quotas.view(m.userId);
      const need: Partial<Record<QuotaKey, number>> = { vms: 1, vcpus: sizes.vcpus ?? 1, memory_mb: sizes.memory_mb ?? 1, disk_gb: sizes.disk_gb ?? 1 };
      const key = resource && resource in need ? resource : undefined;
      const limit = key ? q.limits[key] : null;
      if (key && limit !== null && q.usage[key] + (need[key] ?? 0) > limit) over.push({ user_id: m.userId, username: m.username });
    }
    const who = over.length > 0 ? ` (over their own quota: ${over.slice(0, 5).map((o) => o.username).join(', ')}${over.length > 5 ? ', …' : ''})` : '';
    return new AppError('QUOTA_EXCEEDED', `${e.message}${who}; nothing was created`, { ...e.details, scope: 'member', members: over });
  }

  return {
    refresh,

    async provision(req: FastifyRequest, principal: Principal, groupId: string, input: ProvisionInput): Promise<prov.ProvisionRecord> {
      const group = await repo.findGroup(db, groupId);
      if (!group) throw new AppError('NOT_FOUND', 'Group not found');
      // one global lock order: members' quota locks by id, then the group's
      const members = (await repo.listMembers(db, groupId)).filter((m) => m.status === 'active').sort((a, b) => (a.userId < b.userId ? -1 : 1));
      if (members.length === 0) throw validationFailed('group', 'The group has no active members');
      if (members.length > MAX_BATCH) throw validationFailed('group', `At most ${MAX_BATCH} members per provision`);
      const prefix = (input.name_prefix ?? defaultPrefix(group.name)).trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(prefix)) throw validationFailed('name_prefix', 'name_prefix: 1-32 of letters, digits, ".", "_", "-", starting with a letter or digit');
      const items: CreateVmInput[] = members.map((m) => ({
        name: memberVmName(prefix, m.username),
        owner_id: m.userId,
        template: input.template,
        ...(input.clone_mode ? { clone_mode: input.clone_mode } : {}),
        ...(input.vcpus !== undefined ? { vcpus: input.vcpus } : {}),
        ...(input.memory_mb !== undefined ? { memory_mb: input.memory_mb } : {}),
        ...(input.disk_gb !== undefined ? { disk_gb: input.disk_gb } : {}),
        start: input.start ?? false,
      }));
      const id = randomUUID();
      const sizes = { vcpus: input.vcpus, memory_mb: input.memory_mb, disk_gb: input.disk_gb };
      await ctx.vmAccess.createBatch(req, principal, items, {
        inTx: async (tx, rows) => {
          const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((n, r) => n + f(r), 0);
          await enforceGroupQuota(tx, group, { vms: rows.length, vcpus: sum((r) => r.vcpus), memory_mb: sum((r) => r.memoryMb), disk_gb: sum((r) => r.diskGb) });
          for (const r of rows) await repo.addGroupVm(tx, groupId, r.uuid);
          const byOwner = new Map(members.map((m) => [m.userId, m.username]));
          await prov.insertProvision(tx, {
            id,
            groupId,
            templateId: input.template,
            namePrefix: prefix,
            requestedBy: principal.id,
            items: rows.map((r) => ({ userId: r.ownerId, username: byOwner.get(r.ownerId) ?? '', vmUuid: r.uuid, vmName: r.name })),
          });
          await audit(tx, req, { action: 'group.provision', targetType: 'group', targetId: groupId, result: 'success', details: { phase: 'accepted', provision_id: id, template: input.template, vms: rows.length } });
        },
      }).catch(async (e: unknown) => {
        throw await explainRefusal(e, members, sizes);
      });
      const p = (await prov.findProvision(db, id))!;
      ctx.events.publishAdmin('group.provision.progress', { provision: toProvisionDto(p) });
      track(id);
      return p;
    },
  };
}

export type GroupProvisioner = ReturnType<typeof createGroupProvisioner>;

export const toProvisionDto = (p: prov.ProvisionRecord) => {
  const count = (s: prov.ItemState) => p.items.filter((i) => i.state === s).length;
  return {
    id: p.id,
    group_id: p.groupId,
    template_id: p.templateId,
    name_prefix: p.namePrefix,
    state: p.state,
    total: p.total,
    succeeded: count('succeeded'),
    failed: count('failed'),
    pending: count('pending'),
    created_at: p.createdAt.toISOString(),
    finished_at: p.finishedAt?.toISOString() ?? null,
    items: p.items.map((i) => ({ user_id: i.userId, username: i.username, vm_uuid: i.vmUuid, vm_name: i.vmName, state: i.state, error: i.error })),
  };
};
