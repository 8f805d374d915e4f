// The Alertmanager receiver (POST /api/alerts/webhook) and the admin list (GET /api/alerts), on
// every database engine: token, validation, idempotent storage, resolve, access rules, metrics.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { DB_ENGINES } from '../helpers/db.js';
import { assertErrorBody } from '../helpers/contract.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { amAlert, amPayload } from './fixtures.js';

const TOKEN = 'alert-webhook-test-token-0123456789';
const hook = { authorization: `Bearer ${TOKEN}` };

async function metric(t: TestApp, series: string): Promise<number> {
  const res = await t.app.inject({ method: 'GET', url: '/api/metrics' });
  const line = res.body.split('\n').find((l) => l.startsWith(series + ' '));
  assert.ok(line, `series ${series} missing`);
  return Number(line.slice(series.length + 1));
}

for (const engine of DB_ENGINES) {
  describe(`alert receiver (${engine})`, () => {
    let t: TestApp;
    let admin: TestUser;
    const post = (payload: unknown, headers: Record<string, string> = hook) =>
      t.app.inject({ method: 'POST', url: '/api/alerts/webhook', headers, payload: payload as Record<string, unknown> });
    const list = (query = '') => t.app.inject({ method: 'GET', url: `/api/alerts${query}`, headers: admin.auth });

    before(async () => {
      t = await buildTestApp({ engine, env: { LIMEN_ALERT_WEBHOOK_TOKEN: TOKEN } });
      admin = await newAdmin(t.app);
    });
    after(() => t.close());

    test('a missing or wrong token is 401 in the contract shape and counts as invalid_token', async () => {
      const series = 'auth_failure_total{reason="invalid_token"}';
      const before = await metric(t, series);
      const body = amPayload([amAlert()]);
      for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }]) {
        const res = await post(body, headers);
        assertErrorBody(res, 401, 'UNAUTHORIZED');
      }
      // An admin's access token is not the webhook token either.
      assertErrorBody(await post(body, admin.auth), 401, 'UNAUTHORIZED');
      // The token is checked before the body: garbage without a token is still 401, not 400.
      assertErrorBody(await post({ nonsense: true }, {}), 401, 'UNAUTHORIZED');
      assert.equal(await metric(t, series), before + 6);
      assert.equal((await list()).json().total, 0, 'nothing stored');
    });

    test('malformed payloads are 400 VALIDATION_FAILED naming the field', async () => {
      const cases: [unknown, string][] = [
        [amPayload([amAlert()], { version: '3' }), 'version'],
        [amPayload([amAlert()], { status: 'pending' }), 'status'],
        [amPayload([amAlert()], { alerts: 'x' }), 'alerts'],
        [(() => { const p = amPayload([amAlert()]); delete p.groupKey; return p; })(), 'groupKey'],
        [(() => { const p = amPayload([amAlert()]); delete p.receiver; return p; })(), 'receiver'],
        [amPayload([amAlert({ fingerprint: '' })]), 'alerts.0.fingerprint'],
        [amPayload([amAlert(), amAlert({ startsAt: 'yesterday' })]), 'alerts.1.startsAt'],
        [amPayload([amAlert({ status: 'active' as 'firing' })]), 'alerts.0.status'],
        [amPayload([{ ...amAlert(), labels: { alertname: 5 } as unknown as Record<string, string> }], { groupLabels: {}, commonLabels: {} }), 'alerts.0.labels.alertname'],
        [(() => { const a: Partial<ReturnType<typeof amAlert>> = amAlert(); delete a.endsAt; return amPayload([a as ReturnType<typeof amAlert>]); })(), 'alerts.0.endsAt'],
      ];
      for (const [payload, field] of cases) {
        const body = assertErrorBody(await post(payload), 400, 'VALIDATION_FAILED');
        assert.equal((body.details as { field: string }).field, field, JSON.stringify(body));
      }
      const notJson = await t.app.inject({ method: 'POST', url: '/api/alerts/webhook', headers: { ...hook, 'content-type': 'application/json' }, payload: '{"version":' });
      assertErrorBody(notJson, 400, 'VALIDATION_FAILED');
      assert.equal((await list()).json().total, 0, 'nothing stored');
    });

    test('a real Alertmanager notification is stored; a resend is stored once; resolve updates the row', async () => {
      const firing = amAlert();
      const other = amAlert({ alertname: 'HighHostDiskUsage', severity: 'critical', fingerprint: 'ffee000011112222', startsAt: '2025-03-01T10:05:00Z' });
      const r1 = await post(amPayload([firing, other]));
      assert.equal(r1.statusCode, 200, r1.body);
      assert.deepEqual(r1.json(), { received: 2, inserted: 2, updated: 0 });

      const l1 = await list();
      assert.equal(l1.statusCode, 200);
      assert.equal(l1.json().total, 2);
      const [newest, older] = l1.json().items;
      assert.equal(newest.alertname, 'HighHostDiskUsage', 'newest first');
      assert.equal(older.fingerprint, firing.fingerprint);
      assert.equal(older.status, 'firing');
      assert.equal(older.severity, 'warning');
      assert.deepEqual(older.labels, firing.labels);
      assert.deepEqual(older.annotations, firing.annotations);
      assert.equal(older.starts_at, '2025-03-01T10:00:00.123Z');
      assert.equal(older.ends_at, null, 'a firing alert has no end yet');
      assert.equal(older.receiver, 'limen-warning');
      assert.ok(Date.parse(older.received_at) > 0);
      assert.equal(older.updated_at, older.received_at);

      // Alertmanager redelivers on retries and every repeat_interval.
      const r2 = await post(amPayload([firing, other]));
      assert.deepEqual(r2.json(), { received: 2, inserted: 0, updated: 0 });
      const dup = await post(amPayload([firing, firing]));
      assert.deepEqual(dup.json(), { received: 2, inserted: 0, updated: 0 }, 'duplicates inside one batch are one alert');
      assert.equal((await list()).json().total, 2);

      await new Promise((r) => setTimeout(r, 5)); // updated_at must move visibly
      const resolved = { ...firing, status: 'resolved' as const, endsAt: '2025-03-01T10:07:30.5Z' };
      const r3 = await post(amPayload([resolved]));
      assert.deepEqual(r3.json(), { received: 1, inserted: 0, updated: 1 });
      const row = (await list(`?alertname=HighAuthFailureRate`)).json().items[0];
      assert.equal(row.status, 'resolved');
      assert.equal(row.ends_at, '2025-03-01T10:07:30.500Z');
      assert.equal(row.received_at, older.received_at, 'received_at is the first delivery');
      assert.ok(Date.parse(row.updated_at) > Date.parse(row.received_at));

      // A late retry of the firing notification cannot revive a resolved alert.
      const r4 = await post(amPayload([firing]));
      assert.deepEqual(r4.json(), { received: 1, inserted: 0, updated: 0 });
      assert.equal((await list(`?alertname=HighAuthFailureRate`)).json().items[0].status, 'resolved');

      // The same alert firing again later is a new occurrence (new startsAt).
      const again = await post(amPayload([{ ...firing, startsAt: '2025-03-01T11:00:00Z' }]));
      assert.deepEqual(again.json(), { received: 1, inserted: 1, updated: 0 });
    });

    test('filters by status, severity and alertname; paginates; counts notifications', async () => {
      const firingBefore = await metric(t, 'limen_alert_notifications_total{status="firing"}');
      const tag = `Paging${Date.now()}`;
      const batch = Array.from({ length: 5 }, (_, i) =>
        amAlert({ alertname: tag, severity: i % 2 ? 'critical' : 'warning', fingerprint: `0000${tag.length}${i}abc`, startsAt: `2025-04-01T00:0${i}:00Z` }),
      );
      assert.equal((await post(amPayload(batch))).statusCode, 200);
      assert.equal(await metric(t, 'limen_alert_notifications_total{status="firing"}'), firingBefore + 5);

      const all = (await list(`?alertname=${tag}`)).json();
      assert.equal(all.total, 5);
      assert.deepEqual(all.items.map((a: { starts_at: string }) => a.starts_at.slice(14, 16)), ['04', '03', '02', '01', '00']);
      const p2 = (await list(`?alertname=${tag}&per_page=2&page=2`)).json();
      assert.equal(p2.total, 5);
      assert.deepEqual(p2.items.map((a: { starts_at: string }) => a.starts_at.slice(14, 16)), ['02', '01']);
      assert.equal((await list(`?alertname=${tag}&severity=critical`)).json().total, 2);
      assert.equal((await list(`?alertname=${tag}&status=resolved`)).json().total, 0);
      assert.ok((await list('?status=resolved')).json().items.every((a: { status: string }) => a.status === 'resolved'));
      assertErrorBody(await list('?status=pending'), 400, 'VALIDATION_FAILED');
      assertErrorBody(await list('?per_page=0'), 400, 'VALIDATION_FAILED');
    });

    test('GET /api/alerts is for admins only', async () => {
      const user = await newUser(t.app);
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/alerts', headers: user.auth }), 403, 'FORBIDDEN');
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/alerts' }), 401, 'UNAUTHORIZED');
      // The webhook token opens the receiver only, not the list.
      assertErrorBody(await t.app.inject({ method: 'GET', url: '/api/alerts', headers: hook }), 401, 'UNAUTHORIZED');
    });

    test('a large batch within the body limit is accepted', async () => {
      const many = Array.from({ length: 4000 }, (_, i) => amAlert({ alertname: 'Bulk', fingerprint: `b${i.toString(16).padStart(15, '0')}` }));
      const payload = amPayload(many);
      assert.ok(JSON.stringify(payload).length > 1024 * 1024, 'beyond the app-wide 1 MiB limit');
      const res = await post(payload);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().inserted, 4000);
      assertErrorBody(await post({ ...payload, pad: 'x'.repeat(9 * 1024 * 1024) }), 413, 'PAYLOAD_TOO_LARGE');
    });
  });
}
