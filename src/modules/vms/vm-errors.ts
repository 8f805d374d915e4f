// Maps hypervisor and state-machine failures to the contract's error codes. Libvirt's own text
// stays in the log: a 5xx never carries internals.
import { isHypervisorError } from '../../hypervisor/index.js';
import { AppError, invalidState, unavailable } from '../../platform/http/app-error.js';
import { TransitionRefused } from './vm-state.js';

export function toAppError(e: unknown): unknown {
  if (e instanceof TransitionRefused) return invalidState(e.message, { state: e.state });
  if (!isHypervisorError(e)) return e;
  switch (e.kind) {
    case 'invalid_state':
      return invalidState('The VM is not in a state that allows this');
    case 'not_found':
      return invalidState('The VM has no libvirt domain (it is missing)');
    case 'timeout':
    case 'disconnected':
      return unavailable('The hypervisor is not reachable right now');
    case 'operation_failed':
      return new AppError('UNAVAILABLE', 'The hypervisor could not perform the operation');
  }
}
