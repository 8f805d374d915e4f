// Groups (a class, a team): the list with member and VM counts and the group quota, and a form to
// create one. Members, quota, the group's VMs and bulk actions are on the group's own page.
import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { groups } from '../../api/endpoints';
import type { Group } from '../../api/types';
import { AsyncView, EmptyState, InlineError } from '../../components/AsyncStates';
import { formatQuantity, type QuotaKey } from '../../lib/quota';
import { useAsync } from '../../lib/useAsync';
import { useSubmit } from '../../lib/useSubmit';

const quotaSummary = (q: Group['quota']): string =>
  (Object.entries(q) as [QuotaKey, number | null][])
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k === 'vms' ? 'VMs' : k === 'vcpus' ? 'vCPUs' : k === 'memory_mb' ? 'memory' : 'disk'} ${formatQuantity(k, v!)}`)
    .join(', ') || 'unlimited';

function NewGroupForm() {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const { pending, error, submit } = useSubmit(async () => {
    const g = await groups.create({ name: name.trim(), description: description.trim() });
    navigate(`/admin/groups/${g.id}`);
  });
  return (
    <form className="filters" onSubmit={(e) => void submit(e)}>
      <div className="field">
        <label htmlFor="group-name">Name</label>
        <input id="group-name" required maxLength={256} value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="group-description">Description</label>
        <input id="group-description" maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      <button type="submit" className="btn btn-primary" disabled={pending || !name.trim()}>{pending ? 'Creating…' : 'Create group'}</button>
      <InlineError error={error} />
    </form>
  );
}

export function GroupsPage() {
  const list = useAsync(async () => (await groups.list()).items, []);
  return (
    <section className="page">
      <header className="page-header">
        <h1>Groups</h1>
      </header>
      <p className="muted">A group is a class or a team: its members, a quota on the sum of its machines (each member's own quota still applies), and actions on all of its machines at once.</p>
      <section className="panel" aria-labelledby="new-group-h">
        <h2 id="new-group-h">New group</h2>
        <NewGroupForm />
      </section>
      <AsyncView {...list} isEmpty={(g) => g.length === 0} empty={<EmptyState title="No groups yet">Create one above, then add its members.</EmptyState>}>
        {(items) => (
          <table className="table">
            <thead><tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Members</th><th scope="col">VMs</th><th scope="col">Group quota</th></tr></thead>
            <tbody>
              {items.map((g) => (
                <tr key={g.id} data-group={g.name}>
                  <td><Link to={`/admin/groups/${g.id}`}>{g.name}</Link></td>
                  <td>{g.description || '—'}</td>
                  <td>{g.member_count}</td>
                  <td>{g.vm_count}</td>
                  <td>{quotaSummary(g.quota)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </AsyncView>
    </section>
  );
}
