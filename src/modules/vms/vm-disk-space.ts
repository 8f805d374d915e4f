// A full data dir refuses new VMs up front (503 UNAVAILABLE, nothing created) instead of
// accepting them and rolling back a moment later when qemu-img hits ENOSPC: the user gets the
// reason in the response, and no row, disk or domain appears even briefly.
import { statfs } from 'node:fs/promises';
import { AppError } from '../../platform/http/app-error.js';

/**
 * Free space below which no VM is created. A new qcow2 needs well under 1 MiB, but guests write to
 * it at once and QEMU pauses a guest whose disk hits ENOSPC: 64 MiB keeps a margin for that.
 */
export const MIN_FREE_BYTES_FOR_CREATE = 64 * 1024 * 1024;

export async function requireFreeSpace(dir: string, minBytes = MIN_FREE_BYTES_FOR_CREATE): Promise<void> {
  const s = await statfs(dir).catch(() => undefined);
  if (!s) return; // cannot tell: let the creation itself report what happens
  const free = s.bavail * s.bsize;
  if (free < minBytes) {
    throw new AppError('UNAVAILABLE', 'The data directory is full: there is no space for a new VM disk; ask an administrator to free space', {
      resource: 'disk',
      free_bytes: free,
      required_bytes: minBytes,
    });
  }
}
