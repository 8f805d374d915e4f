// A scripted LIMEN API inside the browser (playwright routes), for UI tests that must not wait on
// backend endpoints: the built UI (web/dist) is served by a tiny static server, every /api call
// and the /ws/events socket are answered here from in-memory state shaped like CONTRACT.md §4.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import type { Page, Route, WebSocketRoute } from 'playwright-core';

const DIST = join(import.meta.dirname, '..', '..', 'web', 'dist');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.svg': 'image/svg+xml' };

/** Serve web/dist with the SPA fallback the real server has. */
export async function serveDist(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')).replace(/^(\.\.[/\\])+/, '');
    const file = path.startsWith('/assets/') ? join(DIST, path) : join(DIST, 'index.html');
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

type Limits = Record<string, number | null>;
export interface FakeVm { uuid: string; name: string; state: string; vcpus: number; memory_mb: number; disk_gb: number; iso: string | null; owner_id: string; host: string | null; created_at: string; updated_at: string }

export interface FakeState {
  user: { id: string; username: string; role: 'user' | 'admin' };
  limits: Limits;
  vms: FakeVm[];
  isos: { id: string; name: string; size_bytes: number; sha256: string; created_at: string }[];
  /** Events socket of the page, once connected. */
  events?: WebSocketRoute;
  requests: string[];
}

/** The fake library's one ISO (the API takes ISOs by id). */
export const GRUB_ISO_ID = '00000000-0000-4000-8000-0000000000f1';

const KEYS = ['vms', 'vcpus', 'memory_mb', 'disk_gb', 'snapshots', 'running_vms', 'running_vcpus', 'running_memory_mb'];

function usage(s: FakeState): Record<string, number> {
  const running = s.vms.filter((v) => v.state === 'running');
  const sum = (vs: FakeVm[], k: 'vcpus' | 'memory_mb' | 'disk_gb') => vs.reduce((n, v) => n + v[k], 0);
  return {
    vms: s.vms.length, vcpus: sum(s.vms, 'vcpus'), memory_mb: sum(s.vms, 'memory_mb'), disk_gb: sum(s.vms, 'disk_gb'), snapshots: 0,
    running_vms: running.length, running_vcpus: sum(running, 'vcpus'), running_memory_mb: sum(running, 'memory_mb'),
  };
}

const json = (route: Route, status: number, body: unknown) => route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
const err = (route: Route, status: number, error_code: string, message: string, details?: unknown) =>
  json(route, status, { code: status, message, error_code, request_id: 'test', ...(details ? { details } : {}) });

export function newFakeState(partial: Partial<FakeState> = {}): FakeState {
  return {
    user: { id: '00000000-0000-4000-8000-000000000001', username: 'alice', role: 'user' },
    limits: { vms: 5, vcpus: 8, memory_mb: 16384, disk_gb: 200, snapshots: 10, running_vms: 3, running_vcpus: 8, running_memory_mb: 16384 },
    vms: [],
    isos: [{ id: GRUB_ISO_ID, name: 'grub-rescue.iso', size_bytes: 5_000_000, sha256: '0'.repeat(64), created_at: new Date(0).toISOString() }],
    requests: [],
    ...partial,
  };
}

export async function installFakeApi(page: Page, s: FakeState): Promise<void> {
  await page.routeWebSocket(/\/ws\/events/, (ws) => {
    s.events = ws; // not connected to any server: the test pushes events with ws.send()
  });
  await page.route(/\/api\//, async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    const key = `${req.method()} ${url.pathname}`;
    s.requests.push(key);
    const token = { access_token: 'fake-token', token_type: 'Bearer', expires_in: 900, user: s.user };
    if (key === 'POST /api/auth/login') return json(route, 200, token);
    if (key === 'POST /api/auth/refresh') return json(route, 200, token);
    if (key === 'POST /api/auth/logout') return route.fulfill({ status: 204 });
    if (key === 'GET /api/quota') return json(route, 200, { limits: s.limits, usage: usage(s) });
    if (key === 'GET /api/vms') return json(route, 200, { items: s.vms, total: s.vms.length });
    if (key === 'GET /api/isos') return json(route, 200, { items: s.isos, total: s.isos.length });
    if (key === 'GET /api/templates') return json(route, 200, { items: [], total: 0 });
    if (key === 'POST /api/vms') {
      const body = req.postDataJSON() as { name: string; vcpus: number; memory_mb: number; disk_gb: number; iso?: string };
      const u = usage(s);
      for (const k of ['vcpus', 'memory_mb', 'disk_gb'] as const) {
        const limit = s.limits[k];
        if (limit !== null && limit !== undefined && u[k]! + body[k] > limit) return err(route, 403, 'QUOTA_EXCEEDED', 'Quota exceeded', { resource: k, limit, used: u[k], requested: body[k] });
      }
      const now = new Date().toISOString();
      const vm: FakeVm = { uuid: `00000000-0000-4000-8000-${String(s.vms.length + 100).padStart(12, '0')}`, state: 'stopped', iso: body.iso ?? null, owner_id: s.user.id, host: 'default', created_at: now, updated_at: now, ...body };
      s.vms.push(vm);
      return json(route, 201, vm);
    }
    const vmMatch = /^\/api\/vms\/([^/]+)(\/.*)?$/.exec(url.pathname);
    const vm = vmMatch ? s.vms.find((v) => v.uuid === vmMatch[1]) : undefined;
    if (vmMatch && !vm) return err(route, 404, 'NOT_FOUND', 'Virtual machine not found');
    if (vm && req.method() === 'GET' && !vmMatch?.[2]) return json(route, 200, vm);
    if (vm && vmMatch?.[2] === '/action') {
      const { action } = req.postDataJSON() as { action: string };
      if (action === 'start' && vm.state !== 'stopped') return err(route, 409, 'INVALID_STATE', `Cannot start a ${vm.state} machine`);
      vm.state = action === 'start' ? 'starting' : action === 'shutdown' ? 'stopping' : vm.state;
      vm.updated_at = new Date().toISOString();
      return json(route, 202, vm);
    }
    if (vm && vmMatch?.[2] === '/snapshots') return json(route, 200, { items: [], total: 0 });
    if (vm && vmMatch?.[2] === '/stats') {
      return json(route, 200, { uuid: vm.uuid, state: vm.state, cpu_percent: 3.5, memory: { used_mb: 40, total_mb: vm.memory_mb }, disk: { read_bytes_per_s: 0, write_bytes_per_s: 0 }, net: { rx_bytes_per_s: 0, tx_bytes_per_s: 0 }, guest_ips: 'unknown', interval_s: 5, at: new Date().toISOString() });
    }
    return err(route, 404, 'NOT_FOUND', `Route ${req.method()} ${url.pathname} not found`);
  });
}

/** Push a `/ws/events` event to the page, the way the server would. */
export function pushEvent(s: FakeState, type: string, vm: Partial<FakeVm> & { uuid: string }): void {
  if (!s.events) throw new Error('the page has no /ws/events connection');
  s.events.send(JSON.stringify({ type, vm }));
}

export { KEYS as QUOTA_KEYS };
