// Account use cases: register, login (throttled), refresh (rotating, reuse-detecting), logout,
// and turning a bearer token into a principal that is re-checked against the database each time.
import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../../app.js';
import { AppError, validationFailed, conflict } from '../../platform/http/app-error.js';
import type { Principal } from '../../platform/http/principal.js';
import { inTransaction, isUniqueViolation } from '../../platform/db/query.js';
import { audit } from '../audit/index.js';
import * as repo from './auth.repo.js';
import * as throttle from './throttle.repo.js';
import { ACCOUNT_RULE, IP_RULE, afterFailure, lockRemainingS } from './throttle-rules.js';
import { checkPassword, checkUsername, PASSWORD_PROBLEM_MESSAGES } from './password-policy.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { ACCESS_TOKEN_TTL_S, REFRESH_TOKEN_TTL_S, createTokenService, hashToken, type TokenService } from './tokens.js';
import { createPrincipalCache } from './principal-cache.js';

export interface PublicUser {
  id: string;
  username: string;
  role: repo.Role;
}

export interface IssuedSession {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  csrfToken: string;
  user: PublicUser;
}

const INVALID_CREDENTIALS = (): AppError => new AppError('UNAUTHORIZED', 'Invalid credentials');

export function validateNewCredentials(username: string, password: string): void {
  const u = checkUsername(username);
  if (u) throw validationFailed('username', u);
  const p = checkPassword(password, username);
  if (p) throw validationFailed('password', PASSWORD_PROBLEM_MESSAGES[p]);
}

export function createAuthService(ctx: AppContext) {
  const db = ctx.database.db;
  // Embedded database: principals kept between requests, invalidated by every write that can end
  // a login (principal-cache.ts). PostgreSQL: other instances write too, so every request asks.
  const principals = createPrincipalCache({ enabled: ctx.database.kind === 'pglite' });
  const tokens: TokenService = createTokenService(ctx.config.secret, ctx.now);
  const publicUser = (u: repo.UserRecord): PublicUser => ({ id: u.id, username: u.username, role: u.role });

  async function issue(req: FastifyRequest, user: repo.UserRecord, familyId: string | null, tx: Parameters<typeof repo.insertSession>[0]) {
    const refreshToken = tokens.newRefreshToken();
    const session = await repo.insertSession(tx, {
      familyId,
      userId: user.id,
      tokenHash: hashToken(refreshToken),
      expiresAt: new Date(ctx.now().getTime() + REFRESH_TOKEN_TTL_S * 1000),
      ip: req.ip,
      userAgent: req.headers['user-agent'],
    });
    const accessToken = await tokens.signAccess({ userId: user.id, sessionFamily: session.familyId });
    const issued: IssuedSession = {
      accessToken,
      expiresIn: ACCESS_TOKEN_TTL_S,
      refreshToken,
      csrfToken: tokens.csrfFor(session.familyId),
      user: publicUser(user),
    };
    return { issued, session };
  }

  async function recordFailure(keys: [string, typeof ACCOUNT_RULE][]): Promise<void> {
    await inTransaction(db, async (tx) => {
      for (const [key, rule] of keys) {
        const prior = await throttle.getThrottleForUpdate(tx, key);
        await throttle.putThrottle(tx, key, afterFailure(prior, rule, ctx.now()));
      }
    });
  }

  return {
    tokens,

    async register(req: FastifyRequest, username: string, password: string): Promise<repo.UserRecord> {
      validateNewCredentials(username, password);
      const passwordHash = await hashPassword(password);
      try {
        const user = await inTransaction(db, async (tx) => {
          const u = await repo.insertUser(tx, { username, passwordHash, role: 'user', status: 'pending' });
          await audit(tx, req, { action: 'user.register', targetType: 'user', targetId: u.id, result: 'success', actor: { id: u.id, username: u.username } });
          return u;
        });
        return user;
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict('Username is already taken', { field: 'username' });
        throw err;
      }
    },

    async login(req: FastifyRequest, username: string, password: string): Promise<IssuedSession> {
      const accountKey = `user:${username.toLowerCase()}`;
      const ipKey = `ip:${req.ip}`;
      const states = await throttle.getThrottle(db, [accountKey, ipKey]);
      const wait = Math.max(lockRemainingS(states.get(accountKey), ctx.now()), lockRemainingS(states.get(ipKey), ctx.now()));
      if (wait > 0) {
        ctx.metrics.authFailures.inc({ reason: 'rate_limited' });
        await audit(db, req, { action: 'auth.login', targetType: 'user', targetId: username.toLowerCase(), result: 'denied', details: { reason: 'rate_limited' }, actor: null });
        throw new AppError('RATE_LIMITED', `Too many failed logins; try again in ${wait} s`, { retry_after_s: wait }, { 'retry-after': String(wait) });
      }

      const user = await repo.findUserByUsername(db, username);
      const ok = await verifyPassword(user?.passwordHash, password);
      if (!user || !ok) {
        await recordFailure([[accountKey, ACCOUNT_RULE], [ipKey, IP_RULE]]);
        ctx.metrics.authFailures.inc({ reason: 'invalid_credentials' });
        await audit(db, req, {
          action: 'auth.login',
          targetType: 'user',
          targetId: user?.id ?? null,
          result: 'failure',
          details: { reason: 'invalid_credentials', username: username.slice(0, 64) },
          actor: null,
        });
        throw INVALID_CREDENTIALS();
      }
      if (user.status === 'pending') {
        ctx.metrics.authFailures.inc({ reason: 'account_pending' });
        throw new AppError('ACCOUNT_PENDING', 'Your account is waiting for an administrator to approve it');
      }
      if (user.status !== 'active') {
        throw new AppError('FORBIDDEN', 'This account is disabled');
      }
      return inTransaction(db, async (tx) => {
        await throttle.clearThrottle(tx, accountKey);
        const { issued } = await issue(req, user, null, tx);
        await audit(tx, req, { action: 'auth.login', targetType: 'user', targetId: user.id, result: 'success', actor: { id: user.id, username: user.username } });
        return issued;
      });
    },

    async refresh(req: FastifyRequest, refreshToken: string): Promise<IssuedSession> {
      const outcome = await inTransaction(db, async (tx) => {
        const row = await repo.findSessionByTokenHashForUpdate(tx, hashToken(refreshToken));
        if (!row) return { kind: 'invalid' as const };
        if (row.revokedAt) {
          if (row.replacedBy) {
            // A rotated-away token came back: someone holds a copy. End the whole login.
            await repo.revokeFamily(tx, row.familyId, 'reuse_detected');
            await audit(tx, req, { action: 'auth.refresh_reuse', targetType: 'session', targetId: row.familyId, result: 'denied', actor: null, details: { user_id: row.userId } });
            return { kind: 'reuse' as const };
          }
          return { kind: 'invalid' as const };
        }
        if (row.expiresAt <= ctx.now()) return { kind: 'invalid' as const };
        const user = await repo.findUserById(tx, row.userId);
        if (!user || user.status !== 'active') {
          await repo.revokeFamily(tx, row.familyId, 'user_inactive');
          return { kind: 'invalid' as const };
        }
        const { issued, session } = await issue(req, user, row.familyId, tx);
        await repo.markRotated(tx, row.id, session.id);
        return { kind: 'ok' as const, issued };
      });
      if (outcome.kind !== 'ok') {
        ctx.metrics.authFailures.inc({ reason: 'invalid_token' });
        throw new AppError('UNAUTHORIZED', outcome.kind === 'reuse' ? 'Session ended: refresh token reuse detected' : 'Session expired or revoked');
      }
      return outcome.issued;
    },

    async logout(req: FastifyRequest, familyId: string): Promise<void> {
      await inTransaction(db, async (tx) => {
        await repo.revokeFamily(tx, familyId, 'logout');
        await audit(tx, req, { action: 'auth.logout', targetType: 'session', targetId: familyId, result: 'success' });
      });
    },

    /** "Log out everywhere": every session of the user (each browser, each device) ends now. */
    async logoutEverywhere(req: FastifyRequest, userId: string): Promise<void> {
      await inTransaction(db, async (tx) => {
        await repo.revokeAllForUser(tx, userId, 'logout_all');
        await audit(tx, req, { action: 'auth.logout_all', targetType: 'user', targetId: userId, result: 'success' });
      });
    },

    /**
     * Family id behind a refresh token, for the CSRF check. Revoked tokens still name their family
     * so that a replayed (rotated-away) token reaches refresh() and triggers reuse detection.
     */
    async familyOfRefreshToken(refreshToken: string): Promise<string | undefined> {
      return (await repo.findSessionByTokenHash(db, hashToken(refreshToken)))?.familyId;
    },

    /** The principal of a still-live login (console tickets carry user + session family). */
    async principalFor(userId: string, sessionFamily: string): Promise<Principal> {
      const found = await repo.findPrincipal(db, userId, sessionFamily);
      if (!found || !found.live || found.user.status !== 'active') throw new AppError('UNAUTHORIZED', 'Session ended');
      const u = found.user;
      return { id: u.id, username: u.username, role: u.role, status: u.status, sessionFamily };
    },

    /** Bearer token → principal, re-checked against the user's current status and session. */
    async authenticate(token: string): Promise<Principal> {
      const v = await tokens.verifyAccess(token);
      if (!v.ok) {
        ctx.metrics.authFailures.inc({ reason: v.reason });
        throw new AppError('UNAUTHORIZED', v.reason === 'expired_token' ? 'Access token expired' : 'Invalid access token');
      }
      const { userId, sessionFamily } = v.claims;
      const cached = principals.get(userId, sessionFamily);
      if (cached) return { ...cached, sessionFamily };
      const gen = principals.generation();
      const found = await repo.findPrincipal(db, userId, sessionFamily);
      if (!found || !found.liveUntil) {
        ctx.metrics.authFailures.inc({ reason: 'invalid_token' });
        throw new AppError('UNAUTHORIZED', 'Session ended');
      }
      const u = found.user;
      const user = { id: u.id, username: u.username, role: u.role, status: u.status };
      principals.put(gen, userId, sessionFamily, user, found.liveUntil);
      return { ...user, sessionFamily };
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
