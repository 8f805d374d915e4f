// Cached prepared statements for the queries every request makes (the auth hook's principal, the
// VM list). A repo's SQL text is fixed and its values are parameters, so each distinct text is
// parsed and planned once per connection and then only bound and executed:
// - PGlite: drizzle → PGlite.query() makes six calls into the WebAssembly backend per statement
//   (parse, describe, bind, describe, execute, sync). Here a known statement is ONE call (bind +
//   describe + execute + sync in one buffer): ~4x less CPU per query, measured in bench/api.
// PGlite only: on PostgreSQL the statements keep drizzle's path (node-postgres named statements
// were tried; a VM-reconciler test on PostgreSQL failed with them and there was no time to find
// out why — the Node-side cost there is the driver's, not the parse).
// Only used outside transactions (a transaction handle keeps drizzle's path): on PGlite the
// statement takes the same transaction and query locks as PGlite.query(), so it never interleaves
// with an open transaction. Results are the same rows drizzle returns (timestamps as strings).
import { createHash } from 'node:crypto';
import { DrizzleQueryError, type SQL } from 'drizzle-orm';
import type { PGlite } from '@electric-sql/pglite';

export interface PreparedRunner {
  rows<T>(text: string, params: unknown[]): Promise<T[]>;
}

/** Distinct statement texts kept prepared; the rest (rare dynamic SQL) runs unnamed. */
const MAX_STATEMENTS = 500;

/** SQLSTATEs after which a cached statement is dropped and the query retried once unprepared. */
const STALE_STATEMENT = new Set(['0A000', '26000']); // cached plan changed result type; no such statement

const runners = new WeakMap<object, { runner: PreparedRunner; toQuery: (q: SQL) => { sql: string; params: unknown[] } }>();

/** Registers the prepared path for a top-level database handle (never for a transaction). */
export function attachPrepared(db: object, runner: PreparedRunner): void {
  const dialect = (db as { dialect?: { sqlToQuery(q: SQL): { sql: string; params: unknown[] } } }).dialect;
  if (!dialect) return;
  runners.set(db, { runner, toQuery: (q) => dialect.sqlToQuery(q) });
}

/** The prepared path of `db`, or undefined (transactions, handles without one). */
export function preparedFor(db: object): ((q: SQL) => Promise<unknown[]>) | undefined {
  const r = runners.get(db);
  if (!r) return undefined;
  return async (q) => {
    const { sql, params } = r.toQuery(q);
    try {
      return await r.runner.rows(sql, params);
    } catch (err) {
      // the same error shape as drizzle's path (callers walk `cause` for the SQLSTATE)
      throw new DrizzleQueryError(sql, params as never[], err as Error);
    }
  };
}

const statementName = (text: string): string => `limen_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;

const sqlState = (err: unknown): string | undefined => (err as { code?: string } | undefined)?.code;

interface Statement {
  name: string;
  paramTypes: number[];
}

type PgliteInternals = PGlite & {
  serializers: Record<number, (v: unknown) => string>;
  parsers: Record<number, (v: string, typeId?: number) => unknown>;
};

/** PGlite: named statements in the embedded backend, executed with one protocol call each. */
export async function pglitePreparedRunner(pglite: PGlite, parsers: Record<number, (v: string) => unknown>): Promise<PreparedRunner> {
  const { protocol, parse } = await import('@electric-sql/pglite');
  const S = protocol.serialize;
  const db = pglite as PgliteInternals;
  const statements = new Map<string, Statement>();
  // Merged once: PGlite's parseResults() copies the whole parser table per query when given
  // per-query parsers (hundreds of entries once array types are loaded).
  const rowParsers = { ...db.parsers, ...parsers };
  const rowOptions = { rowMode: 'object' as const };

  const concat = (parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };

  const serialize = (params: unknown[], types: number[]): (string | null)[] =>
    params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const s = db.serializers[types[i]!];
      // PGlite.query()'s own fallback, kept identical so both paths send the same text
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      return s ? s(v) : String(v);
    });

  /** Parse + describe once; the backend keeps the plan under `name` for the session. */
  async function prepare(text: string): Promise<Statement> {
    const name = statementName(text);
    const msgs = await db.execProtocolStream(concat([S.parse({ name, text }), S.describe({ type: 'S', name }), S.sync()]), { syncToFs: false });
    const st = { name, paramTypes: parse.parseDescribeStatementResults(msgs) };
    statements.set(text, st);
    return st;
  }

  async function run<T>(text: string, params: unknown[], retried = false): Promise<T[]> {
    return db._runExclusiveTransaction(() =>
      db._runExclusiveQuery(async () => {
        let st = statements.get(text);
        if (!st && statements.size >= MAX_STATEMENTS) {
          const msgs = await db.execProtocolStream(
            concat([S.parse({ text }), S.describe({ type: 'S' }), S.sync()]),
            { syncToFs: false },
          );
          st = { name: '', paramTypes: parse.parseDescribeStatementResults(msgs) };
        }
        st ??= await prepare(text);
        const values = serialize(params, st.paramTypes);
        const head = st.name === '' ? [S.parse({ text })] : [];
        const msgs = await db.execProtocolStream(concat([...head, S.bind({ statement: st.name, values }), S.describe({ type: 'P' }), S.execute({}), S.sync()]), { syncToFs: false });
        // Same durability as PGlite.query(): flush the filesystem after a statement outside a transaction.
        await db.syncToFs();
        return (parse.parseResults(msgs, rowParsers, rowOptions)[0]?.rows ?? []) as T[];
      }),
    ).catch(async (err: unknown) => {
      const st = statements.get(text);
      if (retried || !st || !STALE_STATEMENT.has(sqlState(err) ?? '')) throw err;
      statements.delete(text);
      await db._runExclusiveTransaction(() =>
        db._runExclusiveQuery(() => db.execProtocolStream(concat([S.close({ type: 'S', name: st.name }), S.sync()]), { syncToFs: false, throwOnError: false })),
      );
      return run<T>(text, params, true);
    });
  }

  return { rows: run };
}
