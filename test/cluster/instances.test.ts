// Two LIMEN instances on one PostgreSQL database (each with its own pool, cluster session and
// libvirt connection to the same test:///default host): events cross instances through
// LISTEN/NOTIFY within a second and exactly once, quotas stay exact under a race split over both,
// one reconciler leads at a time, and a SIGKILLed instance leaves no advisory lock behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, PG_URL, REAL, type TestDatabase } from '../helpers/db.js';
import { newAdmin, newUser, login, type TestUser } from '../helpers/factories.js';
import { queryRows } from '../../src/platform/db/query.js';
import { RECONCILER_LEASE } from '../../src/modules/vms/index.js';
import { openEvents, unlimitedQuota, waitFor, waitState } from '../vms/vm-helpers.js';

const skip = PG_URL ? false : 'needs PostgreSQL (LIMEN_TEST_PG_URL)';
if (REAL && skip) throw new Error(`LIMEN_TEST_REAL=1 but the cluster tests cannot run: ${skip}`);

const tiny = (name: string, extra: Record<string, unknown> = {}) => ({ name, vcpus: 1, memory_mb: 64, disk_gb: 1, ...extra });

async function tokenOn(t: TestApp, u: TestUser): Promise<string> {
  const r = await login(t.app, u.username);
  assert.equal(r.statusCode, 200, r.body);
  return r.json<{ access_token: string }>().access_token;
}

async function advisoryLocks(t: TestApp, pid?: number): Promise<number> {
  const rows = await queryRows<{ n: number }>(
    t.app.limen.database.db,
    pid === undefined ? sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and granted` : sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = ${pid}`,
  );
  return rows[0]?.n ?? 0;
}

describe('two LIMEN instances on one PostgreSQL', { skip, timeout: 120_000 }, () => {
  let a: TestApp;
  let b: TestApp;
  let admin: TestUser;
  before(async () => {
    a = await buildTestApp({ engine: 'postgres' });
    b = await buildTestApp({ shareDatabase: a.db });
    admin = await newAdmin(a.app);
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('a VM started through A reaches a websocket on B within 1 s, exactly once', async () => {
    const u = await newUser(a.app);
    await unlimitedQuota(a.app, admin, u.id);
    const onB = await openEvents(b.app, await tokenOn(b, u));
    const onA = await openEvents(a.app, u.token);
    try {
      await onB.next((m) => m.type === 'snapshot');
      const created = await a.app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny('fanout') });
      assert.equal(created.statusCode, 202, created.body);
      const uuid = created.json<{ uuid: string }>().uuid;
      await waitState(a.app, u, uuid, 'stopped');
      const t0 = performance.now();
      const r = await a.app.inject({ method: 'POST', url: `/api/vms/${uuid}/action`, headers: u.auth, payload: { action: 'start' } });
      assert.equal(r.statusCode, 202, r.body);
      await onB.next((m) => m.type === 'vm.state' && m.vm?.uuid === uuid && m.vm.state === 'starting', 1000);
      const starting = performance.now() - t0;
      await onB.next((m) => m.type === 'vm.state' && m.vm?.uuid === uuid && m.vm.state === 'running', 1000);
      const running = performance.now() - t0;
      console.log(`# cross-instance event latency: starting ${starting.toFixed(1)} ms, running ${running.toFixed(1)} ms after the action request`);
      await new Promise((res) => setTimeout(res, 300));
      for (const s of [onA, onB]) {
        const count = (state: string) => s.messages.filter((m) => m.type === 'vm.state' && m.vm?.uuid === uuid && m.vm.state === state).length;
        assert.equal(count('starting'), 1, 'one starting event per client');
        assert.equal(count('running'), 1, 'one running event per client');
        assert.equal(s.messages.filter((m) => m.type === 'vm.created' && m.vm?.uuid === uuid).length, 1);
      }
    } finally {
      onA.close();
      onB.close();
    }
  });

  test('NOTIFY latency over 50 events (B receives what A publishes)', async () => {
    const owner = randomUUID();
    const seen = new Map<string, number>();
    const sent = new Map<string, number>();
    const off = b.app.limen.cluster.listen('limen_events', (p) => {
      const m = JSON.parse(p) as { vm?: { uuid: string } };
      if (m.vm) seen.set(m.vm.uuid, performance.now());
    });
    try {
      for (let i = 0; i < 50; i++) {
        const uuid = randomUUID();
        sent.set(uuid, performance.now());
        a.app.limen.events.publish('vm.updated', { uuid, owner_id: owner });
        await new Promise((r) => setTimeout(r, 5));
      }
      await waitFor('all 50 notifications', () => seen.size === 50, 5000);
      const lat = [...sent].map(([u, t]) => seen.get(u)! - t).sort((x, y) => x - y);
      console.log(`# NOTIFY latency p50 ${lat[25]!.toFixed(2)} ms, p90 ${lat[45]!.toFixed(2)} ms, max ${lat[49]!.toFixed(2)} ms`);
      assert.ok(lat[49]! < 1000);
    } finally {
      off();
    }
  });

  test('40 concurrent creates split over A and B against a quota of 3: exactly 3 succeed', async () => {
    const u = await newUser(a.app);
    const r = await a.app.inject({ method: 'PUT', url: `/api/admin/users/${u.id}/quota`, headers: admin.auth, payload: { vms: 3 } });
    assert.equal(r.statusCode, 200, r.body);
    const onB = { authorization: `Bearer ${await tokenOn(b, u)}` };
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? b : a).app.inject({ method: 'POST', url: '/api/vms', headers: i % 2 ? onB : u.auth, payload: tiny(`race-${i}`) })),
    );
    const codes = results.map((x) => x.statusCode);
    assert.equal(codes.filter((c) => c === 202).length, 3, codes.join(','));
    assert.equal(codes.filter((c) => c === 403).length, 37, codes.join(','));
    const list = (await b.app.inject({ method: 'GET', url: '/api/vms', headers: onB })).json<{ total: number; items: { uuid: string }[] }>();
    assert.equal(list.total, 3);
    for (const vm of list.items) await waitState(a.app, u, vm.uuid, 'stopped');
  });

  test('one VM reconciler leads across both instances', async () => {
    await waitFor('a reconciler leader', () => a.app.limen.cluster.isHeld(RECONCILER_LEASE) || b.app.limen.cluster.isHeld(RECONCILER_LEASE), 5000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.notEqual(a.app.limen.cluster.isHeld(RECONCILER_LEASE), b.app.limen.cluster.isHeld(RECONCILER_LEASE));
  });
});

describe('a SIGKILLed instance leaves no advisory lock held', { skip, timeout: 60_000 }, () => {
  let db: TestDatabase;
  let b: TestApp | undefined;
  before(async () => {
    db = await createTestDatabase('postgres', tmpdir());
  });
  after(async () => {
    await b?.close();
    await db?.drop();
  });

  test('the reconciler lease and a VM operation lock free when their instance dies; B takes over', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'hold-locks.ts'), db.url!, randomUUID()], { stdio: ['ignore', 'pipe', 'inherit'] });
    const { pids } = await new Promise<{ pids: number[] }>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error('lock holder did not start')), 30_000);
      createInterface({ input: child.stdout }).once('line', (l) => {
        clearTimeout(timer);
        ok(JSON.parse(l) as { pids: number[] });
      });
    });
    b = await buildTestApp({ shareDatabase: db });
    const locksOf = async () => (await Promise.all(pids.map((p) => advisoryLocks(b!, p)))).reduce((x, y) => x + y, 0);
    assert.equal(await locksOf(), 2, 'the holder has the lease and the VM lock');
    // B's reconciler ticks every second: it must not lead while the holder lives
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(b.app.limen.cluster.isHeld(RECONCILER_LEASE), false);

    const killedAt = performance.now();
    child.kill('SIGKILL');
    await waitFor('the dead instance\'s locks to be released', async () => (await locksOf()) === 0, 10_000);
    await waitFor('B to take the reconciler over', () => b!.app.limen.cluster.isHeld(RECONCILER_LEASE), 10_000);
    console.log(`# failover: B leads the reconciler ${(performance.now() - killedAt).toFixed(0)} ms after SIGKILL`);
  });
});
