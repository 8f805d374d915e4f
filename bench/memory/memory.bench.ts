// bench/memory: resident memory of an idle `node bin/limen.js serve` (embedded database in its data
// dir, libvirt test driver) holding 1,000 VMs and 500 idle /ws/events sockets, against the same
// server idle with 0 VMs and 0 sockets, started the same way in the same run. Target (issue 12):
// ≤ 300 MiB. RSS is read from /proc/<pid>/status after the server has been idle for a while.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { openDatabase } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { mergeResults, round, type BenchEntry } from '../lib/results.js';
import { benchPostgres, load1, machine, PASSWORD, seed, type SeededUser } from '../api/fixture.js';

const VMS = 1000;
const SOCKETS = 500;
const IDLE_MS = 8000;
const root = fileURLToPath(new URL('../..', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

/** Newest modification time under a directory (to tell whether dist/ is older than src/). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

interface Server {
  child: ChildProcess;
  url: string;
  dataDir: string;
}

/** The server's node flags as `npm start` passes them (scripts/lib/common.sh is their one home). */
const SERVER_FLAGS = execFileSync('bash', ['-c', 'source scripts/lib/common.sh && printf %s "$LIMEN_SERVER_NODE_FLAGS"'], { cwd: root, encoding: 'utf8' })
  .split(/\s+/)
  .filter(Boolean);

async function start(dataDir: string, databaseUrl = '', flags = SERVER_FLAGS): Promise<Server> {
  const child = spawn(process.execPath, [...flags, join(root, 'bin/limen.js'), 'serve'], {
    cwd: root,
    env: { ...process.env, LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pidFile = join(dataDir, 'limen.pid');
  for (let i = 0; i < 600 && !existsSync(pidFile); i++) {
    if (child.exitCode !== null) throw new Error(`limen serve exited (${child.exitCode})`);
    await sleep(100);
  }
  const { url } = JSON.parse(readFileSync(pidFile, 'utf8')) as { url: string };
  const health = await fetch(`${url}/api/health`);
  if (health.status !== 200) throw new Error(`health ${health.status}`);
  return { child, url, dataDir };
}

async function stop(s: Server): Promise<void> {
  s.child.kill('SIGTERM');
  await new Promise((r) => (s.child.exitCode !== null ? r(null) : s.child.once('exit', r)));
  rmSync(s.dataDir, { recursive: true, force: true });
}

/** RSS after the server has been idle: the highest of a few samples over the last seconds. */
async function idleRss(pid: number): Promise<number> {
  await sleep(IDLE_MS);
  let max = 0;
  for (let i = 0; i < 5; i++) {
    max = Math.max(max, rssMiB(pid));
    await sleep(400);
  }
  return round(max, 1);
}

const distStale = !existsSync(join(root, 'dist/cli/main.js')) ? 'absent (ran from source through tsx)' : statSync(join(root, 'dist/cli/main.js')).mtimeMs < newest(join(root, 'src')) ? 'older than src/ (run `npm run build` first to measure the current code)' : 'current';

/** A data dir (embedded database) or a fresh PostgreSQL database, migrated and seeded before start. */
async function prepared(vms: number, serverUrl?: string): Promise<{ dataDir: string; databaseUrl: string; users: SeededUser[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-bench-mem-'));
  let databaseUrl = '';
  if (serverUrl) {
    const pg = (await import('pg')).default;
    const name = `limen_bench_mem_${Date.now()}`;
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    await c.query(`create database ${name}`);
    await c.end();
    databaseUrl = serverUrl.replace(/\/[^/]*$/, `/${name}`);
  }
  const db = await openDatabase({ databaseUrl: databaseUrl || undefined, dataDir });
  await migrate(db, MIGRATIONS_DIR);
  const users = await seed(db, { users: 201, vms });
  await db.close();
  return { dataDir, databaseUrl, users };
}

/** Starts a prepared server, opens `sockets` event sockets, measures idle RSS, stops it. */
async function measure(vms: number, sockets: number, serverUrl?: string, flags = SERVER_FLAGS): Promise<{ rss: number; listed: number }> {
  const p = await prepared(vms, serverUrl);
  const s = await start(p.dataDir, p.databaseUrl, flags);
  const login = await fetch(`${s.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: p.users[1]!.username, password: PASSWORD }) });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const open: WebSocket[] = [];
  await Promise.all(
    Array.from({ length: sockets }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        const ws = new WebSocket(`${s.url.replace('http', 'ws')}/ws/events`, { headers: { authorization: `Bearer ${token}` } });
        open[i] = ws;
        ws.once('message', () => resolve());
        ws.once('error', reject);
      }),
    ),
  );
  const listed = ((await (await fetch(`${s.url}/api/admin/vms`, { headers: { authorization: `Bearer ${token}` } })).json()) as { total?: number }).total ?? vms;
  const rss = await idleRss(s.child.pid!);
  for (const ws of open) ws.terminate();
  await stop(s);
  return { rss, listed };
}

const baseline = (await measure(0, 0)).rss;
const loaded = await measure(VMS, SOCKETS);
const rss = loaded.rss;
// the same load with Node's default flags: what LIMEN_SERVER_NODE_FLAGS saves
const nodeDefaults = SERVER_FLAGS.length > 0 ? (await measure(VMS, SOCKETS, undefined, [])).rss : rss;
const pgServer = await benchPostgres();
let pgRss: number | undefined;
let pgBaseline: number | undefined;
if (pgServer) {
  try {
    pgBaseline = (await measure(0, 0, pgServer.url)).rss;
    pgRss = (await measure(VMS, SOCKETS, pgServer.url)).rss;
  } finally {
    pgServer.stop();
  }
}

console.log(`idle RSS: ${rss} MiB with ${VMS} VMs and ${SOCKETS} sockets; ${baseline} MiB empty`);
const entries: BenchEntry[] = [
  { name: 'memory.idle_rss_1000_vms_500_sockets', value: rss, unit: 'MiB', baseline, ratio: round(rss / baseline), target: '≤ 300 MiB', met: rss <= 300 },
  { name: 'memory.idle_rss_empty', value: baseline, unit: 'MiB', baseline: null, ratio: null, target: null, met: null },
  { name: 'memory.idle_rss_1000_vms_500_sockets.node_default_flags', value: nodeDefaults, unit: 'MiB', baseline: rss, ratio: round(nodeDefaults / rss), target: null, met: null },
  ...(pgRss !== undefined && pgBaseline !== undefined
    ? [
        { name: 'memory.postgres.idle_rss_1000_vms_500_sockets', value: pgRss, unit: 'MiB', baseline: pgBaseline, ratio: round(pgRss / pgBaseline), target: '≤ 300 MiB', met: pgRss <= 300 },
        { name: 'memory.postgres.idle_rss_empty', value: pgBaseline, unit: 'MiB', baseline: null, ratio: null, target: null, met: null },
      ]
    : []),
];
const md = `# Idle memory — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC

${machine()} (the machine is shared; 1-min load at the end ${load1()}). \`node ${SERVER_FLAGS.join(' ')} bin/limen.js serve\` as a child process (the flags of \`npm start\`;
the \`node_default_flags\` row: the same load without them), embedded
database (PGlite) in a fresh data dir, libvirt test driver; dist/ was ${distStale}. Loaded: ${VMS} VMs over 200 users seeded into
the database before start, ${SOCKETS} idle \`/ws/events\` sockets. RSS = highest of 5 samples of VmRSS
after ${IDLE_MS / 1000} s idle. Baseline: the same server, 0 VMs, 0 sockets (its database also created before start). The
\`memory.postgres.*\` rows: the same with \`DATABASE_URL\` pointing at a PostgreSQL server on loopback (no embedded database
in the process), when one is available.

| figure | value | baseline | ratio | target | met |
|---|---|---|---|---|---|
${entries.map((e) => `| ${e.name} | ${e.value} ${e.unit} | ${e.baseline ?? '—'} | ${e.ratio ?? '—'} | ${e.target ?? '—'} | ${e.met ?? '—'} |`).join('\n')}
`;
console.log(md);
console.log(`results: ${mergeResults(entries, { suffix: 'memory', text: md })}`);
process.exit(0);
