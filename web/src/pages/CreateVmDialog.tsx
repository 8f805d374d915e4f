// Create a VM. Quota and ISOs are fetched each time the dialog opens (an admin may have changed
// the quota since the dashboard loaded); sizes the quota cannot hold are disabled and say why.
import { useEffect, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { isos as isosApi, quota as quotaApi, templates as templatesApi, vms } from '../api/endpoints';
import type { Iso, Template, Vm, VmCreate } from '../api/types';
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
    const [q, i, t] = await Promise.all([quotaApi.mine(), isosApi.list(), templatesApi.list()]);
    return { quota: q, isos: i.items, templates: t.items.filter((x) => x.state === 'ready') };
  }, []);
  return <AsyncView {...data}>{(d) => <CreateVmForm quota={d.quota} isos={d.isos} templates={d.templates} onClose={onClose} onCreated={onCreated} />}</AsyncView>;
}

const MIN_OF: Record<SizeKey, 'min_vcpus' | 'min_memory_mb' | 'min_disk_gb'> = { vcpus: 'min_vcpus', memory_mb: 'min_memory_mb', disk_gb: 'min_disk_gb' };

function CreateVmForm({ quota, isos, templates, onClose, onCreated }: { quota: Quota; isos: Iso[]; templates: Template[] } & Omit<Props, 'open'>) {
  const navigate = useNavigate();
  // Start from an installer ISO or clone a template (sizes below the template's minimum are disabled).
  const [source, setSource] = useState<'iso' | 'template'>('iso');
  const [templateId, setTemplateId] = useState(templates[0]?.id ?? '');
  const [cloneMode, setCloneMode] = useState<'linked' | 'full'>('linked');
  const [userData, setUserData] = useState('');
  const template = source === 'template' ? templates.find((t) => t.id === templateId) : undefined;
  const withMin = (key: SizeKey) => sizeOptions(quota, key).map((o) => ({ ...o, belowMin: template !== undefined && o.value < template[MIN_OF[key]] }));
  const opts = { vcpus: withMin('vcpus'), memory_mb: withMin('memory_mb'), disk_gb: withMin('disk_gb') };
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

  // Choosing a template raises sizes below its minimum to the minimum.
  useEffect(() => {
    if (!template) return;
    setSize((s) => ({ vcpus: Math.max(s.vcpus, template.min_vcpus), memory_mb: Math.max(s.memory_mb, template.min_memory_mb), disk_gb: Math.max(s.disk_gb, template.min_disk_gb) }));
  }, [template]);
  const belowMin = (Object.keys(SIZE_LABELS) as SizeKey[]).filter((k) => template !== undefined && size[k] < template[MIN_OF[k]]);
  const exceeded = exceededByCreate(quota, size);
  const vmsLeft = remaining(quota, 'vms');
  const nameValid = nameOk(name);
  const fieldError = error instanceof ApiError ? error.field : undefined;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      const body: VmCreate = template
        ? { name: name.trim(), ...size, template: template.id, clone_mode: cloneMode, ...(template.cloud_init && userData.trim() ? { user_data: userData } : {}) }
        : { name: name.trim(), ...size, ...(iso ? { iso } : {}) };
      const vm = await vms.create(body);
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
                  <option key={o.value} value={o.value} disabled={!o.allowed || o.belowMin}>
                    {formatQuantity(key, o.value)}
                    {!o.allowed ? ' — over quota' : o.belowMin ? ' — below template minimum' : ''}
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
      {templates.length > 0 && (
        <fieldset className="field">
          <legend>Start from</legend>
          <label className="checkbox"><input type="radio" name="vm-source" checked={source === 'iso'} onChange={() => setSource('iso')} /> An installer ISO</label>
          <label className="checkbox"><input type="radio" name="vm-source" checked={source === 'template'} onChange={() => setSource('template')} /> A template</label>
        </fieldset>
      )}
      {source === 'template' && (
        <div className="field-row">
          <div className="field">
            <label htmlFor="vm-template">Template</label>
            <select id="vm-template" value={templateId} onChange={(e) => setTemplateId(e.target.value)}>
              {templates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor="vm-clone">Disk</label>
            <select id="vm-clone" value={cloneMode} onChange={(e) => setCloneMode(e.target.value as 'linked' | 'full')} aria-describedby="vm-clone-hint">
              <option value="linked">Linked clone (fast, shares the template)</option>
              <option value="full">Full copy (independent)</option>
            </select>
            <p id="vm-clone-hint" className="hint">A linked clone is ready in seconds; the template cannot be deleted while linked clones exist.</p>
          </div>
        </div>
      )}
      {template?.cloud_init && (
        <div className="field">
          <label htmlFor="vm-user-data">cloud-init user data (optional)</label>
          <textarea id="vm-user-data" rows={4} value={userData} placeholder="#cloud-config" onChange={(e) => setUserData(e.target.value)} aria-describedby="vm-user-data-hint" />
          <p id="vm-user-data-hint" className="hint">Your SSH keys (profile) are added automatically.</p>
        </div>
      )}
      {source === 'iso' && <div className="field">
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
      </div>}
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
        <button type="submit" className="btn btn-primary" disabled={pending || !nameValid || exceeded.length > 0 || belowMin.length > 0 || (source === 'template' && !template)}>
          {pending ? 'Creating…' : 'Create'}
        </button>
      </div>
    </form>
  );
}
