// Bulk actions on a group's VMs: each VM goes through the VM module's own service (state machine,
// policies such as the owner's running quota, audit, metrics) exactly as a single request would;
// nothing here touches libvirt or VM rows directly. One VM's refusal never stops the others: the
// answer lists the result of every VM.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app.js';
import { AppError } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import { recordQuotaDenial } from '../quotas/index.js';
import type { SnapshotsService } from '../snapshots/index.js';
import { VM_ACTIONS, type VmRecord } from '../vms/index.js';

export const BULK_ACTIONS = [...VM_ACTIONS, 'delete', 'snapshot'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

export interface BulkItem {
  vm_uuid: string;
  name: string;
  owner_id: string;
  result: 'accepted' | 'failed';
  /** the VM's state after the request was accepted (transitional for background work) */
  state?: string;
  snapshot_id?: string;
  error_code?: string;
  message?: string;
}

/** VMs handled at once: each is a short transaction plus background libvirt work. */
const CONCURRENCY = 4;

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function defaultSnapshotName(now: Date): string {
  return `group-${now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}`;
}

export async function runBulkAction(
  ctx: AppContext,
  snapshots: SnapshotsService,
  req: FastifyRequest,
  principal: Principal,
  group: { id: string; name: string },
  vms: VmRecord[],
  action: BulkAction,
  opts: { snapshotName?: string } = {},
): Promise<BulkItem[]> {
  const snapshotName = opts.snapshotName ?? defaultSnapshotName(ctx.now());
  const items = await mapLimited(vms, CONCURRENCY, async (vm): Promise<BulkItem> => {
    const base = { vm_uuid: vm.uuid, name: vm.name, owner_id: vm.ownerId };
    try {
      if (action === 'snapshot') {
        const snap = await snapshots.create(req, principal, vm.uuid, { name: snapshotName, description: `group ${group.name}` });
        return { ...base, result: 'accepted', state: vm.state, snapshot_id: snap.id };
      }
      const next = action === 'delete' ? await ctx.vmAccess.remove(req, principal, vm.uuid) : await ctx.vmAccess.action(req, principal, vm.uuid, action);
      return { ...base, result: 'accepted', state: next.state };
    } catch (e) {
      const err = e instanceof AppError ? e : new AppError('INTERNAL', 'Internal error');
      if (!(e instanceof AppError)) ctx.log.error({ err: e, vm: vm.uuid, action }, 'bulk group action failed');
      await recordQuotaDenial(ctx, req, err, { vm_uuid: vm.uuid, group_id: group.id });
      return { ...base, result: 'failed', error_code: err.code, message: err.message };
    }
  });
  const failed = items.filter((i) => i.result === 'failed').length;
  await audit(ctx.database.db, req, {
    action: `group.bulk.${action}`,
    targetType: 'group',
    targetId: group.id,
    result: failed === 0 ? 'success' : 'failure',
    details: { vms: items.length, accepted: items.length - failed, failed, ...(action === 'snapshot' ? { snapshot_name: snapshotName } : {}) },
  });
  return items;
}
