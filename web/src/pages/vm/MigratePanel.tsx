// Admins: "Migrate to host…" — a stopped VM moves cold (done when the request answers), a running
// one live (the page follows `migrating_to` and the new `host` through the VM's events).
import { useState, type FormEvent } from 'react';
import { admin } from '../../api/endpoints';
import type { Vm } from '../../api/types';
import { InlineError } from '../../components/AsyncStates';
import { useAsync } from '../../lib/useAsync';

export function MigratePanel({ vm, onChange }: { vm: Vm; onChange: (vm: Vm) => void }) {
  const hosts = useAsync(() => admin.hosts(), [vm.host]);
  const [target, setTarget] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const movable = vm.state === 'stopped' || vm.state === 'running' || vm.state === 'paused';
  const choices = (hosts.data?.items ?? []).filter((h) => h.name !== vm.host);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!target) return;
    setPending(true);
    setError(undefined);
    try {
      onChange(await admin.migrateVm(vm.uuid, target));
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };

  if (vm.migrating_to) return <p className="notice" role="status">Migrating from {vm.host} to {vm.migrating_to}… the guest keeps running meanwhile.</p>;
  return (
    <form onSubmit={(e) => void submit(e)}>
      <div className="field">
        <label htmlFor="migrate-host">Migrate to host…</label>
        <select id="migrate-host" value={target} onChange={(e) => setTarget(e.target.value)} disabled={!movable}>
          <option value="">choose a host</option>
          {choices.map((h) => (
            <option key={h.name} value={h.name} disabled={h.state === 'draining' || h.status !== 'connected'}>
              {h.name}
              {h.state === 'draining' ? ' — draining' : h.status !== 'connected' ? ' — unreachable' : ''}
            </option>
          ))}
        </select>
      </div>
      <p className="hint">{movable ? (vm.state === 'stopped' ? 'A stopped machine moves its definition (cold).' : 'A running machine moves live; open consoles reconnect to the new host.') : 'Only a stopped, running or paused machine can move.'}</p>
      <InlineError error={error} />
      <button type="submit" className="btn" disabled={pending || !target || !movable}>
        {pending ? 'Migrating…' : 'Migrate'}
      </button>
    </form>
  );
}
