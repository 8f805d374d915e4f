// A small pool of worker threads that read a byte range of a file and SHA-256 it: the CPU-bound
// half of backup, verify and restore, spread over every core.
//
// Why workers: one SHA-256 stream runs on one core (~1.5 GB/s with SHA-NI), slower than the page
// cache can deliver and slower than `cp`. Format 2 archives hash each 8 MiB chunk on its own
// (manifest.ts), so chunks are independent and N workers hash N of them at once.
//
// Why the worker also reads: the read's copy out of the page cache is CPU work too; doing it in
// the worker spreads it over the cores with the hashing, and the main thread only schedules and
// issues writes. The bytes land in a SharedArrayBuffer slot the main thread then writes from: no
// copy between threads. A chunk of zeros (a hole in a sparse disk) is recognised with one memcmp
// and gets its digest from a cache instead of being hashed.
//
// The pool is created on first use and shared by the process. Idle workers are unref'd (they never
// keep a CLI or a test process alive); a worker with work pending is ref'd (an await on its answer
// must keep the process running).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Plain CommonJS, run with `eval`: no loader, no build step, the same in tsx and in dist/. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { createHash } = require('node:crypto');
let zero = Buffer.alloc(0);
const zeroDigests = new Map();
function zeroDigest(len) {
  let d = zeroDigests.get(len);
  if (!d) { d = createHash('sha256').update(Buffer.alloc(len)).digest('hex'); zeroDigests.set(len, d); }
  return d;
}
parentPort.on('message', (m) => {
  try {
    const buf = Buffer.from(m.sab, m.off, m.len);
    let got = 0;
    while (got < m.len) {
      const n = readSync(m.fd, buf, got, m.len - got, m.pos + got);
      if (n === 0) break;
      got += n;
    }
    if (got < m.len) { parentPort.postMessage({ id: m.id, shortAt: m.pos + got }); return; }
    if (zero.length < m.len) zero = Buffer.alloc(m.len);
    const isZero = buf.equals(zero.subarray(0, m.len));
    const digest = isZero ? zeroDigest(m.len) : createHash('sha256').update(buf).digest('hex');
    parentPort.postMessage({ id: m.id, digest, zero: isZero });
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
  sab: SharedArrayBuffer;
  /** where in sab the bytes go */
  off: number;
}

export interface ChunkDigest {
  digest: string;
  /** the chunk is all zeros (nothing needs to be written for it in a fresh file) */
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

  constructor(readonly size: number) {}

  private spawn(): PoolWorker {
    // execArgv []: the worker needs no loader (tsx) — it is plain JavaScript.
    const w: PoolWorker = { worker: new Worker(WORKER_SOURCE, { eval: true, execArgv: [] }), pending: new Map() };
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

  /** Reads and hashes one chunk on the least busy worker. */
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
