// The VM state machine (pure). Every power action, edit and deletion asks this file first, so an
// impossible transition is refused in one place (409 INVALID_STATE) instead of reaching libvirt.
import type { DomainEventType, DomainState } from '../../hypervisor/index.js';

export const VM_STATES = ['creating', 'stopped', 'starting', 'running', 'paused', 'stopping', 'deleting', 'error', 'missing'] as const;
export type VmState = (typeof VM_STATES)[number];

export const VM_ACTIONS = ['start', 'shutdown', 'stop', 'reboot', 'reset', 'pause', 'resume'] as const;
export type VmAction = (typeof VM_ACTIONS)[number];

export type DesiredState = 'stopped' | 'running' | 'paused' | 'deleted';

/** What an accepted action does: the state recorded now, the state it aims for, and how it runs. */
export interface ActionPlan {
  action: VmAction;
  /** state written when the request is accepted */
  transitional: VmState;
  desired: DesiredState;
  /** background: the request answers 202 before libvirt finishes; inline: awaited (fast calls) */
  mode: 'background' | 'inline';
}

/** States an operation owned by this process is driving; events and refreshes leave them alone. */
export const OP_OWNED_STATES: readonly VmState[] = ['creating', 'deleting'];

const ACTION_FROM: Record<VmAction, readonly VmState[]> = {
  // error: retry after a failed start; the domain still exists (missing has none)
  start: ['stopped', 'error'],
  // ACPI reaches a running guest only
  shutdown: ['running'],
  // power-off also rescues a guest stuck in starting/stopping or a paused one
  stop: ['running', 'paused', 'starting', 'stopping', 'error'],
  reboot: ['running'],
  reset: ['running'],
  pause: ['running'],
  resume: ['paused'],
};

const PLANS: Record<VmAction, Omit<ActionPlan, 'action'>> = {
  start: { transitional: 'starting', desired: 'running', mode: 'background' },
  shutdown: { transitional: 'stopping', desired: 'stopped', mode: 'background' },
  stop: { transitional: 'stopping', desired: 'stopped', mode: 'background' },
  reboot: { transitional: 'running', desired: 'running', mode: 'inline' },
  reset: { transitional: 'running', desired: 'running', mode: 'inline' },
  pause: { transitional: 'paused', desired: 'paused', mode: 'inline' },
  resume: { transitional: 'running', desired: 'running', mode: 'inline' },
};

export class TransitionRefused extends Error {
  constructor(
    readonly state: VmState,
    readonly attempted: string,
  ) {
    super(`Cannot ${attempted} a VM that is ${state}`);
    this.name = 'TransitionRefused';
  }
}

export function isVmAction(s: string): s is VmAction {
  return (VM_ACTIONS as readonly string[]).includes(s);
}

export function allowedActions(state: VmState): VmAction[] {
  return VM_ACTIONS.filter((a) => ACTION_FROM[a].includes(state));
}

/** The plan for `action` from `state`; throws TransitionRefused when impossible. */
export function planAction(state: VmState, action: VmAction): ActionPlan {
  if (!ACTION_FROM[action].includes(state)) throw new TransitionRefused(state, action);
  return { action, ...PLANS[action] };
}

/** Deletion is refused only while another operation owns the VM (creating, or already deleting). */
export function checkDelete(state: VmState): void {
  if (state === 'creating' || state === 'deleting') throw new TransitionRefused(state, 'delete');
}

/** Rename, resize, media and boot order need an existing domain that no operation owns. */
export function checkEdit(state: VmState, what: string): void {
  if (state === 'creating' || state === 'deleting' || state === 'missing') throw new TransitionRefused(state, what);
}

/** Disk growth needs a powered-off domain (qemu-img must not touch an image a guest writes). */
export function checkDiskResize(state: VmState): void {
  if (state !== 'stopped' && state !== 'error') throw new TransitionRefused(state, 'resize the disk of');
}

export function isRunningLike(state: VmState): boolean {
  return state === 'running' || state === 'paused' || state === 'starting' || state === 'stopping';
}

/** The VM state a libvirt domain state means; null when libvirt does not say (nostate). */
export function vmStateOf(domain: DomainState): VmState | null {
  switch (domain) {
    case 'running':
      return 'running';
    case 'paused':
    case 'pmsuspended':
      return 'paused';
    case 'shutoff':
      return 'stopped';
    case 'shutdown':
      // the guest is powering itself off
      return 'stopping';
    case 'crashed':
      return 'error';
    case 'nostate':
      return null;
  }
}

/** The VM state a lifecycle event implies; null when the event changes nothing we track. */
export function vmStateOfEvent(type: DomainEventType): VmState | null {
  switch (type) {
    case 'started':
    case 'resumed':
      return 'running';
    case 'suspended':
    case 'pmsuspended':
      return 'paused';
    case 'stopped':
      return 'stopped';
    case 'crashed':
      return 'error';
    case 'undefined':
      return 'missing';
    case 'defined':
    case 'shutdown':
      return null;
  }
}

/**
 * Whether an observation (event or refresh) may replace the stored state. Rows an operation owns
 * (creating, deleting) change only through that operation or the reconciler's crash recovery.
 */
export function acceptsObservation(current: VmState, observed: VmState): boolean {
  if (OP_OWNED_STATES.includes(current)) return false;
  return current !== observed;
}
