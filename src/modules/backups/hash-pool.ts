// A small pool of worker threads that each take one chunk of a file through the whole copy:
// read it, SHA-256 it, and (backup, restore) write it to its place in the destination. The
// CPU-bound part of backup, verify and restore, spread over every core.
//
// Why workers: one SHA-256 stream runs on one core (~1.5 GB/s with SHA-NI, `openssl speed -evp
// sha256`), slower than the page cache can deliver. Format 2 archives hash each 8 MiB chunk on its
// own (manifest.ts), so chunks are independent and N workers copy N of them at once: while one
// worker waits on a read or a write, the others hash — read, hash and write overlap across chunks
// with no ordering between them (every write is positional).
//
// Why a worker walks its chunk in PIECE-sized steps (read piece → hash piece → write piece): a
// piece fits in the core's L2 cache, so the hash and the write read it from cache instead of from
// memory — an 8 MiB buffer would be pulled from RAM three times (read copy, hash, write copy).
// Each worker owns its one piece buffer: nothing is shared or copied between threads, the main
// thread only hands out chunk numbers and collects digests.
//
// Holes: pieces the source's hole map (extents.ts) puts in a hole are not read at all.
//
// Zeros: an all-zero piece is not written (the destination is a fresh file: it stays a hole and
// reads as zeros), so a sparse disk stays sparse. A chunk that is all zeros gets its digest from a
// cache instead of being hashed; hashing starts at a chunk's first non-zero piece (catching up on
// the zero pieces before it from a zero buffer).
//
// The pool is created on first use and shared by the process. Idle workers are unref'd (they never
// keep a CLI or a test process alive); a worker with work pending is ref'd (an await on its answer
// must keep the process running).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** 256 KiB: fits in L2 with room to spare; 8192 read + 8192 write calls per 2 GiB are noise. */
export const PIECE_SIZE = 256 * 1024;

/** Plain CommonJS, run with `eval`: no loader, no build step, the same in tsx and in dist/. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readSync, writeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const PIECE = workerData.piece;
const buf = Buffer.allocUnsafe(PIECE);
const zero = Buffer.alloc(PIECE);
const zeroDigests = new Map();
function hashZeros(h, len) {
  for (let at = 0; at < len; at += PIECE) h.update(zero.subarray(0, Math.min(PIECE, len - at)));
}
function zeroDigest(len) {
  let d = zeroDigests.get(len);
  if (!d) { const h = createHash('sha256'); hashZeros(h, len); d = h.digest('hex'); zeroDigests.set(len, d); }
  return d;
}
function readFull(fd, len, pos) {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
function writeFull(fd, len, pos) {
  let done = 0;
  while (done < len) done += writeSync(fd, buf, done, len - done, pos + done);
}
parentPort.on('message', (m) => {
  try {
    let h = null;
    const skip = m.skip || [];
    let k = 0;
    for (let at = 0; at < m.len; at += PIECE) {
      const n = Math.min(PIECE, m.len - at);
      while (k < skip.length && skip[k][1] <= at) k++;
      if (k < skip.length && skip[k][0] <= at && at + n <= skip[k][1]) {
        // in a hole of the source: zeros, known without reading (hashed only after data began)
        if (h !== null) h.update(n === PIECE ? zero : zero.subarray(0, n));
        continue;
      }
      const got = readFull(m.fd, n, m.pos + at);
      if (got < n) { parentPort.postMessage({ id: m.id, shortAt: m.pos + at + got }); return; }
      const piece = n === PIECE ? buf : buf.subarray(0, n);
      const isZero = piece.equals(n === PIECE ? zero : zero.subarray(0, n));
      if (!isZero && h === null) { h = createHash('sha256'); hashZeros(h, at); }
      if (h !== null) h.update(piece);
      if (!isZero && m.dstFd !== undefined) writeFull(m.dstFd, n, m.dstPos + at);
    }
    parentPort.postMessage({ id: m.id, digest: h === null ? zeroDigest(m.len) : h.digest('hex'), zero: h === null });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String(e && e.message), code: e && e.code });
  }
});
`;

export interface ChunkJob {
  fd: number;
  /** position in the file */
  pos: number;
  len: number;
  /** [from, to) offsets within the chunk, piece-aligned, that lie in a hole of the source: not read */
  skip?: [number, number][];
  /** where the chunk goes (a fresh file: zero pieces are left as holes); omitted → hash only */
  dstFd?: number;
  dstPos?: number;
}

export interface ChunkDigest {
  digest: string;
  /** the chunk is all zeros (nothing was written for it) */
  zero: boolean;
}

/** The file ended before the chunk did. */
export class ChunkShortReadError extends Error {
  constructor(readonly at: number) {
    super(`source ended at byte ${at}`);
    this.name = 'ChunkShortReadError';
  }
}

interface Reply {
  id: number;
  digest?: string;
  zero?: boolean;
  shortAt?: number;
  error?: string;
  code?: string;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, { resolve: (d: ChunkDigest) => void; reject: (e: Error) => void }>;
}

export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;

  constructor(
    readonly size: number,
    readonly pieceSize = PIECE_SIZE,
  ) {}

  private spawn(): PoolWorker {
    // execArgv []: the worker needs no loader (tsx) — it is plain JavaScript.
    const w: PoolWorker = { worker: new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { piece: this.pieceSize } }), pending: new Map() };
    w.worker.on('message', (r: Reply) => {
      const p = w.pending.get(r.id);
      if (!p) return;
      w.pending.delete(r.id);
      if (w.pending.size === 0) w.worker.unref();
      if (r.digest !== undefined) p.resolve({ digest: r.digest, zero: r.zero === true });
      else if (r.shortAt !== undefined) p.reject(new ChunkShortReadError(r.shortAt));
      else p.reject(Object.assign(new Error(r.error ?? 'hash worker failed'), { code: r.code }));
    });
    const fail = (err: Error): void => {
      // A dead worker fails its own jobs and is replaced on the next submit.
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1);
      for (const p of w.pending.values()) p.reject(err);
      w.pending.clear();
    };
    w.worker.on('error', fail);
    w.worker.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)));
    // After the listeners: attaching a 'message' listener refs the worker's port again.
    w.worker.unref();
    return w;
  }

  /** Reads, hashes (and writes) one chunk on the least busy worker. */
  run(job: ChunkJob): Promise<ChunkDigest> {
    while (this.workers.length < this.size) this.workers.push(this.spawn());
    const w = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<ChunkDigest>((resolve, reject) => {
      if (w.pending.size === 0) w.worker.ref();
      w.pending.set(id, { resolve, reject });
      w.worker.postMessage({ id, ...job });
    });
  }

  /** Ends every worker (tests; a process exiting does not need it). */
  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.worker.terminate()));
  }
}

let shared: HashPool | undefined;

/** One worker per core, at most 8 (more would only contend for the page cache and the disk). */
export function hashPool(): HashPool {
  shared ??= new HashPool(Math.max(1, Math.min(availableParallelism(), 8)));
  return shared;
}
