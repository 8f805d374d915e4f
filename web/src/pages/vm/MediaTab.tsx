// CD-ROM media (library ISOs only, chosen by id) and boot order. Changes apply live where libvirt allows;
// otherwise the server says "applies at next boot" and so do we.
import { useState } from 'react';
import { isos as isosApi, vms } from '../../api/endpoints';
import type { Vm } from '../../api/types';
import { AsyncView, InlineError } from '../../components/AsyncStates';
import { useAsync } from '../../lib/useAsync';
import { BootOrderPanel } from './BootOrderPanel';

function appliedText(applied: string | undefined): string {
  return applied === 'next_boot' ? 'Saved; applies at next boot.' : 'Applied.';
}

function MediaPanel({ vm }: { vm: Vm }) {
  const media = useAsync(() => vms.media(vm.uuid), [vm.uuid]);
  const library = useAsync(() => isosApi.list(), []);
  const [choice, setChoice] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [note, setNote] = useState('');

  const change = async (isoId: string | null) => {
    setPending(true);
    setError(undefined);
    setNote('');
    try {
      const r = await vms.setMedia(vm.uuid, isoId);
      media.setData(r);
      setChoice('');
      setNote(appliedText(r.applied));
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };

  return (
    <AsyncView {...media}>
      {(m) => (
        <div>
          <p>
            CD-ROM: {m.iso ? <strong>{m.iso.name}</strong> : <span className="muted">empty</span>}{' '}
            {m.iso && (
              <button type="button" className="btn" disabled={pending} onClick={() => void change(null)}>
                Eject
              </button>
            )}
          </p>
          <div className="inline-form">
            <label htmlFor="media-iso">Insert ISO</label>
            <select id="media-iso" value={choice} onChange={(e) => setChoice(e.target.value)} disabled={!library.data}>
              <option value="">{library.data?.items.length === 0 ? 'The library is empty' : 'Choose an ISO…'}</option>
              {library.data?.items.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name}
                </option>
              ))}
            </select>
            <button type="button" className="btn btn-primary" disabled={pending || !choice} onClick={() => void change(choice)}>
              {pending ? 'Working…' : 'Attach'}
            </button>
          </div>
          <InlineError error={error ?? library.error} />
          {note && <p className="notice notice-success" role="status">{note}</p>}
        </div>
      )}
    </AsyncView>
  );
}

export function MediaTab({ vm }: { vm: Vm }) {
  return (
    <div className="grid-2">
      <section className="panel" aria-labelledby="media-h">
        <h2 id="media-h">Media</h2>
        <MediaPanel vm={vm} />
      </section>
      <section className="panel" aria-labelledby="boot-h">
        <h2 id="boot-h">Boot order</h2>
        <BootOrderPanel vm={vm} />
      </section>
    </div>
  );
}
