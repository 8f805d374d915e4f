// One database handle for both engines: a PostgreSQL server (DATABASE_URL) or the embedded
// PGlite in the data dir. Both speak the same SQL dialect, so repos and migrations are shared.
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { attachPrepared, pglitePreparedRunner } from './prepared.js';
import { queryRows } from './query.js';

export type Db = PgDatabase<PgQueryResultHKT>;
/** A transaction handle has the same query surface as Db. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Really asks the database, bounded by timeoutMs. */
  ping(timeoutMs: number): Promise<boolean>;
  /** For LISTEN/NOTIFY and backups: raw access to the engine. */
  raw: RawEngine;
  close(): Promise<void>;
}

export type RawEngine =
  | { kind: 'postgres'; pool: import('pg').Pool; url: string }
  | { kind: 'pglite'; pglite: import('@electric-sql/pglite').PGlite; dir: string };

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface OpenDatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  /** Embedded only: keep the database in memory (tests). */
  memory?: boolean;
  /** Called when the pool reports a background connection error (never throws). */
  onError?: (err: Error) => void;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (opts.databaseUrl) {
    const pg = await import('pg');
    const { drizzle } = await import('drizzle-orm/node-postgres');
    const pool = new pg.default.Pool({
      connectionString: opts.databaseUrl,
      // Bursts queue for a connection; a request that waits this long gets 503 (error handler).
      max: 20,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 10_000,
      // A statement never hangs a request forever when the server stalls.
      statement_timeout: 15_000,
    });
    pool.on('error', (err) => opts.onError?.(err));
    // pg-pool listens for errors only on IDLE clients: a checked-out client (a transaction between
    // two statements, a migration session) whose server connection dies emits 'error' with no
    // listener, which is an uncaught exception that ends the process — a PostgreSQL restart under
    // load used to kill LIMEN. The statement in flight still fails (→ 503); this just keeps the
    // process alive. Every client gets a listener of its own for its whole life.
    pool.on('connect', (client) => client.on('error', (err) => opts.onError?.(err)));
    const db = drizzle(pool) as unknown as Db;
    db.transaction = transactionsThatRelease(pool, drizzle);
    return {
      db,
      kind: 'postgres',
      raw: { kind: 'postgres', pool, url: opts.databaseUrl },
      ping: (ms) => pingDb(db, ms),
      close: () => pool.end(),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const dir = opts.memory ? 'memory://' : join(opts.dataDir, 'db');
  if (!opts.memory) mkdirSync(dir, { recursive: true });
  const pglite = await PGlite.create(dir, { ...(await pgliteAssets()), startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
  const db = drizzle(pglite) as unknown as Db;
  attachPrepared(db, await pglitePreparedRunner(pglite, Object.fromEntries(TEXT_TYPES.map((oid) => [oid, (v: string) => v]))));
  return {
    db,
    kind: 'pglite',
    raw: { kind: 'pglite', pglite, dir },
    ping: (ms) => pingDb(db, ms),
    close: () => pglite.close(),
  };
}

/**
 * drizzle's transaction on a pool sends `begin` before its try/finally: when `begin` fails (the
 * server went away between checkout and begin: a PostgreSQL restart under load) the client is
 * never released. Each leak takes one of the pool's connections for good — enough of them and
 * every request waits for a connection and fails — and pool.end() never returns. Here the client
 * is checked out by us and always released; drizzle runs the transaction on that one client
 * (pg-pool drops a released client whose connection is dead).
 */
function transactionsThatRelease(pool: import('pg').Pool, onClient: (client: import('pg').PoolClient) => Db): Db['transaction'] {
  return async (fn, config) => {
    const client = await pool.connect();
    try {
      return await onClient(client).transaction(fn, config);
    } finally {
      client.release();
    }
  };
}

/**
 * The embedded server initialises its whole buffer pool at start (it is resident memory from the
 * first second): PostgreSQL's default 128 MB is most of an idle LIMEN's RSS. LIMEN's database is
 * small (users, VMs, audit) and the OS page cache still holds the data files, so 16 MB is plenty
 * (bench/memory: idle RSS −115 MiB).
 */
const PGLITE_SETTINGS = ['-c', 'shared_buffers=16MB'];

/**
 * Date, time and interval types (and their arrays) stay text, as drizzle's PGlite session returns
 * them: the prepared path (prepared.ts) must hand repos the same rows as drizzle.
 */
const TEXT_TYPES = [1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182];

/**
 * PGlite's WebAssembly compiled once per process: compiling it is most of PGlite's start-up cost
 * (seconds on a busy 2-core machine), and the CLI, the drill and tests open several databases.
 */
let assets: Promise<{ pgliteWasmModule: WebAssembly.Module; initdbWasmModule: WebAssembly.Module; fsBundle: Blob }> | undefined;
function pgliteAssets() {
  assets ??= (async () => {
    const dist = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
    const [pglite, initdb, data] = await Promise.all(['pglite.wasm', 'initdb.wasm', 'pglite.data'].map((f) => readFile(join(dist, f))));
    const [pgliteWasmModule, initdbWasmModule] = await Promise.all([WebAssembly.compile(pglite!), WebAssembly.compile(initdb!)]);
    return { pgliteWasmModule, initdbWasmModule, fsBundle: new Blob([data!]) };
  })();
  return assets;
}

async function pingDb(db: Db, ms: number): Promise<boolean> {
  try {
    // queryRows: on PGlite the cached prepared statement (one call into the WebAssembly backend
    // instead of six, every 5 s from the dependency probe, on the event loop)
    await withTimeout(queryRows(db, sql`select 1`), ms, 'database ping');
    return true;
  } catch {
    return false;
  }
}
