// Chunked SHA-256 (archive format 2, docs/backup.md "Archive format"): the content of every file is
// cut into CHUNK_SIZE pieces, each piece is hashed on its own, and the file is named by the
// SHA-256 of its chunk digests. Chunks are independent, so each worker of the pool (hash-pool.ts)
// reads, hashes and writes its own chunk while the others do theirs: one pass over the data, no
// core idle, no second read. Chunks lying in a hole of the source are not read at all (extents.ts).
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ChunkShortReadError, hashPool, type HashPool } from './hash-pool.js';
import type { HoleMap } from './extents.js';

/** 8 MiB: few worker messages and syscalls per GiB, small enough to keep a dozen in flight. */
export const CHUNK_SIZE = 8 * 1024 * 1024;
/** Bounds a manifest may declare (a reader allocates a few chunks of this size). */
export const MIN_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
/** While a large file is written, start writeback every this many bytes (see copyChunks). */
export const SYNC_EVERY = 256 * 1024 * 1024;
/** Chunks queued per worker (16 × 8 MiB: about a tenth of a second of work each at page-cache speed). */
const QUEUE_PER_WORKER = 16;

export class ChunkMismatchError extends Error {
  constructor(readonly index: number) {
    super(`SHA-256 mismatch in chunk ${index}`);
    this.name = 'ChunkMismatchError';
  }
}

/** SHA-256 of the binary chunk digests, in order: the one value that names a chunked content. */
export function treeDigest(chunks: readonly string[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(Buffer.from(c, 'hex'));
  return h.digest('hex');
}

/** Chunk digests of a buffer in memory (small entries: manifest parts, dumps, XML). */
export function bufferChunks(data: Buffer, chunkSize = CHUNK_SIZE): string[] {
  const out: string[] = [];
  for (let at = 0; at < data.length; at += chunkSize) out.push(createHash('sha256').update(data.subarray(at, at + chunkSize)).digest('hex'));
  return out;
}

export interface CopyChunksOptions {
  src: FileHandle;
  srcOffset: number;
  size: number;
  chunkSize?: number;
  /**
   * Where the bytes go (positional writes, in parallel); omitted → hash only (verify). The file
   * must be fresh where the range lands: zeros are not written (they stay holes, which read as
   * zeros), so a sparse disk stays sparse in the archive and after a restore.
   */
  dst?: { fh: FileHandle; offset: number; syncEvery?: number };
  /** Expected chunk digests: stop at the first chunk that differs (ChunkMismatchError). */
  expect?: readonly string[];
  onBytes?: (n: number) => void;
  pool?: HashPool;
  /**
   * The source file's holes (extents.ts), in the source file's offsets. A chunk lying wholly in a
   * hole is all zeros: it gets the zero digest without being read; the pieces of a chunk that lie
   * in a hole are not read either (the worker hashes zeros for them from memory).
   */
  holes?: Promise<HoleMap | undefined>;
}

export interface CopiedChunks {
  chunks: string[];
  /** chunks that were all zeros (not written) */
  zeroChunks: number;
  /** of those, chunks skipped without reading because the source had a hole there */
  skippedChunks: number;
}

const zeroDigests = new Map<number, string>();

/** SHA-256 of `len` zero bytes (cached: every hole of a disk has the same few lengths). */
export function zeroChunkDigest(len: number): string {
  let d = zeroDigests.get(len);
  if (d === undefined) {
    d = createHash('sha256').update(Buffer.alloc(len)).digest('hex');
    zeroDigests.set(len, d);
  }
  return d;
}

/**
 * Reads `size` bytes of src from srcOffset, hashes every chunk, and writes them to dst. Throws
 * ChunkShortReadError when the source is shorter. Every worker read and every write has settled
 * when this returns or throws — callers may close both handles right after (a worker must never
 * touch an fd number that was closed and reused).
 *
 * The main thread only hands out chunk numbers: each worker reads, hashes and writes its chunk
 * (hash-pool.ts), two chunks queued per worker so none waits for the next job. Nothing here
 * awaits per chunk except when every worker is busy.
 */
export async function copyChunks(o: CopyChunksOptions): Promise<CopiedChunks> {
  const chunkSize = o.chunkSize ?? CHUNK_SIZE;
  const n = Math.ceil(o.size / chunkSize);
  const chunks = new Array<string>(n);
  if (n === 0) return { chunks, zeroChunks: 0, skippedChunks: 0 };
  if (o.expect && o.expect.length !== n) throw new ChunkMismatchError(Math.min(n, o.expect.length));
  const pool = o.pool ?? hashPool();
  // The map comes first (qemu-img map answers in 10-20 ms even for a 2 GiB file): every chunk in
  // a hole is then skipped, none read because it was handed out before the map arrived.
  const holes = o.holes ? await o.holes : undefined;
  // Deep queues: the main thread may be busy for a second at a time (restore loads PGlite beside
  // the disks; a backup serves requests), and the workers must not run dry meanwhile. A queued
  // job is a few numbers, not a buffer: depth costs no memory.
  const maxInflight = pool.size * QUEUE_PER_WORKER;
  let inflight = 0;
  let wake: (() => void) | undefined;
  const settled = (): void => {
    inflight--;
    wake?.();
  };
  let failure: Error | undefined;
  const fail = (err: unknown): void => {
    failure ??= err instanceof Error ? err : new Error(String(err));
  };
  let zeroChunks = 0;
  let skippedChunks = 0;
  const dst = o.dst;
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  const done = (i: number, digest: string, zero: boolean, len: number): void => {
    chunks[i] = digest;
    if (o.expect && o.expect[i] !== digest) fail(new ChunkMismatchError(i));
    if (zero) zeroChunks++;
    o.onBytes?.(len);
    // Start writeback while the copy goes on, so the final fsync finds little left to do: the
    // disk writes in parallel with the hashing instead of after it. One sync in flight at most.
    if (!dst?.syncEvery || zero) return;
    unsynced += len;
    if (unsynced < dst.syncEvery || syncing) return;
    unsynced = 0;
    syncing = dst.fh
      .datasync()
      .catch(fail)
      .finally(() => (syncing = undefined));
  };
  for (let i = 0; i < n && failure === undefined; i++) {
    const pos = o.srcOffset + i * chunkSize;
    const len = Math.min(chunkSize, o.size - i * chunkSize);
    if (holes?.covers(pos, pos + len)) {
      skippedChunks++;
      done(i, zeroChunkDigest(len), true, len);
      continue;
    }
    while (inflight >= maxInflight) await new Promise<void>((r) => (wake = r));
    if (failure !== undefined) break;
    inflight++;
    const skip = holes?.piecesWithin(pos, pos + len, pool.pieceSize);
    pool
      .run({ fd: o.src.fd, pos, len, ...(skip?.length ? { skip } : {}), ...(dst ? { dstFd: dst.fh.fd, dstPos: dst.offset + i * chunkSize } : {}) })
      .then((d) => done(i, d.digest, d.zero, len), fail)
      .finally(settled);
  }
  while (inflight > 0) await new Promise<void>((r) => (wake = r));
  await syncing;
  if (failure !== undefined) throw failure;
  // A trailing hole still has to exist: extend the file when the end was not written.
  if (dst) {
    const end = dst.offset + o.size;
    if ((await dst.fh.stat()).size < end) await dst.fh.truncate(end);
  }
  return { chunks, zeroChunks, skippedChunks };
}

export { ChunkShortReadError };
