// Websocket abuse on the console and event sockets: frames sent before (or without) a valid
// ticket never reach the VNC server, a spray of 10,000 bad tickets from one address is cut short
// by the per-address limit (close 4008, no database lookup, auth_failure_total counted), and
// frames over the 64 KiB limit close the socket (1009) without reaching VNC.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { newUser, type TestUser } from '../helpers/factories.js';
import { startFakeVnc, type FakeVnc } from '../helpers/fake-vnc.js';
import type { ConsoleVmAccess } from '../../src/modules/consoles/index.js';
import { notFound } from '../../src/platform/http/app-error.js';
import { TICKET_FAILURE_LIMIT } from '../../src/modules/consoles/ticket-throttle.js';

const SPRAY = 10_000;
const SPRAY_CONCURRENCY = 100;

describe('websocket abuse', () => {
  let t: TestApp;
  let vnc: FakeVnc;
  let base: string;
  let alice: TestUser;
  const vms = new Map<string, { owner: string }>();
  const access: ConsoleVmAccess = {
    async getVm(p, uuid) {
      const vm = vms.get(uuid);
      if (!vm || vm.owner !== p.id) throw notFound('VM');
      return { uuid, state: 'running', host: 'default' };
    },
    vncEndpoint: async () => ({ host: '127.0.0.1', port: vnc.port }),
    onVmState: () => () => undefined,
  };

  before(async () => {
    vnc = await startFakeVnc();
    t = await buildTestApp({ consoleVmAccess: access, env: { LIMEN_CONSOLE_MAX_PER_USER: '50' } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    base = `ws://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    alice = await newUser(t.app);
  });
  after(async () => {
    await t?.close();
    await vnc?.close();
  });

  const newVm = (): string => {
    const uuid = randomUUID();
    vms.set(uuid, { owner: alice.id });
    return uuid;
  };
  const ticketUrl = async (uuid: string): Promise<string> => (await t.app.inject({ method: 'POST', url: `/api/vms/${uuid}/console`, headers: alice.auth })).json<{ ws_url: string }>().ws_url;
  const metric = async (reason: string): Promise<number> =>
    Number(new RegExp(`^auth_failure_total\\{reason="${reason}"\\} (\\S+)$`, 'm').exec((await t.app.inject({ method: 'GET', url: '/api/metrics' })).body)?.[1]);

  /**
   * Connects from a chosen loopback address (each test its own, so the per-address limit of one
   * test does not leak into another); resolves with the close code and what arrived first.
   */
  function open(path: string, from: string, onOpen?: (ws: WebSocket) => void) {
    const ws = new WebSocket(base + path, { localAddress: from });
    return new Promise<{ code: number; reason: string; data?: Buffer }>((resolve) => {
      let data: Buffer | undefined;
      ws.on('open', () => onOpen?.(ws));
      ws.on('message', (d: Buffer) => (data ??= d));
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), data }));
      ws.on('unexpected-response', (_req, res) => resolve({ code: res.statusCode ?? 0, reason: 'http' }));
      ws.on('error', () => undefined);
    });
  }

  test('frames sent before or without a valid ticket never reach the VNC server', async () => {
    const uuid = newVm();
    const other = newVm();
    const spent = await ticketUrl(uuid);
    const valid = await open(spent, '127.0.0.2', (ws) => ws.close());
    assert.notEqual(valid.code, 4000, 'the real ticket is accepted once');
    const connections = vnc.connections;
    const received = vnc.received.length;
    const flood = (ws: WebSocket): void => {
      // RFB ClientInit, a key event, text and a large binary burst, all before any answer
      for (let i = 0; i < 50; i++) ws.send(Buffer.from([1, 4, 1, 0, 0, 0, 0, 0x41]));
      ws.send('text frame');
      ws.send(Buffer.alloc(60_000, 0x42));
    };
    for (const path of [`/ws/vnc/${uuid}`, `/ws/vnc/${uuid}?ticket=forged`, `/ws/vnc/${uuid}?ticket=${'A'.repeat(43)}`, spent, (await ticketUrl(uuid)).replace(uuid, other)]) {
      const r = await open(path, '127.0.0.2', flood);
      assert.equal(r.code, 4000, path);
      assert.equal(r.data, undefined, `${path}: no RFB byte may come back`);
    }
    // An unknown or malformed VM in the path never gets near a VNC server either.
    assert.equal((await open(`/ws/vnc/not-a-uuid?ticket=x`, '127.0.0.2', flood)).code, 400);
    assert.equal(vnc.connections, connections);
    assert.equal(vnc.received.length, received);
  });

  test('frames over 64 KiB close the console (1009) and the event socket without reaching VNC', async () => {
    const uuid = newVm();
    const before0 = vnc.received.reduce((n, b) => n + b.length, 0);
    const r = await open(await ticketUrl(uuid), '127.0.0.3', (ws) => {
      ws.once('message', () => ws.send(Buffer.alloc(1024 * 1024, 0x43)));
    });
    assert.equal(r.code, 1009);
    const forwarded = vnc.received.reduce((n, b) => n + b.length, 0) - before0;
    assert.ok(forwarded < 64 * 1024, `${forwarded} bytes of the oversized frame reached VNC`);

    const ev = new WebSocket(`${base}/ws/events`, { headers: alice.auth });
    const closed = await new Promise<number>((resolve) => {
      ev.once('message', () => ev.send('x'.repeat(1024 * 1024)));
      ev.on('close', (code) => resolve(code));
      ev.on('error', () => undefined);
    });
    assert.equal(closed, 1009);
  });

  /**
   * One bad-ticket attempt on a raw socket (cheaper than a full client, so 10,000 fit in a test):
   * the upgrade request, then the status line and the server's close frame's code.
   */
  function rawAttempt(path: string, from: string): Promise<number> {
    return new Promise((resolve) => {
      const s = connect({ port: Number(new URL(base).port), host: '127.0.0.1', localAddress: from });
      let buf = Buffer.alloc(0);
      const done = (code: number): void => {
        s.destroy();
        resolve(code);
      };
      s.on('error', () => done(-1));
      s.on('close', () => done(-2));
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return done(Number(buf.subarray(9, 12).toString()));
        const frame = buf.subarray(end + 4);
        // server frames are unmasked: 0x88 (FIN + close), payload length, then the 2-byte code
        if (frame.length >= 4 && frame[0] === 0x88) done(frame.readUInt16BE(2));
      });
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.from(randomUUID().slice(0, 16)).toString('base64')}\r\n\r\n`);
    });
  }

  test(`${SPRAY} bad tickets from one address are cut short by the per-address limit`, async () => {
    const uuid = newVm();
    const invalid0 = await metric('invalid_token');
    const limited0 = await metric('rate_limited');
    const connections = vnc.connections;
    const codes = new Map<number, number>();
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: SPRAY_CONCURRENCY }, async () => {
        while (next < SPRAY) {
          next++;
          const code = await rawAttempt(`/ws/vnc/${uuid}?ticket=${randomUUID()}`, '127.0.0.4');
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      }),
    );
    const elapsed = Date.now() - t0;
    const max = TICKET_FAILURE_LIMIT.maxFailures;
    // Concurrent first attempts may all pass the check before the first failure is recorded.
    const refused = codes.get(4000) ?? 0;
    assert.ok(refused >= max && refused <= max + SPRAY_CONCURRENCY, `4000 × ${refused}`);
    assert.equal((codes.get(4008) ?? 0) + refused, SPRAY, JSON.stringify([...codes]));
    assert.equal((await metric('invalid_token')) - invalid0, refused);
    assert.equal((await metric('rate_limited')) - limited0, SPRAY - refused);
    assert.equal(vnc.connections, connections);
    assert.ok(elapsed < 90_000, `spray took ${elapsed} ms`);

    // Another address is unaffected: its valid ticket opens a console.
    const ok = await open(await ticketUrl(uuid), '127.0.0.5', (ws) => ws.once('message', () => ws.close()));
    assert.equal(ok.code, 1005);
    assert.ok(ok.data?.toString().startsWith('RFB 003.008'));
    // The limited address is refused even with a valid ticket, until its window ends.
    assert.equal((await open(await ticketUrl(uuid), '127.0.0.4')).code, 4008);
    const health = await t.app.inject({ method: 'GET', url: '/api/health' });
    assert.equal(health.statusCode, 200);
  });
});
