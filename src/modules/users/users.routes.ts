// /api/admin/users*: HTTP only; the service holds the rules.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { principalOf, type Role, type UserRecord, type UserStatus } from '../auth/index.js';
import { createUsersService, type StatusAction } from './users.service.js';

const Uuid = Type.String({ format: 'uuid' });
const RoleT = Type.Union([Type.Literal('user'), Type.Literal('admin')]);
const StatusT = Type.Union([Type.Literal('pending'), Type.Literal('active'), Type.Literal('rejected'), Type.Literal('disabled')]);

export const AdminUser = Type.Object({
  id: Uuid,
  username: Type.String(),
  role: RoleT,
  status: StatusT,
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  approved_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const toAdminUser = (u: UserRecord) => ({
  id: u.id,
  username: u.username,
  role: u.role,
  status: u.status,
  created_at: u.createdAt.toISOString(),
  updated_at: u.updatedAt.toISOString(),
  approved_at: u.approvedAt?.toISOString() ?? null,
});

const ListQuery = Type.Object(
  {
    status: Type.Optional(StatusT),
    role: Type.Optional(RoleT),
    username: Type.Optional(Type.String({ maxLength: 32 })),
    page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })),
    per_page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Uuid });
const security = [{ bearer: [] }];
const tags = ['admin'];

export function registerUserAdminRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const users = createUsersService(ctx);

    app.get(
      '/api/admin/users',
      { config: { auth: 'admin' }, schema: { tags, security, summary: 'List users', querystring: ListQuery, response: { 200: Type.Object({ items: Type.Array(AdminUser), total: Type.Integer() }) } } },
      async (req) => {
        const q = req.query as { status?: UserStatus; role?: Role; username?: string; page?: string; per_page?: string };
        const perPage = Math.min(200, Number(q.per_page ?? 50));
        const r = await users.list({ status: q.status, role: q.role, username: q.username, limit: perPage, offset: (Number(q.page ?? 1) - 1) * perPage });
        return { items: r.items.map(toAdminUser), total: r.total };
      },
    );

    app.post(
      '/api/admin/users',
      {
        config: { auth: 'admin' },
        schema: {
          tags,
          security,
          summary: 'Create an (approved) user',
          body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }), role: Type.Optional(RoleT) }, { additionalProperties: false }),
          response: { 201: AdminUser },
        },
      },
      async (req, reply) => {
        const u = await users.create(req, req.body as { username: string; password: string; role?: Role });
        return reply.code(201).send(toAdminUser(u));
      },
    );

    for (const action of ['approve', 'reject', 'disable', 'enable'] as StatusAction[]) {
      app.post(
        `/api/admin/users/:id/${action}`,
        { config: { auth: 'admin' }, schema: { tags, security, summary: `${action[0]!.toUpperCase()}${action.slice(1)} a user`, params: IdParams, response: { 200: AdminUser } } },
        async (req) => toAdminUser(await users.changeStatus(req, principalOf(req), (req.params as { id: string }).id, action)),
      );
    }

    app.patch(
      '/api/admin/users/:id',
      {
        config: { auth: 'admin' },
        schema: { tags, security, summary: 'Change a user’s role', params: IdParams, body: Type.Object({ role: RoleT }, { additionalProperties: false }), response: { 200: AdminUser } },
      },
      async (req) => toAdminUser(await users.changeRole(req, principalOf(req), (req.params as { id: string }).id, (req.body as { role: Role }).role)),
    );

    app.delete(
      '/api/admin/users/:id',
      {
        config: { auth: 'admin' },
        schema: {
          tags,
          security,
          summary: 'Delete a user (refused while they own VMs unless ?cascade=true)',
          params: IdParams,
          querystring: Type.Object({ cascade: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false }),
          response: { 204: Type.Null() },
        },
      },
      async (req, reply) => {
        await users.remove(req, principalOf(req), (req.params as { id: string }).id, (req.query as { cascade?: string }).cascade === 'true');
        return reply.code(204).send();
      },
    );
  };
}
