// bench/quota-race: 200 concurrent VM creates by one user against a quota of 10, through the
// HTTP layer (app.inject) on the embedded database and, when available, a PostgreSQL server.
// Reports decisions per second and confirms zero over-allocation. Baseline, in the same run: 200
// concurrent creates by 200 different users (same work, no contention on one user's quota lock),
// so the ratio shows what serializing one user's decisions costs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { buildApp, type App } from '../../src/app.js';
import { createLibvirtDriver, type DiskImages } from '../../src/hypervisor/index.js';
import { openDatabase } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { authRepo, hashPassword } from '../../src/modules/auth/index.js';
import { Writable } from 'node:stream';
import { mergeResults, round, type BenchEntry } from '../lib/results.js';

const N = 200;
const QUOTA = 10;
const PASSWORD = 'bench-password-quota-1';

// The bench measures allocation decisions, not qemu-img: disks are recorded, not written.
const noDisks: DiskImages = {
  createDisk: async () => undefined,
  deleteDisk: async () => true,
  resizeDisk: async () => undefined,
  createOverlay: async () => undefined,
  copyImage: async () => undefined,
  diskInfo: async () => ({ virtualSizeBytes: 0, actualSizeBytes: 0 }) as unknown as Awaited<ReturnType<DiskImages['diskInfo']>>,
};

const sink = new Writable({ write: (_c, _e, cb) => cb() });
const staticProbe = { sample: async () => ({ cpuPercent: 0, memoryPercent: 0, diskPercent: 0 }) };

async function withApp<T>(databaseUrl: string | undefined, fn: (app: App) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-bench-quota-'));
  const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', LOG_LEVEL: 'warn', LIMEN_CPU_OVERCOMMIT: '100', LIMEN_MEMORY_OVERCOMMIT: '100', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) } });
  const database = await openDatabase({ databaseUrl, dataDir, memory: !databaseUrl });
  await migrate(database, MIGRATIONS_DIR);
  const driver = createLibvirtDriver({ uri: 'test:///default' });
  await driver.connect();
  const app = await buildApp({ config, database, driver, disks: noDisks, hostProbe: staticProbe, logStream: sink });
  await app.ready();
  try {
    return await fn(app);
  } finally {
    await app.close();
    await driver.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function tokenFor(app: App, quota: number): Promise<string> {
  const hash = await hashPassword(PASSWORD);
  const u = await authRepo.insertUser(app.limen.database.db, { username: `b${Math.random().toString(36).slice(2, 10)}`, passwordHash: hash, role: 'user', status: 'active' });
  await app.limen.database.db.execute((await import('drizzle-orm')).sql`insert into user_quotas (user_id, overrides) values (${u.id}, ${JSON.stringify({ vms: quota, vcpus: null, memory_mb: null, disk_gb: null })}::jsonb)`);
  const r = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: u.username, password: PASSWORD } });
  return r.json<{ access_token: string }>().access_token;
}

const create = (app: App, token: string, i: number) =>
  app.inject({ method: 'POST', url: '/api/vms', headers: { authorization: `Bearer ${token}` }, payload: { name: `q${i}`, vcpus: 1, memory_mb: 64, disk_gb: 1 } });

async function run(engine: string, url: string | undefined): Promise<BenchEntry[]> {
  return withApp(url, async (app) => {
    const contendedToken = await tokenFor(app, QUOTA);
    const spreadTokens: string[] = [];
    for (let i = 0; i < N; i++) spreadTokens.push(await tokenFor(app, QUOTA));

    let t0 = performance.now();
    const spread = await Promise.all(spreadTokens.map((tok, i) => create(app, tok, i)));
    const spreadS = (performance.now() - t0) / 1000;

    t0 = performance.now();
    const raced = await Promise.all(Array.from({ length: N }, (_, i) => create(app, contendedToken, i)));
    const racedS = (performance.now() - t0) / 1000;

    const accepted = raced.filter((r) => r.statusCode === 202).length;
    const refused = raced.filter((r) => r.statusCode === 403 && r.json<{ error_code: string }>().error_code === 'QUOTA_EXCEEDED').length;
    const vms = (await app.inject({ method: 'GET', url: '/api/vms', headers: { authorization: `Bearer ${contendedToken}` } })).json<{ total: number }>().total;
    if (spread.some((r) => r.statusCode !== 202)) throw new Error(`baseline creates failed: ${spread.find((r) => r.statusCode !== 202)?.body}`);
    const overAllocation = vms - QUOTA;
    console.log(`${engine}: raced ${N} → ${accepted} accepted, ${refused} refused, ${vms} VMs (quota ${QUOTA}) in ${round(racedS)} s; baseline ${N} users in ${round(spreadS)} s`);
    const rate = N / racedS;
    const base = N / spreadS;
    return [
      { name: `quota_race.${engine}.decisions_per_s`, value: round(rate, 1), unit: 'decisions/s', baseline: round(base, 1), ratio: round(rate / base), target: null, met: null },
      { name: `quota_race.${engine}.over_allocation`, value: overAllocation, unit: 'VMs', baseline: 0, ratio: null, target: '= 0 (exactly the quota accepted)', met: overAllocation === 0 && accepted === QUOTA && refused === N - QUOTA },
    ];
  });
}

const pgUrl = process.env.LIMEN_BENCH_PG_URL ?? process.env.LIMEN_TEST_PG_URL;
const entries = [...(await run('pglite', undefined)), ...(pgUrl ? await run('postgres', await freshDb(pgUrl)) : [])];

async function freshDb(url: string): Promise<string> {
  const pg = (await import('pg')).default;
  const name = `limen_bench_${Date.now()}`;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  return url.replace(/\/[^/]*$/, `/${name}`);
}

const md = `# Quota race — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC

${cpus().length} cores, Node ${process.version}, 1-min load ${round(loadavg()[0]!, 2)}. ${N} concurrent \`POST /api/vms\`
by one user with a quota of ${QUOTA} VMs, through Fastify's inject (no network), libvirt test driver,\nno disk images written (the decision path is measured, not qemu-img).
Baseline: ${N} concurrent creates by ${N} different users (no lock contention).

| figure | value | baseline | ratio | target | met |
|---|---|---|---|---|---|
${entries.map((e) => `| ${e.name} | ${e.value} ${e.unit} | ${e.baseline ?? '—'} | ${e.ratio ?? '—'} | ${e.target ?? '—'} | ${e.met ?? '—'} |`).join('\n')}
`;
console.log(md);
console.log(`results: ${mergeResults(entries, { suffix: 'quota-race', text: md })}`);
