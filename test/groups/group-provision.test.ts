// "Provision for group" on PGlite and PostgreSQL (test:///default + real qemu-img overlays): the
// whole batch is decided in one transaction — a group quota or a member's own quota that allows
// only part of it refuses all of it and creates nothing; with room, one VM per member, owned by
// the member; concurrent provisions never over-allocate the group; a member whose libvirt work
// fails after the decision is rolled back alone and listed with the reason; progress reaches
// admins over /ws/events.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, uniqueName, type TestUser } from '../helpers/factories.js';
import { openEvents, waitFor, waitState } from '../vms/vm-helpers.js';
import { waitTemplateReady } from '../templates/template-fixtures.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';

interface ProvisionJson {
  id: string;
  state: string;
  total: number;
  succeeded: number;
  failed: number;
  pending: number;
  items: { user_id: string; username: string; vm_uuid: string | null; vm_name: string; state: string; error: string | null }[];
}
interface VmJson {
  uuid: string;
  name: string;
  owner_id: string;
  state: string;
}

/** test:///default whose defineDomain fails for the VM titles in `failFor` (libvirt failing after the quota decision). */
function failingDriver(failFor: Set<string>): HypervisorDriver {
  const base = createLibvirtDriver({ uri: 'test:///default' });
  return new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === 'defineDomain') {
        return async (spec: { title: string }) => {
          if (failFor.has(spec.title)) throw new Error('injected: libvirt refused to define the domain');
          return target.defineDomain(spec as Parameters<HypervisorDriver['defineDomain']>[0]);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

for (const engine of DB_ENGINES) {
  describe(`provision for group (${engine})`, () => {
    let t: TestApp;
    let admin: TestUser;
    let template: string;
    const failFor = new Set<string>();
    const driver = failingDriver(failFor);
    before(async () => {
      t = await buildTestApp({ engine, driver });
      admin = await newAdmin(t.app);
      await t.app.inject({ method: 'PUT', url: `/api/admin/users/${admin.id}/quota`, headers: admin.auth, payload: { vms: null, vcpus: null, memory_mb: null, disk_gb: null } });
      const src = await t.app.inject({ method: 'POST', url: '/api/vms', headers: admin.auth, payload: { name: 'golden', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
      await waitState(t.app, admin, src.json<VmJson>().uuid, 'stopped');
      const tpl = await t.app.inject({ method: 'POST', url: '/api/templates', headers: admin.auth, payload: { vm: src.json<VmJson>().uuid, name: 'class image' } });
      assert.ok(tpl.statusCode < 300, tpl.body);
      template = (await waitTemplateReady(t.app, admin, tpl.json<{ id: string }>().id)).id;
    });
    after(async () => {
      await t.close();
      await driver.close();
    });

    const call = (u: TestUser, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) => t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });
    const vmsOf = async (u: TestUser) => (await call(u, 'GET', '/api/vms')).json<{ items: VmJson[] }>().items;
    const newGroup = async (members: TestUser[], quota: Record<string, number | null> = {}) =>
      (await call(admin, 'POST', '/api/admin/groups', { name: uniqueName('class-'), members: members.map((m) => m.id), quota })).json<{ id: string }>().id;
    const waitDone = (id: string) =>
      waitFor(`provision ${id} to finish`, async () => {
        const p = (await call(admin, 'GET', `/api/admin/group-provisions/${id}`)).json<ProvisionJson>();
        return p.state !== 'running' ? p : undefined;
      }, 120_000);

    test('a group quota that allows only part of the batch refuses all of it: nothing is created', async () => {
      const members = await Promise.all([newUser(t.app), newUser(t.app), newUser(t.app)]);
      const g = await newGroup(members, { vms: 2 });
      const r = await call(admin, 'POST', `/api/admin/groups/${g}/provision`, { template, name_prefix: 'lab1' });
      const b = assertErrorBody(r, 403, 'QUOTA_EXCEEDED');
      assert.deepEqual(b.details, { resource: 'vms', limit: 2, used: 0, requested: 3, scope: 'group', group_id: g });
      for (const m of members) assert.deepEqual(await vmsOf(m), [], 'no VM for any member');
      const detail = (await call(admin, 'GET', `/api/admin/groups/${g}`)).json<{ usage: Record<string, number> }>();
      assert.deepEqual(detail.usage, { vms: 0, vcpus: 0, memory_mb: 0, disk_gb: 0 });
      assert.equal((await call(admin, 'GET', `/api/admin/groups/${g}/provisions`)).json<{ total: number }>().total, 0);
    });

    test("one member's own quota that has no room refuses the whole batch, naming the member", async () => {
      const [alice, bob, carol] = await Promise.all([newUser(t.app), newUser(t.app), newUser(t.app)]);
      assert.equal((await call(admin, 'PUT', `/api/admin/users/${carol.id}/quota`, { vms: 0 })).statusCode, 200);
      const g = await newGroup([alice, bob, carol]);
      const r = await call(admin, 'POST', `/api/admin/groups/${g}/provision`, { template, name_prefix: 'lab2' });
      const b = assertErrorBody(r, 403, 'QUOTA_EXCEEDED');
      assert.equal((b.details as { resource: string }).resource, 'vms');
      assert.deepEqual((b.details as { members: { user_id: string }[] }).members.map((m) => m.user_id), [carol.id]);
      for (const m of [alice, bob, carol]) assert.deepEqual(await vmsOf(m), []);
    });

    test('with enough quota: one VM per member, owned by the member, progress pushed to admins', async () => {
      const members = await Promise.all([newUser(t.app), newUser(t.app), newUser(t.app)]);
      const outsider = await newUser(t.app);
      const g = await newGroup(members, { vms: 3, memory_mb: 3 * 64 });
      const events = await openEvents(t.app, admin.token);
      try {
        const r = await call(admin, 'POST', `/api/admin/groups/${g}/provision`, { template, name_prefix: 'lab3' });
        assert.equal(r.statusCode, 202, r.body);
        const p0 = r.json<ProvisionJson>();
        assert.equal(p0.total, 3);
        const done = await waitDone(p0.id);
        assert.equal(done.state, 'succeeded', JSON.stringify(done.items));
        assert.equal(done.succeeded, 3);
        for (const m of members) {
          const mine = await vmsOf(m);
          assert.equal(mine.length, 1, `${m.username} has exactly one VM`);
          assert.equal(mine[0]!.owner_id, m.id);
          assert.equal(mine[0]!.name, `lab3-${m.username}`);
          assert.equal(mine[0]!.state, 'stopped');
        }
        assert.deepEqual(await vmsOf(outsider), []);
        const groupVms = (await call(admin, 'GET', `/api/admin/groups/${g}/vms`)).json<{ items: VmJson[] }>().items;
        assert.deepEqual(groupVms.map((v) => v.owner_id).sort(), members.map((m) => m.id).sort());
        const progress = await events.next((m) => m.type === 'group.provision.progress' && (m as unknown as { provision: ProvisionJson }).provision.state === 'succeeded');
        assert.equal((progress as unknown as { provision: ProvisionJson }).provision.id, p0.id);
        // the group is now full: a second provision is refused as a whole
        assertErrorBody(await call(admin, 'POST', `/api/admin/groups/${g}/provision`, { template, name_prefix: 'lab3b' }), 403, 'QUOTA_EXCEEDED');
        const audit = (await call(admin, 'GET', `/api/admin/audit?target_id=${g}&action=group.provision`)).json<{ items: { result: string; details: { phase: string } }[] }>().items;
        assert.deepEqual(audit.map((a) => a.details.phase).sort(), ['accepted', 'finished']);
      } finally {
        events.close();
      }
    });

    test('concurrent provisions against one group quota never over-allocate', async () => {
      const members = await Promise.all([newUser(t.app), newUser(t.app)]);
      const g = await newGroup(members, { vms: 2 });
      const results = await Promise.all(['c1', 'c2', 'c3', 'c4'].map((prefix) => call(admin, 'POST', `/api/admin/groups/${g}/provision`, { template, name_prefix: prefix })));
      const ok = results.filter((r) => r.statusCode === 202);
      assert.equal(ok.length, 1, results.map((r) => `${r.statusCode} ${r.body.slice(0, 120)}`).join('\n'));
      for (const r of results.filter((x) => x.statusCode !== 202)) assertErrorBody(r, 403, 'QUOTA_EXCEEDED');
      await waitDone(ok[0]!.json<ProvisionJson>().id);
      for (const m of members) assert.equal((await vmsOf(m)).length, 1);
    });

    test("a member's own create racing a provision: the member's quota is never exceeded", async () => {
      const [alice, bob] = await Promise.all([newUser(t.app), newUser(t.app)]);
      assert.equal((await call(admin, 'PUT', `/api/admin/users/${alice.id}/quota`, { vms: 1 })).statusCode, 200);
      const g = await newGroup([alice, bob]);
      const [prov, own] = await Promise.all([
        call(admin, 'POST', `/api/admin/groups/${g}/provision`, { template, name_prefix: 'race' }),
        call(alice, 'POST', '/api/vms', { name: 'mine', vcpus: 1, memory_mb: 64, disk_gb: 1 }),
      ]);
      assert.equal([prov.statusCode, own.statusCode].filter((c) => c === 202).length, 1, `${prov.statusCode} ${prov.body.slice(0, 200)} / ${own.statusCode} ${own.body.slice(0, 200)}`);
      if (prov.statusCode === 202) await waitDone(prov.json<ProvisionJson>().id);
      else {
        assertErrorBody(prov, 403, 'QUOTA_EXCEEDED');
        assert.deepEqual(await vmsOf(bob), [], 'a refused provision creates nothing for anyone');
      }
      assert.equal((await vmsOf(alice)).length, 1);
    });

    test('libvirt failing for one member after the decision: that member is rolled back and listed, the others are created', async () => {
      const [alice, bob, carol] = await Promise.all([newUser(t.app), newUser(t.app), newUser(t.app)]);
      const g = await newGroup([alice, bob, carol]);
      failFor.add(`lab5-${bob.username}`);
      const r = await call(admin, 'POST', `/api/admin/groups/${g}/provision`, { template, name_prefix: 'lab5' });
      assert.equal(r.statusCode, 202, r.body);
      const done = await waitDone(r.json<ProvisionJson>().id);
      assert.equal(done.state, 'partial');
      assert.equal(done.succeeded, 2);
      const bobItem = done.items.find((i) => i.user_id === bob.id)!;
      assert.equal(bobItem.state, 'failed');
      assert.match(bobItem.error ?? '', /injected: libvirt refused/);
      assert.deepEqual(await vmsOf(bob), [], "bob's row is rolled back");
      assert.equal(existsSync(`${t.dataDir}/disks/${bobItem.vm_uuid}.qcow2`), false, "bob's overlay disk is removed");
      for (const m of [alice, carol]) assert.equal((await vmsOf(m)).length, 1);
      const usage = (await call(admin, 'GET', `/api/admin/groups/${g}`)).json<{ usage: { vms: number } }>().usage;
      assert.equal(usage.vms, 2, 'the group quota holds only what exists');
    });
  });
}
