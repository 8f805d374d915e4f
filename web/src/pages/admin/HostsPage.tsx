// Hypervisor hosts: connection state and capacity; add a libvirt URI, drain, remove.
import { useState, type FormEvent } from 'react';
import { admin } from '../../api/endpoints';
import { ApiError } from '../../api/errors';
import type { Host } from '../../api/types';
import { AsyncView, EmptyState, InlineError } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { formatMemoryMb } from '../../lib/quota';
import { useAsync } from '../../lib/useAsync';

function AddHostForm({ onAdded }: { onAdded: () => void }) {
  const [name, setName] = useState('');
  const [uri, setUri] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await admin.addHost(name.trim(), uri.trim());
      setName('');
      setUri('');
      onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };
  return (
    <form className="inline-form" onSubmit={(e) => void submit(e)}>
      <div className="field"><label htmlFor="host-name">Name</label><input id="host-name" required value={name} onChange={(e) => setName(e.target.value)} /></div>
      <div className="field field-grow"><label htmlFor="host-uri">libvirt URI</label><input id="host-uri" required placeholder="qemu+ssh://root@host2/system" value={uri} onChange={(e) => setUri(e.target.value)} /></div>
      <button type="submit" className="btn btn-primary" disabled={pending || !name.trim() || !uri.trim()}>{pending ? 'Adding…' : 'Add host'}</button>
      <InlineError error={error} />
    </form>
  );
}

const capacity = (used: number | undefined, total: number | undefined, fmt: (n: number) => string = String) =>
  total === undefined ? '—' : `${used === undefined ? '?' : fmt(used)} / ${fmt(total)}`;

/** The hosts API comes with the multi-host issue; until then the server answers 404 and the page says so. */
async function loadHosts(): Promise<Host[] | null> {
  try {
    return (await admin.hosts()).items;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export function HostsPage() {
  const list = useAsync(loadHosts, []);
  // Hooks before any early return: React needs the same hooks on every render.
  const [confirm, setConfirm] = useState<{ kind: 'drain' | 'remove'; host: Host } | null>(null);
  if (list.data === null) {
    return (
      <section className="page">
        <h1>Hosts</h1>
        <EmptyState title="Multiple hosts are not available yet">
          <p>This LIMEN runs every machine on its own host. Adding, draining and removing hypervisor hosts arrives with multi-host support; nothing needs doing here until then.</p>
        </EmptyState>
      </section>
    );
  }
  return (
    <section className="page">
      <h1>Hosts</h1>
      <section className="panel"><h2>Add a host</h2><AddHostForm onAdded={list.reload} /></section>
      <AsyncView {...list} data={list.data} isEmpty={(h) => h.length === 0} empty={<EmptyState title="No hosts registered" />}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">URI</th><th scope="col">Connection</th><th scope="col">vCPUs</th><th scope="col">Memory</th><th scope="col">VMs</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {items.map((h) => (
                <tr key={h.id}>
                  <td>{h.name}{h.draining && <span className="badge"> draining</span>}</td>
                  <td><code>{h.uri}</code></td>
                  <td><span className={`badge badge-conn-${h.state}`}>{h.state}</span></td>
                  <td>{capacity(h.vcpus_used, h.vcpus_total)}</td>
                  <td>{capacity(h.memory_mb_used, h.memory_mb_total, formatMemoryMb)}</td>
                  <td>{h.vms ?? '—'}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-small" disabled={h.draining} onClick={() => setConfirm({ kind: 'drain', host: h })}>Drain</button>
                    <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setConfirm({ kind: 'remove', host: h })}>Remove</button>
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
          title={confirm.kind === 'drain' ? `Drain ${confirm.host.name}?` : `Remove ${confirm.host.name}?`}
          message={confirm.kind === 'drain' ? 'No new machines are placed on this host. Machines already there keep running.' : 'LIMEN stops managing this host. The server refuses while machines still live there.'}
          confirmLabel={confirm.kind === 'drain' ? 'Drain' : 'Remove host'}
          onClose={() => setConfirm(null)}
          onConfirm={async () => { if (confirm.kind === 'drain') await admin.drainHost(confirm.host.id); else await admin.removeHost(confirm.host.id); list.reload(); }}
        />
      )}
    </section>
  );
}
