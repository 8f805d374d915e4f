// What an admin can do to one account, by its status. Deleting asks first and offers cascade
// (the server refuses to delete a user who still owns VMs unless told to delete those too).
import { useState } from 'react';
import { adminUsers } from '../../api/endpoints';
import type { AdminUser, Role } from '../../api/types';
import { useAuth } from '../../auth/AuthContext';
import { InlineError } from '../../components/AsyncStates';
import { Modal } from '../../components/Modal';

type StatusAction = 'approve' | 'reject' | 'disable' | 'enable';
const BY_STATUS: Record<AdminUser['status'], StatusAction[]> = {
  pending: ['approve', 'reject'],
  active: ['disable'],
  disabled: ['enable'],
  rejected: ['approve'],
};
const LABEL: Record<StatusAction, string> = { approve: 'Approve', reject: 'Reject', disable: 'Disable', enable: 'Enable' };

export function UserRowActions({ user, onChanged, onQuota }: { user: AdminUser; onChanged: () => void; onQuota: () => void }) {
  const me = useAuth().user;
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [deleting, setDeleting] = useState(false);
  const self = me?.id === user.id;

  const run = async (fn: () => Promise<unknown>) => {
    setPending(true);
    setError(undefined);
    try {
      await fn();
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };

  return (
    <div className="row-actions">
      {BY_STATUS[user.status].map((a) => (
        <button key={a} type="button" className={a === 'approve' ? 'btn btn-small btn-primary' : 'btn btn-small'} disabled={pending || (self && a === 'disable')} onClick={() => void run(() => adminUsers.setStatus(user.id, a))}>
          {LABEL[a]}
        </button>
      ))}
      <label className="visually-hidden" htmlFor={`role-${user.id}`}>Role of {user.username}</label>
      <select id={`role-${user.id}`} className="select-small" value={user.role} disabled={pending || self} onChange={(e) => void run(() => adminUsers.setRole(user.id, e.target.value as Role))}>
        <option value="user">user</option>
        <option value="admin">admin</option>
      </select>
      <button type="button" className="btn btn-small" onClick={onQuota}>Quota</button>
      <button type="button" className="btn btn-small btn-danger-outline" disabled={pending || self} onClick={() => setDeleting(true)}>Delete</button>
      <InlineError error={error} />
      {deleting && <DeleteUserDialog user={user} onClose={() => setDeleting(false)} onDeleted={onChanged} />}
    </div>
  );
}

function DeleteUserDialog({ user, onClose, onDeleted }: { user: AdminUser; onClose: () => void; onDeleted: () => void }) {
  const [cascade, setCascade] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const confirm = async () => {
    setPending(true);
    setError(undefined);
    try {
      await adminUsers.remove(user.id, cascade);
      onDeleted();
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setPending(false);
    }
  };
  return (
    <Modal title={`Delete ${user.username}?`} open onClose={onClose}>
      <p>The account is removed and can no longer sign in. This cannot be undone.</p>
      <label className="check">
        <input type="checkbox" checked={cascade} onChange={(e) => setCascade(e.target.checked)} /> Also delete every virtual machine this user owns
      </label>
      <InlineError error={error} />
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose} disabled={pending}>Cancel</button>
        <button type="button" className="btn btn-danger" onClick={() => void confirm()} disabled={pending}>{pending ? 'Deleting…' : 'Delete user'}</button>
      </div>
    </Modal>
  );
}
