// One VM on the dashboard: name, live state, size, and the quick actions for its state.
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { vms } from '../api/endpoints';
import type { Vm } from '../api/types';
import { formatMemoryMb } from '../lib/quota';
import { actionsFor } from '../lib/vm-actions';
import { InlineError } from './AsyncStates';
import { StateBadge } from './StateBadge';

export function VmCard({ vm, onChanged }: { vm: Vm; onChanged: (vm: Vm) => void }) {
  const [pending, setPending] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);

  const act = async (action: 'start' | 'shutdown') => {
    setPending(action);
    setError(undefined);
    try {
      const updated = await vms.action(vm.uuid, action);
      if (updated && typeof updated === 'object' && 'uuid' in updated) onChanged(updated);
    } catch (e) {
      setError(e);
    } finally {
      setPending(null);
    }
  };

  return (
    <article className="card vm-card" data-vm={vm.uuid} aria-labelledby={`vm-${vm.uuid}-name`}>
      <header className="vm-card-head">
        <h3 id={`vm-${vm.uuid}-name`}>
          <Link to={`/vms/${vm.uuid}`}>{vm.name}</Link>
        </h3>
        <StateBadge state={vm.state} />
      </header>
      <dl className="specs">
        <div>
          <dt>vCPUs</dt>
          <dd>{vm.vcpus}</dd>
        </div>
        <div>
          <dt>Memory</dt>
          <dd>{formatMemoryMb(vm.memory_mb)}</dd>
        </div>
        <div>
          <dt>Disk</dt>
          <dd>{vm.disk_gb} GB</dd>
        </div>
      </dl>
      <InlineError error={error} />
      <div className="card-actions">
        {actionsFor(vm.state, vm.allowed_actions).includes('start') && (
          <button type="button" className="btn btn-primary" disabled={pending !== null} onClick={() => void act('start')}>
            {pending === 'start' ? 'Starting…' : 'Start'}
          </button>
        )}
        {vm.state === 'running' && (
          <>
            <Link className="btn btn-primary" to={`/vms/${vm.uuid}?tab=console`} aria-label={`Console of ${vm.name}`}>
              Console
            </Link>
            <button type="button" className="btn" disabled={pending !== null} onClick={() => void act('shutdown')}>
              {pending === 'shutdown' ? 'Shutting down…' : 'Shut down'}
            </button>
          </>
        )}
        <Link className="btn btn-ghost" to={`/vms/${vm.uuid}`} aria-label={`Manage ${vm.name}`}>
          Manage
        </Link>
      </div>
    </article>
  );
}
