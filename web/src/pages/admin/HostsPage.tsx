// Hypervisor hosts: connection state and capacity; add a libvirt URI, drain, remove.
import { useState } from 'react';
import { admin } from '../../api/endpoints';
import type { Host } from '../../api/types';
import { AsyncView, EmptyState, InlineError } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { formatMemoryMb } from '../../lib/quota';
import { useAsync } from '../../lib/useAsync';
import { useSubmit } from '../../lib/useSubmit';

function AddHostForm({ onAdded }: { onAdded: () => void }) {
  const [name, setName] = useState('');
  const [uri, setUri] = useState('');
  const { pending, error, submit } = useSubmit(async () => {
    await admin.addHost(name.trim(), uri.trim());
    setName('');
    setUri('');
    onAdded();
  });
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)}>
      <div className="field"><label htmlFor="host-name">Name</label><input id="host-name" required value={name} onChange={(e) => setName(e.target.value)} /></div>
      <div className="field field-grow"><label htmlFor="host-uri">libvirt URI</label><input id="host-uri" required placeholder="qemu+ssh://root@host2/system" value={uri} onChange={(e) => setUri(e.target.value)} /></div>
      <button type="submit" className="btn btn-primary" disabled={pending || !name.trim() || !uri.trim()}>{pending ? 'Adding…' : 'Add host'}</button>
      <InlineError error={error} />
    </form>
  );
}

/** "used / allocatable" (allocatable = capacity × overcommit); "—" while libvirt has not answered yet. */
const usage = (used: number, total: number | undefined, fmt: (n: number) => string = String) =>
  total === undefined ? `${fmt(used)} / —` : `${fmt(used)} / ${fmt(total)}`;

export function HostsPage() {
  const list = useAsync(async () => (await admin.hosts()).items, []);
  const [confirm, setConfirm] = useState<{ kind: 'drain' | 'undrain' | 'remove'; host: Host } | null>(null);
  return (
    <section className="page">
      <h1>Hosts</h1>
      <section className="panel"><h2>Add a host</h2><AddHostForm onAdded={list.reload} /></section>
      <AsyncView {...list} data={list.data} isEmpty={(h) => h.length === 0} empty={<EmptyState title="No hosts registered" />}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">URI</th><th scope="col">Connection</th><th scope="col">vCPUs used / allocatable</th><th scope="col">Memory used / allocatable</th><th scope="col">VMs</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {items.map((h) => (
                <tr key={h.id} data-host={h.name}>
                  <td>{h.name}{h.state === 'draining' && <span className="badge"> draining</span>}</td>
                  <td><code>{h.uri}</code></td>
                  <td><span className={`badge badge-conn-${h.status}`}>{h.status}</span>{h.last_seen_at && !h.reachable && <span className="unit"> last seen {new Date(h.last_seen_at).toLocaleString()}</span>}</td>
                  <td>{usage(h.allocated.vcpus, h.allocatable?.vcpus)}</td>
                  <td>{usage(h.allocated.memory_mb, h.allocatable?.memory_mb, formatMemoryMb)}</td>
                  <td>{h.allocated.vms}</td>
                  <td className="row-actions">
                    {h.state === 'draining'
                      ? <button type="button" className="btn btn-small" onClick={() => setConfirm({ kind: 'undrain', host: h })}>Undrain</button>
                      : <button type="button" className="btn btn-small" onClick={() => setConfirm({ kind: 'drain', host: h })}>Drain</button>}
                    <button type="button" className="btn btn-small btn-danger-outline" disabled={h.name === 'default' || h.allocated.vms > 0} title={h.name === 'default' ? 'The default host comes from LIBVIRT_URI' : h.allocated.vms > 0 ? 'Machines still live on this host' : undefined} onClick={() => setConfirm({ kind: 'remove', host: h })}>Remove</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
      {confirm && (
        <ConfirmDialog
          open
          title={`${confirm.kind === 'drain' ? 'Drain' : confirm.kind === 'undrain' ? 'Undrain' : 'Remove'} ${confirm.host.name}?`}
          message={{
            drain: 'No new machines are placed on this host. Machines already there keep running.',
            undrain: 'New machines may be placed on this host again.',
            remove: 'LIMEN stops managing this host. The server refuses while machines still live there.',
          }[confirm.kind]}
          confirmLabel={{ drain: 'Drain', undrain: 'Undrain', remove: 'Remove host' }[confirm.kind]}
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            const id = confirm.host.id;
            if (confirm.kind === 'drain') await admin.drainHost(id);
            else if (confirm.kind === 'undrain') await admin.undrainHost(id);
            else await admin.removeHost(id);
            list.reload();
          }}
        />
      )}
    </section>
  );
}
