// Create an already-approved account (POST /api/admin/users), e.g. for a classroom.
import { useState, type FormEvent } from 'react';
import { adminUsers } from '../../api/endpoints';
import type { Role } from '../../api/types';
import { InlineError } from '../../components/AsyncStates';
import { Modal } from '../../components/Modal';
import { checkPassword } from '../../lib/password-policy';

export function AddUserDialog({ open, onClose, onAdded }: { open: boolean; onClose: () => void; onAdded: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('user');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const rules = checkPassword(password, username);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await adminUsers.create(username.trim(), password, role);
      setUsername('');
      setPassword('');
      onAdded();
      onClose();
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <Modal title="Add user" open={open} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <div className="field">
          <label htmlFor="add-username">Username</label>
          <input id="add-username" required value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="add-password">Initial password</label>
          <input id="add-password" type="password" autoComplete="new-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          <ul className="rules">
            {rules.map((r) => (
              <li key={r.id} className={r.ok ? 'rule rule-ok' : 'rule'}><span aria-hidden="true">{r.ok ? '✓' : '○'}</span> {r.label}</li>
            ))}
          </ul>
        </div>
        <div className="field">
          <label htmlFor="add-role">Role</label>
          <select id="add-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="user">User</option>
            <option value="admin">Admin</option>
          </select>
        </div>
        <InlineError error={error} />
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>Cancel</button>
          <button type="submit" className="btn btn-primary" disabled={pending || !username || !rules.every((r) => r.ok)}>{pending ? 'Adding…' : 'Add user'}</button>
        </div>
      </form>
    </Modal>
  );
}
