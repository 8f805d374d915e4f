// /api/isos (users pick from the library) and /api/admin/isos (upload, delete): HTTP only.
import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { AppError } from '../../platform/http/app-error.js';
import { PayloadTooLarge } from './iso-library.js';
import type { IsoRecord } from './isos.repo.js';
import type { IsosService } from './isos.service.js';

export const IsoDto = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  size_bytes: Type.Integer(),
  sha256: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

export const toIsoDto = (i: IsoRecord) => ({ id: i.id, name: i.name, size_bytes: i.sizeBytes, sha256: i.sha256, created_at: i.createdAt.toISOString() });

const security = [{ bearer: [] }];

export function registerIsoRoutes(ctx: AppContext, isos: IsosService): FastifyPluginAsync {
  return async (app) => {
    // Raw uploads reach the handler as a stream (never buffered); the size limit is enforced
    // while streaming. Scoped to this plugin only.
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

    app.get(
      '/api/isos',
      { config: { auth: 'user' }, schema: { tags: ['isos'], security, summary: 'The ISO library', response: { 200: Type.Object({ items: Type.Array(IsoDto), total: Type.Integer() }) } } },
      async () => {
        const items = (await isos.list()).map(toIsoDto);
        return { items, total: items.length };
      },
    );

    app.put(
      '/api/admin/isos/:name',
      {
        config: { auth: 'admin' },
        schema: {
          tags: ['isos', 'admin'],
          security,
          summary: 'Upload an ISO (raw body, Content-Type application/octet-stream)',
          consumes: ['application/octet-stream'],
          params: Type.Object({ name: Type.String({ maxLength: 200 }) }),
          response: { 201: IsoDto },
        },
      },
      async (req, reply) => {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/octet-stream')) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Upload the ISO as application/octet-stream');
        }
        const limit = ctx.config.isoMaxUploadBytes;
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLarge(limit);
        const iso = await isos.upload(req, (req.params as { name: string }).name, req.body as Readable);
        return reply.code(201).send(toIsoDto(iso));
      },
    );

    app.delete(
      '/api/admin/isos/:id',
      {
        config: { auth: 'admin' },
        schema: { tags: ['isos', 'admin'], security, summary: 'Delete an ISO (refused while attached to a VM)', params: Type.Object({ id: Type.String({ format: 'uuid' }) }), response: { 204: Type.Null() } },
      },
      async (req, reply) => {
        await isos.remove(req, (req.params as { id: string }).id);
        return reply.code(204).send();
      },
    );
  };
}
