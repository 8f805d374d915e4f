// The tar writer's copy path (format 2: chunks read and hashed on every core, written by position)
// produces a strict-reader-valid archive whose chunk digests are the SHA-256 of each 8 MiB piece,
// for bodies that are not a multiple of the chunk size, empty, one byte, or mostly holes — and a
// sparse source stays sparse in the archive and after extraction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_SIZE, treeDigest } from '../../src/modules/backups/chunked.js';
import { checkEntryContent } from '../../src/modules/backups/entry-content.js';
import { listTar, TarWriter } from '../../src/modules/backups/tar.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** The definition of format 2's chunk list, computed the slow obvious way. */
const chunksOf = (b: Buffer): string[] => Array.from({ length: Math.ceil(b.length / CHUNK_SIZE) }, (_, i) => sha(b.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)));

test('tar writer: entries round-trip with their chunk digests; tar -t lists them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-tarcopy-'));
  try {
    // 2.5 chunks + an odd tail, an empty file, a one-byte file: every edge of the chunking.
    const bodies = [randomBytes(CHUNK_SIZE * 2 + CHUNK_SIZE / 2 + 123), Buffer.alloc(0), Buffer.from('x')];
    bodies.forEach((b, i) => writeFileSync(join(dir, `f${i}`), b));
    const archive = join(dir, 'a.tar');
    const fh = await open(archive, 'wx');
    const w = new TarWriter(fh, 1_700_000_000);
    await w.addBuffer('head.txt', Buffer.from('hello'));
    const written = [];
    for (let i = 0; i < bodies.length; i++) written.push(await w.addFile(`f${i}`, join(dir, `f${i}`), bodies[i]!.length));
    await w.addBuffer('tail.txt', Buffer.from('bye'));
    await w.finish();
    await fh.close();
    written.forEach((e, i) => {
      assert.deepEqual(e.chunk_sha256, chunksOf(bodies[i]!));
      assert.equal(e.tree_sha256, treeDigest(chunksOf(bodies[i]!)));
    });
    const entries = await listTar(archive); // strict: headers, padding, trailer, exact length
    assert.deepEqual(entries.map((e) => e.path), ['head.txt', 'f0', 'f1', 'f2', 'tail.txt']);
    for (let i = 0; i < bodies.length; i++) {
      const out = join(dir, `out${i}`);
      assert.equal(await checkEntryContent(archive, entries[i + 1]!, { ...written[i]!, kind: 'vm-disk' }, out), undefined);
      assert.ok(readFileSync(out).equals(bodies[i]!), `f${i} extracted byte for byte`);
    }
    assert.equal(readFileSync(archive).length, w.bytesWritten);
    assert.match(execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' }), /f0\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tar writer: a mostly-empty disk is copied as holes, its data chunks intact, and extracted sparse', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-tarcopy-'));
  try {
    // 64 MiB apparent size, two chunks of data (one of them the last, partial one), the rest holes.
    const size = 8 * CHUNK_SIZE - 4096;
    const src = join(dir, 'sparse.raw');
    const fd = openSync(src, 'wx');
    const a = randomBytes(CHUNK_SIZE);
    const b = randomBytes(1000);
    writeSync(fd, a, 0, a.length, 2 * CHUNK_SIZE);
    writeSync(fd, b, 0, b.length, size - b.length);
    closeSync(fd);
    const archive = join(dir, 'a.tar');
    const fh = await open(archive, 'wx');
    const w = new TarWriter(fh, 1_700_000_000);
    const e = await w.addFile('vms/x/disks/sparse.raw', src, size);
    await w.finish();
    await fh.close();
    assert.deepEqual(e.chunk_sha256, chunksOf(readFileSync(src)));
    // Allocated blocks: the data chunks and the tar blocks, not the 64 MiB of zeros.
    const allocated = (f: string): number => statSync(f).blocks * 512;
    assert.ok(allocated(archive) < 3 * CHUNK_SIZE, `archive allocates ${allocated(archive)} bytes for ${size} apparent`);
    const [entry] = await listTar(archive);
    const out = join(dir, 'restored.raw');
    assert.equal(await checkEntryContent(archive, entry!, { ...e, kind: 'vm-disk' }, out), undefined);
    assert.ok(readFileSync(out).equals(readFileSync(src)), 'extracted byte for byte');
    assert.ok(allocated(out) < 3 * CHUNK_SIZE, 'extracted sparse');
    // A flipped byte inside a hole of the archive is found (the chunk is no longer all zeros).
    const wfd = openSync(archive, 'r+');
    writeSync(wfd, Buffer.from([1]), 0, 1, entry!.offset + 5 * CHUNK_SIZE + 7);
    closeSync(wfd);
    assert.match((await checkEntryContent(archive, entry!, { ...e, kind: 'vm-disk' }))!, /SHA-256 mismatch in chunk 5 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tar writer: a source that changed size is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-tarcopy-'));
  try {
    writeFileSync(join(dir, 'f'), randomBytes(1000));
    const fh = await open(join(dir, 'a.tar'), 'wx');
    const w = new TarWriter(fh, 1_700_000_000);
    await assert.rejects(w.addFile('f', join(dir, 'f'), 900), /changed while it was being copied/);
    await assert.rejects(w.addFile('g', join(dir, 'f'), 2000), /shrank while it was being copied/);
    await fh.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the hash workers never keep a process alive: a CLI exits by itself after hashing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-tarcopy-'));
  try {
    writeFileSync(join(dir, 'f'), randomBytes(3 * 1024 * 1024));
    const script = join(dir, 'run.mts');
    const chunked = new URL('../../src/modules/backups/chunked.ts', import.meta.url).href;
    writeFileSync(
      script,
      `import { open } from 'node:fs/promises';
       import { copyChunks } from '${chunked}';
       const fh = await open(${JSON.stringify(join(dir, 'f'))}, 'r');
       const r = await copyChunks({ src: fh, srcOffset: 0, size: 3 * 1024 * 1024 });
       await fh.close();
       console.log(r.chunks.length);`,
    );
    // A pool worker left ref'd would keep this child running until the timeout kills it.
    const out = execFileSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(out.trim(), '1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
