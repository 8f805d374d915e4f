// Shared helpers of the VM suites: polling, event collection over /ws/events, ISO upload, RFB.
import { connect } from 'node:net';
import type { WebSocket } from 'ws';
import type { App } from '../../src/app.js';
import type { TestUser } from '../helpers/factories.js';

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000, everyMs = 50): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface VmJson {
  uuid: string;
  name: string;
  state: string;
  owner_id: string;
  error_message: string | null;
  [k: string]: unknown;
}

export async function getVm(app: App, u: TestUser, uuid: string): Promise<{ status: number; vm: VmJson }> {
  const r = await app.inject({ method: 'GET', url: `/api/vms/${uuid}`, headers: u.auth });
  return { status: r.statusCode, vm: r.json() };
}

export function waitState(app: App, u: TestUser, uuid: string, state: string, ms = 60_000): Promise<VmJson> {
  let last = '';
  return waitFor(`VM ${uuid} to be ${state} (last: ${last})`, async () => {
    const { status, vm } = await getVm(app, u, uuid);
    last = status === 200 ? `${vm.state} ${vm.error_message ?? ''}` : String(status);
    return status === 200 && vm.state === state ? vm : undefined;
  }, ms);
}

export function waitGone(app: App, u: TestUser, uuid: string, ms = 60_000): Promise<true> {
  return waitFor(`VM ${uuid} to be deleted`, async () => (await getVm(app, u, uuid)).status === 404 || undefined, ms);
}

export interface EventStream {
  ws: WebSocket;
  messages: { type: string; vm?: VmJson; vms?: VmJson[]; stats?: unknown }[];
  next(pred: (m: EventStream['messages'][number]) => boolean, ms?: number): Promise<EventStream['messages'][number]>;
  close(): void;
}

export async function openEvents(app: App, token: string, headers: Record<string, string> = {}): Promise<EventStream> {
  const messages: EventStream['messages'] = [];
  const ws = await app.injectWS(`/ws/events?token=${encodeURIComponent(token)}`, { headers }, {
    onInit: (s) => s.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString('utf8')) as EventStream['messages'][number])),
  });
  return {
    ws,
    messages,
    next: (pred, ms = 60_000) => waitFor('an event', () => messages.find(pred), ms, 20),
    close: () => ws.terminate(),
  };
}

export async function uploadIso(app: App, admin: TestUser, name: string, body: Buffer) {
  return app.inject({ method: 'PUT', url: `/api/admin/isos/${name}`, headers: { ...admin.auth, 'content-type': 'application/octet-stream' }, payload: body });
}

/** Reads the RFB banner from a VNC port (retries while QEMU is still opening it). */
export async function readRfbGreeting(host: string, port: number, deadlineMs = 20_000): Promise<string> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await new Promise<string>((ok, fail) => {
        const s = connect({ host, port });
        s.setTimeout(3000, () => s.destroy(new Error('rfb timeout')));
        s.once('data', (b) => {
          ok(b.toString('latin1'));
          s.destroy();
        });
        s.once('error', fail);
      });
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Lifts a user's quota (VM suites test the VM module, not quotas; quota tests live elsewhere). */
export async function unlimitedQuota(app: App, admin: TestUser, userId: string): Promise<void> {
  const keys = ['vms', 'vcpus', 'memory_mb', 'disk_gb', 'running_vms', 'running_vcpus', 'running_memory_mb'];
  const r = await app.inject({ method: 'PUT', url: `/api/admin/users/${userId}/quota`, headers: admin.auth, payload: Object.fromEntries(keys.map((k) => [k, null])) });
  if (r.statusCode !== 200 && r.statusCode !== 404) throw new Error(`quota update failed: ${r.statusCode} ${r.body}`);
}
