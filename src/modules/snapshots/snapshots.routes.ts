// Snapshot routes (CONTRACT.md §4). Long operations answer 202 with the snapshot in its
// transitional state; the final state shows on the next GET.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../auth/index.js';
import type { SnapshotRecord } from './snapshots.repo.js';
import type { SnapshotsService } from './snapshots.service.js';

const Uuid = Type.String({ format: 'uuid' });
const security = [{ bearer: [] }];
const tags = ['snapshots'];

export const Snapshot = Type.Object({
  id: Uuid,
  vm_uuid: Uuid,
  name: Type.String(),
  description: Type.String(),
  state: Type.Union([Type.Literal('creating'), Type.Literal('ready'), Type.Literal('reverting'), Type.Literal('deleting')]),
  includes_memory: Type.Boolean(),
  size_bytes: Type.Union([Type.Integer(), Type.Null()]),
  error_message: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const toSnapshotDto = (s: SnapshotRecord) => ({
  id: s.id,
  vm_uuid: s.vmUuid,
  name: s.name,
  description: s.description,
  state: s.state,
  includes_memory: s.includesMemory,
  size_bytes: s.sizeBytes,
  error_message: s.errorMessage,
  created_at: s.createdAt.toISOString(),
  updated_at: s.updatedAt.toISOString(),
});

export function registerSnapshotRoutes(snapshots: SnapshotsService): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/vms/:uuid/snapshots',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Snapshots of a VM (oldest first)', params: Type.Object({ uuid: Uuid }), response: { 200: Type.Object({ items: Type.Array(Snapshot), total: Type.Integer() }) } } },
      async (req) => {
        const items = (await snapshots.list(principalOf(req), (req.params as { uuid: string }).uuid)).map(toSnapshotDto);
        return { items, total: items.length };
      },
    );

    app.post(
      '/api/vms/:uuid/snapshots',
      {
        config: { auth: 'user' },
        schema: {
          tags,
          security,
          summary: 'Take a snapshot (disk + memory when running); counts against the snapshots quota',
          params: Type.Object({ uuid: Uuid }),
          body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }), description: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
          response: { 202: Snapshot },
        },
      },
      async (req, reply) => {
        const s = await snapshots.create(req, principalOf(req), (req.params as { uuid: string }).uuid, req.body as { name: string; description?: string });
        return reply.code(202).send(toSnapshotDto(s));
      },
    );

    app.post(
      '/api/snapshots/:id/restore',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Revert the VM to this snapshot (a running snapshot comes back running)', params: Type.Object({ id: Uuid }), response: { 202: Snapshot } } },
      async (req, reply) => reply.code(202).send(toSnapshotDto(await snapshots.revert(req, principalOf(req), (req.params as { id: string }).id))),
    );

    app.delete(
      '/api/snapshots/:id',
      { config: { auth: 'user' }, schema: { tags, security, summary: 'Delete a snapshot', params: Type.Object({ id: Uuid }), response: { 202: Snapshot } } },
      async (req, reply) => reply.code(202).send(toSnapshotDto(await snapshots.remove(req, principalOf(req), (req.params as { id: string }).id))),
    );
  };
}
