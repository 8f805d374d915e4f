// Snapshots through the API on the fast tier (test:///default + both databases): lifecycle,
// isolation, bad input, counters.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newUser, type TestUser } from '../helpers/factories.js';
import { waitFor, waitState } from '../vms/vm-helpers.js';

interface SnapJson { id: string; name: string; state: string; includes_memory: boolean; vm_uuid: string; description: string }

for (const engine of DB_ENGINES) {
  describe(`snapshots API (${engine})`, () => {
    let t: TestApp;
    let alice: TestUser;
    let bob: TestUser;
    let vm: string;
    before(async () => {
      t = await buildTestApp({ engine });
      alice = await newUser(t.app);
      bob = await newUser(t.app);
      const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: alice.auth, payload: { name: 'snap-host', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
      vm = r.json().uuid;
      await waitState(t.app, alice, vm, 'stopped');
    });
    after(() => t.close());

    const list = async (u: TestUser, uuid = vm) => t.app.inject({ method: 'GET', url: `/api/vms/${uuid}/snapshots`, headers: u.auth });
    const waitSnap = (id: string, state: string) =>
      waitFor(`snapshot ${id} ${state}`, async () => (await list(alice)).json<{ items: SnapJson[] }>().items.find((s) => s.id === id && s.state === state));

    test('create → ready, listed with the contract fields; names are per-VM unique and escaped as data', async () => {
      const name = `it's <b>&"quoted"</b> ]]> 📸`;
      const r = await t.app.inject({ method: 'POST', url: `/api/vms/${vm}/snapshots`, headers: alice.auth, payload: { name, description: 'before upgrade' } });
      assert.equal(r.statusCode, 202, r.body);
      const s = r.json<SnapJson>();
      assert.equal(s.state, 'creating');
      assert.equal(s.vm_uuid, vm);
      const ready = await waitSnap(s.id, 'ready');
      assert.equal(ready.name, name);
      assert.equal(ready.description, 'before upgrade');
      assert.equal(ready.includes_memory, false, 'a stopped VM has no memory to capture');
      const dup = await t.app.inject({ method: 'POST', url: `/api/vms/${vm}/snapshots`, headers: alice.auth, payload: { name } });
      assertErrorBody(dup, 409, 'CONFLICT');
    });

    test('bad input is refused and leaves nothing behind', async () => {
      const before0 = (await list(alice)).json<{ total: number }>().total;
      for (const payload of [{ name: '' }, { name: '   ' }, { name: 'x'.repeat(65) }, { name: 'tab\there' }, {}, { name: 'ok', extra: 1 }]) {
        const r = await t.app.inject({ method: 'POST', url: `/api/vms/${vm}/snapshots`, headers: alice.auth, payload });
        assertErrorBody(r, 400, 'VALIDATION_FAILED');
      }
      assert.equal((await list(alice)).json<{ total: number }>().total, before0);
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/snapshots/not-a-uuid/restore', headers: alice.auth }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await t.app.inject({ method: 'DELETE', url: `/api/snapshots/${randomUUID()}`, headers: alice.auth }), 404, 'NOT_FOUND');
    });

    test("another user's VM and snapshots are 404 on every snapshot route", async () => {
      const s = (await t.app.inject({ method: 'POST', url: `/api/vms/${vm}/snapshots`, headers: alice.auth, payload: { name: 'private' } })).json<SnapJson>();
      await waitSnap(s.id, 'ready');
      assertErrorBody(await list(bob), 404, 'NOT_FOUND');
      assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/vms/${vm}/snapshots`, headers: bob.auth, payload: { name: 'intrude' } }), 404, 'NOT_FOUND');
      assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/snapshots/${s.id}/restore`, headers: bob.auth }), 404, 'NOT_FOUND');
      assertErrorBody(await t.app.inject({ method: 'DELETE', url: `/api/snapshots/${s.id}`, headers: bob.auth }), 404, 'NOT_FOUND');
      assert.ok((await list(alice)).json<{ items: SnapJson[] }>().items.some((x) => x.id === s.id));
    });

    test('revert and delete finish; counters and audit follow', async () => {
      const metrics = async () => (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
      const s = (await t.app.inject({ method: 'POST', url: `/api/vms/${vm}/snapshots`, headers: alice.auth, payload: { name: 'revert-me' } })).json<SnapJson>();
      await waitSnap(s.id, 'ready');
      const restore0 = Number(/^vm_snapshot_restore_total\{result="success"\} (\S+)$/m.exec(await metrics())?.[1]);
      const rv = await t.app.inject({ method: 'POST', url: `/api/snapshots/${s.id}/restore`, headers: alice.auth });
      assert.equal(rv.statusCode, 202, rv.body);
      await waitFor('revert counted', async () => Number(/^vm_snapshot_restore_total\{result="success"\} (\S+)$/m.exec(await metrics())?.[1]) === restore0 + 1 || undefined);
      await waitSnap(s.id, 'ready');
      const del = await t.app.inject({ method: 'DELETE', url: `/api/snapshots/${s.id}`, headers: alice.auth });
      assert.equal(del.statusCode, 202);
      await waitFor('snapshot gone', async () => !(await list(alice)).json<{ items: SnapJson[] }>().items.some((x) => x.id === s.id) || undefined);
      assert.match(await metrics(), /^vm_snapshot_total\{result="success"\} [1-9]/m);
    });

    test('deleting the VM deletes its snapshots', async () => {
      const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: alice.auth, payload: { name: 'doomed', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
      const uuid = r.json<{ uuid: string }>().uuid;
      await waitState(t.app, alice, uuid, 'stopped');
      const s = (await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/snapshots`, headers: alice.auth, payload: { name: 'x' } })).json<SnapJson>();
      await waitFor('ready', async () => (await list(alice, uuid)).json<{ items: SnapJson[] }>().items.find((x) => x.id === s.id && x.state === 'ready'));
      await t.app.inject({ method: 'DELETE', url: `/api/vms/${uuid}`, headers: alice.auth });
      await waitFor('vm gone', async () => (await t.app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: alice.auth })).statusCode === 404 || undefined);
      assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/snapshots/${s.id}/restore`, headers: alice.auth }), 404, 'NOT_FOUND');
    });
  });
}

describe('VM activity', () => {
  test("an owner reads their VM's audit rows; another user gets 404", async () => {
    const t = await buildTestApp();
    try {
      const alice = await newUser(t.app);
      const bob = await newUser(t.app);
      const vm = (await t.app.inject({ method: 'POST', url: '/api/vms', headers: alice.auth, payload: { name: 'watched', vcpus: 1, memory_mb: 64, disk_gb: 1 } })).json<{ uuid: string }>().uuid;
      await waitState(t.app, alice, vm, 'stopped');
      await t.app.inject({ method: 'POST', url: `/api/vms/${vm}/action`, headers: alice.auth, payload: { action: 'start' } });
      const rows = await waitFor('activity', async () => {
        const r = await t.app.inject({ method: 'GET', url: `/api/vms/${vm}/activity`, headers: alice.auth });
        const items = r.json<{ items: { action: string; actor_id: string; ip: string | null }[] }>().items;
        return items.some((i) => i.action === 'vm.start') ? items : undefined;
      });
      assert.ok(rows.some((i) => i.action === 'vm.create'));
      assert.ok(rows.every((i) => i.ip === null), 'client IPs are for admins only');
      assertErrorBody(await t.app.inject({ method: 'GET', url: `/api/vms/${vm}/activity`, headers: bob.auth }), 404, 'NOT_FOUND');
    } finally {
      await t.close();
    }
  });
});
