// Byte pump between a browser websocket and a VM's VNC TCP socket: pure RFB both ways, binary
// frames only, nothing added. Backpressure both ways: a slow browser pauses the VNC socket, a
// slow VNC server pauses the websocket, so memory per session stays bounded.
//
// VNC → browser reads into ONE reusable buffer per session (net's `onread`), so a bulk screen
// update allocates nothing per chunk: fresh 64 KiB buffers per read made V8 run full collections
// every ~20 MB moved, the biggest cost of the proxy (bench/console). ws sends a Buffer without
// copying it, so the socket stays paused until the frame is written, then the buffer is reused.
import { connect, type Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';

const READ_BUFFER_BYTES = 256 * 1024;

export interface PumpCounters {
  toVm: number;
  toClient: number;
  /** Last time the browser sent anything (input events, keepalive): for the idle timeout. */
  lastClientActivity: number;
}

export interface PumpEnd {
  by: 'client' | 'vnc';
  error?: Error;
}

export interface Pump {
  /** The VNC connection (destroy it to end the session from the server side). */
  tcp: Socket;
  /** Resolves once either side has closed (the caller closes the other). */
  ended: Promise<PumpEnd>;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Connects to the VNC endpoint and pumps until one side closes. */
export function pump(ws: WebSocket, endpoint: { host: string; port: number }, counters: PumpCounters, now: () => number = Date.now): Pump {
  let resolveEnd!: (e: PumpEnd) => void;
  const ended = new Promise<PumpEnd>((r) => (resolveEnd = r));
  let done = false;
  const finish = (end: PumpEnd): void => {
    if (done) return;
    done = true;
    resolveEnd(end);
  };

  const tcp: Socket = connect({
    host: endpoint.host,
    port: endpoint.port,
    noDelay: true,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback(nread: number, buf: Uint8Array): boolean {
        counters.toClient += nread;
        ws.send(Buffer.from(buf.buffer, buf.byteOffset, nread), { binary: true }, () => {
          // The frame left (or the socket died): the buffer is free to be filled again.
          if (!done) tcp.resume();
        });
        return false; // pause until the send above completes
      },
    },
  });

  ws.on('message', (data: RawData, isBinary: boolean) => {
    counters.lastClientActivity = now();
    // RFB is binary; a text frame is not part of the protocol and is dropped, never forwarded.
    if (!isBinary) return;
    const buf = toBuffer(data);
    counters.toVm += buf.length;
    if (!tcp.write(buf)) ws.pause();
  });
  tcp.on('drain', () => ws.resume());

  tcp.on('error', (error) => finish({ by: 'vnc', error }));
  tcp.on('close', () => finish({ by: 'vnc' }));
  ws.on('error', (error) => finish({ by: 'client', error }));
  ws.on('close', () => finish({ by: 'client' }));
  return { tcp, ended };
}
