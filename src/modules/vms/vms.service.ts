// VM use cases: create, read, delete and power actions. Ownership is decided in ONE place
// (loadVmFor): another user's VM does not exist for the caller (404), on every route. Every
// state-changing request is audited and counted, refused ones included.
import type { FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../../platform/db/db.js';
import { inTransaction, isUniqueViolation, type Queryable } from '../../platform/db/query.js';
import { conflict, notFound, unavailable, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import { findIso } from '../isos/index.js';
import { diskPathFor, type VmLifecycle } from './vm-lifecycle.js';
import { runPolicies } from './vm-policies.js';
import { vmLockKey, type VmRuntime } from './vm-runtime.js';
import { checkDelete, planAction, vmStateOf, type VmAction } from './vm-state.js';
import type { VmStore } from './vm-store.js';
import { checkSize, normalizeVmName } from './vm-input.js';
import { toAppError } from './vm-errors.js';
import { findVm, insertVm, listVms, nameTaken, type VmRecord } from './vms.repo.js';

export interface CreateVmInput {
  name: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  iso?: string | null;
  start?: boolean;
}

export interface VmsService {
  loadVmFor(principal: Principal, uuid: string, opts?: { tx?: Tx; forUpdate?: boolean }): Promise<VmRecord>;
  list(principal: Principal): Promise<VmRecord[]>;
  listAll(): Promise<VmRecord[]>;
  create(req: FastifyRequest, principal: Principal, input: CreateVmInput): Promise<VmRecord>;
  remove(req: FastifyRequest | undefined, principal: Principal, uuid: string, opts?: { wait?: boolean }): Promise<VmRecord>;
  action(req: FastifyRequest, principal: Principal, uuid: string, action: VmAction): Promise<VmRecord>;
  /** Audits and counts a refused or failed request, then rethrows it as a contract error. */
  tracked<T>(req: FastifyRequest, action: string, uuid: string | null, fn: () => Promise<T>): Promise<T>;
}

export function createVmsService(rt: VmRuntime, store: VmStore, lifecycle: VmLifecycle): VmsService {
  const { ctx, driver } = rt;
  const db = ctx.database.db;

  const requireHypervisor = (): void => {
    if (driver.status() !== 'connected') throw unavailable('The hypervisor is not connected; try again shortly');
  };

  async function loadVmFor(principal: Principal, uuid: string, opts: { tx?: Tx; forUpdate?: boolean } = {}): Promise<VmRecord> {
    const q: Queryable = opts.tx ?? db;
    const vm = await findVm(q, uuid, { forUpdate: opts.forUpdate });
    if (!vm || (principal.role !== 'admin' && vm.ownerId !== principal.id)) throw notFound('VM');
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
      const observed = await lifecycleState(vm.uuid);
      await store.write(vm.uuid, { state: observed ?? 'error', errorMessage: `${action} failed: ${e instanceof Error ? e.message : String(e)}`, ifVersion: vm.stateVersion });
    } finally {
      end({ result });
      ctx.metrics.vmActions.inc({ action, result });
    }
  }

  const lifecycleState = (uuid: string) => lifecycle.observedState(uuid).catch(() => null);

  return {
    loadVmFor,
    tracked,
    list: (principal) => listVms(db, principal.role === 'admin' ? undefined : principal.id),
    listAll: () => listVms(db),

    create: (req, principal, input) =>
      tracked(req, 'create', null, async () => {
        const name = normalizeVmName(input.name);
        const b = ctx.config.vmBounds;
        const size = { vcpus: checkSize('vcpus', input.vcpus, b), memoryMb: checkSize('memory_mb', input.memory_mb, b), diskGb: checkSize('disk_gb', input.disk_gb, b) };
        requireHypervisor();
        const uuid = randomUUID();
        // Claimed before the row exists, so no instance's reconciler can take a fresh `creating`
        // row for the leftover of a crash between our commit and the provisioning start.
        const lockKey = vmLockKey(uuid);
        const claimed = await ctx.cluster.tryLock(lockKey);
        const release = async () => {
          if (claimed) await ctx.cluster.unlock(lockKey);
        };
        const vm = await inTransaction(db, async (tx) => {
          if (input.iso && !(await findIso(tx, input.iso))) throw validationFailed('iso', 'unknown ISO id');
          if (await nameTaken(tx, principal.id, name)) throw conflict('You already have a VM with this name');
          await runPolicies(ctx.vmPolicies, 'beforeCreate', tx, { actor: principal, ownerId: principal.id, host: 'default', ...size });
          const row = await insertVm(tx, {
            uuid,
            ownerId: principal.id,
            name,
            ...size,
            isoId: input.iso ?? null,
            bootOrder: input.iso ? ['cdrom', 'hd'] : ['hd', 'cdrom'],
            host: 'default',
            desiredState: input.start ? 'running' : 'stopped',
            diskPath: diskPathFor(rt.disksDir, uuid),
          });
          await audit(tx, req, { action: 'vm.create', targetType: 'vm', targetId: uuid, result: 'success', details: { name, phase: 'accepted', ...size, iso: input.iso ?? null } });
          return row;
        }).catch(async (e: unknown) => {
          await release();
          if (isUniqueViolation(e)) throw conflict('You already have a VM with this name');
          throw e;
        });
        store.publish('vm.created', vm);
        rt.background(uuid, () => lifecycle.provision(vm, req).finally(release));
        return vm;
      }),

    remove: (req, principal, uuid, opts = {}) => {
      const run = async () => {
        requireHypervisor();
        const vm = await inTransaction(db, async (tx) => {
          const found = await loadVmFor(principal, uuid, { tx, forUpdate: true });
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
        requireHypervisor();
        const { vm, next, plan } = await acceptAction(req, principal, uuid, action);
        if (plan.mode === 'background') {
          store.publish('vm.state', next);
          rt.background(uuid, () => runPowerOp(next, action));
          return next;
        }
        // a failure here propagates to tracked(), which counts and audits it
        const end = ctx.metrics.vmActionDuration.startTimer({ action });
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
