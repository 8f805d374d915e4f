// The browser session. The access token lives in this module's memory only (never localStorage: a
// script injected into the page must not find a long-lived secret). The refresh token is an
// HttpOnly cookie the page cannot read; refreshing proves same-origin by echoing the readable
// `limen_csrf` cookie in X-CSRF-Token.
import { errorFromResponse } from './errors';
import type { SessionUser, TokenResponse } from './types';

export interface SessionState { token: string | null; user: SessionUser | null }

let state: SessionState = { token: null, user: null };
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflightRefresh: Promise<boolean> | null = null;
/** The server ended the last live session (see clearSession). */
let lost = false;
const listeners = new Set<(s: SessionState) => void>();

export function getSession(): SessionState {
  return state;
}

export function subscribeSession(fn: (s: SessionState) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setState(next: SessionState): void {
  state = next;
  for (const fn of listeners) fn(state);
}

export function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function csrfHeaders(): Record<string, string> {
  const csrf = readCookie('limen_csrf');
  return csrf ? { 'X-CSRF-Token': csrf } : {};
}

/** Store a fresh token and schedule a silent refresh shortly before it expires. */
export function acceptToken(t: TokenResponse): void {
  clearTimeout(refreshTimer);
  // Refresh a little early so an in-flight request never carries an expired token; at least 5 s.
  const inMs = Math.max(5, t.expires_in - 30) * 1000;
  refreshTimer = setTimeout(() => void refreshSession(), inMs);
  lost = false;
  setState({ token: t.access_token, user: t.user });
}

/**
 * Forget the session. `ended` = the server ended it while someone was signed in (expired, revoked,
 * logged out elsewhere), not a deliberate logout here: the login page then says so.
 */
export function clearSession(ended = false): void {
  clearTimeout(refreshTimer);
  // Only a clear that ends a live session decides; clearing again afterwards keeps the answer.
  if (state.user !== null) lost = ended;
  setState({ token: null, user: null });
}

/** True when the last sign-out was the server ending a live session (see clearSession). */
export function sessionWasLost(): boolean {
  return lost;
}

/**
 * Ask the server for a new access token using the refresh cookie. Concurrent callers (several
 * requests hitting 401 at once) share one request, because the refresh token rotates: a second
 * parallel refresh would present an already-used token.
 */
export function refreshSession(): Promise<boolean> {
  inflightRefresh ??= (async () => {
    try {
      const res = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'same-origin', headers: csrfHeaders() });
      if (!res.ok) {
        clearSession(true);
        return false;
      }
      acceptToken((await res.json()) as TokenResponse);
      return true;
    } catch {
      // Network down: keep whatever we have; the next request will tell.
      return false;
    } finally {
      inflightRefresh = null;
    }
  })();
  return inflightRefresh;
}

export async function login(username: string, password: string): Promise<SessionUser> {
  const res = await fetch('/api/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorFromResponse(res);
  const t = (await res.json()) as TokenResponse;
  acceptToken(t);
  return t.user;
}

/** Revoke the session server-side, then forget it here even if the server could not be reached. */
export async function logout(): Promise<void> {
  const headers: Record<string, string> = { ...csrfHeaders() };
  if (state.token) headers['Authorization'] = `Bearer ${state.token}`;
  try {
    await fetch('/api/auth/logout', { method: 'POST', credentials: 'same-origin', headers });
  } finally {
    clearSession();
  }
}

/**
 * "Log out everywhere": the server ends every session of this user (other browsers and devices
 * get 401 on their next request and land on the login page), then this tab forgets its own.
 */
export async function logoutEverywhere(): Promise<void> {
  const res = await fetch('/api/auth/logout-all', { method: 'POST', credentials: 'same-origin', headers: state.token ? { Authorization: `Bearer ${state.token}` } : {} });
  if (!res.ok && res.status !== 401) throw await errorFromResponse(res);
  clearSession();
}
