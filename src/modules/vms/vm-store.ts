// The state store: the one path by which observed VM state reaches the database and the event
// hub. Driver events and refreshes write with the version they read (compare-and-set), so an
// observation never overwrites a newer one; every successful write is published and keeps
// vm_total{state} in step with the database.
import { type DomainEvent, uuidFromDomainName } from '../../hypervisor/index.js';
import type { Queryable } from '../../platform/db/query.js';
import type { VmEventType } from '../events/index.js';
import { acceptsObservation, VM_STATES, vmStateOfEvent, type VmState } from './vm-state.js';
import { countByState, findVm, writeState, type StateWrite, type VmRecord } from './vms.repo.js';
import { toVmDto } from './vms.schemas.js';
import type { VmRuntime } from './vm-runtime.js';

export interface VmStore {
  /** Writes a state (guards in `w`), publishes vm.state when something was written. */
  write(uuid: string, w: StateWrite, db?: Queryable): Promise<VmRecord | undefined>;
  /** Records what libvirt says a VM is now, unless a newer write got there first. */
  observe(vm: VmRecord, observed: VmState, message?: string | null): Promise<VmRecord | undefined>;
  publish(type: VmEventType, vm: VmRecord): void;
  /** A domain event from `host`: ignored unless the VM lives there (a migration's leftover on the source is not the VM). */
  applyEvent(e: DomainEvent, host: string): Promise<void>;
  /** Recomputes vm_total from the database (debounced). */
  refreshGauge(): void;
}

export function createVmStore(rt: Omit<VmRuntime, 'store'>): VmStore {
  const { ctx } = rt;
  const db = ctx.database.db;
  let gaugeTimer: NodeJS.Timeout | undefined;

  const publish = (type: VmEventType, vm: VmRecord): void => {
    rt.hub.publish(type, toVmDto(vm));
    if (type !== 'vm.updated') refreshGauge();
  };

  function refreshGauge(): void {
    if (gaugeTimer) return;
    gaugeTimer = setTimeout(() => {
      gaugeTimer = undefined;
      countByState(db).then(
        (counts) => {
          for (const s of VM_STATES) ctx.metrics.vmTotal.set({ state: s }, counts[s] ?? 0);
        },
        (err: unknown) => ctx.log.warn({ err }, 'vm_total refresh failed'),
      );
    }, 100);
    gaugeTimer.unref();
  }

  const write = async (uuid: string, w: StateWrite, q: Queryable = db): Promise<VmRecord | undefined> => {
    const vm = await writeState(q, uuid, w);
    if (vm && q === db) publish('vm.state', vm);
    return vm;
  };

  const observe = async (vm: VmRecord, observed: VmState, message?: string | null): Promise<VmRecord | undefined> => {
    if (!acceptsObservation(vm.state, observed)) return undefined;
    return write(vm.uuid, {
      state: observed,
      ifVersion: vm.stateVersion,
      errorMessage: message,
      // a power-off makes the persistent configuration the one the next boot uses
      clearPending: observed === 'stopped',
    });
  };

  return {
    write,
    observe,
    publish,
    refreshGauge,
    async applyEvent(e, host) {
      if (!uuidFromDomainName(e.name)) return;
      const observed = vmStateOfEvent(e.type);
      if (observed === null) return;
      const vm = await findVm(db, e.uuid);
      if (!vm || vm.host !== host) return; // an orphan (the reconciler reports it) or another host's domain
      // mid-migration the source reports the guest paused, stopped and undefined as it moves: not the VM's state
      if (vm.migratingTo) return;
      // An event observed before the row's last write (e.g. the poll saw 'paused' just before an
      // inline resume landed) is stale: a slower observation never overwrites a newer state.
      if (e.at.getTime() < vm.updatedAt.getTime()) return;
      const message = observed === 'missing' ? 'the libvirt domain was removed outside LIMEN' : observed === 'error' ? 'the guest crashed' : undefined;
      await observe(vm, observed, message);
    },
  };
}
