// Overlapped copy/hash of a byte range as ONE SHA-256 stream: what format 1 archives (one
// whole-file SHA-256 per entry) need, and what small sequential reads use (readEntry,
// readEntryBuffer). Format 2 content goes through chunked.ts instead, hashed on every core.
//
// Reads run DEPTH-1 chunks ahead in the threadpool while the main thread hashes the oldest chunk
// and its write (positional, also in the threadpool) drains behind, so disk, threadpool and CPU
// overlap; the single hash stream on one core stays the ceiling.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/** 8 MiB: few enough syscalls and hash calls that per-call overhead vanishes, small enough to keep 4 in flight. */
export const PIPE_CHUNK = 8 * 1024 * 1024;
const DEPTH = 4;

export class ShortReadError extends Error {
  constructor(readonly at: number) {
    super(`source ended at byte ${at}`);
    this.name = 'ShortReadError';
  }
}

async function readFully(fh: FileHandle, buf: Buffer, len: number, pos: number): Promise<void> {
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) throw new ShortReadError(pos + got);
    got += bytesRead;
  }
}

/** pos null: at the file's current offset (and advancing it). */
export async function writeFully(fh: FileHandle, buf: Buffer, len: number, pos: number | null): Promise<void> {
  let done = 0;
  while (done < len) {
    const { bytesWritten } = await fh.write(buf, done, len - done, pos === null ? null : pos + done);
    done += bytesWritten;
  }
}

export interface PipeOptions {
  src: FileHandle;
  srcOffset: number;
  size: number;
  /**
   * destination and the offset the range starts at there (null: the file's current offset, which
   * the writes then advance — the tar writer keeps it equal to its position, see tar.ts);
   * omitted → hash only (verify)
   */
  dst?: { fh: FileHandle; offset: number | null };
  /** called in order, after each chunk was hashed (the chunk is reused afterwards: copy to keep) */
  onChunk?: (chunk: Buffer) => void | Promise<void>;
  onBytes?: (n: number) => void;
}

/**
 * Streams `size` bytes from src (at srcOffset) to dst, hashing them in order; returns the SHA-256.
 * Throws ShortReadError when the source is shorter than `size`. Every started read and write has
 * settled when this returns or throws, so callers may close the handles right after.
 */
export async function pipeRange(o: PipeOptions): Promise<string> {
  const hash = createHash('sha256');
  if (o.size === 0) return hash.digest('hex');
  const chunk = Math.min(PIPE_CHUNK, o.size);
  const n = Math.ceil(o.size / chunk);
  const depth = Math.min(DEPTH, n);
  const bufs = Array.from({ length: depth }, () => Buffer.allocUnsafe(chunk));
  // Per slot: the write still using its buffer (a read may only reuse the slot after it).
  const writes: Promise<void>[] = Array.from({ length: depth }, () => Promise.resolve());
  const reads = new Map<number, Promise<void>>();
  let lastWrite: Promise<void> = Promise.resolve();
  const inflight = new Set<Promise<unknown>>();
  // Every promise gets a handler at once: a write failing while we await a read must not become
  // an unhandled rejection (which ends the process); the first failure is rethrown in order.
  const track = <T>(p: Promise<T>): Promise<T> => {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    inflight.add(settled);
    void settled.then(() => inflight.delete(settled));
    return p;
  };
  const lenOf = (i: number): number => Math.min(chunk, o.size - i * chunk);
  const schedule = (i: number): void => {
    if (i >= n) return;
    const slot = i % depth;
    const p = writes[slot]!.then(() => readFully(o.src, bufs[slot]!, lenOf(i), o.srcOffset + i * chunk));
    p.catch(() => undefined);
    reads.set(i, track(p));
  };
  try {
    for (let i = 0; i < depth - 1; i++) schedule(i);
    for (let i = 0; i < n; i++) {
      schedule(i + depth - 1);
      await reads.get(i);
      reads.delete(i);
      const slot = i % depth;
      const data = bufs[slot]!.subarray(0, lenOf(i));
      hash.update(data);
      if (o.onChunk) await o.onChunk(data);
      if (o.dst) {
        const dst = o.dst;
        // One write at a time, in order (chained on the previous one): a single file gains nothing
        // from parallel writes, and offset-less writes must land in sequence.
        const pos = dst.offset === null ? null : dst.offset + i * chunk;
        const w = lastWrite.then(() => writeFully(dst.fh, bufs[slot]!, data.length, pos));
        lastWrite = w;
        w.catch(() => undefined);
        writes[slot] = track(w);
      }
      o.onBytes?.(data.length);
    }
    await Promise.all(writes);
    return hash.digest('hex');
  } finally {
    await Promise.all(inflight);
  }
}
