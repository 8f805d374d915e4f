// Proves the alert delivery chain with real daemons, independent of LIMEN itself: a tiny HTTP
// server exposes a metric and a webhook; a rule fires on the metric; Prometheus evaluates it and
// Alertmanager (the shipped routing config, see alert-delivery-harness.ts) delivers firing and
// resolved notifications with the bearer token. The shipped inhibit rule is exercised too: a
// warning of the same alertname stays suppressed while the critical one fires.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { alertingToolsInstalled, startAlertingStack, type AlertingStack } from './alert-delivery-harness.js';

interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  fingerprint: string;
}
interface WebhookPayload {
  version: string;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  alerts: WebhookAlert[];
}
interface Delivery {
  at: number;
  authorization: string | undefined;
  payload: WebhookPayload;
}

const REAL = process.env.LIMEN_TEST_REAL === '1';
const installed = alertingToolsInstalled();
const skip = !installed && !REAL ? 'prometheus/alertmanager not installed (set LIMEN_TEST_REAL=1 to fail instead)' : false;

const TOKEN = `test-token-${process.pid}-${Date.now()}`;
const RULES = `groups:
  - name: delivery-test
    rules:
      - alert: LimenTestTrigger
        expr: limen_test_trigger > 0
        labels:
          severity: critical
        annotations:
          summary: test trigger is {{ $value }}
          description: fires while limen_test_trigger is above 0
          runbook: docs/runbooks/README.md
      # Same alertname, warning level, later: must be inhibited by the critical one.
      - alert: LimenTestTrigger
        expr: limen_test_trigger > 0
        for: 2s
        labels:
          severity: warning
        annotations:
          summary: test trigger is {{ $value }} (warning)
          description: fires while limen_test_trigger is above 0
          runbook: docs/runbooks/README.md
`;

let trigger = 0;
const deliveries: Delivery[] = [];
let server: Server | undefined;
let stack: AlertingStack | undefined;
let tmp: string | undefined;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  const logs = stack ? await stack.logs() : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; deliveries: ${JSON.stringify(deliveries)}\n${logs}`);
}

const delivery = (status: 'firing' | 'resolved', severity: string) => (): Delivery | undefined =>
  deliveries.find((d) => d.payload.alerts.some((a) => a.status === status && a.labels.alertname === 'LimenTestTrigger' && a.labels.severity === severity));

before(async () => {
  if (!installed) return; // skipped, or the test fails on the assertion below (LIMEN_TEST_REAL=1)
  server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(`# HELP limen_test_trigger Test switch for the alert delivery test.\n# TYPE limen_test_trigger gauge\nlimen_test_trigger ${trigger}\n`);
        return;
      }
      if (req.method === 'POST' && req.url === '/webhook') {
        const body = await readBody(req);
        deliveries.push({ at: Date.now(), authorization: req.headers.authorization, payload: JSON.parse(body) as WebhookPayload });
        res.writeHead(200).end();
        return;
      }
      res.writeHead(404).end();
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  const base = `http://127.0.0.1:${addr.port}`;

  tmp = await mkdtemp(path.join(os.tmpdir(), 'limen-alert-delivery-'));
  const rulesFile = path.join(tmp, 'rules.yml');
  await writeFile(rulesFile, RULES);

  const t0 = Date.now();
  stack = await startAlertingStack({
    webhookUrl: `${base}/webhook`,
    webhookToken: TOKEN,
    scrapeTarget: `${base}/metrics`,
    rulesFile,
  });
  console.log(`# alerting stack ready in ${Date.now() - t0} ms (prometheus ${stack.prometheusUrl}, alertmanager ${stack.alertmanagerUrl})`);
});

after(async () => {
  await stack?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('an alert fires through real Prometheus and Alertmanager, reaches the webhook with the token, then resolves', { skip, timeout: 30_000 }, async () => {
  assert.ok(installed, 'LIMEN_TEST_REAL=1 but prometheus, promtool, amtool or alertmanager is not installed');
  assert.ok(stack);
  assert.equal(deliveries.length, 0, 'nothing fires while the trigger is 0');

  trigger = 1;
  const raisedAt = Date.now();
  const firing = await waitFor('the firing notification', 15_000, delivery('firing', 'critical'));
  const firingMs = firing.at - raisedAt;
  console.log(`# metric raised -> firing webhook: ${firingMs} ms`);

  assert.equal(firing.authorization, `Bearer ${TOKEN}`);
  assert.equal(firing.payload.version, '4');
  assert.equal(firing.payload.status, 'firing');
  assert.equal(firing.payload.receiver, 'limen-critical', 'critical alerts take the critical route');
  assert.equal(firing.payload.groupLabels.alertname, 'LimenTestTrigger');
  const alert = firing.payload.alerts.find((a) => a.labels.severity === 'critical');
  assert.ok(alert);
  assert.equal(alert.labels.job, 'limen');
  assert.equal(alert.annotations.summary, 'test trigger is 1');
  assert.equal(alert.annotations.runbook, 'docs/runbooks/README.md');
  assert.match(alert.fingerprint, /^[0-9a-f]{16}$/);
  assert.ok(!Number.isNaN(Date.parse(alert.startsAt)));

  // The warning of the same alertname becomes active in Alertmanager but stays inhibited.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const warning = (await stack.alertmanagerAlerts()).find((a) => a.labels.alertname === 'LimenTestTrigger' && a.labels.severity === 'warning');
    if (warning) {
      assert.equal(warning.status.state, 'suppressed', 'the critical alert inhibits the warning of the same alertname and instance');
      assert.ok(warning.status.inhibitedBy.length > 0);
      break;
    }
    assert.ok(Date.now() < deadline, `the warning alert never reached Alertmanager\n${await stack.logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1500)); // more than group_interval: a notification would have gone out
  assert.equal(delivery('firing', 'warning')(), undefined, 'no notification for the inhibited warning');

  trigger = 0;
  const droppedAt = Date.now();
  const resolved = await waitFor('the resolved notification', 15_000, delivery('resolved', 'critical'));
  console.log(`# metric dropped -> resolved webhook: ${resolved.at - droppedAt} ms`);
  assert.equal(resolved.authorization, `Bearer ${TOKEN}`);
  assert.equal(resolved.payload.version, '4');
  assert.equal(resolved.payload.status, 'resolved');
  const res = resolved.payload.alerts.find((a) => a.labels.severity === 'critical');
  assert.ok(res);
  assert.equal(res.fingerprint, alert.fingerprint, 'the resolved notification names the same alert');
  assert.ok(Date.parse(res.endsAt) >= Date.parse(res.startsAt));

  assert.ok(firingMs < 10_000, `firing took ${firingMs} ms`);
});
