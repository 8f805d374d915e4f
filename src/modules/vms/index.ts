// The VM module: wires the store, lifecycle, services, reconciler and stats around the default
// hypervisor driver, and returns the routes plugin. Public surface for other modules below.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppContext } from '../../app.js';
import { createSeedIsos, type Accel, type DiskImages, type SeedIsos } from '../../hypervisor/index.js';
import { startLeasedLoop } from '../../platform/loop.js';
import { ensureLibraryDir } from '../isos/index.js';
import { toAppError } from './vm-errors.js';
import { createVmLifecycle } from './vm-lifecycle.js';
import { createVmMigrator } from './vm-migration.js';
import { createVmReconciler } from './vm-reconciler.js';
import { createAddressPoller } from './vm-addresses.js';
import { createBackgroundTracker, type VmRuntime } from './vm-runtime.js';
import { createVmSettingsService } from './vm-settings.service.js';
import { createStatsSampler } from './vm-stats.js';
import { createVmStore } from './vm-store.js';
import { registerVmRoutes } from './vms.routes.js';
import { createVmListCache, VM_ROWS_CHANNEL } from './vm-list-cache.js';
import { toVmDto } from './vms.schemas.js';
import { createVmsService, type CreateBatchOptions, type CreateVmInput } from './vms.service.js';
import { countVmsOf, findVm, listVms } from './vms.repo.js';
import { principalOf } from '../auth/index.js';
import type { Principal } from '../../platform/http/principal.js';
import type { Tx } from '../../platform/db/db.js';
import type { VmRecord } from './vms.repo.js';
import { vmStateOf, type VmAction } from './vm-state.js';

export { type VmPolicy, type CreateCheck, type StartCheck, type ResizeCheck, type VmSize } from './vm-policies.js';
export { VM_STATES, VM_ACTIONS, type VmState, type VmAction } from './vm-state.js';
export { VmDto, toVmDto } from './vms.schemas.js';
export { type VmRecord, type CloneMode } from './vms.repo.js';
export { type CreateVmInput, type CreateBatchOptions, MAX_BATCH } from './vms.service.js';
export { type TemplateSource, type CloneSource, noTemplates } from './vm-templates.js';
export { buildSeedFiles, checkUserData, hostnameFor, type CloudInitSpec, type SeedFiles } from './cloud-init.js';
export { diskPathFor, seedPathFor } from './vm-lifecycle.js';
export { vmLockKey } from './vm-runtime.js';

/** Cluster lease of the VM reconciler of a host (one leader per host across instances). */
export const reconcilerLease = (host: string): string => `loop:vm-reconciler:${host}`;
/** The default host's reconciler lease. */
export const RECONCILER_LEASE = reconcilerLease('default');
/** Cluster lease of the guest-address poller of the default host. */
export const ADDRESSES_LEASE = 'loop:vm-addresses:default';

/**
 * What other modules (console, snapshots, backups) may ask of the VM module, set on ctx.vmAccess
 * when the module registers. loadVmFor is THE ownership check: another user's VM is a 404.
 */
export interface VmAccess {
  loadVmFor(principal: Principal, uuid: string, opts?: { tx?: Tx; forUpdate?: boolean }): Promise<VmRecord>;
  /** Re-reads the domain state from libvirt and records it (publishes vm.state when it changed). */
  refreshState(uuid: string): Promise<void>;
  /** Runs an operation on a VM in the background, tracked like the module's own (close waits). */
  background(uuid: string, op: () => Promise<void>): void;
  /** True while this process runs an operation on the VM. */
  isBusy(uuid: string): boolean;
  /** A power action through the state machine and policies, audited like the VM route's (bulk group actions). */
  action(req: FastifyRequest, principal: Principal, uuid: string, action: VmAction): Promise<VmRecord>;
  /** Deletes a VM like DELETE /api/vms/{uuid} (202: teardown runs in the background). */
  remove(req: FastifyRequest, principal: Principal, uuid: string): Promise<VmRecord>;
  /** Runs fn holding the VM's cluster-wide operation lock, marked busy (the reconciler waits). */
  exclusive<T>(uuid: string, fn: () => Promise<T>): Promise<T>;
  /** VmsService.createBatch: several VMs (ISO or template clones) all-or-nothing; see docs/architecture.md. */
  createBatch(req: FastifyRequest, actor: Principal, items: CreateVmInput[], opts?: CreateBatchOptions): Promise<VmRecord[]>;
}

export interface VmModuleOptions {
  disks: DiskImages;
  /** default: genisoimage */
  seeds?: SeedIsos;
  accel: Accel;
  /** graceful shutdown wait before the action reports the guest still running (default 60 s) */
  shutdownTimeoutMs?: number;
  reconcileEveryMs?: number;
  statsEveryMs?: number;
  /** bound on one live migration (default 300 s) */
  migrationTimeoutMs?: number;
  /** how often guest addresses are asked of libvirt (default 15 s) */
  addressesEveryMs?: number;
}

/** Directories libvirt-qemu must traverse (o+x) to open disks; disks themselves stay 0600. */
async function prepareDirs(ctx: AppContext, disksDir: string): Promise<void> {
  await mkdir(disksDir, { recursive: true, mode: 0o711 });
  for (const dir of [ctx.config.dataDir, disksDir]) {
    await chmod(dir, 0o711).catch((err: unknown) => ctx.log.warn({ err, dir }, 'cannot make directory traversable for libvirt-qemu'));
  }
  await ensureLibraryDir(ctx.config.isoDir).catch((err: unknown) => ctx.log.warn({ err, dir: ctx.config.isoDir }, 'cannot prepare the ISO library directory'));
}

export function registerVmModule(ctx: AppContext, opts: VmModuleOptions): FastifyPluginAsync {
  return async (app) => {
    const disksDir = join(ctx.config.dataDir, 'disks');
    await prepareDirs(ctx, disksDir);
    const rt: VmRuntime = {
      ctx,
      driverFor: (host) => ctx.hosts.registry.driverFor(host),
      disks: opts.disks,
      seeds: opts.seeds ?? createSeedIsos(),
      accel: opts.accel,
      hub: ctx.events,
      disksDir,
      shutdownTimeoutMs: opts.shutdownTimeoutMs ?? 60_000,
      ...createBackgroundTracker(ctx.log, ctx.cluster),
    };
    const store = createVmStore(rt);
    const lifecycle = createVmLifecycle(rt, store);
    const vms = createVmsService(rt, store, lifecycle);
    const settings = createVmSettingsService(rt, store, vms);
    const migrator = createVmMigrator(rt, store, vms, { liveTimeoutMs: opts.migrationTimeoutMs });
    const reconciler = createVmReconciler(rt, store, lifecycle, migrator);
    ctx.vmAccess = {
      loadVmFor: (p, uuid, o) => vms.loadVmFor(p, uuid, o),
      async refreshState(uuid) {
        const vm = await findVm(ctx.database.db, uuid);
        if (!vm) return;
        const observed = vmStateOf(await rt.driverFor(vm.host).getState(uuid));
        if (observed) await store.observe(vm, observed);
      },
      background: (uuid, op) => rt.background(uuid, op),
      isBusy: (uuid) => rt.busy.has(uuid),
      action: (req, p, uuid, action) => vms.action(req, p, uuid, action),
      remove: (req, p, uuid) => vms.remove(req, p, uuid),
      async exclusive(uuid, fn) {
        rt.busy.add(uuid);
        try {
          return await rt.exclusive(uuid, fn);
        } finally {
          rt.busy.delete(uuid);
        }
      },
      createBatch: (req, actor, items, o) => vms.createBatch(req, actor, items, o),
    };
    const sampler = createStatsSampler((host) => rt.driverFor(host));
    const stats = {
      sample: async (vm: Parameters<typeof sampler.sample>[0]) => {
        try {
          return await sampler.sample(vm);
        } catch (e) {
          throw toAppError(e);
        }
      },
      prune: (keep: Set<string>) => sampler.prune(keep),
    };

    ctx.events.setSnapshotProvider(async (p) => (await listVms(ctx.database.db, p.role === 'admin' ? undefined : p.id)).map(toVmDto));
    ctx.events.setVmLoader(async (uuid) => {
      const vm = await findVm(ctx.database.db, uuid);
      return vm && toVmDto(vm);
    });
    ctx.events.setWatchAuthorizer(async (p, uuid) => vms.loadVmFor(p, uuid).then(() => true, () => false));

    const unsubscribe = ctx.hosts.registry.subscribe((host, e) => {
      store.applyEvent(e, host).catch((err: unknown) => ctx.log.warn({ err, event: e.type, vm: e.uuid }, 'applying a libvirt event failed'));
    });

    // One reconciler per host across instances: the holder of its advisory lock (a dead holder's
    // session ends and the lock frees, so another instance takes over on its next tick).
    const reconcileLoop = startLeasedLoop(ctx, {
      name: 'vm-reconciler',
      everyMs: opts.reconcileEveryMs ?? 10_000,
      tick: async () => {
        for (const host of ctx.hosts.registry.names()) {
          if (!(await ctx.cluster.lead(reconcilerLease(host)))) continue;
          // one unreachable host must not hold up the others' reconcile
          await reconciler.tick(host).catch((err: unknown) => ctx.log.warn({ err, host }, 'reconcile of a host failed; retrying next tick'));
        }
      },
    });
    // After a reconnect events may have been missed: reconcile, then give every client a snapshot.
    const offConn = ctx.hosts.registry.onConnectionChange((host, s) => {
      ctx.metrics.libvirtConnection.set({ host }, s === 'connected' ? 1 : 0);
      if (s === 'connected') void reconcileLoop.kick().then(() => ctx.events.resyncAll());
    });

    // One poller per host across instances, like the reconciler.
    const addresses = createAddressPoller(rt, store);
    const addressLoop = startLeasedLoop(ctx, {
      name: 'vm-addresses',
      everyMs: opts.addressesEveryMs ?? 15_000,
      lease: ADDRESSES_LEASE,
      tick: () => addresses.tick(),
    });

    const statsLoop = startLeasedLoop(ctx, {
      name: 'vm-stats',
      everyMs: opts.statsEveryMs ?? 2_000,
      counted: false,
      tick: async () => {
        const watched = ctx.events.watchedVms();
        sampler.prune(watched);
        for (const uuid of watched) {
          const vm = await findVm(ctx.database.db, uuid);
          if (vm) ctx.events.publishStats(toVmDto(vm), await sampler.sample(vm).catch(() => ({ uuid, state: vm.state, unavailable: true })));
        }
      },
    });

    ctx.userResources.push({
      name: 'vms',
      count: (userId) => countVmsOf(ctx.database.db, userId),
      async deleteAll(req, userId) {
        for (const vm of await listVms(ctx.database.db, userId)) {
          if (vm.state === 'deleting') continue;
          await vms.remove(req, principalOf(req), vm.uuid, { wait: true });
        }
        // deletions already in flight (or resumed by the reconciler) must finish before the user row goes
        await rt.idle();
      },
    });

    // Exact list cache on the embedded database only (vm-list-cache.ts says why not on PostgreSQL).
    const listCache = createVmListCache();
    let unlistenRows: (() => Promise<void>) | undefined;
    if (ctx.database.raw.kind === 'pglite') {
      unlistenRows = await ctx.database.raw.pglite.listen(VM_ROWS_CHANNEL, () => listCache.invalidate());
      listCache.activate();
    }

    app.addHook('onClose', async () => {
      listCache.invalidate();
      await unlistenRows?.().catch(() => undefined);
      unsubscribe();
      offConn();
      const stopped = Promise.all([reconcileLoop.stop(), statsLoop.stop(), addressLoop.stop()]);
      await rt.idle();
      await stopped;
    });

    await app.register(registerVmRoutes({ vms, settings, stats, reconciler, migrator, listCache }));
  };
}
