// Thin helpers over drizzle's sql template: repos write plain SQL and get typed rows back.
import type { SQL } from 'drizzle-orm';
import type { Db, Tx } from './db.js';
import { preparedFor } from './prepared.js';

export type Queryable = Db | Tx;

export async function queryRows<T>(db: Queryable, q: SQL): Promise<T[]> {
  // outside a transaction: the cached prepared statement path (prepared.ts)
  const prepared = preparedFor(db);
  if (prepared) return (await prepared(q)) as T[];
  const r = (await db.execute(q)) as { rows: T[] };
  return r.rows;
}

export async function queryOne<T>(db: Queryable, q: SQL): Promise<T | undefined> {
  return (await queryRows<T>(db, q))[0];
}

/** Runs fn in a transaction; the same code path on PGlite and PostgreSQL. */
export function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(fn);
}

/** PostgreSQL unique-violation, for mapping to CONFLICT. */
export function isUniqueViolation(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    if ((e as { code?: string }).code === '23505') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export const toIso = (v: Date | string | null | undefined): string | null =>
  v === null || v === undefined ? null : new Date(v).toISOString();
