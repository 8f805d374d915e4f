// Snapshot use cases over libvirt internal qcow2 snapshots (disk + memory when the VM runs).
// Each operation is accepted in a transaction (ownership, state, quota, name) and finished in the
// background; a failure never leaves a row without its libvirt snapshot or the reverse, and the
// reconciler repairs what a crash interrupted.
import type { FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import type { AppContext } from '../../app.js';
import type { HypervisorDriver } from '../../hypervisor/index.js';
import type { Tx } from '../../platform/db/db.js';
import { inTransaction, isUniqueViolation } from '../../platform/db/query.js';
import { conflict, invalidState, notFound, unavailable, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import type { QuotasService } from '../quotas/index.js';
import { vmLockKey, type VmRecord } from '../vms/index.js';
import * as repo from './snapshots.repo.js';
import { normalizeSnapshotName, snapshotAllowed, type SnapshotOp } from './snapshot-rules.js';

/** What snapshots need from the VM module. */
export interface SnapshotVmPort {
  /** The driver of a VM's host (snapshots live with the domain, on the VM's own host). */
  driverFor(host: string): HypervisorDriver;
  /** The VM as the principal may see it (another user's VM: NOT_FOUND). */
  loadVmFor(principal: Principal, uuid: string, opts?: { tx?: Tx; forUpdate?: boolean }): Promise<VmRecord>;
  /** Re-reads the domain state from libvirt and records it (after a revert changed it). */
  refreshState(uuid: string): Promise<void>;
  /** Runs work for a VM in the background, tracked like the VM module's own operations. */
  background(uuid: string, op: () => Promise<void>): void;
}

/** Resolves when a background snapshot operation ended: its error, or undefined on success. */
export type Settled = Promise<Error | undefined>;

/** How long an operation may take between its commit and taking the VM's lock. */
const SETTLE_GRACE_MS = 5_000;
/** LIMEN names libvirt snapshots by their row id; anything else in libvirt is left alone. */
const SNAPSHOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function createSnapshotsService(ctx: AppContext, vms: SnapshotVmPort, quotas: QuotasService) {
  const db = ctx.database.db;
  const registers = [ctx.metrics.registry];
  const created = new Counter({ name: 'vm_snapshot_total', help: 'Snapshot creations by result', labelNames: ['result'], registers });
  const restored = new Counter({ name: 'vm_snapshot_restore_total', help: 'Snapshot reverts by result', labelNames: ['result'], registers });
  for (const result of ['success', 'failure']) {
    created.inc({ result }, 0);
    restored.inc({ result }, 0);
  }

  /** Checked with the VM row locked, before anything is written. */
  const requireHost = (vm: VmRecord): void => {
    if (vms.driverFor(vm.host).status() !== 'connected') throw unavailable('The hypervisor is not connected; try again shortly');
  };

  const checkState = (op: SnapshotOp, vm: VmRecord): void => {
    if (!snapshotAllowed(op, vm.state)) throw invalidState(`Cannot ${op === 'create' ? 'snapshot' : `${op} a snapshot of`} a VM that is ${vm.state}`, { state: vm.state });
  };

  /** Loads a snapshot through its VM's ownership (not yours = 404) and locks both rows. */
  async function loadForUpdate(tx: Tx, principal: Principal, id: string) {
    const snap = await repo.findSnapshot(tx, id, { forUpdate: true });
    if (!snap) throw notFound('Snapshot');
    const vm = await vms.loadVmFor(principal, snap.vmUuid, { tx, forUpdate: true }).catch(() => {
      throw notFound('Snapshot');
    });
    return { snap, vm };
  }

  /**
   * Runs a snapshot operation in the background with its bookkeeping: duration and result in
   * vm_action_*, the operation's own counter, an audit row either way; `undo` restores a
   * consistent row when libvirt failed.
   */
  function inBackground(
    req: FastifyRequest | undefined,
    vmUuid: string,
    op: { action: 'snapshot_create' | 'snapshot_revert' | 'snapshot_delete'; counter?: Counter<'result'>; details: Record<string, unknown> },
    work: () => Promise<void>,
    undo: (err: Error) => Promise<void>,
  ): Settled {
    let settle!: (err: Error | undefined) => void;
    const settled = new Promise<Error | undefined>((r) => (settle = r));
    const end = ctx.metrics.vmActionDuration.startTimer({ action: op.action });
    const record = async (result: 'success' | 'failure', extra: Record<string, unknown> = {}) => {
      op.counter?.inc({ result });
      ctx.metrics.vmActions.inc({ action: op.action, result });
      end({ result });
      await audit(db, req, { action: op.action.replace('_', '.'), targetType: 'vm', targetId: vmUuid, result, details: { ...op.details, ...extra } });
    };
    vms.background(vmUuid, async () => {
      let failure: Error | undefined;
      try {
        await work();
        await record('success');
      } catch (err) {
        failure = err as Error;
        await undo(failure);
        await record('failure', { error: failure.message });
        throw err;
      } finally {
        // Snapshot operations pause, start or stop the guest: record what it is now.
        await vms.refreshState(vmUuid).catch(() => undefined);
        settle(failure);
      }
    });
    return settled;
  }

  /** Accepts a snapshot (transaction: ownership, state, quota, name) and starts it in the background. */
  async function startCreate(
    req: FastifyRequest | undefined,
    principal: Principal,
    vmUuid: string,
    input: { name: string; description?: string },
    opts: { scheduleId?: string; createdBy?: string | null } = {},
  ): Promise<{ snap: repo.SnapshotRecord; settled: Settled }> {
    const name = normalizeSnapshotName(input.name);
    if (!name) throw validationFailed('name', 'Snapshot name must be 1-64 characters without control characters');
    const description = (input.description ?? '').slice(0, 1000);
    let snap: repo.SnapshotRecord;
    let host = '';
    try {
      snap = await inTransaction(db, async (tx) => {
        const vm = await vms.loadVmFor(principal, vmUuid, { tx, forUpdate: true });
        requireHost(vm);
        host = vm.host;
        checkState('create', vm);
        const owner = vm.ownerId === principal.id ? principal : { id: vm.ownerId, role: 'user' as const };
        await quotas.enforce(tx, owner, { snapshots: 1 });
        if (await repo.snapshotNameTaken(tx, vmUuid, name)) throw conflict('This VM already has a snapshot with that name', { field: 'name' });
        const createdBy = opts.createdBy !== undefined ? opts.createdBy : principal.id;
        return repo.insertSnapshot(tx, { vmUuid, name, description, createdBy, scheduleId: opts.scheduleId });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('This VM already has a snapshot with that name', { field: 'name' });
      throw err;
    }
    const settled = inBackground(
      req,
      vmUuid,
      { action: 'snapshot_create', counter: created, details: { snapshot_id: snap.id, name, ...(opts.scheduleId ? { schedule_id: opts.scheduleId } : {}) } },
      async () => {
        const info = await vms.driverFor(host).createSnapshot(vmUuid, { name: snap.id, description });
        await repo.updateSnapshot(db, snap.id, { state: 'ready', includesMemory: info.state === 'running' || info.state === 'paused' });
      },
      // No libvirt snapshot, so no row: the list stays truthful.
      () => repo.deleteSnapshotRow(db, snap.id),
    );
    return { snap, settled };
  }

  /** Accepts a deletion (transaction: ownership, states) and runs it in the background. */
  async function startRemove(req: FastifyRequest | undefined, principal: Principal, id: string): Promise<{ snap: repo.SnapshotRecord; settled: Settled }> {
    const { snap, vm } = await inTransaction(db, async (tx) => {
      const loaded = await loadForUpdate(tx, principal, id);
      requireHost(loaded.vm);
      if (loaded.snap.state !== 'ready') throw invalidState(`The snapshot is ${loaded.snap.state}`, { state: loaded.snap.state });
      checkState('delete', loaded.vm);
      const s = await repo.updateSnapshot(tx, id, { state: 'deleting' });
      return { snap: s!, vm: loaded.vm };
    });
    const settled = inBackground(
      req,
      vm.uuid,
      { action: 'snapshot_delete', details: { snapshot_id: id, name: snap.name, ...(snap.scheduleId ? { schedule_id: snap.scheduleId, reason: 'retention' } : {}) } },
      async () => {
        await vms.driverFor(vm.host).deleteSnapshot(vm.uuid, snap.id).catch((err: unknown) => {
          // Already gone in libvirt (e.g. removed by hand): the row follows.
          if ((err as { kind?: string }).kind !== 'not_found') throw err;
        });
        await repo.deleteSnapshotRow(db, id);
      },
      async (err) => void (await repo.updateSnapshot(db, id, { state: 'ready', errorMessage: `delete failed: ${err.message}`.slice(0, 500) })),
    );
    return { snap, settled };
  }

  /**
   * Hosts whose every VM was looked at once since this process started (after that, only VMs with
   * snapshot rows are): the first pass catches libvirt snapshots a crashed create left without a row.
   */
  const swept = new Set<string>();

  const connectedDriver = (host: string): HypervisorDriver | undefined => {
    try {
      const d = vms.driverFor(host);
      return d.status() === 'connected' ? d : undefined;
    } catch {
      return undefined; // a host this instance does not know (yet)
    }
  };

  async function settleVm(vmUuid: string, driver: HypervisorDriver): Promise<void> {
    let inLibvirt: Awaited<ReturnType<HypervisorDriver['listSnapshots']>>;
    try {
      inLibvirt = await driver.listSnapshots(vmUuid);
    } catch {
      return; // domain missing or libvirt busy: the VM reconciler reports the VM itself
    }
    const names = new Set(inLibvirt.map((s) => s.name));
    const rows = await repo.listSnapshotsOf(db, vmUuid);
    const settled = (at: Date) => Date.now() - at.getTime() > SETTLE_GRACE_MS;
    for (const s of rows) {
      const exists = names.has(s.id);
      if (s.state !== 'ready' && !settled(s.updatedAt)) continue;
      switch (s.state) {
        case 'ready':
          if (!exists) {
            ctx.log.warn({ vm: vmUuid, snapshot: s.id }, 'snapshot vanished from libvirt; removing its row');
            await repo.deleteSnapshotRow(db, s.id);
          }
          break;
        case 'creating': {
          const info = inLibvirt.find((x) => x.name === s.id);
          ctx.log.info({ vm: vmUuid, snapshot: s.id, kept: info !== undefined }, 'settling a snapshot creation interrupted by a restart');
          if (info) await repo.updateSnapshot(db, s.id, { state: 'ready', includesMemory: info.state === 'running' || info.state === 'paused' });
          else await repo.deleteSnapshotRow(db, s.id);
          break;
        }
        case 'reverting':
          await repo.updateSnapshot(db, s.id, { state: 'ready' });
          break;
        case 'deleting':
          if (exists) await driver.deleteSnapshot(vmUuid, s.id);
          await repo.deleteSnapshotRow(db, s.id);
          break;
      }
    }
    const ids = new Set(rows.map((r) => r.id));
    for (const orphan of inLibvirt) {
      if (ids.has(orphan.name) || !SNAPSHOT_ID.test(orphan.name) || !settled(orphan.createdAt)) continue;
      ctx.log.warn({ vm: vmUuid, snapshot: orphan.name }, 'libvirt snapshot without its row (left by an interrupted create); deleting it');
      await driver.deleteSnapshot(vmUuid, orphan.name);
    }
  }

  return {
    async list(principal: Principal, vmUuid: string) {
      await vms.loadVmFor(principal, vmUuid);
      return repo.listSnapshotsOf(db, vmUuid);
    },

    async create(req: FastifyRequest, principal: Principal, vmUuid: string, input: { name: string; description?: string }) {
      return (await startCreate(req, principal, vmUuid, input)).snap;
    },

    /** For schedules and bulk work: the accepted snapshot and a promise of how it ended (an Error or undefined). */
    startCreate,
    startRemove,

    async revert(req: FastifyRequest, principal: Principal, id: string) {
      const { snap, vm } = await inTransaction(db, async (tx) => {
        const loaded = await loadForUpdate(tx, principal, id);
        requireHost(loaded.vm);
        if (loaded.snap.state !== 'ready') throw invalidState(`The snapshot is ${loaded.snap.state}`, { state: loaded.snap.state });
        checkState('revert', loaded.vm);
        // Reverting to a running snapshot starts the VM: that is a start for the running quota.
        if (loaded.snap.includesMemory && !['running', 'paused'].includes(loaded.vm.state)) {
          const owner = loaded.vm.ownerId === principal.id ? principal : { id: loaded.vm.ownerId, role: 'user' as const };
          await quotas.enforce(tx, owner, { running_vms: 1, running_vcpus: loaded.vm.vcpus, running_memory_mb: loaded.vm.memoryMb });
        }
        const s = await repo.updateSnapshot(tx, id, { state: 'reverting', errorMessage: null });
        return { snap: s!, vm: loaded.vm };
      });
      // the route answers 202 now; the outcome is recorded by inBackground
      void inBackground(
        req,
        vm.uuid,
        { action: 'snapshot_revert', counter: restored, details: { snapshot_id: id, name: snap.name } },
        async () => {
          await vms.driverFor(vm.host).revertSnapshot(vm.uuid, snap.id);
          await repo.updateSnapshot(db, id, { state: 'ready' });
        },
        async (err) => void (await repo.updateSnapshot(db, id, { state: 'ready', errorMessage: `revert failed: ${err.message}`.slice(0, 500) })),
      );
      return snap;
    },

    async remove(req: FastifyRequest, principal: Principal, id: string) {
      return (await startRemove(req, principal, id)).snap;
    },

    /**
     * Repairs drift after a crash or outside changes: rows stuck mid-operation are settled by
     * what libvirt has; rows whose libvirt snapshot vanished are removed; a libvirt snapshot that a
     * crashed create left without its row (named by a row id that no longer exists) is deleted, so
     * the list, the snapshot quota and libvirt agree.
     *
     * Every operation holds its VM's cluster lock while it runs (vms.background): a VM whose lock
     * is free has nothing in flight anywhere, so its rows can be settled at once — after a SIGKILL
     * the dead process's lock is gone with its session. The short grace covers the moment between
     * an operation's commit and its taking the lock.
     */
    async reconcile(isBusy: (vmUuid: string) => boolean): Promise<void> {
      const reached = new Set<string>();
      const incomplete = new Set<string>(); // hosts with a VM skipped this pass: swept again next time
      for (const { uuid: vmUuid, host } of await repo.snapshotReconcileTargets(db, [...swept])) {
        // a host that is down (or unknown here) is left alone: nothing is concluded from silence
        const driver = connectedDriver(host);
        if (!driver) continue;
        reached.add(host);
        // an operation runs, here or maybe on another instance
        if (isBusy(vmUuid) || !(await ctx.cluster.tryLock(vmLockKey(vmUuid)))) {
          incomplete.add(host);
          continue;
        }
        try {
          await settleVm(vmUuid, driver);
        } catch (err) {
          incomplete.add(host);
          ctx.log.warn({ err, vm: vmUuid }, 'snapshot reconcile of a VM failed; retrying next tick');
        } finally {
          await ctx.cluster.unlock(vmLockKey(vmUuid));
        }
      }
      for (const host of reached) if (!incomplete.has(host)) swept.add(host);
    },
  };
}

export type SnapshotsService = ReturnType<typeof createSnapshotsService>;
