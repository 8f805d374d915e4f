// GET /api/vms is served from an in-process cache on the embedded database (vm-list-cache.ts):
// it must stay exactly what the database holds after ANY committed change to the rows it shows —
// through the API, straight SQL (the reconciler, another module), a host's reachability, a
// transaction (seen at commit, never when rolled back) and, on PostgreSQL, another instance.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { inTransaction } from '../../src/platform/db/query.js';
import { createVmListCache } from '../../src/modules/vms/vm-list-cache.js';
import type { VmJson } from './vm-helpers.js';

type Page = { items: VmJson[]; total: number };

test('a page loaded while a change was signalled is served but not kept', async () => {
  const cache = createVmListCache();
  cache.activate();
  let loads = 0;
  const load = (body: string) => async () => {
    loads++;
    return Buffer.from(body);
  };
  assert.equal((await cache.body('k', load('v1'))).toString(), 'v1');
  assert.equal((await cache.body('k', load('v2'))).toString(), 'v1', 'kept: no change was signalled');
  assert.equal(loads, 1);
  // a change committed while a load is in flight: the loaded (possibly older) page is not kept
  const racing = cache.body('r', async () => {
    cache.invalidate();
    return Buffer.from('old');
  });
  assert.equal((await racing).toString(), 'old');
  assert.equal((await cache.body('r', load('new'))).toString(), 'new');
  cache.invalidate();
  assert.equal((await cache.body('k', load('v3'))).toString(), 'v3');
});

for (const engine of DB_ENGINES) {
  describe(`VM list stays exact under its cache (${engine})`, { timeout: 120_000 }, () => {
    let t: TestApp;
    let alice: TestUser;
    let admin: TestUser;
    const db = () => t.app.limen.database.db;

    const list = async (u: TestUser): Promise<Page> => {
      const r = await t.app.inject({ method: 'GET', url: '/api/vms', headers: u.auth });
      assert.equal(r.statusCode, 200, r.body);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      return r.json<Page>();
    };
    const names = (p: Page) => p.items.map((v) => v.name);

    async function insertVm(owner: TestUser, name: string): Promise<string> {
      const uuid = randomUUID();
      await db().execute(
        sql`insert into vms (uuid, owner_id, name, vcpus, memory_mb, disk_gb, host, state, desired_state, disk_path)
            values (${uuid}, ${owner.id}, ${name}, 1, 64, 1, 'default', 'stopped', 'stopped', ${`/nonexistent/${uuid}.qcow2`})`,
      );
      return uuid;
    }

    before(async () => {
      t = await buildTestApp({ engine, vmOptions: { reconcileEveryMs: 3_600_000 } });
      [alice, admin] = await Promise.all([newUser(t.app), newAdmin(t.app)]);
    });
    after(async () => {
      await db().execute(sql`delete from vms`);
      await t.close();
    });

    test('every committed change shows on the next request; a rolled-back one never', async () => {
      assert.deepEqual(names(await list(alice)), []);
      const a = await insertVm(alice, 'a1');
      assert.deepEqual(names(await list(alice)), ['a1'], 'an insert by straight SQL');
      assert.equal((await list(admin)).total, 1, "the admin's list too");

      await db().execute(sql`update vms set name = 'a1-renamed', vcpus = 2 where uuid = ${a}`);
      const renamed = await list(alice);
      assert.deepEqual(names(renamed), ['a1-renamed']);
      assert.equal(renamed.items[0]!.vcpus, 2);
      const all = await t.app.inject({ method: 'GET', url: '/api/admin/vms', headers: admin.auth });
      assert.equal(all.statusCode, 200);
      const body = all.json<Page & { orphans: unknown[] }>();
      assert.deepEqual([names(body), body.total, Array.isArray(body.orphans)], [['a1-renamed'], 1, true], "the admin's list of every VM");

      // a transaction: not visible before commit (the cache may not keep what it read meanwhile), visible after
      await inTransaction(db(), async (tx) => {
        await tx.execute(sql`update vms set state = 'error', error_message = 'boom' where uuid = ${a}`);
      });
      const errored = (await list(alice)).items[0]!;
      assert.equal(errored.state, 'error');
      assert.equal(errored.error_message, 'boom');

      await inTransaction(db(), async (tx) => {
        await tx.execute(sql`update vms set name = 'never' where uuid = ${a}`);
        throw new Error('roll back');
      }).catch(() => undefined);
      assert.deepEqual(names(await list(alice)), ['a1-renamed'], 'a rolled-back change');

      // the host's reachability (another table) shows as host_reachable
      await db().execute(sql`update hosts set reachable = false where name = 'default'`);
      assert.equal((await list(alice)).items[0]!.host_reachable, false);
      await db().execute(sql`update hosts set reachable = true where name = 'default'`);
      assert.equal((await list(alice)).items[0]!.host_reachable, true);

      await db().execute(sql`delete from vms where uuid = ${a}`);
      assert.deepEqual(await list(alice), { items: [], total: 0 });
      const none = (await t.app.inject({ method: 'GET', url: '/api/admin/vms', headers: admin.auth })).json<Page>();
      assert.deepEqual([none.items, none.total], [[], 0]);
    });

    test('pages of different users and sizes never mix', async () => {
      const bob = await newUser(t.app);
      await insertVm(alice, 'x1');
      await insertVm(bob, 'y1');
      assert.deepEqual(names(await list(alice)), ['x1']);
      assert.deepEqual(names(await list(bob)), ['y1']);
      const r = await t.app.inject({ method: 'GET', url: '/api/vms?per_page=1&page=2', headers: admin.auth });
      assert.equal(r.json<Page>().total, 2);
      assert.equal(r.json<Page>().items.length, 1);
      await db().execute(sql`delete from vms`);
    });

    if (engine === 'postgres') {
      test("another instance's change shows on this instance's next request", async () => {
        const other = await buildTestApp({ shareDatabase: t.db, vmOptions: { reconcileEveryMs: 3_600_000 } });
        try {
          assert.deepEqual(names(await list(alice)), []);
          await other.app.limen.database.db.execute(
            sql`insert into vms (uuid, owner_id, name, vcpus, memory_mb, disk_gb, host, state, desired_state, disk_path)
                values (${randomUUID()}, ${alice.id}, 'elsewhere', 1, 64, 1, 'default', 'stopped', 'stopped', '/nonexistent/e.qcow2')`,
          );
          assert.deepEqual(names(await list(alice)), ['elsewhere']);
        } finally {
          await db().execute(sql`delete from vms`);
          await other.close();
        }
      });
    }
  });
}
