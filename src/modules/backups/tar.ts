// A small, strict tar (POSIX ustar + pax) writer and reader for backup archives.
//
// Why our own: archives must be streamed (VM disks are GiB-sized), every entry hashed while it is
// written, and the reader must be *strict*: a backup with a flipped byte anywhere (header,
// padding, trailer) or a missing tail must be refused, not "mostly extracted". General-purpose tar
// readers are lenient on purpose. The output is ordinary tar: `tar -tvf` lists it.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { pipeRange, ShortReadError, writeFully } from './pipeline.js';

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

function writeString(buf: Buffer, offset: number, len: number, s: string): void {
  buf.write(s, offset, Math.min(len, Buffer.byteLength(s)), 'utf8');
}

function writeOctal(buf: Buffer, offset: number, len: number, n: number): void {
  writeString(buf, offset, len, n.toString(8).padStart(len - 1, '0') + '\0');
}

function headerChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum;
}

function header(name: string, size: number, type: '0' | 'x', mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  writeOctal(h, 148, 8, 0); // placeholder for the checksum computation
  const sum = headerChecksum(h);
  writeString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

function paxRecord(key: string, value: string): string {
  // "<len> <key>=<value>\n" where len counts itself.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

const MAX_OCTAL_SIZE = 0o77777777777; // 8 GiB - 1: larger entries carry their size in a pax header

export interface WrittenEntry {
  path: string;
  size: number;
  sha256: string;
}

/** Files from this size on are copied by the kernel (see addFile); smaller ones are not worth a process. */
export const KERNEL_COPY_MIN = 64 * 1024 * 1024;

/**
 * Appends entries to an open file; hashes each entry's content as it goes.
 *
 * Every write goes to the file's *current offset* (no position), so the offset always equals
 * `bytesWritten`. That is what lets a child process share the file description and append a
 * large file's body with copy_file_range (addFile), after which our own writes simply continue.
 * The handle must therefore be opened without O_APPEND (copy_file_range refuses it) and written
 * by nobody else.
 */
export class TarWriter {
  private position = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly mtime = Math.floor(Date.now() / 1000),
    private readonly kernelCopyMin = KERNEL_COPY_MIN,
  ) {}

  get bytesWritten(): number {
    return this.position;
  }

  private async write(buf: Buffer): Promise<void> {
    await writeFully(this.fh, buf, buf.length, null);
    this.position += buf.length;
  }

  private async writeHeader(path: string, size: number): Promise<void> {
    if (path.length === 0 || path.startsWith('/') || path.split('/').includes('..')) throw new TarFormatError(`unsafe entry path "${path}"`);
    const needsPax = Buffer.byteLength(path) > 99 || size > MAX_OCTAL_SIZE;
    if (needsPax) {
      const pax = Buffer.from(paxRecord('path', path) + paxRecord('size', String(size)));
      await this.write(header('PaxHeader', pax.length, 'x', this.mtime));
      await this.write(pad(pax));
    }
    const shortName = needsPax ? path.slice(0, 99) : path;
    await this.write(header(shortName, Math.min(size, MAX_OCTAL_SIZE), '0', this.mtime));
  }

  async addBuffer(path: string, data: Buffer): Promise<WrittenEntry> {
    await this.writeHeader(path, data.length);
    await this.write(pad(data));
    return { path, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }

  /**
   * Copies exactly `size` bytes of a file (the size taken when the copy was planned: a file whose
   * size or modification time changes during the copy is an error — the caller promised a
   * consistent file, e.g. a paused or shut-off VM's disk).
   *
   * Large files: the body is appended by `cat` (coreutils ≥ 9.1 copies regular files with
   * copy_file_range, as `cp` does: no trip through user space) while this process reads the source
   * a second time, concurrently, to hash it — the two run on different CPUs, and the second read
   * comes from the page cache the copy just filled. Node has no copy_file_range with offsets, and
   * a tar body must follow its header inside the archive, hence the shared file offset. Small
   * files go through the overlapped read → hash → write pipeline (pipeline.ts).
   */
  async addFile(path: string, source: string, size: number, onBytes?: (n: number) => void): Promise<WrittenEntry> {
    await this.writeHeader(path, size);
    const src = await open(source, 'r');
    let sha256: string;
    try {
      if (size >= this.kernelCopyMin && size > 0) {
        const before = await src.stat();
        const start = this.position;
        const results = await Promise.allSettled([kernelAppend(source, this.fh), pipeRange({ src, srcOffset: 0, size, onBytes })]);
        for (const r of results) if (r.status === 'rejected') throw r.reason;
        sha256 = (results[1] as PromiseFulfilledResult<string>).value;
        const after = await src.stat();
        const written = (await this.fh.stat()).size - start;
        if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || before.size !== size || written !== size) {
          throw new TarFormatError(`${source} changed while it was being copied (expected ${size} bytes, copied ${written})`);
        }
      } else {
        sha256 = await pipeRange({ src, srcOffset: 0, size, dst: { fh: this.fh, offset: null }, onBytes });
      }
    } catch (err) {
      if (err instanceof ShortReadError) throw new TarFormatError(`${source} shrank while it was being copied`);
      throw err;
    } finally {
      await src.close();
    }
    this.position += size;
    const rest = size % BLOCK;
    if (rest !== 0) await this.write(Buffer.alloc(BLOCK - rest));
    return { path, size, sha256 };
  }

  /** The end-of-archive marker: two zero blocks, nothing after them. */
  async finish(): Promise<void> {
    await this.write(Buffer.concat([ZERO_BLOCK, ZERO_BLOCK]));
  }
}

/** `cat FILE` onto the archive's file description (shared offset): copy_file_range in the kernel. */
function kernelAppend(source: string, out: FileHandle): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cat', ['--', source], { stdio: ['ignore', out.fd, 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(0, 2000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      // Keep the errno the archive writer maps to its "no space left" message.
      const err = new Error(`copying ${source} failed: ${stderr.trim() || `cat exited with ${code ?? signal}`}`) as NodeJS.ErrnoException;
      if (/No space left/i.test(stderr)) err.code = 'ENOSPC';
      else if (/quota exceeded/i.test(stderr)) err.code = 'EDQUOT';
      reject(err);
    });
  });
}

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

export interface TarEntry {
  path: string;
  size: number;
  /** byte offset of the entry's content in the archive */
  offset: number;
}

function parseOctal(buf: Buffer, offset: number, len: number, what: string): number {
  const s = buf.toString('ascii', offset, offset + len).replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`bad ${what} field in tar header`);
  return parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) throw new TarFormatError('bad pax header');
    const len = Number(data.toString('ascii', i, sp));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) throw new TarFormatError('bad pax record length');
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq < 0 || data[i + len - 1] !== 0x0a) throw new TarFormatError('bad pax record');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Reads exactly n bytes at pos or fails with a "truncated" error. */
async function readExact(fh: FileHandle, n: number, pos: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
    if (bytesRead === 0) throw new TarFormatError(`archive is truncated (expected data at byte ${pos + got})`);
    got += bytesRead;
  }
  return buf;
}

/**
 * Lists the entries, validating every header checksum, the padding after every entry and the
 * end-of-archive marker. Content is not read (see readEntry / hashEntry); padding is.
 */
export async function listTar(file: string): Promise<TarEntry[]> {
  const fh = await open(file, 'r');
  try {
    const total = (await fh.stat()).size;
    const entries: TarEntry[] = [];
    let pos = 0;
    let pax: Record<string, string> | undefined;
    for (;;) {
      const h = await readExact(fh, BLOCK, pos);
      if (h.equals(ZERO_BLOCK)) {
        const second = await readExact(fh, BLOCK, pos + BLOCK);
        if (!second.equals(ZERO_BLOCK)) throw new TarFormatError('damaged end-of-archive marker');
        if (pos + 2 * BLOCK !== total) throw new TarFormatError('unexpected data after the end of the archive');
        if (pax) throw new TarFormatError('pax header without an entry');
        return entries;
      }
      if (parseOctal(h, 148, 8, 'checksum') !== headerChecksum(h)) throw new TarFormatError(`tar header checksum mismatch at byte ${pos}`);
      if (h.toString('ascii', 257, 263) !== 'ustar\0') throw new TarFormatError(`not a ustar header at byte ${pos}`);
      const type = String.fromCharCode(h[156]!);
      let size = parseOctal(h, 124, 12, 'size');
      const dataPos = pos + BLOCK;
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (dataPos + padded > total) throw new TarFormatError(`archive is truncated (entry at byte ${pos} needs ${padded} bytes)`);
      if (type === 'x') {
        pax = parsePax(await readExact(fh, size, dataPos));
      } else if (type === '0' || type === '\0') {
        const nul = h.indexOf(0, 0);
        let path = h.toString('utf8', 0, nul >= 0 && nul < 100 ? nul : 100);
        if (pax?.path !== undefined) path = pax.path;
        if (pax?.size !== undefined) size = Number(pax.size);
        pax = undefined;
        entries.push({ path, size, offset: dataPos });
      } else {
        throw new TarFormatError(`unsupported tar entry type "${type}" at byte ${pos}`);
      }
      const end = pos + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
      if (end > total) throw new TarFormatError(`archive is truncated (entry at byte ${pos})`);
      const padLen = end - (dataPos + size);
      if (padLen > 0 && !(await readExact(fh, padLen, dataPos + size)).equals(Buffer.alloc(padLen))) {
        throw new TarFormatError(`damaged padding after the entry at byte ${pos}`);
      }
      pos = end;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Streams an entry's content through `sink` in chunks (reused afterwards: copy what you keep);
 * returns its SHA-256. With `dst`, the content is also written there (overlapped: restore).
 */
export async function readEntry(file: string, e: TarEntry, sink?: (chunk: Buffer) => Promise<void> | void, dst?: { fh: FileHandle; offset: number }): Promise<string> {
  const fh = await open(file, 'r');
  try {
    return await pipeRange({ src: fh, srcOffset: e.offset, size: e.size, onChunk: sink, dst });
  } catch (err) {
    if (err instanceof ShortReadError) throw new TarFormatError(`archive is truncated inside ${e.path}`);
    throw err;
  } finally {
    await fh.close();
  }
}

export async function readEntryBuffer(file: string, e: TarEntry, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
  if (e.size > maxBytes) throw new TarFormatError(`${e.path} is larger than expected (${e.size} bytes)`);
  const parts: Buffer[] = [];
  await readEntry(file, e, (c) => void parts.push(Buffer.from(c)));
  return Buffer.concat(parts);
}
