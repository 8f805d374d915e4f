// Backup → verify → restore on both engines: every table (users, sessions revoked or not, VMs,
// quotas, audit…) identical, VM disks back with their marker, backups recorded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { queryOne } from '../../src/platform/db/query.js';
import { createBackupService, restoreArchive } from '../../src/modules/backups/index.js';
import { DB_ENGINES } from '../helpers/db.js';
import { liveInstall, readMarker, seed, snapshotTables } from './fixtures.js';

for (const engine of DB_ENGINES) {
  describe(`backup round trip (${engine})`, () => {
    test('backup, verify, change everything, restore: identical to the backup', { timeout: 120_000 }, async () => {
      const live = await liveInstall(engine, { memory: true });
      try {
        const { vms } = await seed(live, 2);
        const before = await snapshotTables(live.database);
        const svc = createBackupService({ config: live.config, database: live.database, driver: () => undefined });
        const out = await svc.create({ origin: 'cli', requestedBy: null });
        assert.equal(out.row.status, 'completed');
        assert.equal(out.archive.manifest.database.kind, engine);
        assert.equal(out.archive.manifest.vms.length, 2);
        const v = await svc.verify(out.archive.file);
        assert.deepEqual(v.problems, []);

        // Diverge: delete a user's data, damage a disk, then restore.
        await live.database.db.execute(sql`delete from audit_log`);
        await live.database.db.execute(sql`update users set status = 'disabled'`);
        writeFileSync(vms[0]!.disk, 'overwritten');
        await live.database.close();

        const r = await restoreArchive({ file: out.archive.file, dataDir: live.dataDir, databaseUrl: live.url });
        assert.equal(r.manifest.vms.length, 2);
        const db = await live.reopen();
        assert.deepEqual(await snapshotTables(db), before);
        assert.ok(readMarker(vms[0]!.disk, 0), 'marker of vm 0 restored');
        assert.ok(readMarker(vms[1]!.disk, 1), 'marker of vm 1 restored');
        const row = await queryOne<{ status: string }>(db.db, sql`select status from backups where id = ${out.row.id}`);
        assert.equal(row?.status, 'interrupted', 'the dump saw its own backup running');
      } finally {
        await live.cleanup();
      }
    });
  });
}
