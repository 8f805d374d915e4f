// The VM state machine (pure): every (state, action) pair, edits, deletion, and the mapping of
// libvirt states and events onto VM states.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  VM_ACTIONS,
  VM_STATES,
  TransitionRefused,
  acceptsObservation,
  allowedActions,
  checkDelete,
  checkDiskResize,
  checkEdit,
  isVmAction,
  planAction,
  vmStateOf,
  vmStateOfEvent,
  type VmAction,
  type VmState,
} from '../../src/modules/vms/vm-state.js';
import { VM_STATES as METRIC_STATES } from '../../src/platform/metrics.js';

const ALLOWED: Record<VmAction, VmState[]> = {
  start: ['stopped', 'error'],
  shutdown: ['running'],
  stop: ['running', 'paused', 'starting', 'stopping', 'error'],
  reboot: ['running'],
  reset: ['running'],
  pause: ['running'],
  resume: ['paused'],
};

describe('vm-state: power actions', () => {
  for (const action of VM_ACTIONS) {
    for (const state of VM_STATES) {
      const ok = ALLOWED[action].includes(state);
      test(`${action} from ${state} is ${ok ? 'allowed' : 'refused'}`, () => {
        if (ok) assert.equal(planAction(state, action).action, action);
        else assert.throws(() => planAction(state, action), (e: unknown) => e instanceof TransitionRefused && e.state === state);
      });
    }
  }

  test('plans: transitional and desired states, background vs inline', () => {
    assert.deepEqual(planAction('stopped', 'start'), { action: 'start', transitional: 'starting', desired: 'running', mode: 'background' });
    assert.deepEqual(planAction('running', 'shutdown'), { action: 'shutdown', transitional: 'stopping', desired: 'stopped', mode: 'background' });
    assert.deepEqual(planAction('paused', 'stop'), { action: 'stop', transitional: 'stopping', desired: 'stopped', mode: 'background' });
    assert.equal(planAction('running', 'pause').transitional, 'paused');
    assert.equal(planAction('paused', 'resume').transitional, 'running');
    assert.equal(planAction('running', 'reboot').mode, 'inline');
  });

  test('a start, a stop and nothing else are possible from a crash-free stopped VM', () => {
    assert.deepEqual(allowedActions('stopped'), ['start']);
    assert.deepEqual(allowedActions('running'), ['shutdown', 'stop', 'reboot', 'reset', 'pause']);
    assert.deepEqual(allowedActions('deleting'), []);
    assert.deepEqual(allowedActions('creating'), []);
    assert.deepEqual(allowedActions('missing'), []);
  });

  test('isVmAction accepts exactly the contract actions', () => {
    for (const a of VM_ACTIONS) assert.ok(isVmAction(a));
    for (const a of ['destroy', 'START', '', 'delete', '__proto__']) assert.ok(!isVmAction(a));
  });

  test('states match the metric label set (vm_total)', () => {
    assert.deepEqual([...VM_STATES], [...METRIC_STATES]);
  });
});

describe('vm-state: edits and deletion', () => {
  test('delete is refused only while creating or deleting', () => {
    for (const s of VM_STATES) {
      if (s === 'creating' || s === 'deleting') assert.throws(() => checkDelete(s), TransitionRefused);
      else assert.doesNotThrow(() => checkDelete(s));
    }
  });
  test('edits need an existing domain no operation owns', () => {
    for (const s of VM_STATES) {
      const refused = s === 'creating' || s === 'deleting' || s === 'missing';
      if (refused) assert.throws(() => checkEdit(s, 'x'), TransitionRefused);
      else assert.doesNotThrow(() => checkEdit(s, 'x'));
    }
  });
  test('disk growth needs a powered-off VM', () => {
    for (const s of VM_STATES) {
      if (s === 'stopped' || s === 'error') assert.doesNotThrow(() => checkDiskResize(s));
      else assert.throws(() => checkDiskResize(s), TransitionRefused);
    }
  });
});

describe('vm-state: observations', () => {
  test('libvirt domain states map onto VM states', () => {
    assert.equal(vmStateOf('running'), 'running');
    assert.equal(vmStateOf('paused'), 'paused');
    assert.equal(vmStateOf('pmsuspended'), 'paused');
    assert.equal(vmStateOf('shutoff'), 'stopped');
    assert.equal(vmStateOf('shutdown'), 'stopping');
    assert.equal(vmStateOf('crashed'), 'error');
    assert.equal(vmStateOf('nostate'), null);
  });
  test('lifecycle events map onto VM states; an undefine means missing, never stopped', () => {
    assert.equal(vmStateOfEvent('started'), 'running');
    assert.equal(vmStateOfEvent('resumed'), 'running');
    assert.equal(vmStateOfEvent('suspended'), 'paused');
    assert.equal(vmStateOfEvent('stopped'), 'stopped');
    assert.equal(vmStateOfEvent('crashed'), 'error');
    assert.equal(vmStateOfEvent('undefined'), 'missing');
    assert.equal(vmStateOfEvent('defined'), null);
    assert.equal(vmStateOfEvent('shutdown'), null);
  });
  test('observations never touch rows an operation owns, and skip no-ops', () => {
    for (const s of VM_STATES) {
      for (const o of VM_STATES) {
        const want = s !== 'creating' && s !== 'deleting' && s !== o;
        assert.equal(acceptsObservation(s, o), want, `${s} ← ${o}`);
      }
    }
  });
});
