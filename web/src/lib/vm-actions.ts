// Which power actions make sense in which state, and which need a confirmation. The server's
// state machine decides (409 INVALID_STATE otherwise); this only avoids offering dead buttons.
// Pure and import-free.

export type PowerAction = 'start' | 'shutdown' | 'stop' | 'reboot' | 'reset' | 'pause' | 'resume';

const BY_STATE: Record<string, readonly PowerAction[]> = {
  stopped: ['start'],
  running: ['shutdown', 'reboot', 'pause', 'stop', 'reset'],
  paused: ['resume', 'stop'],
  // A graceful shutdown can hang (no ACPI in the guest): powering off must stay possible.
  stopping: ['stop'],
  error: ['start', 'stop'],
};

/** The server's `allowed_actions` when the VM carries them (it knows pending operations), else the table above, in its order. */
export function actionsFor(state: string, allowed?: readonly PowerAction[]): readonly PowerAction[] {
  if (!allowed) return BY_STATE[state] ?? [];
  const preferred = BY_STATE[state] ?? [];
  return [...preferred.filter((a) => allowed.includes(a)), ...allowed.filter((a) => !preferred.includes(a))];
}

export const ACTION_LABELS: Record<PowerAction, string> = {
  start: 'Start',
  shutdown: 'Shut down',
  stop: 'Power off',
  reboot: 'Reboot',
  reset: 'Reset',
  pause: 'Pause',
  resume: 'Resume',
};

/** Destructive actions lose unsaved guest state: ask first, and say why. */
export const CONFIRM: Partial<Record<PowerAction, string>> = {
  stop: 'Power off cuts the power immediately, like pulling the plug. Unsaved work in the guest is lost. Use "Shut down" for a graceful stop.',
  reset: 'Reset restarts the machine immediately without shutting down the guest. Unsaved work in the guest is lost.',
};

/** States in which the VM is on its way somewhere: shown with a spinner, no actions. */
export const TRANSITIONAL = new Set(['creating', 'starting', 'stopping', 'deleting']);
