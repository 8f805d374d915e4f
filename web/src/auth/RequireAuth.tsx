// Route guards. A signed-out visitor is sent to /login with the page they wanted remembered in
// `?next=`, so logging in (or an expired session) returns them to where they were.
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import { sessionWasLost } from '../api/session';
import { useAuth } from './AuthContext';
import { LoadingState } from '../components/AsyncStates';

export function loginPathFor(location: { pathname: string; search: string }, expired = sessionWasLost()): string {
  const next = location.pathname + location.search;
  const q = new URLSearchParams();
  if (next !== '/' && !next.startsWith('/login')) q.set('next', next);
  // The server ended a live session (expired, revoked, logged out everywhere): say so on the login page.
  if (expired) q.set('expired', '1');
  const query = q.toString();
  return query ? `/login?${query}` : '/login';
}

export function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === 'restoring') return <LoadingState label="Restoring your session…" />;
  if (status === 'signed-out') return <Navigate to={loginPathFor(location)} replace />;
  return <>{children}</>;
}

export function RequireAdmin({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  if (user?.role !== 'admin') {
    return (
      <section className="page">
        <h1>Administrators only</h1>
        <p>This page is for administrators. Ask one if you need something changed here.</p>
      </section>
    );
  }
  return <>{children}</>;
}
