// Base images on disk: $LIMEN_DATA_DIR/templates/<id>.qcow2, read-only (0444) so no clone, guest
// or LIMEN itself can change a base that overlays depend on; the directory is traversable by the
// libvirt-qemu user (0711). Uploads stream to a temp file there and are checked with qemu-img
// before they become a base: qcow2 only, no backing file and no external data file (either could
// make QEMU open an arbitrary host file named inside an uploaded image).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DiskImages, DiskInfo } from '../../hypervisor/index.js';
import { AppError, validationFailed } from '../../platform/http/app-error.js';

export const templatesDirOf = (dataDir: string): string => join(dataDir, 'templates');
export const basePathFor = (templatesDir: string, id: string): string => join(templatesDir, `${id}.qcow2`);

export async function ensureTemplatesDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o711 });
  await chmod(dir, 0o711);
}

export class ImageTooLarge extends AppError {
  constructor(limit: number) {
    super('PAYLOAD_TOO_LARGE', `The image exceeds the upload limit of ${limit} bytes`, { limit_bytes: limit });
  }
}

/** Streams an upload into a temp file in `dir`; returns its path and size (the caller removes or renames it). */
export async function receiveUpload(dir: string, source: Readable, maxBytes: number): Promise<{ path: string; size: number }> {
  await ensureTemplatesDir(dir);
  const path = join(dir, `.upload-${randomBytes(8).toString('hex')}.part`);
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) return cb(new ImageTooLarge(maxBytes));
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
    if (size === 0) throw validationFailed('body', 'the image body is empty');
    return { path, size };
  } catch (e) {
    await unlink(path).catch(() => undefined);
    throw e;
  }
}

/** Refuses anything but a self-contained qcow2 image. */
export async function checkUploadedImage(disks: DiskImages, path: string): Promise<DiskInfo> {
  const info = await disks.diskInfo(path).catch(() => {
    throw validationFailed('body', 'the upload is not a readable disk image');
  });
  if (info.format !== 'qcow2') throw validationFailed('body', `the image must be qcow2 (got ${info.format})`);
  if (info.backingFile) throw validationFailed('body', 'the image must not have a backing file');
  if (info.dataFile) throw validationFailed('body', 'the image must not use an external data file');
  if (info.virtualSizeBytes <= 0) throw validationFailed('body', 'the image has no virtual size');
  return info;
}

/** Makes a finished base read-only for everyone (QEMU opens it read-only through the overlays). */
export async function sealBase(path: string): Promise<void> {
  await chmod(path, 0o444);
}

export async function removeBase(path: string): Promise<void> {
  await unlink(path).catch((e: unknown) => {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  });
}
