// Sign in. ACCOUNT_PENDING goes to the "awaiting approval" page; other errors show inline with
// the server's message (a failed login says only "Invalid credentials", on purpose).
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { InlineError } from '../components/AsyncStates';
import { AuthCard } from './AuthCard';

/** Only same-app paths are followed after login, so `?next=` cannot send anyone off-site. */
export function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function LoginPage() {
  const { login, status } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const next = safeNext(params.get('next'));

  if (status === 'signed-in') return <Navigate to={next} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await login(username.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.errorCode === 'ACCOUNT_PENDING') {
        navigate('/awaiting-approval', { state: { username: username.trim() } });
        return;
      }
      setError(err);
    } finally {
      setPending(false);
    }
  };

  return (
    <AuthCard title="Sign in to LIMEN">
      {params.get('expired') && <p className="notice">Your session ended. Sign in again to continue.</p>}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div className="field">
          <label htmlFor="login-username">Username</label>
          <input id="login-username" name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="login-password">Password</label>
          <input id="login-password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        <InlineError error={error} />
        <button type="submit" className="btn btn-primary btn-block" disabled={pending || !username || !password}>
          {pending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="auth-alt">
        No account yet? <Link to="/register">Register</Link>
      </p>
    </AuthCard>
  );
}
