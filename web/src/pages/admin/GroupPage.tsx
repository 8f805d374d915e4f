// One group: members (add, remove), the group quota with its usage, "Provision for group" (one VM
// per member from a template), the group's VMs with live state, and bulk actions on them; rename
// is not offered here (PATCH exists), delete is.
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { adminUsers, groups } from '../../api/endpoints';
import { useVmEvents } from '../../api/events';
import type { GroupDetail, Vm } from '../../api/types';
import { AsyncView, EmptyState, InlineError } from '../../components/AsyncStates';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { QuotaEditor } from '../../components/QuotaEditor';
import { StateBadge } from '../../components/StateBadge';
import { formatMemoryMb } from '../../lib/quota';
import { formatTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { applyVmEvent, mergeFetchedVms } from '../../lib/vm-events';
import { GroupBulkPanel } from './GroupBulkPanel';
import { GroupProvisionPanel } from './GroupProvisionPanel';

const GROUP_KEYS = ['vms', 'vcpus', 'memory_mb', 'disk_gb'] as const;

function Members({ group, onChanged }: { group: GroupDetail; onChanged: () => void }) {
  const candidates = useAsync(async () => (await adminUsers.list({ status: 'active', per_page: 200 })).items, []);
  const [pick, setPick] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [pending, setPending] = useState(false);
  const inGroup = new Set(group.members.map((m) => m.user_id));
  const act = async (fn: () => Promise<unknown>) => {
    setPending(true);
    setError(undefined);
    try {
      await fn();
      setPick('');
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };
  return (
    <section className="panel" aria-labelledby="members-h">
      <h2 id="members-h">Members ({group.members.length})</h2>
      <form className="filters" onSubmit={(e) => { e.preventDefault(); if (pick) void act(() => groups.addMembers(group.id, [pick])); }}>
        <div className="field">
          <label htmlFor="member-pick">Add a member</label>
          <select id="member-pick" value={pick} onChange={(e) => setPick(e.target.value)}>
            <option value="">Choose an active user…</option>
            {(candidates.data ?? []).filter((u) => !inGroup.has(u.id)).map((u) => <option key={u.id} value={u.id}>{u.username}</option>)}
          </select>
        </div>
        <button type="submit" className="btn btn-primary" disabled={pending || !pick}>Add</button>
      </form>
      <InlineError error={error ?? candidates.error} />
      {group.members.length === 0 ? (
        <EmptyState title="No members yet">Add the people of this class or team above.</EmptyState>
      ) : (
        <table className="table table-compact">
          <thead><tr><th scope="col">User</th><th scope="col">Status</th><th scope="col">Added</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {group.members.map((m) => (
              <tr key={m.user_id} data-member={m.username}>
                <td>{m.username}</td>
                <td>{m.status}</td>
                <td>{formatTime(m.added_at)}</td>
                <td className="row-actions"><button type="button" className="btn btn-small" disabled={pending} onClick={() => void act(() => groups.removeMember(group.id, m.user_id))} aria-label={`Remove ${m.username} from the group`}>Remove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function GroupVms({ group, vms }: { group: GroupDetail; vms: Vm[] }) {
  const owner = new Map(group.members.map((m) => [m.user_id, m.username]));
  return (
    <section className="panel" aria-labelledby="group-vms-h">
      <h2 id="group-vms-h">Machines ({vms.length})</h2>
      {vms.length === 0 ? (
        <EmptyState title="No machines in this group yet" />
      ) : (
        <table className="table table-compact">
          <thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">State</th><th scope="col">Size</th></tr></thead>
          <tbody>
            {vms.map((v) => (
              <tr key={v.uuid} data-vm={v.name}>
                <td><Link to={`/vms/${v.uuid}`}>{v.name}</Link></td>
                <td>{owner.get(v.owner_id) ?? <code>{v.owner_id.slice(0, 8)}</code>}</td>
                <td><StateBadge state={v.state} /></td>
                <td>{v.vcpus} vCPU · {formatMemoryMb(v.memory_mb)} · {v.disk_gb} GB</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function GroupPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const group = useAsync(() => groups.get(id), [id]);
  const vms = useAsync(async () => (await groups.vms(id)).items, [id]);
  const [deleting, setDeleting] = useState(false);
  // The group's VMs follow /ws/events like the dashboard; a VM created for the group appears on refetch.
  useVmEvents((ev) => {
    if (ev.type === 'resync') return vms.reload();
    vms.setData((cur) => (cur && (ev.type !== 'vm.created') ? applyVmEvent(cur, ev) : cur));
  });
  const reloadAll = () => {
    group.reload();
    void groups.vms(id).then((r) => vms.setData((cur) => mergeFetchedVms(cur ?? [], r.items)), () => vms.reload());
  };

  return (
    <AsyncView {...group}>
      {(g) => (
        <section className="page">
          <p className="breadcrumb"><Link to="/admin/groups">Groups</Link> / group</p>
          <header className="page-header">
            <h1>{g.name}</h1>
            <button type="button" className="btn btn-danger-outline" onClick={() => setDeleting(true)}>Delete group</button>
          </header>
          {g.description && <p className="muted">{g.description}</p>}
          <Members group={g} onChanged={group.reload} />
          <section className="panel" aria-labelledby="group-quota-h">
            <h2 id="group-quota-h">Group quota</h2>
            <p className="muted">Caps the sum of the group's machines; each member's own quota still applies.</p>
            <QuotaEditor idPrefix="group-quota" keys={GROUP_KEYS} limits={g.quota} usage={g.usage} onSave={async (patch) => group.setData(await groups.setQuota(g.id, patch))} />
          </section>
          <GroupProvisionPanel group={g} onProgress={reloadAll} />
          <AsyncView {...vms}>{(list) => <GroupVms group={g} vms={list} />}</AsyncView>
          <GroupBulkPanel groupId={g.id} vmCount={vms.data?.length ?? 0} onDone={reloadAll} />
          {deleting && (
            <ConfirmDialog open title={`Delete group ${g.name}?`} message="The group, its membership list and its quota are removed. Its machines stay with their owners." confirmLabel="Delete group" onClose={() => setDeleting(false)} onConfirm={async () => { await groups.remove(g.id); navigate('/admin/groups', { replace: true }); }} />
          )}
        </section>
      )}
    </AsyncView>
  );
}
