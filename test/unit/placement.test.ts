// Placement rules (pure): candidates, fit under each host's ratios, the two policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choosePlacement, type PlacementHost } from '../../src/modules/hosts/placement.js';

const host = (name: string, o: Partial<PlacementHost> = {}): PlacementHost => ({
  name,
  state: 'active',
  up: true,
  cpus: 4,
  memoryMb: 4096,
  cpuOvercommit: 1,
  memoryOvercommit: 1,
  usedVcpus: 0,
  usedMemoryMb: 0,
  ...o,
});
const req = { vcpus: 1, memoryMb: 1024 };

test('most-free picks the host with the most memory left, then vCPUs, then the older host', () => {
  assert.deepEqual(choosePlacement([host('a', { usedMemoryMb: 2048 }), host('b', { usedMemoryMb: 1024 })], req, 'most-free'), { host: 'b', fits: true });
  assert.deepEqual(choosePlacement([host('a', { usedVcpus: 2 }), host('b', { usedVcpus: 1 })], req, 'most-free'), { host: 'b', fits: true });
  assert.deepEqual(choosePlacement([host('a'), host('b')], req, 'most-free'), { host: 'a', fits: true });
});

test('first-fit picks the first host (in the order added) where the VM fits', () => {
  assert.deepEqual(choosePlacement([host('a', { usedMemoryMb: 3584 }), host('b', { usedMemoryMb: 2048 }), host('c')], req, 'first-fit'), { host: 'b', fits: true });
});

test('overcommit ratios widen the room; a full cluster returns the roomiest host for the guard to refuse', () => {
  assert.deepEqual(choosePlacement([host('a', { usedMemoryMb: 4096, memoryOvercommit: 1.5 })], req, 'most-free'), { host: 'a', fits: true });
  assert.deepEqual(choosePlacement([host('a', { usedMemoryMb: 4000 }), host('b', { usedMemoryMb: 3500 })], req, 'first-fit'), { host: 'b', fits: false });
});

test('draining and unreachable hosts get nothing; none left says why', () => {
  assert.deepEqual(choosePlacement([host('a', { state: 'draining' }), host('b', { usedMemoryMb: 3000 })], req, 'most-free'), { host: 'b', fits: true });
  assert.deepEqual(choosePlacement([host('a', { up: false }), host('b', { usedMemoryMb: 3000 })], req, 'most-free'), { host: 'b', fits: true });
  assert.deepEqual(choosePlacement([host('a', { state: 'draining' })], req, 'most-free'), { host: null, reason: 'no_active_host' });
  assert.deepEqual(choosePlacement([host('a', { up: false })], req, 'most-free'), { host: null, reason: 'no_reachable_host' });
});

test('a host whose capacity was never read ranks after every host known to fit', () => {
  assert.deepEqual(choosePlacement([host('a', { cpus: null, memoryMb: null }), host('b', { usedMemoryMb: 3000 })], req, 'most-free'), { host: 'b', fits: true });
  assert.deepEqual(choosePlacement([host('a', { cpus: null, memoryMb: null })], req, 'first-fit'), { host: 'a', fits: true });
});
