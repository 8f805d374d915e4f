// Routes. Signed-out pages stand alone; everything else sits inside the app layout, behind the
// session guard, with one live event connection for the whole session.
import { useEffect, type ReactElement } from 'react';
import { Navigate, Outlet, Route, Routes, useNavigate } from 'react-router-dom';
import { setSessionExpiredHandler } from './api/client';
import { EventsProvider } from './api/events';
import { useAuth } from './auth/AuthContext';
import { RequireAdmin, RequireAuth, loginPathFor } from './auth/RequireAuth';
import { AppLayout } from './components/AppLayout';
import { AlertsPage } from './pages/admin/AlertsPage';
import { AuditLogPage } from './pages/admin/AuditLogPage';
import { BackupsPage } from './pages/admin/BackupsPage';
import { GroupPage } from './pages/admin/GroupPage';
import { GroupsPage } from './pages/admin/GroupsPage';
import { ConsoleSessionsPage } from './pages/admin/ConsoleSessionsPage';
import { HostsPage } from './pages/admin/HostsPage';
import { IsoLibraryPage } from './pages/admin/IsoLibraryPage';
import { QuotaDefaultsPage } from './pages/admin/QuotaDefaultsPage';
import { UsersPage } from './pages/admin/UsersPage';
import { AwaitingApprovalPage } from './pages/AwaitingApprovalPage';
import { ConsolePage } from './pages/ConsolePage';
import { DashboardPage } from './pages/DashboardPage';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { RegisterPage } from './pages/RegisterPage';
import { StatusPage } from './pages/StatusPage';
import { ProfilePage } from './pages/ProfilePage';
import { TemplatesPage } from './pages/TemplatesPage';
import { VmPage } from './pages/vm/VmPage';

function SessionExpiryRedirect() {
  const navigate = useNavigate();
  useEffect(() => {
    // A session that cannot be refreshed sends the person to login, remembering where they were.
    setSessionExpiredHandler(() => {
      navigate(loginPathFor(window.location, true), { replace: true });
    });
  }, [navigate]);
  return null;
}

function SignedInArea({ bare = false }: { bare?: boolean }) {
  const { user } = useAuth();
  return (
    <RequireAuth>
      {/* Keyed by user so switching accounts never reuses the previous user's event stream. */}
      <EventsProvider key={user?.id ?? 'none'}>{bare ? <Outlet /> : <AppLayout />}</EventsProvider>
    </RequireAuth>
  );
}

const admin = (page: ReactElement) => <RequireAdmin>{page}</RequireAdmin>;

export function App() {
  return (
    <>
      <SessionExpiryRedirect />
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/register" element={<RegisterPage />} />
        <Route path="/awaiting-approval" element={<AwaitingApprovalPage />} />
        {/* The console page has the whole window: no navigation around it. */}
        <Route element={<SignedInArea bare />}>
          <Route path="console/:uuid" element={<ConsolePage />} />
        </Route>
        <Route element={<SignedInArea />}>
          <Route index element={<DashboardPage />} />
          <Route path="vms/:uuid" element={<VmPage />} />
          <Route path="status" element={<StatusPage />} />
          <Route path="templates" element={<TemplatesPage />} />
          <Route path="profile" element={<ProfilePage />} />
          <Route path="admin" element={<Navigate to="/admin/users" replace />} />
          <Route path="admin/users" element={admin(<UsersPage />)} />
          <Route path="admin/quota-defaults" element={admin(<QuotaDefaultsPage />)} />
          <Route path="admin/isos" element={admin(<IsoLibraryPage />)} />
          <Route path="admin/console-sessions" element={admin(<ConsoleSessionsPage />)} />
          <Route path="admin/audit" element={admin(<AuditLogPage />)} />
          <Route path="admin/alerts" element={admin(<AlertsPage />)} />
          <Route path="admin/hosts" element={admin(<HostsPage />)} />
          <Route path="admin/backups" element={admin(<BackupsPage />)} />
          <Route path="admin/groups" element={admin(<GroupsPage />)} />
          <Route path="admin/groups/:id" element={admin(<GroupPage />)} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </>
  );
}
