// Quotas through the HTTP API on PGlite and the real PostgreSQL server: concurrent requests can
// never exceed a limit, every refusal is counted once per resource, lowering a limit only blocks.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { waitState, waitFor } from '../vms/vm-helpers.js';

interface QuotaJson {
  limits: Record<string, number | null>;
  usage: Record<string, number>;
  over_limit: string[];
}

// Background VM work competes for 2 cores with the rest of the suite: wait generously.
const SLOW = 90_000;

const resourceOf = (b: Record<string, unknown>): string => (b.details as { resource: string }).resource;

const tiny = (name: string, extra: Record<string, unknown> = {}) => ({ name, vcpus: 1, memory_mb: 64, disk_gb: 1, ...extra });

async function denied(t: TestApp): Promise<Record<string, number>> {
  const body = (await t.app.inject({ method: 'GET', url: '/api/metrics' })).body;
  const out: Record<string, number> = {};
  for (const m of body.matchAll(/^vm_quota_denied_total\{resource="([a-z_]+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

for (const engine of DB_ENGINES) {
  describe(`quotas (${engine})`, () => {
    let t: TestApp;
    let admin: TestUser;
    before(async () => {
      t = await buildTestApp({ engine });
      admin = await newAdmin(t.app);
    });
    after(() => t.close());

    const setQuota = async (u: TestUser, patch: Record<string, unknown>): Promise<QuotaJson> => {
      const r = await t.app.inject({ method: 'PUT', url: `/api/admin/users/${u.id}/quota`, headers: admin.auth, payload: patch });
      assert.equal(r.statusCode, 200, r.body);
      return r.json<QuotaJson>();
    };
    const quota = async (u: TestUser): Promise<QuotaJson> => (await t.app.inject({ method: 'GET', url: '/api/quota', headers: u.auth })).json<QuotaJson>();

    test('a new user sees the contract defaults and zero usage', async () => {
      const u = await newUser(t.app);
      const q = await quota(u);
      assert.deepEqual(q.limits, { vms: 5, vcpus: 8, memory_mb: 16384, disk_gb: 200, snapshots: 10, running_vms: 3, running_vcpus: 8, running_memory_mb: 16384 });
      assert.deepEqual(Object.values(q.usage), [0, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(q.over_limit, []);
    });

    test('50 concurrent creates against a quota of 3: exactly 3 succeed, 47 are QUOTA_EXCEEDED', async () => {
      const u = await newUser(t.app);
      await setQuota(u, { vms: 3 });
      const before0 = await denied(t);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny(`race-${i}`) })),
      );
      const ok = results.filter((r) => r.statusCode === 202);
      const refused = results.filter((r) => r.statusCode === 403);
      assert.equal(ok.length, 3, results.map((r) => r.statusCode).join(','));
      assert.equal(refused.length, 47);
      for (const r of refused) {
        const b = assertErrorBody(r, 403, 'QUOTA_EXCEEDED');
        assert.deepEqual(b.details, { resource: 'vms', limit: 3, used: 3, requested: 1 });
      }
      const after0 = await denied(t);
      assert.equal(after0.vms! - before0.vms!, 47);
      const q = await quota(u);
      assert.equal(q.usage.vms, 3);
      assert.equal(q.usage.memory_mb, 3 * 64);
      const list = (await t.app.inject({ method: 'GET', url: '/api/vms', headers: u.auth })).json();
      assert.equal(list.total, 3);
      const audit = await t.app.inject({ method: 'GET', url: `/api/admin/audit?action=quota.denied&target_id=${u.id}&per_page=100`, headers: admin.auth });
      assert.equal(audit.json().total, 47);
    });

    test('50 concurrent starts against running_vms 3: exactly 3 start', async () => {
      const u = await newUser(t.app);
      await setQuota(u, { vms: 60, vcpus: 60, memory_mb: 60 * 64, disk_gb: 60, running_vms: 3 });
      const uuids: string[] = [];
      for (let i = 0; i < 50; i++) {
        const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny(`start-${i}`) });
        assert.equal(r.statusCode, 202, r.body);
        uuids.push(r.json().uuid);
      }
      for (const uuid of uuids) await waitState(t.app, u, uuid, 'stopped', SLOW);
      const before0 = await denied(t);
      const results = await Promise.all(uuids.map((uuid) => t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: u.auth, payload: { action: 'start' } })));
      const ok = results.filter((r) => r.statusCode === 202 || r.statusCode === 200);
      assert.equal(ok.length, 3, results.map((r) => r.statusCode).join(','));
      for (const r of results.filter((x) => x.statusCode === 403)) assert.equal(r.json().details.resource, 'running_vms');
      assert.equal((await denied(t)).running_vms! - before0.running_vms!, 47);
      await waitFor('3 running', async () => (await quota(u)).usage.running_vms === 3 || undefined, SLOW);
    });

    test('start respects running vCPU and memory limits; stopping frees them', async () => {
      const u = await newUser(t.app);
      await setQuota(u, { running_vcpus: 2, running_memory_mb: 128 });
      const a = (await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('a', { vcpus: 2 }) })).json();
      const b = (await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('b', { memory_mb: 128 }) })).json();
      await waitState(t.app, u, a.uuid, 'stopped', SLOW);
      await waitState(t.app, u, b.uuid, 'stopped', SLOW);
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${a.uuid}/action`, headers: u.auth, payload: { action: 'start' } })).statusCode, 202);
      await waitState(t.app, u, a.uuid, 'running', SLOW);
      const refused = await t.app.inject({ method: 'POST', url: `/api/vms/${b.uuid}/action`, headers: u.auth, payload: { action: 'start' } });
      assert.equal(resourceOf(assertErrorBody(refused, 403, 'QUOTA_EXCEEDED')), 'running_vcpus');
      await t.app.inject({ method: 'POST', url: `/api/vms/${a.uuid}/action`, headers: u.auth, payload: { action: 'stop' } });
      await waitState(t.app, u, a.uuid, 'stopped', SLOW);
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${b.uuid}/action`, headers: u.auth, payload: { action: 'start' } })).statusCode, 202);
    });

    test('each allocation resource is refused with its own label', async () => {
      const u = await newUser(t.app);
      await setQuota(u, { vcpus: 2, memory_mb: 256, disk_gb: 5 });
      const before0 = await denied(t);
      for (const [payload, resource] of [
        [tiny('v', { vcpus: 3 }), 'vcpus'],
        [tiny('m', { memory_mb: 512 }), 'memory_mb'],
        [tiny('d', { disk_gb: 6 }), 'disk_gb'],
      ] as const) {
        const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload });
        assert.equal(resourceOf(assertErrorBody(r, 403, 'QUOTA_EXCEEDED')), resource);
      }
      const after0 = await denied(t);
      assert.equal(after0.vcpus! - before0.vcpus!, 1);
      assert.equal(after0.memory! - before0.memory!, 1);
      assert.equal(after0.disk! - before0.disk!, 1);
      assert.equal((await quota(u)).usage.vms, 0, 'nothing partial remains');
    });

    test('resize respects the quota; delete frees it', async () => {
      const u = await newUser(t.app);
      await setQuota(u, { vcpus: 2, vms: 1 });
      const vm = (await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('r') })).json();
      await waitState(t.app, u, vm.uuid, 'stopped', SLOW);
      const big = await t.app.inject({ method: 'PATCH', url: `/api/vms/${vm.uuid}`, headers: u.auth, payload: { vcpus: 3 } });
      assert.equal(resourceOf(assertErrorBody(big, 403, 'QUOTA_EXCEEDED')), 'vcpus');
      const ok = await t.app.inject({ method: 'PATCH', url: `/api/vms/${vm.uuid}`, headers: u.auth, payload: { vcpus: 2 } });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal((await quota(u)).usage.vcpus, 2);
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('second') }), 403, 'QUOTA_EXCEEDED');
      assert.ok([200, 202].includes((await t.app.inject({ method: 'DELETE', url: `/api/vms/${vm.uuid}`, headers: u.auth })).statusCode));
      await waitFor('usage freed', async () => (await quota(u)).usage.vms === 0 || undefined, SLOW);
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('second') })).statusCode, 202);
    });

    test('the (N+1)th snapshot is refused and counted', async () => {
      const u = await newUser(t.app);
      await setQuota(u, { snapshots: 2 });
      const vm = (await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('s') })).json();
      await waitState(t.app, u, vm.uuid, 'stopped', SLOW);
      for (const name of ['one', 'two']) {
        assert.equal((await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/snapshots`, headers: u.auth, payload: { name } })).statusCode, 202);
      }
      const before0 = await denied(t);
      const r = await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/snapshots`, headers: u.auth, payload: { name: 'three' } });
      assert.deepEqual(assertErrorBody(r, 403, 'QUOTA_EXCEEDED').details, { resource: 'snapshots', limit: 2, used: 2, requested: 1 });
      assert.equal((await denied(t)).snapshots! - before0.snapshots!, 1);
    });

    test('lowering a limit below usage blocks new allocations and touches nothing running', async () => {
      const u = await newUser(t.app);
      const vm = (await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('keep', { memory_mb: 512 }) })).json();
      await waitState(t.app, u, vm.uuid, 'stopped', SLOW);
      await t.app.inject({ method: 'POST', url: `/api/vms/${vm.uuid}/action`, headers: u.auth, payload: { action: 'start' } });
      await waitState(t.app, u, vm.uuid, 'running', SLOW);
      const q = await setQuota(u, { memory_mb: 256, running_memory_mb: 128 });
      assert.deepEqual(q.over_limit.sort(), ['memory_mb', 'running_memory_mb']);
      assert.deepEqual((await quota(u)).over_limit.sort(), ['memory_mb', 'running_memory_mb']);
      assertErrorBody(await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('new') }), 403, 'QUOTA_EXCEEDED');
      const still = (await t.app.inject({ method: 'GET', url: `/api/vms/${vm.uuid}`, headers: u.auth })).json();
      assert.equal(still.state, 'running');
    });

    test('admin quota API: subsets, null = unlimited, "default" restores, defaults editable', async () => {
      const u = await newUser(t.app);
      let q = await setQuota(u, { vms: 1, vcpus: null });
      assert.equal(q.limits.vms, 1);
      assert.equal(q.limits.vcpus, null);
      assert.equal(q.limits.disk_gb, 200);
      q = await setQuota(u, { vms: 'default' });
      assert.equal(q.limits.vms, 5);
      assert.equal(q.limits.vcpus, null);
      assertErrorBody(await t.app.inject({ method: 'PUT', url: `/api/admin/users/${u.id}/quota`, headers: admin.auth, payload: { vms: -1 } }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await t.app.inject({ method: 'PUT', url: `/api/admin/users/${u.id}/quota`, headers: admin.auth, payload: { bogus: 1 } }), 400, 'VALIDATION_FAILED');
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/admin/users/00000000-0000-4000-8000-000000000000/quota', headers: admin.auth }), 404, 'NOT_FOUND');
      const d = await t.app.inject({ method: 'PUT', url: '/api/admin/quota-defaults', headers: admin.auth, payload: { snapshots: 4 } });
      assert.equal(d.json().snapshots, 4);
      assert.equal(d.json().vms, 5);
      const fresh = await newUser(t.app);
      assert.equal((await quota(fresh)).limits.snapshots, 4);
      await t.app.inject({ method: 'PUT', url: '/api/admin/quota-defaults', headers: admin.auth, payload: { snapshots: 10 } });
    });
  });
}

describe('host capacity guard', () => {
  test('creates that would overcommit the host are refused with HOST_CAPACITY_EXCEEDED', async () => {
    // test:///default reports 16 CPUs: a ratio of 0.125 allows 2 vCPUs in all.
    const t = await buildTestApp({ env: { LIMEN_CPU_OVERCOMMIT: '0.125' } });
    try {
      const u = await newUser(t.app);
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('fits', { vcpus: 2 }) })).statusCode, 202);
      const r = await t.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('over') });
      const b = assertErrorBody(r, 409, 'HOST_CAPACITY_EXCEEDED');
      assert.deepEqual(b.details, { resource: 'vcpus', host: 'default', limit: 2, used: 2, requested: 1 });
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/vms', headers: u.auth })).json<{ total: number }>().total, 1);
    } finally {
      await t.close();
    }
  });
});
