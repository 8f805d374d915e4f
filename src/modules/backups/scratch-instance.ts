// A second LIMEN process on a free loopback port with its own data dir (the drill's restored copy,
// readiness' private instance). Started as a child running the same build as this process, stopped
// by its PID only — also when the parent exits early.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { childProcessEnv, projectRoot } from '../../config/runtime.js';

export interface ScratchInstance {
  url: string;
  pid: number;
  logFile: string;
  /** last lines of the instance's output, for evidence */
  logTail(lines?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface ScratchOptions {
  dataDir: string;
  databaseUrl?: string;
  libvirtUri: string;
  /** extra environment (e.g. LIMEN_ADMIN_PASSWORD) */
  env?: Record<string, string>;
  logFile?: string;
  startTimeoutMs?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Same build as the caller: compiled dist/ when running from it, else the sources through tsx. */
function entry(): string[] {
  if (import.meta.url.endsWith('.js')) return [join(projectRoot, 'dist', 'cli', 'main.js'), 'serve'];
  return ['--import', 'tsx', join(projectRoot, 'src', 'cli', 'main.ts'), 'serve'];
}

const live = new Set<ChildProcess>();
let exitHook = false;
function killOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export async function startScratchInstance(opts: ScratchOptions): Promise<ScratchInstance> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = opts.logFile ?? join(opts.dataDir, 'scratch-instance.log');
  const out = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  const env = childProcessEnv({
    LIMEN_DATA_DIR: opts.dataDir,
    DATABASE_URL: opts.databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LIBVIRT_URI: opts.libvirtUri,
    LOG_LEVEL: 'warn',
    ...opts.env,
  });
  const child = spawn(process.execPath, entry(), { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  live.add(child);
  killOnExit();
  let exited: number | null | undefined;
  const exit = new Promise<void>((r) => child.once('exit', (code) => ((exited = code), live.delete(child), r())));

  const logTail = async (lines = 30): Promise<string> => (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    }
    out.end();
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`the scratch LIMEN exited with code ${exited} before answering; log:\n${await logTail()}`);
    }
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200 || res.status === 503) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the scratch LIMEN did not answer on ${url} in time; log:\n${await logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid!, logFile, logTail, stop };
}
