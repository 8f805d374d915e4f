// Service status: /api/health (database and libvirt) and the host gauges from /api/metrics,
// refreshed every 5 s. Both are public, so this page also works for a signed-in user who is not admin.
import { health } from '../api/endpoints';
import { AsyncView } from '../components/AsyncStates';
import { ProgressBar } from '../components/ProgressBar';
import { formatTime } from '../lib/format';
import { readGauge } from '../lib/prometheus-text';
import { useAsync } from '../lib/useAsync';
import { usePolling } from '../lib/usePolling';

const GAUGES = [
  ['host_cpu_usage_percent', 'Host CPU'],
  ['host_memory_usage_percent', 'Host memory'],
  ['host_disk_usage_percent', 'Data disk'],
] as const;

async function loadGauges(): Promise<Record<string, number | undefined>> {
  const res = await fetch('/api/metrics');
  if (!res.ok) throw new Error(`Metrics unavailable (${res.status})`);
  const text = await res.text();
  return Object.fromEntries(GAUGES.map(([name]) => [name, readGauge(text, name)]));
}

function Indicator({ ok, label, value }: { ok: boolean; label: string; value: string }) {
  return (
    <div className={ok ? 'indicator indicator-ok' : 'indicator indicator-bad'}>
      <span className="indicator-dot" aria-hidden="true" />
      <span className="indicator-label">{label}</span>
      <strong>{value}</strong>
    </div>
  );
}

export function StatusPage() {
  const h = useAsync(() => health.get(), []);
  const gauges = useAsync(loadGauges, []);
  usePolling(() => { h.reload(); gauges.reload(); }, 5_000);
  return (
    <section className="page">
      <h1>Status</h1>
      <section className="panel" aria-labelledby="health-h">
        <h2 id="health-h">Service health</h2>
        <AsyncView {...h}>
          {(s) => (
            <>
              <div className="indicators">
                <Indicator ok={s.status === 'ok'} label="Overall" value={s.status} />
                <Indicator ok={s.db === 'connected'} label="Database" value={s.db} />
                <Indicator ok={s.libvirt !== 'disconnected'} label="Hypervisor" value={s.libvirt} />
              </div>
              {s.libvirt === 'simulated' && <p className="notice">Simulated hypervisor: QEMU is not installed here, so machines are not real.</p>}
              <p className="muted">Version {s.version} · checked {formatTime(s.time)}</p>
            </>
          )}
        </AsyncView>
      </section>
      <section className="panel" aria-labelledby="host-h">
        <h2 id="host-h">Host resources</h2>
        <AsyncView {...gauges}>
          {(g) => (
            <ul className="quota-list">
              {GAUGES.map(([name, label]) => {
                const v = g[name];
                return (
                  <li key={name} className="quota">
                    <div className="quota-head"><span className="quota-label">{label}</span><span className="quota-value">{v === undefined ? 'not reported' : `${v.toFixed(1)} %`}</span></div>
                    <ProgressBar value={(v ?? 0) / 100} label={`${label} usage`} danger={v !== undefined && v >= 90} />
                  </li>
                );
              })}
            </ul>
          )}
        </AsyncView>
      </section>
    </section>
  );
}
