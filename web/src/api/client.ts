// fetch wrapper: JSON in and out, bearer token, one silent refresh on 401, contract errors thrown
// as ApiError. Everything the pages call goes through request().
import { ApiError, errorFromResponse } from './errors';
import { clearSession, getSession, refreshSession } from './session';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Query = Record<string, string | number | boolean | null | undefined>;

let onSessionExpired: () => void = () => undefined;

/** The app registers where to go when the session is gone for good (the login page, remembering the current one). */
export function setSessionExpiredHandler(fn: () => void): void {
  onSessionExpired = fn;
}

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

async function send(method: Method, path: string, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = getSession().token;
  if (token) headers['Authorization'] = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  try {
    return await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { message: 'Cannot reach the LIMEN server. Check your connection and try again.' });
  }
}

export async function request<T>(method: Method, path: string, opts: { body?: unknown; query?: Query } = {}): Promise<T> {
  const url = withQuery(path, opts.query);
  let res = await send(method, url, opts.body);
  if (res.status === 401) {
    // The access token may just have expired: refresh once and retry; a second 401 ends the session.
    if (await refreshSession()) res = await send(method, url, opts.body);
    if (res.status === 401) {
      clearSession(true);
      onSessionExpired();
    }
  }
  if (!res.ok) throw await errorFromResponse(res);
  if (res.status === 204 || res.headers.get('content-length') === '0') return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, query?: Query) => request<T>('GET', path, { query }),
  post: <T>(path: string, body?: unknown, query?: Query) => request<T>('POST', path, { body: body ?? {}, query }),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, { body }),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, { body }),
  del: <T = void>(path: string, query?: Query) => request<T>('DELETE', path, { query }),
};
