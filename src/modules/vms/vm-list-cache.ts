// Serialized GET /api/vms pages, kept in memory only while they are exactly what the database
// holds. Why: on the embedded database every statement costs more CPU than a whole bare HTTP
// request (docs/performance.md), and the list is what every browser tab asks for.
// Exactness: migration 0018 makes every committed change to `vms` or `hosts` (the list's only
// sources, cascades included) send a notification on 'limen_vm_rows'. PGlite delivers it to this
// process before the writing statement's (or transaction's) promise settles, and PGlite is held by
// this one process, so every change is seen here before anyone can read past it. A generation
// counter makes it race-free: a page loaded while a change was signalled is served but not kept.
// With a PostgreSQL server (several instances) the cache is off: another instance's notification
// arrives asynchronously, so "the next request sees the change" would become "within milliseconds".

/** A page's identity: whose list (an owner id, or '*' for an admin's list of all) and which slice. */
export type VmListKey = string;

export interface VmListCache {
  /** The cached body of `key`, or `load()`'s, kept when no change was signalled while it ran. */
  body(key: VmListKey, load: () => Promise<Buffer>): Promise<Buffer>;
  /** Forgets every page (a change to vms or hosts was committed). */
  invalidate(): void;
  /** true when pages are kept (embedded database, subscription active). */
  readonly active: boolean;
}

/** Pages kept at most; past it the cache starts over (a bound, not an eviction policy). */
const MAX_PAGES = 2_000;

export const vmListKey = (ownerId: string | undefined, limit: number, offset: number): VmListKey => `${ownerId ?? '*'}:${limit}:${offset}`;

export function createVmListCache(): VmListCache & { activate(): void } {
  const pages = new Map<VmListKey, Buffer>();
  let generation = 0;
  let active = false;
  return {
    get active() {
      return active;
    },
    activate() {
      active = true;
    },
    invalidate() {
      generation++;
      pages.clear();
    },
    async body(key, load) {
      if (!active) return load();
      const hit = pages.get(key);
      if (hit) return hit;
      const started = generation;
      const body = await load();
      if (active && generation === started) {
        if (pages.size >= MAX_PAGES) pages.clear();
        pages.set(key, body);
      }
      return body;
    },
  };
}

/** Channel of migration 0018's trigger. */
export const VM_ROWS_CHANNEL = 'limen_vm_rows';
