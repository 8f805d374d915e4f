// /api/auth/*: HTTP only. Refresh and logout can be cookie-authenticated, so they require CSRF
// proof (the X-CSRF-Token header, an HMAC of the session) unless a bearer token is presented.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../app.js';
import { AppError, unauthorized } from '../../platform/http/app-error.js';
import type { AuthService, IssuedSession } from './auth.service.js';
import { findUserById } from './auth.repo.js';
import { Credentials, Me, RegisterResponse, TokenResponse } from './auth.schemas.js';
import { REFRESH_TOKEN_TTL_S } from './tokens.js';
import { principalOf } from './auth-hook.js';

export const REFRESH_COOKIE = 'limen_refresh';
export const CSRF_COOKIE = 'limen_csrf';

function setSessionCookies(req: FastifyRequest, reply: FastifyReply, s: IssuedSession): void {
  const secure = req.protocol === 'https';
  void reply.setCookie(REFRESH_COOKIE, s.refreshToken, {
    httpOnly: true,
    sameSite: 'strict',
    secure,
    path: '/api/auth',
    maxAge: REFRESH_TOKEN_TTL_S,
  });
  // Readable by the page so it can echo it in X-CSRF-Token; useless to another origin.
  void reply.setCookie(CSRF_COOKIE, s.csrfToken, { httpOnly: false, sameSite: 'strict', secure, path: '/', maxAge: REFRESH_TOKEN_TTL_S });
}

function clearSessionCookies(reply: FastifyReply): void {
  void reply.clearCookie(REFRESH_COOKIE, { path: '/api/auth' });
  void reply.clearCookie(CSRF_COOKIE, { path: '/' });
}

const tokenBody = (s: IssuedSession) => ({
  access_token: s.accessToken,
  token_type: 'Bearer' as const,
  expires_in: s.expiresIn,
  csrf_token: s.csrfToken,
  user: s.user,
});

/** A cookie-authenticated state change must come from our own page: checked CSRF header. */
async function requireCsrf(req: FastifyRequest, auth: AuthService, refreshToken: string): Promise<string> {
  const family = await auth.familyOfRefreshToken(refreshToken);
  const header = req.headers['x-csrf-token'];
  if (!family) throw new AppError('UNAUTHORIZED', 'Session expired or revoked');
  if (typeof header !== 'string' || !auth.tokens.csrfMatches(family, header)) {
    throw new AppError('FORBIDDEN', 'Missing or invalid CSRF token (send X-CSRF-Token)');
  }
  return family;
}

export function registerAuthRoutes(ctx: AppContext, auth: AuthService): FastifyPluginAsync {
  return async (app) => {
    const tags = ['auth'];

    app.post(
      '/api/auth/register',
      { config: { auth: 'public' }, schema: { tags, summary: 'Register an account (pending approval)', body: Credentials, response: { 201: RegisterResponse } } },
      async (req, reply) => {
        const { username, password } = req.body as { username: string; password: string };
        const u = await auth.register(req, username, password);
        return reply.code(201).send({
          user: { id: u.id, username: u.username, role: u.role, status: u.status },
          message: 'Account created; an administrator must approve it before you can log in',
        });
      },
    );

    app.post(
      '/api/auth/login',
      { config: { auth: 'public' }, schema: { tags, summary: 'Log in', body: Credentials, response: { 200: TokenResponse } } },
      async (req, reply) => {
        const { username, password } = req.body as { username: string; password: string };
        const s = await auth.login(req, username, password);
        setSessionCookies(req, reply, s);
        return tokenBody(s);
      },
    );

    app.post(
      '/api/auth/refresh',
      { config: { auth: 'public' }, schema: { tags, summary: 'Rotate the refresh cookie and get a new access token (needs X-CSRF-Token)', response: { 200: TokenResponse } } },
      async (req, reply) => {
        const token = req.cookies[REFRESH_COOKIE];
        if (!token) {
          ctx.metrics.authFailures.inc({ reason: 'invalid_token' });
          throw unauthorized('No session');
        }
        await requireCsrf(req, auth, token);
        const s = await auth.refresh(req, token);
        setSessionCookies(req, reply, s);
        return tokenBody(s);
      },
    );

    app.post(
      '/api/auth/logout',
      { config: { auth: 'public' }, schema: { tags, summary: 'Log out (revokes the session server-side)', response: { 204: Type.Null() } } },
      async (req, reply) => {
        const h = req.headers.authorization;
        let family: string | undefined;
        if (h?.startsWith('Bearer ')) {
          family = (await auth.authenticate(h.slice(7))).sessionFamily;
        } else {
          const token = req.cookies[REFRESH_COOKIE];
          if (!token) throw unauthorized('No session');
          family = await requireCsrf(req, auth, token);
        }
        await auth.logout(req, family);
        clearSessionCookies(reply);
        return reply.code(204).send();
      },
    );

    app.post(
      '/api/auth/logout-all',
      {
        config: { auth: 'user' },
        schema: { tags, summary: 'Log out everywhere (revokes every session of the calling user)', security: [{ bearer: [] }], response: { 204: Type.Null() } },
      },
      async (req, reply) => {
        await auth.logoutEverywhere(req, principalOf(req).id);
        clearSessionCookies(reply);
        return reply.code(204).send();
      },
    );

    app.get(
      '/api/auth/me',
      { config: { auth: 'user' }, schema: { tags, summary: 'The logged-in user', security: [{ bearer: [] }], response: { 200: Me } } },
      async (req) => {
        const p = principalOf(req);
        const u = await findUserById(ctx.database.db, p.id);
        if (!u) throw unauthorized();
        return { id: u.id, username: u.username, role: u.role, status: u.status, created_at: u.createdAt.toISOString() };
      },
    );
  };
}
