// Byte pump between a browser websocket and a VM's VNC TCP socket: pure RFB both ways, binary
// frames only, nothing added. Backpressure both ways: a slow browser pauses the VNC socket, a
// slow VNC server pauses the websocket, so memory per session stays bounded.
import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';

// Pause reading from VNC once this much is queued for the browser; resume below the low mark.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

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

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Starts pumping; resolves once either side has closed (the caller closes the other). */
export function pump(ws: WebSocket, tcp: Socket, counters: PumpCounters, now: () => number = Date.now): Promise<PumpEnd> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (end: PumpEnd): void => {
      if (done) return;
      done = true;
      resolve(end);
    };

    let vncPaused = false;
    tcp.on('data', (chunk: Buffer) => {
      counters.toClient += chunk.length;
      ws.send(chunk, { binary: true }, () => {
        if (vncPaused && ws.bufferedAmount < LOW_WATER) {
          vncPaused = false;
          tcp.resume();
        }
      });
      if (!vncPaused && ws.bufferedAmount > HIGH_WATER) {
        vncPaused = true;
        tcp.pause();
      }
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
  });
}
