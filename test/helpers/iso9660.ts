// A small ISO 9660 reader for tests: the primary volume descriptor (volume id) and the files of
// the root directory, named by their Rock Ridge NM entry when present (else the ISO 9660 name
// without ";1"). Enough to read back a cloud-init seed, independent of the tool that wrote it.
const SECTOR = 2048;

export interface IsoImage {
  volumeId: string;
  files: Map<string, Buffer>;
}

function rockRidgeName(su: Buffer): string | null {
  let name = '';
  let found = false;
  for (let i = 0; i + 4 <= su.length; ) {
    const sig = su.toString('latin1', i, i + 2);
    const len = su[i + 2]!;
    if (len < 4 || i + len > su.length) break;
    if (sig === 'NM') {
      found = true;
      name += su.toString('utf8', i + 5, i + len);
    }
    i += len;
  }
  return found ? name : null;
}

export function readIso(buf: Buffer): IsoImage {
  const pvd = buf.subarray(16 * SECTOR, 17 * SECTOR);
  if (pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') throw new Error('no ISO 9660 primary volume descriptor at sector 16');
  const volumeId = pvd.toString('latin1', 40, 72).trimEnd();
  const root = pvd.subarray(156, 156 + 34);
  const rootLba = root.readUInt32LE(2);
  const rootLen = root.readUInt32LE(10);
  const dir = buf.subarray(rootLba * SECTOR, rootLba * SECTOR + rootLen);
  const files = new Map<string, Buffer>();
  for (let off = 0; off < dir.length; ) {
    const len = dir[off]!;
    if (len === 0) {
      off = (Math.floor(off / SECTOR) + 1) * SECTOR; // records never cross a sector: skip the padding
      continue;
    }
    const rec = dir.subarray(off, off + len);
    const lba = rec.readUInt32LE(2);
    const size = rec.readUInt32LE(10);
    const flags = rec[25]!;
    const nameLen = rec[32]!;
    const rawName = rec.subarray(33, 33 + nameLen);
    const suStart = 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0);
    off += len;
    if (nameLen === 1 && (rawName[0] === 0 || rawName[0] === 1)) continue; // . and ..
    if (flags & 2) continue; // a directory
    const name = rockRidgeName(rec.subarray(suStart)) ?? rawName.toString('latin1').replace(/;1$/, '').replace(/\.$/, '');
    files.set(name, buf.subarray(lba * SECTOR, lba * SECTOR + size));
  }
  return { volumeId, files };
}
