// /api/vms* and /api/admin/vms: HTTP only (schemas, guard, call the service, map the result).
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { principalOf } from '../auth/index.js';
import type { VmAction } from './vm-state.js';
import type { VmMigrator } from './vm-migration.js';
import type { VmReconciler } from './vm-reconciler.js';
import type { VmSettingsService, PatchVmInput } from './vm-settings.service.js';
import type { StatsSampler } from './vm-stats.js';
import type { CreateVmInput, VmsService } from './vms.service.js';
import { vmListKey, type VmListCache } from './vm-list-cache.js';
import {
  ActionBody,
  BootOrderBody,
  BootOrderView,
  CreateBatchBody,
  CreateVmBody,
  MediaBody,
  MediaView,
  OrphanDto,
  PatchResult,
  PatchVmBody,
  StatsView,
  VmDto,
  VmParams,
  toVmDto,
} from './vms.schemas.js';

const security = [{ bearer: [] }];
// The list convention of the other admin lists (users, audit): ?page= from 1, ?per_page= ≤ 200.
const DEFAULT_PER_PAGE = 50;
const MAX_PER_PAGE = 200;
const ListQuery = Type.Object(
  {
    page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })),
    per_page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })),
  },
  { additionalProperties: false },
);
const tags = ['vms'];
// GET /api/admin/vms's body in two parts (see the route)
const AllVmsHead = Type.Object({ items: Type.Array(VmDto), total: Type.Integer() });
const AllVmsTail = Type.Object({ orphans: Type.Array(OrphanDto) });
/** Fastify's compiled serializer for a schema (compiled once per schema object, then reused). */
const serializerOf = (reply: FastifyReply, schema: TSchema): ((v: unknown) => string) =>
  reply.compileSerializationSchema(schema as unknown as Record<string, unknown>) as (v: unknown) => string;
/** The admin's list of every VM in the list cache (a page key never looks like this). */
const ALL_VMS_KEY = 'all-vms';
const uuidOf = (p: unknown): string => (p as { uuid: string }).uuid.toLowerCase();
const isoView = (iso: { id: string; name: string } | null) => (iso ? { id: iso.id, name: iso.name } : null);

export interface VmRouteDeps {
  vms: VmsService;
  settings: VmSettingsService;
  stats: StatsSampler;
  reconciler: VmReconciler;
  migrator: VmMigrator;
  listCache: VmListCache;
}

const MigrateBody = Type.Object({ host: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', description: 'name of the target host' }) }, { additionalProperties: false });

export function registerVmRoutes({ vms, settings, stats, reconciler, migrator, listCache }: VmRouteDeps): FastifyPluginAsync {
  return async (app) => {
    const user = { auth: 'user' as const };

    app.get(
      '/api/vms',
      {
        config: user,
        schema: {
          tags,
          security,
          summary: 'Your VMs (admins: all), oldest first, a page at a time: `total` counts them all',
          querystring: ListQuery,
          response: { 200: Type.Object({ items: Type.Array(VmDto), total: Type.Integer() }) },
        },
      },
      async (req, reply) => {
        const q = req.query as { page?: string; per_page?: string };
        const perPage = Math.min(MAX_PER_PAGE, Number(q.per_page ?? DEFAULT_PER_PAGE));
        const principal = principalOf(req);
        const page = { limit: perPage, offset: (Number(q.page ?? 1) - 1) * perPage };
        // the body as the route's response schema serializes it, cached while exact (vm-list-cache.ts)
        const body = await listCache.body(vmListKey(principal.role === 'admin' ? undefined : principal.id, page.limit, page.offset), async () => {
          const r = await vms.list(principal, page);
          return Buffer.from(reply.serialize({ items: r.items.map(toVmDto), total: r.total }) as string);
        });
        return reply.type('application/json; charset=utf-8').send(body);
      },
    );

    app.post(
      '/api/vms',
      { config: user, schema: { tags, security, summary: 'Create a VM (202: provisioning continues in the background)', body: CreateVmBody, response: { 202: VmDto } } },
      async (req, reply) => reply.code(202).send(toVmDto(await vms.create(req, principalOf(req), req.body as CreateVmInput))),
    );

    app.post(
      '/api/vms/batch',
      {
        config: user,
        schema: {
          tags,
          security,
          summary: 'Create several VMs from one template, all or none (202: provisioning continues in the background)',
          body: CreateBatchBody,
          response: { 202: Type.Object({ items: Type.Array(VmDto), total: Type.Integer() }) },
        },
      },
      async (req, reply) => {
        const b = req.body as Omit<CreateVmInput, 'name'> & { name_prefix: string; count: number };
        const { name_prefix: prefix, count, ...common } = b;
        const items = Array.from({ length: count }, (_x, i) => ({ ...common, name: `${prefix}-${i + 1}` }));
        const rows = (await vms.createBatch(req, principalOf(req), items)).map(toVmDto);
        return reply.code(202).send({ items: rows, total: rows.length });
      },
    );

    app.get(
      '/api/vms/:uuid',
      { config: user, schema: { tags, security, summary: 'One VM', params: VmParams, response: { 200: VmDto } } },
      async (req) => toVmDto(await vms.loadVmFor(principalOf(req), uuidOf(req.params))),
    );

    app.patch(
      '/api/vms/:uuid',
      { config: user, schema: { tags, security, summary: 'Rename or resize (live where libvirt allows, else at next boot)', params: VmParams, body: PatchVmBody, response: { 200: PatchResult } } },
      async (req) => {
        const r = await settings.patch(req, principalOf(req), uuidOf(req.params), req.body as PatchVmInput);
        return { vm: toVmDto(r.vm), applied: r.applied };
      },
    );

    app.delete(
      '/api/vms/:uuid',
      { config: user, schema: { tags, security, summary: 'Delete a VM: domain, its own disk, its rows (202)', params: VmParams, response: { 202: VmDto } } },
      async (req, reply) => reply.code(202).send(toVmDto(await vms.remove(req, principalOf(req), uuidOf(req.params)))),
    );

    app.post(
      '/api/vms/:uuid/action',
      { config: user, schema: { tags, security, summary: 'Power action (shutdown = ACPI, stop = power off)', params: VmParams, body: ActionBody, response: { 202: VmDto } } },
      async (req, reply) => {
        const vm = await vms.action(req, principalOf(req), uuidOf(req.params), (req.body as { action: VmAction }).action);
        return reply.code(202).send(toVmDto(vm));
      },
    );

    app.get(
      '/api/vms/:uuid/media',
      { config: user, schema: { tags, security, summary: 'The ISO in the CD-ROM', params: VmParams, response: { 200: MediaView } } },
      async (req) => ({ iso: isoView((await settings.getMedia(principalOf(req), uuidOf(req.params))).iso) }),
    );

    app.post(
      '/api/vms/:uuid/media',
      { config: user, schema: { tags, security, summary: 'Insert a library ISO or eject (iso: null)', params: VmParams, body: MediaBody, response: { 200: MediaView } } },
      async (req) => {
        const r = await settings.setMedia(req, principalOf(req), uuidOf(req.params), (req.body as { iso: string | null }).iso);
        return { iso: isoView(r.iso), applied: r.applied };
      },
    );

    app.get(
      '/api/vms/:uuid/boot-order',
      { config: user, schema: { tags, security, summary: 'Boot order', params: VmParams, response: { 200: BootOrderView } } },
      async (req) => ({ boot_order: await settings.getBootOrder(principalOf(req), uuidOf(req.params)) }),
    );

    app.put(
      '/api/vms/:uuid/boot-order',
      { config: user, schema: { tags, security, summary: 'Set the boot order (applies at next boot)', params: VmParams, body: BootOrderBody, response: { 200: BootOrderView } } },
      async (req) => {
        const r = await settings.setBootOrder(req, principalOf(req), uuidOf(req.params), (req.body as { boot_order: string[] }).boot_order);
        return { boot_order: r.bootOrder, applied: r.applied };
      },
    );

    app.get(
      '/api/vms/:uuid/stats',
      { config: user, schema: { tags, security, summary: 'CPU, memory, disk and network rates; guest IPs', params: VmParams, response: { 200: StatsView } } },
      async (req) => stats.sample(await vms.loadVmFor(principalOf(req), uuidOf(req.params))),
    );

    app.post(
      '/api/admin/vms/:uuid/migrate',
      {
        config: { auth: 'admin' },
        schema: {
          tags: ['vms', 'admin'],
          security,
          summary:
            'Move a VM to another host: a stopped VM cold (200, done on answer), a running one live (202: `migrating_to` is set; a vm.updated event names the new host when it lands)',
          params: VmParams,
          body: MigrateBody,
          response: { 200: VmDto, 202: VmDto },
        },
      },
      async (req, reply) => {
        const r = await migrator.migrate(req, principalOf(req), uuidOf(req.params), (req.body as { host: string }).host);
        return reply.code(r.mode === 'cold' ? 200 : 202).send(toVmDto(r.vm));
      },
    );

    app.get(
      '/api/admin/vms',
      {
        config: { auth: 'admin' },
        schema: {
          tags: ['vms', 'admin'],
          security,
          summary: 'Every VM with owner and host, plus orphan limen-* domains that have no VM',
          response: { 200: Type.Object({ items: Type.Array(VmDto), total: Type.Integer(), orphans: Type.Array(OrphanDto) }) },
        },
      },
      async (_req, reply) => {
        // Every VM is the expensive part (1,000 VMs: ~70 ms of CPU on the embedded database), so it
        // comes from the list cache as `{"items":[…],"total":n` (serialized by the schema, closing
        // brace cut); the orphans are this instance's memory and are added on every request.
        const head = await listCache.body(ALL_VMS_KEY, async () => {
          const items = (await vms.listAll()).map(toVmDto);
          return Buffer.from(serializerOf(reply, AllVmsHead)({ items, total: items.length }).slice(0, -1));
        });
        const orphans = reconciler.orphans().map((o) => ({ uuid: o.uuid, name: o.name, state: o.state }));
        const tail = `,${serializerOf(reply, AllVmsTail)({ orphans }).slice(1)}`;
        return reply.type('application/json; charset=utf-8').send(Buffer.concat([head, Buffer.from(tail)]));
      },
    );
  };
}
