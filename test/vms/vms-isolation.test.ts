// Tenancy and hostile input: another user's VM is 404 on every route and absent from lists and
// event streams; odd names are stored and escaped, bad sizes and ISO references are refused, and
// nothing partial (row, disk, domain) remains after a refused request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { parseDomainXml } from '../../src/hypervisor/index.js';
import { queryOne } from '../../src/platform/db/query.js';
import { openEvents, unlimitedQuota, waitGone, waitState, type VmJson } from './vm-helpers.js';

const small = { vcpus: 1, memory_mb: 64, disk_gb: 1 };

for (const engine of DB_ENGINES) {
  describe(`VM isolation and bad input (${engine})`, { timeout: 180_000 }, () => {
    let t: TestApp;
    let alice: TestUser;
    let mallory: TestUser;
    let admin: TestUser;
    let vm: VmJson;

    before(async () => {
      t = await buildTestApp({ engine });
      [alice, mallory, admin] = await Promise.all([newUser(t.app), newUser(t.app), newAdmin(t.app)]);
      await unlimitedQuota(t.app, admin, alice.id);
      vm = (await t.app.inject({ method: 'POST', url: '/api/vms', headers: alice.auth, payload: { name: 'private', ...small, start: true } })).json<VmJson>();
      await waitState(t.app, alice, vm.uuid, 'running');
    });
    after(async () => {
      for (const v of (await t.app.inject({ method: 'GET', url: '/api/admin/vms', headers: admin.auth })).json<{ items: VmJson[] }>().items) {
        await t.app.inject({ method: 'DELETE', url: `/api/vms/${v.uuid}`, headers: admin.auth });
        await waitGone(t.app, admin, v.uuid).catch(() => undefined);
      }
      await t.close();
    });

    test('another user’s VM is 404 NOT_FOUND on every VM route and absent from their list', async () => {
      const u = `/api/vms/${vm.uuid}`;
      const calls: [string, string, unknown?][] = [
        ['GET', u],
        ['PATCH', u, { name: 'stolen' }],
        ['DELETE', u],
        ['POST', `${u}/action`, { action: 'stop' }],
        ['GET', `${u}/media`],
        ['POST', `${u}/media`, { iso: null }],
        ['GET', `${u}/boot-order`],
        ['PUT', `${u}/boot-order`, { boot_order: ['hd'] }],
        ['GET', `${u}/stats`],
      ];
      for (const [method, url, payload] of calls) {
        const r = await t.app.inject({ method: method as 'GET', url, headers: mallory.auth, ...(payload ? { payload } : {}) });
        assertErrorBody(r, 404, 'NOT_FOUND');
        // and a VM that does not exist at all answers the same
        const r2 = await t.app.inject({ method: method as 'GET', url: url.replace(vm.uuid, randomUUID()), headers: mallory.auth, ...(payload ? { payload } : {}) });
        assertErrorBody(r2, 404, 'NOT_FOUND');
      }
      const list = (await t.app.inject({ method: 'GET', url: '/api/vms', headers: mallory.auth })).json<{ items: VmJson[]; total: number }>();
      assert.equal(list.total, 0);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/admin/vms', headers: mallory.auth }), 403, 'FORBIDDEN');
      // untouched
      assert.equal((await t.app.inject({ method: 'GET', url: u, headers: alice.auth })).json<VmJson>().state, 'running');
      const all = (await t.app.inject({ method: 'GET', url: '/api/vms', headers: admin.auth })).json<{ items: VmJson[] }>();
      assert.ok(all.items.some((v) => v.uuid === vm.uuid && v.owner_id === alice.id && v.host === 'default'));
    });

    test('another user’s events never reach a stream, nor can they be watched', async () => {
      const ev = await openEvents(t.app, mallory.token);
      const adminEv = await openEvents(t.app, admin.token);
      try {
        const snap = await ev.next((m) => m.type === 'snapshot');
        assert.deepEqual(snap.vms, []);
        ev.ws.send(JSON.stringify({ type: 'watch', uuid: vm.uuid }));
        assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: alice.auth, payload: { action: 'pause' } })).statusCode, 202);
        await adminEv.next((m) => m.type === 'vm.state' && m.vm?.uuid === vm.uuid && m.vm.state === 'paused');
        await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: alice.auth, payload: { action: 'resume' } });
        await adminEv.next((m) => m.type === 'vm.state' && m.vm?.uuid === vm.uuid && m.vm.state === 'running');
        await new Promise((r) => setTimeout(r, 2500)); // a stats tick or two
        assert.ok(!JSON.stringify(ev.messages).includes(vm.uuid), 'no trace of alice’s VM in mallory’s stream');
      } finally {
        ev.close();
        adminEv.close();
      }
    });

    const counts = async () => ({
      rows: (await queryOne<{ n: number }>(t.app.limen.database.db, sql`select count(*)::int as n from vms`))?.n,
      disks: readdirSync(join(t.dataDir, 'disks')).length,
      domains: (await t.driver.listDomains()).filter((d) => d.name.startsWith('limen-')).length,
    });

    test('refused creates leave nothing behind', async () => {
      const before = JSON.stringify(await counts());
      const bad: [Record<string, unknown>, number, string][] = [
        [{ name: 'x'.repeat(300), ...small }, 400, 'VALIDATION_FAILED'],
        [{ name: '', ...small }, 400, 'VALIDATION_FAILED'],
        [{ name: '   ', ...small }, 400, 'VALIDATION_FAILED'],
        [{ name: 'line\nbreak', ...small }, 400, 'VALIDATION_FAILED'],
        [{ name: 'nul\u0000', ...small }, 400, 'VALIDATION_FAILED'],
        [{ name: 'lone \ud800', ...small }, 400, 'VALIDATION_FAILED'],
        [{ name: 'neg', ...small, vcpus: -1 }, 400, 'VALIDATION_FAILED'],
        [{ name: 'zero', ...small, memory_mb: 0 }, 400, 'VALIDATION_FAILED'],
        [{ name: 'frac', ...small, disk_gb: 1.5 }, 400, 'VALIDATION_FAILED'],
        [{ name: 'huge', ...small, memory_mb: 1e12 }, 400, 'VALIDATION_FAILED'],
        [{ name: 'huge2', ...small, disk_gb: Number.MAX_SAFE_INTEGER }, 400, 'VALIDATION_FAILED'],
        [{ name: 'str', ...small, vcpus: '1' }, 400, 'VALIDATION_FAILED'],
        [{ name: 'iso', ...small, iso: randomUUID() }, 400, 'VALIDATION_FAILED'],
        [{ name: 'path', ...small, iso: '../../etc/passwd' }, 400, 'VALIDATION_FAILED'],
        [{ name: 'path2', ...small, iso: '/usr/lib/grub-rescue/grub-rescue-cdrom.iso' }, 400, 'VALIDATION_FAILED'],
        [{ name: 'extra', ...small, disk_path: '/etc/passwd' }, 400, 'VALIDATION_FAILED'],
        [{ name: 'private', ...small }, 409, 'CONFLICT'],
      ];
      for (const [payload, status, code] of bad) {
        const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: alice.auth, payload });
        assertErrorBody(r, status, code);
      }
      assert.equal(JSON.stringify(await counts()), before);
    });

    test('the same name under another owner is allowed; hostile names are stored verbatim and escaped in libvirt', async () => {
      const other = await t.app.inject({ method: 'POST', url: '/api/vms', headers: mallory.auth, payload: { name: 'private', ...small } });
      assert.equal(other.statusCode, 202, other.body);
      for (const name of [`quote "double" 'single'`, '<script>alert(1)</script>', 'a & b', 'cdata ]]> end', '🦄 unicorn ✓', `${'é'.repeat(64)}`]) {
        const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: alice.auth, payload: { name, ...small } });
        assert.equal(r.statusCode, 202, `${name}: ${r.body}`);
        const v = r.json<VmJson>();
        assert.equal(v.name, name);
        await waitState(t.app, alice, v.uuid, 'stopped');
        const parsed = parseDomainXml(await t.driver.getDomainXml(v.uuid, { inactive: true }));
        assert.equal(parsed.title, name);
        assert.equal(parsed.name, `limen-${v.uuid}`);
      }
    });
  });
}
