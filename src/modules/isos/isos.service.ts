// ISO library use cases: list, upload (admin), delete (admin, refused while any VM uses it).
import type { FastifyRequest } from 'fastify';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { AppContext } from '../../app.js';
import { inTransaction } from '../../platform/db/query.js';
import { conflict, notFound } from '../../platform/http/app-error.js';
import { audit } from '../audit/index.js';
import { importIso, isoPathOf } from './iso-library.js';
import { countVmsUsingIso, deleteIsoRow, findIso, listIsos, type IsoRecord } from './isos.repo.js';

export interface IsosService {
  list(): Promise<IsoRecord[]>;
  get(id: string): Promise<IsoRecord | undefined>;
  upload(req: FastifyRequest, name: string, body: Readable): Promise<IsoRecord>;
  remove(req: FastifyRequest, id: string): Promise<void>;
}

const isFkViolation = (e: unknown): boolean => {
  for (let x: unknown = e, i = 0; x && i < 4; i++, x = (x as { cause?: unknown }).cause) if ((x as { code?: string }).code === '23503') return true;
  return false;
};

export function createIsosService(ctx: AppContext): IsosService {
  const db = ctx.database.db;
  const { isoDir } = ctx.config;
  return {
    list: () => listIsos(db),
    get: (id) => findIso(db, id),
    async upload(req, name, body) {
      try {
        const iso = await importIso(db, isoDir, name, body, ctx.config.isoMaxUploadBytes);
        await audit(db, req, { action: 'iso.upload', targetType: 'iso', targetId: iso.id, result: 'success', details: { name, size_bytes: iso.sizeBytes, sha256: iso.sha256 } });
        return iso;
      } catch (e) {
        await audit(db, req, { action: 'iso.upload', targetType: 'iso', result: 'failure', details: { name, error: (e as Error).message } });
        throw e;
      }
    },
    async remove(req, id) {
      const iso = await inTransaction(db, async (tx) => {
        const found = await findIso(tx, id, { forUpdate: true });
        if (!found) throw notFound('ISO');
        const users = await countVmsUsingIso(tx, id);
        if (users > 0) throw conflict('The ISO is attached to a VM; eject it first', { vms: users });
        await deleteIsoRow(tx, id);
        await audit(tx, req, { action: 'iso.delete', targetType: 'iso', targetId: id, result: 'success', details: { name: found.name } });
        return found;
      }).catch((e: unknown) => {
        // an attach committed between our count and delete: the foreign key refuses
        if (isFkViolation(e)) throw conflict('The ISO is attached to a VM; eject it first');
        throw e;
      });
      await unlink(isoPathOf(isoDir, iso)).catch((err: unknown) => ctx.log.warn({ err, iso: iso.id }, 'ISO file could not be removed'));
    },
  };
}
