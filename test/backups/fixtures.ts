// Shared setup for backup tests: a real (file-based) database of either engine in a temp data
// dir, seeded with users, sessions, audit rows and VM rows whose qcow2 disks are real files.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config/config.js';
import { openDatabase, type Database } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { queryRows } from '../../src/platform/db/query.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { authRepo, hashPassword } from '../../src/modules/auth/index.js';
import { insertAudit } from '../../src/modules/audit/audit.repo.js';
import { PG_URL, type DbEngine } from '../helpers/db.js';

export interface Live {
  engine: DbEngine;
  dataDir: string;
  config: Config;
  database: Database;
  url: string | undefined;
  reopen(): Promise<Database>;
  cleanup(): Promise<void>;
}

/** memory: the embedded database starts in memory (fast); reopen() opens the restored one on disk. */
export async function liveInstall(engine: DbEngine, opts: { memory?: boolean } = {}): Promise<Live> {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-bk-'));
  let url: string | undefined;
  let name: string | undefined;
  if (engine === 'postgres') {
    name = `limen_bk_${randomUUID().slice(0, 8)}`;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`create database ${name}`);
    await c.end();
    url = PG_URL!.replace(/\/[^/]*$/, `/${name}`);
  }
  const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', ...(url ? { DATABASE_URL: url } : {}) }, version: '0.0.0-test', commit: 'test' });
  let memory = opts.memory ?? false;
  const open = async (): Promise<Database> => {
    const d = await openDatabase({ databaseUrl: url, dataDir, memory });
    memory = false;
    await migrate(d, MIGRATIONS_DIR);
    return d;
  };
  const live: Live = {
    engine,
    dataDir,
    config,
    url,
    database: await open(),
    async reopen() {
      live.database = await open();
      return live.database;
    },
    async cleanup() {
      await live.database.close().catch(() => undefined);
      if (name) {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        const r = await c.query(`select datname from pg_database where datname like $1`, [`${name}%`]);
        for (const row of r.rows as { datname: string }[]) await c.query(`drop database if exists "${row.datname}" with (force)`);
        await c.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return live;
}

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

/** Users (one with a revoked session), audit rows and `vmCount` VMs with 1 GiB qcow2 disks holding a marker. */
export async function seed(live: Live, vmCount = 2): Promise<{ vms: { uuid: string; name: string; disk: string }[] }> {
  const db = live.database.db;
  const hash = await hashPassword('seed-password-123');
  const alice = await authRepo.insertUser(db, { username: 'alice', passwordHash: hash, role: 'user', status: 'active' });
  await authRepo.insertUser(db, { username: 'bob', passwordHash: hash, role: 'admin', status: 'active' });
  await db.execute(sql`insert into sessions (family_id, user_id, token_hash, expires_at, revoked_at, revoked_reason)
    values (gen_random_uuid(), ${alice.id}, 'h1', now() + interval '1 day', null, null),
           (gen_random_uuid(), ${alice.id}, 'h2', now() + interval '1 day', now(), 'logout')`);
  await insertAudit(db, { actorId: alice.id, actorUsername: 'alice', action: 'test.seed', targetType: 'user', targetId: alice.id, result: 'success', details: { n: 1 }, requestId: null, ip: null });
  mkdirSync(join(live.dataDir, 'disks'), { recursive: true });
  const vms: { uuid: string; name: string; disk: string }[] = [];
  for (let i = 0; i < vmCount; i++) {
    const uuid = randomUUID();
    const disk = join(live.dataDir, 'disks', `${uuid}.qcow2`);
    qemuImg('create', '-q', '-f', 'qcow2', disk, '1G');
    // A marker inside the guest-visible disk: written through qemu-io, read back after restore.
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${(0x41 + i).toString(16)} 1M 64k`, disk], { stdio: 'ignore' });
    await db.execute(sql`insert into vms (uuid, owner_id, name, vcpus, memory_mb, disk_gb, state, disk_path)
      values (${uuid}, ${alice.id}, ${`vm-${i}`}, 1, 128, 1, 'stopped', ${disk})`);
    vms.push({ uuid, name: `vm-${i}`, disk });
  }
  return { vms };
}

/** Every table's rows (except bookkeeping that legitimately differs), for equality checks. */
export async function snapshotTables(database: Database): Promise<Record<string, unknown[]>> {
  const tables = await queryRows<{ t: string }>(database.db, sql`select table_name as t from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not in ('backups') order by 1`);
  const out: Record<string, unknown[]> = {};
  for (const { t } of tables) {
    const rows = await queryRows<{ j: unknown }>(database.db, sql.raw(`select row_to_json(x)::text as j from "${t}" x order by 1`));
    out[t] = rows.map((r) => r.j).sort();
  }
  return out;
}

export function readMarker(disk: string, i: number): boolean {
  // qemu-io exits 0 even when the pattern differs: the verdict is in its output.
  const out = execFileSync('qemu-io', ['-f', 'qcow2', '-c', `read -P 0x${(0x41 + i).toString(16)} 1M 64k`, disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return /read 65536\/65536 bytes/.test(out) && !/verification failed/i.test(out);
}
