// Moving a VM to another hypervisor host (admin only). Whether the two hosts share
// $LIMEN_DATA_DIR/disks is probed at every move (vm-storage-move.ts). Shared: only the libvirt
// definition (cold) or the running guest (live) moves. Not shared: the VM's volumes (disk, cloud-init
// seed) are copied through the hosts' storage pools and verified before the commit (cold), or the
// disk is mirrored by QEMU into a volume pre-created on the target (live, --copy-storage-all); the
// source's volumes are removed only after the commit. Snapshot metadata moves with a cold move.
//
// One operation holding the VM's cluster-wide lock from before the accepting transaction to the
// end, marked busy so this instance's reconciler leaves it alone:
//   accept (row locked: state → mode, target active/reachable/with room, `migrating_to` set, audited)
//   cold: [copy + verify the volumes] → define the source's inactive XML on the target → redefine
//         its snapshots there → the target must open every disk → commit `host = target` →
//         [remove the source's volumes] → undefine on the source (a leftover is removed by the reconciler)
//   live: [pre-create the disk, copy the seed] → `virsh migrate --live --persistent --undefinesource
//         [--copy-storage-all]` → commit `host = target` → [remove the source's volumes]
// Any failure before the commit removes what was made on the target (definition, volumes) and
// clears `migrating_to` (the source was never touched; libvirt keeps a live guest running on the
// source). A crash leaves `migrating_to`: the reconciler settles it with planMigrationRecovery and
// removes the volumes of the side that lost (never on shared storage: they are the same files).
import type { FastifyRequest } from 'fastify';
import { delay, isHypervisorError, type DomainState, type DomainSummary, type HypervisorDriver } from '../../hypervisor/index.js';
import { inTransaction } from '../../platform/db/query.js';
import { AppError, conflict, invalidState, notFound, unavailable } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import { isMigrationLeftover, migrationModeFor, moveRefusal, planMigrationRecovery, type MigrationMode } from './vm-migration-rules.js';
import { copyVolume, deleteVolumes, precreateForMirror, storageShared, volumeNamesOf, type CopyResult } from './vm-storage-move.js';
import { claimVm, vmLockKey, type VmRuntime } from './vm-runtime.js';
import { vmStateOf } from './vm-state.js';
import type { VmStore } from './vm-store.js';
import type { VmsService } from './vms.service.js';
import { endMigration, findVm, markMigrating, type VmRecord } from './vms.repo.js';

export interface VmMigrator {
  /** cold: answers when the VM is on its new host; live: answers once accepted (the move ends with vm.updated). */
  migrate(req: FastifyRequest, principal: Principal, uuid: string, target: string): Promise<{ vm: VmRecord; mode: MigrationMode }>;
  /** Reconciler: settles a row left `migrating_to` by a crash (caller holds the VM's lock). */
  recover(vm: VmRecord): Promise<void>;
  /** Reconciler: removes a domain on `host` that is the inactive leftover of a committed move; true when removed. */
  removeLeftover(host: string, domain: DomainSummary, row: VmRecord): Promise<boolean>;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function presence(driver: HypervisorDriver, uuid: string): Promise<DomainState | null> {
  try {
    return await driver.getState(uuid);
  } catch (e) {
    if (isHypervisorError(e, 'not_found')) return null;
    throw e;
  }
}

export function createVmMigrator(rt: VmRuntime, store: VmStore, vms: VmsService, opts: { liveTimeoutMs?: number } = {}): VmMigrator {
  const { ctx } = rt;
  const db = ctx.database.db;
  const hosts = ctx.hosts.registry;

  const publishMoved = (vm: VmRecord | undefined): void => {
    if (vm) store.publish('vm.updated', vm);
  };

  /** The accepting transaction: every refusal happens here, before anything is touched. */
  async function accept(req: FastifyRequest, uuid: string, target: string) {
    const vm = await findVm(db, uuid);
    if (!vm) throw notFound('VM');
    if (vm.host === target) throw conflict(`The VM is already on host ${target}`);
    if (!hosts.isUp(vm.host)) throw unavailable(`The VM's hypervisor host (${vm.host}) is not reachable; try again shortly`);
    const snapshots = (await hosts.driverFor(vm.host).listSnapshots(uuid)).length;
    return inTransaction(db, async (tx) => {
      const row = await findVm(tx, uuid, { forUpdate: true });
      if (!row) throw notFound('VM');
      if (row.migratingTo) throw invalidState(`The VM is already migrating to host ${row.migratingTo}`, { state: row.state, migrating_to: row.migratingTo });
      if (row.host === target) throw conflict(`The VM is already on host ${target}`);
      const mode = migrationModeFor(row.state);
      const targetUri = await ctx.hosts.checkMigrationTarget(tx, target, { vcpus: row.vcpus, memoryMb: row.memoryMb });
      if (mode === 'live' && (hosts.driverFor(row.host).kind !== 'qemu' || hosts.driverFor(target).kind !== 'qemu')) {
        throw invalidState('Live migration needs QEMU hosts on both sides (a simulated host cannot migrate a running guest); stop the VM to migrate it cold', { state: row.state });
      }
      const src = hosts.driverFor(row.host);
      const dst = hosts.driverFor(target);
      const shared = await storageShared(src, dst, rt.disksDir);
      const refusal = moveRefusal(mode, { shared, isoAttached: row.isoId !== null, linkedClone: row.backingTemplateId !== null, snapshots, sameKind: src.kind === dst.kind });
      if (refusal) throw conflict(refusal.message, refusal.details);
      const marked = (await markMigrating(tx, uuid, target))!;
      await audit(tx, req, { action: 'vm.migrate', targetType: 'vm', targetId: uuid, result: 'success', details: { from: row.host, to: target, mode, storage: shared ? 'shared' : 'copy', phase: 'accepted' } });
      return { vm: marked, mode, targetUri, shared };
    });
  }

  /** Before the commit: the VM stays where it was; the reason is on the VM and in the audit log. */
  async function rollBack(vm: VmRecord, target: string, mode: MigrationMode, e: unknown): Promise<VmRecord | undefined> {
    ctx.log.warn({ err: e, vm: vm.uuid, from: vm.host, to: target, mode }, 'VM migration failed; the VM stays on its host');
    const back = await endMigration(db, vm.uuid, null, `migration to ${target} failed: ${messageOf(e)}`);
    publishMoved(back);
    return back;
  }

  async function commit(req: FastifyRequest | undefined, vm: VmRecord, target: string, mode: MigrationMode, startedAt: number, storage: Record<string, unknown>): Promise<VmRecord> {
    const moved = (await endMigration(db, vm.uuid, target, null))!;
    publishMoved(moved);
    const seconds = (Date.now() - startedAt) / 1000;
    await audit(db, req, { action: 'vm.migrate', targetType: 'vm', targetId: vm.uuid, result: 'success', details: { from: vm.host, to: target, mode, seconds, ...storage } });
    ctx.log.info({ vm: vm.uuid, from: vm.host, to: target, mode, seconds, ...storage }, 'VM migrated');
    return moved;
  }

  const copyDetails = (copies: CopyResult[]) =>
    copies.length === 0 ? { storage: 'shared' } : { storage: 'copied', volumes: copies.map((c) => ({ name: c.name, bytes: c.bytes, sha256: c.sha256, ms: c.ms })) };

  /** After the commit, on hosts without shared storage: the source's copy of the volumes goes. */
  async function dropSourceVolumes(vm: VmRecord, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await deleteVolumes(hosts.driverFor(vm.host), rt.disksDir, names).catch((err: unknown) =>
      ctx.log.warn({ err, vm: vm.uuid, host: vm.host }, 'removing the source volumes after a migration failed; they are left on the old host'));
  }

  async function runCold(req: FastifyRequest, vm: VmRecord, target: string, startedAt: number, shared: boolean): Promise<VmRecord> {
    const src = hosts.driverFor(vm.host);
    const dst = hosts.driverFor(target);
    const volumes = shared ? [] : volumeNamesOf(vm);
    const copies: CopyResult[] = [];
    let defined = false;
    let copying = false;
    try {
      const snapshots = await src.exportSnapshots(vm.uuid);
      copying = true;
      for (const name of volumes) copies.push(await copyVolume(src, dst, rt.disksDir, name));
      copying = false;
      const xml = await src.getDomainXml(vm.uuid, { inactive: true });
      await dst.defineDomainXml(vm.uuid, xml);
      defined = true;
      // libvirt keeps snapshot metadata per host; the snapshots themselves are inside the qcow2
      if (snapshots.items.length > 0) await dst.importSnapshots(vm.uuid, snapshots);
      const unreadable = await dst.unreadableDisks(vm.uuid);
      if (unreadable.length > 0) {
        const first = unreadable[0]!;
        throw conflict(`Host ${target} cannot open the VM's disk ${first.path} (${first.error})`, {
          host: target,
          disks: unreadable.map((d) => d.path),
        });
      }
      // the start refusal (migrating_to) keeps it so; a guest started by hand outside LIMEN is not moved
      if ((await src.getState(vm.uuid)) !== 'shutoff') throw invalidState('The VM was started outside LIMEN while migrating');
    } catch (e) {
      if (defined) await dst.undefineDomain(vm.uuid).catch((err: unknown) => ctx.log.error({ err, vm: vm.uuid, host: target }, 'removing the copied definition failed; the reconciler removes it'));
      const made = copies.map((c) => c.name);
      if (made.length > 0) await deleteVolumes(dst, rt.disksDir, made).catch((err: unknown) => ctx.log.error({ err, vm: vm.uuid, host: target }, 'removing the copied volumes failed; the reconciler removes them'));
      await rollBack(vm, target, 'cold', e);
      // tracked() audits and counts the failure; libvirt's own words are on the VM (error_message)
      if (copying && !(e instanceof AppError)) throw unavailable(`Copying the VM's volumes to host ${target} failed; the VM stays on ${vm.host} (the reason is on the VM and in the audit log)`);
      throw e;
    }
    const moved = await commit(req, vm, target, 'cold', startedAt, copyDetails(copies));
    // after the commit: a failure leaves an inactive leftover the reconciler of the source removes
    // (with its volumes): so the volumes go first, the definition last
    await dropSourceVolumes(vm, volumes);
    await src.undefineDomain(vm.uuid).catch((err: unknown) => ctx.log.warn({ err, vm: vm.uuid, host: vm.host }, 'removing the source definition after a migration failed; the reconciler retries'));
    return moved;
  }

  async function runLive(req: FastifyRequest, vm: VmRecord, target: string, targetUri: string, startedAt: number, shared: boolean): Promise<void> {
    const end = ctx.metrics.vmActionDuration.startTimer({ action: 'migrate' });
    const done = (result: 'success' | 'failure') => {
      end({ result });
      ctx.metrics.vmActions.inc({ action: 'migrate', result });
    };
    const src = hosts.driverFor(vm.host);
    const dst = hosts.driverFor(target);
    const volumes = shared ? [] : volumeNamesOf(vm);
    const made: string[] = [];
    const copies: CopyResult[] = [];
    try {
      if (!shared) {
        // QEMU mirrors the (writable) disk into a volume of the same size; the read-only seed ISO
        // is not mirrored, so it is copied as a file
        const [disk, ...files] = volumes;
        await precreateForMirror(src, dst, rt.disksDir, disk!);
        made.push(disk!);
        for (const name of files) {
          copies.push(await copyVolume(src, dst, rt.disksDir, name));
          made.push(name);
        }
      }
      await src.migrateLive(vm.uuid, targetUri, { timeoutMs: opts.liveTimeoutMs, copyStorage: !shared });
    } catch (e) {
      done('failure');
      if (made.length > 0) await deleteVolumes(dst, rt.disksDir, made).catch((err: unknown) => ctx.log.error({ err, vm: vm.uuid, host: target }, 'removing the pre-created volumes failed; the reconciler removes them'));
      const back = await rollBack(vm, target, 'live', e);
      await audit(db, req, { action: 'vm.migrate', targetType: 'vm', targetId: vm.uuid, result: 'failure', details: { from: vm.host, to: target, mode: 'live', error: messageOf(e) } });
      // libvirt resumes the guest on the source after a failed migration: record what it is now
      const s = await hosts.driverFor(vm.host).getState(vm.uuid).catch(() => null);
      const observed = s && vmStateOf(s);
      if (back && observed) await store.observe(back, observed);
      return;
    }
    const moved = await commit(req, vm, target, 'live', startedAt, shared ? { storage: 'shared' } : { storage: 'mirrored', volumes: volumes });
    done('success');
    await dropSourceVolumes(vm, volumes);
    const s = await hosts.driverFor(target).getState(vm.uuid).catch(() => null);
    const observed = s && vmStateOf(s);
    if (observed) await store.observe(moved, observed);
  }

  return {
    migrate: (req, principal, uuid, target) =>
      vms.tracked(req, 'migrate', uuid, async () => {
        if (principal.role !== 'admin') throw notFound('VM');
        const startedAt = Date.now();
        // an operation of this process on the VM (the cluster lock is reentrant within one instance):
        // the reconciler's check of it is short, a power operation may take a minute
        for (const until = Date.now() + 10_000; rt.busy.has(uuid); await delay(100)) {
          if (Date.now() > until) throw conflict('Another operation is running on this VM; try again shortly');
        }
        rt.busy.add(uuid);
        const locked = await claimVm(ctx.cluster, uuid, ctx.log, 10_000);
        let handedOff = false;
        try {
          if (!locked && ctx.cluster.connected()) throw conflict('Another operation is running on this VM; try again shortly');
          const { vm, mode, targetUri, shared } = await accept(req, uuid, target);
          publishMoved(vm);
          if (mode === 'cold') {
            const end = ctx.metrics.vmActionDuration.startTimer({ action: 'migrate' });
            const moved = await runCold(req, vm, target, startedAt, shared);
            end({ result: 'success' });
            ctx.metrics.vmActions.inc({ action: 'migrate', result: 'success' });
            return { vm: moved, mode };
          }
          // the background operation takes the (reentrant) lock again; ours is released when it ends
          handedOff = true;
          rt.background(uuid, () =>
            runLive(req, vm, target, targetUri, startedAt, shared).finally(async () => {
              if (locked) await ctx.cluster.unlock(vmLockKey(uuid));
            }),
          );
          return { vm, mode };
        } finally {
          if (!handedOff) {
            rt.busy.delete(uuid);
            if (locked) await ctx.cluster.unlock(vmLockKey(uuid));
          }
        }
      }),

    async recover(vm) {
      const target = vm.migratingTo;
      if (!target) return;
      if (!hosts.isUp(vm.host) || !hosts.isUp(target)) return; // both hosts must answer; next tick
      const src = hosts.driverFor(vm.host);
      const dst = hosts.driverFor(target);
      const plan = planMigrationRecovery(await presence(src, vm.uuid), await presence(dst, vm.uuid));
      if (plan.keep === null) {
        ctx.log.error({ vm: vm.uuid, source: vm.host, target }, 'an interrupted migration left the guest running on both hosts; leaving it to an administrator');
        return;
      }
      // asked before anything is removed: on shared storage both sides' volumes are the same files
      const shared = await storageShared(src, dst, rt.disksDir);
      ctx.log.warn({ vm: vm.uuid, source: vm.host, target, keep: plan.keep, shared }, 'settling a VM migration interrupted by a restart');
      for (const side of plan.undefine) await (side === 'source' ? src : dst).undefineDomain(vm.uuid);
      // a partial (or complete but uncommitted) copy on the side that lost
      const removed = shared ? [] : await deleteVolumes(plan.keep === 'target' ? src : dst, rt.disksDir, volumeNamesOf(vm));
      if (removed.length > 0) ctx.log.warn({ vm: vm.uuid, host: plan.keep === 'target' ? vm.host : target, volumes: removed }, 'removed the volumes an interrupted migration left');
      const settled = await endMigration(db, vm.uuid, plan.keep === 'target' ? target : null, plan.keep === 'target' ? null : `migration to ${target} was interrupted; the VM stayed on ${vm.host}`);
      publishMoved(settled);
      await audit(db, undefined, { action: 'vm.migrate', targetType: 'vm', targetId: vm.uuid, result: plan.keep === 'target' ? 'success' : 'failure', details: { from: vm.host, to: target, recovered: true, kept: plan.keep } });
      const s = settled && (await presence(hosts.driverFor(settled.host), vm.uuid));
      const observed = s && vmStateOf(s);
      if (settled && observed) await store.observe(settled, observed);
    },

    async removeLeftover(host, domain, row) {
      if (!hosts.isUp(row.host)) return false;
      const ownHasIt = (await presence(hosts.driverFor(row.host), row.uuid)) !== null;
      if (!isMigrationLeftover(domain.state, row, host, ownHasIt)) return false;
      ctx.log.warn({ vm: row.uuid, host, vmHost: row.host }, 'removing the leftover definition of a migrated VM');
      const leftover = hosts.driverFor(host);
      const own = hosts.driverFor(row.host);
      // its volumes too, when they are not the VM's own files (storage not shared) and the VM's
      // host really has its disk (the commit happened after the verified copy)
      if (!(await storageShared(leftover, own, rt.disksDir)) && (await own.storage.volumeInfo(rt.disksDir, volumeNamesOf(row)[0]!))) {
        await deleteVolumes(leftover, rt.disksDir, volumeNamesOf(row));
      }
      await leftover.undefineDomain(row.uuid);
      return true;
    },
  };
}
