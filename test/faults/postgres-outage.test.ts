// PostgreSQL stopped and started again under load (issue 12, item 2). A private PostgreSQL server
// (never the shared one), LIMEN in-process on real HTTP with the libvirt test driver (only the
// database's behaviour matters here), six concurrent clients listing, creating, acting and
// probing health throughout. While the database is down every answer is a prompt 503
// UNAVAILABLE in the contract's shape (never a 500, never a hang); once it is back LIMEN serves
// again without a restart, and no VM is lost or duplicated: every accepted create exists, every
// refused one does not, libvirt agrees, quota usage is exact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REAL, PG_URL } from '../helpers/db.js';
import { privatePostgres, type PrivatePostgres } from '../helpers/services.js';
import { loadConfig } from '../../src/config/config.js';
import { sql } from 'drizzle-orm';
import { openDatabase, withTimeout, type Database } from '../../src/platform/db/db.js';
import { inTransaction } from '../../src/platform/db/query.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { buildApp, type App } from '../../src/app.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { CapturedLogs, FakeHypervisorHealth, staticHostProbe } from '../helpers/app.js';
import { newAdmin, type TestUser } from '../helpers/factories.js';
import { unlimitedQuota, waitFor, waitState, type VmJson } from '../vms/vm-helpers.js';
import { assertUnavailableDuring, mixedRequests, startLoad, summarize } from './load.js';

const skip = !REAL && !PG_URL ? 'needs the real PostgreSQL tier (npm test)' : false;
const TIMEOUT_MS = 15_000;

describe('faults: PostgreSQL stopped and restarted under load', { skip, timeout: 180_000 }, () => {
  let pg: PrivatePostgres;
  let dataDir: string;
  let database: Database;
  let driver: HypervisorDriver;
  let app: App;
  let url: string;
  let admin: TestUser;
  let steady: VmJson;

  before(async () => {
    pg = privatePostgres(55600 + Math.floor(Math.random() * 100));
    await pg.startAsync();
    dataDir = mkdtempSync(join(tmpdir(), 'limen-faults-pg-'));
    const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, DATABASE_URL: pg.url, LIBVIRT_URI: 'test:///default' } });
    database = await openDatabase({ databaseUrl: pg.url, dataDir, onError: () => undefined });
    await migrate(database, MIGRATIONS_DIR);
    driver = createLibvirtDriver({ uri: 'test:///default' });
    await driver.connect();
    app = await buildApp({ config, database, driver, hypervisor: new FakeHypervisorHealth(driver), hostProbe: staticHostProbe, logStream: new CapturedLogs(), vmOptions: { reconcileEveryMs: 1_000 } });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    admin = await newAdmin(app);
    await unlimitedQuota(app, admin, admin.id);
    const r = await app.inject({ method: 'POST', url: '/api/vms', headers: admin.auth, payload: { name: 'steady', vcpus: 1, memory_mb: 64, disk_gb: 1 } });
    steady = await waitState(app, admin, r.json<VmJson>().uuid, 'stopped');
  });

  after(async () => {
    await app?.close();
    await database?.close().catch(() => undefined);
    await driver?.close();
    await pg?.stopAsync();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('503 UNAVAILABLE while it is down, service again without a restart, nothing lost or duplicated', async () => {
    const next = mixedRequests('load', steady.uuid, ['stop', 'start']);
    const load = startLoad({ url, token: admin.token, clients: 6, timeoutMs: TIMEOUT_MS, next });
    const health = async () => (await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(TIMEOUT_MS) })).json() as Promise<{ db: string }>;
    try {
      await new Promise((r) => setTimeout(r, 1500));
      load.phase = 'stopping';
      await pg.stopAsync();
      await waitFor('health to see the database down', async () => (await health()).db === 'disconnected' || undefined, 30_000);
      load.phase = 'down';
      await new Promise((r) => setTimeout(r, 4000));
      load.phase = 'starting';
      await pg.startAsync();
      await waitFor('health to see the database again', async () => (await health()).db === 'connected' || undefined, 60_000, 200);
      await new Promise((r) => setTimeout(r, 1000)); // the pool drops its dead connections on first use
      load.phase = 'after';
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await load.stop();
    }
    console.log(`# ${summarize(load)}`);

    const down = assertUnavailableDuring(load, 'down', TIMEOUT_MS);
    console.log(`# ${down.length} requests while the database was down: all 503, slowest ${Math.max(...down.map((a) => a.ms)).toFixed(0)} ms`);
    for (const a of load.answers) assert.ok(a.status !== 500, `never a 500: ${a.phase} ${a.what} ${JSON.stringify(a.body)}`);
    const afterward = load.answers.filter((a) => a.phase === 'after');
    assert.ok(afterward.length > 0);
    for (const a of afterward) {
      assert.ok(a.status > 0 && a.status < 500, `after recovery: ${a.what} ${a.status} ${JSON.stringify(a.body)}`);
      if (a.what === 'action') assert.ok([202, 409].includes(a.status), `action ${a.status} ${JSON.stringify(a.body)}`);
      else assert.ok([200, 202].includes(a.status), `${a.what} ${a.status} ${JSON.stringify(a.body)}`);
    }

    // nothing lost or duplicated: accepted creates exist once, refused ones not at all
    const listAll = async () => (await app.inject({ method: 'GET', url: '/api/vms', headers: admin.auth })).json<{ items: VmJson[] }>().items;
    await waitFor('no VM mid-operation', async () => (await listAll()).every((v) => !['creating', 'deleting', 'starting', 'stopping'].includes(v.state)) || undefined, 60_000, 200);
    const vms = await listAll();
    const creates = load.answers.filter((a) => a.what === 'create');
    const accepted = creates.filter((a) => a.status === 202).map((a) => (a.body as unknown as VmJson).uuid);
    assert.equal(new Set(vms.map((v) => v.name)).size, vms.length, 'no duplicate VM');
    assert.deepEqual(vms.map((v) => v.uuid).filter((u) => u !== steady.uuid).sort(), [...accepted].sort(), 'the VMs are exactly the accepted creates');
    const domains = (await driver.listDomains()).filter((d) => d.name.startsWith('limen-')).map((d) => d.uuid).sort();
    assert.deepEqual(domains, vms.map((v) => v.uuid).sort(), 'libvirt has exactly the VMs of the database');
    const usage = (await app.inject({ method: 'GET', url: '/api/quota', headers: admin.auth })).json<{ usage: Record<string, number> }>().usage;
    assert.equal(usage.vms, vms.length);
    assert.equal(usage.memory_mb, vms.length * 64);
    assert.equal(usage.running_vms, vms.filter((v) => v.state === 'running').length);

    // no connection leaked by a transaction the outage cut off: each leak would hold one of the
    // pool's connections for good (enough of them and every request waits, then fails)
    const pool = database.raw.kind === 'postgres' ? database.raw.pool : undefined;
    assert.ok(pool);
    await waitFor('every pool connection back in the pool', () => pool.totalCount === pool.idleCount || undefined, 30_000, 50);
  });

  test('a connection lost between its checkout and the transaction\'s begin goes back to the pool', async () => {
    // the moment a restart can hit (deterministic here): the socket dies as the pool hands it out
    const own = await openDatabase({ databaseUrl: pg.url, dataDir, onError: () => undefined });
    try {
      assert.equal(own.raw.kind, 'postgres');
      const pool = own.raw.pool;
      pool.once('acquire', (client) => (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy());
      await assert.rejects(inTransaction(own.db, (tx) => tx.execute(sql`select 1`)));
      await waitFor('the dead client given back', () => pool.totalCount === pool.idleCount || undefined, 5_000, 20);
      // and the next transaction works on a fresh connection
      const r = await inTransaction(own.db, (tx) => tx.execute(sql`select 2 as n`));
      assert.equal(Number((r as { rows: { n: number }[] }).rows[0]!.n), 2);
    } finally {
      await withTimeout(own.close(), 10_000, 'closing the pool (a leaked client would keep it open forever)');
    }
  });
});
