// Damage and failure: a flipped byte anywhere, a truncated archive, a newer format, an archive
// without its database → verify and restore refuse before touching anything. A failure in the
// middle of a restore leaves the live data exactly as it was. A full disk during backup leaves no
// partial archive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createBackupService, restoreArchive, verifyArchive, BackupWriteError } from '../../src/modules/backups/index.js';
import { listTar, readEntryBuffer, TarWriter } from '../../src/modules/backups/tar.js';
import { openDatabase } from '../../src/platform/db/db.js';
import { liveInstall, readMarker, seed, snapshotTables, type Live } from './fixtures.js';

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

type Manifestish = { files: Record<string, unknown>[]; format_version?: number };

/** Rewrites an archive with a changed manifest (and a matching manifest.sha256): a well-formed but different archive. */
async function rewrite(src: string, dst: string, edit: (m: Manifestish, content: Map<string, Buffer>) => void, drop: (path: string) => boolean = () => false): Promise<void> {
  const entries = await listTar(src);
  const fh = await open(dst, 'wx');
  const w = new TarWriter(fh);
  let manifest: Manifestish = { files: [] };
  const content = new Map<string, Buffer>();
  for (const e of entries) {
    if (e.path === 'manifest.json') manifest = JSON.parse((await readEntryBuffer(src, e)).toString());
    else if (e.path !== 'manifest.sha256' && !drop(e.path)) {
      const data = await readEntryBuffer(src, e, 1 << 30);
      content.set(e.path, data);
      await w.addBuffer(e.path, data);
    }
  }
  manifest.files = manifest.files.filter((f) => !drop(f.path as string));
  edit(manifest, content);
  const text = Buffer.from(JSON.stringify(manifest));
  await w.addBuffer('manifest.json', text);
  await w.addBuffer('manifest.sha256', Buffer.from(createHash('sha256').update(text).digest('hex') + '  manifest.json\n'));
  await w.finish();
  await fh.close();
}

describe('damaged archives and failed restores (pglite)', () => {
  let live: Live;
  let archive: string;
  let vms: { uuid: string; disk: string }[];
  let tables: Record<string, unknown[]>;
  const work = mkdtempSync(join(tmpdir(), 'limen-damage-'));

  before(async () => {
    live = await liveInstall('pglite');
    vms = (await seed(live, 1)).vms;
    const out = await createBackupService({ config: live.config, database: live.database, driver: () => undefined }).create({ origin: 'cli', requestedBy: null });
    archive = out.archive.file;
    tables = await snapshotTables(live.database);
    await live.database.close(); // the restore target must not be open
  });
  after(async () => {
    await live.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** Every path under the live data dir with the SHA-256 of every file: equal means byte-identical. */
  const liveFingerprint = (): string => {
    const walk = (dir: string, rel: string): string[] =>
      readdirSync(dir, { withFileTypes: true })
        .sort((a, b) => a.name.localeCompare(b.name))
        .flatMap((d) => (d.isDirectory() ? [`${rel}${d.name}/`, ...walk(join(dir, d.name), `${rel}${d.name}/`)] : [`${rel}${d.name} ${sha(join(dir, d.name))}`]));
    return walk(live.dataDir, '').join('\n');
  };

  async function assertRefusedAndUntouched(bad: string, why: RegExp): Promise<void> {
    const v = await verifyArchive(bad);
    assert.equal(v.ok, false);
    assert.match(v.problems.join('\n'), why);
    const fp = liveFingerprint();
    await assert.rejects(restoreArchive({ file: bad, dataDir: live.dataDir, databaseUrl: undefined }), why);
    assert.equal(liveFingerprint(), fp, 'live data untouched');
  }

  test('the intact archive verifies', async () => {
    assert.deepEqual((await verifyArchive(archive)).problems, []);
  });

  test('a flipped byte in a disk, in the database dump, in a header, in padding: refused', async () => {
    const entries = await listTar(archive);
    const disk = entries.find((e) => e.path.endsWith('.qcow2'))!;
    const db = entries.find((e) => e.path.startsWith('database/'))!;
    const padded = entries.find((e) => e.size % 512 !== 0 && e.size % 512 < 511)!;
    const targets: [string, number, RegExp][] = [
      ['disk', disk.offset + Math.floor(disk.size / 2), /SHA-256 mismatch/],
      ['database', db.offset + 100, /SHA-256 mismatch/],
      ['header', disk.offset - 512 + 5, /checksum mismatch/],
      // An entry whose size is not a multiple of 512 has padding (the dump's size varies by run).
      ['padding', padded.offset + padded.size + 1, /padding/],
    ];
    for (const [name, pos, why] of targets) {
      const bad = join(work, `flip-${name}.tar`);
      copyFileSync(archive, bad);
      const fd = openSync(bad, 'r+');
      const b = Buffer.alloc(1);
      b[0] = readFileSync(bad).subarray(pos, pos + 1)[0]! ^ 0xff;
      writeSync(fd, b, 0, 1, pos);
      closeSync(fd);
      await assertRefusedAndUntouched(bad, why);
    }
  });

  test('one pass: the last byte of a disk damaged is found while the disk is staged, and nothing live changed', async () => {
    const disk = (await listTar(archive)).find((e) => e.path.endsWith('.qcow2'))!;
    const bad = join(work, 'flip-last.tar');
    copyFileSync(archive, bad);
    const pos = disk.offset + disk.size - 1;
    const fd = openSync(bad, 'r+');
    writeSync(fd, Buffer.from([readFileSync(bad)[pos]! ^ 0xff]), 0, 1, pos);
    closeSync(fd);
    const lastChunk = Math.ceil(disk.size / (8 * 1024 * 1024)) - 1;
    const fp = liveFingerprint();
    const steps: string[] = [];
    await assert.rejects(
      restoreArchive({ file: bad, dataDir: live.dataDir, databaseUrl: undefined, onStep: (s) => void steps.push(s) }),
      new RegExp(`SHA-256 mismatch in chunk ${lastChunk} `),
    );
    // Refused by the check made while extracting (the disk is not read twice), before the switch-over.
    assert.ok(steps.includes('stage:disks'), `staging began: ${steps.join(', ')}`);
    assert.ok(!steps.includes('staged') && !steps.some((s) => s.startsWith('swap:')), `never switched over: ${steps.join(', ')}`);
    assert.equal(liveFingerprint(), fp, 'live data dir byte-identical, no staging left');
  });

  test('without a tar program the database dump is still restored (PGlite unpacks it itself)', async () => {
    const target = mkdtempSync(join(tmpdir(), 'limen-notar-target-'));
    const path = process.env.PATH;
    try {
      try {
        process.env.PATH = join(target, 'no-such-bin'); // spawn('tar') → ENOENT → the fallback
        await restoreArchive({ file: archive, dataDir: target, databaseUrl: undefined });
      } finally {
        process.env.PATH = path;
      }
      const db = await openDatabase({ databaseUrl: undefined, dataDir: target });
      try {
        const restored = await snapshotTables(db);
        // disk paths follow the target data dir; everything else is the source's
        for (const v of restored.vms as string[]) assert.ok(v.includes(target), 'disk path mapped to the target');
        assert.deepEqual(Object.keys(restored), Object.keys(tables));
        assert.deepEqual(restored.users, tables.users);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });

  test('a truncated archive is refused', async () => {
    for (const keep of [statSync(archive).size - 700, Math.floor(statSync(archive).size / 2), 100]) {
      const bad = join(work, `trunc-${keep}.tar`);
      copyFileSync(archive, bad);
      truncateSync(bad, keep);
      await assertRefusedAndUntouched(bad, /truncated|end of the archive|manifest/);
    }
  });

  test('an archive from a newer format version is refused', async () => {
    const bad = join(work, 'newer.tar');
    await rewrite(archive, bad, (m) => (m.format_version = 99));
    await assertRefusedAndUntouched(bad, /newer than this LIMEN/);
  });

  test('an archive without the database is refused', async () => {
    const bad = join(work, 'nodb.tar');
    await rewrite(archive, bad, () => undefined, (p) => p.startsWith('database/'));
    await assertRefusedAndUntouched(bad, /database dump .* not in the manifest/);
  });

  test('a format 1 archive (one whole-file SHA-256 per file) still verifies and restores; its damage is still found', async () => {
    const v1 = join(work, 'format1.tar');
    await rewrite(archive, v1, (m, content) => {
      m.format_version = 1;
      m.files = m.files.map(({ path, kind, size }) => ({ path, kind, size, sha256: createHash('sha256').update(content.get(path as string)!).digest('hex') }));
    });
    assert.deepEqual((await verifyArchive(v1)).problems, []);
    const target = mkdtempSync(join(tmpdir(), 'limen-v1-target-'));
    try {
      const r = await restoreArchive({ file: v1, dataDir: target, databaseUrl: undefined });
      assert.equal(r.manifest.format_version, 1);
      const restored = join(target, 'disks', basename(vms[0]!.disk));
      assert.equal(sha(restored), sha(vms[0]!.disk), 'disk restored byte for byte');
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
    const disk = (await listTar(v1)).find((e) => e.path.endsWith('.qcow2'))!;
    const bad = join(work, 'format1-flip.tar');
    copyFileSync(v1, bad);
    const fd = openSync(bad, 'r+');
    writeSync(fd, Buffer.from([readFileSync(bad)[disk.offset + 1000]! ^ 0xff]), 0, 1, disk.offset + 1000);
    closeSync(fd);
    await assertRefusedAndUntouched(bad, /SHA-256 mismatch/);
  });

  test('a failure at any point of the restore leaves the live data as it was', async () => {
    for (const failAt of ['stage:database', 'staged', 'swap:disks', 'swap:db']) {
      const fp = liveFingerprint();
      await assert.rejects(
        restoreArchive({ file: archive, dataDir: live.dataDir, databaseUrl: undefined, onStep: (s) => { if (s === failAt) throw new Error(`injected at ${s}`); } }),
        /injected/,
      );
      assert.equal(liveFingerprint(), fp, `untouched after a failure at ${failAt}`);
      assert.deepEqual(readdirSync(live.dataDir).filter((n) => n.startsWith('.restore-')), [], 'no staging left behind');
    }
    // And the data is still the live data: open it and compare.
    const db = await live.reopen();
    assert.deepEqual(await snapshotTables(db), tables);
    assert.ok(readMarker(vms[0]!.disk, 0));
    await db.close();
  });

  test('a full disk during backup: clear error, no partial archive', { skip: process.getuid?.() !== 0 ? 'needs root to mount a small tmpfs' : false }, async () => {
    const mnt = mkdtempSync(join(tmpdir(), 'limen-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    try {
      const db = await live.reopen();
      const svc = createBackupService({ config: live.config, database: db, driver: () => undefined });
      await assert.rejects(svc.create({ origin: 'cli', requestedBy: null, outDir: mnt }), (e: Error) => e instanceof BackupWriteError && /no space left/.test(e.message));
      assert.deepEqual(readdirSync(mnt), [], 'nothing left in the full directory');
      await db.close();
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });
});
