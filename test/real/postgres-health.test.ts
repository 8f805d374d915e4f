// Health tells the truth about a real PostgreSQL server: stop it mid-test → 503 degraded with
// database_up 0; start it again → 200 without restarting LIMEN.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REAL, PG_URL } from '../helpers/db.js';
import { privatePostgres } from '../helpers/services.js';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { buildApp } from '../../src/app.js';
import { CapturedLogs, FakeHypervisorHealth, staticHostProbe, testDriver } from '../helpers/app.js';

const skip = !REAL && !PG_URL ? 'needs the real PostgreSQL tier (npm test)' : false;

test('health follows a PostgreSQL server that stops and returns', { skip, timeout: 120_000 }, async () => {
  const pg = privatePostgres(55440 + Math.floor(Math.random() * 50));
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-pgh-'));
  pg.start();
  after(() => {
    pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, DATABASE_URL: pg.url, LIBVIRT_URI: 'test:///default' } });
  const database = await openDatabase({ databaseUrl: pg.url, dataDir, onError: () => undefined });
  await migrate(database, MIGRATIONS_DIR);
  const app = await buildApp({ config, database, driver: testDriver(), hypervisor: new FakeHypervisorHealth(), hostProbe: staticHostProbe, logStream: new CapturedLogs() });
  after(async () => {
    await app.close();
    await database.close().catch(() => undefined);
  });

  const health = async () => app.inject({ method: 'GET', url: '/api/health' });
  const metric = async (name: string) => {
    const body = (await app.inject({ method: 'GET', url: '/api/metrics' })).body;
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
  };

  let res = await health();
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().db, 'connected');
  assert.equal(await metric('database_up'), 1);

  pg.stop();
  const t0 = Date.now();
  res = await health();
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().status, 'degraded');
  assert.equal(res.json().db, 'disconnected');
  assert.ok(Date.now() - t0 < 5000, 'health must answer promptly while the database is down');
  assert.equal(await metric('database_up'), 0);

  pg.start();
  const deadline = Date.now() + 20_000;
  do {
    res = await health();
    if (res.statusCode === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  } while (Date.now() < deadline);
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().db, 'connected');
  assert.equal(await metric('database_up'), 1);
});
