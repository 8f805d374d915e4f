// Starts and stops a private instance of a real component through the project's own scripts,
// for tests that must take a dependency down without disturbing other test files.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPTS = join(import.meta.dirname, '..', '..', 'scripts', 'services');

export interface PrivatePostgres {
  url: string;
  start(): void;
  stop(): void;
  /** The same without blocking the event loop (an in-process app keeps serving meanwhile). */
  startAsync(): Promise<void>;
  stopAsync(): Promise<void>;
}

export function privatePostgres(port: number): PrivatePostgres {
  const state = mkdtempSync(join(tmpdir(), 'limen-pg-'));
  chmodSync(state, 0o755); // postgres must traverse it
  const env = { ...process.env, LIMEN_STATE: state, LIMEN_PG_PORT: String(port) };
  const run = (cmd: string): string => execFileSync('bash', [join(SCRIPTS, 'postgres.sh'), cmd], { env, encoding: 'utf8', timeout: 120_000 }).trim();
  const runAsync = (cmd: string): Promise<void> =>
    new Promise((ok, fail) => execFile('bash', [join(SCRIPTS, 'postgres.sh'), cmd], { env, timeout: 120_000 }, (err) => (err ? fail(new Error(`postgres.sh ${cmd} failed`, { cause: err })) : ok())));
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => void run('start'),
    stop: () => void run('stop'),
    startAsync: () => runAsync('start'),
    stopAsync: () => runAsync('stop'),
  };
}
