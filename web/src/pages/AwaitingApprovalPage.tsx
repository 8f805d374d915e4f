// Shown after registering, and when a pending account tries to sign in.
import { Link, useLocation } from 'react-router-dom';
import { AuthCard } from './AuthCard';

export function AwaitingApprovalPage() {
  const state = (useLocation().state ?? {}) as { username?: string; registered?: boolean };
  return (
    <AuthCard title="Awaiting approval">
      {state.registered && <p className="notice notice-success">Your account {state.username ? <strong>{state.username}</strong> : null} was created.</p>}
      <p>
        An administrator must approve {state.username ? <>the account <strong>{state.username}</strong></> : 'your account'} before you can sign in. You do not need to register again; try signing
        in once they have told you it is approved.
      </p>
      <p>
        <Link className="btn btn-primary" to="/login">
          Back to sign in
        </Link>
      </p>
    </AuthCard>
  );
}
