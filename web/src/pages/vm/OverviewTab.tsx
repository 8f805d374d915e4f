// Details, live resource use (stats events while running), and resize.
import { useCallback, useState } from 'react';
import { useVmEvents, useWatchVm } from '../../api/events';
import { isos, vms } from '../../api/endpoints';
import type { Vm, VmStats } from '../../api/types';
import { formatBytes, formatTime } from '../../lib/format';
import { formatMemoryMb } from '../../lib/quota';
import { useAsync } from '../../lib/useAsync';
import { useAuth } from '../../auth/AuthContext';
import { MigratePanel } from './MigratePanel';
import { ResizePanel } from './ResizePanel';

function rate(bps: number): string {
  return `${formatBytes(bps)}/s`;
}

function StatsPanel({ vm }: { vm: Vm }) {
  const running = vm.state === 'running';
  const initial = useAsync(() => (running ? vms.stats(vm.uuid) : Promise.resolve(undefined)), [vm.uuid, running]);
  const [live, setLive] = useState<VmStats | undefined>(undefined);
  useWatchVm(vm.uuid, running);
  useVmEvents(
    useCallback(
      (ev) => {
        if (ev.type !== 'vm.stats' || ev.vm.uuid !== vm.uuid) return;
        // A sample the server could not take says {unavailable: true}: keep showing the last good one.
        const s = ev.stats as Partial<VmStats> | undefined;
        if (s && typeof s.cpu_percent === 'number' && s.memory && s.disk && s.net) setLive(s as VmStats);
      },
      [vm.uuid],
    ),
  );
  if (!running) return <p className="muted">Resource use is shown while the machine runs.</p>;
  const s = live ?? initial.data;
  if (!s) return <p className="muted">{initial.error ? 'Statistics are not available right now.' : 'Loading statistics…'}</p>;
  return (
    <dl className="specs specs-wide">
      <div><dt>CPU</dt><dd data-stat="cpu">{`${s.cpu_percent.toFixed(1)} %`}</dd></div>
      <div><dt>Memory used</dt><dd>{formatMemoryMb(Math.round(s.memory.used_mb))} of {formatMemoryMb(Math.round(s.memory.total_mb))}</dd></div>
      <div><dt>Disk read / write</dt><dd>{rate(s.disk.read_bytes_per_s)} / {rate(s.disk.write_bytes_per_s)}</dd></div>
      <div><dt>Network in / out</dt><dd>{rate(s.net.rx_bytes_per_s)} / {rate(s.net.tx_bytes_per_s)}</dd></div>
      <div><dt>Guest IPs</dt><dd>{Array.isArray(s.guest_ips) && s.guest_ips.length > 0 ? s.guest_ips.join(', ') : 'unknown (no guest agent)'}</dd></div>
    </dl>
  );
}

/** The VM holds the ISO's id; people know it by name. */
function IsoName({ id }: { id: string | null }) {
  const library = useAsync(() => (id ? isos.list() : Promise.resolve(undefined)), [id]);
  if (!id) return <>none</>;
  return <>{library.data?.items.find((i) => i.id === id)?.name ?? 'an ISO no longer in the library'}</>;
}

export function OverviewTab({ vm, onChange }: { vm: Vm; onChange: (vm: Vm) => void }) {
  const { user } = useAuth();
  return (
    <div className="grid-2">
      <section className="panel" aria-labelledby="details-h">
        <h2 id="details-h">Details</h2>
        <dl className="specs specs-wide">
          <div><dt>vCPUs</dt><dd>{vm.vcpus}</dd></div>
          <div><dt>Memory</dt><dd>{formatMemoryMb(vm.memory_mb)}</dd></div>
          <div><dt>Disk</dt><dd>{vm.disk_gb} GB</dd></div>
          <div><dt>ISO</dt><dd><IsoName id={vm.iso} /></dd></div>
          <div><dt>Host</dt><dd>{vm.host}{vm.migrating_to ? ` → ${vm.migrating_to} (migrating)` : ''}</dd></div>
          {vm.error_message && <div><dt>Last error</dt><dd className="inline-error">{vm.error_message}</dd></div>}
          <div><dt>Created</dt><dd>{formatTime(vm.created_at)}</dd></div>
          <div><dt>Updated</dt><dd>{formatTime(vm.updated_at)}</dd></div>
          <div><dt>UUID</dt><dd><code>{vm.uuid}</code></dd></div>
        </dl>
      </section>
      <section className="panel" aria-labelledby="stats-h">
        <h2 id="stats-h">Resource use</h2>
        <StatsPanel vm={vm} />
      </section>
      <section className="panel panel-span" aria-labelledby="resize-h">
        <h2 id="resize-h">Resize</h2>
        <ResizePanel vm={vm} onChange={onChange} />
      </section>
      {user?.role === 'admin' && (
        <section className="panel panel-span" aria-labelledby="migrate-h">
          <h2 id="migrate-h">Host</h2>
          <MigratePanel vm={vm} onChange={onChange} />
        </section>
      )}
    </div>
  );
}
