// Hole skipping (extents.ts): a copy asks the filesystem (qemu-img map) where a file's holes are
// and hashes a chunk lying in a hole as zeros without reading it — on backup (the source disk) and
// on restore/verify (the archive, which keeps the disk's holes). What a user would notice if it
// went wrong: a restored disk that differs from the original, a restored disk that is no longer
// sparse (fills the data dir), or damage in an archive that restore no longer notices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_SIZE, copyChunks } from '../../src/modules/backups/chunked.js';
import { checkEntryContent, fileDigest } from '../../src/modules/backups/entry-content.js';
import { HoleMap, mapHoles, parseQemuImgMap } from '../../src/modules/backups/extents.js';
import { listTar, TarWriter } from '../../src/modules/backups/tar.js';
import { REAL } from '../helpers/db.js';

const hasQemuImg = ((): boolean => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (REAL && !hasQemuImg) throw new Error('LIMEN_TEST_REAL=1 but qemu-img is not installed (qemu-utils is in LIMEN_APT_PACKAGES)');
const skip = hasQemuImg ? false : 'qemu-img (qemu-utils) not installed';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const chunksOf = (b: Buffer): string[] => Array.from({ length: Math.ceil(b.length / CHUNK_SIZE) }, (_, i) => sha(b.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)));
const allocated = (f: string): number => statSync(f).blocks * 512;

test('qemu-img map JSON: holes are data:false zero:true, adjacent ones merged; covers() needs the whole range', () => {
  const m = parseQemuImgMap(
    JSON.stringify([
      { start: 0, length: 4096, depth: 0, present: true, zero: false, data: true, offset: 0 },
      { start: 4096, length: 4096, depth: 0, present: true, zero: true, data: false, offset: 4096 },
      { start: 8192, length: 8192, depth: 0, present: true, zero: true, data: false, offset: 8192 },
      { start: 16384, length: 4096, depth: 0, present: true, zero: true, data: true, offset: 16384 }, // zero but allocated: read it
      { start: 20480, length: 4096, depth: 0, present: true, zero: true, data: false, offset: 20480 },
    ]),
  );
  assert.deepEqual(m.holes, [
    [4096, 16384],
    [20480, 24576],
  ]);
  assert.equal(m.covers(4096, 16384), true);
  assert.equal(m.covers(5000, 6000), true);
  assert.equal(m.covers(4000, 6000), false, 'starts in data');
  assert.equal(m.covers(8192, 20480), false, 'runs into an allocated extent');
  assert.equal(m.covers(16384, 20480), false);
  assert.equal(m.covers(20480, 24577), false, 'runs past the end of the map');
  assert.equal(m.holeBytes(24576), 12288 + 4096);
  assert.throws(() => parseQemuImgMap('{"start":0}'));
});

test('piecesWithin: only whole pieces inside a hole are left unread, relative to the chunk start', () => {
  const m = new HoleMap([
    [0, 1000],
    [3000, 9000],
    [12_000, 20_000],
  ]);
  // chunk [2000, 14000) cut in 1000-byte pieces from 2000: [3000,9000) → pieces 1..6; [12000,…) → pieces 10..11
  assert.deepEqual(m.piecesWithin(2000, 14_000, 1000), [
    [1000, 7000],
    [10_000, 12_000],
  ]);
  // a hole that starts or ends mid-piece leaves that piece to be read
  assert.deepEqual(m.piecesWithin(2500, 9500, 1000), [[1000, 6000]]);
  // a chunk wholly in a hole, with a short last piece: all of it
  assert.deepEqual(m.piecesWithin(13_000, 14_500, 1000), [[0, 1500]]);
  assert.deepEqual(m.piecesWithin(9000, 12_000, 1000), [], 'no hole inside');
});

test('a sparse disk: holes are skipped on backup and on restore, the restore is byte-identical and sparse', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-holes-'));
  try {
    // 40 chunks apparent (320 MiB). Data: chunk 3 whole, 100 KiB straddling chunks 10/11, 1000
    // bytes at the very end (chunk 39, partial). Chunks 0-2, 4-9, 12-38 are holes.
    const size = 40 * CHUNK_SIZE - 12345;
    const src = join(dir, 'disk.raw');
    const fd = openSync(src, 'wx');
    const pieces: [number, Buffer][] = [
      [3 * CHUNK_SIZE, randomBytes(CHUNK_SIZE)],
      [11 * CHUNK_SIZE - 50_000, randomBytes(100_000)],
      [size - 1000, randomBytes(1000)],
    ];
    for (const [at, b] of pieces) writeSync(fd, b, 0, b.length, at);
    closeSync(fd);
    const body = readFileSync(src);
    const map = await mapHoles(src);
    assert.ok(map, 'qemu-img map answered');
    assert.ok(map.holeBytes(size) > 30 * CHUNK_SIZE, `holes found: ${map.holeBytes(size)} bytes`);

    // Backup path: the same digests as reading every byte, with the hole chunks never read.
    const fh = await open(src, 'r');
    const skipping = await copyChunks({ src: fh, srcOffset: 0, size, holes: Promise.resolve(map) });
    const reading = await copyChunks({ src: fh, srcOffset: 0, size, holes: Promise.resolve(undefined) });
    await fh.close();
    assert.deepEqual(skipping.chunks, chunksOf(body));
    assert.deepEqual(reading.chunks, skipping.chunks);
    assert.equal(skipping.skippedChunks, 36, 'every chunk that lies in a hole is skipped');
    assert.equal(reading.skippedChunks, 0);

    const archive = join(dir, 'a.tar');
    const out = await open(archive, 'wx');
    const w = new TarWriter(out, 1_700_000_000);
    const e = await w.addFile('vms/x/disks/disk.raw', src, size);
    await w.finish();
    await out.sync();
    await out.close();
    assert.deepEqual(e.chunk_sha256, chunksOf(body));
    assert.ok(allocated(archive) < 3 * CHUNK_SIZE, `archive allocates ${allocated(archive)} bytes for ${size} apparent`);

    // Restore path: the archive's holes are skipped too; the result is the original, still sparse.
    const [entry] = await listTar(archive);
    const listed = { ...e, kind: 'vm-disk' as const };
    // Archive chunks that lie wholly in the archive's holes: the 36 hole chunks less three that share
    // a filesystem block with something written (tar offsets are 512-aligned, blocks 4 KiB): chunk 0
    // with the tar header, chunks 2 and 4 with the data chunk 3.
    const archiveMap = await mapHoles(archive);
    const afh = await open(archive, 'r');
    const staged = await open(join(dir, 'probe.raw'), 'wx');
    const copied = await copyChunks({ src: afh, srcOffset: entry!.offset, size, expect: e.chunk_sha256, dst: { fh: staged, offset: 0 }, holes: Promise.resolve(archiveMap) });
    await staged.close();
    await afh.close();
    assert.ok(copied.skippedChunks >= 30, `restore skipped ${copied.skippedChunks} hole chunks of the archive (33 with 4 KiB blocks)`);
    const restored = join(dir, 'restored.raw');
    assert.equal(await checkEntryContent(archive, entry!, listed, restored), undefined);
    assert.equal(statSync(restored).size, size);
    assert.ok(readFileSync(restored).equals(body), 'restored byte for byte');
    assert.ok(allocated(restored) < 3 * CHUNK_SIZE, `restored disk allocates ${allocated(restored)} bytes`);
    assert.equal(await fileDigest(restored, listed), `tree-sha256:${e.tree_sha256}`, 'the drill digest of the restored disk matches');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hole-skipping restore still finds a flipped byte: in data, and written into a hole of the archive', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-holes-'));
  try {
    const size = 16 * CHUNK_SIZE;
    const src = join(dir, 'disk.raw');
    const fd = openSync(src, 'wx');
    const data = randomBytes(CHUNK_SIZE);
    writeSync(fd, data, 0, data.length, 6 * CHUNK_SIZE);
    writeSync(fd, Buffer.alloc(1), 0, 1, size - 1);
    closeSync(fd);
    const archive = join(dir, 'a.tar');
    const out = await open(archive, 'wx');
    const w = new TarWriter(out, 1_700_000_000);
    const e = await w.addFile('vms/x/disks/disk.raw', src, size);
    await w.finish();
    await out.close();
    const [entry] = await listTar(archive);
    const listed = { ...e, kind: 'vm-disk' as const };
    assert.equal(await checkEntryContent(archive, entry!, listed), undefined, 'intact archive verifies');

    const flip = (at: number, value: number): void => {
      const f = openSync(archive, 'r+');
      writeSync(f, Buffer.from([value]), 0, 1, entry!.offset + at);
      closeSync(f);
    };
    flip(6 * CHUNK_SIZE + 12_345, data[12_345]! ^ 0x01);
    assert.match((await checkEntryContent(archive, entry!, listed, join(dir, 'r1.raw')))!, /SHA-256 mismatch in chunk 6 /);
    flip(6 * CHUNK_SIZE + 12_345, data[12_345]!);
    assert.equal(await checkEntryContent(archive, entry!, listed), undefined, 'repaired');
    // A byte written where the archive had a hole allocates a block there: the map reports data,
    // the chunk is read, and its digest no longer matches.
    flip(11 * CHUNK_SIZE + 99, 0x5a);
    assert.match((await checkEntryContent(archive, entry!, listed, join(dir, 'r2.raw')))!, /SHA-256 mismatch in chunk 11 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file name with a colon or comma is mapped as a file, never read as a qemu protocol', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-holes-'));
  try {
    const f = join(dir, 'nbd:host,x.raw');
    const fd = openSync(f, 'wx');
    writeSync(fd, Buffer.from('data'), 0, 4, 0);
    closeSync(fd);
    execFileSync('truncate', ['-s', String(4 * CHUNK_SIZE), f]);
    const map = await mapHoles(f);
    assert.ok(map, 'qemu-img map answered');
    assert.ok(map.covers(CHUNK_SIZE, 4 * CHUNK_SIZE), 'the hole after the first block is reported');
    assert.equal(map.covers(0, CHUNK_SIZE), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
