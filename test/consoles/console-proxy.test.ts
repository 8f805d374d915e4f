// The console proxy against a VNC-like server, with the VM module replaced by a fake access port:
// ticket rules, single use, limits, the active-sessions gauge across every kind of close.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { startFakeVnc, type FakeVnc } from '../helpers/fake-vnc.js';
import type { ConsoleVmAccess } from '../../src/modules/consoles/index.js';
import { notFound } from '../../src/platform/http/app-error.js';

interface FakeVm { uuid: string; owner: string; state: string }

describe('console proxy', () => {
  let t: TestApp;
  let vnc: FakeVnc;
  let base: string;
  let alice: TestUser;
  let bob: TestUser;
  let admin: TestUser;
  const vms = new Map<string, FakeVm>();
  const listeners = new Set<(uuid: string, state: string) => void>();
  const setState = (uuid: string, state: string) => {
    vms.get(uuid)!.state = state;
    for (const l of listeners) l(uuid, state);
  };
  const access: ConsoleVmAccess = {
    async getVm(p, uuid) {
      const vm = vms.get(uuid);
      if (!vm || (vm.owner !== p.id && p.role !== 'admin')) throw notFound('VM');
      return { uuid, state: vm.state, host: 'default' };
    },
    vncEndpoint: async () => ({ host: '127.0.0.1', port: vnc.port }),
    onVmState(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };

  before(async () => {
    vnc = await startFakeVnc();
    t = await buildTestApp({
      env: { LIMEN_CONSOLE_MAX_PER_USER: '2', LIMEN_CONSOLE_TICKET_TTL_S: '2' },
      consoleVmAccess: access,
    });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    alice = await newUser(t.app);
    bob = await newUser(t.app);
    admin = await newAdmin(t.app);
  });
  after(async () => {
    await t.close();
    await vnc.close();
  });

  const newVm = (owner: TestUser, state = 'running'): string => {
    const uuid = randomUUID();
    vms.set(uuid, { uuid, owner: owner.id, state });
    return uuid;
  };
  const ticketFor = async (u: TestUser, uuid: string) => t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/console`, headers: u.auth });
  const gauge = async (): Promise<number> => Number(/^console_active_sessions (\S+)$/m.exec((await t.app.inject({ method: 'GET', url: '/api/metrics' })).body)?.[1]);

  /** Opens a socket and resolves with the first binary message or the close code. */
  function open(path: string, opts: { origin?: string } = {}) {
    const ws = new WebSocket(base + path, ['binary'], opts.origin ? { origin: opts.origin } : {});
    const first = new Promise<{ data?: Buffer; code?: number; reason?: string }>((resolve) => {
      ws.once('message', (d: Buffer) => resolve({ data: d }));
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.once('unexpected-response', (_req, res) => resolve({ code: res.statusCode }));
      ws.once('error', () => undefined);
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    return { ws, first, closed };
  }

  const waitFor = async (fn: () => Promise<boolean>, ms = 5000): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await fn()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail('condition not reached');
  };

  test('a ticket opens a pure RFB stream; the gauge goes 0 → 1 → 0', async () => {
    const uuid = newVm(alice);
    const r = await ticketFor(alice, uuid);
    assert.equal(r.statusCode, 200);
    const { ws_url, ticket, expires_at } = r.json();
    assert.equal(ws_url, `/ws/vnc/${uuid}?ticket=${ticket}`);
    assert.ok(Date.parse(expires_at) - Date.now() <= 60_000);
    assert.equal(await gauge(), 0);
    const c = open(ws_url);
    const first = await c.first;
    assert.equal(first.data?.toString(), 'RFB 003.008\n');
    assert.equal(c.ws.protocol, 'binary');
    assert.equal(await gauge(), 1);
    const echoed = new Promise<Buffer>((res) => c.ws.once('message', (d: Buffer) => res(d)));
    c.ws.send(Buffer.from('RFB 003.008\n'));
    assert.equal((await echoed).toString(), 'RFB 003.008\n');
    c.ws.close();
    await waitFor(async () => (await gauge()) === 0);
    const sessions = await t.app.inject({ method: 'GET', url: '/api/admin/console-sessions', headers: admin.auth });
    const row = sessions.json().items.find((s: { vm_uuid: string }) => s.vm_uuid === uuid);
    assert.equal(row.end_reason, 'client_closed');
    assert.ok(row.bytes_to_client >= 12 && row.bytes_to_vm >= 12);
  });

  test('refused tickets never reach the VNC server', async () => {
    const uuid = newVm(alice);
    const other = newVm(alice);
    const before0 = vnc.connections;
    const { ticket } = (await ticketFor(alice, uuid)).json();
    for (const path of [
      `/ws/vnc/${uuid}`, // missing
      `/ws/vnc/${uuid}?ticket=forged-ticket-value`, // forged
      `/ws/vnc/${other}?ticket=${ticket}`, // another VM
    ]) {
      const r = await open(path).first;
      assert.equal(r.code, 4000, path);
    }
    // The real one still works once, then is spent.
    const ok = open(`/ws/vnc/${uuid}?ticket=${ticket}`);
    assert.ok((await ok.first).data);
    ok.ws.close();
    assert.equal((await open(`/ws/vnc/${uuid}?ticket=${ticket}`).first).code, 4000, 'reused');
    assert.equal(vnc.connections, before0 + 1);
  });

  test('an expired ticket is refused', async () => {
    const uuid = newVm(alice);
    const { ws_url } = (await ticketFor(alice, uuid)).json();
    await new Promise((r) => setTimeout(r, 2200));
    assert.equal((await open(ws_url).first).code, 4000);
  });

  test("another user's VM is 404, a stopped VM is 409 and is not started", async () => {
    const uuid = newVm(alice);
    assert.equal((await ticketFor(bob, uuid)).statusCode, 404);
    const stopped = newVm(alice, 'stopped');
    const r = await ticketFor(alice, stopped);
    assert.equal(r.statusCode, 409);
    assert.equal(r.json().error_code, 'INVALID_STATE');
    assert.equal(vms.get(stopped)!.state, 'stopped');
    assert.equal((await ticketFor(admin, uuid)).statusCode, 200, 'admins may open any console');
  });

  test('a foreign Origin is refused before the upgrade', async () => {
    const uuid = newVm(alice);
    const { ws_url } = (await ticketFor(alice, uuid)).json();
    assert.equal((await open(ws_url, { origin: 'https://evil.example' }).first).code, 403);
  });

  test('the (N+1)th concurrent session of a user is refused with a clear reason', async () => {
    const uuid = newVm(alice);
    const a = open((await ticketFor(alice, uuid)).json().ws_url);
    const b = open((await ticketFor(alice, uuid)).json().ws_url);
    assert.ok((await a.first).data && (await b.first).data);
    const c = await open((await ticketFor(alice, uuid)).json().ws_url).first;
    assert.equal(c.code, 4002);
    assert.match(c.reason ?? '', /Too many/);
    a.ws.close();
    b.ws.close();
    await waitFor(async () => (await gauge()) === 0);
  });

  test('a client that vanishes without a close frame is cleaned up', async () => {
    const uuid = newVm(bob);
    const c = open((await ticketFor(bob, uuid)).json().ws_url);
    await c.first;
    assert.equal(await gauge(), 1);
    c.ws.terminate(); // TCP reset, no close frame
    await waitFor(async () => (await gauge()) === 0);
  });

  test('stopping the VM closes its consoles with a reason', async () => {
    const uuid = newVm(bob);
    const c = open((await ticketFor(bob, uuid)).json().ws_url);
    await c.first;
    setState(uuid, 'stopped');
    const closed = await c.closed;
    assert.equal(closed.code, 4001);
    await waitFor(async () => (await gauge()) === 0);
  });

  test('an admin can list and end a session', async () => {
    const uuid = newVm(bob);
    const c = open((await ticketFor(bob, uuid)).json().ws_url);
    await c.first;
    const list = await t.app.inject({ method: 'GET', url: '/api/admin/console-sessions?open=true', headers: admin.auth });
    const s = list.json().items.find((i: { vm_uuid: string }) => i.vm_uuid === uuid);
    assert.ok(s);
    assert.equal(s.username, bob.username);
    const del = await t.app.inject({ method: 'DELETE', url: `/api/admin/console-sessions/${s.id}`, headers: admin.auth });
    assert.equal(del.statusCode, 204);
    assert.equal((await c.closed).code, 4005);
    assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/admin/console-sessions/${s.id}`, headers: admin.auth })).statusCode, 409);
  });

  test('logging out ends the right to use an issued ticket', async () => {
    const carol = await newUser(t.app);
    const uuid = newVm(carol);
    const { ws_url } = (await ticketFor(carol, uuid)).json();
    await t.app.inject({ method: 'POST', url: '/api/auth/logout', headers: carol.auth });
    assert.equal((await open(ws_url).first).code, 4007);
  });
});
