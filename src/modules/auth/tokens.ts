// Access tokens (short-lived JWT, HS256 with LIMEN_SECRET), refresh tokens (random, stored only
// as SHA-256) and CSRF tokens (an HMAC of the session family, so they need no storage).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';

export const ACCESS_TOKEN_TTL_S = 900; // 15 minutes
export const REFRESH_TOKEN_TTL_S = 30 * 24 * 3600;

export interface AccessClaims {
  userId: string;
  sessionFamily: string;
}

export type VerifyResult = { ok: true; claims: AccessClaims } | { ok: false; reason: 'invalid_token' | 'expired_token' };

export function createTokenService(secret: string, now: () => Date = () => new Date()) {
  const key = createHash('sha256').update(`access:${secret}`).digest();
  const csrfKey = createHash('sha256').update(`csrf:${secret}`).digest();
  const nowS = (): number => Math.floor(now().getTime() / 1000);

  return {
    async signAccess(claims: AccessClaims, ttlS = ACCESS_TOKEN_TTL_S): Promise<string> {
      return new SignJWT({ sid: claims.sessionFamily })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuedAt(nowS())
        .setExpirationTime(nowS() + ttlS)
        .setIssuer('limen')
        .setAudience('limen-api')
        .sign(key);
    },

    async verifyAccess(token: string): Promise<VerifyResult> {
      try {
        const { payload } = await jwtVerify(token, key, {
          issuer: 'limen',
          audience: 'limen-api',
          algorithms: ['HS256'],
          currentDate: now(),
        });
        if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return { ok: false, reason: 'invalid_token' };
        return { ok: true, claims: { userId: payload.sub, sessionFamily: payload.sid } };
      } catch (err) {
        return { ok: false, reason: err instanceof joseErrors.JWTExpired ? 'expired_token' : 'invalid_token' };
      }
    },

    newRefreshToken(): string {
      return randomBytes(32).toString('base64url');
    },

    csrfFor(sessionFamily: string): string {
      return createHmac('sha256', csrfKey).update(sessionFamily).digest('base64url');
    },

    csrfMatches(sessionFamily: string, given: string): boolean {
      const a = Buffer.from(this.csrfFor(sessionFamily));
      const b = Buffer.from(given);
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
