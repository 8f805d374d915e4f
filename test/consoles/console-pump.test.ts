// The console byte pump (console-proxy.ts) between a real websocket and a real TCP "VNC server":
// every byte arrives intact and in order although the pump reads into one reused buffer (a frame
// overwritten before it was written would show here), and backpressure holds both ways — a
// browser that stops reading stops the VNC socket, a VNC server that stops reading stops the
// browser's socket — so the proxy never buffers more than a bounded amount per session.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { pump, type PumpCounters } from '../../src/modules/consoles/console-proxy.js';

// A pattern whose period (251, prime) never lines up with the pump's 256 KiB read buffer.
const patternByte = (i: number): number => (i * 31 + Math.floor(i / 251)) & 0xff;
function patterned(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = patternByte(from + i);
  return b;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function waitFor(what: string, fn: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Waits until a writer's byte count stops moving (socket buffers full), then checks it stays put
 * for a second more: the other side's backpressure holds it. Answers the count it was held at.
 */
async function heldBack(writer: string, count: () => number): Promise<number> {
  let last = -1;
  await waitFor(`${writer} to be held back`, () => {
    const settled = count() === last;
    last = count();
    return settled;
  });
  await sleep(500);
  const held = count();
  await sleep(1000);
  assert.equal(count(), held, `${writer} kept writing although the other side reads nothing`);
  return held;
}

interface Rig {
  /** the VNC side's socket (accepted by the fake server) */
  vncSide: Promise<Socket>;
  client: WebSocket;
  /** the proxy's end of the websocket */
  proxyWs: Promise<WebSocket>;
  counters: PumpCounters;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  let acceptVnc!: (s: Socket) => void;
  const vncSide = new Promise<Socket>((r) => (acceptVnc = r));
  const vnc: Server = createServer(acceptVnc);
  await new Promise<void>((r) => vnc.listen(0, '127.0.0.1', r));
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', r));
  const counters: PumpCounters = { toVm: 0, toClient: 0, lastClientActivity: Date.now() };
  const proxyWs = new Promise<WebSocket>((resolve) =>
    wss.once('connection', (ws) => {
      pump(ws, { host: '127.0.0.1', port: (vnc.address() as AddressInfo).port }, counters);
      resolve(ws);
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { perMessageDeflate: false });
  await new Promise<void>((r, j) => (client.once('open', r), client.once('error', j)));
  return {
    vncSide,
    client,
    proxyWs,
    counters,
    async close() {
      client.terminate();
      (await vncSide).destroy();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => vnc.close(() => r()));
    },
  };
}

describe('console pump', () => {
  const rigs: Rig[] = [];
  after(async () => {
    for (const r of rigs) await r.close();
  });

  test('VNC → browser: 24 MB in varied chunk sizes arrive intact and in order', async () => {
    const r = await rig();
    rigs.push(r);
    const total = 24 * 1024 * 1024;
    let got = 0;
    let bad = -1;
    r.client.on('message', (d: Buffer) => {
      for (let i = 0; i < d.length && bad < 0; i++) if (d[i] !== patternByte(got + i)) bad = got + i;
      got += d.length;
    });
    const vnc = await r.vncSide;
    // tiny writes (input echoes) and large ones (screen updates), as fast as the socket takes them
    let sent = 0;
    const sizes = [1, 7, 64, 4096, 65_537, 300_000, 1_000_003];
    for (let k = 0; sent < total; k++) {
      const n = Math.min(sizes[k % sizes.length]!, total - sent);
      if (!vnc.write(patterned(sent, n))) await new Promise((res) => vnc.once('drain', res));
      sent += n;
    }
    await waitFor('all bytes at the browser', () => got >= total || bad >= 0);
    assert.equal(bad, -1, `first wrong byte at offset ${bad}`);
    assert.equal(got, total);
    assert.equal(r.counters.toClient, total);
  });

  test('a browser that stops reading stops the VNC socket (bounded buffering), then everything arrives', async () => {
    const r = await rig();
    rigs.push(r);
    const vnc = await r.vncSide;
    const proxyWs = await r.proxyWs;
    let got = 0;
    let bad = -1;
    r.client.on('message', (d: Buffer) => {
      for (let i = 0; i < d.length && bad < 0; i++) if (d[i] !== patternByte(got + i)) bad = got + i;
      got += d.length;
    });
    // the browser stops reading its socket
    const clientTcp = (r.client as unknown as { _socket: Socket })._socket;
    clientTcp.pause();
    // the VNC server writes whenever its socket lets it
    let written = 0;
    let stop = false;
    const chunk = 256 * 1024;
    const writeMore = (): void => {
      while (!stop) {
        const ok = vnc.write(patterned(written, chunk));
        written += chunk;
        if (!ok) return void vnc.once('drain', writeMore);
      }
    };
    writeMore();
    const held = await heldBack('the VNC server', () => written);
    // Kernel socket buffers hold a few MB on loopback; the proxy itself holds at most one read
    // (256 KiB) plus its frame header.
    assert.ok(proxyWs.bufferedAmount <= 256 * 1024 + 14, `proxy buffered ${proxyWs.bufferedAmount} bytes`);
    assert.ok(held < 64 * 1024 * 1024, `${held} bytes left the VNC server while the browser was not reading`);
    stop = true;
    clientTcp.resume();
    await waitFor('everything written to arrive', () => got >= written || bad >= 0);
    assert.equal(bad, -1, `first wrong byte at offset ${bad}`);
    assert.equal(got, written);
  });

  test('a VNC server that stops reading pauses the browser side; input arrives in order afterwards', async () => {
    const r = await rig();
    rigs.push(r);
    const vnc = await r.vncSide;
    vnc.pause();
    const clientTcp = (r.client as unknown as { _socket: Socket })._socket;
    const frame = 60 * 1024;
    let sent = 0;
    let stop = false;
    // the browser sends as long as its own socket takes it (like a paste or a storm of events)
    const sendMore = (): void => {
      while (!stop && r.client.bufferedAmount < 1024 * 1024) {
        r.client.send(patterned(sent, frame), { binary: true });
        sent += frame;
      }
      if (!stop) setTimeout(sendMore, 10);
    };
    sendMore();
    await heldBack('the browser', () => sent);
    // everything not yet at the VNC server sits in kernel buffers or the browser's own queue
    assert.ok(sent - r.counters.toVm < 64 * 1024 * 1024);
    assert.ok(sent < 128 * 1024 * 1024, `${sent} bytes accepted while the VNC server reads nothing`);
    stop = true;
    let got = 0;
    let bad = -1;
    vnc.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length && bad < 0; i++) if (d[i] !== patternByte(got + i)) bad = got + i;
      got += d.length;
    });
    vnc.resume();
    await waitFor('all input at the VNC server', () => got >= sent || bad >= 0);
    assert.equal(bad, -1, `first wrong byte at offset ${bad}`);
    assert.equal(got, sent);
    assert.ok(clientTcp.writable);
  });
});
