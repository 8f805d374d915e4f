// /api/templates*: HTTP only (schemas, guard, call the service, map the result). A template the
// caller may not see is a 404; one they can see but do not own answers 403 to changes.
import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { AppError } from '../../platform/http/app-error.js';
import { principalOf } from '../auth/index.js';
import { ImageTooLarge } from './template-files.js';
import type { TemplateRecord } from './templates.repo.js';
import type { TemplateMeta, TemplatesService } from './templates.service.js';

const Uuid = Type.String({ format: 'uuid' });
const VisibilityT = Type.Union([Type.Literal('private'), Type.Literal('everyone'), Type.Literal('group')]);

export const TemplateDto = Type.Object({
  id: Uuid,
  name: Type.String(),
  description: Type.String(),
  owner_id: Type.Union([Uuid, Type.Null()]),
  visibility: VisibilityT,
  group_id: Type.Union([Uuid, Type.Null()]),
  source: Type.Union([Type.Literal('vm'), Type.Literal('cloud_image')]),
  cloud_init: Type.Boolean(),
  min_vcpus: Type.Integer(),
  min_memory_mb: Type.Integer(),
  min_disk_gb: Type.Integer(),
  virtual_size_bytes: Type.Integer(),
  size_bytes: Type.Integer(),
  state: Type.Union([Type.Literal('creating'), Type.Literal('ready')]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

const TemplateDetail = Type.Object({ ...TemplateDto.properties, clones: Type.Object({ linked: Type.Integer(), full: Type.Integer() }) });

export const toTemplateDto = (t: TemplateRecord) => ({
  id: t.id,
  name: t.name,
  description: t.description,
  owner_id: t.ownerId,
  visibility: t.visibility,
  group_id: t.groupId,
  source: t.source,
  cloud_init: t.cloudInit,
  min_vcpus: t.minVcpus,
  min_memory_mb: t.minMemoryMb,
  min_disk_gb: t.minDiskGb,
  virtual_size_bytes: t.virtualSizeBytes,
  size_bytes: t.sizeBytes,
  state: t.state,
  created_at: t.createdAt.toISOString(),
  updated_at: t.updatedAt.toISOString(),
});

const MetaFields = {
  description: Type.Optional(Type.String({ maxLength: 4000 })),
  visibility: Type.Optional(VisibilityT),
  group_id: Type.Optional(Type.Union([Uuid, Type.Null()])),
  min_vcpus: Type.Optional(Type.Integer()),
  min_memory_mb: Type.Optional(Type.Integer()),
  min_disk_gb: Type.Optional(Type.Integer()),
  cloud_init: Type.Optional(Type.Boolean()),
};

const security = [{ bearer: [] }];
const tags = ['templates'];
const user = { auth: 'user' as const };
const Params = Type.Object({ id: Uuid });
const idOf = (p: unknown): string => (p as { id: string }).id.toLowerCase();

export function registerTemplateRoutes(ctx: AppContext, templates: TemplatesService): FastifyPluginAsync {
  return async (app) => {
    // Image uploads reach the handler as a stream (never buffered); scoped to this plugin.
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

    app.get(
      '/api/templates',
      { config: user, schema: { tags, security, summary: 'Templates you may use (admins: all)', response: { 200: Type.Object({ items: Type.Array(TemplateDto), total: Type.Integer() }) } } },
      async (req) => {
        const items = (await templates.list(principalOf(req))).map(toTemplateDto);
        return { items, total: items.length };
      },
    );

    app.get(
      '/api/templates/:id',
      { config: user, schema: { tags, security, summary: 'One template, with how many VMs were cloned from it', params: Params, response: { 200: TemplateDetail } } },
      async (req) => {
        const r = await templates.get(principalOf(req), idOf(req.params));
        return { ...toTemplateDto(r.template), clones: r.uses };
      },
    );

    app.post(
      '/api/templates',
      {
        config: user,
        schema: {
          tags,
          security,
          summary: 'Make a template from one of your stopped VMs (202: the disk is copied in the background; the VM stays)',
          body: Type.Object({ vm: Uuid, name: Type.String({ maxLength: 200 }), ...MetaFields }, { additionalProperties: false }),
          response: { 202: TemplateDto },
        },
      },
      async (req, reply) => {
        const { vm, ...meta } = req.body as TemplateMeta & { vm: string };
        return reply.code(202).send(toTemplateDto(await templates.createFromVm(req, principalOf(req), vm.toLowerCase(), meta)));
      },
    );

    app.post(
      '/api/templates/import',
      {
        config: user,
        schema: {
          tags,
          security,
          summary: 'Import a qcow2 cloud image as a template (raw body, application/octet-stream; details in the query string)',
          consumes: ['application/octet-stream'],
          querystring: Type.Object(
            {
              name: Type.String({ maxLength: 200 }),
              description: MetaFields.description,
              visibility: MetaFields.visibility,
              group_id: Type.Optional(Uuid),
              min_vcpus: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
              min_memory_mb: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
              min_disk_gb: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
              cloud_init: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
            },
            { additionalProperties: false },
          ),
          response: { 201: TemplateDto },
        },
      },
      async (req, reply) => {
        if (!String(req.headers['content-type'] ?? '').startsWith('application/octet-stream')) {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Upload the image as application/octet-stream');
        }
        const limit = ctx.config.isoMaxUploadBytes;
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (Number.isFinite(declared) && declared > limit) throw new ImageTooLarge(limit);
        const q = req.query as Record<string, string | undefined>;
        const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
        const meta: TemplateMeta = {
          name: q.name!,
          description: q.description,
          visibility: q.visibility as TemplateMeta['visibility'],
          group_id: q.group_id ?? null,
          min_vcpus: num(q.min_vcpus),
          min_memory_mb: num(q.min_memory_mb),
          min_disk_gb: num(q.min_disk_gb),
          cloud_init: q.cloud_init === undefined ? undefined : q.cloud_init === 'true',
        };
        return reply.code(201).send(toTemplateDto(await templates.importImage(req, principalOf(req), meta, req.body as Readable)));
      },
    );

    app.patch(
      '/api/templates/:id',
      {
        config: user,
        schema: {
          tags,
          security,
          summary: 'Change name, description, visibility or minimum sizes (owner or admin)',
          params: Params,
          body: Type.Object({ name: Type.Optional(Type.String({ maxLength: 200 })), ...MetaFields }, { additionalProperties: false, minProperties: 1 }),
          response: { 200: TemplateDto },
        },
      },
      async (req) => toTemplateDto(await templates.update(req, principalOf(req), idOf(req.params), req.body as Partial<TemplateMeta>)),
    );

    app.delete(
      '/api/templates/:id',
      { config: user, schema: { tags, security, summary: 'Delete a template and its base image (409 while linked clones exist)', params: Params, response: { 204: Type.Null() } } },
      async (req, reply) => {
        await templates.remove(req, principalOf(req), idOf(req.params));
        return reply.code(204).send();
      },
    );
  };
}
