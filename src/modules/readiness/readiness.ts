// `limen readiness`: every item of CONTRACT.md §8, run for real against a private LIMEN instance
// (own data dir and embedded database, the configured libvirt host), each timed, each PASS only
// when it was observed. The report is written as readiness.json + readiness.md.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../config/config.js';
import { runDrill } from '../backups/drill.js';
import { takeBackup } from '../backups/local-backup.js';
import { startScratchInstance, type ScratchInstance } from '../backups/scratch-instance.js';
import { api } from './client.js';
import { alertDeliveryItem, amtoolItem, promtoolItem } from './alerting.js';
import { authFailureItem, consoleItem, deleteVm, healthItem, hostMetricsItem, hostSample, metricsItem, quotaItem, type Evidence, type Target } from './items.js';

export interface ReadinessItem {
  id: string;
  title: string;
  status: 'PASS' | 'FAIL';
  evidence: Evidence;
  duration_ms: number;
}

export interface ReadinessReport {
  generated_at: string;
  ok: boolean;
  duration_ms: number;
  instance: { url: string; libvirt: string; version: string } | null;
  items: ReadinessItem[];
}

/** §8 in contract order: id, title. */
export const ITEMS: [string, string][] = [
  ['health', 'health ok with db and libvirt connected'],
  ['metrics', 'metrics endpoint serves every §6 name'],
  ['quota-denial-metric', 'quota denial increments vm_quota_denied_total'],
  ['auth-failure-metric', 'a burst of failed logins increments auth_failure_total'],
  ['host-metrics', 'host metrics present and moving'],
  ['console-sessions-metric', 'console session raises then lowers console_active_sessions'],
  ['prometheus-rules', 'rules pass promtool check rules and promtool test rules'],
  ['alertmanager-config', 'Alertmanager config passes amtool check-config'],
  ['alert-delivery', 'an alert raised through a real Prometheus and Alertmanager reaches the webhook receiver'],
  ['restore-drill', 'restore drill: backup → restore into scratch → health, login, VM list identical, console handshake'],
];

export interface ReadinessOptions {
  config: Config;
  onItem?: (item: ReadinessItem) => void;
}

export async function runReadiness(opts: ReadinessOptions): Promise<ReadinessReport> {
  const started = Date.now();
  const results = new Map<string, ReadinessItem>();
  const title = new Map(ITEMS);
  const item = async (id: string, fn: () => Promise<Evidence>): Promise<void> => {
    const t = Date.now();
    let r: ReadinessItem;
    try {
      r = { id, title: title.get(id)!, status: 'PASS', evidence: await fn(), duration_ms: Date.now() - t };
    } catch (err) {
      r = { id, title: title.get(id)!, status: 'FAIL', evidence: { error: (err as Error).message }, duration_ms: Date.now() - t };
    }
    results.set(id, r);
    opts.onItem?.(r);
  };

  const dataDir = await mkdtemp(join(tmpdir(), 'limen-readiness-'));
  await chmod(dataDir, 0o755); // libvirt's QEMU user must reach the VM disks below it
  const adminPassword = randomBytes(18).toString('base64url');
  const webhookToken = randomBytes(24).toString('base64url');
  const libvirt = opts.config.libvirtUri;
  let instance: ScratchInstance | undefined;
  let target: Target | undefined;
  const createdVms: string[] = [];
  let info: ReadinessReport['instance'] = null;
  try {
    await item('health', async () => {
      instance = await startScratchInstance({
        dataDir,
        libvirtUri: libvirt,
        env: { LIMEN_ADMIN_PASSWORD: adminPassword, LIMEN_ALERT_WEBHOOK_TOKEN: webhookToken, LIMEN_VM_ACCEL: opts.config.vmAccel },
      });
      info = { url: instance.url, libvirt, version: opts.config.version };
      return healthItem({ url: instance.url, adminToken: '' });
    });
    if (instance) {
      const login = await api(instance.url, 'POST', '/api/auth/login', { body: { username: opts.config.adminUser, password: adminPassword } });
      const t: Target = { url: instance.url, adminToken: typeof login.body.access_token === 'string' ? login.body.access_token : '' };
      target = t;
      const firstHost = await hostSample(t.url).catch(() => ({ at: Date.now(), values: [NaN, NaN, NaN] }));
      await item('metrics', () => metricsItem(t));
      await item('quota-denial-metric', () => quotaItem(t));
      await item('auth-failure-metric', () => authFailureItem(t));
      await item('console-sessions-metric', () => consoleItem(t, (u) => createdVms.push(u)));
      await item('prometheus-rules', () => promtoolItem());
      await item('alertmanager-config', () => amtoolItem());
      await item('alert-delivery', () => alertDeliveryItem(t, webhookToken));
      await item('host-metrics', () => hostMetricsItem(t, firstHost));
      await item('restore-drill', async () => {
        const scratchConfig = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: libvirt }, version: opts.config.version, commit: opts.config.commit });
        const d = await runDrill({ config: scratchConfig, takeBackup: () => takeBackup(scratchConfig, { origin: 'drill', drillAccount: true }) });
        const summary = Object.fromEntries(d.steps.map((s) => [s.name, s.status === 'PASS' ? 'PASS' : `${s.status}: ${JSON.stringify(s.evidence.error ?? s.evidence.reason ?? '')}`]));
        if (!d.ok) throw new Error(`drill failed: ${JSON.stringify(summary)}`);
        return { duration_ms: d.duration_ms, steps: summary, report: d };
      });
    }
  } finally {
    for (const uuid of createdVms) if (target) await deleteVm(target, uuid);
    if (instance) await instance.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  const items = ITEMS.map(([id, t]) => results.get(id) ?? { id, title: t, status: 'FAIL' as const, evidence: { error: 'not run: the instance under test did not start' }, duration_ms: 0 });
  return { generated_at: new Date(started).toISOString(), ok: items.every((i) => i.status === 'PASS'), duration_ms: Date.now() - started, instance: info, items };
}
