// Child process of api.bench.ts: LIMEN (1,000 VMs over 200 users + 1 admin, embedded database)
// and a bare Fastify route, both on loopback in this one process, so the load generator in the
// parent never shares their event loop. Prints one JSON line with ports and tokens, then serves
// until its parent closes stdin.
import Fastify from 'fastify';
import { benchApp, loginToken, settled } from './fixture.js';

const VMS = Number(process.env.BENCH_VMS ?? 1000);
const USERS = Number(process.env.BENCH_USERS ?? 201);

const limen = await benchApp({ users: USERS, vms: VMS, databaseUrl: process.env.BENCH_DB_URL || undefined });
await settled(limen.database);
await limen.app.listen({ port: 0, host: '127.0.0.1' });

const bare = Fastify({ logger: false });
bare.get('/bare', async () => ({ items: [], total: 0 }));
await bare.listen({ port: 0, host: '127.0.0.1' });

const admin = limen.users[0]!;
const user = limen.users[1]!;
const port = (s: { server: import('node:http').Server }) => (s.server.address() as { port: number }).port;
process.stdout.write(
  `${JSON.stringify({ limenPort: port(limen.app), barePort: port(bare), adminToken: await loginToken(limen.app, admin.username), userToken: await loginToken(limen.app, user.username), loginUser: limen.users[2]!.username, vms: VMS, users: USERS })}\n`,
);

process.stdin.resume();
process.stdin.on('end', () => {
  void Promise.all([bare.close(), limen.close()]).then(() => process.exit(0));
});
