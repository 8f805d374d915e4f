// The ISO library: list, upload with progress (raw PUT body, see api/upload.ts), delete.
import { useRef, useState } from 'react';
import { isos } from '../../api/endpoints';
import { describeError } from '../../api/errors';
import type { Iso } from '../../api/types';
import { uploadIso, type UploadHandle } from '../../api/upload';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { ProgressBar } from '../../components/ProgressBar';
import { formatBytes, formatTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';

// The server's rule (src/modules/isos/iso-library.ts ISO_NAME_RE), checked here to explain before uploading.
const ISO_NAME = /^(?!\.)[A-Za-z0-9._-]{1,128}\.iso$/;

function IsoUpload({ onUploaded }: { onUploaded: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const handle = useRef<UploadHandle | null>(null);
  const nameOk = ISO_NAME.test(name);

  const start = () => {
    if (!file) return;
    setMessage(null);
    setProgress(0);
    const h = uploadIso(file, name, setProgress);
    handle.current = h;
    h.promise.then(
      () => {
        setMessage({ ok: true, text: `${name} uploaded.` });
        setFile(null);
        setName('');
        if (input.current) input.current.value = '';
        onUploaded();
      },
      (e: unknown) => setMessage({ ok: false, text: describeError(e) }),
    ).finally(() => {
      handle.current = null;
      setProgress(null);
    });
  };

  return (
    <section className="panel" aria-labelledby="upload-h">
      <h2 id="upload-h">Upload an ISO</h2>
      <div className="inline-form">
        <div className="field">
          <label htmlFor="iso-file">File</label>
          <input id="iso-file" ref={input} type="file" accept=".iso,application/x-iso9660-image" disabled={progress !== null} onChange={(e) => { const f = e.target.files?.[0] ?? null; setFile(f); if (f) setName(f.name); }} />
        </div>
        <div className="field">
          <label htmlFor="iso-name">Name in the library</label>
          <input id="iso-name" value={name} disabled={progress !== null} aria-invalid={name !== '' && !nameOk} onChange={(e) => setName(e.target.value)} />
        </div>
        {progress === null ? (
          <button type="button" className="btn btn-primary" disabled={!file || !nameOk} onClick={start}>Upload</button>
        ) : (
          <button type="button" className="btn" onClick={() => handle.current?.abort()}>Cancel upload</button>
        )}
      </div>
      {name !== '' && !nameOk && <p className="hint hint-warn">Names end in .iso and use letters, digits, . _ -</p>}
      {progress !== null && (
        <div className="upload-progress">
          <ProgressBar value={progress} label="Upload progress" />
          <span>{Math.round(progress * 100)} % of {formatBytes(file?.size)}</span>
        </div>
      )}
      {message && <p className={message.ok ? 'notice notice-success' : 'inline-error'} role={message.ok ? 'status' : 'alert'}>{message.text}</p>}
    </section>
  );
}

export function IsoLibraryPage() {
  const list = useAsync(async () => (await isos.list()).items, []);
  const [deleting, setDeleting] = useState<Iso | null>(null);
  return (
    <section className="page">
      <h1>ISO library</h1>
      <IsoUpload onUploaded={list.reload} />
      <AsyncView {...list} isEmpty={(i) => i.length === 0} empty={<EmptyState title="The library is empty">Upload an installer ISO above; users choose from this list when they create a machine.</EmptyState>}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Added</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {items.map((i) => (
                <tr key={i.id}>
                  <td>{i.name}</td>
                  <td>{formatBytes(i.size_bytes)}</td>
                  <td>{formatTime(i.created_at)}</td>
                  <td className="row-actions"><button type="button" className="btn btn-small btn-danger-outline" onClick={() => setDeleting(i)}>Delete</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
      {deleting && (
        <ConfirmDialog open title={`Delete ${deleting.name}?`} message="The image is removed from the library. Machines that have it inserted may refuse to start until it is ejected." confirmLabel="Delete ISO" onClose={() => setDeleting(null)} onConfirm={async () => { await isos.remove(deleting.id); list.reload(); }} />
      )}
    </section>
  );
}
