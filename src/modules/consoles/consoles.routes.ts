// Console HTTP + websocket routes. The websocket lives on the API's own origin and port (one path
// to proxy), is authorized by its single-use ticket, and carries nothing but RFB bytes.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type {} from '@fastify/websocket';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { AppError } from '../../platform/http/app-error.js';
import { principalOf } from '../auth/index.js';
import type { ConsolesService } from './consoles.service.js';

const Uuid = Type.String({ format: 'uuid' });
const security = [{ bearer: [] }];

const SessionItem = Type.Object({
  id: Uuid,
  user_id: Type.Union([Uuid, Type.Null()]),
  username: Type.String(),
  vm_uuid: Uuid,
  client_ip: Type.Union([Type.String(), Type.Null()]),
  started_at: Type.String({ format: 'date-time' }),
  ended_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  end_reason: Type.Union([Type.String(), Type.Null()]),
  bytes_to_vm: Type.Integer(),
  bytes_to_client: Type.Integer(),
});

/** Browsers always send Origin on websockets: only our own page may open a console. */
export function originAllowed(ctx: AppContext, req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true; // not a browser (CLI tools, tests): the ticket still rules
  if (ctx.config.publicOrigins.includes(origin)) return true;
  const host = req.headers.host;
  return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
}

export function registerConsoleRoutes(ctx: AppContext, consoles: ConsolesService): FastifyPluginAsync {
  return async (app) => {
    app.post(
      '/api/vms/:uuid/console',
      {
        config: { auth: 'user' },
        schema: {
          tags: ['console'],
          security,
          summary: 'A single-use console ticket (≤ 60 s) for a running VM; never starts the VM',
          params: Type.Object({ uuid: Uuid }),
          response: { 200: Type.Object({ ws_url: Type.String(), ticket: Type.String(), expires_at: Type.String({ format: 'date-time' }) }) },
        },
      },
      async (req) => consoles.issueTicket(req, principalOf(req), (req.params as { uuid: string }).uuid),
    );

    app.get(
      '/ws/vnc/:uuid',
      {
        websocket: true,
        config: { auth: 'public' },
        schema: { hide: true, params: Type.Object({ uuid: Uuid }), querystring: Type.Object({ ticket: Type.Optional(Type.String({ maxLength: 128 })) }) },
        preValidation: async (req) => {
          if (!originAllowed(ctx, req)) throw new AppError('FORBIDDEN', 'Origin not allowed');
        },
      },
      (socket, req) => {
        const { uuid } = req.params as { uuid: string };
        const { ticket } = req.query as { ticket?: string };
        consoles.serve(socket, req, uuid, ticket).catch((err: unknown) => {
          req.log.error({ err }, 'console session failed');
          socket.terminate();
        });
      },
    );

    app.get(
      '/api/admin/console-sessions',
      {
        config: { auth: 'admin' },
        schema: {
          tags: ['admin'],
          security,
          summary: 'Console sessions (open first by default: ?open=true)',
          querystring: Type.Object(
            { open: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])), page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$' })) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ items: Type.Array(SessionItem), total: Type.Integer() }) },
        },
      },
      async (req) => {
        const q = req.query as { open?: string; page?: string };
        const r = await consoles.list({ open: q.open === undefined ? undefined : q.open === 'true', limit: 50, offset: (Number(q.page ?? 1) - 1) * 50 });
        return {
          items: r.items.map((s) => ({
            ...s,
            started_at: new Date(s.started_at).toISOString(),
            ended_at: s.ended_at ? new Date(s.ended_at).toISOString() : null,
            bytes_to_vm: Number(s.bytes_to_vm),
            bytes_to_client: Number(s.bytes_to_client),
          })),
          total: r.total,
        };
      },
    );

    app.delete(
      '/api/admin/console-sessions/:id',
      { config: { auth: 'admin' }, schema: { tags: ['admin'], security, summary: 'End a console session', params: Type.Object({ id: Uuid }), response: { 204: Type.Null() } } },
      async (req, reply) => {
        await consoles.kill(req, (req.params as { id: string }).id);
        return reply.code(204).send();
      },
    );
  };
}
