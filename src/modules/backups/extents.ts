// Where a file's holes are, so that a copy skips them instead of reading gigabytes of zeros.
//
// Node has no lseek(SEEK_DATA/SEEK_HOLE). `qemu-img map --output=json -f raw FILE` (qemu-utils, one
// of LIMEN's system packages) asks the filesystem for exactly that and prints the host file's
// extents: `data: false, zero: true` is a hole. A range inside a hole reads as zeros — the
// filesystem guarantees it — so its chunk digest is the all-zero digest without reading a byte;
// everything else (data, or anything the map does not describe) is read and hashed as before. So
// the map can only make a copy faster, never change its result: with no qemu-img, or a map that
// fails, every chunk is read.
//
// The path is given as `file:/absolute/path`: qemu would otherwise read a name like `nbd:…` or
// `json:{…}` as a protocol. `-U` (force share): a running VM's QEMU holds a write lock on its disk; mapping the host file's
// allocation is a read of metadata and must not be refused by it (the VM is paused during its copy).
import { execFile } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';

/** Files smaller than this are read whole: starting qemu-img (~30-200 ms) would cost more. */
export const MAP_MIN_SIZE = 32 * 1024 * 1024;

/** Sorted, merged [start, end) byte ranges that are holes in the file. */
export class HoleMap {
  constructor(readonly holes: readonly (readonly [number, number])[]) {}

  /** The whole range [start, end) lies in one hole (reads as zeros). */
  covers(start: number, end: number): boolean {
    let lo = 0;
    let hi = this.holes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [s, e] = this.holes[mid]!;
      if (end <= s) hi = mid - 1;
      else if (start >= e) lo = mid + 1;
      else return start >= s && end <= e;
    }
    return false;
  }

  /**
   * The pieces of [start, end) (cut every `piece` bytes from start) that lie wholly in a hole, as
   * [from, to) offsets relative to start, merged: what a worker need not read.
   */
  piecesWithin(start: number, end: number, piece: number): [number, number][] {
    const out: [number, number][] = [];
    for (const [s, e] of this.holes) {
      if (e <= start) continue;
      if (s >= end) break;
      // first piece boundary at or after the hole's start; last one at or before its end
      const from = Math.max(0, Math.ceil((s - start) / piece) * piece);
      const to = e >= end ? end - start : Math.floor((e - start) / piece) * piece;
      const last = out.at(-1);
      if (to > from) {
        if (last && last[1] === from) last[1] = to;
        else out.push([from, to]);
      }
    }
    return out;
  }

  /** bytes of [0, size) in holes */
  holeBytes(size: number): number {
    return this.holes.reduce((sum, [s, e]) => sum + Math.max(0, Math.min(e, size) - s), 0);
  }
}

interface MapExtent {
  start: number;
  length: number;
  data: boolean;
  zero: boolean;
}

/** Parses qemu-img map's JSON; adjacent holes are merged (a chunk may span several extents). */
export function parseQemuImgMap(json: string): HoleMap {
  const extents = JSON.parse(json) as unknown;
  if (!Array.isArray(extents)) throw new Error('qemu-img map: not a list');
  const holes: [number, number][] = [];
  for (const x of extents as Partial<MapExtent>[]) {
    if (typeof x.start !== 'number' || typeof x.length !== 'number') throw new Error('qemu-img map: malformed extent');
    if (x.data !== false || x.zero !== true || x.length <= 0) continue;
    const last = holes.at(-1);
    if (last && last[1] === x.start) last[1] = x.start + x.length;
    else holes.push([x.start, x.start + x.length]);
  }
  holes.sort((a, b) => a[0] - b[0]);
  return new HoleMap(holes);
}

export type HoleMapper = (file: string) => Promise<HoleMap | undefined>;

/**
 * The holes of `file` as the filesystem reports them, or undefined when they cannot be known
 * (qemu-img missing or failing: the caller reads everything). Never rejects.
 */
export const mapHoles: HoleMapper = (file) =>
  new Promise((resolve) => {
    // `file:` + an absolute path: a name with a colon ("a:b") is never taken for a protocol.
    execFile('qemu-img', ['map', '-U', '--output=json', '-f', 'raw', `file:${resolvePath(file)}`], { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        resolve(parseQemuImgMap(stdout));
      } catch {
        resolve(undefined);
      }
    });
  });

/** mapHoles for files worth it; smaller files: undefined at once. */
export function holesOf(file: string, size: number): Promise<HoleMap | undefined> | undefined {
  return size >= MAP_MIN_SIZE ? mapHoles(file) : undefined;
}
