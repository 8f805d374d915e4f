// The shipped alerting files (CONTRACT.md §7, §8): promtool and amtool accept them, the unit
// tests pass, every contract alert exists with severity, summary, description and a runbook that
// exists, every alert has a firing and a non-firing unit test, and Alertmanager routes by severity
// to LIMEN's receiver with inhibition and resolved notifications.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { alertingToolsInstalled, deriveAlertmanagerConfig, deriveFastRules, REPO_ROOT } from './alert-delivery-harness.js';
import { parseYaml, type YamlValue } from './yaml-subset.js';

const RULES = path.join(REPO_ROOT, 'deploy/prometheus/limen-alerts.yml');
const RULE_TESTS = path.join(REPO_ROOT, 'deploy/prometheus/limen-alerts.test.yml');
const PROM_CONFIG = path.join(REPO_ROOT, 'deploy/prometheus/prometheus.yml');
const AM_CONFIG = path.join(REPO_ROOT, 'deploy/alertmanager/alertmanager.yml');
const RUNBOOKS = path.join(REPO_ROOT, 'docs/runbooks');

/** CONTRACT.md §7 (plus DatabaseDown) and the §6 metric each one must watch. */
const CONTRACT_ALERTS: Record<string, string> = {
  High5xxErrorRate: 'http_requests_total',
  HighAuthFailureRate: 'auth_failure_total',
  HighConsoleSessionCount: 'console_active_sessions',
  HighHostCPUUsage: 'host_cpu_usage_percent',
  HighHostMemoryUsage: 'host_memory_usage_percent',
  HighHostDiskUsage: 'host_disk_usage_percent',
  HighQuotaDenialRate: 'vm_quota_denied_total',
  LimenDown: 'up{job="limen"}',
  LibvirtDisconnected: 'libvirt_connection_status',
  DatabaseDown: 'database_up',
};

const REAL = process.env.LIMEN_TEST_REAL === '1';
const installed = alertingToolsInstalled();
const needsTools = !installed && !REAL ? 'promtool/amtool not installed (set LIMEN_TEST_REAL=1 to fail instead)' : false;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], cwd = REPO_ROOT): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? err.message : stderr });
    });
  });
}
function assertOk(r: RunResult, what: string): void {
  assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
}

type Map = Record<string, YamlValue>;
const asMap = (v: YamlValue | undefined, what: string): Map => {
  assert.ok(v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v), `${what} must be a mapping`);
  return v;
};
const asList = (v: YamlValue | undefined, what: string): YamlValue[] => {
  assert.ok(Array.isArray(v), `${what} must be a list`);
  return v;
};
const asString = (v: YamlValue | undefined, what: string): string => {
  assert.equal(typeof v, 'string', `${what} must be a string, got ${JSON.stringify(v)}`);
  return v as string;
};

interface Rule {
  alert: string;
  expr: string;
  labels: Map;
  annotations: Map;
}
function loadRules(): Rule[] {
  const doc = asMap(parseYaml(readFileSync(RULES, 'utf8')), 'rules file');
  const rules: Rule[] = [];
  for (const g of asList(doc.groups, 'groups')) {
    for (const r of asList(asMap(g, 'group').rules, 'rules')) {
      const rule = asMap(r, 'rule');
      const alert = asString(rule.alert, `alert name (only alerting rules expected) of ${JSON.stringify(rule)}`);
      rules.push({
        alert,
        expr: asString(rule.expr, `${alert} expr`),
        labels: asMap(rule.labels, `${alert} labels`),
        annotations: asMap(rule.annotations, `${alert} annotations`),
      });
    }
  }
  return rules;
}

test('promtool check rules accepts limen-alerts.yml', { skip: needsTools }, async () => {
  assert.ok(installed, 'LIMEN_TEST_REAL=1 but promtool/amtool/prometheus/alertmanager is missing');
  const r = await run('promtool', ['check', 'rules', RULES]);
  assertOk(r, 'promtool check rules');
  // Cross-check the YAML reader used below against promtool's own count.
  const m = /SUCCESS: (\d+) rules found/.exec(r.stdout + r.stderr);
  assert.ok(m, r.stdout);
  assert.equal(Number(m[1]), loadRules().length);
});

test('the fast variant of the rules for end-to-end tests is valid', { skip: needsTools }, async () => {
  assert.ok(installed);
  const fast = deriveFastRules(readFileSync(RULES, 'utf8'));
  assert.doesNotMatch(fast, /\[5m\]/);
  assert.doesNotMatch(fast, /for: (?!0s)/);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'limen-fast-rules-'));
  try {
    await writeFile(path.join(dir, 'rules.yml'), fast);
    assertOk(await run('promtool', ['check', 'rules', path.join(dir, 'rules.yml')]), 'promtool check rules (fast)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('promtool test rules passes limen-alerts.test.yml', { skip: needsTools }, async () => {
  assert.ok(installed);
  // promtool resolves rule_files relative to the test file: run it in that folder.
  const r = await run('promtool', ['test', 'rules', path.basename(RULE_TESTS)], path.dirname(RULE_TESTS));
  assertOk(r, 'promtool test rules');
  assert.match(r.stdout + r.stderr, /SUCCESS/);
});

test('promtool check config accepts the example prometheus.yml', { skip: needsTools }, async () => {
  assert.ok(installed);
  assertOk(await run('promtool', ['check', 'config', PROM_CONFIG]), 'promtool check config');
});

test('amtool check-config accepts alertmanager.yml and the test-harness variant of it', { skip: needsTools }, async () => {
  assert.ok(installed);
  assertOk(await run('amtool', ['check-config', AM_CONFIG]), 'amtool check-config');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'limen-amtool-'));
  try {
    const token = path.join(dir, 'token');
    await writeFile(token, 'x', { mode: 0o600 });
    const derived = path.join(dir, 'alertmanager.yml');
    await writeFile(derived, deriveAlertmanagerConfig(readFileSync(AM_CONFIG, 'utf8'), 'http://127.0.0.1:1/hook', token));
    assertOk(await run('amtool', ['check-config', derived]), 'amtool check-config (derived)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('amtool routes each severity to its LIMEN receiver', { skip: needsTools }, async () => {
  assert.ok(installed);
  for (const [labels, receiver] of [
    [['alertname=HighHostDiskUsage', 'instance=limen:18443', 'severity=critical'], 'limen-critical'],
    [['alertname=HighHostDiskUsage', 'instance=limen:18443', 'severity=warning'], 'limen-warning'],
    [['alertname=SomethingElse'], 'limen-warning'],
  ] as const) {
    const r = await run('amtool', ['config', 'routes', 'test', `--config.file=${AM_CONFIG}`, ...labels]);
    assertOk(r, `amtool config routes test ${labels.join(' ')}`);
    assert.equal(r.stdout.trim(), receiver, labels.join(' '));
  }
});

test('every contract alert exists with severity, summary, description and an existing runbook', () => {
  const rules = loadRules();
  for (const [alert, metric] of Object.entries(CONTRACT_ALERTS)) {
    const mine = rules.filter((r) => r.alert === alert);
    assert.ok(mine.length > 0, `alert ${alert} missing from limen-alerts.yml`);
    for (const r of mine) assert.ok(r.expr.includes(metric), `${alert} must watch ${metric}: ${r.expr}`);
    const severities = mine.map((r) => r.labels.severity);
    assert.equal(new Set(severities).size, severities.length, `${alert}: at most one rule per severity`);
  }
  for (const r of rules) {
    const what = `${r.alert} (${JSON.stringify(r.labels.severity)})`;
    assert.ok(r.labels.severity === 'warning' || r.labels.severity === 'critical', `${what}: severity must be warning or critical`);
    for (const key of ['summary', 'description', 'runbook']) {
      const v = r.annotations[key];
      assert.ok(typeof v === 'string' && v.trim().length > 0, `${what}: annotation ${key} missing`);
    }
    const runbook = r.annotations.runbook as string;
    assert.equal(runbook, `docs/runbooks/${r.alert}.md`, `${what}: runbook path`);
    assert.ok(existsSync(path.join(REPO_ROOT, runbook)), `${what}: ${runbook} does not exist`);
  }
});

test('every runbook states its threshold and is listed in docs/runbooks/README.md', () => {
  const index = readFileSync(path.join(RUNBOOKS, 'README.md'), 'utf8');
  for (const alert of new Set(loadRules().map((r) => r.alert))) {
    const text = readFileSync(path.join(RUNBOOKS, `${alert}.md`), 'utf8');
    assert.match(text, new RegExp(`^# ${alert}\\b`, 'm'), `${alert}.md title`);
    for (const section of ['Threshold', 'Confirm', 'What to do']) {
      assert.match(text, new RegExp(`^## ${section}`, 'm'), `${alert}.md has no "## ${section}" section`);
    }
    assert.ok(index.includes(`(${alert}.md)`), `README.md does not link ${alert}.md`);
  }
});

test('every alert has a unit test that fires it and one that must stay silent', () => {
  const doc = asMap(parseYaml(readFileSync(RULE_TESTS, 'utf8')), 'test file');
  assert.deepEqual(doc.rule_files, [path.basename(RULES)]);
  const firing = new Set<string>();
  const silent = new Set<string>();
  const severitiesFired = new Map<string, Set<string>>();
  for (const t of asList(doc.tests, 'tests')) {
    for (const c of asList(asMap(t, 'test').alert_rule_test ?? [], 'alert_rule_test')) {
      const tc = asMap(c, 'alert_rule_test entry');
      const name = asString(tc.alertname, 'alertname');
      const exp = asList(tc.exp_alerts ?? [], 'exp_alerts');
      if (exp.length === 0) silent.add(name);
      else firing.add(name);
      for (const e of exp) {
        const sev = asString(asMap(asMap(e, 'exp_alert').exp_labels, 'exp_labels').severity, `${name} exp_labels.severity`);
        severitiesFired.set(name, (severitiesFired.get(name) ?? new Set()).add(sev));
      }
    }
  }
  for (const r of loadRules()) {
    assert.ok(firing.has(r.alert), `no unit test fires ${r.alert}`);
    assert.ok(silent.has(r.alert), `no unit test shows ${r.alert} silent`);
    const sev = asString(r.labels.severity, `${r.alert} severity`);
    assert.ok(severitiesFired.get(r.alert)?.has(sev), `no unit test fires ${r.alert} at severity ${sev}`);
  }
});

test('alertmanager.yml routes by severity to LIMEN, groups, inhibits and sends resolved', () => {
  const cfg = asMap(parseYaml(readFileSync(AM_CONFIG, 'utf8')), 'alertmanager.yml');
  const route = asMap(cfg.route, 'route');
  assert.deepEqual(route.group_by, ['alertname', 'instance']);
  const routes = asList(route.routes, 'routes').map((r) => asMap(r, 'route'));
  const bySeverity = (sev: string): Map => {
    const r = routes.find((x) => Array.isArray(x.matchers) && x.matchers.includes(`severity="${sev}"`));
    assert.ok(r, `no route for severity ${sev}`);
    return r;
  };
  const seconds = (d: YamlValue | undefined): number => {
    const m = /^(\d+)(s|m|h)$/.exec(asString(d, 'duration'));
    assert.ok(m, `duration ${JSON.stringify(d)}`);
    return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
  };
  const crit = bySeverity('critical');
  const warn = bySeverity('warning');
  assert.ok(seconds(crit.group_wait) < seconds(warn.group_wait), 'critical waits less than warning');
  assert.ok(seconds(crit.repeat_interval) < seconds(warn.repeat_interval), 'critical repeats more often than warning');

  const inhibit = asList(cfg.inhibit_rules, 'inhibit_rules').map((r) => asMap(r, 'inhibit rule'));
  assert.ok(
    inhibit.some(
      (r) =>
        JSON.stringify(r.source_matchers) === JSON.stringify(['severity="critical"']) &&
        JSON.stringify(r.target_matchers) === JSON.stringify(['severity="warning"']) &&
        JSON.stringify(r.equal) === JSON.stringify(['alertname', 'instance']),
    ),
    'critical must inhibit warning with equal [alertname, instance]',
  );

  const receivers = asList(cfg.receivers, 'receivers').map((r) => asMap(r, 'receiver'));
  for (const name of [crit.receiver, warn.receiver, route.receiver].map((n) => asString(n, 'receiver'))) {
    const rcv = receivers.find((r) => r.name === name);
    assert.ok(rcv, `receiver ${name} missing`);
    const hooks = asList(rcv.webhook_configs, `${name} webhook_configs`).map((h) => asMap(h, 'webhook'));
    assert.ok(hooks.length > 0);
    for (const h of hooks) {
      assert.equal(h.url, 'http://127.0.0.1:18443/api/alerts/webhook');
      assert.equal(h.send_resolved, 'true');
      const auth = asMap(asMap(h.http_config, 'http_config').authorization, 'authorization');
      assert.equal(auth.type, 'Bearer');
      assert.equal(auth.credentials_file, '/etc/limen/alert-webhook-token');
    }
  }
});
