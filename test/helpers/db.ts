// Test databases on both engines: PGlite in memory always, and a fresh database on the real
// PostgreSQL server started by scripts/test.sh (required when LIMEN_TEST_REAL=1).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';

export type DbEngine = 'pglite' | 'postgres';

export const REAL = process.env.LIMEN_TEST_REAL === '1';
export const PG_URL = process.env.LIMEN_TEST_PG_URL;

if (REAL && !PG_URL) throw new Error('LIMEN_TEST_REAL=1 but LIMEN_TEST_PG_URL is not set: scripts/test.sh starts PostgreSQL');

/** The engines every database-tier suite runs on. */
export const DB_ENGINES: DbEngine[] = PG_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  database: Database;
  url: string | undefined;
  drop(): Promise<void>;
}

/** A migrated, empty database of the given engine, isolated from every other test. */
export async function createTestDatabase(engine: DbEngine, dataDir: string): Promise<TestDatabase> {
  if (engine === 'pglite') {
    const database = await openDatabase({ databaseUrl: undefined, dataDir, memory: true });
    await migrate(database, MIGRATIONS_DIR);
    return { database, url: undefined, drop: () => database.close() };
  }
  const server = await freshServerDatabase();
  const database = await openDatabase({ databaseUrl: server.url, dataDir });
  await migrate(database, MIGRATIONS_DIR);
  return {
    database,
    url: server.url,
    async drop() {
      await database.close().catch(() => undefined);
      await server.drop();
    },
  };
}

/** A fresh, empty (unmigrated) database on the test PostgreSQL server; drop() removes it, connected or not. */
export async function freshServerDatabase(prefix = 'limen_test'): Promise<{ url: string; drop(): Promise<void> }> {
  if (!PG_URL) throw new Error('postgres engine needs LIMEN_TEST_PG_URL');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: PG_URL.replace(/\/[^/]*$/, `/${name}`),
    async drop() {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A second handle (own pool) on another test database's server database; close() leaves it in place. */
export async function openSharedDatabase(of: TestDatabase, dataDir: string): Promise<TestDatabase> {
  if (!of.url) throw new Error('sharing a database needs PostgreSQL (PGlite is single-instance)');
  const database = await openDatabase({ databaseUrl: of.url, dataDir });
  return { database, url: of.url, drop: () => database.close() };
}
