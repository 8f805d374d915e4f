// Shared by the api, events, metrics and memory benches: an in-process LIMEN app on the embedded
// database with the libvirt test driver and no disk images, 1,000 VMs seeded straight into SQL,
// and small statistics helpers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config/config.js';
import { buildApp, type App } from '../../src/app.js';
import { createLibvirtDriver, type DiskImages } from '../../src/hypervisor/index.js';
import { openDatabase, type Database } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { queryRows } from '../../src/platform/db/query.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { hashPassword } from '../../src/modules/auth/index.js';
import { round } from '../lib/results.js';

export const PASSWORD = 'bench-password-limen-1';

// Benches measure the API, not qemu-img: disks are recorded, not written.
export const noDisks: DiskImages = {
  createDisk: async () => undefined,
  deleteDisk: async () => true,
  resizeDisk: async () => undefined,
  createOverlay: async () => undefined,
  copyImage: async () => undefined,
  diskInfo: async () => ({ virtualSizeBytes: 0, actualSizeBytes: 0 }) as unknown as Awaited<ReturnType<DiskImages['diskInfo']>>,
};

export const sink = new Writable({ write: (_c, _e, cb) => cb() });
export const staticProbe = { sample: async () => ({ cpuPercent: 0, memoryPercent: 0, diskPercent: 0 }) };

export interface SeededUser {
  id: string;
  username: string;
  role: 'user' | 'admin';
}

/**
 * Inserts `users` active users (the first one an admin) owning `vms` VMs between them, in a few
 * multi-row statements. VMs start 'stopped' (their domains do not exist on the test driver, so
 * the reconciler marks them missing once, at start-up).
 */
export async function seed(database: Database, opts: { users: number; vms: number }): Promise<SeededUser[]> {
  const hash = await hashPassword(PASSWORD);
  const users: SeededUser[] = Array.from({ length: opts.users }, (_, i) => ({ id: randomUUID(), username: `bench${i}`, role: i === 0 ? 'admin' : 'user' }));
  const db = database.db;
  for (let i = 0; i < users.length; i += 200) {
    const rows = users.slice(i, i + 200).map((u) => sql`(${u.id}, ${u.username}, ${hash}, ${u.role}, 'active')`);
    await db.execute(sql`insert into users (id, username, password_hash, role, status) values ${sql.join(rows, sql`, `)}`);
  }
  const owners = users.length > 1 ? users.slice(1) : users;
  for (let i = 0; i < opts.vms; i += 250) {
    const rows = Array.from({ length: Math.min(250, opts.vms - i) }, (_, j) => {
      const n = i + j;
      const uuid = randomUUID();
      return sql`(${uuid}, ${owners[n % owners.length]!.id}, ${`vm-${n}`}, 1, 512, 10, 'default', 'stopped', 'stopped', ${`/bench/disks/${uuid}.qcow2`})`;
    });
    await db.execute(sql`insert into vms (uuid, owner_id, name, vcpus, memory_mb, disk_gb, host, state, desired_state, disk_path) values ${sql.join(rows, sql`, `)}`);
  }
  return users;
}

export interface BenchApp {
  app: App;
  database: Database;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * An in-process app on a migrated database — in memory (embedded), or a fresh database on the
 * PostgreSQL server at `databaseUrl` — seeded before the app starts.
 */
export async function benchApp(opts: { users?: number; vms?: number; env?: Record<string, string>; databaseUrl?: string } = {}): Promise<BenchApp & { users: SeededUser[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-bench-'));
  const databaseUrl = opts.databaseUrl ? await freshDatabase(opts.databaseUrl) : undefined;
  const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', LOG_LEVEL: 'warn', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...opts.env } });
  const database = await openDatabase({ databaseUrl, dataDir, memory: !databaseUrl });
  await migrate(database, MIGRATIONS_DIR);
  const users = await seed(database, { users: opts.users ?? 1, vms: opts.vms ?? 0 });
  const driver = createLibvirtDriver({ uri: 'test:///default' });
  await driver.connect();
  // Reconcile and sample once at start, then stay out of the measurements.
  const app = await buildApp({ config, database, driver, disks: noDisks, hostProbe: staticProbe, logStream: sink, vmOptions: { reconcileEveryMs: 3_600_000, statsEveryMs: 3_600_000 } });
  await app.ready();
  return {
    app,
    database,
    dataDir,
    users,
    async close() {
      await app.close();
      await driver.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function freshDatabase(serverUrl: string): Promise<string> {
  const pg = (await import('pg')).default;
  const name = `limen_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  return serverUrl.replace(/\/[^/]*$/, `/${name}`);
}

/**
 * A PostgreSQL server for the bench: LIMEN_BENCH_PG_URL when set, else a private throwaway
 * cluster (scripts/services/postgres.sh in its own state dir and port, stopped afterwards), else
 * none (PostgreSQL not installed: the bench runs on the embedded database only).
 */
export async function benchPostgres(): Promise<{ url: string; stop(): void } | undefined> {
  const given = process.env.LIMEN_BENCH_PG_URL;
  if (given) return { url: given, stop: () => undefined };
  const { existsSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  if (!existsSync('/usr/lib/postgresql')) return undefined;
  const state = mkdtempSync(join(tmpdir(), 'limen-bench-pg-'));
  const script = fileURLToPath(new URL('../../scripts/services/postgres.sh', import.meta.url));
  const env = { ...process.env, LIMEN_STATE: state, LIMEN_PG_PORT: String(56_500 + Math.floor(Math.random() * 400)) };
  try {
    const url = execFileSync('bash', [script, 'start'], { env, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop()!;
    return {
      url,
      stop() {
        execFileSync('bash', [script, 'stop'], { env, timeout: 60_000 });
        rmSync(state, { recursive: true, force: true });
      },
    };
  } catch (err) {
    console.warn(`no private PostgreSQL for the bench: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** Waits until no seeded VM is still in its seeded state (the start-up reconcile has run). */
export async function settled(database: Database, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const [r] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from vms where state = 'stopped'`);
    if (Number(r?.n) === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function loginToken(app: App, username: string): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: PASSWORD } });
  if (r.statusCode !== 200) throw new Error(`login ${username}: ${r.statusCode} ${r.body}`);
  return r.json<{ access_token: string }>().access_token;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function machine(): string {
  return `${cpus().length} cores, Node ${process.version}, 1-min load ${round(loadavg()[0]!, 2)}`;
}

export const load1 = (): number => round(loadavg()[0]!, 2);
