// Admin users API (CONTRACT.md §4) and the audit trail it leaves.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { insertTestUser, login, newAdmin, newUser, uniqueName, type TestUser } from '../helpers/factories.js';

for (const engine of DB_ENGINES) {
  describe(`admin users API (${engine})`, () => {
    let t: TestApp;
    let admin: TestUser;
    before(async () => {
      t = await buildTestApp({ engine });
      admin = await newAdmin(t.app);
    });
    after(() => t.close());
    const as = (u: TestUser) => u.auth;

    test('approve lets a pending user log in; the audit log records who approved', async () => {
      const username = uniqueName('p');
      const reg = await t.app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password: 'pending user passphrase' } });
      const id = reg.json().user.id as string;
      const ap = await t.app.inject({ method: 'POST', url: `/api/admin/users/${id}/approve`, headers: as(admin) });
      assert.equal(ap.statusCode, 200);
      assert.equal(ap.json().status, 'active');
      assert.ok(ap.json().approved_at);
      assert.equal((await login(t.app, username, 'pending user passphrase')).statusCode, 200);
      const audit = await t.app.inject({ method: 'GET', url: `/api/admin/audit?action=user.approve&target_id=${id}`, headers: as(admin) });
      assert.equal(audit.statusCode, 200);
      const row = audit.json().items[0];
      assert.equal(row.actor_id, admin.id);
      assert.equal(row.actor_username, admin.username);
      assert.equal(row.result, 'success');
      assert.match(row.request_id, /^[0-9a-f-]{36}$/);
      assert.equal(row.ip, '127.0.0.1');
    });

    test('reject, disable and enable follow the status rules', async () => {
      const p = await insertTestUser(t.app, { status: 'pending' });
      const rj = await t.app.inject({ method: 'POST', url: `/api/admin/users/${p.id}/reject`, headers: as(admin) });
      assert.equal(rj.json().status, 'rejected');
      assertErrorBody(await login(t.app, p.username), 403, 'FORBIDDEN');
      // Only pending users can be rejected.
      const active = await insertTestUser(t.app);
      assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/admin/users/${active.id}/reject`, headers: as(admin) }), 409, 'INVALID_STATE');
      const dis = await t.app.inject({ method: 'POST', url: `/api/admin/users/${active.id}/disable`, headers: as(admin) });
      assert.equal(dis.json().status, 'disabled');
      assertErrorBody(await login(t.app, active.username), 403, 'FORBIDDEN');
      const en = await t.app.inject({ method: 'POST', url: `/api/admin/users/${active.id}/enable`, headers: as(admin) });
      assert.equal(en.json().status, 'active');
      assert.equal((await login(t.app, active.username)).statusCode, 200);
      const rows = await t.app.inject({ method: 'GET', url: `/api/admin/audit?target_id=${active.id}`, headers: as(admin) });
      const actions = (rows.json().items as { action: string; result: string }[]).map((r) => `${r.action}:${r.result}`);
      assert.ok(actions.includes('user.disable:success') && actions.includes('user.enable:success'), actions.join(','));
    });

    test('list filters by status, role and username, with pagination', async () => {
      const tag = uniqueName('flt');
      for (let i = 0; i < 3; i++) await insertTestUser(t.app, { username: `${tag}${i}`, status: i === 0 ? 'pending' : 'active' });
      const all = await t.app.inject({ method: 'GET', url: `/api/admin/users?username=${tag}`, headers: as(admin) });
      assert.equal(all.json().total, 3);
      const pending = await t.app.inject({ method: 'GET', url: `/api/admin/users?username=${tag}&status=pending`, headers: as(admin) });
      assert.deepEqual(pending.json().items.map((u: { username: string }) => u.username), [`${tag}0`]);
      const page2 = await t.app.inject({ method: 'GET', url: `/api/admin/users?username=${tag}&per_page=2&page=2`, headers: as(admin) });
      assert.equal(page2.json().items.length, 1);
      assert.equal(page2.json().total, 3);
      const admins = await t.app.inject({ method: 'GET', url: '/api/admin/users?role=admin', headers: as(admin) });
      assert.ok(admins.json().items.every((u: { role: string }) => u.role === 'admin'));
      for (const u of all.json().items) assert.equal('password_hash' in u || 'passwordHash' in u, false);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/admin/users?status=bogus', headers: as(admin) }), 400, 'VALIDATION_FAILED');
    });

    test('create makes an approved user; duplicates and weak passwords are refused', async () => {
      const username = uniqueName('c');
      const c = await t.app.inject({ method: 'POST', url: '/api/admin/users', headers: as(admin), payload: { username, password: 'created by admin 1', role: 'user' } });
      assert.equal(c.statusCode, 201);
      assert.equal(c.json().status, 'active');
      assert.equal((await login(t.app, username, 'created by admin 1')).statusCode, 200);
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/users', headers: as(admin), payload: { username, password: 'created by admin 1' } }), 409, 'CONFLICT');
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/users', headers: as(admin), payload: { username: uniqueName('w'), password: '1234567890' } }), 400, 'VALIDATION_FAILED');
    });

    test('role changes; the last admin can be neither demoted, disabled nor deleted; nobody deletes themselves', async () => {
      const t2 = await buildTestApp({ engine });
      try {
        const only = await newAdmin(t2.app);
        assertErrorBody(await t2.app.inject({ method: 'DELETE', url: `/api/admin/users/${only.id}`, headers: only.auth }), 403, 'FORBIDDEN');
        assertErrorBody(await t2.app.inject({ method: 'POST', url: `/api/admin/users/${only.id}/disable`, headers: only.auth }), 403, 'FORBIDDEN');
        assertErrorBody(await t2.app.inject({ method: 'PATCH', url: `/api/admin/users/${only.id}`, headers: only.auth, payload: { role: 'user' } }), 409, 'CONFLICT');
        const u = await newUser(t2.app);
        const up = await t2.app.inject({ method: 'PATCH', url: `/api/admin/users/${u.id}`, headers: only.auth, payload: { role: 'admin' } });
        assert.equal(up.json().role, 'admin');
        // Two admins now: the promoted one may demote the first.
        const promoted = await t2.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: u.username, password: u.password } });
        const down = await t2.app.inject({ method: 'PATCH', url: `/api/admin/users/${only.id}`, headers: { authorization: `Bearer ${promoted.json().access_token}` }, payload: { role: 'user' } });
        assert.equal(down.statusCode, 200);
        assert.equal(down.json().role, 'user');
      } finally {
        await t2.close();
      }
    });

    test('delete removes a user and their sessions; unknown ids are 404', async () => {
      const u = await newUser(t.app);
      const d = await t.app.inject({ method: 'DELETE', url: `/api/admin/users/${u.id}`, headers: as(admin) });
      assert.equal(d.statusCode, 204);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/auth/me', headers: u.auth }), 401, 'UNAUTHORIZED');
      assertErrorBody(await t.app.inject({ method: 'DELETE', url: `/api/admin/users/${u.id}`, headers: as(admin) }), 404, 'NOT_FOUND');
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/admin/users/not-a-uuid/approve', headers: as(admin) }), 400, 'VALIDATION_FAILED');
    });

    test('delete is refused while the user owns resources unless ?cascade=true', async () => {
      const u = await newUser(t.app);
      const owned = new Set([u.id]);
      const deleted: string[] = [];
      t.app.limen.userResources.push({
        name: 'widgets',
        count: async (id) => (owned.has(id) ? 2 : 0),
        deleteAll: async (_req, id) => {
          owned.delete(id);
          deleted.push(id);
        },
      });
      try {
        const refused = await t.app.inject({ method: 'DELETE', url: `/api/admin/users/${u.id}`, headers: as(admin) });
        const b = assertErrorBody(refused, 409, 'CONFLICT');
        assert.deepEqual((b.details as { owned: unknown }).owned, { widgets: 2 });
        const ok = await t.app.inject({ method: 'DELETE', url: `/api/admin/users/${u.id}?cascade=true`, headers: as(admin) });
        assert.equal(ok.statusCode, 204);
        assert.deepEqual(deleted, [u.id]);
      } finally {
        t.app.limen.userResources.pop();
      }
    });
  });
}
