// Snapshots: create (running or shut off), list, revert and delete — revert and delete confirm
// first, since both lose state.
import { useState } from 'react';
import { snapshots } from '../../api/endpoints';
import type { Snapshot, Vm } from '../../api/types';
import { AsyncView, EmptyState, InlineError } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { formatTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { usePolling } from '../../lib/usePolling';
import { useSubmit } from '../../lib/useSubmit';

function CreateSnapshotForm({ vm, onCreated }: { vm: Vm; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const { pending, error, submit } = useSubmit(async () => {
    await snapshots.create(vm.uuid, name.trim(), description.trim());
    setName('');
    setDescription('');
    onCreated();
  });
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)}>
      <div className="field">
        <label htmlFor="snap-name">Snapshot name</label>
        <input id="snap-name" required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field field-grow">
        <label htmlFor="snap-desc">Description (optional)</label>
        <input id="snap-desc" maxLength={256} value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <button type="submit" className="btn btn-primary" disabled={pending || !name.trim()}>
        {pending ? 'Taking snapshot…' : 'Take snapshot'}
      </button>
      <InlineError error={error} />
    </form>
  );
}

export function SnapshotsTab({ vm }: { vm: Vm }) {
  const list = useAsync(async () => (await snapshots.list(vm.uuid)).items, [vm.uuid]);
  // Snapshot work answers 202 and has no event stream: poll only while something is in progress.
  usePolling(list.reload, 1_500, list.data?.some((s) => s.state !== 'ready') ?? false);
  const [confirm, setConfirm] = useState<{ kind: 'revert' | 'delete'; snap: Snapshot } | null>(null);
  return (
    <section className="panel" aria-labelledby="snap-h">
      <h2 id="snap-h">Snapshots</h2>
      <CreateSnapshotForm vm={vm} onCreated={list.reload} />
      <AsyncView {...list} isEmpty={(s) => s.length === 0} empty={<EmptyState title="No snapshots yet">A snapshot saves the disk (and memory, if running) so you can return to this point later.</EmptyState>}>
        {(items) => (
          <table className="table">
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Taken</th><th scope="col">State</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id} data-snapshot={s.name} data-state={s.state}>
                  <td>{s.name}</td>
                  <td>{s.description || <span className="muted">—</span>}</td>
                  <td>{formatTime(s.created_at)}</td>
                  <td>{s.state}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" aria-label={`Revert to snapshot ${s.name}`} disabled={s.state !== 'ready'} onClick={() => setConfirm({ kind: 'revert', snap: s })}>Revert</button>
                    <button type="button" className="btn btn-small btn-danger-outline" aria-label={`Delete snapshot ${s.name}`} disabled={s.state !== 'ready'} onClick={() => setConfirm({ kind: 'delete', snap: s })}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
      {confirm && (
        <ConfirmDialog
          open
          title={confirm.kind === 'revert' ? `Revert to "${confirm.snap.name}"?` : `Delete snapshot "${confirm.snap.name}"?`}
          message={confirm.kind === 'revert' ? 'The machine returns to the state it had when this snapshot was taken. Everything since then is lost.' : 'The snapshot is removed. The machine itself is not changed.'}
          confirmLabel={confirm.kind === 'revert' ? 'Revert' : 'Delete snapshot'}
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            if (confirm.kind === 'revert') await snapshots.revert(confirm.snap.id);
            else await snapshots.remove(confirm.snap.id);
            list.reload();
          }}
        />
      )}
    </section>
  );
}
