// The policy port: other modules (quotas, host capacity) veto or reserve VM allocations here.
// Every hook runs INSIDE the transaction that writes the allocation (create, start, resize), with
// the VM row locked, so a check and the change it guards can never interleave with another
// request. A hook refuses by throwing (an AppError such as QUOTA_EXCEEDED); the transaction then
// rolls back and nothing partial remains.
import type { Tx } from '../../platform/db/db.js';
import type { Principal } from '../../platform/http/principal.js';
import type { VmRecord } from './vms.repo.js';

export interface VmSize {
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

export interface CreateCheck extends VmSize {
  /** who asked (an admin may act for someone else later; quotas charge the owner) */
  actor: Principal;
  ownerId: string;
  host: string;
}

export interface StartCheck {
  actor: Principal;
  /** the row as locked, still in its pre-start state (stopped or error) */
  vm: VmRecord;
}

export interface ResizeCheck {
  actor: Principal;
  vm: VmRecord;
  /** the complete size after the change (unchanged fields repeat the current value) */
  next: VmSize;
}

export interface VmPolicy {
  /** for logs */
  name: string;
  beforeCreate?(tx: Tx, check: CreateCheck): Promise<void>;
  beforeStart?(tx: Tx, check: StartCheck): Promise<void>;
  beforeResize?(tx: Tx, check: ResizeCheck): Promise<void>;
}

/** Runs every registered policy's hook in registration order; the first refusal wins. */
export async function runPolicies<K extends 'beforeCreate' | 'beforeStart' | 'beforeResize'>(
  policies: readonly VmPolicy[],
  hook: K,
  tx: Tx,
  check: Parameters<NonNullable<VmPolicy[K]>>[1],
): Promise<void> {
  for (const p of policies) {
    const fn = p[hook] as ((tx: Tx, c: typeof check) => Promise<void>) | undefined;
    if (fn) await fn.call(p, tx, check);
  }
}
