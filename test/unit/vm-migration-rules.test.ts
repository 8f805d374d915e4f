// Migration rules: which move a state allows, and how an interrupted migration is settled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMigrationLeftover, migrationModeFor, moveRefusal, planMigrationRecovery, type MoveFacts } from '../../src/modules/vms/vm-migration-rules.js';
import { TransitionRefused } from '../../src/modules/vms/vm-state.js';

test('stopped moves cold, running and paused move live, every other state is refused', () => {
  assert.equal(migrationModeFor('stopped'), 'cold');
  assert.equal(migrationModeFor('running'), 'live');
  assert.equal(migrationModeFor('paused'), 'live');
  for (const s of ['creating', 'starting', 'stopping', 'deleting', 'error', 'missing'] as const) {
    assert.throws(() => migrationModeFor(s), TransitionRefused, s);
  }
});

test('recovery: the guest wins where it runs; otherwise the source the row names; a target-only definition is adopted', () => {
  // live migration completed in libvirt, the commit did not happen
  assert.deepEqual(planMigrationRecovery(null, 'running'), { keep: 'target', undefine: [] });
  assert.deepEqual(planMigrationRecovery('shutoff', 'running'), { keep: 'target', undefine: ['source'] });
  assert.deepEqual(planMigrationRecovery('shutoff', 'paused'), { keep: 'target', undefine: ['source'] });
  // a live migration that never finished: the guest still runs on the source
  assert.deepEqual(planMigrationRecovery('running', null), { keep: 'source', undefine: [] });
  // cold: defined on both before the commit → keep the source, drop the copy
  assert.deepEqual(planMigrationRecovery('shutoff', 'shutoff'), { keep: 'source', undefine: ['target'] });
  assert.deepEqual(planMigrationRecovery('running', 'shutoff'), { keep: 'source', undefine: ['target'] });
  assert.deepEqual(planMigrationRecovery('shutoff', null), { keep: 'source', undefine: [] });
  assert.deepEqual(planMigrationRecovery(null, 'shutoff'), { keep: 'target', undefine: [] });
  // nothing anywhere: stays, and the reconciler reports it missing
  assert.deepEqual(planMigrationRecovery(null, null), { keep: 'source', undefine: [] });
  // running on both: never guessed
  assert.deepEqual(planMigrationRecovery('running', 'running'), { keep: null, undefine: [] });
});

test('a leftover is an inactive copy on a host the row does not name, whose own host has the domain', () => {
  const row = { host: 'h2', migratingTo: null };
  assert.equal(isMigrationLeftover('shutoff', row, 'default', true), true);
  assert.equal(isMigrationLeftover('shutoff', row, 'default', false), false, 'never the last copy');
  assert.equal(isMigrationLeftover('running', row, 'default', true), false, 'never a running guest');
  assert.equal(isMigrationLeftover('shutoff', row, 'h2', true), false, 'the VM own host');
  assert.equal(isMigrationLeftover('shutoff', { host: 'h2', migratingTo: 'default' }, 'default', true), false, 'a target mid-move');
});

test('storage and snapshots: what a move without shared storage refuses, and what any move refuses', () => {
  const plain: MoveFacts = { shared: false, isoAttached: false, linkedClone: false, snapshots: 0, sameKind: true };
  // a VM with a disk of its own moves either way, both modes
  for (const mode of ['cold', 'live'] as const) {
    assert.equal(moveRefusal(mode, plain), null, mode);
    assert.equal(moveRefusal(mode, { ...plain, shared: true }), null, mode);
  }
  // without shared storage: an ISO must be ejected first, a linked clone is refused (its base is not copied)
  assert.deepEqual(moveRefusal('cold', { ...plain, isoAttached: true })?.details, { storage: 'local', iso: true });
  assert.deepEqual(moveRefusal('live', { ...plain, isoAttached: true })?.details, { storage: 'local', iso: true });
  assert.deepEqual(moveRefusal('cold', { ...plain, linkedClone: true })?.details, { storage: 'local', linked_clone: true });
  assert.match(moveRefusal('cold', { ...plain, isoAttached: true })!.message, /eject/);
  // with shared storage the same VMs move (every host reads the ISO and the base)
  assert.equal(moveRefusal('cold', { ...plain, shared: true, isoAttached: true, linkedClone: true }), null);
  // snapshots move with a cold move (shared or not), never live, never to another kind of host
  assert.equal(moveRefusal('cold', { ...plain, snapshots: 3 }), null);
  assert.equal(moveRefusal('cold', { ...plain, shared: true, snapshots: 3 }), null);
  assert.deepEqual(moveRefusal('live', { ...plain, shared: true, snapshots: 2 })?.details, { snapshots: 2, mode: 'live' });
  assert.match(moveRefusal('live', { ...plain, snapshots: 2 })!.message, /shut it down/);
  assert.deepEqual(moveRefusal('cold', { ...plain, shared: true, snapshots: 1, sameKind: false })?.details, { snapshots: 1 });
});
