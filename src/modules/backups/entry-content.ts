// Checking an archive entry's content against its manifest entry, in whichever format the archive
// was written: format 2 by chunk digests on every core (chunked.ts), format 1 by one whole-file
// SHA-256 (the old sequential path, pipeline.ts). Verify hashes only; restore writes the content to
// its staged file in the same pass.
import { open } from 'node:fs/promises';
import { ChunkMismatchError, copyChunks, SYNC_EVERY, treeDigest } from './chunked.js';
import { holesOf } from './extents.js';
import { contentDigest, isChunked, type ManifestFile } from './manifest.js';
import { pipeRange } from './pipeline.js';
import { copyEntryChunks, readEntry, type TarEntry } from './tar.js';

/** The manifest's words for a mismatch (tests and operators look for "SHA-256 mismatch"). */
const mismatch = (f: ManifestFile, chunk?: number): string =>
  chunk === undefined ? `${f.path}: SHA-256 mismatch (content damaged)` : `${f.path}: SHA-256 mismatch in chunk ${chunk} at byte ${chunk * f.chunk_size!} (content damaged)`;

/**
 * Reads the entry's content (writing it to `target`, a new file, when given: fsynced before this
 * returns) and compares it with the manifest. Returns the problem, or undefined when it matches.
 */
export async function checkEntryContent(archive: string, e: TarEntry, f: ManifestFile, target?: string): Promise<string | undefined> {
  const out = target === undefined ? undefined : await open(target, 'wx', 0o600);
  try {
    let problem: string | undefined;
    if (isChunked(f)) {
      try {
        await copyEntryChunks(archive, e, { chunkSize: f.chunk_size, expect: f.chunk_sha256, dst: out && { fh: out, offset: 0, syncEvery: SYNC_EVERY } });
      } catch (err) {
        if (!(err instanceof ChunkMismatchError)) throw err;
        problem = mismatch(f, err.index);
      }
    } else {
      const sum = await readEntry(archive, e, undefined, out && { fh: out, offset: 0 });
      if (sum !== f.sha256) problem = mismatch(f);
    }
    if (out && problem === undefined) await out.sync();
    return problem;
  } finally {
    await out?.close();
  }
}

/**
 * The digest of a file on disk computed the way the manifest entry names its content (for the
 * drill: a restored disk, hashed independently of the restore that wrote it). Same notation as
 * contentDigest(), so the two compare as strings.
 */
export async function fileDigest(file: string, f: ManifestFile): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    if (isChunked(f)) return `tree-sha256:${treeDigest((await copyChunks({ src: fh, srcOffset: 0, size, chunkSize: f.chunk_size, holes: holesOf(file, size) })).chunks)}`;
    return `sha256:${await pipeRange({ src: fh, srcOffset: 0, size })}`;
  } finally {
    await fh.close();
  }
}

export { contentDigest };
