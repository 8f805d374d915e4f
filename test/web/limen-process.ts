// A real LIMEN for browser tests: `node bin/limen.js serve` as a child process with its own data
// dir, the libvirt test driver, and a free loopback port. Stopped by PID, also when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface LimenProcess {
  url: string;
  dataDir: string;
  adminPassword: string;
  output: () => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

export async function startLimen(opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<LimenProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-ui-data-'));
  // A real QEMU (libvirt-qemu user) must traverse the data dir to reach disks and ISOs.
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const adminPassword = `ui-test-${Math.random().toString(36).slice(2)}-pass`;
  let out = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'limen.js'), 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      LIMEN_DATA_DIR: dataDir,
      LIBVIRT_URI: 'test:///default',
      HOST: '127.0.0.1',
      PORT: String(port),
      LIMEN_ADMIN_USER: 'admin',
      LIMEN_ADMIN_PASSWORD: adminPassword,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  // Up means /api/health answers at all: 503 "degraded" still serves the UI.
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`limen serve exited with ${child.exitCode}:\n${out}`);
    }
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.status === 200 || res.status === 503) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`limen serve did not answer /api/health within the timeout:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, dataDir, adminPassword, output: () => out, stop };
}
