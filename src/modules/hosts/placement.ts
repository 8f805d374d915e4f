// Placement: which host gets a new VM. Pure, so every rule is unit-tested:
// - only active (not draining) hosts whose connection is up are candidates;
// - among them, hosts where the VM fits under the host's overcommit ratios come first;
// - 'most-free' picks the fitting host with the most free memory left (then vCPUs, then name);
//   'first-fit' picks the first fitting host in the order hosts were added;
// - when none fits, the candidate with the most room is returned anyway, so the capacity guard
//   refuses the create with its precise HOST_CAPACITY_EXCEEDED details (resource, limit, used).

export type PlacementPolicy = 'most-free' | 'first-fit';
export const PLACEMENT_POLICIES: readonly PlacementPolicy[] = ['most-free', 'first-fit'];

export interface PlacementHost {
  name: string;
  state: 'active' | 'draining';
  /** the connection is up right now */
  up: boolean;
  /** null: capacity never read (host not reached yet) */
  cpus: number | null;
  memoryMb: number | null;
  cpuOvercommit: number;
  memoryOvercommit: number;
  usedVcpus: number;
  usedMemoryMb: number;
}

export interface PlacementRequest {
  vcpus: number;
  memoryMb: number;
}

export type PlacementResult = { host: string; fits: boolean } | { host: null; reason: 'no_active_host' | 'no_reachable_host' };

/** Room left after placing the request (negative = does not fit); unknown capacity = no room known. */
export function roomAfter(h: PlacementHost, r: PlacementRequest): { vcpus: number; memoryMb: number } | null {
  if (h.cpus === null || h.memoryMb === null) return null;
  return {
    vcpus: Math.floor(h.cpus * h.cpuOvercommit) - h.usedVcpus - r.vcpus,
    memoryMb: Math.floor(h.memoryMb * h.memoryOvercommit) - h.usedMemoryMb - r.memoryMb,
  };
}

export function choosePlacement(hosts: readonly PlacementHost[], req: PlacementRequest, policy: PlacementPolicy): PlacementResult {
  const active = hosts.filter((h) => h.state === 'active');
  if (active.length === 0) return { host: null, reason: 'no_active_host' };
  const candidates = active.filter((h) => h.up);
  if (candidates.length === 0) return { host: null, reason: 'no_reachable_host' };

  const scored = candidates.map((h, order) => {
    const room = roomAfter(h, req);
    // unknown capacity: eligible (the guard skips it too), but ranked after every known fit
    const fits = room === null || (room.vcpus >= 0 && room.memoryMb >= 0);
    return { h, order, room, fits };
  });
  const fitting = scored.filter((s) => s.fits);
  const pool = fitting.length > 0 ? fitting : scored;
  if (policy === 'first-fit' && fitting.length > 0) {
    const known = fitting.find((s) => s.room !== null) ?? fitting[0]!;
    return { host: known.h.name, fits: true };
  }
  const best = [...pool].sort((a, b) => {
    if ((a.room === null) !== (b.room === null)) return a.room === null ? 1 : -1;
    const am = a.room?.memoryMb ?? 0;
    const bm = b.room?.memoryMb ?? 0;
    if (am !== bm) return bm - am;
    const av = a.room?.vcpus ?? 0;
    const bv = b.room?.vcpus ?? 0;
    if (av !== bv) return bv - av;
    return a.order - b.order;
  })[0]!;
  return { host: best.h.name, fits: best.fits };
}
