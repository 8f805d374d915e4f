// What the VM module's parts share: the app context, the hypervisor and disk ports, the event
// hub, and the bookkeeping of operations this process is running right now.
import type { AppContext } from '../../app.js';
import type { Accel, DiskImages, HypervisorDriver, SeedIsos } from '../../hypervisor/index.js';
import type { ClusterSession } from '../../platform/db/cluster-session.js';
import type { EventHub } from '../events/index.js';

export interface VmRuntime {
  ctx: AppContext;
  /** The driver of a VM's host (ctx.hosts.registry): every libvirt call addresses the VM's own host. */
  driverFor(host: string): HypervisorDriver;
  disks: DiskImages;
  /** cloud-init NoCloud seed ISOs of VMs made from cloud-image templates */
  seeds: SeedIsos;
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
  /**
   * Runs fn holding the VM's cluster-wide operation lock (a session advisory lock, see
   * claimVm): another instance's reconciler leaves the VM alone meanwhile.
   */
  exclusive<T>(uuid: string, fn: () => Promise<T>): Promise<T>;
}

export const vmLockKey = (uuid: string): string => `vm:${uuid}`;

/**
 * Per-VM operation lock across instances. Accepting an operation is already serialized by the
 * row lock (`select … for update`) in its transaction; what needs more is the libvirt work that
 * follows it (seconds to a minute) against a reconciler running on ANOTHER instance, which would
 * otherwise roll back a `creating` row that is being provisioned. A transaction-scoped lock would
 * pin a pooled connection for that whole time, so the lock is a session advisory lock on the
 * instance's dedicated cluster session: released at unlock, or by PostgreSQL when the instance dies.
 * Waits up to waitMs (a reconciler holds it for one VM's check only), then proceeds unlocked
 * rather than fail a user's request over a stuck peer (logged).
 */
export async function claimVm(cluster: ClusterSession, uuid: string, log: AppContext['log'], waitMs = 30_000): Promise<boolean> {
  const until = Date.now() + waitMs;
  for (;;) {
    if (await cluster.tryLock(vmLockKey(uuid))) return true;
    if (Date.now() > until || !cluster.connected()) {
      log.warn({ vm: uuid }, 'VM operation lock not obtained; proceeding without it');
      return false;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function createBackgroundTracker(log: AppContext['log'], cluster: ClusterSession): Pick<VmRuntime, 'busy' | 'background' | 'idle' | 'exclusive'> {
  const busy = new Set<string>();
  const running = new Set<Promise<void>>();
  const exclusive = async <T>(uuid: string, fn: () => Promise<T>): Promise<T> => {
    const locked = await claimVm(cluster, uuid, log);
    try {
      return await fn();
    } finally {
      if (locked) await cluster.unlock(vmLockKey(uuid));
    }
  };
  return {
    busy,
    exclusive,
    background(uuid, op) {
      busy.add(uuid);
      const p = exclusive(uuid, op)
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
