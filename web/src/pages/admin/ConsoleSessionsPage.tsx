// Open console sessions, with a way to end one (the user's console closes with a reason).
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { admin } from '../../api/endpoints';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { formatBytes, formatRelative } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';

export function ConsoleSessionsPage() {
  const list = useAsync(async () => (await admin.consoleSessions()).items, []);
  const [ending, setEnding] = useState<string | null>(null);
  return (
    <section className="page">
      <header className="page-header">
        <h1>Console sessions</h1>
        <button type="button" className="btn" onClick={list.reload} disabled={list.loading}>Refresh</button>
      </header>
      <AsyncView {...list} isEmpty={(s) => s.length === 0} empty={<EmptyState title="No console is open right now" />}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">User</th><th scope="col">Machine</th><th scope="col">Started</th><th scope="col">To machine / to browser</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id}>
                  <td>{s.username}</td>
                  <td><Link to={`/vms/${s.vm_uuid}`}><code>{s.vm_uuid.slice(0, 8)}</code></Link></td>
                  <td>{formatRelative(s.started_at)}</td>
                  <td>{formatBytes(s.bytes_to_vm)} / {formatBytes(s.bytes_to_client)}</td>
                  <td className="row-actions"><button type="button" className="btn btn-small btn-danger-outline" onClick={() => setEnding(s.id)}>End session</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
      {ending && <ConfirmDialog open title="End this console session?" message="The user's console disconnects immediately. The machine keeps running." confirmLabel="End session" onClose={() => setEnding(null)} onConfirm={async () => { await admin.endConsoleSession(ending); list.reload(); }} />}
    </section>
  );
}
