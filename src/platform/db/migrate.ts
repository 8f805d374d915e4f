// Applies the committed SQL migrations in migrations/ in file-name order, each in its own
// transaction, under an advisory lock so several LIMEN instances starting together migrate once.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Database } from './db.js';

const LOCK_ID = 7_231_991; // arbitrary, constant: "limen migrations"

export interface MigrationResult {
  applied: string[];
  total: number;
}

interface Exec {
  exec(sql: string): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  release(): Promise<void>;
}

async function session(database: Database): Promise<Exec> {
  const raw = database.raw;
  if (raw.kind === 'pglite') {
    return {
      exec: async (s) => void (await raw.pglite.exec(s)),
      query: async (s, p) => (await raw.pglite.query<Record<string, unknown>>(s, p)).rows,
      release: async () => undefined,
    };
  }
  const client = await raw.pool.connect();
  return {
    exec: async (s) => void (await client.query(s)),
    query: async (s, p) => (await client.query<Record<string, unknown>>(s, p)).rows,
    release: async () => client.release(),
  };
}

export function listMigrations(dir: string): { name: string; sql: string; checksum: string }[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const text = readFileSync(join(dir, name), 'utf8');
      return { name, sql: text, checksum: createHash('sha256').update(text).digest('hex') };
    });
}

export async function migrate(database: Database, dir: string): Promise<MigrationResult> {
  const all = listMigrations(dir);
  const s = await session(database);
  try {
    await s.exec(`select pg_advisory_lock(${LOCK_ID})`);
    await s.exec(`create table if not exists schema_migrations (
      name text primary key, checksum text not null, applied_at timestamptz not null default now())`);
    const done = new Map((await s.query('select name, checksum from schema_migrations')).map((r) => [r.name as string, r.checksum as string]));
    const applied: string[] = [];
    for (const m of all) {
      const prior = done.get(m.name);
      if (prior !== undefined) {
        // An edited migration that already ran would silently diverge between installations.
        if (prior !== m.checksum) throw new Error(`migration ${m.name} changed after it was applied`);
        continue;
      }
      await s.exec('begin');
      try {
        await s.exec(m.sql);
        await s.query('insert into schema_migrations (name, checksum) values ($1, $2)', [m.name, m.checksum]);
        await s.exec('commit');
      } catch (err) {
        await s.exec('rollback');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.name);
    }
    return { applied, total: all.length };
  } finally {
    await s.exec(`select pg_advisory_unlock(${LOCK_ID})`).catch(() => undefined);
    await s.release();
  }
}
