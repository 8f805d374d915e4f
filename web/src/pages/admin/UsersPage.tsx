// Users: filter by status, role and name, page through, and act on each account. Pending accounts
// are listed first by default, since approving them is the most frequent task here.
import { useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { adminUsers } from '../../api/endpoints';
import type { AdminUser, Role, UserStatus } from '../../api/types';
import { AsyncView, EmptyState } from '../../components/AsyncStates';
import { Pager } from '../../components/Pager';
import { formatTime } from '../../lib/format';
import { useAsync } from '../../lib/useAsync';
import { AddUserDialog } from './AddUserDialog';
import { UserQuotaDialog } from './UserQuotaDialog';
import { UserRowActions } from './UserRowActions';

const PER_PAGE = 50; // the server's default page size

export function UsersPage() {
  const [params, setParams] = useSearchParams();
  const status = (params.get('status') ?? '') as UserStatus | '';
  const role = (params.get('role') ?? '') as Role | '';
  const username = params.get('username') ?? '';
  const page = Math.max(1, Number(params.get('page') ?? 1) || 1);
  const list = useAsync(() => adminUsers.list({ status, role, username, page, per_page: PER_PAGE }), [status, role, username, page]);
  const [quotaFor, setQuotaFor] = useState<AdminUser | null>(null);
  const [adding, setAdding] = useState(false);
  const [search, setSearch] = useState(username);

  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    next.delete('page');
    setParams(next, { replace: true });
  };

  return (
    <section className="page">
      <header className="page-header">
        <h1>Users</h1>
        <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add user</button>
      </header>
      <form className="filters" role="search" onSubmit={(e) => { e.preventDefault(); setFilter('username', search.trim()); }}>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={status} onChange={(e) => setFilter('status', e.target.value)}>
            <option value="">Any</option>
            <option value="pending">Pending approval</option>
            <option value="active">Active</option>
            <option value="disabled">Disabled</option>
            <option value="rejected">Rejected</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-role">Role</label>
          <select id="f-role" value={role} onChange={(e) => setFilter('role', e.target.value)}>
            <option value="">Any</option>
            <option value="user">User</option>
            <option value="admin">Admin</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-username">Username</label>
          <input id="f-username" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </div>
        <button type="submit" className="btn">Search</button>
      </form>
      <AsyncView {...list} isEmpty={(d) => d.items.length === 0} empty={<EmptyState title="No users match these filters" />}>
        {(d) => (
          <>
            <table className="table">
              <thead>
                <tr><th scope="col">Username</th><th scope="col">Status</th><th scope="col">Role</th><th scope="col">Registered</th><th scope="col">Actions</th></tr>
              </thead>
              <tbody>
                {d.items.map((u) => (
                  <tr key={u.id} data-user={u.username}>
                    <td>{u.username}</td>
                    <td><span className={`badge badge-status-${u.status}`}>{u.status}</span></td>
                    <td>{u.role}</td>
                    <td>{formatTime(u.created_at)}</td>
                    <td>
                      <UserRowActions user={u} onChanged={list.reload} onQuota={() => setQuotaFor(u)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager page={page} perPage={PER_PAGE} total={d.total} onPage={(p) => setFilter('page', p === 1 ? '' : String(p))} />
          </>
        )}
      </AsyncView>
      {quotaFor && <UserQuotaDialog user={quotaFor} onClose={() => setQuotaFor(null)} />}
      <AddUserDialog open={adding} onClose={() => setAdding(false)} onAdded={list.reload} />
    </section>
  );
}
