// Starts a real Prometheus and Alertmanager on loopback for end-to-end alert delivery tests
// (issue 8, CONTRACT.md §8 "an alert raised through a real Prometheus and Alertmanager reaches the
// webhook receiver"). Not a test file: test/deploy/alert-delivery.test.ts and the end-to-end test
// against LIMEN's receiver use it.
//
// Both daemons are started through scripts/services/{prometheus,alertmanager}.sh with a private
// LIMEN_STATE, so several stacks can run at once and `stop()` ends exactly the recorded PIDs.
// Prometheus scrapes and evaluates every 1 s; Alertmanager uses the shipped
// deploy/alertmanager/alertmanager.yml (routes by severity, inhibition, send_resolved) with the
// webhook URL and token file replaced and group_wait 0s / group_interval 1s, so a firing alert
// reaches the webhook about 1 s after the metric changes and the resolved one about 1 s after
// it drops back.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHIPPED_RULES = path.join(REPO_ROOT, 'deploy/prometheus/limen-alerts.yml');
export const SHIPPED_ALERTMANAGER_CONFIG = path.join(REPO_ROOT, 'deploy/alertmanager/alertmanager.yml');
const PROMETHEUS_SH = path.join(REPO_ROOT, 'scripts/services/prometheus.sh');
const ALERTMANAGER_SH = path.join(REPO_ROOT, 'scripts/services/alertmanager.sh');

export interface AlertingStackOptions {
  /** Where Alertmanager POSTs notifications, e.g. http://127.0.0.1:18443/api/alerts/webhook. */
  webhookUrl: string;
  /** Bearer token Alertmanager sends (written to a 0600 credentials_file). */
  webhookToken: string;
  /** "host:port" (metrics path /api/metrics) or a full URL such as http://127.0.0.1:PORT/metrics. */
  scrapeTarget: string;
  /** Rules file to load (absolute or relative to the repo root); default the shipped rules. */
  rulesFile?: string;
  /** Bearer token for the scrape, when /api/metrics is protected. */
  scrapeToken?: string;
  /** Scrape job name; default "limen" (LimenDown watches up{job="limen"}). */
  jobName?: string;
  /** Wait until the target is scraped successfully (default true; false to test LimenDown). */
  waitForTargetUp?: boolean;
  /** How long start-up may take before it fails, default 20 s. */
  startTimeoutMs?: number;
}

export interface AlertingStack {
  prometheusUrl: string;
  alertmanagerUrl: string;
  /** Private state dir: configs, TSDB, logs, PID files. */
  stateDir: string;
  /** Alerts as Prometheus sees them (GET /api/v1/alerts): pending and firing. */
  prometheusAlerts(): Promise<PrometheusAlert[]>;
  /** Alerts as Alertmanager sees them (GET /api/v2/alerts), including suppressed ones. */
  alertmanagerAlerts(): Promise<AlertmanagerAlert[]>;
  /** The tail of both daemons' logs, for failure messages. */
  logs(): Promise<string>;
  /** Stops both daemons by PID and removes the state dir; safe to call more than once. */
  stop(): Promise<void>;
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
  value?: string;
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  fingerprint: string;
  startsAt: string;
  endsAt: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[]; silencedBy: string[] };
  receivers: { name: string }[];
}

/** True when both daemons and the check tools are installed. */
export function alertingToolsInstalled(): boolean {
  const dirs = (process.env.PATH ?? '').split(path.delimiter);
  const has = (bin: string): boolean => dirs.some((d) => d !== '' && existsSync(path.join(d, bin)));
  return has('prometheus') && has('promtool') && has('amtool') && (has('prometheus-alertmanager') || has('alertmanager'));
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

function parseTarget(target: string): { scheme: string; hostPort: string; metricsPath: string } {
  if (/^https?:\/\//.test(target)) {
    const u = new URL(target);
    return { scheme: u.protocol.replace(':', ''), hostPort: u.host, metricsPath: u.pathname + u.search };
  }
  return { scheme: 'http', hostPort: target, metricsPath: '/api/metrics' };
}

/**
 * The shipped Alertmanager config with the receiver URL, the token file and the timings replaced.
 * Throws when the shipped file no longer has the shape this relies on.
 */
export function deriveAlertmanagerConfig(shipped: string, webhookUrl: string, tokenFile: string): string {
  // Replaces the value of every `key:` line (the key and its indentation stay).
  const setAll = (text: string, key: string, value: string): string => {
    const re = new RegExp(`^(\\s*(?:- )?${key}:\\s*).*$`, 'gm');
    if (!re.test(text)) throw new Error(`deploy/alertmanager/alertmanager.yml has no "${key}:" line any more`);
    return text.replace(re, (_line, prefix: string) => prefix + value);
  };
  let cfg = shipped;
  cfg = setAll(cfg, 'url', JSON.stringify(webhookUrl));
  cfg = setAll(cfg, 'credentials_file', JSON.stringify(tokenFile));
  cfg = setAll(cfg, 'group_wait', '0s');
  cfg = setAll(cfg, 'group_interval', '1s');
  cfg = setAll(cfg, 'repeat_interval', '1h');
  return cfg;
}

/**
 * The shipped rules made fast for end-to-end tests: every range window (e.g. `[5m]`) becomes
 * `window` and every `for:` becomes `forDuration`, thresholds unchanged. With the default 15s
 * window a burst of ~10 failed logins within a few seconds crosses HighAuthFailureRate (> 0.2/s)
 * and the alert resolves about 15 s after the burst ends.
 */
export function deriveFastRules(shipped: string, opts: { window?: string; forDuration?: string } = {}): string {
  const window = opts.window ?? '15s';
  const forDuration = opts.forDuration ?? '0s';
  return shipped.replace(/\[\d+[smhd]\]/g, `[${window}]`).replace(/^(\s*for:\s*).*$/gm, (_l, prefix: string) => prefix + forDuration);
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.json();
}

async function pollUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
}

// Safety net: when the test process exits without stop() (a crash), end the daemons by PID.
const liveStacks = new Set<string>();
let exitHookInstalled = false;
function killRecordedPids(stateDir: string): void {
  for (const f of ['prometheus/prometheus.pid', 'alertmanager/alertmanager.pid']) {
    try {
      const pid = Number(readFileSync(path.join(stateDir, f), 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // no PID file or already gone
    }
  }
}
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const dir of liveStacks) {
      killRecordedPids(dir);
      if (!process.env.LIMEN_KEEP_TEST_STATE) rmSync(dir, { recursive: true, force: true });
    }
  };
  process.on('exit', killAll);
  // 'exit' does not run on a signal; end the daemons there too, then keep the default outcome.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

export async function startAlertingStack(opts: AlertingStackOptions): Promise<AlertingStack> {
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  const parent = process.env.LIMEN_STATE ?? os.tmpdir();
  await mkdir(parent, { recursive: true });
  const stateDir = await mkdtemp(path.join(parent, 'alerting-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LIMEN_STATE: stateDir,
    // Resend firing alerts every second, so one lost send cannot stall a test for a minute.
    LIMEN_PROMETHEUS_ARGS: '--rules.alert.resend-delay=1s',
    WAIT_SECONDS: String(Math.ceil(timeoutMs / 1000)),
  };
  liveStacks.add(stateDir);
  installExitHook();

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const stopEnv = { ...env };
    await Promise.allSettled([
      run('bash', [PROMETHEUS_SH, 'stop'], stopEnv, 20_000),
      run('bash', [ALERTMANAGER_SH, 'stop'], stopEnv, 20_000),
    ]);
    killRecordedPids(stateDir); // only if the scripts could not (PID files are gone otherwise)
    liveStacks.delete(stateDir);
    if (!process.env.LIMEN_KEEP_TEST_STATE) await rm(stateDir, { recursive: true, force: true });
  };
  const logs = async (): Promise<string> => {
    const tail = async (f: string): Promise<string> => {
      try {
        return (await readFile(path.join(stateDir, f), 'utf8')).split('\n').slice(-30).join('\n');
      } catch {
        return '(no log)';
      }
    };
    return `--- prometheus.log\n${await tail('prometheus/prometheus.log')}\n--- alertmanager.log\n${await tail('alertmanager/alertmanager.log')}`;
  };

  try {
    const [promPort, amPort] = [await freePort(), await freePort()];
    const tokenFile = path.join(stateDir, 'alert-webhook-token');
    await writeFile(tokenFile, opts.webhookToken, { mode: 0o600 });

    const amConfigFile = path.join(stateDir, 'alertmanager.yml');
    const shipped = await readFile(SHIPPED_ALERTMANAGER_CONFIG, 'utf8');
    await writeFile(amConfigFile, deriveAlertmanagerConfig(shipped, opts.webhookUrl, tokenFile));

    const target = parseTarget(opts.scrapeTarget);
    const rulesFile = path.resolve(REPO_ROOT, opts.rulesFile ?? SHIPPED_RULES);
    const scrape: Record<string, unknown> = {
      job_name: opts.jobName ?? 'limen',
      scheme: target.scheme,
      metrics_path: target.metricsPath,
      static_configs: [{ targets: [target.hostPort] }],
    };
    if (opts.scrapeToken) {
      const scrapeTokenFile = path.join(stateDir, 'scrape-token');
      await writeFile(scrapeTokenFile, opts.scrapeToken, { mode: 0o600 });
      scrape.authorization = { type: 'Bearer', credentials_file: scrapeTokenFile };
    }
    // JSON is YAML: no serializer needed.
    const promConfig = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [rulesFile],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
      scrape_configs: [scrape],
    };
    const promConfigFile = path.join(stateDir, 'prometheus.yml');
    await writeFile(promConfigFile, JSON.stringify(promConfig, null, 2));

    const [alertmanagerUrl, prometheusUrl] = await Promise.all([
      run('bash', [ALERTMANAGER_SH, 'start', amConfigFile, String(amPort)], env, timeoutMs),
      run('bash', [PROMETHEUS_SH, 'start', promConfigFile, String(promPort)], env, timeoutMs),
    ]);

    // Discovery is throttled to 5 s: poll instead of sleeping.
    await pollUntil('Prometheus to discover Alertmanager', timeoutMs, async () => {
      const body = (await getJson(`${prometheusUrl}/api/v1/alertmanagers`)) as { data: { activeAlertmanagers: unknown[] } };
      return body.data.activeAlertmanagers.length > 0;
    });
    if (opts.waitForTargetUp ?? true) {
      await pollUntil(`target ${opts.scrapeTarget} to be scraped ("health":"up")`, timeoutMs, async () => {
        const body = (await getJson(`${prometheusUrl}/api/v1/targets?state=active`)) as {
          data: { activeTargets: { health: string; lastError: string }[] };
        };
        return body.data.activeTargets.some((t) => t.health === 'up');
      });
    }

    return {
      prometheusUrl,
      alertmanagerUrl,
      stateDir,
      prometheusAlerts: async () => ((await getJson(`${prometheusUrl}/api/v1/alerts`)) as { data: { alerts: PrometheusAlert[] } }).data.alerts,
      alertmanagerAlerts: async () => (await getJson(`${alertmanagerUrl}/api/v2/alerts`)) as AlertmanagerAlert[],
      logs,
      stop,
    };
  } catch (err) {
    const detail = await logs();
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${detail}`);
  }
}
