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
}

export interface DiskImages {
  /** Creates a new qcow2 image; invalid_state when the file already exists (never overwrites). */
  createDisk(path: string, sizeGb: number): Promise<void>;
  /** Removes exactly this file; false when it did not exist. */
  deleteDisk(path: string): Promise<boolean>;
  /** Grows the image (shrinking is refused). The domain must not be running. */
  resizeDisk(path: string, sizeGb: number): Promise<void>;
  diskInfo(path: string): Promise<DiskInfo>;
}

export interface DiskImagesOptions {
  qemuImg?: string;
  timeoutMs?: number;
}

function checkPath(path: string): void {
  if (!isAbsolute(path) || path.includes('\0')) throw new HypervisorError('operation_failed', 'disk path must be absolute');
}
function checkSize(sizeGb: number): void {
  if (!Number.isInteger(sizeGb) || sizeGb < 1 || sizeGb > 65536) throw new HypervisorError('operation_failed', 'disk size must be an integer number of GiB');
}

export function createDiskImages(opts: DiskImagesOptions = {}): DiskImages {
  const bin = opts.qemuImg ?? 'qemu-img';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const run = (args: string[]): Promise<string> =>
    withTimeout(`qemu-img ${args[0] ?? ''}`, timeoutMs, (signal) =>
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
    const j = JSON.parse(out) as { 'virtual-size'?: number; 'actual-size'?: number; format?: string };
    return { virtualSizeBytes: j['virtual-size'] ?? 0, actualSizeBytes: j['actual-size'] ?? 0, format: j.format ?? 'unknown' };
  }

  return {
    async createDisk(path, sizeGb) {
      checkPath(path);
      checkSize(sizeGb);
      await mkdir(dirname(path), { recursive: true, mode: 0o711 });
      // Claim the name exclusively first: qemu-img create would silently truncate an existing file.
      try {
        const fh = await open(path, 'wx', 0o600);
        await fh.close();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new HypervisorError('invalid_state', `disk ${path} already exists`);
        throw e;
      }
      try {
        await run(['create', '-q', '-f', 'qcow2', path, `${sizeGb}G`]);
      } catch (e) {
        await unlink(path).catch(() => undefined);
        throw e;
      }
    },
    async deleteDisk(path) {
      checkPath(path);
      try {
        await unlink(path);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
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
