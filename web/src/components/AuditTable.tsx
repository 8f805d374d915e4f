// Audit rows (who did what to what, and the result), shared by the VM activity tab and the admin log.
import type { AuditEntry } from '../api/types';
import { formatTime } from '../lib/format';

export function AuditTable({ items, showTarget = true }: { items: AuditEntry[]; showTarget?: boolean }) {
  return (
    <table className="table">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Who</th>
          <th scope="col">Action</th>
          {showTarget && <th scope="col">Target</th>}
          <th scope="col">Result</th>
        </tr>
      </thead>
      <tbody>
        {items.map((a) => (
          <tr key={a.id}>
            <td>{formatTime(a.at)}</td>
            <td>{a.actor_username ?? <span className="muted">system</span>}</td>
            <td><code>{a.action}</code></td>
            {showTarget && <td>{a.target_type ? `${a.target_type} ${a.target_id ?? ''}` : '—'}</td>}
            <td><span className={`badge badge-result-${a.result}`}>{a.result}</span></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
