// Test data: users of each role/status, logged in through the real API.
import { randomBytes } from 'node:crypto';
import type { App } from '../../src/app.js';
import { authRepo, hashPassword } from '../../src/modules/auth/index.js';

export interface TestUser {
  id: string;
  username: string;
  password: string;
  role: 'user' | 'admin';
  token: string;
  auth: { authorization: string };
  /** Raw Set-Cookie values of the login response. */
  cookies: Record<string, string>;
  csrf: string;
}

let hashCache: Promise<string> | undefined;
export const TEST_PASSWORD = 'Limen-test-password-42';

export function uniqueName(prefix = 'u'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** Inserts a user straight into the database (fast: one shared hash). */
export async function insertTestUser(app: App, opts: { username?: string; role?: 'user' | 'admin'; status?: 'pending' | 'active' | 'rejected' | 'disabled' } = {}) {
  hashCache ??= hashPassword(TEST_PASSWORD);
  return authRepo.insertUser(app.limen.database.db, {
    username: opts.username ?? uniqueName(),
    passwordHash: await hashCache,
    role: opts.role ?? 'user',
    status: opts.status ?? 'active',
  });
}

export function parseSetCookies(setCookie: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
    const [pair] = c.split(';');
    const i = pair!.indexOf('=');
    out[pair!.slice(0, i)] = pair!.slice(i + 1);
  }
  return out;
}

export async function login(app: App, username: string, password = TEST_PASSWORD) {
  return app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
}

/** An active user (or admin), logged in. */
export async function newUser(app: App, opts: { role?: 'user' | 'admin'; username?: string } = {}): Promise<TestUser> {
  const u = await insertTestUser(app, { role: opts.role, username: opts.username });
  const res = await login(app, u.username);
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.body}`);
  const body: { access_token: string; csrf_token: string } = res.json();
  return {
    id: u.id,
    username: u.username,
    password: TEST_PASSWORD,
    role: u.role,
    token: body.access_token,
    auth: { authorization: `Bearer ${body.access_token}` },
    cookies: parseSetCookies(res.headers['set-cookie']),
    csrf: body.csrf_token,
  };
}

export const newAdmin = (app: App): Promise<TestUser> => newUser(app, { role: 'admin' });
