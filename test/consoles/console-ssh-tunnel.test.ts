// The console's ssh tunnel with real OpenSSH on both ends (scripts/services/sshd.sh) and a
// VNC-like server behind it; the VM module is a fake access port whose host URI is qemu+ssh://.
// Every way a session ends leaves no ssh process behind (client close, VM stop, idle timeout,
// admin kill, server shutdown); a tunnel that cannot be opened (no sshd, key not authorized,
// nothing on the VNC port) closes the console with its own reason; a qemu+tls:// host with VNC
// on its loopback is refused with what to configure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newAdmin, newUser, type TestUser } from '../helpers/factories.js';
import { startFakeVnc, type FakeVnc } from '../helpers/fake-vnc.js';
import { notFound } from '../../src/platform/http/app-error.js';
import type { ConsoleVmAccess } from '../../src/modules/consoles/index.js';
import { sshChildren, sshdForwardTargets } from '../hosts/ssh-helpers.js';
import { waitFor } from '../vms/vm-helpers.js';

const REAL = process.env.LIMEN_TEST_REAL === '1';
const SSHD = join(import.meta.dirname, '..', '..', 'scripts', 'services', 'sshd.sh');
const why = process.getuid?.() !== 0 ? 'the test sshd logs in as root' : !existsSync('/usr/sbin/sshd') ? 'openssh-server is not installed' : null;
if (why && REAL) throw new Error(`ssh tunnel test cannot run: ${why}`);

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('console through an ssh tunnel (real OpenSSH, fake VNC)', { skip: why ?? false, timeout: 600_000 }, () => {
  let state: string;
  let sshd: (...args: string[]) => string;
  let sshUri: string;
  let vnc: FakeVnc;
  let t: TestApp | undefined;
  let base: string;
  let alice: TestUser;
  let admin: TestUser;
  const vms = new Map<string, { state: string; hostUri: string; vncPort?: number }>();
  const listeners = new Set<(uuid: string, state: string) => void>();
  const access: ConsoleVmAccess = {
    async getVm(p, uuid) {
      const vm = vms.get(uuid);
      if (!vm || p.id !== alice.id) throw notFound('VM');
      return { uuid, state: vm.state, host: 'remote' };
    },
    vncEndpoint: async (vm) => ({ host: '127.0.0.1', port: vms.get(vm.uuid)!.vncPort ?? vnc.port, hostUri: vms.get(vm.uuid)!.hostUri }),
    onVmState(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  const newVm = (hostUri = sshUri, vncPort?: number): string => {
    const uuid = randomUUID();
    vms.set(uuid, { state: 'running', hostUri, vncPort });
    return uuid;
  };
  const setState = (uuid: string, s: string) => {
    vms.get(uuid)!.state = s;
    for (const l of listeners) l(uuid, s);
  };

  /** Opens the console; resolves the first bytes (or the close), keeps the close for later. */
  async function open(uuid: string) {
    const r = await t!.app.inject({ method: 'POST', url: `/api/vms/${uuid}/console`, headers: alice.auth });
    assert.equal(r.statusCode, 200, r.body);
    const ws = new WebSocket(base + r.json<{ ws_url: string }>().ws_url, ['binary']);
    ws.on('error', () => undefined);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    const first = await Promise.race([new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d))), closed]);
    return { ws, first, closed };
  }
  const tunnels = () => sshChildren().filter((c) => c.args.includes('-W'));
  const noTunnelLeft = (what: string) => waitFor(`${what}: no ssh process left`, () => tunnels().length === 0, 30_000);
  const endReason = async (uuid: string) =>
    waitFor(`end_reason of the session on ${uuid}`, async () => {
      const r = await t!.app.inject({ method: 'GET', url: '/api/admin/console-sessions?open=false', headers: admin.auth });
      return r.json<{ items: { vm_uuid: string; end_reason: string | null }[] }>().items.find((s) => s.vm_uuid === uuid)?.end_reason ?? undefined;
    }, 30_000);

  before(async () => {
    state = mkdtempSync(join(tmpdir(), 'limen-sshtun-'));
    chmodSync(state, 0o755);
    sshd = (...args) => execFileSync('bash', [SSHD, ...args], { env: { ...process.env, LIMEN_STATE: state }, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    sshd('start');
    sshUri = sshd('uri');
    vnc = await startFakeVnc();
    t = await buildTestApp({ consoleVmAccess: access, env: { LIMEN_CONSOLE_IDLE_TIMEOUT_S: '10', LIMEN_CONSOLE_MAX_PER_USER: '20' } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    [alice, admin] = await Promise.all([newUser(t.app), newAdmin(t.app)]);
  });

  after(async () => {
    try {
      await t?.close();
      await vnc?.close();
      assert.deepEqual(tunnels(), [], 'no ssh tunnel outlives the app');
    } finally {
      if (sshd) sshd('stop');
      rmSync(state, { recursive: true, force: true });
    }
  });

  test('bytes go both ways through sshd; the client closing ends the ssh process', async () => {
    const before = sshdForwardTargets(readFileSync(join(state, 'sshd', 'sshd.log'), 'utf8')).length;
    const uuid = newVm();
    const c = await open(uuid);
    assert.ok(Buffer.isBuffer(c.first), `greeting, not a close: ${JSON.stringify(c.first)}`);
    assert.equal(c.first.toString(), 'RFB 003.008\n');
    const echoed = new Promise<Buffer>((resolve) => c.ws.once('message', (d: Buffer) => resolve(d)));
    c.ws.send(Buffer.from('RFB 003.008\n'));
    assert.equal((await echoed).toString(), 'RFB 003.008\n');
    const [tunnel] = tunnels();
    assert.ok(tunnel, 'an ssh child while the console is open');
    assert.ok(tunnel.args.includes(`127.0.0.1:${vnc.port}`));
    assert.deepEqual(sshdForwardTargets(readFileSync(join(state, 'sshd', 'sshd.log'), 'utf8')).slice(before), [vnc.port], 'sshd forwarded one channel, to the VNC port');
    c.ws.close();
    await c.closed;
    await noTunnelLeft('client close');
    assert.equal(await endReason(uuid), 'client_closed');
  });

  test('the VM stopping closes the console (4001) and ends the ssh process', async () => {
    const uuid = newVm();
    const c = await open(uuid);
    assert.ok(Buffer.isBuffer(c.first));
    setState(uuid, 'stopped');
    assert.equal((await c.closed).code, 4001);
    await noTunnelLeft('VM stop');
    assert.equal(await endReason(uuid), 'vm_stopped');
  });

  test('an admin ending the session (4005) ends the ssh process', async () => {
    const uuid = newVm();
    const c = await open(uuid);
    assert.ok(Buffer.isBuffer(c.first));
    const list = await t!.app.inject({ method: 'GET', url: '/api/admin/console-sessions?open=true', headers: admin.auth });
    const id = list.json<{ items: { id: string; vm_uuid: string }[] }>().items.find((s) => s.vm_uuid === uuid)!.id;
    assert.equal((await t!.app.inject({ method: 'DELETE', url: `/api/admin/console-sessions/${id}`, headers: admin.auth })).statusCode, 204);
    assert.equal((await c.closed).code, 4005);
    await noTunnelLeft('admin kill');
  });

  test('the idle timeout (4003) ends the ssh process', async () => {
    const uuid = newVm();
    const c = await open(uuid);
    assert.ok(Buffer.isBuffer(c.first));
    const closed = await c.closed; // nothing sent: closed after 10 s without input
    assert.equal(closed.code, 4003);
    await noTunnelLeft('idle timeout');
    assert.equal(await endReason(uuid), 'idle_timeout');
  });

  test('a tunnel that cannot be opened closes the console with "SSH tunnel" in the reason (4009)', async () => {
    const port = new URL(sshUri).port;
    const cases = {
      'no sshd on the port': sshUri.replace(`:${port}/`, `:${await closedPort()}/`),
      'key not authorized': sshUri.replace(/keyfile=[^&]+/, `keyfile=${join(state, 'sshd', 'ssh_host_ed25519_key')}`),
    };
    for (const [what, uri] of Object.entries(cases)) {
      const uuid = newVm(uri);
      const c = await open(uuid);
      assert.ok(!Buffer.isBuffer(c.first), `${what}: no bytes`);
      const closed = await c.closed;
      assert.equal(closed.code, 4009, `${what}: ${closed.reason}`);
      assert.match(closed.reason, /SSH tunnel/);
      assert.equal(await endReason(uuid), 'tunnel_failed');
    }
    // sshd is fine but nothing listens on the VNC port on its side
    const uuid = newVm(sshUri, await closedPort());
    const c = await open(uuid);
    assert.equal((await c.closed).code, 4009);
    await noTunnelLeft('failed tunnels');
  });

  test('a qemu+tls host whose VNC listens on its loopback is refused with what to configure (4010)', async () => {
    const c = await open(newVm('qemu+tls://hv2.example.test/system'));
    const closed = await c.closed;
    assert.equal(closed.code, 4010);
    assert.match(closed.reason, /management network/);
  });

  test('server shutdown closes open consoles and waits for their ssh processes', async () => {
    const a = await open(newVm());
    const b = await open(newVm());
    assert.ok(Buffer.isBuffer(a.first) && Buffer.isBuffer(b.first));
    assert.equal(tunnels().length, 2);
    await t!.close();
    t = undefined;
    // @fastify/websocket closes its clients first (1005, no code); the sessions then end as
    // server_shutdown and their tunnels with them
    await Promise.all([a.closed, b.closed]);
    assert.deepEqual(tunnels(), [], 'gone by the time close() returned');
  });
});
