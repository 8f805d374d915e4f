// Who is signed in. On page load the session is restored from the refresh cookie (the access
// token is never persisted); until that answer arrives, routes show a neutral loading state
// instead of flashing the login page.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import * as session from '../api/session';
import type { SessionUser } from '../api/types';

type AuthStatus = 'restoring' | 'signed-in' | 'signed-out';

interface AuthApi {
  status: AuthStatus;
  user: SessionUser | null;
  login: (username: string, password: string) => Promise<SessionUser>;
  logout: () => Promise<void>;
  logoutEverywhere: () => Promise<void>;
}

const AuthContext = createContext<AuthApi | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<SessionUser | null>(null);
  const [status, setStatus] = useState<AuthStatus>('restoring');

  useEffect(() => {
    const unsubscribe = session.subscribeSession((s) => {
      setUser(s.user);
      setStatus(s.user ? 'signed-in' : 'signed-out');
    });
    // No readable CSRF cookie means no refresh cookie either (both are set and cleared together):
    // skip the request, which would only answer 401.
    if (!session.readCookie('limen_csrf')) {
      setStatus('signed-out');
    } else {
      void session.refreshSession().then((ok) => {
        if (!ok) setStatus('signed-out');
      });
    }
    return unsubscribe;
  }, []);

  const value: AuthApi = { status, user, login: session.login, logout: session.logout, logoutEverywhere: session.logoutEverywhere };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthApi {
  const a = useContext(AuthContext);
  if (!a) throw new Error('useAuth outside AuthProvider');
  return a;
}
