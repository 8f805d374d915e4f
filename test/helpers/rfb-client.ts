// A minimal RFB 3.8 client over LIMEN's console websocket: the version handshake, security type
// None, ClientInit/ServerInit, then one full FramebufferUpdateRequest answered by the server.
// Enough to prove a real VNC server (QEMU) answered through every hop in between.
import WebSocket from 'ws';

export interface RfbSession {
  ws: WebSocket;
  greeting: string;
  width: number;
  height: number;
  /** First FramebufferUpdate: number of rectangles. */
  rectangles: number;
  closed: Promise<{ code: number; reason: string }>;
}

/** Bytes from binary websocket frames, read by exact lengths. */
class ByteReader {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended: Error | null = null;
  constructor(ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      this.ended = new Error(`socket closed ${code} ${reason.toString()}`);
      this.wake?.();
    });
  }
  async read(n: number, deadline: number): Promise<Buffer> {
    while (this.buf.length < n) {
      if (this.ended) throw this.ended;
      if (Date.now() > deadline) throw new Error(`RFB: timed out waiting for ${n} bytes (have ${this.buf.length})`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 200);
      });
      this.wake = null;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

export async function rfbConnect(url: string, timeoutMs = 60_000): Promise<RfbSession> {
  const ws = new WebSocket(url, ['binary']);
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const rd = new ByteReader(ws);
  const deadline = Date.now() + timeoutMs;
  const greeting = (await rd.read(12, deadline)).toString('latin1');
  if (!greeting.startsWith('RFB ')) throw new Error(`not RFB: ${JSON.stringify(greeting)}`);
  ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
  const nTypes = (await rd.read(1, deadline))[0]!;
  if (nTypes === 0) throw new Error('RFB: server refused the connection');
  const types = [...(await rd.read(nTypes, deadline))];
  if (!types.includes(1)) throw new Error(`RFB: no security type None offered (${types.join(',')})`);
  ws.send(Buffer.from([1]));
  const result = (await rd.read(4, deadline)).readUInt32BE(0);
  if (result !== 0) throw new Error('RFB: security handshake failed');
  ws.send(Buffer.from([1])); // ClientInit: shared
  const init = await rd.read(24, deadline);
  const width = init.readUInt16BE(0);
  const height = init.readUInt16BE(2);
  await rd.read(init.readUInt32BE(20), deadline); // desktop name
  const req = Buffer.alloc(10);
  req.writeUInt8(3, 0); // FramebufferUpdateRequest, not incremental, the whole screen
  req.writeUInt16BE(width, 6);
  req.writeUInt16BE(height, 8);
  ws.send(req);
  const head = await rd.read(4, deadline);
  if (head[0] !== 0) throw new Error(`RFB: expected FramebufferUpdate, got message type ${head[0]}`);
  return { ws, greeting, width, height, rectangles: head.readUInt16BE(2), closed };
}
