// login_throttle rows: shared by every LIMEN instance, so throttling holds behind a load balancer.
import { sql } from 'drizzle-orm';
import { queryOne, queryRows, type Queryable } from '../../platform/db/query.js';
import type { ThrottleState } from './throttle-rules.js';

interface Row {
  key: string;
  failures: number;
  last_failure_at: Date | string;
  locked_until: Date | string | null;
}

const toState = (r: Row): ThrottleState => ({
  failures: r.failures,
  lastFailureAt: new Date(r.last_failure_at),
  lockedUntil: r.locked_until === null ? null : new Date(r.locked_until),
});

export async function getThrottle(db: Queryable, keys: string[]): Promise<Map<string, ThrottleState>> {
  if (keys.length === 0) return new Map();
  const rows = await queryRows<Row>(db, sql`select * from login_throttle where key in (${sql.join(keys.map((k) => sql`${k}`), sql`, `)})`);
  return new Map(rows.map((r) => [r.key, toState(r)]));
}

/** Locks the row so concurrent failures for the same key count one after another. */
export async function getThrottleForUpdate(db: Queryable, key: string): Promise<ThrottleState | undefined> {
  const r = await queryOne<Row>(db, sql`select * from login_throttle where key = ${key} for update`);
  return r ? toState(r) : undefined;
}

export async function putThrottle(db: Queryable, key: string, s: ThrottleState): Promise<void> {
  await db.execute(sql`
    insert into login_throttle (key, failures, last_failure_at, locked_until)
    values (${key}, ${s.failures}, ${s.lastFailureAt.toISOString()}, ${s.lockedUntil?.toISOString() ?? null})
    on conflict (key) do update set failures = excluded.failures, last_failure_at = excluded.last_failure_at,
      locked_until = excluded.locked_until`);
}

export async function clearThrottle(db: Queryable, key: string): Promise<void> {
  await db.execute(sql`delete from login_throttle where key = ${key}`);
}
