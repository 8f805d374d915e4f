// Byte pump between a browser websocket and a VM's VNC TCP socket: pure RFB both ways, binary
// frames only, nothing added. Backpressure both ways: a slow browser pauses the VNC socket, a
// slow VNC server pauses the websocket, so memory per session stays bounded.
//
// VNC → browser reads into ONE reusable buffer per session (net's `onread`), so a bulk screen
// update allocates nothing per chunk: fresh 64 KiB buffers per read made V8 run full collections
// every ~20 MB moved, the biggest cost of the proxy (bench/console). ws sends a Buffer without
// copying it: when the kernel took the whole frame at once the buffer is free and reading goes
// on; otherwise the socket stays paused until ws has written the frame. (Pausing after every
// read re-armed the socket in epoll twice per frame: docs/performance.md, console tail latency.)
//
// For hosts reached over SSH the VNC bytes come through an `ssh -W` child (ssh-tunnel.ts): the
// same pump runs over its stdout/stdin (pumpStreams), with the same backpressure both ways.
import { connect, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { WebSocket, RawData } from 'ws';

const READ_BUFFER_BYTES = 256 * 1024;
const SEND_BINARY = { binary: true } as const;

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
  /** Ends the VNC side (the session is being closed from the server side). */
  destroy(): void;
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

  // Frames handed to ws, and how many of them ws has written (until then the last one's bytes
  // may still be in the read buffer).
  let sent = 0;
  let written = 0;
  let waiting = false;
  // One callback per session, not a closure per frame: counts the writes that completed.
  const afterSend = (): void => {
    written++;
    if (waiting && written === sent) {
      waiting = false;
      if (!done) tcp.resume();
    }
  };
  const tcp: Socket = connect({
    host: endpoint.host,
    port: endpoint.port,
    noDelay: true,
    onread: {
      buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
      callback(nread: number, buf: Uint8Array): boolean {
        counters.toClient += nread;
        sent++;
        ws.send(Buffer.from(buf.buffer, buf.byteOffset, nread), SEND_BINARY, afterSend);
        // The kernel took the whole frame at once (the usual case for input echoes and small
        // updates): the buffer is free, keep reading. Otherwise pause until ws has written it.
        if (ws.bufferedAmount === 0) return true;
        waiting = true;
        return false;
      },
    },
  });

  forwardClient(ws, tcp, counters, now);
  tcp.on('error', (error) => finish({ by: 'vnc', error }));
  tcp.on('close', () => finish({ by: 'vnc' }));
  ws.on('error', (error) => finish({ by: 'client', error }));
  ws.on('close', () => finish({ by: 'client' }));
  return { destroy: () => tcp.destroy(), ended };
}

/** Browser → VNC: binary frames only, the websocket paused while the VNC side is full. */
function forwardClient(ws: WebSocket, sink: Writable, counters: PumpCounters, now: () => number): void {
  ws.on('message', (data: RawData, isBinary: boolean) => {
    counters.lastClientActivity = now();
    // RFB is binary; a text frame is not part of the protocol and is dropped, never forwarded.
    if (!isBinary) return;
    const buf = toBuffer(data);
    counters.toVm += buf.length;
    if (!sink.write(buf)) ws.pause();
  });
  sink.on('drain', () => ws.resume());
}

/**
 * The same pump over a pair of streams (an `ssh -W` child's stdout and stdin). `ended` resolves
 * when the browser leaves or the VNC side's output ends; `destroy` is the caller's to supply
 * (ending the child ends both streams).
 */
export function pumpStreams(
  ws: WebSocket,
  vnc: { output: Readable; input: Writable; destroy(): void },
  counters: PumpCounters,
  now: () => number = Date.now,
): Pump {
  let resolveEnd!: (e: PumpEnd) => void;
  const ended = new Promise<PumpEnd>((r) => (resolveEnd = r));
  let done = false;
  const finish = (end: PumpEnd): void => {
    if (done) return;
    done = true;
    resolveEnd(end);
  };
  vnc.output.on('data', (chunk: Buffer) => {
    counters.toClient += chunk.length;
    vnc.output.pause();
    ws.send(chunk, SEND_BINARY, () => {
      if (!done) vnc.output.resume();
    });
  });
  forwardClient(ws, vnc.input, counters, now);
  // a write after the child exited is an EPIPE: the output's end reports the close
  vnc.input.on('error', () => undefined);
  vnc.output.on('error', (error) => finish({ by: 'vnc', error }));
  vnc.output.on('close', () => finish({ by: 'vnc' }));
  ws.on('error', (error) => finish({ by: 'client', error }));
  ws.on('close', () => finish({ by: 'client' }));
  return { destroy: () => vnc.destroy(), ended };
}
