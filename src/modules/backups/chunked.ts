// Chunked SHA-256 (archive format 2, docs/backup.md "Archive format"): the content of every file is
// cut into CHUNK_SIZE pieces, each piece is hashed on its own, and the file is named by the
// SHA-256 of its chunk digests. Chunks are independent, so they are read and hashed on every core
// at once (hash-pool.ts) while the main thread writes them out: one pass over the data, no core
// idle, no second read.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { ChunkShortReadError, hashPool, type HashPool } from './hash-pool.js';
import { writeFully } from './pipeline.js';

/** 8 MiB: few worker messages and syscalls per GiB, small enough to keep a dozen in flight. */
export const CHUNK_SIZE = 8 * 1024 * 1024;
/** Bounds a manifest may declare (a reader allocates a few chunks of this size). */
export const MIN_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
/** While a large file is written, start writeback every this many bytes (see copyChunks). */
export const SYNC_EVERY = 256 * 1024 * 1024;

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
   * must be fresh where the range lands: all-zero chunks are not written (they stay holes, which
   * read as zeros), so a sparse disk stays sparse in the archive and after a restore.
   */
  dst?: { fh: FileHandle; offset: number; syncEvery?: number };
  /** Expected chunk digests: stop at the first chunk that differs (ChunkMismatchError). */
  expect?: readonly string[];
  onBytes?: (n: number) => void;
  pool?: HashPool;
}

export interface CopiedChunks {
  chunks: string[];
  /** chunks that were all zeros (not written) */
  zeroChunks: number;
}

/**
 * Reads `size` bytes of src from srcOffset, hashes every chunk, and writes them to dst. Throws
 * ChunkShortReadError when the source is shorter. Every worker read and every write has settled
 * when this returns or throws — callers may close both handles right after (a worker must never
 * read an fd number that was closed and reused).
 */
export async function copyChunks(o: CopyChunksOptions): Promise<CopiedChunks> {
  const chunkSize = o.chunkSize ?? CHUNK_SIZE;
  const n = Math.ceil(o.size / chunkSize);
  const chunks = new Array<string>(n);
  if (n === 0) return { chunks, zeroChunks: 0 };
  if (o.expect && o.expect.length !== n) throw new ChunkMismatchError(Math.min(n, o.expect.length));
  const pool = o.pool ?? hashPool();
  const slotSize = Math.min(chunkSize, o.size);
  // Two chunks per worker in flight (one being hashed, one being written or queued), at most
  // 12 (96 MiB) so that a backup on a many-core server stays a modest guest in its memory.
  const slots = Math.min(n, pool.size * 2 + 2, 12);
  const sab = new SharedArrayBuffer(slots * slotSize);
  const free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  const waiting: ((slot: number) => void)[] = [];
  const acquire = (): Promise<number> => (free.length > 0 ? Promise.resolve(free.pop()!) : new Promise((r) => waiting.push(r)));
  const release = (slot: number): void => {
    const next = waiting.shift();
    if (next) next(slot);
    else free.push(slot);
  };
  const inflight = new Set<Promise<void>>();
  let failure: Error | undefined;
  let zeroChunks = 0;
  let lastZero = false;
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  const dst = o.dst;
  const afterWrite = (len: number): void => {
    // Start writeback while the copy goes on, so the final fsync finds little left to do: the
    // disk writes in parallel with the hashing instead of after it. One sync in flight at most.
    if (!dst?.syncEvery) return;
    unsynced += len;
    if (unsynced < dst.syncEvery || syncing) return;
    unsynced = 0;
    const s = dst.fh.datasync().finally(() => (syncing = undefined));
    syncing = s;
    track(s);
  };
  const track = (p: Promise<void>): void => {
    const settled = p.catch((err: unknown) => {
      failure ??= err instanceof Error ? err : new Error(String(err));
    });
    inflight.add(settled);
    void settled.then(() => inflight.delete(settled));
  };
  for (let i = 0; i < n && failure === undefined; i++) {
    const slot = await acquire();
    if (failure !== undefined) {
      release(slot);
      break;
    }
    const len = Math.min(chunkSize, o.size - i * chunkSize);
    const off = slot * slotSize;
    track(
      pool
        .run({ fd: o.src.fd, pos: o.srcOffset + i * chunkSize, len, sab, off })
        .then(async (d) => {
          chunks[i] = d.digest;
          if (o.expect && o.expect[i] !== d.digest) throw new ChunkMismatchError(i);
          if (d.zero) zeroChunks++;
          if (i === n - 1) lastZero = d.zero;
          if (dst && !d.zero) {
            await writeFully(dst.fh, Buffer.from(sab, off, len), len, dst.offset + i * chunkSize);
            afterWrite(len);
          }
          o.onBytes?.(len);
        })
        .finally(() => release(slot)),
    );
  }
  while (inflight.size > 0) await Promise.all(inflight);
  if (failure !== undefined) throw failure;
  // A trailing hole still has to exist: extend the file when the last chunk was not written.
  if (dst && lastZero) {
    const end = dst.offset + o.size;
    if ((await dst.fh.stat()).size < end) await dst.fh.truncate(end);
  }
  return { chunks, zeroChunks };
}

export { ChunkShortReadError };
