// Backups with templates: the base image of a template is stored ONCE however many linked clones
// back onto it; a restore into another data dir brings the base back read-only and re-points every
// overlay at the restored base (the clones read the base's content through it, not the source's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryOne } from '../../src/platform/db/query.js';
import { createBackupService, restoreArchive } from '../../src/modules/backups/index.js';
import { liveInstall, qemuImg, seed } from '../backups/fixtures.js';
import { qemuImgInfo } from './template-fixtures.js';

const pattern = (disk: string, byte: number, offset: string, op: 'write' | 'read') =>
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `${op} -P 0x${byte.toString(16)} ${offset} 64k`, disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const holds = (disk: string, byte: number, offset: string) => {
  const out = pattern(disk, byte, offset, 'read');
  return /read 65536\/65536 bytes/.test(out) && !/verification failed/i.test(out);
};

test('a backup stores each template base once; restore elsewhere keeps every clone backed by the restored base', { timeout: 120_000 }, async () => {
  const live = await liveInstall('pglite', { memory: true });
  const elsewhere = mkdtempSync(join(tmpdir(), 'limen-bk-restore-'));
  try {
    await seed(live, 0);
    const db = live.database.db;
    const alice = (await queryOne<{ id: string }>(db, sql`select id from users where username = 'alice'`))!.id;
    const tplId = randomUUID();
    mkdirSync(join(live.dataDir, 'templates'), { recursive: true });
    mkdirSync(join(live.dataDir, 'disks'), { recursive: true });
    const base = join(live.dataDir, 'templates', `${tplId}.qcow2`);
    qemuImg('create', '-q', '-f', 'qcow2', base, '1G');
    pattern(base, 0x5a, '2M', 'write'); // content every clone sees through its overlay
    chmodSync(base, 0o444);
    await db.execute(sql`insert into vm_templates (id, name, owner_id, visibility, source, state, base_path, virtual_size_bytes, quota_disk_gb)
      values (${tplId}, 'golden', ${alice}, 'private', 'vm', 'ready', ${base}, ${1024 ** 3}, 1)`);
    const clones: { uuid: string; disk: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const uuid = randomUUID();
      const disk = join(live.dataDir, 'disks', `${uuid}.qcow2`);
      qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', disk);
      pattern(disk, 0x41 + i, '1M', 'write'); // each clone's own change
      await db.execute(sql`insert into vms (uuid, owner_id, name, vcpus, memory_mb, disk_gb, state, disk_path, template_id, backing_template_id, clone_mode)
        values (${uuid}, ${alice}, ${`clone-${i}`}, 1, 64, 1, 'stopped', ${disk}, ${tplId}, ${tplId}, 'linked')`);
      clones.push({ uuid, disk });
    }

    const svc = createBackupService({ config: live.config, database: live.database, driver: () => undefined });
    const out = await svc.create({ origin: 'cli', requestedBy: null });
    assert.equal(out.row.status, 'completed');
    const m = out.archive.manifest;
    assert.equal(m.templates?.length, 1);
    assert.equal(m.files.filter((f) => f.kind === 'template-base').length, 1, 'the base is stored once for 3 clones');
    assert.equal(m.vms.length, 3);
    for (const v of m.vms) assert.equal(v.disks.length, 1, 'each clone contributes its overlay only');
    assert.deepEqual((await svc.verify(out.archive.file)).problems, []);
    await live.database.close();

    const r = await restoreArchive({ file: out.archive.file, dataDir: elsewhere, databaseUrl: undefined });
    assert.equal(r.manifest.vms.length, 3);
    const restoredBase = join(elsewhere, 'templates', `${tplId}.qcow2`);
    assert.equal(statSync(restoredBase).mode & 0o777, 0o444, 'restored base is read-only');
    rmSync(join(live.dataDir, 'templates'), { recursive: true, force: true }); // the source's base is gone
    for (const [i, c] of clones.entries()) {
      const disk = join(elsewhere, 'disks', `${c.uuid}.qcow2`);
      const info = qemuImgInfo(disk);
      assert.equal(info['full-backing-filename'] ?? info['backing-filename'], restoredBase, 'overlay points at the restored base');
      assert.ok(holds(disk, 0x41 + i, '1M'), `clone ${i} keeps its own data`);
      assert.ok(holds(disk, 0x5a, '2M'), `clone ${i} reads the base through the restored chain`);
    }
  } finally {
    await live.cleanup();
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
