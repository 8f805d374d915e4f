// The drill end to end through the real CLI (PGlite: a second LIMEN process on the restored
// copy) and in-process on PostgreSQL (scratch database on the same server); it fails loudly on a
// damaged archive. restore refuses while a server holds the data dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDrill } from '../../src/modules/backups/drill.js';
import { takeBackup } from '../../src/modules/backups/local-backup.js';
import { listTar } from '../../src/modules/backups/tar.js';
import { PG_URL } from '../helpers/db.js';
import { liveInstall, seed, type Live } from './fixtures.js';

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
// The CLI gets a temp folder of its own, so "the drill removed its scratch" looks only at this
// test's drills (a drill killed elsewhere on the machine may have left its scratch in /tmp).
const cliTmp = mkdtempSync(join(tmpdir(), 'limen-cli-tmp-'));
const limen = (dataDir: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { PATH: process.env.PATH, TMPDIR: cliTmp, LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default' }, encoding: 'utf8', timeout: 170_000 });

describe('limen drill (embedded database, CLI)', () => {
  let live: Live;
  const out = mkdtempSync(join(tmpdir(), 'limen-drill-evidence-'));
  before(async () => {
    live = await liveInstall('pglite');
    await seed(live, 2);
    await live.database.close();
  });
  after(async () => {
    await live.cleanup();
    rmSync(out, { recursive: true, force: true });
    rmSync(cliTmp, { recursive: true, force: true });
  });

  test('passes end to end and writes evidence', { timeout: 180_000 }, () => {
    const r = limen(live.dataDir, 'drill', '--out', join(out, 'ok'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(readFileSync(join(out, 'ok', 'drill.json'), 'utf8'));
    assert.equal(report.ok, true);
    const status = Object.fromEntries(report.steps.map((s: { name: string; status: string }) => [s.name, s.status]));
    for (const s of ['backup', 'verify', 'restore into scratch', 'start scratch instance', 'health', 'login (drill account)', 'VM list identical', 'restored disk checksum', 'cleanup']) assert.equal(status[s], 'PASS', s);
    assert.match(readFileSync(join(out, 'ok', 'drill.md'), 'utf8'), /restore drill — PASSED/);
    assert.doesNotMatch(readFileSync(join(out, 'ok', 'drill.json'), 'utf8'), new RegExp(JSON.parse(readFileSync(join(live.dataDir, 'secrets', 'drill-account'), 'utf8')).password));
    assert.deepEqual(readdirSync(cliTmp).filter((n) => n.startsWith('limen-drill-') && existsSync(join(cliTmp, n, 'db'))), [], 'scratch removed');
  });

  test('fails loudly on a damaged archive; verify and restore refuse it', { timeout: 120_000 }, async () => {
    const archive = join(live.dataDir, 'backups', readdirSync(join(live.dataDir, 'backups')).find((n) => n.endsWith('.tar'))!);
    const bad = join(out, 'bad.tar');
    copyFileSync(archive, bad);
    const e = (await listTar(bad)).find((x) => x.path.startsWith('database/'))!;
    const buf = readFileSync(bad);
    buf[e.offset + 10] = buf[e.offset + 10]! ^ 0x01;
    writeFileSync(bad, buf);
    const d = limen(live.dataDir, 'drill', '--backup', bad, '--out', join(out, 'bad'));
    assert.equal(d.status, 1);
    assert.match(d.stdout, /FAIL verify/);
    assert.equal(JSON.parse(readFileSync(join(out, 'bad', 'drill.json'), 'utf8')).ok, false);
    const v = limen(live.dataDir, 'backup', 'verify', bad);
    assert.equal(v.status, 1);
    assert.match(v.stderr, /DAMAGED[\s\S]*SHA-256 mismatch/);
    const r = limen(live.dataDir, 'restore', bad, '--yes');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /failed verification/);
  });

  test('restore refuses while a server holds the data dir', { timeout: 60_000 }, () => {
    const pidFile = join(live.dataDir, 'limen.pid');
    writeFileSync(pidFile, JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:1' }));
    try {
      const archive = join(live.dataDir, 'backups', readdirSync(join(live.dataDir, 'backups')).find((n) => n.endsWith('.tar'))!);
      const r = limen(live.dataDir, 'restore', archive, '--yes');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /is running on .*stop it before restoring/);
    } finally {
      rmSync(pidFile, { force: true });
    }
  });
});

describe('drill on a PostgreSQL server', { skip: PG_URL ? false : 'needs LIMEN_TEST_PG_URL' }, () => {
  test('scratch database on the same server, dropped afterwards', { timeout: 180_000 }, async () => {
    const live = await liveInstall('postgres');
    try {
      await seed(live, 1);
      const report = await runDrill({ config: live.config, takeBackup: () => takeBackup(live.config, { origin: 'drill', drillAccount: true }) });
      assert.equal(report.ok, true, JSON.stringify(report.steps, null, 2));
      assert.match(report.scratch!.database, /_drill_/);
      const pg = await import('pg');
      const c = new pg.default.Client({ connectionString: PG_URL });
      await c.connect();
      const left = await c.query(`select datname from pg_database where datname like '%_drill_%'`);
      await c.end();
      assert.equal(left.rowCount, 0, 'scratch database dropped');
    } finally {
      await live.cleanup();
    }
  });
});
