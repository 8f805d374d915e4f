// The long VM operations, run in the background after the request has answered 202, and again
// by the reconciler after a crash. Each step is idempotent so a half-done operation can simply be
// run again: create = disk → define → (start); delete = destroy → undefine (snapshot metadata
// included) → remove exactly this VM's disk → remove the row.
import { join } from 'node:path';
import { isHypervisorError, type HypervisorDriver } from '../../hypervisor/index.js';
import { audit } from '../audit/index.js';
import { isoPathOf } from '../isos/index.js';
import { findIso } from '../isos/index.js';
import { vmStateOf, type VmState } from './vm-state.js';
import { deleteVmRow, findVm, releaseBacking, type VmRecord } from './vms.repo.js';
import { buildSeedFiles } from './cloud-init.js';
import type { VmRuntime } from './vm-runtime.js';
import type { VmStore } from './vm-store.js';
import { deleteVolumes, volumeNamesOf } from './vm-storage-move.js';

export interface VmLifecycle {
  provision(vm: VmRecord, req?: AuditReq): Promise<void>;
  /**
   * Crash recovery of a row left in `creating`: the user was answered 202, so the creation is
   * finished (domain defined: start it if asked; no domain yet: provision again from a fresh disk).
   */
  recoverCreate(vm: VmRecord): Promise<void>;
  teardown(vm: VmRecord, req?: AuditReq): Promise<void>;
  /** Asks libvirt what the VM is now (null: unknown / no domain). */
  observedState(vm: Pick<VmRecord, 'uuid' | 'host'>): Promise<VmState | null>;
}

type AuditReq = Parameters<typeof audit>[1];

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The one disk path a VM may have; anything else in the row is refused, never deleted. */
export function diskPathFor(disksDir: string, uuid: string): string {
  return join(disksDir, `${uuid}.qcow2`);
}

/** The VM's cloud-init seed ISO (derived from the UUID, never stored or taken from input). */
export function seedPathFor(disksDir: string, uuid: string): string {
  return join(disksDir, `${uuid}-cidata.iso`);
}

async function existsDomain(driver: HypervisorDriver, uuid: string): Promise<boolean> {
  try {
    await driver.getState(uuid);
    return true;
  } catch (e) {
    if (isHypervisorError(e, 'not_found')) return false;
    throw e;
  }
}

export function createVmLifecycle(rt: VmRuntime, store: VmStore): VmLifecycle {
  const { ctx, disks, seeds } = rt;
  const driverOf = (vm: Pick<VmRecord, 'host'>) => rt.driverFor(vm.host);
  const db = ctx.database.db;
  const timer = (action: string) => {
    const end = ctx.metrics.vmActionDuration.startTimer({ action });
    return (result: 'success' | 'failure') => {
      end({ result });
      ctx.metrics.vmActions.inc({ action, result });
    };
  };

  const observedState = async (vm: Pick<VmRecord, 'uuid' | 'host'>): Promise<VmState | null> => {
    try {
      return vmStateOf(await driverOf(vm).getState(vm.uuid));
    } catch (e) {
      if (isHypervisorError(e, 'not_found')) return null;
      throw e;
    }
  };

  async function undoCreate(vm: VmRecord): Promise<void> {
    const driver = driverOf(vm);
    if (await existsDomain(driver, vm.uuid)) {
      await driver.destroy(vm.uuid).catch(() => undefined);
      await driver.undefineDomain(vm.uuid);
    }
    await disks.deleteDisk(checkedDiskPath(vm));
    await seeds.remove(seedPathFor(rt.disksDir, vm.uuid));
  }

  /** The VM's disk: empty, an overlay on its template's base (linked) or a copy of it (full). */
  async function makeDisk(vm: VmRecord): Promise<void> {
    const path = checkedDiskPath(vm);
    if (!vm.cloneMode) return disks.createDisk(path, vm.diskGb);
    const base = vm.backingTemplateId ? await ctx.templates.basePathOf(vm.backingTemplateId) : null;
    if (!base) throw new Error('the template of this clone no longer exists');
    if (vm.cloneMode === 'linked') return disks.createOverlay(path, base, vm.diskGb);
    await disks.copyImage(base, path, vm.diskGb);
    await releaseBacking(db, vm.uuid);
  }

  function checkedDiskPath(vm: VmRecord): string {
    const expected = diskPathFor(rt.disksDir, vm.uuid);
    if (vm.diskPath !== expected) throw new Error(`refusing to touch unexpected disk path for VM ${vm.uuid}`);
    return expected;
  }

  async function rollBack(vm: VmRecord, reason: string, req?: AuditReq): Promise<void> {
    await undoCreate(vm);
    const failed = await store.write(vm.uuid, { state: 'error', errorMessage: `creation failed: ${reason}`, ifStates: ['creating'] });
    await deleteVmRow(db, vm.uuid);
    if (failed) store.publish('vm.deleted', failed);
    await audit(db, req, { action: 'vm.create', targetType: 'vm', targetId: vm.uuid, result: 'failure', details: { name: vm.name, error: reason } });
  }

  async function finishCreate(vm: VmRecord, req?: AuditReq): Promise<void> {
    let startError: string | null = null;
    if (vm.desiredState === 'running') {
      try {
        const s = await driverOf(vm).getState(vm.uuid);
        if (s === 'shutoff') await driverOf(vm).start(vm.uuid);
      } catch (e) {
        startError = messageOf(e);
      }
    }
    const observed = (await observedState(vm)) ?? 'stopped';
    const state: VmState = startError ? 'error' : observed;
    await store.write(vm.uuid, { state, errorMessage: startError ? `start failed: ${startError}` : null, ifStates: ['creating'] });
    await audit(db, req, { action: 'vm.create', targetType: 'vm', targetId: vm.uuid, result: startError ? 'failure' : 'success', details: { name: vm.name, started: vm.desiredState === 'running', ...(startError ? { error: startError } : {}) } });
  }

  async function provision(vm: VmRecord, req?: AuditReq): Promise<void> {
    const done = timer('create');
    try {
      const iso = vm.isoId ? await findIso(db, vm.isoId) : undefined;
      await makeDisk(vm);
      const seedIsoPath = vm.cloudInit ? seedPathFor(rt.disksDir, vm.uuid) : null;
      if (seedIsoPath && vm.cloudInit) await seeds.create(seedIsoPath, buildSeedFiles(vm.uuid, vm.cloudInit));
      await driverOf(vm).defineDomain({
        uuid: vm.uuid,
        title: vm.name,
        vcpus: vm.vcpus,
        memoryMb: vm.memoryMb,
        accel: rt.accel,
        diskPath: vm.diskPath,
        isoPath: iso ? isoPathOf(ctx.config.isoDir, iso) : null,
        seedIsoPath,
        bootOrder: vm.bootOrder,
      });
    } catch (e) {
      done('failure');
      if (isHypervisorError(e, 'disconnected') || isHypervisorError(e, 'timeout')) {
        // the host went away mid-way: the user was answered 202, so the row stays `creating` and
        // the reconciler finishes it (recoverCreate) once the host answers again
        ctx.log.warn({ err: e, vm: vm.uuid }, 'VM creation cut off by the hypervisor connection; the reconciler finishes it');
        return;
      }
      ctx.log.warn({ err: e, vm: vm.uuid }, 'VM creation failed; rolling back');
      await rollBack(vm, messageOf(e), req);
      return;
    }
    await finishCreate(vm, req);
    done('success');
  }

  return {
    observedState,

    provision,

    async recoverCreate(vm) {
      if (await existsDomain(driverOf(vm), vm.uuid)) {
        ctx.log.info({ vm: vm.uuid }, 'finishing a VM creation interrupted by a restart');
        await finishCreate(vm);
      } else {
        ctx.log.info({ vm: vm.uuid }, 'redoing a VM creation interrupted by a restart');
        // the disk or seed may be half-made (qemu-img was cut off with us): start again from none
        await disks.deleteDisk(checkedDiskPath(vm));
        await seeds.remove(seedPathFor(rt.disksDir, vm.uuid));
        await provision(vm);
      }
    },

    async teardown(vm, req) {
      const done = timer('delete');
      try {
        const driver = driverOf(vm);
        const s = await observedState(vm);
        if (s !== null && s !== 'stopped') await driver.destroy(vm.uuid).catch((e: unknown) => {
          if (!isHypervisorError(e, 'invalid_state')) throw e; // already off
        });
        if (s !== null) {
          await driver.undefineDomain(vm.uuid).catch((e: unknown) => {
            if (!isHypervisorError(e, 'not_found')) throw e;
          });
        }
        const local = await disks.deleteDisk(checkedDiskPath(vm));
        await seeds.remove(seedPathFor(rt.disksDir, vm.uuid));
        // not on this machine: the VM was moved to a host without shared storage, which has them
        if (!local) await deleteVolumes(driver, rt.disksDir, volumeNamesOf(vm));
        const last = (await findVm(db, vm.uuid)) ?? vm;
        await deleteVmRow(db, vm.uuid);
        store.publish('vm.deleted', last);
        await audit(db, req, { action: 'vm.delete', targetType: 'vm', targetId: vm.uuid, result: 'success', details: { name: vm.name } });
        done('success');
      } catch (e) {
        done('failure');
        // stays `deleting`: the reconciler retries until libvirt lets the domain go
        await store.write(vm.uuid, { state: 'deleting', errorMessage: `delete failed (will retry): ${messageOf(e)}`, ifStates: ['deleting'] });
        await audit(db, req, { action: 'vm.delete', targetType: 'vm', targetId: vm.uuid, result: 'failure', details: { name: vm.name, error: messageOf(e) } });
        throw e;
      }
    },
  };
}
