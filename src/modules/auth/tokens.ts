// Access tokens (short-lived JWT, HS256 with LIMEN_SECRET), refresh tokens (random, stored only
// as SHA-256) and CSRF tokens (an HMAC of the session family, so they need no storage).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';

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

    /**
     * Checks an access token on every authenticated request, synchronously with node:crypto (jose's
     * verify goes through WebCrypto: an async job per request, ~10 % of a cached GET's CPU). Same
     * rules as jose's jwtVerify with our options: compact HS256 only (no other alg, no `crit`),
     * signature compared in constant time before anything is parsed, iss/aud exact, exp in the
     * future, nbf (if present) not in the future.
     */
    async verifyAccess(token: string): Promise<VerifyResult> {
      return verifyHs256(token, key, nowS());
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

const B64URL = /^[A-Za-z0-9_-]+$/;
const INVALID: VerifyResult = { ok: false, reason: 'invalid_token' };

function jsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Verifies a compact HS256 JWT issued by signAccess (see verifyAccess). Exported for its unit test. */
export function verifyHs256(token: string, key: Uint8Array, nowS: number): VerifyResult {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return INVALID;
  const [h, p, s] = parts as [string, string, string];
  const expected = createHmac('sha256', key).update(`${h}.${p}`).digest();
  const given = Buffer.from(s, 'base64url');
  // canonical encoding only: no trailing bits that decode to the same signature
  if (given.length !== expected.length || given.toString('base64url') !== s || !timingSafeEqual(given, expected)) return INVALID;
  const header = jsonPart(h);
  if (!header || header.alg !== 'HS256' || header.crit !== undefined || header.b64 !== undefined) return INVALID;
  const claims = jsonPart(p);
  if (!claims) return INVALID;
  const aud = claims.aud;
  if (claims.iss !== 'limen' || !(aud === 'limen-api' || (Array.isArray(aud) && aud.includes('limen-api')))) return INVALID;
  if (typeof claims.exp !== 'number' || (claims.iat !== undefined && typeof claims.iat !== 'number')) return INVALID;
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > nowS)) return INVALID;
  if (claims.exp <= nowS) return { ok: false, reason: 'expired_token' };
  if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string') return INVALID;
  return { ok: true, claims: { userId: claims.sub, sessionFamily: claims.sid } };
}

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
