// /api/quota (own) and the admin quota endpoints. PUT takes any subset of the limit keys; the
// others keep their value; null = unlimited; for a user, "default" = follow the instance default.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type TSchema } from 'typebox';
import type { AppContext } from '../../app.js';
import { principalOf } from '../auth/index.js';
import { QUOTA_KEYS, type QuotaKey, type QuotaLimits } from './quota-rules.js';
import type { QuotasService } from './quotas.service.js';

const MAX = 1_000_000_000;
const keyed = (schema: () => TSchema) => Object.fromEntries(QUOTA_KEYS.map((k) => [k, schema()]));

const Limits = Type.Object(keyed(() => Type.Union([Type.Integer({ minimum: 0, maximum: MAX }), Type.Null()])));
const Usage = Type.Object(keyed(() => Type.Integer()));
const OverLimit = Type.Array(Type.Union(QUOTA_KEYS.map((k) => Type.Literal(k))));
const QuotaView = Type.Object({ limits: Limits, usage: Usage, over_limit: OverLimit });
const AdminQuotaView = Type.Object({
  user_id: Type.String({ format: 'uuid' }),
  limits: Limits,
  usage: Usage,
  over_limit: OverLimit,
  overrides: Type.Object(Object.fromEntries(QUOTA_KEYS.map((k) => [k, Type.Optional(Type.Union([Type.Integer(), Type.Null()]))]))),
  defaults: Limits,
});

const DefaultsPatch = Type.Object(
  Object.fromEntries(QUOTA_KEYS.map((k) => [k, Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: MAX }), Type.Null()]))])),
  { additionalProperties: false, minProperties: 1 },
);
const UserPatch = Type.Object(
  Object.fromEntries(QUOTA_KEYS.map((k) => [k, Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: MAX }), Type.Null(), Type.Literal('default')]))])),
  { additionalProperties: false, minProperties: 1 },
);

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const security = [{ bearer: [] }];

export function registerQuotaRoutes(_ctx: AppContext, quotas: QuotasService): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/quota',
      { config: { auth: 'user' }, schema: { tags: ['quota'], security, summary: 'Your limits and current usage', response: { 200: QuotaView } } },
      async (req) => quotas.view(principalOf(req).id),
    );

    app.get(
      '/api/admin/users/:id/quota',
      { config: { auth: 'admin' }, schema: { tags: ['admin'], security, summary: 'A user’s limits, overrides and usage', params: IdParams, response: { 200: AdminQuotaView } } },
      async (req) => quotas.adminView((req.params as { id: string }).id),
    );

    app.put(
      '/api/admin/users/:id/quota',
      {
        config: { auth: 'admin' },
        schema: { tags: ['admin'], security, summary: 'Set some of a user’s limits (null = unlimited, "default" = follow defaults)', params: IdParams, body: UserPatch, response: { 200: AdminQuotaView } },
      },
      async (req) => quotas.setUserLimits(req, (req.params as { id: string }).id, req.body as Partial<Record<QuotaKey, number | null | 'default'>>),
    );

    app.get(
      '/api/admin/quota-defaults',
      { config: { auth: 'admin' }, schema: { tags: ['admin'], security, summary: 'Quota defaults for users without overrides', response: { 200: Limits } } },
      async () => quotas.getDefaults(),
    );

    app.put(
      '/api/admin/quota-defaults',
      { config: { auth: 'admin' }, schema: { tags: ['admin'], security, summary: 'Change some quota defaults (null = unlimited)', body: DefaultsPatch, response: { 200: Limits } } },
      async (req) => quotas.setDefaults(req, req.body as Partial<QuotaLimits>),
    );
  };
}
