// Resize vCPUs, memory and disk. Only the increase counts against the quota; disks only grow
// (shrinking a disk under a guest's filesystem destroys data). Whether a change applies now or at
// next boot is the server's call; its message is shown.
import { useState, type FormEvent } from 'react';
import { quota as quotaApi, vms } from '../../api/endpoints';
import type { Vm } from '../../api/types';
import { InlineError } from '../../components/AsyncStates';
import { formatQuantity } from '../../lib/quota';
import { useAsync } from '../../lib/useAsync';
import { sizeOptions, type SizeKey } from '../../lib/vm-sizes';

const LABELS: Record<SizeKey, string> = { vcpus: 'vCPUs', memory_mb: 'Memory', disk_gb: 'Disk' };

export function ResizePanel({ vm, onChange }: { vm: Vm; onChange: (vm: Vm) => void }) {
  const quota = useAsync(() => quotaApi.mine(), [vm.vcpus, vm.memory_mb, vm.disk_gb]);
  const [size, setSize] = useState<Record<SizeKey, number>>({ vcpus: vm.vcpus, memory_mb: vm.memory_mb, disk_gb: vm.disk_gb });
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | null>(null);

  const changed = (Object.keys(LABELS) as SizeKey[]).filter((k) => size[k] !== vm[k]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    setDone(null);
    try {
      const patch = Object.fromEntries(changed.map((k) => [k, size[k]]));
      const r = await vms.update(vm.uuid, patch);
      onChange(r.vm);
      setDone(r.applied === 'next_boot' ? 'Saved; applies at the next start.' : 'Applied.');
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)}>
      <div className="field-row">
        {(Object.keys(LABELS) as SizeKey[]).map((key) => {
          // Keep the current value selectable even if it is not a preset.
          const options = sizeOptions(quota.data, key, vm[key]);
          if (!options.some((o) => o.value === vm[key])) options.push({ value: vm[key], allowed: true });
          options.sort((a, b) => a.value - b.value);
          return (
            <div className="field" key={key}>
              <label htmlFor={`resize-${key}`}>{LABELS[key]}</label>
              <select id={`resize-${key}`} value={size[key]} onChange={(e) => setSize((s) => ({ ...s, [key]: Number(e.target.value) }))}>
                {options.map((o) => {
                  const shrinkDisk = key === 'disk_gb' && o.value < vm.disk_gb;
                  return (
                    <option key={o.value} value={o.value} disabled={!o.allowed || shrinkDisk}>
                      {formatQuantity(key, o.value)}
                      {o.value === vm[key] ? ' (current)' : shrinkDisk ? ' — disks only grow' : o.allowed ? '' : ' — over quota'}
                    </option>
                  );
                })}
              </select>
            </div>
          );
        })}
      </div>
      {vm.state !== 'stopped' && <p className="hint">Some changes apply only after the machine is shut down and started again.</p>}
      <InlineError error={error} />
      {done && <p className="notice notice-success" role="status">{done}</p>}
      <button type="submit" className="btn btn-primary" disabled={pending || changed.length === 0}>
        {pending ? 'Saving…' : 'Apply changes'}
      </button>
    </form>
  );
}
