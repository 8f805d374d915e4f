// VM use cases: create, read, delete and power actions. Ownership is decided in ONE place
// (loadVmFor): another user's VM does not exist for the caller (404), on every route. Every
// state-changing request is audited and counted, refused ones included.
import type { FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../../platform/db/db.js';
import { inTransaction, isUniqueViolation, type Queryable } from '../../platform/db/query.js';
import { conflict, invalidState, notFound, unavailable, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import { findIso } from '../isos/index.js';
import { diskPathFor, type VmLifecycle } from './vm-lifecycle.js';
import { runPolicies } from './vm-policies.js';
import { vmLockKey, type VmRuntime } from './vm-runtime.js';
import { checkDelete, planAction, vmStateOf, type VmAction } from './vm-state.js';
import type { VmStore } from './vm-store.js';
import { checkSize, normalizeVmName } from './vm-input.js';
import { requireFreeSpace } from './vm-disk-space.js';
import { toAppError } from './vm-errors.js';
import { findVm, insertVm, listVmPage, listVms, nameTaken, type CloneMode, type NewVm, type VmRecord } from './vms.repo.js';
import { checkUserData, hostnameFor, type CloudInitSpec } from './cloud-init.js';
import { listSshKeys } from '../sshkeys/index.js';

/** Upper bound of one batch (a classroom); larger groups are provisioned in several batches. */
export const MAX_BATCH = 50;

export interface CreateVmInput {
  name: string;
  /** required unless a template gives a minimum (then default = the template's minimum) */
  vcpus?: number;
  memory_mb?: number;
  disk_gb?: number;
  iso?: string | null;
  start?: boolean;
  /** create from this template (id) instead of an empty disk */
  template?: string | null;
  /** with a template: 'linked' (qcow2 overlay on the base, default) or 'full' (independent copy) */
  clone_mode?: CloneMode;
  /** with a cloud-init template: the user's own #cloud-config, merged into the seed */
  user_data?: string | null;
  /** who will own the VM (default: the actor). Quotas charge the owner; the name is unique per owner. */
  owner_id?: string;
}

export interface CreateBatchOptions {
  /**
   * Runs inside the transaction that inserts the rows, after the policies (quotas) passed: a
   * caller's own checks and writes (e.g. a group quota, group membership rows) commit or roll
   * back together with the VMs.
   */
  inTx?: (tx: Tx, rows: VmRecord[]) => Promise<void>;
  /** audit action name (default 'vm.create') */
  auditAction?: string;
}

export interface VmsService {
  loadVmFor(principal: Principal, uuid: string, opts?: { tx?: Tx; forUpdate?: boolean }): Promise<VmRecord>;
  /** One page of the caller's VMs (admins: every VM) and how many there are in all. */
  list(principal: Principal, page: { limit: number; offset: number }): Promise<{ items: VmRecord[]; total: number }>;
  listAll(): Promise<VmRecord[]>;
  create(req: FastifyRequest, principal: Principal, input: CreateVmInput): Promise<VmRecord>;
  /**
   * Creates several VMs all-or-nothing: one transaction validates every item, runs the policies
   * (quotas) for each and inserts every row in `creating`; after the commit each VM is provisioned
   * in the background (disk → seed → define → start), exactly like a single create. A refusal of
   * any item (quota, name taken, unknown template) creates none. See docs/architecture.md.
   */
  createBatch(req: FastifyRequest, principal: Principal, items: CreateVmInput[], opts?: CreateBatchOptions): Promise<VmRecord[]>;
  remove(req: FastifyRequest | undefined, principal: Principal, uuid: string, opts?: { wait?: boolean }): Promise<VmRecord>;
  action(req: FastifyRequest, principal: Principal, uuid: string, action: VmAction): Promise<VmRecord>;
  /** Audits and counts a refused or failed request, then rethrows it as a contract error. */
  tracked<T>(req: FastifyRequest, action: string, uuid: string | null, fn: () => Promise<T>): Promise<T>;
}

export function createVmsService(rt: VmRuntime, store: VmStore, lifecycle: VmLifecycle): VmsService {
  const { ctx } = rt;
  const db = ctx.database.db;

  const driverOf = (vm: VmRecord) => rt.driverFor(vm.host);

  /** Refuses before anything is written when the VM's host cannot be reached right now. */
  const requireHost = (vm: VmRecord): void => {
    if (!ctx.hosts.registry.isUp(vm.host)) throw unavailable(`The VM's hypervisor host (${vm.host}) is not reachable; try again shortly`);
  };

  async function loadVmFor(principal: Principal, uuid: string, opts: { tx?: Tx; forUpdate?: boolean } = {}): Promise<VmRecord> {
    const q: Queryable = opts.tx ?? db;
    const vm = await findVm(q, uuid, { forUpdate: opts.forUpdate });
    if (!vm || (principal.role !== 'admin' && vm.ownerId !== principal.id)) throw notFound('VM');
    // every state-changing path loads its VM for update: none may act while the VM moves hosts
    if (opts.forUpdate && vm.migratingTo) throw invalidState(`The VM is migrating to host ${vm.migratingTo}; try again when the move is done`, { state: vm.state, migrating_to: vm.migratingTo });
    return vm;
  }

  async function tracked<T>(req: FastifyRequest, action: string, uuid: string | null, fn: () => Promise<T>): Promise<T> {
    const end = ctx.metrics.vmActionDuration.startTimer({ action });
    try {
      return await fn();
    } catch (e) {
      end({ result: 'failure' });
      ctx.metrics.vmActions.inc({ action, result: 'failure' });
      const err = toAppError(e);
      await audit(db, req, { action: `vm.${action}`, targetType: 'vm', targetId: uuid, result: 'failure', details: { error: (err as Error).message } }).catch(
        (auditErr: unknown) => ctx.log.error({ err: auditErr }, 'audit write failed'),
      );
      throw err;
    }
  }

  /** The transaction of an action: lock, state machine, policies, transitional state. */
  async function acceptAction(req: FastifyRequest, principal: Principal, uuid: string, action: VmAction) {
    return inTransaction(db, async (tx) => {
      const vm = await loadVmFor(principal, uuid, { tx, forUpdate: true });
      requireHost(vm);
      const plan = planAction(vm.state, action);
      if (action === 'start') await runPolicies(ctx.vmPolicies, 'beforeStart', tx, { actor: principal, vm });
      let next = vm;
      if (plan.mode === 'background') {
        next = (await store.write(uuid, { state: plan.transitional, desiredState: plan.desired, errorMessage: null }, tx))!;
      }
      await audit(tx, req, { action: `vm.${action}`, targetType: 'vm', targetId: uuid, result: 'success', details: { from: vm.state, phase: plan.mode === 'background' ? 'accepted' : 'requested' } });
      return { vm, next, plan };
    });
  }

  /** Runs the libvirt side of a background power action and records what became of it. */
  async function runPowerOp(vm: VmRecord, action: VmAction): Promise<void> {
    const end = ctx.metrics.vmActionDuration.startTimer({ action });
    let result: 'success' | 'failure' = 'success';
    try {
      const driver = driverOf(vm);
      if (action === 'start') await driver.start(vm.uuid);
      else if (action === 'stop') await driver.destroy(vm.uuid);
      else if (action === 'shutdown') {
        const r = await driver.shutdown(vm.uuid, { waitMs: rt.shutdownTimeoutMs });
        if (r === 'timeout') {
          result = 'failure';
          const secs = Math.round(rt.shutdownTimeoutMs / 1000);
          await store.write(vm.uuid, { state: 'running', desiredState: 'running', errorMessage: `shutdown timed out after ${secs}s: the guest ignored the ACPI request and is still running`, ifVersion: vm.stateVersion });
          return;
        }
      }
      const observed = vmStateOf(await driver.getState(vm.uuid));
      if (observed) await store.write(vm.uuid, { state: observed, ifVersion: vm.stateVersion, clearPending: observed === 'stopped' });
    } catch (e) {
      result = 'failure';
      ctx.log.warn({ err: e, vm: vm.uuid, action }, 'VM action failed');
      const observed = await lifecycleState(vm);
      await store.write(vm.uuid, { state: observed ?? 'error', errorMessage: `${action} failed: ${e instanceof Error ? e.message : String(e)}`, ifVersion: vm.stateVersion });
    } finally {
      end({ result });
      ctx.metrics.vmActions.inc({ action, result });
    }
  }

  const lifecycleState = (vm: VmRecord) => lifecycle.observedState(vm).catch(() => null);

  /** Sizes, template and cloud-init of one item, resolved inside the creating transaction. */
  async function planItem(tx: Tx, principal: Principal, input: CreateVmInput, uuid: string): Promise<NewVm> {
    const name = normalizeVmName(input.name);
    const ownerId = input.owner_id ?? principal.id;
    if (ownerId !== principal.id && principal.role !== 'admin') throw notFound('User');
    const b = ctx.config.vmBounds;
    const template = input.template ? await ctx.templates.forClone(tx, principal, input.template) : null;
    if (!template && input.clone_mode) throw validationFailed('clone_mode', 'clone_mode needs a template');
    if (!template && input.user_data) throw validationFailed('user_data', 'user_data needs a cloud-init template');
    const size = (field: 'vcpus' | 'memory_mb' | 'disk_gb', given: number | undefined, min: number | undefined): number => {
      if (given === undefined && min === undefined) throw validationFailed(field, `${field} is required`);
      const v = checkSize(field, given ?? min!, b);
      if (min !== undefined && v < min) throw validationFailed(field, `${field} must be at least ${min} for this template`);
      return v;
    };
    // a clone's disk is at least the base's virtual size (quotas count the virtual size)
    const baseGb = template ? Math.max(template.minDiskGb, Math.ceil(template.virtualSizeBytes / 1024 ** 3)) : undefined;
    const sizes = { vcpus: size('vcpus', input.vcpus, template?.minVcpus), memoryMb: size('memory_mb', input.memory_mb, template?.minMemoryMb), diskGb: size('disk_gb', input.disk_gb, baseGb) };
    if (input.iso && !(await findIso(tx, input.iso))) throw validationFailed('iso', 'unknown ISO id');
    let cloudInit: CloudInitSpec | null = null;
    if (template?.cloudInit) {
      const keys = (await listSshKeys(tx, ownerId)).map((k) => k.publicKey);
      cloudInit = { hostname: hostnameFor(name, uuid), ssh_authorized_keys: keys, user_data: input.user_data ? checkUserData(input.user_data) : null };
    } else if (input.user_data) throw validationFailed('user_data', 'this template has no cloud-init');
    return {
      uuid,
      ownerId,
      name,
      ...sizes,
      isoId: input.iso ?? null,
      bootOrder: input.iso ? ['cdrom', 'hd'] : ['hd', 'cdrom'],
      // placement: UNAVAILABLE when no active host is reachable; the capacity guard (a policy) then
      // locks the host's row. Earlier items of a batch are rows already, so a batch spreads too.
      host: await ctx.hosts.place(tx, { vcpus: sizes.vcpus, memoryMb: sizes.memoryMb }),
      desiredState: input.start ? 'running' : 'stopped',
      diskPath: diskPathFor(rt.disksDir, uuid),
      templateId: template?.id ?? null,
      cloneMode: template ? (input.clone_mode ?? 'linked') : null,
      cloudInit,
    };
  }

  function createBatch(req: FastifyRequest, principal: Principal, items: CreateVmInput[], opts: CreateBatchOptions = {}): Promise<VmRecord[]> {
    return tracked(req, 'create', null, async () => {
      if (items.length === 0) throw validationFailed('items', 'nothing to create');
      if (items.length > MAX_BATCH) throw validationFailed('items', `at most ${MAX_BATCH} VMs per batch`);
      // the local disk check first: a full data dir is the answer even while a host flaps
      await requireFreeSpace(rt.disksDir);
      const uuids = items.map(() => randomUUID());
      // Claimed before the rows exist, so no instance's reconciler can take a fresh `creating`
      // row for the leftover of a crash between our commit and the provisioning start.
      const claimed = await Promise.all(uuids.map((u) => ctx.cluster.tryLock(vmLockKey(u))));
      const release = async (i: number) => {
        if (claimed[i]) await ctx.cluster.unlock(vmLockKey(uuids[i]!));
      };
      const rows = await inTransaction(db, async (tx) => {
        const out: VmRecord[] = [];
        const names = new Set<string>();
        for (const [i, input] of items.entries()) {
          const planned = await planItem(tx, principal, input, uuids[i]!);
          const key = `${planned.ownerId}/${planned.name}`;
          if (names.has(key) || (await nameTaken(tx, planned.ownerId, planned.name))) throw conflict(items.length > 1 ? `A VM named ${planned.name} already exists for its owner` : 'You already have a VM with this name');
          names.add(key);
          await runPolicies(ctx.vmPolicies, 'beforeCreate', tx, { actor: principal, ownerId: planned.ownerId, host: planned.host, vcpus: planned.vcpus, memoryMb: planned.memoryMb, diskGb: planned.diskGb });
          const row = await insertVm(tx, planned);
          await audit(tx, req, {
            action: opts.auditAction ?? 'vm.create',
            targetType: 'vm',
            targetId: row.uuid,
            result: 'success',
            details: { name: row.name, phase: 'accepted', vcpus: row.vcpus, memoryMb: row.memoryMb, diskGb: row.diskGb, iso: row.isoId, template: row.templateId, clone_mode: row.cloneMode, owner: row.ownerId },
          });
          out.push(row);
        }
        if (opts.inTx) await opts.inTx(tx, out);
        return out;
      }).catch(async (e: unknown) => {
        await Promise.all(uuids.map((_u, i) => release(i)));
        if (isUniqueViolation(e)) throw conflict('A VM with this name already exists for its owner');
        throw e;
      });
      for (const [i, vm] of rows.entries()) {
        store.publish('vm.created', vm);
        rt.background(vm.uuid, () => lifecycle.provision(vm, req).finally(() => release(i)));
      }
      return rows;
    });
  }

  return {
    loadVmFor,
    tracked,
    list: (principal, page) => listVmPage(db, { ownerId: principal.role === 'admin' ? undefined : principal.id, ...page }),
    listAll: () => listVms(db),

    create: async (req, principal, input) => (await createBatch(req, principal, [input]))[0]!,
    createBatch,

    remove: (req, principal, uuid, opts = {}) => {
      const run = async () => {
        const vm = await inTransaction(db, async (tx) => {
          const found = await loadVmFor(principal, uuid, { tx, forUpdate: true });
          requireHost(found);
          checkDelete(found.state);
          const next = (await store.write(uuid, { state: 'deleting', desiredState: 'deleted', errorMessage: null }, tx))!;
          await audit(tx, req, { action: 'vm.delete', targetType: 'vm', targetId: uuid, result: 'success', details: { name: found.name, from: found.state, phase: 'accepted' } });
          return next;
        });
        store.publish('vm.state', vm);
        if (opts.wait) {
          rt.busy.add(uuid);
          try {
            await rt.exclusive(uuid, () => lifecycle.teardown(vm, req));
          } finally {
            rt.busy.delete(uuid);
          }
        } else rt.background(uuid, () => lifecycle.teardown(vm, req));
        return vm;
      };
      return req ? tracked(req, 'delete', uuid, run) : run();
    },

    action: (req, principal, uuid, action) =>
      tracked(req, action, uuid, async () => {
        const { vm, next, plan } = await acceptAction(req, principal, uuid, action);
        if (plan.mode === 'background') {
          store.publish('vm.state', next);
          rt.background(uuid, () => runPowerOp(next, action));
          return next;
        }
        // a failure here propagates to tracked(), which counts and audits it
        const end = ctx.metrics.vmActionDuration.startTimer({ action });
        const driver = driverOf(vm);
        if (action === 'pause') await driver.suspend(uuid);
        else if (action === 'resume') await driver.resume(uuid);
        else if (action === 'reboot') await driver.reboot(uuid);
        else await driver.reset(uuid);
        end({ result: 'success' });
        ctx.metrics.vmActions.inc({ action, result: 'success' });
        const written = await store.write(uuid, { state: plan.transitional, desiredState: plan.desired, errorMessage: null, ifStates: [vm.state, plan.transitional] });
        return written ?? (await loadVmFor(principal, uuid));
      }),
  };
}
