// What several LIMEN instances on one PostgreSQL share besides tables: notifications
// (LISTEN/NOTIFY) and advisory locks. Both live on ONE dedicated connection per instance, outside
// the pool, because:
// - LISTEN only hears on the session that issued it, and a pooled connection is handed around;
// - session advisory locks are owned by the session: when an instance dies (SIGKILL, power loss,
//   network cut) PostgreSQL ends its session and every lock it held is released with it. That is
//   exactly the failover we want for "one reconciler per host" and "one operation per VM".
// The session reconnects with backoff; a lost connection means every lock is gone (the server
// dropped them), so `held` is cleared and callers re-acquire on their next tick.
// PGlite is single-instance by definition (one process owns the data dir): notifications are
// not needed and locks are an in-process table with the same semantics.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Database } from './db.js';

export interface ClusterLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ClusterSession {
  /** Random per process start: tags NOTIFY payloads so an instance skips its own. */
  readonly instanceId: string;
  /** true when other instances may exist (PostgreSQL): notifications and locks cross processes. */
  readonly shared: boolean;
  /** Sends a notification (through the pool: NOTIFY needs no dedicated session). */
  notify(channel: string, payload: string): Promise<void>;
  /** Subscribes to a channel; re-LISTENed after every reconnect. Returns unsubscribe. */
  listen(channel: string, cb: (payload: string) => void): () => void;
  /** Session advisory lock, counted: every successful tryLock needs one unlock. false when taken or disconnected. */
  tryLock(key: string): Promise<boolean>;
  unlock(key: string): Promise<void>;
  /** Leadership for a background loop: takes the lock once and keeps it (no counting). */
  lead(key: string): Promise<boolean>;
  isHeld(key: string): boolean;
  /** Connected to the database (PGlite: always). */
  connected(): boolean;
  close(): Promise<void>;
}

export interface ClusterSessionOptions {
  log: ClusterLog;
  /** liveness probe of the dedicated connection (a silent network loss raises no socket error) */
  heartbeatMs?: number;
  maxBackoffMs?: number;
}

const LOCK_SQL = 'select pg_try_advisory_lock(hashtextextended($1, 0)) as ok';
const UNLOCK_SQL = 'select pg_advisory_unlock(hashtextextended($1, 0)) as ok';

/** Channel names are fixed identifiers of ours; quoting keeps LISTEN safe anyway. */
const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`;

export async function openClusterSession(database: Database, opts: ClusterSessionOptions): Promise<ClusterSession> {
  if (database.raw.kind === 'pglite') return localSession();
  const { pool, url } = database.raw;
  const PgClient = (await import('pg')).default.Client;
  return pgSession(pool, () => new PgClient({ connectionString: url, keepAlive: true, application_name: 'limen-cluster' }), opts);
}

function localSession(): ClusterSession {
  const held = new Map<string, number>();
  const listeners = new Map<string, Set<(p: string) => void>>();
  return {
    instanceId: randomUUID(),
    shared: false,
    async notify() {
      // single instance: the event hub already delivered locally
    },
    listen(channel, cb) {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set.add(cb));
      return () => set.delete(cb);
    },
    async tryLock(key) {
      held.set(key, (held.get(key) ?? 0) + 1);
      return true;
    },
    async unlock(key) {
      const n = (held.get(key) ?? 0) - 1;
      if (n > 0) held.set(key, n);
      else held.delete(key);
    },
    async lead(key) {
      if (!held.has(key)) held.set(key, 1);
      return true;
    },
    isHeld: (key) => held.has(key),
    connected: () => true,
    async close() {
      held.clear();
    },
  };
}

function pgSession(pool: pg.Pool, newClient: () => pg.Client, opts: ClusterSessionOptions): ClusterSession {
  const instanceId = randomUUID();
  const held = new Map<string, number>();
  const pending = new Map<string, Promise<boolean>>();
  const listeners = new Map<string, Set<(p: string) => void>>();
  let client: pg.Client | undefined;
  let closed = false;
  let backoff = 200;
  let retry: NodeJS.Timeout | undefined;
  // pg wants one query at a time per client (it queues, but deprecates overlapping calls)
  let queue: Promise<unknown> = Promise.resolve();
  const run = <R extends pg.QueryResultRow>(c: pg.Client, text: string, params?: unknown[]): Promise<pg.QueryResult<R>> => {
    const p = queue.then(() => c.query<R>(text, params));
    queue = p.catch(() => undefined);
    return p;
  };

  const lost = (c: pg.Client, err: unknown): void => {
    if (client !== c) return;
    client = undefined;
    held.clear();
    c.removeAllListeners('notification');
    c.end().catch(() => undefined);
    if (closed) return;
    opts.log.warn({ err }, 'cluster session lost (advisory locks released); reconnecting');
    schedule();
  };

  const schedule = (): void => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, backoff);
    retry.unref();
    backoff = Math.min(backoff * 2, opts.maxBackoffMs ?? 5_000);
  };

  async function connect(): Promise<void> {
    const c = newClient();
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c, new Error('connection ended')));
    c.on('notification', (m) => {
      for (const cb of listeners.get(m.channel) ?? []) cb(m.payload ?? '');
    });
    try {
      await c.connect();
      for (const ch of listeners.keys()) await c.query(`listen ${ident(ch)}`);
      queue = Promise.resolve();
    } catch (err) {
      c.removeAllListeners();
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
      opts.log.warn({ err }, 'cluster session cannot connect; retrying');
      schedule();
      return;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    backoff = 200;
    opts.log.info({ instance: instanceId }, 'cluster session connected');
  }

  const heartbeat = setInterval(() => {
    const c = client;
    if (!c) return;
    const t = setTimeout(() => lost(c, new Error('heartbeat timed out')), 5_000);
    run(c, 'select 1').then(
      () => clearTimeout(t),
      (err: unknown) => {
        clearTimeout(t);
        lost(c, err);
      },
    );
  }, opts.heartbeatMs ?? 5_000);
  heartbeat.unref();

  const acquire = async (key: string): Promise<boolean> => {
    const c = client;
    if (!c) return false;
    try {
      const r = await run<{ ok: boolean }>(c, LOCK_SQL, [key]);
      return r.rows[0]?.ok === true && client === c;
    } catch (err) {
      lost(c, err);
      return false;
    }
  };

  // Concurrent callers of one key share one round trip, so the server-side count stays at 1.
  const acquireOnce = (key: string): Promise<boolean> => {
    let p = pending.get(key);
    if (!p) {
      p = acquire(key).finally(() => pending.delete(key));
      pending.set(key, p);
    }
    return p;
  };

  void connect();

  return {
    instanceId,
    shared: true,
    async notify(channel, payload) {
      await pool.query('select pg_notify($1, $2)', [channel, payload]);
    },
    listen(channel, cb) {
      const fresh = !listeners.has(channel);
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set.add(cb));
      const c = client;
      if (fresh && c) run(c, `listen ${ident(channel)}`).catch((err: unknown) => lost(c, err));
      return () => set.delete(cb);
    },
    async tryLock(key) {
      const n = held.get(key);
      if (n !== undefined) {
        held.set(key, n + 1);
        return true;
      }
      if (!(await acquireOnce(key))) return false;
      // callers that shared one acquisition each count once
      held.set(key, (held.get(key) ?? 0) + 1);
      return true;
    },
    async unlock(key) {
      const n = held.get(key);
      if (n === undefined) return;
      if (n > 1) {
        held.set(key, n - 1);
        return;
      }
      held.delete(key);
      const c = client;
      if (c) await run(c, UNLOCK_SQL, [key]).catch((err: unknown) => lost(c, err));
    },
    async lead(key) {
      if (held.has(key)) return true;
      if (!(await acquireOnce(key))) return false;
      if (!held.has(key)) held.set(key, 1);
      return true;
    },
    isHeld: (key) => held.has(key),
    connected: () => client !== undefined,
    async close() {
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(retry);
      const c = client;
      client = undefined;
      held.clear();
      await c?.end().catch(() => undefined);
    },
  };
}
