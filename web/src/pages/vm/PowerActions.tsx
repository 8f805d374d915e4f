// The power buttons a VM's state allows. Destructive ones (power off, reset) ask first. The
// server's answer (202 with the transitional state) is shown at once; the final state arrives as
// an event.
import { useState } from 'react';
import { vms } from '../../api/endpoints';
import type { Vm } from '../../api/types';
import { InlineError } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { ACTION_LABELS, actionsFor, CONFIRM, type PowerAction } from '../../lib/vm-actions';

export function PowerActions({ vm, onChange }: { vm: Vm; onChange: (vm: Vm) => void }) {
  const [pending, setPending] = useState<PowerAction | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState<PowerAction | null>(null);

  const perform = async (action: PowerAction) => {
    const updated = await vms.action(vm.uuid, action);
    if (updated && typeof updated === 'object' && 'uuid' in updated) onChange(updated);
  };

  const run = async (action: PowerAction) => {
    if (CONFIRM[action]) return setConfirming(action);
    setPending(action);
    setError(undefined);
    try {
      await perform(action);
    } catch (e) {
      setError(e);
    } finally {
      setPending(null);
    }
  };

  const actions = actionsFor(vm.state, vm.allowed_actions);
  return (
    <div className="power-actions">
      <div className="btn-group" role="group" aria-label="Power actions">
        {actions.length === 0 && <span className="muted">No actions while {vm.state}</span>}
        {actions.map((a) => (
          <button key={a} type="button" className={a === 'start' || a === 'resume' ? 'btn btn-primary' : CONFIRM[a] ? 'btn btn-danger-outline' : 'btn'} disabled={pending !== null} onClick={() => void run(a)}>
            {pending === a ? `${ACTION_LABELS[a]}…` : ACTION_LABELS[a]}
          </button>
        ))}
      </div>
      <InlineError error={error} />
      {confirming && (
        <ConfirmDialog
          open
          title={`${ACTION_LABELS[confirming]} ${vm.name}?`}
          message={CONFIRM[confirming] ?? ''}
          confirmLabel={ACTION_LABELS[confirming]}
          onClose={() => setConfirming(null)}
          onConfirm={() => perform(confirming)}
        />
      )}
    </div>
  );
}
