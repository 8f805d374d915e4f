// The VM API through app.inject on every database engine with libvirt's test driver: lifecycle,
// actions and the state machine, settings, ISO library, events, reconciler, metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { domainNameFor } from '../../src/hypervisor/index.js';
import { openEvents, unlimitedQuota, uploadIso, waitFor, waitGone, waitState, type VmJson } from './vm-helpers.js';

const small = { vcpus: 1, memory_mb: 64, disk_gb: 1 };

for (const engine of DB_ENGINES) {
  describe(`VM API (${engine})`, { timeout: 180_000 }, () => {
    let t: TestApp;
    let alice: TestUser;
    let admin: TestUser;
    let isoId: string;
    const isoBytes = Buffer.from('not really an ISO, but bytes are bytes\n'.repeat(100));

    before(async () => {
      t = await buildTestApp({ engine, vmOptions: { shutdownTimeoutMs: 2_000 } });
      alice = await newUser(t.app);
      admin = await newAdmin(t.app);
      await unlimitedQuota(t.app, admin, alice.id);
      const up = await uploadIso(t.app, admin, `tiny-${engine}.iso`, isoBytes);
      assert.equal(up.statusCode, 201, up.body);
      isoId = up.json().id;
    });
    after(async () => {
      // leave nothing in the shared test:///default connection for the next engine
      for (const vm of (await t.app.inject({ method: 'GET', url: '/api/admin/vms', headers: admin.auth })).json().items as VmJson[]) {
        await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: admin.auth });
        await waitGone(t.app, admin, vm.uuid).catch(() => undefined);
      }
      await t.close();
    });

    const create = (u: TestUser, body: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: body });
    const act = (u: TestUser, uuid: string, action: string) => t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: u.auth, payload: { action } });

    test('ISO library: upload streams, hashes and lists; names are validated; duplicates conflict', async () => {
      const list = await t.app.inject({ method: 'GET', url: '/api/isos', headers: alice.auth });
      assert.equal(list.statusCode, 200);
      const iso = (list.json().items as { id: string; sha256: string; size_bytes: number }[]).find((i) => i.id === isoId)!;
      assert.equal(iso.sha256, createHash('sha256').update(isoBytes).digest('hex'));
      assert.equal(iso.size_bytes, isoBytes.length);
      const file = join(t.config.isoDir, `tiny-${engine}.iso`);
      assert.equal(statSync(file).mode & 0o004, 0o004, 'ISO readable by libvirt-qemu');
      assertErrorBody(await uploadIso(t.app, admin, `tiny-${engine}.iso`, isoBytes), 409, 'CONFLICT');
      for (const bad of ['..iso', '.hidden.iso', 'noext', 'a%2Fb.iso', '..%2F..%2Fetc%2Fpasswd.iso', 'sp%20ace.iso', `${'x'.repeat(129)}.iso`]) {
        const r = await uploadIso(t.app, admin, bad, isoBytes);
        assert.ok([400, 404, 414].includes(r.statusCode), `${bad}: ${r.statusCode}`);
      }
      assertErrorBody(await uploadIso(t.app, alice, 'user.iso', isoBytes), 403, 'FORBIDDEN');
      const json = await t.app.inject({ method: 'PUT', url: '/api/admin/isos/j.iso', headers: admin.auth, payload: { a: 1 } });
      assertErrorBody(json, 415, 'UNSUPPORTED_MEDIA_TYPE');
      assert.equal(existsSync(join(t.config.isoDir, 'j.iso')), false);
    });

    test('create (no start) → creating → stopped, with its own disk and domain', async () => {
      const r = await create(alice, { name: 'plain', ...small });
      assert.equal(r.statusCode, 202, r.body);
      const vm = r.json<VmJson>();
      assert.equal(vm.state, 'creating');
      assert.equal(vm.owner_id, alice.id);
      assert.equal(vm.host, 'default');
      const done = await waitState(t.app, alice, vm.uuid, 'stopped');
      assert.deepEqual(done.allowed_actions, ['start']);
      assert.ok(existsSync(join(t.dataDir, 'disks', `${vm.uuid}.qcow2`)));
      const domains = await t.driver.listDomains();
      assert.ok(domains.some((d) => d.name === domainNameFor(vm.uuid) && d.uuid === vm.uuid));
    });

    test('power actions follow the state machine; impossible ones are 409 INVALID_STATE', async () => {
      const vm = (await create(alice, { name: 'power', ...small, iso: isoId, start: true })).json<VmJson>();
      await waitState(t.app, alice, vm.uuid, 'running');
      assertErrorBody(await act(alice, vm.uuid, 'start'), 409, 'INVALID_STATE');
      assertErrorBody(await act(alice, vm.uuid, 'resume'), 409, 'INVALID_STATE');
      let r = await act(alice, vm.uuid, 'pause');
      assert.equal(r.statusCode, 202);
      assert.equal(r.json().state, 'paused');
      assertErrorBody(await act(alice, vm.uuid, 'shutdown'), 409, 'INVALID_STATE');
      r = await act(alice, vm.uuid, 'resume');
      assert.equal(r.json().state, 'running');
      assert.equal((await act(alice, vm.uuid, 'reboot')).statusCode, 202);
      assert.equal((await act(alice, vm.uuid, 'reset')).statusCode, 202);
      r = await act(alice, vm.uuid, 'stop');
      assert.equal(r.statusCode, 202);
      assert.ok(['stopping', 'stopped'].includes(r.json().state));
      await waitState(t.app, alice, vm.uuid, 'stopped');
      assertErrorBody(await act(alice, vm.uuid, 'stop'), 409, 'INVALID_STATE');
      assertErrorBody(await act(alice, vm.uuid, 'explode'), 400, 'VALIDATION_FAILED');
      r = await act(alice, vm.uuid, 'start');
      assert.equal(r.json().state, 'starting');
      await waitState(t.app, alice, vm.uuid, 'running');
      assert.equal((await act(alice, vm.uuid, 'shutdown')).statusCode, 202);
      await waitState(t.app, alice, vm.uuid, 'stopped');
      const metrics = (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
      assert.match(metrics, /vm_action_total\{action="start",result="success"\} [1-9]/);
      assert.match(metrics, /vm_action_total\{action="start",result="failure"\} [1-9]/);
      await waitFor('vm_total to count stopped VMs', async () =>
        /vm_total\{state="stopped"\} [1-9]/.test((await t.app.inject({ method: 'GET', url: '/api/metrics' })).body) || undefined);
      const audit = await t.app.inject({ method: 'GET', url: `/api/admin/audit?target_id=${vm.uuid}`, headers: admin.auth });
      if (audit.statusCode === 200) assert.ok(JSON.stringify(audit.json()).includes('vm.start'));
    });

    test('PATCH renames and resizes; media and boot order say live or next_boot', async () => {
      const vm = (await create(alice, { name: 'cfg', ...small })).json<VmJson>();
      await waitState(t.app, alice, vm.uuid, 'stopped');
      let r = await t.app.inject({ method: 'PATCH', url: `/api/vms/${vm.uuid}`, headers: alice.auth, payload: { name: 'cfg2', vcpus: 2, memory_mb: 128, disk_gb: 2 } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().vm.name, 'cfg2');
      assert.equal(r.json().vm.vcpus, 2);
      assert.equal(r.json().applied, 'next_boot');
      assertErrorBody(await t.app.inject({ method: 'PATCH', url: `/api/vms/${vm.uuid}`, headers: alice.auth, payload: { disk_gb: 1 } }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await t.app.inject({ method: 'PATCH', url: `/api/vms/${vm.uuid}`, headers: alice.auth, payload: { name: 'plain' } }), 409, 'CONFLICT');

      r = await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/media`, headers: alice.auth, payload: { iso: isoId } });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().iso.id, isoId);
      assert.equal(r.json().applied, 'next_boot');
      assert.equal((await t.app.inject({ method: 'GET', url: `/api/vms/${vm.uuid}/media`, headers: alice.auth })).json().iso.id, isoId);
      assertErrorBody(await t.app.inject({ method: 'DELETE', url: `/api/admin/isos/${isoId}`, headers: admin.auth }), 409, 'CONFLICT');
      assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/media`, headers: alice.auth, payload: { iso: randomUUID() } }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/media`, headers: alice.auth, payload: { iso: '/etc/passwd' } }), 400, 'VALIDATION_FAILED');

      assert.equal((await act(alice, vm.uuid, 'start')).statusCode, 202);
      await waitState(t.app, alice, vm.uuid, 'running');
      r = await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/media`, headers: alice.auth, payload: { iso: null } });
      assert.equal(r.json().applied, 'live');
      assert.equal(r.json().iso, null);
      r = await t.app.inject({ method: 'PUT', url: `/api/vms/${vm.uuid}/boot-order`, headers: alice.auth, payload: { boot_order: ['hd', 'cdrom'] } });
      assert.equal(r.statusCode, 200, r.body);
      assert.deepEqual(r.json(), { boot_order: ['hd', 'cdrom'], applied: 'next_boot' });
      assert.deepEqual((await t.app.inject({ method: 'GET', url: `/api/vms/${vm.uuid}/boot-order`, headers: alice.auth })).json().boot_order, ['hd', 'cdrom']);
      for (const bad of [[], ['hd', 'hd'], ['floppy'], ['hd', 'cdrom', 'network', 'hd']]) {
        assertErrorBody(await t.app.inject({ method: 'PUT', url: `/api/vms/${vm.uuid}/boot-order`, headers: alice.auth, payload: { boot_order: bad } }), 400, 'VALIDATION_FAILED');
      }
      assertErrorBody(await t.app.inject({ method: 'PATCH', url: `/api/vms/${vm.uuid}`, headers: alice.auth, payload: { disk_gb: 3 } }), 409, 'INVALID_STATE');

      const stats = await t.app.inject({ method: 'GET', url: `/api/vms/${vm.uuid}/stats`, headers: alice.auth });
      assert.equal(stats.statusCode, 200, stats.body);
      const s = stats.json();
      assert.equal(typeof s.cpu_percent, 'number');
      assert.ok(s.cpu_percent >= 0 && s.cpu_percent <= 100);
      assert.equal(typeof s.memory.total_mb, 'number');
      assert.equal(s.guest_ips, 'unknown');
    });

    test('delete: deleting → gone; domain and exactly its own disk removed', async () => {
      const keep = (await create(alice, { name: 'neighbour', ...small })).json<VmJson>();
      const vm = (await create(alice, { name: 'doomed', ...small, start: true })).json<VmJson>();
      await waitState(t.app, alice, vm.uuid, 'running');
      await waitState(t.app, alice, keep.uuid, 'stopped');
      const r = await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: alice.auth });
      assert.equal(r.statusCode, 202);
      assert.equal(r.json().state, 'deleting');
      await waitGone(t.app, alice, vm.uuid);
      assert.ok(!(await t.driver.listDomains()).some((d) => d.uuid === vm.uuid));
      assert.equal(existsSync(join(t.dataDir, 'disks', `${vm.uuid}.qcow2`)), false);
      assert.ok(existsSync(join(t.dataDir, 'disks', `${keep.uuid}.qcow2`)), 'a neighbour’s disk is untouched');
      assertErrorBody(await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: alice.auth }), 404, 'NOT_FOUND');
    });

    test('events: snapshot on connect, then created/state/deleted for own VMs; Origin checked', async () => {
      const ev = await openEvents(t.app, alice.token);
      try {
        const snap = await ev.next((m) => m.type === 'snapshot');
        assert.ok(Array.isArray(snap.vms));
        const vm = (await create(alice, { name: 'evented', ...small, start: true })).json<VmJson>();
        await ev.next((m) => m.type === 'vm.created' && m.vm?.uuid === vm.uuid);
        await ev.next((m) => m.type === 'vm.state' && m.vm?.uuid === vm.uuid && m.vm.state === 'running');
        await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: alice.auth });
        await ev.next((m) => m.type === 'vm.deleted' && m.vm?.uuid === vm.uuid);
      } finally {
        ev.close();
      }
      await assert.rejects(openEvents(t.app, alice.token, { origin: 'https://evil.example' }));
      await assert.rejects(openEvents(t.app, 'not-a-token'));
    });

    test('reconciler: a domain removed behind LIMEN’s back is missing (never stopped); orphans are listed, not destroyed', async () => {
      const vm = (await create(alice, { name: 'vanishing', ...small })).json<VmJson>();
      await waitState(t.app, alice, vm.uuid, 'stopped');
      await t.driver.undefineDomain(vm.uuid);
      const missing = await waitState(t.app, alice, vm.uuid, 'missing');
      assert.match(String(missing.error_message), /no longer exists|removed/);
      assertErrorBody(await act(alice, vm.uuid, 'start'), 409, 'INVALID_STATE');

      const orphan = randomUUID();
      await t.driver.defineDomain({ uuid: orphan, vcpus: 1, memoryMb: 64, accel: 'tcg' });
      try {
        const listed = await waitFor('orphan listed', async () => {
          const r = (await t.app.inject({ method: 'GET', url: '/api/admin/vms', headers: admin.auth })).json<{ orphans: { uuid: string }[] }>();
          return r.orphans.some((o) => o.uuid === orphan) || undefined;
        });
        assert.ok(listed);
        assert.ok((await t.driver.listDomains()).some((d) => d.uuid === orphan), 'orphan left alone');
      } finally {
        await t.driver.undefineDomain(orphan);
      }
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: alice.auth })).statusCode, 202);
      await waitGone(t.app, alice, vm.uuid);
    });

    test('admin deleting a user with VMs: refused without cascade, complete with it', async () => {
      const bob = await newUser(t.app);
      const vm = (await create(bob, { name: 'bobs', ...small, start: true })).json<VmJson>();
      await waitState(t.app, bob, vm.uuid, 'running');
      assertErrorBody(await t.app.inject({ method: 'DELETE', url: `/api/admin/users/${bob.id}`, headers: admin.auth }), 409, 'CONFLICT');
      const r = await t.app.inject({ method: 'DELETE', url: `/api/admin/users/${bob.id}?cascade=true`, headers: admin.auth });
      assert.equal(r.statusCode, 204, r.body);
      assert.ok(!(await t.driver.listDomains()).some((d) => d.uuid === vm.uuid));
      assert.equal(existsSync(join(t.dataDir, 'disks', `${vm.uuid}.qcow2`)), false);
    });
  });
}
