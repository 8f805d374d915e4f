// PostgreSQL server helpers for backup, restore and the drill: pg_dump / pg_restore (password in
// the environment, never on the command line where `ps` shows it) and database-level operations
// (create, rename-swap, drop) on the server's maintenance database.
import { execFile } from 'node:child_process';
import pg from 'pg';
import { childProcessEnv } from '../../config/runtime.js';

export interface PgTarget {
  /** URL without the password (safe for logs and argv) */
  url: string;
  password: string | undefined;
  database: string;
}

export function pgTarget(connectionUrl: string): PgTarget {
  const u = new URL(connectionUrl);
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = '';
  const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  return { url: u.toString(), password, database };
}

/** The same server and credentials, another database. */
export function withDatabase(connectionUrl: string, database: string): string {
  const u = new URL(connectionUrl);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A URL safe to show: password masked. */
export function maskUrl(connectionUrl: string): string {
  const u = new URL(connectionUrl);
  if (u.password) u.password = '***';
  return u.toString();
}

export function runTool(bin: string, args: string[], target: PgTarget, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { env: childProcessEnv({ PGPASSWORD: target.password }), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} failed: ${stderr.trim().split('\n').slice(-3).join(' / ') || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

export async function pgDump(connectionUrl: string, outFile: string, timeoutMs = 30 * 60_000): Promise<void> {
  const t = pgTarget(connectionUrl);
  // Custom format: compressed, restorable selectively, and pg_restore checks its structure.
  await runTool('pg_dump', ['-Fc', '--no-owner', '--no-acl', '-f', outFile, '-d', t.url], t, timeoutMs);
}

export async function pgRestore(connectionUrl: string, dumpFile: string, timeoutMs = 30 * 60_000): Promise<void> {
  const t = pgTarget(connectionUrl);
  // --exit-on-error + --single-transaction: an error leaves the (new, scratch) database empty.
  await runTool('pg_restore', ['--exit-on-error', '--single-transaction', '--no-owner', '--no-acl', '-d', t.url, dumpFile], t, timeoutMs);
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

async function onMaintenance<T>(connectionUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: withDatabase(connectionUrl, 'postgres'), connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function createDatabase(connectionUrl: string, name: string): Promise<string> {
  await onMaintenance(connectionUrl, (c) => c.query(`create database ${ident(name)}`));
  return withDatabase(connectionUrl, name);
}

export async function dropDatabase(connectionUrl: string, name: string): Promise<void> {
  await onMaintenance(connectionUrl, (c) => c.query(`drop database if exists ${ident(name)} with (force)`));
}

/**
 * Makes `staged` the live database in one transaction (ALTER DATABASE … RENAME is transactional):
 * either both renames happen or neither. The previous live database is kept as `retired`.
 * Sessions on the live database are ended first (the server is stopped; these are stragglers).
 */
export async function swapDatabases(connectionUrl: string, live: string, staged: string, retired: string): Promise<void> {
  await onMaintenance(connectionUrl, async (c) => {
    await c.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [live]);
    await c.query('begin');
    try {
      await c.query(`alter database ${ident(live)} rename to ${ident(retired)}`);
      await c.query(`alter database ${ident(staged)} rename to ${ident(live)}`);
      await c.query('commit');
    } catch (err) {
      await c.query('rollback').catch(() => undefined);
      throw err;
    }
  });
}
