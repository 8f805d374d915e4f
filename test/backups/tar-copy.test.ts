// The two copy paths of the tar writer — the overlapped user-space pipeline (small files) and the
// kernel copy through a shared file offset (large files) — produce the same, strict-reader-valid
// archive with the right SHA-256, including bodies that are not a multiple of the chunk size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listTar, readEntry, TarWriter } from '../../src/modules/backups/tar.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const [name, kernelCopyMin] of [['pipeline', Number.MAX_SAFE_INTEGER], ['kernel copy', 1]] as const) {
  test(`tar writer, ${name}: entries round-trip with their SHA-256`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limen-tarcopy-'));
    try {
      // 2.5 chunks + an odd tail, an empty file, a one-byte file: every edge of the chunking.
      const bodies = [randomBytes(8 * 1024 * 1024 * 2 + 4 * 1024 * 1024 + 123), Buffer.alloc(0), Buffer.from('x')];
      bodies.forEach((b, i) => writeFileSync(join(dir, `f${i}`), b));
      const archive = join(dir, 'a.tar');
      const fh = await open(archive, 'wx');
      const w = new TarWriter(fh, 1_700_000_000, kernelCopyMin);
      await w.addBuffer('head.txt', Buffer.from('hello'));
      const written = [];
      for (let i = 0; i < bodies.length; i++) written.push(await w.addFile(`f${i}`, join(dir, `f${i}`), bodies[i]!.length));
      await w.addBuffer('tail.txt', Buffer.from('bye'));
      await w.finish();
      await fh.close();
      written.forEach((e, i) => assert.equal(e.sha256, sha(bodies[i]!)));
      const entries = await listTar(archive); // strict: headers, padding, trailer, exact length
      assert.deepEqual(entries.map((e) => e.path), ['head.txt', 'f0', 'f1', 'f2', 'tail.txt']);
      for (let i = 0; i < bodies.length; i++) assert.equal(await readEntry(archive, entries[i + 1]!), sha(bodies[i]!));
      assert.equal(readFileSync(archive).length, w.bytesWritten);
      assert.match(execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' }), /f0\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('tar writer, kernel copy: a source that changed size is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-tarcopy-'));
  try {
    writeFileSync(join(dir, 'f'), randomBytes(1000));
    const fh = await open(join(dir, 'a.tar'), 'wx');
    const w = new TarWriter(fh, 1_700_000_000, 1);
    await assert.rejects(w.addFile('f', join(dir, 'f'), 900), /changed while it was being copied/);
    await fh.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
