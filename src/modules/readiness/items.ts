// The release-readiness items of CONTRACT.md §8 that talk to the instance under test. Each returns
// raw evidence or throws: a feature this build lacks is a FAIL ("not implemented"), never a PASS.
import WebSocket from 'ws';
import { api, poll, routeMissing, scrape, sleep, total, type Answer } from './client.js';

export interface Target {
  url: string;
  adminToken: string;
}

export type Evidence = Record<string, unknown>;

/** Every metric name of CONTRACT.md §6 (histograms appear as their base name in # TYPE lines). */
export const CONTRACT_METRICS = [
  'http_requests_total', 'http_request_duration_seconds', 'auth_failure_total', 'vm_quota_denied_total', 'console_active_sessions',
  'host_cpu_usage_percent', 'host_memory_usage_percent', 'host_disk_usage_percent', 'vm_total', 'vm_action_total',
  'vm_action_duration_seconds', 'libvirt_connection_status', 'database_up', 'limen_build_info',
];

const notImplemented = (what: string, a: Answer): Error => new Error(`not implemented: ${what} (${a.status} ${JSON.stringify(a.body).slice(0, 160)})`);

export async function healthItem(t: Target): Promise<Evidence> {
  const a = await api(t.url, 'GET', '/api/health');
  const ok = a.status === 200 && a.body.status === 'ok' && a.body.db === 'connected' && a.body.libvirt === 'connected';
  if (!ok) throw new Error(`GET /api/health → ${a.status} ${JSON.stringify(a.body)} (needs status ok, db connected, libvirt connected)`);
  return { request: 'GET /api/health', status: a.status, body: a.body };
}

export async function metricsItem(t: Target): Promise<Evidence> {
  const { names } = await scrape(t.url);
  const missing = CONTRACT_METRICS.filter((n) => !names.has(n));
  if (missing.length > 0) throw new Error(`missing from /api/metrics: ${missing.join(', ')}`);
  return { request: 'GET /api/metrics', present: CONTRACT_METRICS };
}

async function newUser(t: Target, prefix: string): Promise<{ id: string; username: string; token: string }> {
  const username = `${prefix}${Date.now().toString(36)}`;
  const password = `readiness-${Math.random().toString(36).slice(2)}-pw`;
  const c = await api(t.url, 'POST', '/api/admin/users', { token: t.adminToken, body: { username, password, role: 'user' } });
  if (c.status !== 201) throw new Error(`creating a test user: ${c.status} ${JSON.stringify(c.body)}`);
  const l = await api(t.url, 'POST', '/api/auth/login', { body: { username, password } });
  if (l.status !== 200) throw new Error(`test user login: ${l.status}`);
  return { id: String(c.body.id), username, token: String(l.body.access_token) };
}

export async function quotaItem(t: Target): Promise<Evidence> {
  const u = await newUser(t, 'rdq');
  const q = await api(t.url, 'PUT', `/api/admin/users/${u.id}/quota`, { token: t.adminToken, body: { vms: 0 } });
  if (routeMissing(q) || q.status === 404) throw notImplemented('per-user quotas (PUT /api/admin/users/{id}/quota)', q);
  if (q.status !== 200) throw new Error(`setting quota vms=0: ${q.status} ${JSON.stringify(q.body)}`);
  const before = total((await scrape(t.url)).samples, 'vm_quota_denied_total', 'resource="vms"');
  const c = await api(t.url, 'POST', '/api/vms', { token: u.token, body: { name: 'readiness-denied', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
  if (routeMissing(c)) throw notImplemented('VM creation (POST /api/vms)', c);
  if (c.status !== 403 || c.body.error_code !== 'QUOTA_EXCEEDED') throw new Error(`POST /api/vms over quota answered ${c.status} ${JSON.stringify(c.body)}`);
  const after = total((await scrape(t.url)).samples, 'vm_quota_denied_total', 'resource="vms"');
  if (after !== before + 1) throw new Error(`vm_quota_denied_total{resource="vms"} went ${before} → ${after}`);
  return { denial: { status: c.status, body: c.body }, metric: `vm_quota_denied_total{resource="vms"} ${before} → ${after}` };
}

export async function failedLogins(url: string, n: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) codes.push((await api(url, 'POST', '/api/auth/login', { body: { username: `nobody${i % 3}`, password: 'wrong-password-123' } })).status);
  return codes;
}

export async function authFailureItem(t: Target): Promise<Evidence> {
  const before = total((await scrape(t.url)).samples, 'auth_failure_total');
  const codes = await failedLogins(t.url, 12);
  const after = total((await scrape(t.url)).samples, 'auth_failure_total');
  if (after < before + codes.length) throw new Error(`auth_failure_total went ${before} → ${after} after ${codes.length} failed logins`);
  return { failed_logins: codes.length, answers: codes, metric: `auth_failure_total (all reasons) ${before} → ${after}` };
}

const HOST = ['host_cpu_usage_percent', 'host_memory_usage_percent', 'host_disk_usage_percent'];

/** Two scrapes ≥ 15 s apart (the instance samples every 10 s): present, in range, and moving. */
export async function hostMetricsItem(t: Target, first: { at: number; values: number[] }): Promise<Evidence> {
  const wait = first.at + 15_500 - Date.now();
  if (wait > 0) await sleep(wait);
  const { samples } = await scrape(t.url);
  const values = HOST.map((n) => samples.get(n) ?? NaN);
  const bad = HOST.filter((_, i) => !(values[i]! >= 0 && values[i]! <= 100));
  if (bad.length > 0) throw new Error(`host metrics absent or out of range: ${bad.join(', ')} = ${JSON.stringify(values)}`);
  const moved = HOST.filter((_, i) => values[i] !== first.values[i]);
  if (moved.length === 0) throw new Error(`host metrics did not move in ${((Date.now() - first.at) / 1000).toFixed(1)} s: ${JSON.stringify(values)}`);
  return { first: Object.fromEntries(HOST.map((n, i) => [n, first.values[i]])), second: Object.fromEntries(HOST.map((n, i) => [n, values[i]])), seconds_apart: (Date.now() - first.at) / 1000, moved };
}

export async function hostSample(url: string): Promise<{ at: number; values: number[] }> {
  const s = await scrape(url);
  return { at: Date.now(), values: HOST.map((n) => s.samples.get(n) ?? NaN) };
}

/**
 * A real VM, a console ticket, an RFB handshake: the gauge rises by one, then falls back. The VM is
 * powered off afterwards and left for the restore drill (a backup with a real disk); `created`
 * receives its UUID so the caller deletes it at the end.
 */
export async function consoleItem(t: Target, created: (uuid: string) => void): Promise<Evidence> {
  const c = await api(t.url, 'POST', '/api/vms', { token: t.adminToken, body: { name: `readiness-console-${Date.now().toString(36)}`, vcpus: 1, memory_mb: 64, disk_gb: 1 } });
  if (routeMissing(c)) throw notImplemented('VMs (POST /api/vms)', c);
  if (c.status !== 201 && c.status !== 202) throw new Error(`creating a VM: ${c.status} ${JSON.stringify(c.body)}`);
  const uuid = String(c.body.uuid);
  created(uuid);
  try {
    await poll('the VM to be created', 60_000, async () => ((await api(t.url, 'GET', `/api/vms/${uuid}`, { token: t.adminToken })).body.state === 'stopped' ? true : undefined));
    const s = await api(t.url, 'POST', `/api/vms/${uuid}/action`, { token: t.adminToken, body: { action: 'start' } });
    if (s.status >= 300) throw new Error(`starting the VM: ${s.status} ${JSON.stringify(s.body)}`);
    await poll('the VM to run', 60_000, async () => ((await api(t.url, 'GET', `/api/vms/${uuid}`, { token: t.adminToken })).body.state === 'running' ? true : undefined));
    const ticket = await api(t.url, 'POST', `/api/vms/${uuid}/console`, { token: t.adminToken, body: {} });
    if (routeMissing(ticket)) throw notImplemented('console (POST /api/vms/{uuid}/console)', ticket);
    if (ticket.status !== 200) throw new Error(`console ticket: ${ticket.status} ${JSON.stringify(ticket.body)}`);
    const before = total((await scrape(t.url)).samples, 'console_active_sessions');
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/ws/vnc/${uuid}?ticket=${encodeURIComponent(String(ticket.body.ticket))}`);
    const greeting = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no RFB greeting within 20 s')), 20_000);
      ws.once('message', (d: Buffer) => (clearTimeout(timer), resolve(d.toString('latin1').slice(0, 12))));
      ws.once('error', (e) => (clearTimeout(timer), reject(e)));
      ws.once('close', (code) => (clearTimeout(timer), reject(new Error(`console socket closed (${code}) before the RFB greeting`))));
    });
    const during = await poll('console_active_sessions to rise', 5000, async () => {
      const v = total((await scrape(t.url)).samples, 'console_active_sessions');
      return v >= before + 1 ? v : undefined;
    });
    ws.close();
    const after = await poll('console_active_sessions to fall', 10_000, async () => {
      const v = total((await scrape(t.url)).samples, 'console_active_sessions');
      return v <= before ? v : undefined;
    });
    return { vm: uuid, rfb_greeting: greeting.trim(), console_active_sessions: `${before} → ${during} → ${after}` };
  } finally {
    await api(t.url, 'POST', `/api/vms/${uuid}/action`, { token: t.adminToken, body: { action: 'stop' } }).catch(() => undefined);
    await poll('the VM to stop', 30_000, async () => ((await api(t.url, 'GET', `/api/vms/${uuid}`, { token: t.adminToken })).body.state === 'stopped' ? true : undefined)).catch(() => undefined);
  }
}

/** Deletes a VM the items created (the instance's libvirt may be the real host). */
export async function deleteVm(t: Target, uuid: string): Promise<void> {
  await api(t.url, 'POST', `/api/vms/${uuid}/action`, { token: t.adminToken, body: { action: 'stop' } }).catch(() => undefined);
  await poll('the VM to be deleted', 30_000, async () => {
    const a = await api(t.url, 'DELETE', `/api/vms/${uuid}`, { token: t.adminToken });
    return a.status < 300 || a.status === 404 ? true : undefined;
  }).catch(() => undefined);
  await poll('the VM to disappear', 30_000, async () => ((await api(t.url, 'GET', `/api/vms/${uuid}`, { token: t.adminToken })).status === 404 ? true : undefined)).catch(() => undefined);
}
