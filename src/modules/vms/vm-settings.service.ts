// VM configuration: rename/resize (PATCH), CD-ROM media and boot order. A change libvirt can make
// to the running guest is applied live; otherwise it is persisted and reported as "next_boot"
// (and kept in pending_changes until the next power cycle). libvirt is called as the last step
// inside the transaction that holds the row lock, so the DB and the domain change together.
import type { FastifyRequest } from 'fastify';
import type { BootDevice, ChangeEffect } from '../../hypervisor/index.js';
import { inTransaction, isUniqueViolation } from '../../platform/db/query.js';
import { conflict, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import { findIso, isoPathOf, type IsoRecord } from '../isos/index.js';
import { checkBootOrder, checkSize, normalizeVmName } from './vm-input.js';
import { runPolicies } from './vm-policies.js';
import type { VmRuntime } from './vm-runtime.js';
import { checkDiskResize, checkEdit } from './vm-state.js';
import type { VmStore } from './vm-store.js';
import { nameTaken, updateVm, type PendingChanges, type VmEdit, type VmRecord } from './vms.repo.js';
import type { VmsService } from './vms.service.js';

export type Applied = 'live' | 'next_boot';

export interface PatchVmInput {
  name?: string;
  vcpus?: number;
  memory_mb?: number;
  disk_gb?: number;
}

export interface VmSettingsService {
  patch(req: FastifyRequest, principal: Principal, uuid: string, input: PatchVmInput): Promise<{ vm: VmRecord; applied: Applied | null }>;
  getMedia(principal: Principal, uuid: string): Promise<{ iso: IsoRecord | null }>;
  setMedia(req: FastifyRequest, principal: Principal, uuid: string, isoId: string | null): Promise<{ iso: IsoRecord | null; applied: Applied }>;
  getBootOrder(principal: Principal, uuid: string): Promise<BootDevice[]>;
  setBootOrder(req: FastifyRequest, principal: Principal, uuid: string, order: string[]): Promise<{ bootOrder: BootDevice[]; applied: Applied }>;
}

/** 'config' (not running) also takes effect at the next boot. */
const appliedOf = (e: ChangeEffect): Applied => (e === 'live' ? 'live' : 'next_boot');

/** The weaker of two effects: one next_boot change makes the whole PATCH next_boot. */
const combine = (a: Applied | null, b: Applied): Applied => (a === 'next_boot' || b === 'next_boot' ? 'next_boot' : 'live');

export function createVmSettingsService(rt: VmRuntime, store: VmStore, vms: VmsService): VmSettingsService {
  const { ctx, disks } = rt;
  const db = ctx.database.db;

  return {
    patch: (req, principal, uuid, input) =>
      vms.tracked(req, 'resize', uuid, async () => {
        const b = ctx.config.vmBounds;
        const name = input.name !== undefined ? normalizeVmName(input.name) : undefined;
        const vcpus = input.vcpus !== undefined ? checkSize('vcpus', input.vcpus, b) : undefined;
        const memoryMb = input.memory_mb !== undefined ? checkSize('memory_mb', input.memory_mb, b) : undefined;
        const diskGb = input.disk_gb !== undefined ? checkSize('disk_gb', input.disk_gb, b) : undefined;
        const result = await inTransaction(db, async (tx) => {
          const vm = await vms.loadVmFor(principal, uuid, { tx, forUpdate: true });
          checkEdit(vm.state, 'change');
          const edit: VmEdit = {};
          if (name !== undefined && name !== vm.name) {
            if (await nameTaken(tx, vm.ownerId, name, vm.uuid)) throw conflict('You already have a VM with this name');
            edit.name = name;
          }
          const next = { vcpus: vcpus ?? vm.vcpus, memoryMb: memoryMb ?? vm.memoryMb, diskGb: diskGb ?? vm.diskGb };
          const resized = next.vcpus !== vm.vcpus || next.memoryMb !== vm.memoryMb || next.diskGb !== vm.diskGb;
          if (next.diskGb < vm.diskGb) throw validationFailed('disk_gb', 'disks can only grow');
          if (next.diskGb !== vm.diskGb) checkDiskResize(vm.state);
          if (resized) await runPolicies(ctx.vmPolicies, 'beforeResize', tx, { actor: principal, vm, next });
          let applied: Applied | null = null;
          const pending: PendingChanges = { ...vm.pendingChanges };
          if (next.vcpus !== vm.vcpus) {
            const a = appliedOf(await rt.driverFor(vm.host).setVcpus(uuid, next.vcpus));
            applied = combine(applied, a);
            edit.vcpus = next.vcpus;
            if (a === 'next_boot' && vm.state !== 'stopped') pending.vcpus = next.vcpus;
            else delete pending.vcpus;
          }
          if (next.memoryMb !== vm.memoryMb) {
            const a = appliedOf(await rt.driverFor(vm.host).setMemory(uuid, next.memoryMb));
            applied = combine(applied, a);
            edit.memoryMb = next.memoryMb;
            if (a === 'next_boot' && vm.state !== 'stopped') pending.memory_mb = next.memoryMb;
            else delete pending.memory_mb;
          }
          if (next.diskGb !== vm.diskGb) {
            await disks.resizeDisk(vm.diskPath, next.diskGb);
            applied = combine(applied, 'next_boot');
            edit.diskGb = next.diskGb;
          }
          edit.pendingChanges = pending;
          const updated = (await updateVm(tx, uuid, edit))!;
          await audit(tx, req, { action: resized ? 'vm.resize' : 'vm.rename', targetType: 'vm', targetId: uuid, result: 'success', details: { ...edit, applied } });
          return { vm: updated, applied };
        }).catch((e: unknown) => {
          if (isUniqueViolation(e)) throw conflict('You already have a VM with this name');
          throw e;
        });
        ctx.metrics.vmActions.inc({ action: 'resize', result: 'success' });
        store.publish('vm.updated', result.vm);
        return result;
      }),

    async getMedia(principal, uuid) {
      const vm = await vms.loadVmFor(principal, uuid);
      return { iso: vm.isoId ? ((await findIso(db, vm.isoId)) ?? null) : null };
    },

    setMedia: (req, principal, uuid, isoId) =>
      vms.tracked(req, 'media', uuid, async () => {
        const r = await inTransaction(db, async (tx) => {
          const vm = await vms.loadVmFor(principal, uuid, { tx, forUpdate: true });
          checkEdit(vm.state, 'change the media of');
          // for update: an admin deleting this ISO concurrently waits for us, then sees it attached
          const iso = isoId ? await findIso(tx, isoId, { forUpdate: true }) : null;
          if (isoId && !iso) throw validationFailed('iso', 'unknown ISO id');
          const effect = await rt.driverFor(vm.host).changeMedia(uuid, iso ? isoPathOf(ctx.config.isoDir, iso) : null);
          const updated = (await updateVm(tx, uuid, { isoId: iso?.id ?? null }))!;
          const applied = appliedOf(effect);
          await audit(tx, req, { action: 'vm.media', targetType: 'vm', targetId: uuid, result: 'success', details: { iso: iso?.id ?? null, name: iso?.name ?? null, applied } });
          return { vm: updated, iso: iso ?? null, applied };
        });
        ctx.metrics.vmActions.inc({ action: 'media', result: 'success' });
        store.publish('vm.updated', r.vm);
        return { iso: r.iso, applied: r.applied };
      }),

    async getBootOrder(principal, uuid) {
      return (await vms.loadVmFor(principal, uuid)).bootOrder;
    },

    setBootOrder: (req, principal, uuid, order) =>
      vms.tracked(req, 'boot_order', uuid, async () => {
        const bootOrder = checkBootOrder(order);
        const r = await inTransaction(db, async (tx) => {
          const vm = await vms.loadVmFor(principal, uuid, { tx, forUpdate: true });
          checkEdit(vm.state, 'change the boot order of');
          const applied = appliedOf(await rt.driverFor(vm.host).setBootOrder(uuid, bootOrder));
          const updated = (await updateVm(tx, uuid, { bootOrder }))!;
          await audit(tx, req, { action: 'vm.boot_order', targetType: 'vm', targetId: uuid, result: 'success', details: { boot_order: bootOrder, applied } });
          return { vm: updated, applied };
        });
        ctx.metrics.vmActions.inc({ action: 'boot_order', result: 'success' });
        store.publish('vm.updated', r.vm);
        return { bootOrder, applied: r.applied };
      }),
  };
}
