// Route guards. A signed-out visitor is sent to /login with the page they wanted remembered in
// `?next=`, so logging in (or an expired session) returns them to where they were.
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import { useAuth } from './AuthContext';
import { LoadingState } from '../components/AsyncStates';

export function loginPathFor(location: { pathname: string; search: string }): string {
  const next = location.pathname + location.search;
  return next === '/' || next.startsWith('/login') ? '/login' : `/login?next=${encodeURIComponent(next)}`;
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
