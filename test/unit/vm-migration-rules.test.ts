// Migration rules: which move a state allows, and how an interrupted migration is settled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isMigrationLeftover, migrationModeFor, planMigrationRecovery } from '../../src/modules/vms/vm-migration-rules.js';
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
