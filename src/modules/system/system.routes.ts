// /api/health tells the truth: it pings the database and libvirt on every call (bounded), and
// answers 503 "degraded" when either is down. /api/metrics serves the Prometheus registry.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { timingSafeEqual } from 'node:crypto';
import type { AppContext } from '../../app.js';
import { AppError } from '../../platform/http/app-error.js';

export interface HypervisorHealth {
  uri: string;
  /** Name used as the `host` label of libvirt_connection_status. */
  hostName: string;
  /** test:/// URIs: the UI and health say "simulated". */
  simulated: boolean;
  ping(timeoutMs: number): Promise<boolean>;
}

const HEALTH_TIMEOUT_MS = 1500;

const HealthResponse = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  db: Type.Union([Type.Literal('connected'), Type.Literal('disconnected')]),
  libvirt: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('simulated')]),
  time: Type.String({ format: 'date-time' }),
  version: Type.String(),
  /** every hypervisor host (the default's status repeats `libvirt`); URIs stay in the admin API */
  hosts: Type.Array(
    Type.Object({
      name: Type.String(),
      state: Type.Union([Type.Literal('active'), Type.Literal('draining'), Type.Literal('unknown')]),
      status: Type.Union([Type.Literal('connected'), Type.Literal('disconnected'), Type.Literal('simulated')]),
    }),
  ),
});

/** What health asks of the hosts module (the default host is pinged through ctx.hypervisor). */
export interface HostsHealth {
  /** every host but the default, with its state; [] when unknown (database down) */
  others(): Promise<{ name: string; state: 'active' | 'draining' | 'unknown'; simulated: boolean; ping(ms: number): Promise<boolean> }[]>;
}

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function hostsHealth(ctx: AppContext): ReturnType<HostsHealth['others']> {
  // ctx.hosts is absent only in apps built without the hosts module
  return ctx.hosts ? ctx.hosts.health().catch(() => []) : [];
}

export function registerSystemRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/health',
      {
        config: { auth: 'public' },
        schema: {
          tags: ['system'],
          summary: 'Liveness and dependency health (pings the database and libvirt)',
          response: { 200: HealthResponse, 503: HealthResponse },
        },
      },
      async (_req, reply) => {
        const [dbOk, libvirtOk, others] = await Promise.all([
          ctx.database.ping(HEALTH_TIMEOUT_MS),
          ctx.hypervisor.ping(HEALTH_TIMEOUT_MS),
          hostsHealth(ctx).then((hs) => Promise.all(hs.map(async (h) => ({ ...h, up: await h.ping(HEALTH_TIMEOUT_MS) })))),
        ]);
        ctx.metrics.databaseUp.set(dbOk ? 1 : 0);
        ctx.metrics.libvirtConnection.set({ host: ctx.hypervisor.hostName }, libvirtOk ? 1 : 0);
        for (const h of others) ctx.metrics.libvirtConnection.set({ host: h.name }, h.up ? 1 : 0);
        const statusOf = (up: boolean, simulated: boolean): 'connected' | 'disconnected' | 'simulated' => (!up ? 'disconnected' : simulated ? 'simulated' : 'connected');
        const libvirt = statusOf(libvirtOk, ctx.hypervisor.simulated);
        const defaultState = (await ctx.hosts?.stateOf('default').catch(() => 'unknown' as const)) ?? 'active';
        // any unreachable host degrades the installation (its VMs cannot be managed)
        const ok = dbOk && libvirtOk && others.every((h) => h.up);
        return reply.code(ok ? 200 : 503).send({
          status: ok ? 'ok' : 'degraded',
          db: dbOk ? 'connected' : 'disconnected',
          libvirt,
          time: ctx.now().toISOString(),
          version: ctx.config.version,
          hosts: [{ name: ctx.hypervisor.hostName, state: defaultState, status: libvirt }, ...others.map((h) => ({ name: h.name, state: h.state, status: statusOf(h.up, h.simulated) }))],
        });
      },
    );

    app.get(
      '/api/metrics',
      { config: { auth: 'public' }, schema: { tags: ['system'], summary: 'Prometheus metrics (text format)', produces: ['text/plain'] } },
      async (req, reply) => {
        const token = ctx.config.metricsToken;
        if (token !== undefined) {
          const auth = req.headers.authorization ?? '';
          if (!auth.startsWith('Bearer ') || !tokenMatches(auth.slice(7), token)) {
            ctx.metrics.authFailures.inc({ reason: 'invalid_token' });
            throw new AppError('UNAUTHORIZED', 'Metrics require the bearer token');
          }
        }
        const body = await ctx.metrics.registry.metrics();
        return reply.type(ctx.metrics.registry.contentType).send(body);
      },
    );
  };
}
