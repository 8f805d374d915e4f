// The reconciler: repairs drift between the database and libvirt, at start, every ~10 s and after
// every libvirt reconnect. Idempotent; never destroys anything it does not own:
// - a row whose domain vanished → `missing` (never silently "stopped");
// - a row left in creating/deleting by a crash → the operation is finished or rolled back;
// - any other row → libvirt's observed state, written only if no newer write happened meanwhile
//   (rows are read BEFORE libvirt is asked, and written with the version read);
// - a row left `migrating_to` by a crash → the move is finished or rolled back (vm-migration.ts);
// - the inactive leftover of a committed migration on its old host → removed;
// - a limen-* domain without a row → an orphan: logged and listed for admins, left alone.
// One pass covers one host (its rows, its domains); a host that cannot be listed is skipped
// whole, so an unreachable host's VMs keep their last known state (host_reachable: false).
import { uuidFromDomainName, type DomainSummary } from '../../hypervisor/index.js';
import type { VmLifecycle } from './vm-lifecycle.js';
import type { VmMigrator } from './vm-migration.js';
import { vmLockKey, type VmRuntime } from './vm-runtime.js';
import { vmStateOf } from './vm-state.js';
import type { VmStore } from './vm-store.js';
import { findVm, listVms, type VmRecord } from './vms.repo.js';

export interface VmReconciler {
  tick(host: string): Promise<void>;
  orphans(): DomainSummary[];
}

/** The row under the lock is the one listed: still there, on this host, with no state write since. */
function unchanged(listed: VmRecord, now: VmRecord | undefined, host: string): boolean {
  return now !== undefined && now.host === host && now.stateVersion === listed.stateVersion && now.migratingTo === listed.migratingTo;
}

export function createVmReconciler(rt: VmRuntime, store: VmStore, lifecycle: VmLifecycle, migrator: VmMigrator): VmReconciler {
  const { ctx } = rt;
  const orphansByHost = new Map<string, DomainSummary[]>();

  return {
    orphans: () => [...orphansByHost.values()].flat(),
    async tick(host) {
      const all = await listVms(ctx.database.db);
      const rows = all.filter((r) => r.host === host);
      // throws when libvirt is down: the tick fails, nothing is marked missing on a blind guess
      const domains = await rt.driverFor(host).listDomains();
      const byUuid = new Map(domains.map((d) => [d.uuid, d]));
      const known = new Set(rows.map((r) => r.uuid));

      for (const listed of rows) {
        if (rt.busy.has(listed.uuid) || ctx.shutdown.aborted) continue;
        // an operation in flight on another instance holds the VM's lock: leave the row to it
        if (!(await ctx.cluster.tryLock(vmLockKey(listed.uuid)))) continue;
        rt.busy.add(listed.uuid);
        try {
          // a recovery redoes an operation: if that operation ended between the list and the lock
          // (a rolled-back create, a delete, a move) the row changed or is gone, and redoing it
          // from the listed copy would create a VM already rolled back. The next tick sees the row
          // afresh. (Observations need no re-read: they are written only if the version is unchanged.)
          const vm = listed;
          const recovers = vm.migratingTo !== null || vm.state === 'creating' || vm.state === 'deleting';
          if (recovers && !unchanged(vm, await findVm(ctx.database.db, vm.uuid), host)) continue;
          if (vm.migratingTo) await migrator.recover(vm);
          else if (vm.state === 'creating') await lifecycle.recoverCreate(vm);
          else if (vm.state === 'deleting') {
            ctx.log.info({ vm: vm.uuid }, 'resuming an interrupted VM deletion');
            await lifecycle.teardown(vm);
          } else {
            const d = byUuid.get(vm.uuid);
            if (!d) {
              if (vm.state !== 'missing') ctx.log.warn({ vm: vm.uuid }, 'VM domain vanished from libvirt; marking it missing');
              await store.observe(vm, 'missing', 'the libvirt domain no longer exists');
            } else {
              const observed = vmStateOf(d.state);
              if (observed) await store.observe(vm, observed, vm.state === 'missing' ? null : undefined);
            }
          }
        } catch (err) {
          ctx.log.warn({ err, vm: listed.uuid }, 'reconcile of a VM failed; retrying next tick');
        } finally {
          rt.busy.delete(listed.uuid);
          await ctx.cluster.unlock(vmLockKey(listed.uuid));
        }
      }

      const elsewhere = new Map(all.filter((r) => r.host !== host).map((r) => [r.uuid, r]));
      const found: DomainSummary[] = [];
      for (const d of domains) {
        const uuid = uuidFromDomainName(d.name);
        if (uuid === null || known.has(uuid)) continue;
        const row = elsewhere.get(uuid);
        if (row) {
          // a VM of another host: the target's copy mid-move (left alone), or the inactive copy a
          // committed migration left on its old host (removed under the VM's lock)
          if (row.migratingTo === host || rt.busy.has(uuid) || !(await ctx.cluster.tryLock(vmLockKey(uuid)))) continue;
          try {
            const current = await findVm(ctx.database.db, uuid); // the row as it is under the lock
            if (current && current.host !== host && (await migrator.removeLeftover(host, d, current))) continue;
          } catch (err) {
            ctx.log.warn({ err, vm: uuid, host }, 'removing a migration leftover failed; retrying next tick');
          } finally {
            await ctx.cluster.unlock(vmLockKey(uuid));
          }
        }
        found.push(d);
      }
      const before = new Set((orphansByHost.get(host) ?? []).map((o) => o.uuid));
      for (const o of found) if (!before.has(o.uuid)) ctx.log.warn({ domain: o.name, state: o.state, host }, 'orphan LIMEN domain without a VM row (left untouched)');
      orphansByHost.set(host, found);
      store.refreshGauge();
    },
  };
}
