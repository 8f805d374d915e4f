// The synchronous access-token check (tokens.ts verifyHs256) must accept and refuse exactly what
// jose's jwtVerify did with LIMEN's options: every case is run through both and compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { createTokenService, verifyHs256, type VerifyResult } from '../../src/modules/auth/tokens.js';

const SECRET = 'unit-test-secret-for-access-tokens';
const key = createHash('sha256').update(`access:${SECRET}`).digest();
const NOW = 1_800_000_000;
const USER = '11111111-1111-4111-8111-111111111111';
const FAMILY = '22222222-2222-4222-8222-222222222222';

async function viaJose(token: string): Promise<VerifyResult> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: 'limen', audience: 'limen-api', algorithms: ['HS256'], currentDate: new Date(NOW * 1000) });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return { ok: false, reason: 'invalid_token' };
    return { ok: true, claims: { userId: payload.sub, sessionFamily: payload.sid } };
  } catch (err) {
    return { ok: false, reason: err instanceof joseErrors.JWTExpired ? 'expired_token' : 'invalid_token' };
  }
}

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

function sign(claims: object, opts: { alg?: string; header?: object; signKey?: Uint8Array } = {}): Promise<string> {
  return new SignJWT({ sid: FAMILY, ...claims })
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT', ...opts.header })
    .sign(opts.signKey ?? key);
}

/** A token signed by hand (headers SignJWT refuses to produce). */
function hmacSigned(header: object, payloadPart: string): string {
  const h = b64(header);
  return `${h}.${payloadPart}.${createHmac('sha256', key).update(`${h}.${payloadPart}`).digest('base64url')}`;
}

const base = { sub: USER, iss: 'limen', aud: 'limen-api', iat: NOW - 10, exp: NOW + 900 };

test('verifyHs256 agrees with jose on valid, expired, forged and malformed tokens', async () => {
  const good = await sign(base);
  const [h, p, s] = good.split('.') as [string, string, string];
  const flip = (str: string) => str.slice(0, -2) + (str.at(-2) === 'A' ? 'B' : 'A') + str.at(-1);
  const cases: Record<string, string> = {
    valid: good,
    'valid, audience list': await sign({ ...base, aud: ['other', 'limen-api'] }),
    expired: await sign({ ...base, exp: NOW - 1 }),
    'expires this second': await sign({ ...base, exp: NOW }),
    'wrong issuer': await sign({ ...base, iss: 'someone' }),
    'wrong audience': await sign({ ...base, aud: 'other' }),
    'not yet valid': await sign({ ...base, nbf: NOW + 60 }),
    'no subject': await sign({ ...base, sub: undefined }),
    'HS512 with the same key': await sign(base, { alg: 'HS512' }),
    'other key': await sign(base, { signKey: createHash('sha256').update('other').digest() }),
    'crit header': hmacSigned({ alg: 'HS256', crit: ['x'], x: 1 }, p),
    'typ other, still HS256': hmacSigned({ alg: 'HS256', typ: 'other' }, p),
    'claims not an object': hmacSigned({ alg: 'HS256' }, Buffer.from('[1]').toString('base64url')),
    'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
    'tampered payload': `${h}.${b64({ ...base, sub: '33333333-3333-4333-8333-333333333333', sid: FAMILY })}.${s}`,
    'forged signature': `${h}.${p}.${'A'.repeat(43)}`,
    'flipped signature': `${h}.${p}.${flip(s)}`,
    'two parts': `${h}.${p}`,
    'four parts': `${good}.x`,
    garbage: 'not-a-token',
    empty: '',
  };
  for (const [name, token] of Object.entries(cases)) {
    assert.deepEqual(verifyHs256(token, key, NOW), await viaJose(token), name);
  }
  assert.deepEqual(verifyHs256(good, key, NOW), { ok: true, claims: { userId: USER, sessionFamily: FAMILY } });
  assert.equal(verifyHs256(cases.expired!, key, NOW).ok, false);
  // Deliberately stricter than jose: a token without exp (LIMEN never issues one) and a padded
  // signature (jose's decoder tolerates '=') are refused.
  assert.deepEqual(verifyHs256(await sign({ sub: USER, iss: 'limen', aud: 'limen-api' }), key, NOW), { ok: false, reason: 'invalid_token' });
  assert.deepEqual(verifyHs256(`${h}.${p}.${s}=`, key, NOW), { ok: false, reason: 'invalid_token' });
});

test('the token service verifies what it signs, and refuses it once expired', async () => {
  let now = new Date(NOW * 1000);
  const tokens = createTokenService(SECRET, () => now);
  const t = await tokens.signAccess({ userId: USER, sessionFamily: FAMILY });
  assert.deepEqual(await tokens.verifyAccess(t), { ok: true, claims: { userId: USER, sessionFamily: FAMILY } });
  now = new Date((NOW + 901) * 1000);
  assert.deepEqual(await tokens.verifyAccess(t), { ok: false, reason: 'expired_token' });
  assert.deepEqual(await createTokenService('another-secret', () => new Date(NOW * 1000)).verifyAccess(t), { ok: false, reason: 'invalid_token' });
});
