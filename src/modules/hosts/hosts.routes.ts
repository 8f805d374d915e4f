// /api/admin/hosts*: HTTP only; the service holds the rules. A host's id is its name.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { HostsService } from './hosts.service.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const HostDto = Type.Object({
  id: Type.String(),
  name: Type.String(),
  uri: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('draining')]),
  status: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')]),
  reachable: Type.Boolean(),
  simulated: Type.Boolean(),
  capacity: Nullable(Type.Object({ vcpus: Type.Integer(), memory_mb: Type.Integer(), disk_gb: Nullable(Type.Integer()) })),
  overcommit: Type.Object({ cpu: Type.Number(), memory: Type.Number() }),
  allocatable: Nullable(Type.Object({ vcpus: Type.Integer(), memory_mb: Type.Integer() })),
  allocated: Type.Object({ vms: Type.Integer(), vcpus: Type.Integer(), memory_mb: Type.Integer(), disk_gb: Type.Integer() }),
  last_seen_at: Nullable(Type.String({ format: 'date-time' })),
  created_at: Type.String({ format: 'date-time' }),
});

const AddHostBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 32 }),
    uri: Type.String({ minLength: 1, maxLength: 1024 }),
    cpu_overcommit: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 64 })),
    memory_overcommit: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 16 })),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 32 }) });
const security = [{ bearer: [] }];
const tags = ['admin', 'hosts'];

export function registerHostRoutes(hosts: HostsService): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/admin/hosts',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'List hypervisor hosts with capacity, allocation and connection state', response: { 200: Type.Object({ items: Type.Array(HostDto), total: Type.Integer() }) } } },
      async () => {
        const items = await hosts.list();
        return { items, total: items.length };
      },
    );

    app.post(
      '/api/admin/hosts',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Add a hypervisor host (its libvirt URI must answer)', body: AddHostBody, response: { 201: HostDto } } },
      async (req, reply) => reply.code(201).send(await hosts.add(req, req.body as { name: string; uri: string; cpu_overcommit?: number; memory_overcommit?: number })),
    );

    app.post(
      '/api/admin/hosts/:id/drain',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Drain a host: it keeps its VMs and gets no new ones', params: IdParams, response: { 200: HostDto } } },
      async (req) => hosts.drain(req, (req.params as { id: string }).id),
    );

    app.post(
      '/api/admin/hosts/:id/undrain',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Return a drained host to placement', params: IdParams, response: { 200: HostDto } } },
      async (req) => hosts.undrain(req, (req.params as { id: string }).id),
    );

    app.delete(
      '/api/admin/hosts/:id',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'Remove a host (refused while VMs are on it)', params: IdParams, response: { 204: Type.Null() } } },
      async (req, reply) => {
        await hosts.remove(req, (req.params as { id: string }).id);
        return reply.code(204).send();
      },
    );
  };
}
