// Disk image port: qcow2 files created, inspected, grown and deleted with qemu-img (execFile,
// argument arrays, bounded by a timeout that kills the child). Paths come from the caller (the VM
// module names disks by UUID under the data dir); nothing here builds paths from user input.

import { execFile } from 'node:child_process';
import { mkdir, open, unlink } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { HypervisorError } from './errors.js';
import { withTimeout } from './timeout.js';

export interface DiskInfo {
  virtualSizeBytes: number;
  actualSizeBytes: number;
  format: string;
  /** the backing file named in the image header (a linked clone's base), null when none */
  backingFile: string | null;
  backingFormat: string | null;
  /** qcow2 external data file: never accepted from an upload (it can name any host file) */
  dataFile: string | null;
}

export interface DiskImages {
  /** Creates a new qcow2 image; invalid_state when the file already exists (never overwrites). */
  createDisk(path: string, sizeGb: number): Promise<void>;
  /** Removes exactly this file; false when it did not exist. */
  deleteDisk(path: string): Promise<boolean>;
  /** Grows the image (shrinking is refused). The domain must not be running. */
  resizeDisk(path: string, sizeGb: number): Promise<void>;
  diskInfo(path: string): Promise<DiskInfo>;
  /**
   * A qcow2 overlay on `basePath` (copy-on-write; the base is only read): `qemu-img create -f qcow2
   * -b base -F qcow2`, grown to sizeGb when that is larger than the base. Never overwrites.
   */
  createOverlay(path: string, basePath: string, sizeGb?: number): Promise<void>;
  /**
   * An independent qcow2 copy of `source` (backing chain flattened, internal snapshots dropped),
   * grown to sizeGb when given and larger. Never overwrites.
   */
  copyImage(source: string, path: string, sizeGb?: number): Promise<void>;
}

export interface DiskImagesOptions {
  qemuImg?: string;
  timeoutMs?: number;
  /** bound on a full copy (qemu-img convert), which reads the whole image (default 30 min) */
  copyTimeoutMs?: number;
}

function checkPath(path: string): void {
  if (!isAbsolute(path) || path.includes('\0')) throw new HypervisorError('operation_failed', 'disk path must be absolute');
}
function checkSize(sizeGb: number): void {
  if (!Number.isInteger(sizeGb) || sizeGb < 1 || sizeGb > 65536) throw new HypervisorError('operation_failed', 'disk size must be an integer number of GiB');
}

/** Removes exactly this file; false when it did not exist. */
export async function unlinkIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** `qemu-img info --output=json` → DiskInfo (pure). */
export function parseImageInfo(json: string): DiskInfo {
  const j = JSON.parse(json) as {
    'virtual-size'?: number;
    'actual-size'?: number;
    format?: string;
    'backing-filename'?: string;
    'full-backing-filename'?: string;
    'backing-filename-format'?: string;
    'format-specific'?: { data?: { 'data-file'?: string } };
  };
  return {
    virtualSizeBytes: j['virtual-size'] ?? 0,
    actualSizeBytes: j['actual-size'] ?? 0,
    format: j.format ?? 'unknown',
    backingFile: j['full-backing-filename'] ?? j['backing-filename'] ?? null,
    backingFormat: j['backing-filename-format'] ?? null,
    dataFile: j['format-specific']?.data?.['data-file'] ?? null,
  };
}

export function createDiskImages(opts: DiskImagesOptions = {}): DiskImages {
  const bin = opts.qemuImg ?? 'qemu-img';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const copyTimeoutMs = opts.copyTimeoutMs ?? 30 * 60_000;
  const run = (args: string[], limitMs = timeoutMs): Promise<string> =>
    withTimeout(`qemu-img ${args[0] ?? ''}`, limitMs, (signal) =>
      new Promise<string>((resolve, reject) => {
        execFile(bin, args, { signal, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
          if (err) reject(new HypervisorError('operation_failed', `qemu-img ${args[0] ?? ''}: ${stderr.trim() || err.message}`, { cause: err }));
          else resolve(stdout);
        });
      }),
    );

  async function diskInfo(path: string): Promise<DiskInfo> {
    checkPath(path);
    // -U: read the header even while a running guest holds the image lock.
    const out = await run(['info', '-U', '--output=json', path]).catch((e: unknown) => {
      if (e instanceof HypervisorError && /No such file/i.test(e.message)) throw new HypervisorError('not_found', `disk ${path} not found`);
      throw e;
    });
    return parseImageInfo(out);
  }

  /** Claims `path` exclusively (qemu-img would silently truncate an existing file), runs make, cleans up on failure. */
  async function createExclusive(path: string, make: () => Promise<void>): Promise<void> {
    checkPath(path);
    await mkdir(dirname(path), { recursive: true, mode: 0o711 });
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.close();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new HypervisorError('invalid_state', `disk ${path} already exists`);
      throw e;
    }
    try {
      await make();
    } catch (e) {
      await unlink(path).catch(() => undefined);
      throw e;
    }
  }

  /** Grows a fresh image to sizeGb when that is more than it has (never shrinks). */
  async function growTo(path: string, sizeGb: number | undefined): Promise<void> {
    if (sizeGb === undefined) return;
    checkSize(sizeGb);
    if (sizeGb * 1024 ** 3 > (await diskInfo(path)).virtualSizeBytes) await run(['resize', '-q', '-f', 'qcow2', path, `${sizeGb}G`]);
  }

  return {
    async createDisk(path, sizeGb) {
      checkSize(sizeGb);
      await createExclusive(path, async () => {
        await run(['create', '-q', '-f', 'qcow2', path, `${sizeGb}G`]);
      });
    },
    async createOverlay(path, basePath, sizeGb) {
      checkPath(basePath);
      await createExclusive(path, async () => {
        // -u would skip opening the base; opening it proves it exists and is qcow2 now.
        await run(['create', '-q', '-f', 'qcow2', '-b', basePath, '-F', 'qcow2', path]);
        await growTo(path, sizeGb);
      });
    },
    async copyImage(source, path, sizeGb) {
      checkPath(source);
      await createExclusive(path, async () => {
        await run(['convert', '-q', '-O', 'qcow2', source, path], copyTimeoutMs);
        await growTo(path, sizeGb);
      });
    },
    async deleteDisk(path) {
      checkPath(path);
      return unlinkIfExists(path);
    },
    async resizeDisk(path, sizeGb) {
      checkPath(path);
      checkSize(sizeGb);
      const info = await diskInfo(path);
      const bytes = sizeGb * 1024 ** 3;
      if (bytes < info.virtualSizeBytes) throw new HypervisorError('invalid_state', 'disks can only grow');
      if (bytes === info.virtualSizeBytes) return;
      await run(['resize', '-q', '-f', 'qcow2', path, `${sizeGb}G`]);
    },
    diskInfo,
  };
}
