// Focused profile of the list routes (not part of `npm run bench`): an in-process LIMEN with
// 1,000 VMs, N requests per route through app.inject (inject's own cost is in every figure, the
// bare route's included), printing CPU µs per request next to a bare route in the same process.
// Run under --cpu-prof to see where the time goes:
//   node --import tsx bench/api/profile.ts            (BENCH_DB_URL=postgres://… for a server)
//   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/api/profile.ts
//   PROFILE_ONLY='(user)' … profiles one route only
import Fastify from 'fastify';
import { benchApp, benchPostgres, loginToken, settled } from './fixture.js';

const N = Number(process.env.PROFILE_N ?? 2000);
const pg = process.env.BENCH_DB_URL ? { url: process.env.BENCH_DB_URL, stop: () => undefined } : process.env.PROFILE_PG ? await benchPostgres() : undefined;
const limen = await benchApp({ users: 201, vms: 1000, databaseUrl: pg?.url });
await settled(limen.database);
const admin = limen.users[0]!;
const user = limen.users[1]!;
const tokens = { admin: await loginToken(limen.app, admin.username), user: await loginToken(limen.app, user.username) };

const bare = Fastify({ logger: false });
bare.get('/bare', async () => ({ items: [], total: 0 }));
await bare.ready();

/** PROFILE_ONLY=<text>: only the routes whose title contains it (and the bare route), for a profile of one route. */
const ONLY = process.env.PROFILE_ONLY;

async function measure(title: string, inject: () => Promise<{ statusCode: number }>): Promise<void> {
  if (ONLY && title !== 'bare' && !title.includes(ONLY)) return;
  for (let i = 0; i < 200; i++) await inject();
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const r = await inject();
    if (r.statusCode !== 200) throw new Error(`${title}: ${r.statusCode}`);
  }
  const c = process.cpuUsage(c0);
  console.log(`${title.padEnd(28)} ${((c.user + c.system) / N).toFixed(0).padStart(6)} µs CPU/request (user ${(c.user / N).toFixed(0)}, system ${(c.system / N).toFixed(0)})`);
}

await measure('bare', () => bare.inject({ method: 'GET', url: '/bare' }));
await measure('GET /api/vms (user)', () => limen.app.inject({ method: 'GET', url: '/api/vms', headers: { authorization: `Bearer ${tokens.user}` } }));
await measure('GET /api/vms (admin, page 1)', () => limen.app.inject({ method: 'GET', url: '/api/vms', headers: { authorization: `Bearer ${tokens.admin}` } }));
await measure('GET /api/vms?page=3 (admin)', () => limen.app.inject({ method: 'GET', url: '/api/vms?page=3', headers: { authorization: `Bearer ${tokens.admin}` } }));
await measure('GET /api/admin/vms (all)', () => limen.app.inject({ method: 'GET', url: '/api/admin/vms', headers: { authorization: `Bearer ${tokens.admin}` } }));
await measure('GET /api/metrics', () => limen.app.inject({ method: 'GET', url: '/api/metrics' }));
await measure('GET /api/auth/me', () => limen.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${tokens.user}` } }));

await bare.close();
await limen.close();
pg?.stop();
