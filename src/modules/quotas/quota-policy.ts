// Quotas and the host capacity guard as a VM policy: the VM module runs these hooks inside the
// transaction that records the allocation, so the check and the write cannot interleave.
import type { AppContext } from '../../app.js';
import type { Tx } from '../../platform/db/db.js';
import { authRepo } from '../auth/index.js';
import type { CreateCheck, ResizeCheck, StartCheck, VmPolicy } from '../vms/index.js';
import type { HostCapacity, QuotasService } from './quotas.service.js';
import { RUNNING_STATES } from './quotas.repo.js';

export interface QuotaPolicyDeps {
  quotas: QuotasService;
  /** Capacity of a host (cached by the caller); undefined = unknown, guard skipped. */
  hostCapacity(host: string, tx: Tx): Promise<HostCapacity | undefined>;
}

async function ownerOf(tx: Tx, actor: CreateCheck['actor'], ownerId: string): Promise<{ id: string; role: 'user' | 'admin' }> {
  if (actor.id === ownerId) return { id: actor.id, role: actor.role };
  const u = await authRepo.findUserById(tx, ownerId);
  return { id: ownerId, role: u?.role ?? 'user' };
}

export function createQuotaPolicy(_ctx: AppContext, deps: QuotaPolicyDeps): VmPolicy {
  return {
    name: 'quotas',

    async beforeCreate(tx: Tx, c: CreateCheck) {
      await deps.quotas.enforce(tx, await ownerOf(tx, c.actor, c.ownerId), { vms: 1, vcpus: c.vcpus, memory_mb: c.memoryMb, disk_gb: c.diskGb });
      const capacity = await deps.hostCapacity(c.host, tx);
      if (capacity) await deps.quotas.enforceHostCapacity(tx, c.host, capacity, { vcpus: c.vcpus, memoryMb: c.memoryMb });
    },

    async beforeStart(tx: Tx, c: StartCheck) {
      await deps.quotas.enforce(tx, await ownerOf(tx, c.actor, c.vm.ownerId), {
        running_vms: 1,
        running_vcpus: c.vm.vcpus,
        running_memory_mb: c.vm.memoryMb,
      });
    },

    async beforeResize(tx: Tx, c: ResizeCheck) {
      const owner = await ownerOf(tx, c.actor, c.vm.ownerId);
      const dv = c.next.vcpus - c.vm.vcpus;
      const dm = c.next.memoryMb - c.vm.memoryMb;
      const dd = c.next.diskGb - c.vm.diskGb;
      const running = (RUNNING_STATES as readonly string[]).includes(c.vm.state);
      await deps.quotas.enforce(tx, owner, {
        vcpus: dv,
        memory_mb: dm,
        disk_gb: dd,
        ...(running ? { running_vcpus: dv, running_memory_mb: dm } : {}),
      });
      const capacity = await deps.hostCapacity(c.vm.host, tx);
      if (capacity && (dv > 0 || dm > 0)) await deps.quotas.enforceHostCapacity(tx, c.vm.host, capacity, { vcpus: Math.max(0, dv), memoryMb: Math.max(0, dm) });
    },
  };
}
