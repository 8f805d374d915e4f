// Alerts Alertmanager delivered to LIMEN's webhook, firing ones first. Live: the server pushes
// `alert.firing` / `alert.resolved` over /ws/events as deliveries arrive (lib/admin-events.ts
// merges them); the list is refetched on every (re)connect, when events may have been missed.
import { admin } from '../../api/endpoints';
import { useAdminEvents, useLiveStatus } from '../../api/events';
import type { Alert } from '../../api/types';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { applyAlertEvent, sortAlerts } from '../../lib/admin-events';
import { formatTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';

export function AlertsPage() {
  const list = useAsync(async () => sortAlerts((await admin.alerts()).items), []);
  const live = useLiveStatus();
  useAdminEvents((ev) => {
    if (ev.type === 'resync') return list.reload();
    if (ev.type !== 'alert.firing' && ev.type !== 'alert.resolved') return;
    // Too large for a cluster notification: only the type arrived, so refetch.
    if (!ev.alert) return list.reload();
    const alert = ev.alert as Alert;
    list.setData((cur) => (cur ? applyAlertEvent(cur, alert) : cur));
  });
  const firing = list.data?.filter((a) => a.status === 'firing').length ?? 0;
  return (
    <section className="page">
      <header className="page-header">
        <h1>Alerts</h1>
        <span className="muted" role="status" data-live={live}>
          {list.data && `${firing} firing · `}
          {live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Offline — reconnecting'}
        </span>
      </header>
      <AsyncView {...list} isEmpty={(a) => a.length === 0} empty={<EmptyState title="No alerts received">Alertmanager delivers alerts here once it is configured (<code>limen alerts config</code> prints the snippet).</EmptyState>}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Status</th><th scope="col">Alert</th><th scope="col">Severity</th><th scope="col">Summary</th><th scope="col">Since</th><th scope="col">Resolved</th></tr></thead>
            <tbody>
              {items.map((a) => (
                <tr key={`${a.fingerprint}-${a.starts_at}`} data-alert={a.alertname} data-status={a.status} className={a.status === 'firing' ? 'row-danger' : undefined}>
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
