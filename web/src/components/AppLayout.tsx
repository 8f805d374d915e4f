// The frame around every signed-in page: top bar (brand, live indicator, user menu with logout),
// primary nav, and the admin nav for admins only.
import { useState } from 'react';
import { NavLink, Outlet, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth/AuthContext';
import { useLiveStatus } from '../api/events';
import { InlineError } from './AsyncStates';

const LIVE_TEXT = { live: 'Live', connecting: 'Connecting…', offline: 'Reconnecting…' } as const;

function LiveIndicator() {
  const status = useLiveStatus();
  return (
    <span className={`live live-${status}`} role="status" title="Live updates from the server">
      <span className="live-dot" aria-hidden="true" />
      {LIVE_TEXT[status]}
    </span>
  );
}

function UserMenu() {
  const { user, logout, logoutEverywhere } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(undefined);
  if (!user) return null;
  const leave = (how: () => Promise<void>) => () => {
    setError(undefined);
    how().then(() => navigate('/login', { replace: true }), setError);
  };
  return (
    <details className="user-menu">
      <summary aria-label={`Account menu for ${user.username}`}>
        <span className="avatar" aria-hidden="true">
          {user.username.slice(0, 1).toUpperCase()}
        </span>
        {user.username}
        {user.role === 'admin' && <span className="badge badge-role">admin</span>}
      </summary>
      <div className="user-menu-panel">
        <NavLink to="/profile" className="btn btn-block" onClick={(e) => e.currentTarget.closest('details')?.removeAttribute('open')}>
          Profile &amp; SSH keys
        </NavLink>
        <button type="button" className="btn btn-block" onClick={leave(logout)}>
          Log out
        </button>
        <button type="button" className="btn btn-block" onClick={leave(logoutEverywhere)} title="Ends your sessions in every browser and on every device">
          Log out everywhere
        </button>
        <InlineError error={error} />
      </div>
    </details>
  );
}

const ADMIN_LINKS: [string, string][] = [
  ['/admin/users', 'Users'],
  ['/admin/groups', 'Groups'],
  ['/admin/quota-defaults', 'Quota defaults'],
  ['/admin/isos', 'ISO library'],
  ['/admin/console-sessions', 'Console sessions'],
  ['/admin/audit', 'Audit log'],
  ['/admin/alerts', 'Alerts'],
  ['/admin/hosts', 'Hosts'],
  ['/admin/backups', 'Backups'],
];

export function AppLayout() {
  const { user } = useAuth();
  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="LIMEN dashboard">
          LIMEN
        </NavLink>
        <div className="topbar-right">
          <LiveIndicator />
          <UserMenu />
        </div>
      </header>
      <div className="shell">
        <nav className="sidenav" aria-label="Main">
          <NavLink to="/" end>
            Dashboard
          </NavLink>
          <NavLink to="/templates">Templates</NavLink>
          <NavLink to="/status">Status</NavLink>
          {user?.role === 'admin' && (
            <>
              <p className="sidenav-heading" id="admin-nav">
                Administration
              </p>
              <div role="group" aria-labelledby="admin-nav">
                {ADMIN_LINKS.map(([to, label]) => (
                  <NavLink key={to} to={to}>
                    {label}
                  </NavLink>
                ))}
              </div>
            </>
          )}
        </nav>
        <main id="main" className="content" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
