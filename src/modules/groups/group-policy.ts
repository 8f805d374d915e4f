// The group quota as a VM policy: growing a VM that was provisioned for a group is charged to the
// group too. Registered after the quotas policy, so the owner's quota lock is taken before the
// group's (the same order as a group provision: users first, then the group).
import type { Tx } from '../../platform/db/db.js';
import type { ResizeCheck, VmPolicy } from '../vms/index.js';
import { groupOfVm } from './groups.repo.js';
import { enforceGroupQuota } from './groups.service.js';

export function createGroupQuotaPolicy(): VmPolicy {
  return {
    name: 'group-quota',
    async beforeResize(tx: Tx, c: ResizeCheck) {
      const groupId = await groupOfVm(tx, c.vm.uuid);
      if (!groupId) return;
      await enforceGroupQuota(tx, { id: groupId }, { vcpus: c.next.vcpus - c.vm.vcpus, memory_mb: c.next.memoryMb - c.vm.memoryMb, disk_gb: c.next.diskGb - c.vm.diskGb });
    },
  };
}
