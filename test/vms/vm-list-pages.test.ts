// GET /api/vms answers a page ({items, total}, ?page= and ?per_page= like the other lists):
// oldest first, `total` counts the whole list, a user's pages hold only their VMs, an admin's
// every VM, and the default page is 50. Rows are seeded straight into SQL (no provisioning).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import type { VmJson } from './vm-helpers.js';

type Page = { items: VmJson[]; total: number };

for (const engine of DB_ENGINES) {
  describe(`VM list pages (${engine})`, { timeout: 120_000 }, () => {
    let t: TestApp;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    let admin: TestUser;
    const names = new Map<string, string[]>();

    /** n VMs for a user, created a second apart in name order (vm-00, vm-01, …). */
    async function seed(u: TestUser, n: number, base: number): Promise<void> {
      const rows = Array.from({ length: n }, (_, i) => {
        const uuid = randomUUID();
        const at = new Date(Date.UTC(2026, 0, 1, 0, 0, base + i)).toISOString();
        return sql`(${uuid}, ${u.id}, ${`vm-${String(i).padStart(2, '0')}`}, 1, 64, 1, 'default', 'stopped', 'stopped', ${`/nonexistent/${uuid}.qcow2`}, ${at}, ${at})`;
      });
      await t.app.limen.database.db.execute(
        sql`insert into vms (uuid, owner_id, name, vcpus, memory_mb, disk_gb, host, state, desired_state, disk_path, created_at, updated_at) values ${sql.join(rows, sql`, `)}`,
      );
      names.set(u.id, Array.from({ length: n }, (_, i) => `vm-${String(i).padStart(2, '0')}`));
    }

    const list = async (u: TestUser, query = ''): Promise<Page> => {
      const r = await t.app.inject({ method: 'GET', url: `/api/vms${query}`, headers: u.auth });
      assert.equal(r.statusCode, 200, r.body);
      return r.json<Page>();
    };

    before(async () => {
      t = await buildTestApp({ engine });
      [alice, bob, carol, admin] = await Promise.all([newUser(t.app), newUser(t.app), newUser(t.app), newAdmin(t.app)]);
      // interleaved creation times: alice 0-2 s, bob 10-11 s, carol 20-74 s
      await seed(alice, 3, 0);
      await seed(bob, 2, 10);
      await seed(carol, 55, 20);
    });
    after(async () => {
      await t.app.limen.database.db.execute(sql`delete from vms`);
      await t.close();
    });

    test('a user pages through their own VMs only, oldest first, with the total of the whole list', async () => {
      const all = await list(alice);
      assert.equal(all.total, 3);
      assert.deepEqual(all.items.map((v) => v.name), names.get(alice.id));
      assert.ok(all.items.every((v) => v.owner_id === alice.id));

      const p1 = await list(alice, '?per_page=2');
      const p2 = await list(alice, '?per_page=2&page=2');
      const p3 = await list(alice, '?per_page=2&page=3');
      assert.deepEqual([p1.total, p2.total, p3.total], [3, 3, 3]);
      assert.deepEqual(p1.items.map((v) => v.name), ['vm-00', 'vm-01']);
      assert.deepEqual(p2.items.map((v) => v.name), ['vm-02']);
      assert.deepEqual(p3.items, []);

      const b = await list(bob);
      assert.equal(b.total, 2);
      assert.ok(b.items.every((v) => v.owner_id === bob.id));
    });

    test('an admin pages through every VM; the default page is 50 and per_page is capped at 200', async () => {
      const first = await list(admin);
      assert.equal(first.total, 60);
      assert.equal(first.items.length, 50);
      // oldest first across owners: alice's three, bob's two, then carol's
      assert.deepEqual(first.items.slice(0, 5).map((v) => v.owner_id), [alice.id, alice.id, alice.id, bob.id, bob.id]);
      const second = await list(admin, '?page=2');
      assert.equal(second.items.length, 10);
      const seen = new Set([...first.items, ...second.items].map((v) => v.uuid));
      assert.equal(seen.size, 60);
      const big = await list(admin, '?per_page=999');
      assert.equal(big.items.length, 60);
      assert.equal(big.total, 60);
      const carols = await list(carol, '?per_page=200');
      assert.equal(carols.items.length, 55);
    });

    test('a malformed page or per_page, or an unknown parameter, is 400 VALIDATION_FAILED', async () => {
      for (const q of ['?page=0', '?page=-1', '?page=x', '?per_page=0', '?per_page=1000', '?per_page=', '?owner=someone']) {
        assertErrorBody(await t.app.inject({ method: 'GET', url: `/api/vms${q}`, headers: alice.auth }), 400, 'VALIDATION_FAILED');
      }
    });
  });
}
