// Security properties of accounts: throttling, refresh-token reuse, revocation, CSRF, proxies,
// secrets never logged, and exact failure counting.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { insertTestUser, login, newAdmin, newUser, parseSetCookies, TEST_PASSWORD } from '../helpers/factories.js';

async function metricValue(t: TestApp, series: string): Promise<number> {
  const body = (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  assert.ok(line, `${series} missing`);
  return Number(line.split(' ')[1]);
}

for (const engine of DB_ENGINES) {
  describe(`account security (${engine})`, () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ engine });
    });
    after(() => t.close());

    test('auth_failure_total{reason="invalid_credentials"} rises by exactly one per failed login', async () => {
      const series = 'auth_failure_total{reason="invalid_credentials"}';
      const u = await insertTestUser(t.app);
      const before0 = await metricValue(t, series);
      await login(t.app, u.username, 'wrong-password-xyz');
      assert.equal(await metricValue(t, series), before0 + 1);
      await login(t.app, 'nobody-here', 'wrong-password-xyz');
      assert.equal(await metricValue(t, series), before0 + 2);
      await login(t.app, u.username); // success: no change
      assert.equal(await metricValue(t, series), before0 + 2);
    });

    test('brute force on one account is throttled (429 + Retry-After) while another account still logs in', async () => {
      const victim = await insertTestUser(t.app);
      const other = await insertTestUser(t.app);
      const limitedBefore = await metricValue(t, 'auth_failure_total{reason="rate_limited"}');
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await login(t.app, victim.username, `guess-number-${i}`)).statusCode);
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
      assert.equal(statuses[5], 429);
      // Even the right password is refused while locked: guessing cannot continue.
      const locked = await login(t.app, victim.username);
      const b = assertErrorBody(locked, 429, 'RATE_LIMITED');
      assert.ok(Number(locked.headers['retry-after']) > 0);
      assert.ok((b.details as { retry_after_s: number }).retry_after_s > 0);
      assert.ok((await metricValue(t, 'auth_failure_total{reason="rate_limited"}')) > limitedBefore);
      const ok = await login(t.app, other.username);
      assert.equal(ok.statusCode, 200);
    });

    test('X-Forwarded-For from a peer that is not a configured proxy is ignored', async () => {
      const victim = await insertTestUser(t.app);
      // Each attempt claims a different client IP; without a trusted proxy they all count for the socket peer.
      for (let i = 0; i < 5; i++) {
        await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: victim.username, password: `guess-${i}-xx` }, headers: { 'x-forwarded-for': `203.0.113.${i}` } });
      }
      const res = await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: victim.username, password: 'another-guess' }, headers: { 'x-forwarded-for': '198.51.100.7' } });
      assert.equal(res.statusCode, 429);
      const rows = await t.app.inject({ method: 'GET', url: '/api/admin/audit?action=auth.login&result=failure', headers: (await newAdmin(t.app)).auth });
      const ips = new Set((rows.json().items as { ip: string }[]).map((r) => r.ip));
      assert.ok(!ips.has('203.0.113.1'), 'spoofed X-Forwarded-For must not be recorded as the client IP');
    });

    test('reusing a rotated refresh token revokes the whole family', async () => {
      const u = await newUser(t.app);
      const first = u.cookies.limen_refresh!;
      const r1 = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: first }, headers: { 'x-csrf-token': u.csrf } });
      assert.equal(r1.statusCode, 200);
      const second = parseSetCookies(r1.headers['set-cookie']).limen_refresh!;
      const newAccess = r1.json().access_token as string;
      // An attacker replays the old token: refused, and the legitimate chain dies with it.
      const replay = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: first }, headers: { 'x-csrf-token': u.csrf } });
      assertErrorBody(replay, 401, 'UNAUTHORIZED');
      const r2 = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: second }, headers: { 'x-csrf-token': u.csrf } });
      assertErrorBody(r2, 401, 'UNAUTHORIZED');
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${newAccess}` } }), 401, 'UNAUTHORIZED');
    });

    test('a cookie-authenticated state change without CSRF proof is refused', async () => {
      const u = await newUser(t.app);
      const noHeader = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: u.cookies.limen_refresh! } });
      assertErrorBody(noHeader, 403, 'FORBIDDEN');
      const wrong = await t.app.inject({ method: 'POST', url: '/api/auth/logout', cookies: { limen_refresh: u.cookies.limen_refresh! }, headers: { 'x-csrf-token': 'forged' } });
      assertErrorBody(wrong, 403, 'FORBIDDEN');
      // Another user's CSRF token does not fit this session either.
      const v = await newUser(t.app);
      const cross = await t.app.inject({ method: 'POST', url: '/api/auth/logout', cookies: { limen_refresh: u.cookies.limen_refresh! }, headers: { 'x-csrf-token': v.csrf } });
      assertErrorBody(cross, 403, 'FORBIDDEN');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth })).statusCode, 200, 'the session is untouched');
    });

    test('a disabled user loses access on the next request', async () => {
      const admin = await newAdmin(t.app);
      const u = await newUser(t.app);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth })).statusCode, 200);
      const d = await t.app.inject({ method: 'POST', url: `/api/admin/users/${u.id}/disable`, headers: admin.auth });
      assert.equal(d.statusCode, 200);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth }), 401, 'UNAUTHORIZED');
      const r = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: u.cookies.limen_refresh! }, headers: { 'x-csrf-token': u.csrf } });
      assert.equal(r.statusCode, 401);
    });

    test('a demoted admin loses admin routes on the next request', async () => {
      const root = await newAdmin(t.app);
      const other = await newAdmin(t.app);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/admin/users', headers: other.auth })).statusCode, 200);
      const p = await t.app.inject({ method: 'PATCH', url: `/api/admin/users/${other.id}`, headers: root.auth, payload: { role: 'user' } });
      assert.equal(p.statusCode, 200);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/admin/users', headers: other.auth }), 403, 'FORBIDDEN');
    });

    test('an expired or forged access token is 401 and counted by reason', async () => {
      const u = await newUser(t.app);
      const expired = await t.app.limen.auth.tokens.signAccess({ userId: u.id, sessionFamily: '00000000-0000-0000-0000-000000000000' }, -10);
      const before0 = await metricValue(t, 'auth_failure_total{reason="expired_token"}');
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${expired}` } }), 401, 'UNAUTHORIZED');
      assert.equal(await metricValue(t, 'auth_failure_total{reason="expired_token"}'), before0 + 1);
      const [h, p] = u.token.split('.');
      const forged = `${h}.${p}.${'A'.repeat(43)}`;
      const inv0 = await metricValue(t, 'auth_failure_total{reason="invalid_token"}');
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${forged}` } }), 401, 'UNAUTHORIZED');
      assert.equal(await metricValue(t, 'auth_failure_total{reason="invalid_token"}'), inv0 + 1);
    });

    test('passwords are stored as argon2id PHC strings', async () => {
      const u = await insertTestUser(t.app);
      const { authRepo } = await import('../../src/modules/auth/index.js');
      const row = await authRepo.findUserById(t.app.limen.database.db, u.id);
      assert.match(row!.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });

    test('no password, token or hash appears in the logs', async () => {
      const u = await newUser(t.app);
      await login(t.app, u.username, 'Wrong-Secret-Attempt-99');
      await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: u.cookies.limen_refresh! }, headers: { 'x-csrf-token': u.csrf } });
      await t.app.inject({ method: 'GET', url: `/api/auth/me?token=${u.token}`, headers: u.auth });
      await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: { username: 'logcheck', password: 'Register-Secret-123' } });
      const { authRepo } = await import('../../src/modules/auth/index.js');
      const hash = (await authRepo.findUserById(t.app.limen.database.db, u.id))!.passwordHash;
      const logs = t.logs.text();
      assert.ok(logs.length > 0, 'logs were captured');
      for (const secret of [TEST_PASSWORD, 'Wrong-Secret-Attempt-99', 'Register-Secret-123', u.token, u.cookies.limen_refresh!, u.csrf, hash, t.config.secret]) {
        assert.equal(logs.includes(secret), false, `secret leaked into logs: ${secret.slice(0, 12)}…`);
      }
    });
  });
}
