// Create a VM. Quota and ISOs are fetched each time the dialog opens (an admin may have changed
// the quota since the dashboard loaded); sizes the quota cannot hold are disabled and say why.
import { useEffect, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { isos as isosApi, quota as quotaApi, vms } from '../api/endpoints';
import type { Iso, Vm } from '../api/types';
import { AsyncView, InlineError } from '../components/AsyncStates';
import { Modal } from '../components/Modal';
import { QuotaBars } from '../components/QuotaBars';
import { exceededByCreate, formatQuantity, QUOTA_LABELS, remaining, type Quota } from '../lib/quota';
import { useAsync } from '../lib/useAsync';
import { defaultSize, SIZE_DEFAULTS, sizeOptions, type SizeKey } from '../lib/vm-sizes';

const SIZE_LABELS: Record<SizeKey, string> = { vcpus: 'vCPUs', memory_mb: 'Memory', disk_gb: 'Disk' };
// The server's rule (src/modules/vms/vm-input.ts): 1–64 characters after trimming, no control characters or line breaks.
const nameOk = (n: string) => { const t = n.trim(); return t.length > 0 && [...t].length <= 64 && !/[\p{Cc}\p{Zl}\p{Zp}]/u.test(t); };

interface Props { open: boolean; onClose: () => void; onCreated: (vm: Vm) => void }

export function CreateVmDialog({ open, onClose, onCreated }: Props) {
  return (
    <Modal title="New virtual machine" open={open} onClose={onClose} wide>
      {open && <CreateVmLoader onClose={onClose} onCreated={onCreated} />}
    </Modal>
  );
}

function CreateVmLoader({ onClose, onCreated }: Omit<Props, 'open'>) {
  const data = useAsync(async () => {
    const [q, i] = await Promise.all([quotaApi.mine(), isosApi.list()]);
    return { quota: q, isos: i.items };
  }, []);
  return <AsyncView {...data}>{(d) => <CreateVmForm quota={d.quota} isos={d.isos} onClose={onClose} onCreated={onCreated} />}</AsyncView>;
}

function CreateVmForm({ quota, isos, onClose, onCreated }: { quota: Quota; isos: Iso[] } & Omit<Props, 'open'>) {
  const navigate = useNavigate();
  const opts = { vcpus: sizeOptions(quota, 'vcpus'), memory_mb: sizeOptions(quota, 'memory_mb'), disk_gb: sizeOptions(quota, 'disk_gb') };
  const [name, setName] = useState('');
  const [size, setSize] = useState<Record<SizeKey, number>>(() => ({
    vcpus: defaultSize(opts.vcpus, SIZE_DEFAULTS.vcpus),
    memory_mb: defaultSize(opts.memory_mb, SIZE_DEFAULTS.memory_mb),
    disk_gb: defaultSize(opts.disk_gb, SIZE_DEFAULTS.disk_gb),
  }));
  // The API takes the ISO's id; the first library image is preselected (most people install from one).
  const [iso, setIso] = useState(isos[0]?.id ?? '');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => setIso((cur) => cur || isos[0]?.id || ''), [isos]);

  const exceeded = exceededByCreate(quota, size);
  const vmsLeft = remaining(quota, 'vms');
  const nameValid = nameOk(name);
  const fieldError = error instanceof ApiError ? error.field : undefined;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      const vm = await vms.create({ name: name.trim(), ...size, ...(iso ? { iso } : {}) });
      onCreated(vm);
      onClose();
      navigate(`/vms/${vm.uuid}`);
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} className="create-vm" noValidate>
      {vmsLeft === 0 && (
        <p className="notice notice-danger" role="alert">
          You have used all {quota.limits.vms} of your virtual machines. Delete one, or ask an administrator to raise your quota.
        </p>
      )}
      <div className="field">
        <label htmlFor="vm-name">Name</label>
        <input id="vm-name" required autoFocus value={name} maxLength={64} aria-invalid={fieldError === 'name' || (name !== '' && !nameValid)} aria-describedby="vm-name-hint" onChange={(e) => setName(e.target.value)} />
        <p id="vm-name-hint" className="hint">
          Up to 64 characters.
        </p>
        {fieldError === 'name' && <InlineError error={error} />}
      </div>
      <div className="field-row">
        {(Object.keys(SIZE_LABELS) as SizeKey[]).map((key) => {
          const left = remaining(quota, key);
          return (
            <div className="field" key={key}>
              <label htmlFor={`vm-${key}`}>{SIZE_LABELS[key]}</label>
              <select id={`vm-${key}`} value={size[key]} aria-describedby={`vm-${key}-left`} onChange={(e) => setSize((s) => ({ ...s, [key]: Number(e.target.value) }))}>
                {opts[key].map((o) => (
                  <option key={o.value} value={o.value} disabled={!o.allowed}>
                    {formatQuantity(key, o.value)}
                    {o.allowed ? '' : ' — over quota'}
                  </option>
                ))}
              </select>
              <p className="hint" id={`vm-${key}-left`}>
                {left === null ? 'Unlimited' : `${formatQuantity(key, left)} left`}
              </p>
              {fieldError === key && <InlineError error={error} />}
            </div>
          );
        })}
      </div>
      <div className="field">
        <label htmlFor="vm-iso">Installer ISO</label>
        <select id="vm-iso" value={iso} onChange={(e) => setIso(e.target.value)}>
          <option value="">No ISO (empty CD-ROM)</option>
          {isos.map((i) => (
            <option key={i.id} value={i.id}>
              {i.name}
            </option>
          ))}
        </select>
        {isos.length === 0 && <p className="hint">The ISO library is empty; an administrator can upload images.</p>}
      </div>
      {exceeded.length > 0 && (
        <p className="notice notice-danger" role="alert">
          Over quota: {exceeded.map((k) => QUOTA_LABELS[k]).join(', ')}.
        </p>
      )}
      <details className="quota-details">
        <summary>Your quota</summary>
        <QuotaBars quota={quota} keys={['vms', 'vcpus', 'memory_mb', 'disk_gb']} />
      </details>
      {(fieldError === undefined || !['name', 'vcpus', 'memory_mb', 'disk_gb'].includes(fieldError)) && <InlineError error={error} />}
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="btn btn-primary" disabled={pending || !nameValid || exceeded.length > 0}>
          {pending ? 'Creating…' : 'Create'}
        </button>
      </div>
    </form>
  );
}
