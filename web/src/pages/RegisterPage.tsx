// Registration. The password rules are shown and ticked while typing; the server still decides
// (it has the full common-password list), and its VALIDATION_FAILED message lands by the field.
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { auth } from '../api/endpoints';
import { InlineError } from '../components/AsyncStates';
import { USERNAME_PATTERN, checkPassword } from '../lib/password-policy';
import { AuthCard } from './AuthCard';

export function RegisterPage() {
  const navigate = useNavigate();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  const rules = checkPassword(password, username);
  const usernameOk = USERNAME_PATTERN.test(username.trim());
  const matches = password === confirm;
  const fieldError = error instanceof ApiError ? error.field : undefined;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await auth.register(username.trim(), password);
      navigate('/awaiting-approval', { state: { username: username.trim(), registered: true } });
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <AuthCard title="Create an account">
      <p className="muted">An administrator approves new accounts before they can sign in.</p>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div className="field">
          <label htmlFor="reg-username">Username</label>
          <input
            id="reg-username"
            autoComplete="username"
            required
            autoFocus
            value={username}
            aria-invalid={fieldError === 'username' || (username !== '' && !usernameOk)}
            aria-describedby="reg-username-hint"
            onChange={(e) => setUsername(e.target.value)}
          />
          <p id="reg-username-hint" className="hint">
            3–32 characters: letters, digits, and _ . -
          </p>
          {fieldError === 'username' && <InlineError error={error} />}
        </div>
        <div className="field">
          <label htmlFor="reg-password">Password</label>
          <input
            id="reg-password"
            type="password"
            autoComplete="new-password"
            required
            value={password}
            aria-invalid={fieldError === 'password'}
            aria-describedby="reg-password-rules"
            onChange={(e) => setPassword(e.target.value)}
          />
          <ul id="reg-password-rules" className="rules" aria-live="polite">
            {rules.map((r) => (
              <li key={r.id} className={r.ok ? 'rule rule-ok' : 'rule'}>
                <span aria-hidden="true">{r.ok ? '✓' : '○'}</span> {r.label}
                <span className="visually-hidden">{r.ok ? ' (met)' : ' (not met yet)'}</span>
              </li>
            ))}
          </ul>
          {fieldError === 'password' && <InlineError error={error} />}
        </div>
        <div className="field">
          <label htmlFor="reg-confirm">Repeat password</label>
          <input id="reg-confirm" type="password" autoComplete="new-password" required value={confirm} aria-invalid={confirm !== '' && !matches} onChange={(e) => setConfirm(e.target.value)} />
          {confirm !== '' && !matches && <p className="inline-error">The passwords differ.</p>}
        </div>
        {fieldError === undefined && <InlineError error={error} />}
        <button type="submit" className="btn btn-primary btn-block" disabled={pending || !usernameOk || !matches || !rules.every((r) => r.ok)}>
          {pending ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <p className="auth-alt">
        Already registered? <Link to="/login">Sign in</Link>
      </p>
    </AuthCard>
  );
}
