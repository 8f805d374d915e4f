// bench/api: GET /api/vms with 1,000 VMs in the database and POST /api/auth/login under load
// (autocannon, 200 connections, loopback), next to a bare Fastify route served by the same child
// process in the same run. Targets (issue 12): list p99 ≤ 20 ms at 200 concurrent connections;
// list throughput ≥ 25 % of the bare route.
//   - list (user): a user's own VMs (5 of the 1,000): the request every browser tab makes
//   - list (admin): the first page of all 1,000 VMs (the API's default page: 50, total 1000)
// Besides latency and throughput, the server's CPU time per request (from /proc/<pid>/stat over the
// run): load on a shared machine stretches latency, much less the CPU each request costs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { openLoop } from '../lib/open-loop.js';
import { mergeResults, round, type BenchEntry } from '../lib/results.js';
import { benchPostgres, load1, machine, PASSWORD } from './fixture.js';

const DURATION_S = Number(process.env.BENCH_API_DURATION_S ?? 8);
const CONNECTIONS = 200;
/** Open-loop runs offer this share of the closed loop's measured maximum (BENCH_API_OPEN_SHARE). */
const OPEN_SHARE = Number(process.env.BENCH_API_OPEN_SHARE ?? 0.5);

interface ServerInfo {
  limenPort: number;
  barePort: number;
  adminToken: string;
  userToken: string;
  loginUser: string;
  vms: number;
  users: number;
}

interface Run {
  rps: number;
  /** server CPU (user + system) per completed request, µs */
  cpuUs: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** CPU time (user + system) of a process so far, in µs (clock ticks of 10 ms). */
function cpuUsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

let serverPid = 0;

async function run(title: string, opts: autocannon.Options): Promise<Run> {
  const cpu0 = cpuUsOf(serverPid);
  const r = await autocannon({ connections: CONNECTIONS, duration: DURATION_S, ...opts });
  const cpuUs = round((cpuUsOf(serverPid) - cpu0) / Math.max(1, r.requests.total), 0);
  const out = { rps: round(r.requests.average, 1), cpuUs, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
  console.log(`  ${title}: ${out.rps} req/s, p50 ${out.p50} ms, p99 ${out.p99} ms, ${cpuUs} µs CPU/request, non-2xx ${out.non2xx}, errors ${out.errors}`);
  return out;
}

/**
 * Waits until the server has worked off the previous run's backlog (autocannon stops sending, but
 * requests already accepted are still being answered): a health check must answer in < 50 ms.
 */
async function drained(base: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const t0 = performance.now();
    await fetch(`${base}/api/health`).then((r) => r.arrayBuffer());
    if (performance.now() - t0 < 50) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function measure(engine: string, dbUrl: string | undefined): Promise<BenchEntry[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./server.ts', import.meta.url))], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_DB_URL: dbUrl ?? '' },
  });
  serverPid = child.pid!;
  const info = await new Promise<ServerInfo>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => resolve(JSON.parse(l) as ServerInfo));
    child.once('exit', (code) => reject(new Error(`bench server exited early (${code})`)));
  });
  vmsSeeded = info.vms;
  usersSeeded = info.users;
  const limen = `http://127.0.0.1:${info.limenPort}`;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  console.log(`--- ${engine}`);
  // Warm-up (JIT, database caches), not recorded.
  await autocannon({ url: `${limen}/api/vms`, headers: bearer(info.userToken), connections: 20, duration: 2 });
  await autocannon({ url: `http://127.0.0.1:${info.barePort}/bare`, connections: 20, duration: 2 });

  const bare = await run('bare Fastify route', { url: `http://127.0.0.1:${info.barePort}/bare` });
  await drained(limen);
  const listUser = await run('GET /api/vms (user, 5 of 1,000 VMs)', { url: `${limen}/api/vms`, headers: bearer(info.userToken) });
  await drained(limen);
  const listAdmin = await run('GET /api/vms (admin, first page: 50 of 1,000 VMs)', { url: `${limen}/api/vms`, headers: bearer(info.adminToken) });
  await drained(limen);
  // The same 200 connections, but requests offered at a fixed, evenly spaced rate (half the closed
  // loop's maximum by default) instead of as fast as answers come back: the latency a user sees
  // when the server is busy but not saturated (bench/lib/open-loop.ts: why not autocannon's rate).
  const openRate = Math.max(1, Math.round(OPEN_SHARE * listUser.rps));
  const cpuOpen0 = cpuUsOf(serverPid);
  const open = await openLoop({ url: `${limen}/api/vms`, headers: bearer(info.userToken), rate: openRate, durationS: DURATION_S, connections: CONNECTIONS });
  const listUserOpen: Run = { rps: open.rps, cpuUs: round((cpuUsOf(serverPid) - cpuOpen0) / Math.max(1, open.completed), 0), p50: open.p50, p99: open.p99, non2xx: open.non2xx, errors: open.errors };
  console.log(`  GET /api/vms (user), open loop at ${openRate} req/s: served ${open.rps} req/s, p50 ${open.p50} ms, p99 ${open.p99} ms, max ${open.max} ms, non-2xx ${open.non2xx}, errors ${open.errors}`);
  await drained(limen);
  // Successful logins: argon2id verification bounds this on purpose (also the brute-force cost).
  const login = await run('POST /api/auth/login (valid)', {
    url: `${limen}/api/auth/login`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: info.loginUser, password: PASSWORD }),
    // few connections: each login costs ~20 MiB and tens of ms of argon2id on a libuv thread
    connections: 10,
  });
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));

  const ratio = (a: number, b: number) => round(a / b);
  const n = (k: string) => `api.${engine}.${k}`;
  return [
    { name: n('bare_route.throughput'), value: bare.rps, unit: 'req/s', baseline: null, ratio: null, target: null, met: null },
    { name: n('bare_route.p99'), value: bare.p99, unit: 'ms', baseline: null, ratio: null, target: null, met: null },
    { name: n('bare_route.cpu_per_request'), value: bare.cpuUs, unit: 'µs', baseline: null, ratio: null, target: null, met: null },
    { name: n('list_vms_user.p99'), value: listUser.p99, unit: 'ms', baseline: bare.p99, ratio: ratio(listUser.p99, bare.p99), target: '≤ 20 ms at 200 connections', met: listUser.p99 <= 20 && listUser.errors === 0 && listUser.non2xx === 0 },
    { name: n('list_vms_user.throughput'), value: listUser.rps, unit: 'req/s', baseline: bare.rps, ratio: ratio(listUser.rps, bare.rps), target: '≥ 25 % of the bare route', met: listUser.rps >= 0.25 * bare.rps },
    {
      name: n('list_vms_user.open_loop_p99'),
      value: listUserOpen.p99,
      unit: 'ms',
      baseline: listUserOpen.rps,
      ratio: null,
      target: `≤ 20 ms at 200 connections offered ${Math.round(OPEN_SHARE * 100)} % of the closed-loop maximum (baseline: the req/s served)`,
      met: listUserOpen.p99 <= 20 && listUserOpen.errors === 0 && listUserOpen.non2xx === 0,
    },
    { name: n('list_vms_user.cpu_per_request'), value: listUser.cpuUs, unit: 'µs', baseline: bare.cpuUs, ratio: ratio(listUser.cpuUs, bare.cpuUs), target: null, met: null },
    { name: n('list_vms_admin_page.p99'), value: listAdmin.p99, unit: 'ms', baseline: bare.p99, ratio: ratio(listAdmin.p99, bare.p99), target: '≤ 20 ms at 200 connections', met: listAdmin.p99 <= 20 && listAdmin.errors === 0 && listAdmin.non2xx === 0 },
    { name: n('list_vms_admin_page.throughput'), value: listAdmin.rps, unit: 'req/s', baseline: bare.rps, ratio: ratio(listAdmin.rps, bare.rps), target: '≥ 25 % of the bare route', met: listAdmin.rps >= 0.25 * bare.rps },
    { name: n('list_vms_admin_page.cpu_per_request'), value: listAdmin.cpuUs, unit: 'µs', baseline: bare.cpuUs, ratio: ratio(listAdmin.cpuUs, bare.cpuUs), target: null, met: null },
    { name: n('login.throughput'), value: login.rps, unit: 'req/s', baseline: bare.rps, ratio: ratio(login.rps, bare.rps), target: null, met: null },
    { name: n('login.p99'), value: login.p99, unit: 'ms', baseline: null, ratio: null, target: null, met: null },
    { name: n('login.cpu_per_request'), value: login.cpuUs, unit: 'µs', baseline: bare.cpuUs, ratio: ratio(login.cpuUs, bare.cpuUs), target: null, met: null },
  ];
}

let vmsSeeded = 0;
let usersSeeded = 0;
const loadBefore = load1();
const entries = await measure('pglite', undefined);
const pg = await benchPostgres();
if (pg) {
  try {
    entries.push(...(await measure('postgres', pg.url)));
  } finally {
    pg.stop();
  }
}
const loadAfter = load1();

const md = `# API under load — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC

${machine()} (1-min load ${loadBefore} before, ${loadAfter} after; the machine is shared). autocannon,
${CONNECTIONS} connections (login: 10), ${DURATION_S} s per run after a 2 s warm-up, loopback. LIMEN in a child process on
the embedded database (PGlite) and, when available, a PostgreSQL server on loopback, with ${vmsSeeded} VMs over
${usersSeeded} users; the bare Fastify route
(\`{items:[],total:0}\`, no hooks) is served by the same child process in the same run. \`cpu_per_request\`: CPU time
(user + system) of that server process over a run divided by the requests it completed (the bare route's is the
baseline): less sensitive to the machine's load than latency. The admin list is the API's default page (50 VMs,
\`total\` 1000).

| figure | value | baseline | ratio | target | met |
|---|---|---|---|---|---|
${entries.map((e) => `| ${e.name} | ${e.value} ${e.unit} | ${e.baseline ?? '—'} | ${e.ratio ?? '—'} | ${e.target ?? '—'} | ${e.met ?? '—'} |`).join('\n')}

Two kinds of load, both with ${CONNECTIONS} open connections:
- **closed loop** (\`*.p99\`, \`*.throughput\`): every connection sends its next request as soon as the
  answer arrives, so the server is saturated and ${CONNECTIONS} requests are always in flight. Then
  p99 ≥ ${CONNECTIONS} / throughput (Little's law): a p99 of 20 ms at saturation needs ≥ ${CONNECTIONS / 0.02} req/s.
- **open loop** (\`list_vms_user.open_loop_p99\`): requests scheduled evenly at a fixed rate, ${Math.round(OPEN_SHARE * 100)} % of the
  closed loop's measured throughput, over a pool of the same number of connections, each latency
  counted from its scheduled time (bench/lib/open-loop.ts; autocannon's \`overallRate\` fires every
  connection's per-second quota at once each second, a burst, not an open loop): the latency while
  busy but not saturated (its baseline column is the rate actually served).
`;
console.log(md);
console.log(`results: ${mergeResults(entries, { suffix: 'api', text: md })}`);
