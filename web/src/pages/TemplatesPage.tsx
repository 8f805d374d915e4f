// Templates: base images new machines are cloned from. Anyone may list the ones they can use and
// make one from their own stopped VM (copied in the background) or import a qcow2 cloud image
// (uploaded with a progress bar); owners and admins delete them. "Create from template" lives in
// the create dialog.
import { useRef, useState, type FormEvent } from 'react';
import { useAuth } from '../auth/AuthContext';
import { templates, vms } from '../api/endpoints';
import { describeError } from '../api/errors';
import type { Template } from '../api/types';
import { uploadTemplateImage } from '../api/upload';
import { AsyncView, EmptyState, InlineError } from '../components/AsyncStates';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { ProgressBar } from '../components/ProgressBar';
import { formatBytes } from '../lib/format';
import { formatMemoryMb } from '../lib/quota';
import { useAsync } from '../lib/useAsync';
import { usePolling } from '../lib/usePolling';

type Visibility = Template['visibility'];
const VISIBILITY: [Visibility, string][] = [['private', 'Only me'], ['everyone', 'Everyone']];

function FromVmForm({ onCreated }: { onCreated: () => void }) {
  const stopped = useAsync(async () => (await vms.list()).items.filter((v) => v.state === 'stopped'), []);
  const [vm, setVm] = useState('');
  const [name, setName] = useState('');
  const [visibility, setVisibility] = useState<Visibility>('private');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await templates.fromVm({ vm, name: name.trim(), visibility });
      setName('');
      setVm('');
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };
  return (
    <form className="filters" onSubmit={(e) => void submit(e)}>
      <div className="field">
        <label htmlFor="tpl-vm">Stopped machine</label>
        <select id="tpl-vm" value={vm} onChange={(e) => setVm(e.target.value)}>
          <option value="">{stopped.data?.length === 0 ? 'No stopped machine' : 'Choose…'}</option>
          {(stopped.data ?? []).map((v) => <option key={v.uuid} value={v.uuid}>{v.name}</option>)}
        </select>
      </div>
      <div className="field">
        <label htmlFor="tpl-name">Template name</label>
        <input id="tpl-name" maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="tpl-visibility">Who may use it</label>
        <select id="tpl-visibility" value={visibility} onChange={(e) => setVisibility(e.target.value as Visibility)}>
          {VISIBILITY.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
        </select>
      </div>
      <button type="submit" className="btn btn-primary" disabled={pending || !vm || !name.trim()}>{pending ? 'Starting…' : 'Make template'}</button>
      <InlineError error={error ?? stopped.error} />
    </form>
  );
}

function ImportForm({ onImported }: { onImported: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [cloudInit, setCloudInit] = useState(true);
  const [progress, setProgress] = useState<number | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const start = (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setMessage(null);
    setProgress(0);
    uploadTemplateImage(file, { name: name.trim(), cloud_init: String(cloudInit) }, setProgress).promise.then(
      () => {
        setMessage({ ok: true, text: `${name.trim()} imported.` });
        setFile(null);
        setName('');
        if (input.current) input.current.value = '';
        onImported();
      },
      (err: unknown) => setMessage({ ok: false, text: describeError(err) }),
    ).finally(() => setProgress(null));
  };
  return (
    <form className="filters" onSubmit={start}>
      <div className="field">
        <label htmlFor="tpl-file">qcow2 cloud image</label>
        <input id="tpl-file" ref={input} type="file" onChange={(e) => { const f = e.target.files?.[0] ?? null; setFile(f); if (f && !name) setName(f.name.replace(/\.(qcow2|img)$/i, '')); }} />
      </div>
      <div className="field">
        <label htmlFor="tpl-import-name">Template name</label>
        <input id="tpl-import-name" maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <label className="checkbox"><input type="checkbox" checked={cloudInit} onChange={(e) => setCloudInit(e.target.checked)} /> Uses cloud-init (gets your SSH keys)</label>
      <button type="submit" className="btn btn-primary" disabled={!file || !name.trim() || progress !== null}>{progress !== null ? 'Uploading…' : 'Import'}</button>
      {progress !== null && <ProgressBar value={progress} label="Upload progress" />}
      {message && <p className={message.ok ? 'notice notice-success' : 'inline-error'} role={message.ok ? 'status' : 'alert'}>{message.text}</p>}
    </form>
  );
}

export function TemplatesPage() {
  const { user } = useAuth();
  const list = useAsync(async () => (await templates.list()).items, []);
  // A template made from a VM is `creating` while its disk is copied: look again until it is ready.
  usePolling(list.reload, 3_000, list.data?.some((t) => t.state === 'creating') ?? false);
  const [removing, setRemoving] = useState<Template | null>(null);
  return (
    <section className="page">
      <header className="page-header"><h1>Templates</h1></header>
      <p className="muted">A template is a ready disk new machines start from (choose it in “New virtual machine”). A linked clone shares the template's disk and is created in seconds; a full clone is an independent copy.</p>
      <section className="panel" aria-labelledby="tpl-vm-h">
        <h2 id="tpl-vm-h">From one of your machines</h2>
        <FromVmForm onCreated={list.reload} />
      </section>
      <section className="panel" aria-labelledby="tpl-import-h">
        <h2 id="tpl-import-h">Import a cloud image</h2>
        <ImportForm onImported={list.reload} />
      </section>
      <AsyncView {...list} isEmpty={(t) => t.length === 0} empty={<EmptyState title="No templates yet">Make one from a stopped machine or import a cloud image above.</EmptyState>}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">Source</th><th scope="col">State</th><th scope="col">Minimum size</th><th scope="col">Image</th><th scope="col">Who may use it</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id} data-template={t.name} data-state={t.state}>
                  <td>{t.name}{t.description && <p className="hint">{t.description}</p>}</td>
                  <td>{t.source === 'vm' ? 'machine' : 'cloud image'}{t.cloud_init && ' · cloud-init'}</td>
                  <td><span className={`badge badge-state-${t.state === 'ready' ? 'running' : 'starting'}`}>{t.state}</span></td>
                  <td>{t.min_vcpus} vCPU · {formatMemoryMb(t.min_memory_mb)} · {t.min_disk_gb} GB</td>
                  <td>{formatBytes(t.size_bytes)}</td>
                  <td>{t.visibility === 'everyone' ? 'everyone' : t.visibility === 'group' ? 'a group' : 'owner only'}</td>
                  <td className="row-actions">
                    {(user?.role === 'admin' || t.owner_id === user?.id) && <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setRemoving(t)}>Delete</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
      {removing && <ConfirmDialog open title={`Delete template ${removing.name}?`} message="Its base image is removed. Machines made as full clones keep working; while linked clones exist the server refuses." confirmLabel="Delete template" onClose={() => setRemoving(null)} onConfirm={async () => { await templates.remove(removing.id); list.reload(); }} />}
    </section>
  );
}
