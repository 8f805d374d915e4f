// Groups through the HTTP API on PGlite and the real PostgreSQL server: CRUD, members, the group
// quota, what members see, bulk actions through the VM service (state machine and owner quotas
// respected, per-VM results), the group quota on resize, and an audit row for every admin action.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, uniqueName, type TestUser } from '../helpers/factories.js';
import { waitFor, waitGone, waitState } from '../vms/vm-helpers.js';

interface GroupJson {
  id: string;
  name: string;
  quota: Record<string, number | null>;
  usage: Record<string, number>;
  members: { user_id: string; username: string }[];
  member_count: number;
  vm_count: number;
}
interface BulkJson {
  items: { vm_uuid: string; owner_id: string; result: string; error_code?: string; state?: string; snapshot_id?: string }[];
  total: number;
  accepted: number;
  failed: number;
}

const tiny = (name: string) => ({ name, vcpus: 1, memory_mb: 64, disk_gb: 1 });

for (const engine of DB_ENGINES) {
  describe(`groups API (${engine})`, () => {
    let t: TestApp;
    let admin: TestUser;
    before(async () => {
      t = await buildTestApp({ engine });
      admin = await newAdmin(t.app);
    });
    after(() => t.close());

    const call = (u: TestUser, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) => t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
    const auditOf = async (targetId: string) => (await call(admin, 'GET', `/api/admin/audit?target_id=${targetId}&per_page=100`)).json<{ items: { action: string; result: string }[] }>().items;

    /** A VM of `u`, stopped, recorded as provisioned for the group (what provisioning writes). */
    async function groupVm(u: TestUser, groupId: string, name = uniqueName('vm')): Promise<string> {
      const r = await call(u, 'POST', '/api/vms', tiny(name));
      assert.equal(r.statusCode, 202, r.body);
      const uuid = r.json<{ uuid: string }>().uuid;
      await waitState(t.app, u, uuid, 'stopped');
      await t.app.limen.database.db.execute(sql`insert into group_vms (vm_uuid, group_id) values (${uuid}, ${groupId})`);
      return uuid;
    }

    test('create, read, rename, list, delete — each audited; bad input refused', async () => {
      const alice = await newUser(t.app);
      const name = uniqueName('class-');
      const r = await call(admin, 'POST', '/api/admin/groups', { name, description: 'Networks 101', quota: { vms: 10, memory_mb: null }, members: [alice.id] });
      assert.equal(r.statusCode, 201, r.body);
      const g = r.json<GroupJson>();
      assert.equal(g.name, name);
      assert.deepEqual(g.quota, { vms: 10, vcpus: null, memory_mb: null, disk_gb: null });
      assert.deepEqual(g.usage, { vms: 0, vcpus: 0, memory_mb: 0, disk_gb: 0 });
      assert.deepEqual(g.members.map((m) => m.user_id), [alice.id]);

      assertErrorBody(await call(admin, 'POST', '/api/admin/groups', { name: name.toUpperCase() }), 409, 'CONFLICT');
      assertErrorBody(await call(admin, 'POST', '/api/admin/groups', { name: '   ' }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await call(admin, 'POST', '/api/admin/groups', { name: 'x', members: [randomUUID()] }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await call(admin, 'POST', '/api/admin/groups', { name: 'x', quota: { vms: -1 } }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await call(admin, 'POST', '/api/admin/groups', { name: 'x', extra: 1 }), 400, 'VALIDATION_FAILED');

      const renamed = await call(admin, 'PATCH', `/api/admin/groups/${g.id}`, { name: `${name}-b` });
      assert.equal(renamed.statusCode, 200, renamed.body);
      assert.equal(renamed.json<GroupJson>().name, `${name}-b`);
      const listed = (await call(admin, 'GET', '/api/admin/groups')).json<{ items: GroupJson[] }>().items.find((x) => x.id === g.id);
      assert.equal(listed?.member_count, 1);

      assert.equal((await call(admin, 'DELETE', `/api/admin/groups/${g.id}`)).statusCode, 204);
      assertErrorBody(await call(admin, 'GET', `/api/admin/groups/${g.id}`), 404, 'NOT_FOUND');
      assertErrorBody(await call(admin, 'DELETE', `/api/admin/groups/${g.id}`), 404, 'NOT_FOUND');
      const actions = (await auditOf(g.id)).map((a) => a.action).sort();
      assert.deepEqual(actions, ['group.create', 'group.delete', 'group.update']);
    });

    test('members: add (idempotent), remove, and each member sees only their own groups', async () => {
      const [alice, bob, carol] = await Promise.all([newUser(t.app), newUser(t.app), newUser(t.app)]);
      const g = (await call(admin, 'POST', '/api/admin/groups', { name: uniqueName('team-') })).json<GroupJson>();
      const other = (await call(admin, 'POST', '/api/admin/groups', { name: uniqueName('other-'), members: [carol.id] })).json<GroupJson>();
      const add = await call(admin, 'POST', `/api/admin/groups/${g.id}/members`, { user_ids: [alice.id, bob.id, alice.id] });
      assert.equal(add.statusCode, 200, add.body);
      assert.equal(add.json<{ total: number }>().total, 2);
      assert.equal((await call(admin, 'POST', `/api/admin/groups/${g.id}/members`, { user_ids: [bob.id] })).json<{ total: number }>().total, 2);
      assertErrorBody(await call(admin, 'POST', `/api/admin/groups/${g.id}/members`, { user_ids: [randomUUID()] }), 400, 'VALIDATION_FAILED');

      const mine = (await call(alice, 'GET', '/api/me/groups')).json<{ items: { id: string }[] }>();
      assert.deepEqual(mine.items.map((x) => x.id), [g.id]);
      assert.deepEqual((await call(carol, 'GET', '/api/me/groups')).json<{ items: { id: string }[] }>().items.map((x) => x.id), [other.id]);

      assert.equal((await call(admin, 'DELETE', `/api/admin/groups/${g.id}/members/${alice.id}`)).statusCode, 204);
      assertErrorBody(await call(admin, 'DELETE', `/api/admin/groups/${g.id}/members/${alice.id}`), 404, 'NOT_FOUND');
      assert.equal((await call(alice, 'GET', '/api/me/groups')).json<{ total: number }>().total, 0);
      const actions = (await auditOf(g.id)).map((a) => a.action).sort();
      assert.deepEqual(actions, ['group.create', 'group.members.add', 'group.members.add', 'group.members.remove']);
    });

    test('a user cannot reach any admin group route (403), even for a group they are in', async () => {
      const alice = await newUser(t.app);
      const g = (await call(admin, 'POST', '/api/admin/groups', { name: uniqueName('g-'), members: [alice.id] })).json<GroupJson>();
      for (const [method, url] of [['GET', `/api/admin/groups/${g.id}`], ['GET', '/api/admin/groups'], ['POST', `/api/admin/groups/${g.id}/actions`], ['PUT', `/api/admin/groups/${g.id}/quota`]] as const) {
        const r = await call(alice, method, url, method === 'GET' ? undefined : { action: 'stop' });
        assertErrorBody(r, 403, 'FORBIDDEN');
      }
    });

    test('bulk start/stop/snapshot/delete go through the VM service: per-VM results, owner quota respected', async () => {
      const [alice, bob] = await Promise.all([newUser(t.app), newUser(t.app)]);
      const g = (await call(admin, 'POST', '/api/admin/groups', { name: uniqueName('bulk-'), members: [alice.id, bob.id] })).json<GroupJson>();
      const va = await groupVm(alice, g.id);
      const vb = await groupVm(bob, g.id);
      // bob may run nothing: his VM's start is refused by his own running quota, alice's goes on
      assert.equal((await call(admin, 'PUT', `/api/admin/users/${bob.id}/quota`, { running_vms: 0 })).statusCode, 200);

      const start = await call(admin, 'POST', `/api/admin/groups/${g.id}/actions`, { action: 'start' });
      assert.equal(start.statusCode, 200, start.body);
      const s = start.json<BulkJson>();
      assert.equal(s.total, 2);
      assert.equal(s.accepted, 1);
      assert.equal(s.failed, 1);
      assert.equal(s.items.find((i) => i.vm_uuid === va)?.result, 'accepted');
      assert.equal(s.items.find((i) => i.vm_uuid === vb)?.error_code, 'QUOTA_EXCEEDED');
      await waitState(t.app, alice, va, 'running');
      assert.equal((await call(bob, 'GET', `/api/vms/${vb}`)).json<{ state: string }>().state, 'stopped');

      // the state machine is the VM module's: starting a running VM is INVALID_STATE for that VM only
      const again = (await call(admin, 'POST', `/api/admin/groups/${g.id}/actions`, { action: 'start' })).json<BulkJson>();
      assert.equal(again.items.find((i) => i.vm_uuid === va)?.error_code, 'INVALID_STATE');

      const snap = (await call(admin, 'POST', `/api/admin/groups/${g.id}/actions`, { action: 'snapshot', snapshot_name: 'before-exam' })).json<BulkJson>();
      assert.equal(snap.accepted, 2, JSON.stringify(snap));
      for (const [u, vm] of [[alice, va], [bob, vb]] as const) {
        await waitFor('group snapshot ready', async () => (await call(u, 'GET', `/api/vms/${vm}/snapshots`)).json<{ items: { name: string; state: string }[] }>().items.find((x) => x.name === 'before-exam' && x.state === 'ready'));
      }

      const stop = (await call(admin, 'POST', `/api/admin/groups/${g.id}/actions`, { action: 'stop' })).json<BulkJson>();
      assert.equal(stop.items.find((i) => i.vm_uuid === va)?.result, 'accepted');
      assert.equal(stop.items.find((i) => i.vm_uuid === vb)?.error_code, 'INVALID_STATE');
      await waitState(t.app, alice, va, 'stopped');

      const del = (await call(admin, 'POST', `/api/admin/groups/${g.id}/actions`, { action: 'delete' })).json<BulkJson>();
      assert.equal(del.accepted, 2);
      await waitGone(t.app, alice, va);
      await waitGone(t.app, bob, vb);
      assert.equal((await call(admin, 'GET', `/api/admin/groups/${g.id}/vms`)).json<{ total: number }>().total, 0);
      const audit = await auditOf(g.id);
      for (const a of ['group.bulk.start', 'group.bulk.snapshot', 'group.bulk.stop', 'group.bulk.delete']) assert.ok(audit.some((x) => x.action === a), `${a} audited`);
      // each VM's own action is audited by the VM module too
      assert.ok((await auditOf(va)).some((x) => x.action === 'vm.start' && x.result === 'success'));
    });

    test('the group quota caps resizing a group VM; the member quota still applies', async () => {
      const alice = await newUser(t.app);
      const g = (await call(admin, 'POST', '/api/admin/groups', { name: uniqueName('rs-'), members: [alice.id], quota: { memory_mb: 128 } })).json<GroupJson>();
      const vm = await groupVm(alice, g.id);
      const over = await call(alice, 'PATCH', `/api/vms/${vm}`, { memory_mb: 256 });
      const b = assertErrorBody(over, 403, 'QUOTA_EXCEEDED');
      assert.deepEqual(b.details, { resource: 'memory_mb', limit: 128, used: 64, requested: 192, scope: 'group', group_id: g.id });
      const ok = await call(alice, 'PATCH', `/api/vms/${vm}`, { memory_mb: 128 });
      assert.equal(ok.statusCode, 200, ok.body);
      const detail = (await call(admin, 'GET', `/api/admin/groups/${g.id}`)).json<GroupJson>();
      assert.deepEqual(detail.usage, { vms: 1, vcpus: 1, memory_mb: 128, disk_gb: 1 });
      const q = await call(admin, 'PUT', `/api/admin/groups/${g.id}/quota`, { memory_mb: null, vms: 3 });
      assert.deepEqual(q.json<GroupJson>().quota, { vms: 3, vcpus: null, memory_mb: null, disk_gb: null });
      assert.ok((await auditOf(g.id)).some((x) => x.action === 'group.quota.set'));
      await call(alice, 'DELETE', `/api/vms/${vm}`);
      await waitGone(t.app, alice, vm);
    });
  });
}
