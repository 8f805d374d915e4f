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

/** What decides whether a move can carry the VM's storage and snapshots. */
export interface MoveFacts {
  /** both hosts see the disk directory's files (probed, vm-storage-move.ts) */
  shared: boolean;
  /** a library ISO is in the CD-ROM drive */
  isoAttached: boolean;
  /** the disk is a qcow2 overlay on a template base image */
  linkedClone: boolean;
  snapshots: number;
  /** both hosts are the same kind of driver (snapshot definitions are only read back by their own kind) */
  sameKind: boolean;
}

export interface MoveRefusal {
  message: string;
  details: Record<string, unknown>;
}

/**
 * Refusals (409 CONFLICT) of a move the hosts themselves could carry out, null when it may go on.
 * - live with snapshots: libvirt refuses to migrate a running domain that has snapshots, and a
 *   storage mirror copies the guest-visible disk only, not the qcow2 internal snapshots;
 * - without shared storage: an attached ISO lives in the library directory, which is not copied
 *   (eject it first); a linked clone's base image is not copied either (its template would have
 *   to exist on every host — refused rather than copied, see docs/scaling.md).
 */
export function moveRefusal(mode: MigrationMode, f: MoveFacts): MoveRefusal | null {
  if (f.snapshots > 0 && mode === 'live') {
    return { message: `The VM has ${f.snapshots} snapshot(s): libvirt does not move a running guest with snapshots; shut it down to migrate it cold (snapshots move with it)`, details: { snapshots: f.snapshots, mode } };
  }
  if (f.snapshots > 0 && !f.sameKind) {
    return { message: `The VM has ${f.snapshots} snapshot(s) and the target is a different kind of host: their definitions cannot move there`, details: { snapshots: f.snapshots } };
  }
  if (f.shared) return null;
  if (f.isoAttached) {
    return { message: 'The target host does not share the disk directory and the VM has an ISO attached: eject it before migrating (ISOs are not copied)', details: { storage: 'local', iso: true } };
  }
  if (f.linkedClone) {
    return { message: 'The VM is a linked clone (its disk is an overlay on a template base) and the target host does not share the disk directory: only VMs with a disk of their own move between hosts without shared storage', details: { storage: 'local', linked_clone: true } };
  }
  return null;
}
