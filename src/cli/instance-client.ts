// The CLI as an admin of the RUNNING instance: for work that needs the server (a VM move needs its
// libvirt connections and VM locks) or that cannot open the database itself (the embedded database
// is held by the server). Finds the instance like `limen alerts config` (--url / LIMEN_URL, else
// its limen.pid) and signs in as an admin (--user, default LIMEN_ADMIN_USER; password from
// LIMEN_ADMIN_PASSWORD[_FILE], else $LIMEN_DATA_DIR/initial-admin-password).
import { existsSync, openAsBlob, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { Config } from '../config/config.js';
import { instanceUrl } from './alerts.command.js';
import { runningInstance } from './cli-database.js';

/** Prints the message and exits 1 (the CLI's way to refuse). */
export const cliFail = (msg: string): never => {
  console.error(msg);
  process.exit(1);
};

/** What the API answers on error (CONTRACT §3). */
export interface ApiErrorBody {
  error_code?: string;
  message?: string;
}

export interface InstanceClient {
  base: string;
  call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<{ status: number; body: T & ApiErrorBody }>;
  /** PUT of a file's bytes as application/octet-stream (streamed from disk, with its length). */
  upload<T>(path: string, file: string): Promise<{ status: number; body: T & ApiErrorBody }>;
}

async function request<T>(url: string, init: RequestInit): Promise<{ status: number; body: T & ApiErrorBody }> {
  const r = await fetch(url, { ...init, headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers } }).catch((e: unknown) =>
    cliFail(`cannot reach LIMEN at ${url}: ${(e as Error).message}`),
  );
  return { status: r.status, body: (await r.json().catch(() => ({}))) as T & ApiErrorBody };
}

export async function signInToInstance(config: Config, o: { url?: string; user?: string }): Promise<InstanceClient> {
  const base = instanceUrl(config, o.url);
  const passwordFile = join(config.dataDir, 'initial-admin-password');
  const password = config.adminPassword ?? (existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : cliFail('no admin password: set LIMEN_ADMIN_PASSWORD (or _FILE)'));
  const login = await request<{ access_token?: string }>(`${base}/api/auth/login`, { method: 'POST', body: JSON.stringify({ username: o.user ?? config.adminUser, password }) });
  if (login.status !== 200 || !login.body.access_token) cliFail(`sign-in failed (${login.status}): ${login.body.message ?? ''}`);
  const auth = { authorization: `Bearer ${login.body.access_token}` };
  return {
    base,
    call: (method, path, body) => request(`${base}${path}`, { method, headers: auth, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }),
    upload: async (path, file) => request(`${base}${path}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: await openAsBlob(file) }),
  };
}

/** "refused (409 CONFLICT): …" for an error answer. */
export const refusal = (r: { status: number; body: ApiErrorBody }): string => `refused (${r.status} ${r.body.error_code ?? ''}): ${r.body.message ?? ''}`;

/** --url and --user of a command that may go through the running server (`limen hosts`, `limen isos add-demo`). */
export interface ApiOptions {
  url?: string;
  user?: string;
}

export const withApiOptions = (c: Command): Command =>
  c.addOption(new Option('--url <url>', 'base URL of the LIMEN instance (when it holds the embedded database)').env('LIMEN_URL')).option('--user <name>', 'admin account for the API (default LIMEN_ADMIN_USER)');

/**
 * The running server's admin API when it holds the embedded database (its limen.pid is alive):
 * only that process may open it. undefined: no server, or PostgreSQL — use the database directly.
 */
export async function apiWhenServerHoldsDatabase(config: Config, o: ApiOptions): Promise<InstanceClient | undefined> {
  if (config.databaseUrl || !runningInstance(config)) return undefined;
  return signInToInstance(config, o);
}
