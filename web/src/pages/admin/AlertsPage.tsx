// Alerts Alertmanager delivered to LIMEN's webhook. Refreshed every 10 s (there is no alert event
// stream yet); firing ones first.
import { admin } from '../../api/endpoints';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { formatTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { usePolling } from '../../lib/usePolling';

export function AlertsPage() {
  const list = useAsync(async () => {
    const items = (await admin.alerts()).items;
    return [...items].sort((a, b) => (a.status === b.status ? b.received_at.localeCompare(a.received_at) : a.status === 'firing' ? -1 : 1));
  }, []);
  usePolling(list.reload, 10_000);
  return (
    <section className="page">
      <header className="page-header">
        <h1>Alerts</h1>
        <span className="muted">Updates every 10 s</span>
      </header>
      <AsyncView {...list} isEmpty={(a) => a.length === 0} empty={<EmptyState title="No alerts received">Alertmanager delivers alerts here once it is configured (<code>limen alerts config</code> prints the snippet).</EmptyState>}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Status</th><th scope="col">Alert</th><th scope="col">Severity</th><th scope="col">Summary</th><th scope="col">Since</th><th scope="col">Resolved</th></tr></thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.fingerprint} className={a.status === 'firing' ? 'row-danger' : undefined}>
                  <td><span className={`badge badge-alert-${a.status}`}>{a.status}</span></td>
                  <td>{a.alertname}</td>
                  <td>{a.severity ?? '—'}</td>
                  <td>{a.annotations['summary'] ?? '—'}</td>
                  <td>{formatTime(a.starts_at)}</td>
                  <td>{formatTime(a.ends_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
    </section>
  );
}
