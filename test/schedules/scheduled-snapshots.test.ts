// Scheduled snapshots on the fast tier (test:///default, PGlite and PostgreSQL): the loop fires a
// due schedule on a controlled clock, retention keeps exactly the newest N scheduled snapshots and
// never touches manual ones, group schedules cover every VM of the group, failures count in
// limen_scheduled_snapshot_failures_total and show on the schedule, and access follows the VM.
// On PostgreSQL, two instances share the schedules and only the elected one runs them.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES, PG_URL } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, uniqueName, type TestUser } from '../helpers/factories.js';
import { waitFor, waitState } from '../vms/vm-helpers.js';
import type { App } from '../../src/app.js';

interface ScheduleJson {
  id: string;
  cron: string;
  retention: number;
  next_run_at: string;
  last_run_at: string | null;
  last_result: string | null;
  last_error: string | null;
}
interface SnapJson {
  id: string;
  name: string;
  state: string;
  created_at: string;
}

const tiny = (name: string) => ({ name, vcpus: 1, memory_mb: 64, disk_gb: 1 });

/** A clock the test moves: schedules fire when it passes their next_run_at. */
class TestClock {
  t = new Date('2031-03-04T05:06:30.000Z');
  now = (): Date => new Date(this.t);
  advance(ms: number): Date {
    this.t = new Date(this.t.getTime() + ms);
    return this.now();
  }
}

async function metric(app: App, name: string, labels: string): Promise<number> {
  const body = (await app.inject({ method: 'GET', url: '/api/metrics' })).body;
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : NaN;
}

async function newVm(app: App, u: TestUser): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/api/vms', headers: u.auth, payload: tiny(uniqueName('vm')) });
  assert.equal(r.statusCode, 202, r.body);
  const uuid = r.json<{ uuid: string }>().uuid;
  await waitState(app, u, uuid, 'stopped');
  return uuid;
}

const snapshotsOf = async (app: App, u: TestUser, vm: string): Promise<SnapJson[]> =>
  (await app.inject({ method: 'GET', url: `/api/vms/${vm}/snapshots`, headers: u.auth })).json<{ items: SnapJson[] }>().items;

const getSchedule = async (app: App, u: TestUser, id: string): Promise<ScheduleJson> =>
  (await app.inject({ method: 'GET', url: `/api/snapshot-schedules/${id}`, headers: u.auth })).json<ScheduleJson>();

for (const engine of DB_ENGINES) {
  describe(`scheduled snapshots (${engine})`, () => {
    let t: TestApp;
    let admin: TestUser;
    const clock = new TestClock();
    before(async () => {
      t = await buildTestApp({ engine, snapshotScheduler: { now: clock.now, everyMs: 100 } });
      admin = await newAdmin(t.app);
    });
    after(() => t.close());

    const call = (u: TestUser, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) => t.app.inject({ method, url, headers: u.auth, ...(payload ? { payload } : {}) });

    /** Moves the clock to the schedule's next time and waits until the loop has recorded that run. */
    async function fire(u: TestUser, id: string): Promise<ScheduleJson> {
      const s = await getSchedule(t.app, u, id);
      clock.t = new Date(Date.parse(s.next_run_at) + 1_000);
      const at = clock.now().toISOString();
      return waitFor(`schedule ${id} to run at ${at}`, async () => {
        const now = await getSchedule(t.app, u, id);
        return now.last_run_at === at ? now : undefined;
      });
    }

    test('retention 2, fired three times by the loop: exactly the 2 newest scheduled snapshots remain, the manual one stays', async () => {
      const u = await newUser(t.app);
      const vm = await newVm(t.app, u);
      const manual = await call(u, 'POST', `/api/vms/${vm}/snapshots`, { name: 'my-own' });
      assert.equal(manual.statusCode, 202, manual.body);
      await waitFor('manual snapshot ready', async () => (await snapshotsOf(t.app, u, vm)).find((s) => s.name === 'my-own' && s.state === 'ready'));

      const created = await call(u, 'POST', `/api/vms/${vm}/snapshot-schedules`, { cron: '*/5 * * * *', retention: 2 });
      assert.equal(created.statusCode, 201, created.body);
      const sched = created.json<ScheduleJson>();
      assert.equal(Date.parse(sched.next_run_at) % (5 * 60_000), 0, 'next run is on a 5-minute boundary');
      assert.ok(Date.parse(sched.next_run_at) > clock.now().getTime());

      const names: string[] = [];
      for (let run = 1; run <= 3; run++) {
        const after0 = await fire(u, sched.id);
        assert.equal(after0.last_result, 'success', after0.last_error ?? '');
        assert.ok(Date.parse(after0.next_run_at) > clock.now().getTime(), 'moved to its next time');
        const scheduled = (await snapshotsOf(t.app, u, vm)).filter((s) => s.name.startsWith('auto-'));
        names.push(...scheduled.map((s) => s.name).filter((n) => !names.includes(n)));
        assert.equal(scheduled.length, Math.min(run, 2), `after run ${run}`);
      }
      const all = await snapshotsOf(t.app, u, vm);
      assert.equal(all.length, 3, JSON.stringify(all.map((s) => s.name)));
      assert.ok(all.some((s) => s.name === 'my-own'), 'the manual snapshot is never deleted by retention');
      assert.deepEqual(all.filter((s) => s.name.startsWith('auto-')).map((s) => s.name), names.slice(1), 'the oldest scheduled snapshot went');
      assert.ok(all.every((s) => s.state === 'ready'));

      // nothing fires before the clock reaches the next time
      const before0 = (await getSchedule(t.app, u, sched.id)).last_run_at;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await getSchedule(t.app, u, sched.id)).last_run_at, before0);

      const audit = (await call(admin, 'GET', `/api/admin/audit?target_id=${vm}&per_page=100`)).json<{ items: { action: string; details: Record<string, unknown> }[] }>().items;
      assert.equal(audit.filter((a) => a.action === 'snapshot.create' && a.details.schedule_id === sched.id).length, 3);
      assert.equal(audit.filter((a) => a.action === 'snapshot.delete' && a.details.reason === 'retention').length, 1);
    });

    test('a failing scheduled snapshot counts in limen_scheduled_snapshot_failures_total and shows on the schedule', async () => {
      const u = await newUser(t.app);
      const vm = await newVm(t.app, u);
      assert.equal((await call(admin, 'PUT', `/api/admin/users/${u.id}/quota`, { snapshots: 0 })).statusCode, 200);
      const sched = (await call(u, 'POST', `/api/vms/${vm}/snapshot-schedules`, { cron: '0 * * * *', retention: 3 })).json<ScheduleJson>();
      const before0 = await metric(t.app, 'limen_scheduled_snapshot_failures_total', 'kind="vm"');
      assert.ok(before0 >= 0, 'the failure counter is exported from the start');
      const ran = await fire(u, sched.id);
      assert.equal(ran.last_result, 'failure');
      assert.match(ran.last_error ?? '', /Quota exceeded for snapshots/);
      assert.equal(await metric(t.app, 'limen_scheduled_snapshot_failures_total', 'kind="vm"'), before0 + 1);
      assert.equal((await snapshotsOf(t.app, u, vm)).length, 0);

      // quota back: "run now" succeeds without changing the timing
      assert.equal((await call(admin, 'PUT', `/api/admin/users/${u.id}/quota`, { snapshots: 'default' })).statusCode, 200);
      const next0 = (await getSchedule(t.app, u, sched.id)).next_run_at;
      clock.advance(1_000);
      const run = await call(u, 'POST', `/api/snapshot-schedules/${sched.id}/run`);
      assert.equal(run.statusCode, 202, run.body);
      const done = await waitFor('run now', async () => {
        const s = await getSchedule(t.app, u, sched.id);
        return s.last_result === 'success' ? s : undefined;
      });
      assert.equal(done.next_run_at, next0);
      assert.equal((await snapshotsOf(t.app, u, vm)).filter((s) => s.state === 'ready').length, 1);
    });

    test('a group schedule snapshots every VM of the group, retention per VM', async () => {
      const [alice, bob] = await Promise.all([newUser(t.app), newUser(t.app)]);
      const g = (await call(admin, 'POST', '/api/admin/groups', { name: uniqueName('sched-'), members: [alice.id, bob.id] })).json<{ id: string }>();
      const va = await newVm(t.app, alice);
      const vb = await newVm(t.app, bob);
      for (const vm of [va, vb]) await t.app.limen.database.db.execute(sql`insert into group_vms (vm_uuid, group_id) values (${vm}, ${g.id})`);
      const created = await call(admin, 'POST', `/api/admin/groups/${g.id}/snapshot-schedules`, { cron: '30 2 * * MON-FRI', retention: 1 });
      assert.equal(created.statusCode, 201, created.body);
      const sched = created.json<ScheduleJson>();
      assert.equal((await call(admin, 'GET', `/api/admin/groups/${g.id}/snapshot-schedules`)).json<{ total: number }>().total, 1);
      for (let i = 0; i < 2; i++) assert.equal((await fire(admin, sched.id)).last_result, 'success');
      for (const [u, vm] of [[alice, va], [bob, vb]] as const) {
        const snaps = await snapshotsOf(t.app, u, vm);
        assert.equal(snaps.length, 1, `${vm}: ${JSON.stringify(snaps.map((s) => s.name))}`);
      }
      // members do not see (or touch) the group's schedule
      assertErrorBody(await call(alice, 'GET', `/api/snapshot-schedules/${sched.id}`), 404, 'NOT_FOUND');
      assertErrorBody(await call(alice, 'DELETE', `/api/snapshot-schedules/${sched.id}`), 404, 'NOT_FOUND');
    });

    test('bad input is refused naming the field; another user’s VM and schedules are 404; changes are audited', async () => {
      const [alice, bob] = await Promise.all([newUser(t.app), newUser(t.app)]);
      const vm = await newVm(t.app, alice);
      for (const [payload, field] of [
        [{ cron: '61 * * * *', retention: 1 }, 'cron'],
        [{ cron: '* * * *', retention: 1 }, 'cron'],
        [{ cron: '0 0 30 2 *', retention: 1 }, 'cron'],
        [{ cron: '* * * * *', retention: 0 }, undefined],
        [{ cron: '* * * * *', retention: 101 }, undefined],
        [{ cron: '* * * * *' }, undefined],
      ] as const) {
        const r = await call(alice, 'POST', `/api/vms/${vm}/snapshot-schedules`, payload);
        const b = assertErrorBody(r, 400, 'VALIDATION_FAILED');
        if (field) assert.equal((b.details as { field: string }).field, field);
      }
      const s = (await call(alice, 'POST', `/api/vms/${vm}/snapshot-schedules`, { cron: '15 3 * * *', retention: 7 })).json<ScheduleJson>();
      assertErrorBody(await call(bob, 'POST', `/api/vms/${vm}/snapshot-schedules`, { cron: '15 3 * * *', retention: 7 }), 404, 'NOT_FOUND');
      assertErrorBody(await call(bob, 'GET', `/api/vms/${vm}/snapshot-schedules`), 404, 'NOT_FOUND');
      for (const [method, url] of [['GET', `/api/snapshot-schedules/${s.id}`], ['PATCH', `/api/snapshot-schedules/${s.id}`], ['DELETE', `/api/snapshot-schedules/${s.id}`], ['POST', `/api/snapshot-schedules/${s.id}/run`]] as const) {
        assertErrorBody(await call(bob, method, url, method === 'PATCH' ? { retention: 1 } : undefined), 404, 'NOT_FOUND');
      }
      const paused = await call(alice, 'PATCH', `/api/snapshot-schedules/${s.id}`, { enabled: false, cron: '0 4 * * *' });
      assert.equal(paused.statusCode, 200, paused.body);
      assert.equal(paused.json<ScheduleJson>().cron, '0 4 * * *');
      assert.equal((await call(admin, 'GET', `/api/vms/${vm}/snapshot-schedules`)).json<{ total: number }>().total, 1, 'admins see every VM’s schedules');
      assert.equal((await call(alice, 'DELETE', `/api/snapshot-schedules/${s.id}`)).statusCode, 204);
      const actions = (await call(admin, 'GET', `/api/admin/audit?target_id=${s.id}`)).json<{ items: { action: string }[] }>().items.map((a) => a.action).sort();
      assert.deepEqual(actions, ['snapshot_schedule.create', 'snapshot_schedule.delete', 'snapshot_schedule.update']);
    });
  });
}

describe('scheduled snapshots with two instances on one PostgreSQL', { skip: PG_URL ? false : 'needs PostgreSQL (LIMEN_TEST_PG_URL)' }, () => {
  let a: TestApp;
  let b: TestApp;
  const clock = new TestClock();
  before(async () => {
    // A starts first, so its loop's first tick takes the scheduler lease
    a = await buildTestApp({ engine: 'postgres', snapshotScheduler: { now: clock.now, everyMs: 100 } });
    await waitFor('A to lead the scheduler', () => a.app.limen.cluster.isHeld('loop:snapshot-scheduler:default') || undefined);
    b = await buildTestApp({ shareDatabase: a.db, snapshotScheduler: { now: clock.now, everyMs: 100 } });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('only the elected instance runs a due schedule: one snapshot per run, never two', async () => {
    const u = await newUser(a.app);
    const vm = await newVm(a.app, u);
    const s = (await a.app.inject({ method: 'POST', url: `/api/vms/${vm}/snapshot-schedules`, headers: u.auth, payload: { cron: '* * * * *', retention: 5 } })).json<ScheduleJson>();
    for (let run = 1; run <= 2; run++) {
      clock.t = new Date(Date.parse((await getSchedule(a.app, u, s.id)).next_run_at) + 1_000);
      const at = clock.now().toISOString();
      await waitFor('the run', async () => (await getSchedule(a.app, u, s.id)).last_run_at === at || undefined);
      await new Promise((r) => setTimeout(r, 600)); // several more ticks of both loops
      assert.equal((await snapshotsOf(a.app, u, vm)).length, run);
    }
    assert.equal(b.app.limen.cluster.isHeld('loop:snapshot-scheduler:default'), false);
    const runs = async (app: App) => ['success', 'partial', 'failure'].reduce(async (n, r) => (await n) + (await metric(app, 'limen_scheduled_snapshot_runs_total', `result="${r}"`)), Promise.resolve(0));
    assert.equal(await runs(a.app), 2);
    assert.equal(await runs(b.app), 0);
  });
});
