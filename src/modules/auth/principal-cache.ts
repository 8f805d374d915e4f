// Embedded database only: the auth hook's principal (user + live session family) kept in memory
// between requests, so an authenticated GET costs no database statement for authentication.
// With PGlite every statement is WebAssembly on the event loop (~0.4 ms of CPU for the principal
// query, a third of a small GET: docs/performance.md), and this process is the database's only
// writer (the CLI refuses to open a data dir a server holds), so invalidating on our own writes is
// exact: every write to users or sessions that can end a login (status, role, deletion, password,
// revocation, rotation) calls invalidatePrincipals() right after its statement. With a PostgreSQL
// server other instances write too, and the query runs on every request as before.
//
// A process-wide generation makes it race-free: a lookup notes the generation before its query
// and stores the answer only if no invalidation happened meanwhile (an answer read before a
// revocation can never be cached after it). An entry also ends when its session family expires.

import type { Principal } from '../../platform/http/principal.js';

let generation = 0;

/** Drops every cached principal (all databases of this process: cheap, and never wrong). */
export function invalidatePrincipals(): void {
  generation++;
}

export type CachedUser = Omit<Principal, 'sessionFamily'>;

interface Entry {
  gen: number;
  /** ms since the epoch: the family's last live session expires then */
  until: number;
  user: CachedUser;
}

/** More logins than this are rare; past it the map starts over rather than growing. */
const MAX_ENTRIES = 10_000;

export interface PrincipalCache {
  get(userId: string, family: string): CachedUser | undefined;
  /** The generation to pass to put() (read it before the query). */
  generation(): number;
  put(gen: number, userId: string, family: string, user: CachedUser, liveUntil: Date): void;
}

export function createPrincipalCache(opts: { enabled: boolean; now?: () => number }): PrincipalCache {
  const now = opts.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const key = (userId: string, family: string) => `${userId}/${family}`;
  return {
    get(userId, family) {
      if (!opts.enabled) return undefined;
      const e = entries.get(key(userId, family));
      if (!e) return undefined;
      if (e.gen !== generation || e.until <= now()) {
        entries.delete(key(userId, family));
        return undefined;
      }
      return e.user;
    },
    generation: () => generation,
    put(gen, userId, family, user, liveUntil) {
      if (!opts.enabled || gen !== generation) return;
      if (entries.size >= MAX_ENTRIES) entries.clear();
      entries.set(key(userId, family), { gen, until: liveUntil.getTime(), user });
    },
  };
}
