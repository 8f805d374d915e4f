// Readiness items for the shipped alerting files and the real delivery chain: promtool and amtool
// checks, then a private Prometheus + Alertmanager (scripts/services/*.sh, loopback, stopped by
// PID) scraping the instance under test and delivering to its own webhook receiver. The shipped
// rules are used with short windows (same thresholds), so a burst of failed logins fires
// HighAuthFailureRate within seconds.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { childProcessEnv, projectRoot } from '../../config/runtime.js';
import { freePort } from '../backups/scratch-instance.js';
import { api, poll } from './client.js';
import { failedLogins, type Evidence, type Target } from './items.js';

const RULES = join(projectRoot, 'deploy/prometheus/limen-alerts.yml');
const RULES_TEST = join(projectRoot, 'deploy/prometheus/limen-alerts.test.yml');
const AM_CONFIG = join(projectRoot, 'deploy/alertmanager/alertmanager.yml');

function which(bin: string): string | undefined {
  for (const d of (childProcessEnv().PATH ?? '').split(delimiter)) if (d && existsSync(join(d, bin))) return join(d, bin);
  return undefined;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env ?? childProcessEnv(), timeout: opts.timeoutMs ?? 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}`.trim() });
    });
  });
}

export async function promtoolItem(): Promise<Evidence> {
  const promtool = which('promtool');
  if (!promtool) throw new Error('promtool not installed (apt-get install prometheus)');
  const check = await run(promtool, ['check', 'rules', RULES]);
  // promtool resolves rule_files relative to the test file: run it in that folder.
  const test = await run(promtool, ['test', 'rules', 'limen-alerts.test.yml'], { cwd: join(projectRoot, 'deploy/prometheus') });
  const evidence = { 'promtool check rules': { exit: check.code, output: check.out.slice(-800) }, 'promtool test rules': { exit: test.code, output: test.out.slice(-800) } };
  if (check.code !== 0 || test.code !== 0 || !existsSync(RULES_TEST)) throw new Error(JSON.stringify(evidence));
  return evidence;
}

export async function amtoolItem(): Promise<Evidence> {
  const amtool = which('amtool');
  if (!amtool) throw new Error('amtool not installed (apt-get install prometheus-alertmanager)');
  const r = await run(amtool, ['check-config', AM_CONFIG]);
  if (r.code !== 0) throw new Error(`amtool check-config exit ${r.code}: ${r.out.slice(-800)}`);
  return { command: `amtool check-config ${AM_CONFIG}`, exit: r.code, output: r.out.slice(-800) };
}

function setAll(text: string, key: string, value: string): string {
  return text.replace(new RegExp(`^(\\s*(?:- )?${key}:\\s*).*$`, 'gm'), (_l, prefix: string) => prefix + value);
}

export async function alertDeliveryItem(t: Target, webhookToken: string): Promise<Evidence> {
  if (!which('prometheus') || !(which('prometheus-alertmanager') ?? which('alertmanager'))) throw new Error('prometheus / alertmanager not installed');
  const probe = await api(t.url, 'GET', '/api/alerts', { token: t.adminToken });
  if (probe.status !== 200) throw new Error(`not implemented: GET /api/alerts answered ${probe.status}`);
  const state = await mkdtemp(join(tmpdir(), 'limen-readiness-alerting-'));
  const env = childProcessEnv({ LIMEN_STATE: state, LIMEN_PROMETHEUS_ARGS: '--rules.alert.resend-delay=1s', WAIT_SECONDS: '30' });
  const script = (name: string): string => join(projectRoot, 'scripts/services', name);
  const started = Date.now();
  try {
    const [promPort, amPort] = [await freePort(), await freePort()];
    const tokenFile = join(state, 'webhook-token');
    await writeFile(tokenFile, webhookToken, { mode: 0o600 });
    let am = await readFile(AM_CONFIG, 'utf8');
    am = setAll(setAll(setAll(setAll(setAll(am, 'url', JSON.stringify(`${t.url}/api/alerts/webhook`)), 'credentials_file', JSON.stringify(tokenFile)), 'group_wait', '0s'), 'group_interval', '1s'), 'repeat_interval', '1h');
    await writeFile(join(state, 'alertmanager.yml'), am);
    const rules = (await readFile(RULES, 'utf8')).replace(/\[\d+[smhd]\]/g, '[15s]').replace(/^(\s*for:\s*).*$/gm, (_l, p: string) => `${p}0s`);
    await writeFile(join(state, 'rules.yml'), rules);
    const prom = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [join(state, 'rules.yml')],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
      scrape_configs: [{ job_name: 'limen', metrics_path: '/api/metrics', static_configs: [{ targets: [new URL(t.url).host] }] }],
    };
    await writeFile(join(state, 'prometheus.yml'), JSON.stringify(prom));
    const a = await run('bash', [script('alertmanager.sh'), 'start', join(state, 'alertmanager.yml'), String(amPort)], { env });
    const p = await run('bash', [script('prometheus.sh'), 'start', join(state, 'prometheus.yml'), String(promPort)], { env });
    if (a.code !== 0 || p.code !== 0) throw new Error(`starting the stack failed: ${a.out} ${p.out}`);
    const promUrl = `http://127.0.0.1:${promPort}`;
    await poll('Prometheus to scrape the instance', 30_000, async () => {
      const r = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
      return r.data.activeTargets.some((x) => x.health === 'up') ? true : undefined;
    });
    await poll('Prometheus to find Alertmanager', 30_000, async () => {
      const r = (await (await fetch(`${promUrl}/api/v1/alertmanagers`)).json()) as { data: { activeAlertmanagers: unknown[] } };
      return r.data.activeAlertmanagers.length > 0 ? true : undefined;
    });
    const burstAt = Date.now();
    const codes = await failedLogins(t.url, 15);
    const alert = await poll('HighAuthFailureRate to reach the webhook receiver', 60_000, async () => {
      const r = await api(t.url, 'GET', '/api/alerts?alertname=HighAuthFailureRate', { token: t.adminToken });
      const items = (r.body.items ?? []) as Record<string, unknown>[];
      return items.find((i) => i.alertname === 'HighAuthFailureRate');
    });
    return { prometheus: promUrl, alertmanager: `http://127.0.0.1:${amPort}`, failed_logins: codes.length, delivered_after_ms: Date.now() - burstAt, received: alert, total_ms: Date.now() - started };
  } finally {
    await run('bash', [script('prometheus.sh'), 'stop'], { env }).catch(() => undefined);
    await run('bash', [script('alertmanager.sh'), 'stop'], { env }).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
  }
}
