// The auth hook's principal is kept in memory on the embedded database (principal-cache.ts).
// Every way a login can end must still end it on the very next request, also right after a
// request that put the principal in the cache. Run on both engines: PostgreSQL asks every time.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, parseSetCookies, type TestUser } from '../helpers/factories.js';
import { createPrincipalCache, invalidatePrincipals } from '../../src/modules/auth/principal-cache.js';

const principal = { id: 'u1', username: 'alice', role: 'user' as const, status: 'active' as const };

describe('principal cache (unit)', () => {
  test('an entry ends when its session family expires', () => {
    let now = 1_000;
    const c = createPrincipalCache({ enabled: true, now: () => now });
    c.put(c.generation(), 'u1', 'f1', principal, new Date(2_000));
    assert.deepEqual(c.get('u1', 'f1'), principal);
    assert.equal(c.get('u1', 'f2'), undefined, 'another family of the same user is not covered');
    now = 2_000;
    assert.equal(c.get('u1', 'f1'), undefined);
  });

  test('an answer read before an invalidation is never stored after it', () => {
    const c = createPrincipalCache({ enabled: true });
    const gen = c.generation(); // a lookup starts its query…
    invalidatePrincipals(); // …a revocation commits meanwhile…
    c.put(gen, 'u1', 'f1', principal, new Date(Date.now() + 60_000)); // …its stale answer arrives
    assert.equal(c.get('u1', 'f1'), undefined);
    c.put(c.generation(), 'u1', 'f1', principal, new Date(Date.now() + 60_000));
    assert.ok(c.get('u1', 'f1'));
    invalidatePrincipals();
    assert.equal(c.get('u1', 'f1'), undefined, 'an invalidation drops what was cached');
  });

  test('disabled: nothing is kept', () => {
    const c = createPrincipalCache({ enabled: false });
    c.put(c.generation(), 'u1', 'f1', principal, new Date(Date.now() + 60_000));
    assert.equal(c.get('u1', 'f1'), undefined);
  });
});

for (const engine of DB_ENGINES) {
  describe(`a cached login still ends on the next request (${engine})`, () => {
    let t: TestApp;
    let admin: TestUser;
    before(async () => {
      t = await buildTestApp({ engine });
      admin = await newAdmin(t.app);
    });
    after(() => t.close());

    const me = (u: { auth: { authorization: string } }) => t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth });
    /** A user whose principal has just been used (and so cached on the embedded database). */
    const warmUser = async (role?: 'admin') => {
      const u = await newUser(t.app, { role });
      assert.equal((await me(u)).statusCode, 200);
      assert.equal((await me(u)).statusCode, 200);
      return u;
    };

    test('disable', async () => {
      const u = await warmUser();
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/admin/users/${u.id}/disable`, headers: admin.auth })).statusCode, 200);
      assertErrorBody(await me(u), 401, 'UNAUTHORIZED');
    });

    test('role change', async () => {
      const a = await warmUser('admin');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/admin/users', headers: a.auth })).statusCode, 200);
      const patch = await t.app.inject({ method: 'PATCH', url: `/api/admin/users/${a.id}`, headers: admin.auth, payload: { role: 'user' } });
      assert.equal(patch.statusCode, 200, patch.body);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/admin/users', headers: a.auth }), 403, 'FORBIDDEN');
    });

    test('deletion', async () => {
      const u = await warmUser();
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/admin/users/${u.id}`, headers: admin.auth })).statusCode, 204);
      assertErrorBody(await me(u), 401, 'UNAUTHORIZED');
    });

    test('logout and logout everywhere', async () => {
      const u = await warmUser();
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: u.auth })).statusCode, 204);
      assertErrorBody(await me(u), 401, 'UNAUTHORIZED');
      const v = await warmUser();
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/auth/logout-all', headers: v.auth })).statusCode, 204);
      assertErrorBody(await me(v), 401, 'UNAUTHORIZED');
    });

    test('a replayed refresh token ends the whole family', async () => {
      const u = await warmUser();
      const refresh = (cookie: string) =>
        t.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: cookie }, headers: { 'x-csrf-token': u.csrf } });
      const first = await refresh(u.cookies.limen_refresh!);
      assert.equal(first.statusCode, 200, first.body);
      assert.ok(parseSetCookies(first.headers['set-cookie']).limen_refresh);
      assert.equal((await me(u)).statusCode, 200, 'rotation keeps the family live');
      assertErrorBody(await refresh(u.cookies.limen_refresh!), 401, 'UNAUTHORIZED'); // the rotated-away token again
      assertErrorBody(await me(u), 401, 'UNAUTHORIZED');
    });
  });
}
