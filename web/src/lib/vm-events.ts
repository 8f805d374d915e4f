// Merging live VM events into the list the page shows. Pure and import-free (tested in test/web/).
//
// The rule from LIMEN.md "Live state": a slow refresh never overwrites a newer event. Each VM carries
// `updated_at`; whichever copy is newer wins, whether it arrived by websocket or by a GET.

export interface VmLike { uuid: string; updated_at?: string }

export type VmEventType = 'vm.state' | 'vm.created' | 'vm.updated' | 'vm.deleted' | 'vm.stats';
/** `vm.stats` carries the sample in `stats` (the server's GET /stats shape, or `{unavailable: true}`). */
export interface VmEvent<V extends VmLike = VmLike> { type: VmEventType; vm: Partial<V> & { uuid: string }; stats?: unknown }

function time(v: { updated_at?: string } | undefined): number {
  if (!v?.updated_at) return Number.NEGATIVE_INFINITY;
  const t = Date.parse(v.updated_at);
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

/** True when `incoming` is at least as new as `current` (equal times: the later arrival wins). */
export function isNewerOrSame(incoming: { updated_at?: string }, current: { updated_at?: string } | undefined): boolean {
  return time(incoming) >= time(current);
}

/**
 * Apply one event to a list. Events may carry only a few fields (`{uuid, state, updated_at}`), so
 * they are merged over the known VM. `vm.stats` never changes the list (stats are shown apart).
 * Returns the same array when nothing changed, so React can skip a render.
 */
export function applyVmEvent<V extends VmLike>(list: readonly V[], ev: VmEvent<V>): V[] {
  const i = list.findIndex((v) => v.uuid === ev.vm.uuid);
  const current = i >= 0 ? list[i] : undefined;
  switch (ev.type) {
    case 'vm.deleted':
      return i >= 0 ? list.filter((_, j) => j !== i) : (list as V[]);
    case 'vm.stats':
      return list as V[];
    case 'vm.created':
    case 'vm.state':
    case 'vm.updated': {
      if (current === undefined) {
        // An update for a VM we never saw is only usable if it is a whole VM; a partial one waits for the next GET.
        return ev.type === 'vm.created' || 'name' in ev.vm ? [...list, ev.vm as V] : (list as V[]);
      }
      if (!isNewerOrSame(ev.vm, current)) return list as V[];
      const next = list.slice();
      next[i] = { ...current, ...ev.vm };
      return next;
    }
    default:
      return list as V[];
  }
}

/** Apply an event to a single VM (the VM page); `null` means it was deleted. */
export function applyVmEventToOne<V extends VmLike>(vm: V | null, ev: VmEvent<V>): V | null {
  if (vm === null || ev.vm.uuid !== vm.uuid) return vm;
  if (ev.type === 'vm.deleted') return null;
  if (ev.type === 'vm.stats') return vm;
  return isNewerOrSame(ev.vm, vm) ? { ...vm, ...ev.vm } : vm;
}

/**
 * Merge a freshly fetched list with what the page already knows: VMs absent from the fetch are
 * gone, but for VMs in both, a newer event-delivered copy beats an older fetched one.
 */
export function mergeFetchedVms<V extends VmLike>(current: readonly V[], fetched: readonly V[]): V[] {
  const known = new Map(current.map((v) => [v.uuid, v]));
  return fetched.map((f) => {
    const k = known.get(f.uuid);
    return k !== undefined && !isNewerOrSame(f, k) ? { ...f, ...k } : f;
  });
}

/**
 * Parse one /ws/events message: a VM event, `resync` for a snapshot (sent on connect and when the
 * server lost track of the hypervisor: refetch), or null for anything else.
 */
export function parseEventMessage<V extends VmLike>(data: unknown): VmEvent<V> | { type: 'resync' } | null {
  let msg: unknown;
  try {
    msg = JSON.parse(String(data));
  } catch {
    return null;
  }
  if (!msg || typeof msg !== 'object') return null;
  const m = msg as { type?: unknown; vm?: { uuid?: unknown } };
  if (m.type === 'snapshot') return { type: 'resync' };
  if (typeof m.type === 'string' && m.type.startsWith('vm.') && m.vm && typeof m.vm.uuid === 'string') return msg as VmEvent<V>;
  return null;
}
