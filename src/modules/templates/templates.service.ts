// Template use cases: list/get what the caller may see; make one from a stopped VM (its disk is
// copied, flattened, into a read-only base) or from an uploaded cloud image; change; delete
// (refused while any VM's disk depends on the base). Owners pay for a template's disk in their
// disk quota. Creation from a VM is a background copy: the row is `creating` until the base is
// sealed; a crash leaves a `creating` row that the reconciler below removes with its file.
import type { FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { rename, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { AppContext } from '../../app.js';
import type { DiskImages } from '../../hypervisor/index.js';
import type { Tx } from '../../platform/db/db.js';
import { inTransaction, isUniqueViolation, type Queryable } from '../../platform/db/query.js';
import { conflict, forbidden, invalidState, notFound, validationFailed } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { audit } from '../audit/index.js';
import type { CloneSource, TemplateSource } from '../vms/index.js';
import { basePathFor, checkUploadedImage, ensureTemplatesDir, receiveUpload, removeBase, sealBase } from './template-files.js';
import { canManage, canSee, gbCeil, TEMPLATE_DESCRIPTION_MAX, TEMPLATE_NAME_MAX, visibilityProblem } from './template-rules.js';
import * as repo from './templates.repo.js';
import type { TemplateRecord, TemplateVisibility } from './templates.repo.js';

export interface TemplateMeta {
  name: string;
  description?: string;
  visibility?: TemplateVisibility;
  group_id?: string | null;
  min_vcpus?: number;
  min_memory_mb?: number;
  min_disk_gb?: number;
  cloud_init?: boolean;
}

export interface TemplatesDeps {
  disks: DiskImages;
  templatesDir: string;
  /** Inside the allocation transaction: refuses when `gb` more disk does not fit the owner's quota. */
  enforceDisk(tx: Tx, owner: Principal, gb: number): Promise<void>;
}

export const templateLockKey = (id: string): string => `template:${id}`;

function cleanText(field: string, v: string, max: number, allowNewlines: boolean): string {
  const s = v.normalize('NFC').trim();
  if ([...s].length > max) throw validationFailed(field, `${field} must be at most ${max} characters`);
  // eslint-disable-next-line no-control-regex
  const bad = allowNewlines ? /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/ : /[\u0000-\u001F\u007F]/;
  if (bad.test(s)) throw validationFailed(field, `${field} must not contain control characters`);
  return s;
}

function checkName(v: string): string {
  const s = cleanText('name', v, TEMPLATE_NAME_MAX, false);
  if (!s) throw validationFailed('name', 'name must not be empty');
  return s;
}

function checkMin(field: string, v: number | undefined, bound: { min: number; max: number }): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || v < bound.min || v > bound.max) throw validationFailed(field, `${field} must be between ${bound.min} and ${bound.max}`);
  return v;
}

export function createTemplatesService(ctx: AppContext, deps: TemplatesDeps) {
  const db = ctx.database.db;
  const b = ctx.config.vmBounds;

  async function loadFor(p: Principal, id: string, q: Queryable = db, lock?: 'update' | 'share'): Promise<TemplateRecord> {
    const t = await repo.findTemplate(q, id, lock);
    if (!t || !canSee(p, t, await ctx.groupsOf(q, p.id))) throw notFound('Template');
    return t;
  }

  async function checkMeta(tx: Tx, p: Principal, m: TemplateMeta, exceptId?: string) {
    const name = checkName(m.name);
    const visibility = m.visibility ?? 'private';
    const groupId = m.group_id ?? null;
    const problem = visibilityProblem(p, visibility, groupId, await ctx.groupsOf(tx, p.id));
    if (problem) throw validationFailed(visibility === 'group' ? 'group_id' : 'visibility', problem);
    if (await repo.nameTakenByOwner(tx, p.id, name, exceptId)) throw conflict('You already have a template with this name');
    return {
      name,
      description: cleanText('description', m.description ?? '', TEMPLATE_DESCRIPTION_MAX, true),
      visibility,
      groupId,
      minVcpus: checkMin('min_vcpus', m.min_vcpus, b.vcpus) ?? 1,
      minMemoryMb: checkMin('min_memory_mb', m.min_memory_mb, b.memoryMb) ?? Math.max(64, b.memoryMb.min),
      minDiskGb: checkMin('min_disk_gb', m.min_disk_gb, b.diskGb),
    };
  }

  const uniqueToConflict = (e: unknown): never => {
    if (isUniqueViolation(e)) throw conflict('You already have a template with this name');
    throw e;
  };

  /** Background part of create-from-VM: copy (flattened), seal, measure, mark ready; undo on failure. */
  async function buildFromVm(req: FastifyRequest, t: TemplateRecord, vmUuid: string, diskPath: string): Promise<void> {
    try {
      await ctx.vmAccess.exclusive(vmUuid, () => deps.disks.copyImage(diskPath, t.basePath));
      await sealBase(t.basePath);
      const info = await deps.disks.diskInfo(t.basePath);
      await repo.markTemplateReady(db, t.id, { virtualSizeBytes: info.virtualSizeBytes, sizeBytes: info.actualSizeBytes, minDiskGb: gbCeil(info.virtualSizeBytes) });
      await audit(db, req, { action: 'template.create', targetType: 'template', targetId: t.id, result: 'success', details: { name: t.name, from_vm: vmUuid, phase: 'ready' } });
    } catch (e) {
      ctx.log.warn({ err: e, template: t.id }, 'making a template from a VM failed; rolling back');
      await removeBase(t.basePath).catch(() => undefined);
      await repo.deleteTemplateRow(db, t.id);
      await audit(db, req, { action: 'template.create', targetType: 'template', targetId: t.id, result: 'failure', details: { name: t.name, from_vm: vmUuid, error: (e as Error).message } });
    } finally {
      await ctx.cluster.unlock(templateLockKey(t.id));
    }
  }

  const running = new Set<Promise<void>>();
  /** templates this process is copying (advisory locks are re-entrant within one session) */
  const copying = new Set<string>();

  const source: TemplateSource = {
    async forClone(tx, actor, templateId): Promise<CloneSource> {
      const t = await loadFor(actor, templateId, tx, 'share');
      if (t.state !== 'ready') throw invalidState('The template is still being created');
      return {
        id: t.id,
        name: t.name,
        basePath: t.basePath,
        cloudInit: t.cloudInit,
        minVcpus: t.minVcpus,
        minMemoryMb: t.minMemoryMb,
        minDiskGb: t.minDiskGb,
        virtualSizeBytes: t.virtualSizeBytes,
      };
    },
    basePathOf: async (id) => (await repo.findTemplate(db, id))?.basePath ?? null,
  };

  return {
    source,
    /** Waits for background copies (app close). */
    idle: async () => {
      while (running.size > 0) await Promise.allSettled([...running]);
    },

    async list(p: Principal): Promise<TemplateRecord[]> {
      return repo.listVisibleTemplates(db, p.role === 'admin' ? undefined : p.id, await ctx.groupsOf(db, p.id));
    },

    async get(p: Principal, id: string) {
      const t = await loadFor(p, id);
      return { template: t, uses: await repo.countTemplateUses(db, id) };
    },

    /** A template from a stopped VM of the caller's (202: the copy continues in the background). */
    async createFromVm(req: FastifyRequest, p: Principal, vmUuid: string, meta: TemplateMeta): Promise<TemplateRecord> {
      const id = randomUUID();
      const basePath = basePathFor(deps.templatesDir, id);
      await ensureTemplatesDir(deps.templatesDir);
      const locked = await ctx.cluster.tryLock(templateLockKey(id));
      let vmDisk = '';
      const t = await inTransaction(db, async (tx) => {
        const vm = await ctx.vmAccess.loadVmFor(p, vmUuid, { tx, forUpdate: true });
        if (vm.state !== 'stopped') throw invalidState('Shut the VM down first: a template is made from a stopped VM', { state: vm.state });
        vmDisk = vm.diskPath;
        const m = await checkMeta(tx, p, meta);
        const minDiskGb = Math.max(m.minDiskGb ?? 1, vm.diskGb);
        await deps.enforceDisk(tx, p, vm.diskGb);
        const row = await repo.insertTemplate(tx, { id, ...m, minDiskGb, ownerId: p.id, source: 'vm', cloudInit: meta.cloud_init ?? false, virtualSizeBytes: 0, basePath, quotaDiskGb: vm.diskGb });
        await audit(tx, req, { action: 'template.create', targetType: 'template', targetId: id, result: 'success', details: { name: m.name, from_vm: vmUuid, phase: 'accepted' } });
        return row;
      }).catch(async (e: unknown) => {
        if (locked) await ctx.cluster.unlock(templateLockKey(id));
        return uniqueToConflict(e);
      });
      copying.add(id);
      const job = buildFromVm(req, t, vmUuid, vmDisk).finally(() => {
        copying.delete(id);
        running.delete(job);
      });
      running.add(job);
      return t;
    },

    /** A template from an uploaded qcow2 cloud image (streamed; checked before it becomes a base). */
    async importImage(req: FastifyRequest, p: Principal, meta: TemplateMeta, body: Readable): Promise<TemplateRecord> {
      const id = randomUUID();
      const basePath = basePathFor(deps.templatesDir, id);
      const upload = await receiveUpload(deps.templatesDir, body, ctx.config.isoMaxUploadBytes);
      try {
        const info = await checkUploadedImage(deps.disks, upload.path);
        const t = await inTransaction(db, async (tx) => {
          const m = await checkMeta(tx, p, meta);
          const quotaDiskGb = gbCeil(info.virtualSizeBytes);
          const minDiskGb = Math.max(m.minDiskGb ?? 1, quotaDiskGb);
          await deps.enforceDisk(tx, p, quotaDiskGb);
          const row = await repo.insertTemplate(tx, { id, ...m, minDiskGb, ownerId: p.id, source: 'cloud_image', cloudInit: meta.cloud_init ?? true, virtualSizeBytes: info.virtualSizeBytes, basePath, quotaDiskGb });
          // the file becomes the base before the row commits; a failed commit removes it below
          await rename(upload.path, basePath);
          await sealBase(basePath);
          const ready = await repo.markTemplateReady(tx, id, { virtualSizeBytes: info.virtualSizeBytes, sizeBytes: upload.size, minDiskGb });
          await audit(tx, req, { action: 'template.import', targetType: 'template', targetId: id, result: 'success', details: { name: m.name, size_bytes: upload.size, virtual_size_bytes: info.virtualSizeBytes } });
          return ready ?? row;
        }).catch(async (e: unknown) => {
          await removeBase(basePath).catch(() => undefined);
          return uniqueToConflict(e);
        });
        return t;
      } catch (e) {
        await audit(db, req, { action: 'template.import', targetType: 'template', result: 'failure', details: { name: meta.name, error: (e as Error).message } }).catch(() => undefined);
        throw e;
      } finally {
        await unlink(upload.path).catch(() => undefined);
      }
    },

    async update(req: FastifyRequest, p: Principal, id: string, patch: Partial<TemplateMeta>): Promise<TemplateRecord> {
      return inTransaction(db, async (tx) => {
        const t = await loadFor(p, id, tx, 'update');
        if (!canManage(p, t)) throw forbidden('Only the template owner or an admin can change it');
        const visibility = patch.visibility ?? t.visibility;
        const groupId = patch.group_id !== undefined ? patch.group_id : visibility === 'group' ? t.groupId : null;
        const problem = visibilityProblem(p, visibility, groupId, await ctx.groupsOf(tx, p.id));
        if (problem && (patch.visibility !== undefined || patch.group_id !== undefined)) throw validationFailed('visibility', problem);
        const name = patch.name !== undefined ? checkName(patch.name) : undefined;
        if (name && t.ownerId && (await repo.nameTakenByOwner(tx, t.ownerId, name, id))) throw conflict('The owner already has a template with this name');
        const minDisk = checkMin('min_disk_gb', patch.min_disk_gb, b.diskGb);
        if (minDisk !== undefined && minDisk < gbCeil(t.virtualSizeBytes)) throw validationFailed('min_disk_gb', `min_disk_gb cannot be below the base image's size (${gbCeil(t.virtualSizeBytes)} GiB)`);
        const next = await repo.updateTemplate(tx, id, {
          name,
          description: patch.description !== undefined ? cleanText('description', patch.description, TEMPLATE_DESCRIPTION_MAX, true) : undefined,
          visibility: patch.visibility,
          groupId: patch.visibility !== undefined || patch.group_id !== undefined ? groupId : undefined,
          minVcpus: checkMin('min_vcpus', patch.min_vcpus, b.vcpus),
          minMemoryMb: checkMin('min_memory_mb', patch.min_memory_mb, b.memoryMb),
          minDiskGb: minDisk,
          cloudInit: patch.cloud_init,
        }).catch(uniqueToConflict);
        await audit(tx, req, { action: 'template.update', targetType: 'template', targetId: id, result: 'success', details: { fields: Object.keys(patch) } });
        return next!;
      });
    },

    /** Deletes the template and its base; 409 while any VM's disk depends on the base. */
    async remove(req: FastifyRequest, p: Principal, id: string): Promise<void> {
      const t = await inTransaction(db, async (tx) => {
        const found = await loadFor(p, id, tx, 'update');
        if (!canManage(p, found)) throw forbidden('Only the template owner or an admin can delete it');
        if (found.state !== 'ready') throw invalidState('The template is still being created');
        const dependents = await repo.countDependentVms(tx, id);
        if (dependents > 0) throw conflict(`${dependents} VM(s) are linked clones of this template; delete them first`, { vms: dependents });
        await repo.deleteTemplateRow(tx, id);
        await audit(tx, req, { action: 'template.delete', targetType: 'template', targetId: id, result: 'success', details: { name: found.name } });
        return found;
      }).catch((e: unknown) => {
        // a clone committed between the count and the delete: the foreign key refuses
        if ((e as { code?: string; cause?: { code?: string } }).code === '23503' || (e as { cause?: { code?: string } }).cause?.code === '23503') {
          throw conflict('VMs are linked clones of this template; delete them first');
        }
        throw e;
      });
      await removeBase(t.basePath).catch((err: unknown) => ctx.log.warn({ err, template: id }, 'template base image could not be removed'));
    },

    /** Crash repair: a `creating` row nobody is copying any more goes, with its partial file. */
    async reconcile(): Promise<void> {
      for (const t of await repo.listTemplatesInState(db, 'creating')) {
        if (copying.has(t.id)) continue;
        if (!(await ctx.cluster.tryLock(templateLockKey(t.id)))) continue; // a copy is running (here or elsewhere)
        try {
          ctx.log.info({ template: t.id }, 'removing a template whose creation was interrupted');
          await removeBase(t.basePath);
          await repo.deleteTemplateRow(db, t.id);
        } finally {
          await ctx.cluster.unlock(templateLockKey(t.id));
        }
      }
    },
  };
}

export type TemplatesService = ReturnType<typeof createTemplatesService>;
