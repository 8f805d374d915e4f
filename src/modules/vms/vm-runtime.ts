// What the VM module's parts share: the app context, the hypervisor and disk ports, the event
// hub, and the bookkeeping of operations this process is running right now.
import type { AppContext } from '../../app.js';
import type { Accel, DiskImages, HypervisorDriver } from '../../hypervisor/index.js';
import type { EventHub } from '../events/index.js';

export interface VmRuntime {
  ctx: AppContext;
  driver: HypervisorDriver;
  disks: DiskImages;
  accel: Accel;
  hub: EventHub;
  /** $LIMEN_DATA_DIR/disks: the only place VM disks are created or deleted */
  disksDir: string;
  /** how long a graceful shutdown may take before the action reports the guest still running */
  shutdownTimeoutMs: number;
  /** VMs with an operation in flight in this process: the reconciler leaves them alone */
  busy: Set<string>;
  /** Runs a background operation; close() waits for every one still running. */
  background(uuid: string, op: () => Promise<void>): void;
  /** Resolves when no background operation is running. */
  idle(): Promise<void>;
}

export function createBackgroundTracker(log: AppContext['log']): Pick<VmRuntime, 'busy' | 'background' | 'idle'> {
  const busy = new Set<string>();
  const running = new Set<Promise<void>>();
  return {
    busy,
    background(uuid, op) {
      busy.add(uuid);
      const p = op()
        .catch((err: unknown) => log.error({ err, vm: uuid }, 'VM background operation failed'))
        .finally(() => {
          busy.delete(uuid);
          running.delete(p);
        });
      running.add(p);
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
