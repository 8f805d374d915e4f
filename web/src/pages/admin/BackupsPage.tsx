// Backups: start one (it runs in the background) and watch its progress live: the server pushes
// `backup.progress` (step, bytes) over /ws/events and `backup.completed` / `backup.failed` at the
// end (then the list is refetched for the final row).
import { useState } from 'react';
import { admin } from '../../api/endpoints';
import { AsyncView, EmptyState, InlineError } from '../../components/AsyncStates';
import { formatBytes, formatTime } from '../../lib/format';
import { useAdminEvents } from '../../api/events';
import { applyBackupProgress } from '../../lib/admin-events';
import { useAsync } from '../../lib/useAsync';

/** The server reports `{step, bytes}` while a backup runs: no total is known, so show the step and bytes written, not a bar. */
function BackupProgress({ progress }: { progress: Record<string, unknown> }) {
  const step = typeof progress['step'] === 'string' ? progress['step'] : 'starting';
  const bytes = typeof progress['bytes'] === 'number' ? progress['bytes'] : undefined;
  return (
    <span className="muted" role="status">
      {' '}
      {step}
      {bytes !== undefined && ` · ${formatBytes(bytes)}`}
    </span>
  );
}

export function BackupsPage() {
  const list = useAsync(async () => (await admin.backups()).items, []);
  const running = list.data?.some((b) => b.status === 'running') ?? false;
  useAdminEvents((ev) => {
    if (ev.type === 'backup.progress') list.setData((cur) => (cur ? applyBackupProgress(cur, ev.backup) : cur));
    else if (ev.type === 'resync' || ev.type === 'backup.completed' || ev.type === 'backup.failed') list.reload();
  });
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  const start = async () => {
    setPending(true);
    setError(undefined);
    try {
      await admin.startBackup();
      list.reload();
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };

  return (
    <section className="page">
      <header className="page-header">
        <h1>Backups</h1>
        <button type="button" className="btn btn-primary" disabled={pending || running} onClick={() => void start()}>{running ? 'Backup running…' : pending ? 'Starting…' : 'Run backup now'}</button>
      </header>
      <p className="muted">A backup holds the database, every machine's definition and disks, and the ISO list, with checksums. Restore and the restore drill run from the command line (<code>limen restore</code>, <code>limen drill</code>).</p>
      <InlineError error={error} />
      <AsyncView {...list} isEmpty={(b) => b.length === 0} empty={<EmptyState title="No backups yet">Run the first one with the button above.</EmptyState>}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Started</th><th scope="col">State</th><th scope="col">Finished</th><th scope="col">Size</th><th scope="col">File</th></tr></thead>
            <tbody>
              {items.map((b) => (
                <tr key={b.id}>
                  <td>{formatTime(b.created_at)}</td>
                  <td>
                    <span className={`badge badge-backup-${b.status}`}>{b.status}</span>
                    {b.status === 'running' && <BackupProgress progress={b.progress} />}
                    {b.error && <p className="inline-error">{b.error}</p>}
                  </td>
                  <td>{formatTime(b.completed_at)}</td>
                  <td>{formatBytes(b.size_bytes)}</td>
                  <td>{b.file ? <code>{b.file}</code> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
    </section>
  );
}
