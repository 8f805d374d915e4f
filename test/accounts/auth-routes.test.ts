// Contract tests for /api/auth/* (CONTRACT.md §3–4), on PGlite and the real PostgreSQL server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { insertTestUser, login, newUser, parseSetCookies, uniqueName } from '../helpers/factories.js';

for (const engine of DB_ENGINES) {
  describe(`auth routes (${engine})`, () => {
    let t: TestApp;
    before(async () => {
      t = await buildTestApp({ engine });
    });
    after(() => t.close());

    test('register creates a pending account', async () => {
      const username = uniqueName('reg');
      const res = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password: 'a long enough passphrase' } });
      assert.equal(res.statusCode, 201);
      const b = res.json();
      assert.equal(b.user.username, username);
      assert.equal(b.user.status, 'pending');
      assert.equal(b.user.role, 'user');
      assert.match(b.user.id, /^[0-9a-f-]{36}$/);
      assert.equal(JSON.stringify(b).includes('hash'), false);
      const li = await login(t.app, username, 'a long enough passphrase');
      assertErrorBody(li, 403, 'ACCOUNT_PENDING');
    });

    test('usernames are case-insensitively unique', async () => {
      const username = uniqueName('dup');
      const a = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password: 'a long enough passphrase' } });
      assert.equal(a.statusCode, 201);
      const b = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: { username: username.toUpperCase(), password: 'a long enough passphrase' } });
      assertErrorBody(b, 409, 'CONFLICT');
    });

    for (const [why, username, password, field] of [
      ['short username', 'ab', 'a long enough passphrase', 'username'],
      ['long username', 'a'.repeat(33), 'a long enough passphrase', 'username'],
      ['bad characters', 'bob smith', 'a long enough passphrase', 'username'],
      ['short password', 'validname', 'short', 'password'],
      ['long password', 'validname', 'x'.repeat(257), 'password'],
      ['password equals username', 'validname123', 'VALIDNAME123', 'password'],
      ['common password', 'validname', 'password123', 'password'],
    ] as const) {
      test(`register refuses ${why} naming the field`, async () => {
        const res = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password } });
        const b = assertErrorBody(res, 400, 'VALIDATION_FAILED');
        assert.equal((b.details as { field: string }).field, field);
      });
    }

    test('login returns the contract shape and an HttpOnly SameSite=Strict refresh cookie', async () => {
      const u = await insertTestUser(t.app);
      const res = await login(t.app, u.username.toUpperCase());
      assert.equal(res.statusCode, 200);
      const b = res.json();
      assert.equal(b.token_type, 'Bearer');
      assert.ok(b.expires_in > 0 && b.expires_in <= 900);
      assert.deepEqual(b.user, { id: u.id, username: u.username, role: 'user' });
      assert.equal(typeof b.access_token, 'string');
      const raw = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
      const refresh = raw.find((c) => c.startsWith('limen_refresh='));
      assert.ok(refresh, 'refresh cookie set');
      assert.match(refresh, /HttpOnly/i);
      assert.match(refresh, /SameSite=Strict/i);
      assert.match(refresh, /Path=\/api\/auth/);
      assert.doesNotMatch(refresh, /Secure/); // plain HTTP on loopback
    });

    test('failed login answers the exact contract body whether the user exists or not', async () => {
      const u = await insertTestUser(t.app);
      const wrong = await login(t.app, u.username, 'not-the-password-123');
      const unknown = await login(t.app, uniqueName('ghost'), 'not-the-password-123');
      for (const res of [wrong, unknown]) {
        const b = assertErrorBody(res, 401, 'UNAUTHORIZED');
        assert.equal(b.message, 'Invalid credentials');
        assert.deepEqual(Object.keys(b).sort(), ['code', 'error_code', 'message', 'request_id']);
      }
    });

    test('disabled and rejected accounts cannot log in', async () => {
      for (const status of ['disabled', 'rejected'] as const) {
        const u = await insertTestUser(t.app, { status });
        assertErrorBody(await login(t.app, u.username), 403, 'FORBIDDEN');
      }
    });

    test('/api/auth/me returns the current user; no token is 401', async () => {
      const u = await newUser(t.app);
      const me = await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().username, u.username);
      assert.equal(me.json().status, 'active');
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me' }), 401, 'UNAUTHORIZED');
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: 'Bearer garbage' } }), 401, 'UNAUTHORIZED');
    });

    test('refresh rotates the cookie and returns a working access token', async () => {
      const u = await newUser(t.app);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/auth/refresh',
        cookies: { limen_refresh: u.cookies.limen_refresh! },
        headers: { 'x-csrf-token': u.csrf },
      });
      assert.equal(res.statusCode, 200, res.body);
      const next = parseSetCookies(res.headers['set-cookie']);
      assert.ok(next.limen_refresh && next.limen_refresh !== u.cookies.limen_refresh);
      const me = await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${res.json().access_token}` } });
      assert.equal(me.statusCode, 200);
    });

    test('refresh without a cookie is 401', async () => {
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/auth/refresh' }), 401, 'UNAUTHORIZED');
    });

    test('logout with the bearer token revokes the session server-side', async () => {
      const u = await newUser(t.app);
      const out = await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: u.auth });
      assert.equal(out.statusCode, 204);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth }), 401, 'UNAUTHORIZED');
      const r = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: u.cookies.limen_refresh! }, headers: { 'x-csrf-token': u.csrf } });
      assertErrorBody(r, 401, 'UNAUTHORIZED');
    });

    test('logout everywhere ends every session of the user, and only theirs', async () => {
      const u = await newUser(t.app);
      const other = await newUser(t.app);
      const second = await login(t.app, u.username); // another browser
      assert.equal(second.statusCode, 200, second.body);
      const secondAuth = { authorization: `Bearer ${second.json().access_token}` };
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/auth/logout-all' }), 401, 'UNAUTHORIZED');
      const out = await t.app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: u.auth });
      assert.equal(out.statusCode, 204);
      for (const auth of [u.auth, secondAuth]) assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: auth }), 401, 'UNAUTHORIZED');
      const refresh = await t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: parseSetCookies(second.headers['set-cookie']).limen_refresh! }, headers: { 'x-csrf-token': second.json().csrf_token } });
      assertErrorBody(refresh, 401, 'UNAUTHORIZED');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: other.auth })).statusCode, 200, 'another user stays signed in');
      const again = await login(t.app, u.username);
      assert.equal(again.statusCode, 200, 'signing in again works');
    });

    test('logout with the cookie and CSRF header works too', async () => {
      const u = await newUser(t.app);
      const out = await t.app.inject({ method: 'POST', url: '/api/auth/logout', cookies: { limen_refresh: u.cookies.limen_refresh! }, headers: { 'x-csrf-token': u.csrf } });
      assert.equal(out.statusCode, 204);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth }), 401, 'UNAUTHORIZED');
    });

  });
}
