// GET /api/admin/audit: the audit log, newest first, filterable.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { listAudit, type AuditResult } from './audit.repo.js';
import { principalOf } from '../auth/index.js';

const AuditItem = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  actor_id: Type.Union([Type.String(), Type.Null()]),
  actor_username: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  target_type: Type.Union([Type.String(), Type.Null()]),
  target_id: Type.Union([Type.String(), Type.Null()]),
  result: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  request_id: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
});

const Query = Type.Object(
  {
    actor_id: Type.Optional(Type.String({ format: 'uuid' })),
    action: Type.Optional(Type.String({ maxLength: 64 })),
    target_type: Type.Optional(Type.String({ maxLength: 32 })),
    target_id: Type.Optional(Type.String({ maxLength: 64 })),
    result: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')])),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
    page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })),
    per_page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })),
  },
  { additionalProperties: false },
);

export function registerAuditRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/admin/audit',
      {
        config: { auth: 'admin' },
        schema: { tags: ['admin'], summary: 'Audit log (newest first)', security: [{ bearer: [] }], querystring: Query, response: { 200: Type.Object({ items: Type.Array(AuditItem), total: Type.Integer() }) } },
      },
      async (req) => {
        const q = req.query as Record<string, string | undefined>;
        const perPage = Math.min(200, Number(q.per_page ?? 50));
        const page = Number(q.page ?? 1);
        const r = await listAudit(ctx.database.db, {
          actorId: q.actor_id,
          action: q.action,
          targetType: q.target_type,
          targetId: q.target_id,
          result: q.result as AuditResult | undefined,
          since: q.since,
          until: q.until,
          limit: perPage,
          offset: (page - 1) * perPage,
        });
        return { items: r.items.map((i) => ({ ...i, at: new Date(i.at).toISOString() })), total: r.total };
      },
    );

    // A VM's activity for whoever may see the VM (the owner; admins): its audit rows, newest first.
    app.get(
      '/api/vms/:uuid/activity',
      {
        config: { auth: 'user' },
        schema: {
          tags: ['vms'],
          summary: 'Activity of a VM (its audit rows, newest first)',
          security: [{ bearer: [] }],
          params: Type.Object({ uuid: Type.String({ format: 'uuid' }) }),
          querystring: Type.Object({ page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })) }, { additionalProperties: false }),
          response: { 200: Type.Object({ items: Type.Array(AuditItem), total: Type.Integer() }) },
        },
      },
      async (req) => {
        const { uuid } = req.params as { uuid: string };
        await ctx.vmAccess.loadVmFor(principalOf(req), uuid); // not yours: 404
        const page = Number((req.query as { page?: string }).page ?? 1);
        const r = await listAudit(ctx.database.db, { targetType: 'vm', targetId: uuid, limit: 50, offset: (page - 1) * 50 });
        // Client IPs of other people's actions (an admin acting on your VM) stay with admins.
        const admin = req.principal?.role === 'admin';
        return { items: r.items.map((i) => ({ ...i, ip: admin ? i.ip : null, at: new Date(i.at).toISOString() })), total: r.total };
      },
    );
  };
}
