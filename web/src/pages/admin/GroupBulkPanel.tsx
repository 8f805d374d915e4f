// Bulk actions on every VM of a group (start, shut down, power off, snapshot, delete). Each VM's
// own result is listed, so a partial failure says which machine failed and why; the VM list
// above follows the resulting state changes live.
import { useState } from 'react';
import { groups } from '../../api/endpoints';
import type { GroupBulkAction, GroupBulkResult } from '../../api/types';
import { InlineError } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';

const ACTIONS: [GroupBulkAction, string, string | null][] = [
  ['start', 'Start all', null],
  ['shutdown', 'Shut down all', 'Every running machine of the group is asked to shut down (ACPI).'],
  ['stop', 'Power off all', 'Every running machine of the group is powered off at once, like pulling the plug. Unsaved work in the guests is lost.'],
  ['delete', 'Delete all', 'Every machine of the group is deleted with its disks and snapshots. This cannot be undone.'],
];

export function GroupBulkPanel({ groupId, vmCount, onDone }: { groupId: string; vmCount: number; onDone: () => void }) {
  const [pending, setPending] = useState<GroupBulkAction | null>(null);
  const [confirm, setConfirm] = useState<(typeof ACTIONS)[number] | null>(null);
  const [result, setResult] = useState<GroupBulkResult | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [snapshotName, setSnapshotName] = useState('');

  const run = async (action: GroupBulkAction) => {
    setPending(action);
    setError(undefined);
    setResult(null);
    try {
      setResult(await groups.bulk(groupId, action, action === 'snapshot' ? snapshotName.trim() : undefined));
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setPending(null);
    }
  };

  return (
    <section className="panel" aria-labelledby="bulk-h">
      <h2 id="bulk-h">Actions on all {vmCount} machines</h2>
      <div className="card-actions">
        {ACTIONS.map((a) => (
          <button key={a[0]} type="button" className={a[0] === 'delete' || a[0] === 'stop' ? 'btn btn-danger-outline' : 'btn'} disabled={pending !== null || vmCount === 0} onClick={() => (a[2] ? setConfirm(a) : void run(a[0]))}>
            {pending === a[0] ? 'Working…' : a[1]}
          </button>
        ))}
      </div>
      <form className="filters" onSubmit={(e) => { e.preventDefault(); void run('snapshot'); }}>
        <div className="field">
          <label htmlFor="bulk-snapshot-name">Snapshot name</label>
          <input id="bulk-snapshot-name" maxLength={256} value={snapshotName} onChange={(e) => setSnapshotName(e.target.value)} />
        </div>
        <button type="submit" className="btn" disabled={pending !== null || vmCount === 0 || !snapshotName.trim()}>{pending === 'snapshot' ? 'Working…' : 'Snapshot all'}</button>
      </form>
      <InlineError error={error} />
      {result && (
        <div role="status" data-bulk-result={result.action}>
          <p className={result.failed ? 'notice notice-danger' : 'notice notice-success'}>
            {result.action}: {result.accepted} accepted, {result.failed} failed.
          </p>
          {result.items.length > 0 && (
            <table className="table table-compact">
              <thead><tr><th scope="col">Machine</th><th scope="col">Result</th><th scope="col">Detail</th></tr></thead>
              <tbody>
                {result.items.map((i) => (
                  <tr key={i.vm_uuid} data-result={i.result}>
                    <td>{i.name}</td>
                    <td><span className={`badge badge-result-${i.result === 'accepted' ? 'success' : 'failure'}`}>{i.result}</span></td>
                    <td>{i.message ?? i.state ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      {confirm && (
        <ConfirmDialog open title={`${confirm[1]}?`} message={confirm[2] ?? ''} confirmLabel={confirm[1]} onClose={() => setConfirm(null)} onConfirm={() => run(confirm[0])} />
      )}
    </section>
  );
}
