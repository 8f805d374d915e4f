// Migration rules (pure): which kind of move a VM's state allows, and how the reconciler settles a
// migration a crash interrupted, from what each host has. Unit-tested in test/unit/vm-migration-rules.test.ts.
import type { DomainState } from '../../hypervisor/index.js';
import { TransitionRefused, type VmState } from './vm-state.js';

export type MigrationMode = 'cold' | 'live';

/** cold: a stopped VM's definition moves; live: a running (or paused) guest moves without stopping. */
export function migrationModeFor(state: VmState): MigrationMode {
  if (state === 'stopped') return 'cold';
  if (state === 'running' || state === 'paused') return 'live';
  throw new TransitionRefused(state, 'migrate');
}

const ACTIVE: readonly DomainState[] = ['running', 'paused', 'pmsuspended', 'shutdown'];

/** What a host has of the VM's domain: its state, or null when it has no such domain. */
export type Presence = DomainState | null;

export interface RecoveryPlan {
  /** where the VM lives after the repair; null: both hosts run it, leave it to an administrator */
  keep: 'source' | 'target' | null;
  /** inactive leftover definitions to remove */
  undefine: ('source' | 'target')[];
}

/**
 * A row still marked migrating with nobody holding its lock: the instance that ran the migration
 * died. The guest wins where it RUNS (a live migration that completed in libvirt); otherwise the
 * source (the host the row still names) wins and a definition copied to the target is dropped;
 * a definition only the target has (the source's was removed) is adopted.
 */
export function planMigrationRecovery(source: Presence, target: Presence): RecoveryPlan {
  const srcActive = source !== null && ACTIVE.includes(source);
  const dstActive = target !== null && ACTIVE.includes(target);
  if (srcActive && dstActive) return { keep: null, undefine: [] };
  if (dstActive) return { keep: 'target', undefine: source !== null ? ['source'] : [] };
  if (source !== null) return { keep: 'source', undefine: target !== null ? ['target'] : [] };
  if (target !== null) return { keep: 'target', undefine: [] };
  return { keep: 'source', undefine: [] };
}

/**
 * A domain on `host` whose row names another host and is not migrating there: the inactive
 * leftover of a move that committed before the source definition was removed. Removed only when
 * it is shut off and the VM's own host has the domain (never the last copy of a definition).
 */
export function isMigrationLeftover(domainState: DomainState, row: { host: string; migratingTo: string | null }, host: string, ownHostHasIt: boolean): boolean {
  return row.host !== host && row.migratingTo !== host && !ACTIVE.includes(domainState) && ownHostHasIt;
}
