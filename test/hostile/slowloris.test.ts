// Slow clients (slowloris): connections that dribble their headers or body byte by byte, or send
// nothing at all, are closed within the server's limits while ordinary requests keep being served.
// The production limits are checked too: Fastify's defaults leave Node's requestTimeout at 0
// (no bound on a slow body), which is what src/platform/http/slow-requests.ts fixes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { DEFAULT_SLOW_REQUEST_LIMITS } from '../../src/platform/http/slow-requests.js';
import { listeningApp, type ListeningApp } from './hostile-app.js';

const LIMITS = { headersTimeoutMs: 1000, bodyTimeoutMs: 1500, checkIntervalMs: 250, keepAliveTimeoutMs: 2000 };
// Latest a slow socket may still be open: its limit + one sweep + slack for a loaded CI machine.
const GRACE_MS = 2500;

interface Slow {
  socket: Socket;
  opened: number;
  closedAt?: number;
  received: string;
  stop(): void;
}

/** Opens a socket that writes `text` one byte every `everyMs`. */
function dribble(port: number, text: string, everyMs: number): Promise<Slow> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const s: Slow = { socket, opened: Date.now(), received: '', stop: () => clearInterval(timer) };
    let i = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || !socket.writable || i >= text.length) return clearInterval(timer);
      socket.write(text[i++]!);
    }, everyMs);
    socket.on('data', (d) => (s.received += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      s.closedAt = Date.now();
      clearInterval(timer);
    });
    socket.once('connect', () => resolve(s));
    socket.once('error', reject);
  });
}

describe('slow clients', () => {
  let h: ListeningApp;
  before(async () => {
    h = await listeningApp(LIMITS);
  });
  after(() => h?.close());

  test('the production limits bound headers, bodies and idle keep-alive, and buildApp applies them', () => {
    const d = DEFAULT_SLOW_REQUEST_LIMITS;
    assert.ok(d.headersTimeoutMs > 0 && d.headersTimeoutMs <= 30_000, `headersTimeout ${d.headersTimeoutMs}`);
    assert.ok(d.bodyTimeoutMs > 0 && d.bodyTimeoutMs <= 60_000, `bodyTimeout ${d.bodyTimeoutMs}`);
    assert.ok(d.checkIntervalMs <= d.headersTimeoutMs);
    assert.ok(d.keepAliveTimeoutMs > 0 && d.keepAliveTimeoutMs <= 120_000, `keepAliveTimeout ${d.keepAliveTimeoutMs}`);
    assert.equal(h.app.server.headersTimeout, LIMITS.headersTimeoutMs);
    assert.equal(h.app.server.keepAliveTimeout, LIMITS.keepAliveTimeoutMs);
  });

  test('dribbled headers, dribbled bodies and silent sockets are closed; others are served meanwhile', async () => {
    const body = JSON.stringify({ username: 'slowloris', password: 'x'.repeat(200) });
    const slow = await Promise.all([
      // headers one byte every 100 ms, never finishing
      ...Array.from({ length: 30 }, () => dribble(h.port, 'GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(10_000), 100)),
      // complete headers, then the body one byte every 100 ms (public route: reaches body parsing)
      ...Array.from({ length: 30 }, () =>
        dribble(h.port, `POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, 5),
      ),
      // connects and sends nothing at all
      ...Array.from({ length: 10 }, () => dribble(h.port, '', 1_000_000)),
    ]);
    // the body dribblers send their headers quickly (5 ms per byte), then slow down to a trickle
    setTimeout(() => {
      for (const s of slow.slice(30, 60)) {
        s.stop();
        const t = setInterval(() => (s.socket.destroyed ? clearInterval(t) : s.socket.write(' ')), 200);
        s.socket.on('close', () => clearInterval(t));
      }
    }, 1200);

    // Meanwhile the server answers ordinary requests promptly.
    const latencies: number[] = [];
    const deadline = Date.now() + LIMITS.bodyTimeoutMs + GRACE_MS + 1500;
    while (Date.now() < deadline && slow.some((s) => s.closedAt === undefined)) {
      const t0 = Date.now();
      const res = await fetch(`http://127.0.0.1:${h.port}/api/health`);
      assert.equal(res.status, 200);
      latencies.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 100));
    }
    const open = slow.filter((s) => s.closedAt === undefined);
    for (const s of slow) {
      s.stop();
      s.socket.destroy();
    }
    assert.equal(open.length, 0, `${open.length} slow sockets still open`);
    const headerKinds = slow.slice(0, 30).concat(slow.slice(60));
    for (const s of headerKinds) assert.ok(s.closedAt! - s.opened <= LIMITS.headersTimeoutMs + GRACE_MS, `slow-header socket lived ${s.closedAt! - s.opened} ms`);
    for (const s of slow.slice(30, 60)) {
      assert.ok(s.closedAt! - s.opened <= 1200 + LIMITS.bodyTimeoutMs + GRACE_MS, `slow-body socket lived ${s.closedAt! - s.opened} ms`);
      // Told why (or simply cut), never answered as if the request had succeeded.
      assert.doesNotMatch(s.received, /HTTP\/1\.1 [25]\d\d/);
    }
    assert.ok(latencies.length > 0);
    assert.ok(Math.max(...latencies) < 1000, `health took up to ${Math.max(...latencies)} ms while under slowloris`);
    const health = await fetch(`http://127.0.0.1:${h.port}/api/health`);
    assert.equal(health.status, 200);
  });

  test('a slow but complete body inside the limit is still accepted', async () => {
    const body = JSON.stringify({ username: 'nobody', password: 'wrong-password-123' });
    const s = await dribble(h.port, `POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, 3);
    await new Promise<void>((r) => s.socket.once('close', () => r()));
    s.stop();
    assert.match(s.received, /^HTTP\/1\.1 401/);
  });

  test('malformed HTTP and oversized headers are answered in the contract error shape', async () => {
    for (const [raw, status] of [
      ['GARBAGE\r\n\r\n', 400],
      [`GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ] as const) {
      const s = await dribble(h.port, '', 1_000_000);
      s.socket.write(raw);
      await new Promise<void>((r) => s.socket.once('close', () => r()));
      const [head, body] = s.received.split('\r\n\r\n');
      assert.match(head!, new RegExp(`^HTTP/1\\.1 ${status} `));
      const b = JSON.parse(body!) as Record<string, unknown>;
      assert.deepEqual(Object.keys(b).sort(), ['code', 'error_code', 'message', 'request_id']);
      assert.equal(b.code, status);
    }
  });
});
