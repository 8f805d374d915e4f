// Alerts reach the admin page live: a webhook delivery that stores or changes an alert pushes
// `alert.firing` / `alert.resolved` over /ws/events to admins (never to users), a redelivery that
// changes nothing pushes nothing, and with two instances on one PostgreSQL the admin connected to
// the instance Alertmanager did not reach sees it too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { PG_URL, REAL } from '../helpers/db.js';
import { login, newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { openEvents, type EventStream } from '../vms/vm-helpers.js';
import { amAlert, amPayload } from './fixtures.js';

const TOKEN = 'alert-events-test-token-0123456789ab';
const hook = { authorization: `Bearer ${TOKEN}` };
interface AlertMsg { type: string; alert?: { fingerprint: string; status: string; alertname: string; ends_at: string | null; annotations: Record<string, string> } }
const alertMsgs = (s: EventStream): AlertMsg[] => (s.messages as AlertMsg[]).filter((m) => m.type.startsWith('alert.'));

describe('alert events over /ws/events (one instance)', () => {
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  before(async () => {
    t = await buildTestApp({ env: { LIMEN_ALERT_WEBHOOK_TOKEN: TOKEN } });
    admin = await newAdmin(t.app);
    user = await newUser(t.app);
  });
  after(() => t.close());

  test('firing and resolved reach admins once each; users see nothing; a redelivery is silent', async () => {
    const onAdmin = await openEvents(t.app, admin.token);
    const onUser = await openEvents(t.app, user.token);
    try {
      await onAdmin.next((m) => m.type === 'snapshot');
      await onUser.next((m) => m.type === 'snapshot');
      const firing = amAlert({ fingerprint: 'feed0001beef0001' });
      const post = (payload: unknown) => t.app.inject({ method: 'POST', url: '/api/alerts/webhook', headers: hook, payload: payload as Record<string, unknown> });

      assert.equal((await post(amPayload([firing]))).statusCode, 200);
      const fired = (await onAdmin.next((m) => m.type === 'alert.firing', 10_000)) as AlertMsg;
      assert.equal(fired.alert?.fingerprint, firing.fingerprint);
      assert.equal(fired.alert?.alertname, 'HighAuthFailureRate');
      assert.equal(fired.alert?.annotations['summary'], firing.annotations.summary, 'the row as GET /api/alerts shows it');
      // The pushed row is the stored one: the page can merge it without refetching.
      const listed = (await t.app.inject({ method: 'GET', url: '/api/alerts', headers: admin.auth })).json<{ items: unknown[] }>().items[0];
      assert.deepEqual(fired.alert, listed);

      assert.deepEqual((await post(amPayload([firing]))).json(), { received: 1, inserted: 0, updated: 0 });
      assert.equal((await post(amPayload([{ ...firing, status: 'resolved', endsAt: '2025-03-01T10:09:00Z' }]))).statusCode, 200);
      const resolved = (await onAdmin.next((m) => m.type === 'alert.resolved', 10_000)) as AlertMsg;
      assert.equal(resolved.alert?.fingerprint, firing.fingerprint);
      assert.equal(resolved.alert?.ends_at, '2025-03-01T10:09:00.000Z');

      await new Promise((r) => setTimeout(r, 200)); // anything else in flight would arrive by now
      assert.deepEqual(alertMsgs(onAdmin).map((m) => m.type), ['alert.firing', 'alert.resolved'], 'the unchanged redelivery pushed nothing');
      assert.deepEqual(alertMsgs(onUser), [], 'users never see alerts');
    } finally {
      onAdmin.close();
      onUser.close();
    }
  });
});

const skip = PG_URL ? false : 'needs PostgreSQL (LIMEN_TEST_PG_URL)';
if (REAL && skip) throw new Error(`LIMEN_TEST_REAL=1 but the two-instance alert test cannot run: ${skip}`);

describe('alert events across two instances on one PostgreSQL', { skip, timeout: 120_000 }, () => {
  let a: TestApp;
  let b: TestApp;
  let admin: TestUser;
  before(async () => {
    a = await buildTestApp({ engine: 'postgres', env: { LIMEN_ALERT_WEBHOOK_TOKEN: TOKEN } });
    b = await buildTestApp({ shareDatabase: a.db, env: { LIMEN_ALERT_WEBHOOK_TOKEN: TOKEN } });
    admin = await newAdmin(a.app);
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('a webhook delivered to A reaches an admin connected to B, exactly once', async () => {
    const r = await login(b.app, admin.username);
    assert.equal(r.statusCode, 200, r.body);
    const onB = await openEvents(b.app, r.json<{ access_token: string }>().access_token);
    const onA = await openEvents(a.app, admin.token);
    try {
      await onB.next((m) => m.type === 'snapshot');
      await onA.next((m) => m.type === 'snapshot');
      const res = await a.app.inject({ method: 'POST', url: '/api/alerts/webhook', headers: hook, payload: amPayload([amAlert({ fingerprint: 'feed0002beef0002', alertname: 'LimenDown', severity: 'critical' })]) });
      assert.equal(res.statusCode, 200, res.body);
      const onOther = (await onB.next((m) => m.type === 'alert.firing', 10_000)) as AlertMsg;
      assert.equal(onOther.alert?.alertname, 'LimenDown');
      await onA.next((m) => m.type === 'alert.firing', 10_000);
      await new Promise((res2) => setTimeout(res2, 300));
      assert.equal(alertMsgs(onA).length, 1, 'the receiving instance delivers it once');
      assert.equal(alertMsgs(onB).length, 1, 'the other instance delivers it once');
    } finally {
      onA.close();
      onB.close();
    }
  });
});
