// Guest addresses: asks libvirt (DHCP lease of a libvirt network, else the QEMU guest agent) for
// the addresses of every running VM and records changes on the row, so the VM DTO, the list and
// /ws/events show them without a libvirt call per request. A VM that is not running has none.
import { isHypervisorError, type HypervisorDriver } from '../../hypervisor/index.js';
import type { VmRuntime } from './vm-runtime.js';
import type { VmStore } from './vm-store.js';
import { listVmsForAddressPoll, writeAddresses } from './vms.repo.js';

export interface AddressPoller {
  tick(): Promise<void>;
}

export function createAddressPoller(rt: VmRuntime, store: VmStore): AddressPoller {
  const { ctx } = rt;
  const db = ctx.database.db;
  return {
    async tick() {
      for (const vm of await listVmsForAddressPoll(db)) {
        if (ctx.shutdown.aborted) return;
        let found: Awaited<ReturnType<HypervisorDriver['guestAddresses']>> = null;
        if (vm.state === 'running' || vm.state === 'paused') {
          try {
            found = await rt.driverFor(vm.host).guestAddresses(vm.uuid);
          } catch (e) {
            if (!isHypervisorError(e, 'not_found') && !isHypervisorError(e, 'invalid_state')) {
              ctx.log.debug({ err: e, vm: vm.uuid }, 'guest address query failed');
              continue; // unknown this time: keep what the row says
            }
          }
        } else if (vm.ipAddresses.length === 0) continue;
        const next = await writeAddresses(db, vm.uuid, found?.addresses ?? [], found?.source ?? null);
        if (next) store.publish('vm.updated', next);
      }
    },
  };
}
