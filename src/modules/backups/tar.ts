// A small, strict tar (POSIX ustar + pax) writer and reader for backup archives.
//
// Why our own: archives must be streamed (VM disks are GiB-sized), every entry hashed while it is
// written, and the reader must be *strict*: a backup with a flipped byte anywhere (header,
// padding, trailer) or a missing tail must be refused, not "mostly extracted". General-purpose tar
// readers are lenient on purpose. The output is ordinary tar: `tar -tvf` lists it.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { bufferChunks, CHUNK_SIZE, ChunkShortReadError, copyChunks, SYNC_EVERY, treeDigest, type CopiedChunks } from './chunked.js';
import { holesOf } from './extents.js';
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
  chunk_size: number;
  chunk_sha256: string[];
  tree_sha256: string;
}

const written = (path: string, size: number, chunks: string[]): WrittenEntry => ({ path, size, chunk_size: CHUNK_SIZE, chunk_sha256: chunks, tree_sha256: treeDigest(chunks) });

/**
 * Appends entries to an open file; hashes each entry's content in chunks as it goes (format 2).
 * Writes are positional (the writer keeps the position), so a large file's chunks can be written
 * in parallel, and an all-zero chunk can be left as a hole: the file must be new (opened `wx`).
 */
export class TarWriter {
  private position = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly mtime = Math.floor(Date.now() / 1000),
  ) {}

  get bytesWritten(): number {
    return this.position;
  }

  private async write(buf: Buffer): Promise<void> {
    await writeFully(this.fh, buf, buf.length, this.position);
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
    return written(path, data.length, bufferChunks(data));
  }

  /**
   * Copies exactly `size` bytes of a file (the size taken when the copy was planned: a file whose
   * size or modification time changes during the copy is an error — the caller promised a
   * consistent file, e.g. a paused or shut-off VM's disk). One pass: every core reads and hashes
   * chunks while this thread writes them (chunked.ts); writeback starts during the copy so the
   * archive's final fsync is short.
   */
  async addFile(path: string, source: string, size: number, onBytes?: (n: number) => void): Promise<WrittenEntry> {
    await this.writeHeader(path, size);
    const src = await open(source, 'r');
    let chunks: string[];
    try {
      const before = await src.stat();
      ({ chunks } = await copyChunks({ src, srcOffset: 0, size, dst: { fh: this.fh, offset: this.position, syncEvery: SYNC_EVERY }, onBytes, holes: holesOf(source, size) }));
      const after = await src.stat();
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || before.size !== size) {
        throw new TarFormatError(`${source} changed while it was being copied (expected ${size} bytes, found ${after.size})`);
      }
    } catch (err) {
      if (err instanceof ChunkShortReadError) throw new TarFormatError(`${source} shrank while it was being copied`);
      throw err;
    } finally {
      await src.close();
    }
    this.position += size;
    const rest = size % BLOCK;
    if (rest !== 0) await this.write(Buffer.alloc(BLOCK - rest));
    return written(path, size, chunks);
  }

  /** The end-of-archive marker: two zero blocks, nothing after them. */
  async finish(): Promise<void> {
    await this.write(Buffer.concat([ZERO_BLOCK, ZERO_BLOCK]));
  }
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

/**
 * Format 2: hashes an entry's content by chunks on every core, optionally writing it to a new
 * file (restore) and stopping at the first chunk that differs from `expect`.
 */
export async function copyEntryChunks(file: string, e: TarEntry, o: { chunkSize: number; expect?: readonly string[]; dst?: { fh: FileHandle; offset: number; syncEvery?: number } }): Promise<CopiedChunks> {
  const fh = await open(file, 'r');
  try {
    return await copyChunks({ src: fh, srcOffset: e.offset, size: e.size, chunkSize: o.chunkSize, expect: o.expect, dst: o.dst, holes: holesOf(file, e.size) });
  } catch (err) {
    if (err instanceof ChunkShortReadError) throw new TarFormatError(`archive is truncated inside ${e.path}`);
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
