// The audit log (admin page) and a VM's activity list newest first across id widths: the row ids
// are returned as text, and ordering must follow the number (id 100 after 99), not the string.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser } from '../helpers/factories.js';

let t: TestApp;
before(async () => {
  t = await buildTestApp();
});
after(() => t?.close());

test('audit rows come newest first when ids cross a power of ten', async () => {
  const admin = await newAdmin(t.app);
  // Failed sign-ins each write one row: enough to pass ids 9→10 and 99→100 whatever came before.
  const user = await newUser(t.app);
  for (let i = 0; i < 105; i += 1) await t.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: `nobody-${i}`, password: 'wrong password 123' } });
  await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: user.auth });
  const res = await t.app.inject({ method: 'GET', url: '/api/admin/audit?per_page=200', headers: admin.auth });
  assert.equal(res.statusCode, 200, res.body);
  const items = res.json<{ items: { id: string; action: string; at: string }[] }>().items;
  assert.ok(items.length > 100, `only ${items.length} rows`);
  const ids = items.map((i) => Number(i.id));
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'ids descending as numbers');
  assert.equal(items[0]!.action, 'auth.logout', 'the last action is on top');
});
