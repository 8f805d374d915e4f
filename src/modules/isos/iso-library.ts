// The ISO library on disk: files live flat in LIMEN_ISO_DIR under their validated library name.
// Users pick ISOs by id; no path from a request ever reaches the filesystem or libvirt.
// Uploads stream to a temp file in the same directory (sha256 and size computed on the way),
// then appear atomically under their final name via link(), which never overwrites.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, link, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Db } from '../../platform/db/db.js';
import { isUniqueViolation } from '../../platform/db/query.js';
import { AppError, conflict, validationFailed } from '../../platform/http/app-error.js';
import { findIsoByName, insertIso, type IsoRecord } from './isos.repo.js';

/** Library names: [A-Za-z0-9._-]{1,128} + ".iso", not starting with a dot (no hidden or ../ names). */
export const ISO_NAME_RE = /^(?!\.)[A-Za-z0-9._-]{1,128}\.iso$/;

export function checkIsoName(name: string): void {
  if (!ISO_NAME_RE.test(name)) throw validationFailed('name', 'ISO name must be 1-128 characters of A-Z a-z 0-9 . _ - followed by .iso');
}

/** Absolute path of a library file (the name was validated when it was stored). */
export const isoPathOf = (isoDir: string, iso: Pick<IsoRecord, 'fileName'>): string => join(isoDir, iso.fileName);

/** The library directory, traversable by the libvirt-qemu user (o+x) so guests can read their CD. */
export async function ensureLibraryDir(isoDir: string): Promise<void> {
  await mkdir(isoDir, { recursive: true });
  await chmod(isoDir, 0o755);
}

export class PayloadTooLarge extends AppError {
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `ISO exceeds the upload limit of ${limit} bytes`, { limit_bytes: limit });
  }
}

/** Streams `source` into the library as `name`; refuses duplicates (409) and oversize bodies (413). */
export async function importIso(db: Db, isoDir: string, name: string, source: Readable, maxBytes: number): Promise<IsoRecord> {
  checkIsoName(name);
  if (await findIsoByName(db, name)) throw conflict(`An ISO named ${name} already exists`);
  await ensureLibraryDir(isoDir);
  const tmp = join(isoDir, `.upload-${randomBytes(8).toString('hex')}.part`);
  const final = join(isoDir, name);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) return cb(new PayloadTooLarge(maxBytes));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    if (size === 0) throw validationFailed('body', 'the ISO body is empty');
    await chmod(tmp, 0o644);
    try {
      await link(tmp, final);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`A file named ${name} already exists in the ISO library`);
      throw e;
    }
    try {
      return await insertIso(db, { name, fileName: name, sizeBytes: size, sha256: hash.digest('hex') });
    } catch (e) {
      await unlink(final).catch(() => undefined);
      if (isUniqueViolation(e)) throw conflict(`An ISO named ${name} already exists`);
      throw e;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
