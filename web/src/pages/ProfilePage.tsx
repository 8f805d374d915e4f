// Your profile: the SSH public keys cloud-init puts into machines made from cloud-image templates
// (add, remove; machines made earlier keep the keys they got).
import { useState } from 'react';
import { useAuth } from '../auth/AuthContext';
import { sshKeys } from '../api/endpoints';
import type { SshKey } from '../api/types';
import { AsyncView, EmptyState, InlineError } from '../components/AsyncStates';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { formatTime } from '../lib/format';
import { useAsync } from '../lib/useAsync';
import { useSubmit } from '../lib/useSubmit';

function AddKeyForm({ onAdded }: { onAdded: () => void }) {
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const { pending, error, submit } = useSubmit(async () => {
    await sshKeys.add(key.trim(), name.trim() || undefined);
    setKey('');
    setName('');
    onAdded();
  });
  return (
    <form onSubmit={(e) => void submit(e)}>
      <div className="field">
        <label htmlFor="ssh-key">Public key</label>
        <textarea id="ssh-key" rows={3} value={key} placeholder="ssh-ed25519 AAAA… you@laptop" aria-describedby="ssh-key-hint" onChange={(e) => setKey(e.target.value)} />
        <p id="ssh-key-hint" className="hint">The contents of your <code>~/.ssh/id_ed25519.pub</code> (or another <code>.pub</code> file). Never the private key.</p>
      </div>
      <div className="field">
        <label htmlFor="ssh-key-name">Name (optional)</label>
        <input id="ssh-key-name" maxLength={64} value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <InlineError error={error} />
      <button type="submit" className="btn btn-primary" disabled={pending || !key.trim()}>{pending ? 'Adding…' : 'Add key'}</button>
    </form>
  );
}

export function ProfilePage() {
  const { user } = useAuth();
  const keys = useAsync(async () => (await sshKeys.list()).items, []);
  const [removing, setRemoving] = useState<SshKey | null>(null);
  return (
    <section className="page">
      <header className="page-header"><h1>Your profile</h1></header>
      <p className="muted">Signed in as <strong>{user?.username}</strong> ({user?.role}).</p>
      <section className="panel" aria-labelledby="ssh-h">
        <h2 id="ssh-h">SSH keys</h2>
        <p className="muted">Machines created from a cloud-init template get these keys, so you can log in with <code>ssh</code> without a password.</p>
        <AsyncView {...keys} isEmpty={(k) => k.length === 0} empty={<EmptyState title="No SSH keys yet" />}>
          {(items) => (
            <table className="table table-compact">
              <thead><tr><th scope="col">Name</th><th scope="col">Fingerprint</th><th scope="col">Added</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
              <tbody>
                {items.map((k) => (
                  <tr key={k.id} data-key={k.name}>
                    <td>{k.name}</td>
                    <td><code>{k.fingerprint}</code></td>
                    <td>{formatTime(k.created_at)}</td>
                    <td className="row-actions"><button type="button" className="btn btn-small btn-danger-outline" onClick={() => setRemoving(k)} aria-label={`Remove key ${k.name}`}>Remove</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </AsyncView>
        <AddKeyForm onAdded={keys.reload} />
      </section>
      {removing && <ConfirmDialog open title={`Remove key ${removing.name}?`} message="New machines will not get this key. Machines made earlier keep it." confirmLabel="Remove key" onClose={() => setRemoving(null)} onConfirm={async () => { await sshKeys.remove(removing.id); keys.reload(); }} />}
    </section>
  );
}
