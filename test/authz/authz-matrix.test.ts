// Authorization matrix: every route × {anonymous, pending user, user, other user, admin},
// generated from the app's own route table, so a new route without a reviewed entry fails.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { insertTestUser, newAdmin, newUser } from '../helpers/factories.js';
import { ROUTE_ACCESS } from './route-table.js';

type Role = 'anonymous' | 'pending' | 'user' | 'other' | 'admin';

describe('authorization matrix', () => {
  let t: TestApp;
  const headers: Record<Role, Record<string, string>> = { anonymous: {}, pending: {}, user: {}, other: {}, admin: {} };

  before(async () => {
    t = await buildTestApp();
    headers.user = (await newUser(t.app)).auth;
    headers.other = (await newUser(t.app)).auth;
    headers.admin = (await newAdmin(t.app)).auth;
    // A pending user cannot log in; give one a session as if an admin had reverted approval.
    const p = await insertTestUser(t.app, { status: 'pending' });
    const family = randomUUID();
    await t.app.limen.database.db.execute(sql`insert into sessions (family_id, user_id, token_hash, expires_at)
      values (${family}, ${p.id}, ${randomUUID()}, now() + interval '1 hour')`);
    headers.pending = { authorization: `Bearer ${await t.app.limen.auth.tokens.signAccess({ userId: p.id, sessionFamily: family })}` };
  });
  after(() => t.close());

  test('every served route has a reviewed access level, and the app declares the same one', () => {
    const served = new Map(t.app.limen.routeTable.filter((r) => !r.url.startsWith('/api/docs')).map((r) => [`${r.method} ${r.url}`, r.auth]));
    const missing = [...served.keys()].filter((k) => !(k in ROUTE_ACCESS));
    assert.deepEqual(missing, [], 'routes without an entry in test/authz/route-table.ts');
    for (const [k, level] of served) assert.equal(level, ROUTE_ACCESS[k], `${k} declares ${level}`);
    const stale = Object.keys(ROUTE_ACCESS).filter((k) => !served.has(k));
    assert.deepEqual(stale, [], 'entries for routes the app no longer serves');
  });

  const expectFor = (level: string, role: Role): 'deny401' | 'deny403' | 'allow' | 'any' => {
    switch (level) {
      case 'public':
        return 'any';
      case 'webhook':
        return role === 'anonymous' ? 'deny401' : 'any';
      case 'user':
        return role === 'anonymous' ? 'deny401' : role === 'pending' ? 'deny403' : 'allow';
      case 'admin':
        return role === 'anonymous' ? 'deny401' : role === 'admin' ? 'allow' : 'deny403';
      default:
        throw new Error(`unknown level ${level}`);
    }
  };

  test('each role gets the expected answer on every guarded route', async () => {
    const failures: string[] = [];
    // A route that ends the caller's sessions goes last, or every probe after it would be a 401.
    const endsSessions = (r: { method: string; url: string }) => `${r.method} ${r.url}` === 'POST /api/auth/logout-all';
    const routes = [...t.app.limen.routeTable].sort((a, b) => Number(endsSessions(a)) - Number(endsSessions(b)));
    for (const r of routes) {
      if (r.url.startsWith('/ws/')) continue; // websocket upgrades: covered by their own tests
      const url = r.url.replace(/:[a-zA-Z_]+/g, randomUUID()).replace('*', 'x');
      for (const role of ['anonymous', 'pending', 'user', 'other', 'admin'] as Role[]) {
        const want = expectFor(r.auth, role);
        if (want === 'any') continue;
        const res = await t.app.inject({ method: r.method as 'GET', url, headers: headers[role], ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }) });
        const got = res.statusCode;
        const ok = want === 'deny401' ? got === 401 : want === 'deny403' ? got === 403 : got !== 401 && got !== 403;
        if (!ok) failures.push(`${r.method} ${r.url} as ${role}: want ${want}, got ${got} ${res.body.slice(0, 120)}`);
        if (want === 'deny403' && role === 'pending' && ok) assert.equal(res.json().error_code, 'ACCOUNT_PENDING');
      }
    }
    assert.deepEqual(failures, []);
  });
});
