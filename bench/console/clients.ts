// What console.bench.ts and rtt-ab.ts share: starting a bench child process (source.ts,
// limen-server.ts), talking to it over IPC, and client connections of one shape for a raw TCP
// socket and a websocket (LIMEN's console or websockify).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { BANNER } from './protocol.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * Starts `node FLAGS --import tsx FILE ARGS…` (recorded in `children`, so the caller stops it by
 * its handle) and resolves with its first stdout line parsed as JSON.
 */
export async function startNodeChild<T>(
  children: ChildProcess[],
  file: string,
  args: string[],
  nodeFlags: string[] = [],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; info: T }> {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(HERE, file), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    let ready = false;
    // The first JSON line is the child's answer; anything else (e.g. --trace-gc) goes to stderr.
    rl.on('line', (l) => {
      if (!ready && l.startsWith('{')) {
        ready = true;
        resolve(l);
      } else process.stderr.write(`[${file}] ${l}\n`);
    });
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before it was ready`)));
  });
  return { child, info: JSON.parse(line) as T };
}

/** Sends `msg` over IPC and resolves with the first answer that has `key`. */
export function ask<T>(child: ChildProcess, msg: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (typeof m !== 'object' || m === null || !(key in m)) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}

export interface Conn {
  send(b: Buffer): void;
  /** Resolves once `n` more bytes have arrived. */
  receive(n: number): Promise<void>;
  close(): void;
}

function byteWaiter() {
  let need = 0;
  let got = 0;
  let done: (() => void) | undefined;
  return {
    add(n: number): void {
      got += n;
      if (done && got >= need) {
        const d = done;
        done = undefined;
        got -= need;
        d();
      }
    },
    wait(n: number): Promise<void> {
      return new Promise((resolve) => {
        need = n;
        if (got >= need) {
          got -= need;
          resolve();
        } else done = resolve;
      });
    },
  };
}

export async function tcpConn(port: number): Promise<Conn> {
  const w = byteWaiter();
  const s: Socket = connect({ port, host: '127.0.0.1', noDelay: true });
  s.on('data', (d: Buffer) => w.add(d.length));
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  await w.wait(BANNER.length);
  return { send: (b) => s.write(b), receive: (n) => w.wait(n), close: () => s.destroy() };
}

export async function wsConn(url: string): Promise<Conn> {
  const w = byteWaiter();
  // noVNC's subprotocol; no compression offer (VNC data is compressed or raw pixels already).
  const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
  ws.binaryType = 'nodebuffer';
  ws.on('message', (d: Buffer) => w.add(d.length));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode} on upgrade`)));
    ws.once('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
  });
  await w.wait(BANNER.length);
  return { send: (b) => ws.send(b, { binary: true }), receive: (n) => w.wait(n), close: () => ws.terminate() };
}

/** What limen-server.ts prints once it listens. */
export interface BenchLimenInfo {
  port: number;
  username: string;
  password: string;
  uuid: string;
}

/** Logs in to a bench LIMEN; the answer opens one console session (a fresh ticket each time). */
export async function benchLimenSessions(info: BenchLimenInfo): Promise<() => Promise<Conn>> {
  const base = `http://127.0.0.1:${info.port}`;
  const login = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: info.username, password: info.password }),
  });
  if (login.status !== 200) throw new Error(`login: HTTP ${login.status}`);
  const { access_token } = (await login.json()) as { access_token: string };
  return async () => {
    const r = await fetch(`${base}/api/vms/${info.uuid}/console`, { method: 'POST', headers: { authorization: `Bearer ${access_token}` } });
    if (r.status !== 200) throw new Error(`ticket: HTTP ${r.status} ${await r.text()}`);
    const { ws_url } = (await r.json()) as { ws_url: string };
    return wsConn(base.replace(/^http/, 'ws') + ws_url);
  };
}
