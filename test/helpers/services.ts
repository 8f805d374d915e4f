// Starts and stops a private instance of a real component through the project's own scripts,
// for tests that must take a dependency down without disturbing other test files.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
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

export interface PrivateServices {
  /** the $LIMEN_STATE the scripts keep their daemons, PIDs and sockets in */
  state: string;
  /** Runs scripts/services/<script> with these arguments; its stdout, trimmed. */
  run(script: string, ...args: string[]): string;
  /** Removes the state folder (stop the daemons first). */
  remove(): void;
}

/** A private state folder for the service scripts (a second libvirtd, sshd…): the daemons a test starts there are its own. */
export function privateServices(prefix: string): PrivateServices {
  const state = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(state, 0o755); // libvirt-qemu and postgres must traverse it
  const env = { ...process.env, LIMEN_STATE: state };
  return {
    state,
    run: (script, ...args) => execFileSync('bash', [join(SCRIPTS, script), ...args], { env, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim(),
    remove: () => rmSync(state, { recursive: true, force: true }),
  };
}
