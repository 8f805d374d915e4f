// Details, live resource use (stats events while running), and resize.
import { useCallback, useState } from 'react';
import { useVmEvents } from '../../api/events';
import { vms } from '../../api/endpoints';
import type { Vm, VmStats } from '../../api/types';
import { formatBytes, formatTime } from '../../lib/format';
import { formatMemoryMb } from '../../lib/quota';
import { useAsync } from '../../lib/useAsync';
import { ResizePanel } from './ResizePanel';

function rate(bps: number | undefined): string {
  return bps === undefined ? '—' : `${formatBytes(bps)}/s`;
}

function StatsPanel({ vm }: { vm: Vm }) {
  const running = vm.state === 'running';
  const initial = useAsync(() => (running ? vms.stats(vm.uuid) : Promise.resolve(undefined)), [vm.uuid, running]);
  const [live, setLive] = useState<VmStats | undefined>(undefined);
  useVmEvents(
    useCallback(
      (ev) => {
        if (ev.type === 'vm.stats' && ev.vm.uuid === vm.uuid) setLive((ev.vm as { stats?: VmStats }).stats ?? (ev.vm as VmStats));
      },
      [vm.uuid],
    ),
  );
  if (!running) return <p className="muted">Resource use is shown while the machine runs.</p>;
  const s = live ?? initial.data;
  if (!s) return <p className="muted">{initial.error ? 'Statistics are not available right now.' : 'Loading statistics…'}</p>;
  return (
    <dl className="specs specs-wide">
      <div><dt>CPU</dt><dd>{s.cpu_percent === undefined ? '—' : `${s.cpu_percent.toFixed(1)} %`}</dd></div>
      <div><dt>Memory used</dt><dd>{s.memory_used_mb === undefined ? '—' : formatMemoryMb(Math.round(s.memory_used_mb))}</dd></div>
      <div><dt>Disk read / write</dt><dd>{rate(s.disk_read_bps)} / {rate(s.disk_write_bps)}</dd></div>
      <div><dt>Network in / out</dt><dd>{rate(s.net_rx_bps)} / {rate(s.net_tx_bps)}</dd></div>
      <div><dt>Guest IPs</dt><dd>{s.guest_ips?.length ? s.guest_ips.join(', ') : 'unknown (no guest agent)'}</dd></div>
    </dl>
  );
}

export function OverviewTab({ vm, onChange }: { vm: Vm; onChange: (vm: Vm) => void }) {
  return (
    <div className="grid-2">
      <section className="panel" aria-labelledby="details-h">
        <h2 id="details-h">Details</h2>
        <dl className="specs specs-wide">
          <div><dt>vCPUs</dt><dd>{vm.vcpus}</dd></div>
          <div><dt>Memory</dt><dd>{formatMemoryMb(vm.memory_mb)}</dd></div>
          <div><dt>Disk</dt><dd>{vm.disk_gb} GB</dd></div>
          <div><dt>ISO</dt><dd>{vm.iso ?? 'none'}</dd></div>
          <div><dt>Host</dt><dd>{vm.host ?? '—'}</dd></div>
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
    </div>
  );
}
