// The one place that decides who may call a route. Every /api and /ws route declares
// `config.auth` (public | user | admin | webhook); a route without it fails start-up, so a new
// endpoint can never be open by accident.
import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, forbidden, unauthorized } from '../../platform/http/app-error.js';
import type { AuthService } from './auth.service.js';

function bearerOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim() || undefined;
  // Browsers cannot set headers on a websocket: /ws/ routes take the access token in the query.
  if (req.url.startsWith('/ws/')) {
    const q = req.query as Record<string, unknown> | undefined;
    if (typeof q?.token === 'string' && q.token !== '') return q.token;
  }
  return undefined;
}

export interface RouteAccess {
  method: string;
  url: string;
  auth: NonNullable<FastifyContextConfig['auth']>;
}

/**
 * Installs the guard. `table` receives every guarded route (method, url, level): the
 * authorization-matrix test compares it with its expectations, so no route goes unreviewed.
 */
export function registerAuthHook(app: FastifyInstance, auth: AuthService, table: RouteAccess[] = []): void {
  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path ?? '';
    route.config ??= {};
    if (url.startsWith('/api/docs') || url === '/api/openapi.json') route.config.auth ??= 'public';
    if (!url.startsWith('/api/') && !url.startsWith('/ws/')) return;
    const level = route.config.auth;
    if (level === undefined) throw new Error(`route ${String(route.method)} ${url} does not declare config.auth`);
    for (const method of ([] as string[]).concat(route.method)) {
      if (method !== 'HEAD') table.push({ method, url, auth: level });
    }
  });

  app.addHook('onRequest', async (req) => {
    const level = req.routeOptions.config.auth;
    if (level === undefined || level === 'public' || level === 'webhook') return;
    const token = bearerOf(req);
    if (!token) throw unauthorized();
    const principal = await auth.authenticate(token);
    if (principal.status === 'pending') throw new AppError('ACCOUNT_PENDING', 'Your account is waiting for approval');
    if (principal.status !== 'active') throw new AppError('UNAUTHORIZED', 'This account is disabled');
    if (level === 'admin' && principal.role !== 'admin') throw forbidden('Administrator role required');
    req.principal = principal;
  });
}

/** The principal of a route guarded by 'user' or 'admin' (the hook guarantees it). */
export function principalOf(req: FastifyRequest) {
  if (!req.principal) throw unauthorized();
  return req.principal;
}
