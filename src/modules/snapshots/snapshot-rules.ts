// Which VM states allow which snapshot operation (pure). Snapshots are taken of machines at rest
// or running; a VM in the middle of another operation is left alone.
import type { VmState } from '../vms/index.js';

export type SnapshotOp = 'create' | 'revert' | 'delete';

const ALLOWED: Record<SnapshotOp, readonly VmState[]> = {
  // internal qcow2 snapshots: disk + memory when running/paused, disk only when shut off
  create: ['running', 'paused', 'stopped'],
  revert: ['running', 'paused', 'stopped', 'error'],
  delete: ['running', 'paused', 'stopped', 'error'],
};

export function snapshotAllowed(op: SnapshotOp, state: VmState): boolean {
  return ALLOWED[op].includes(state);
}

/** Normalizes a user-typed snapshot name: trimmed, NFC, 1-64 characters, no control characters. */
export function normalizeSnapshotName(raw: string): string | undefined {
  const name = raw.normalize('NFC').trim();
  const length = [...name].length;
  // eslint-disable-next-line no-control-regex
  if (length < 1 || length > 64 || /[\u0000-\u001f\u007f]/.test(name)) return undefined;
  return name;
}
