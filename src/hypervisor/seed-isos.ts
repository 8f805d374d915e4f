// cloud-init NoCloud seed ISOs: an ISO 9660 image with volume id `cidata` holding `meta-data` and
// `user-data` (Rock Ridge + Joliet names, so the guest sees the exact lowercase names), written
// with genisoimage from Debian (execFile, argument arrays, a timeout). Like disk images, paths
// come from the VM module (named by VM UUID); file content is passed in, never a user's path.

import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { HypervisorError } from './errors.js';
import { withTimeout } from './timeout.js';
import { unlinkIfExists } from './disk-images.js';

export const SEED_VOLUME_ID = 'cidata';

export interface SeedIsos {
  /** Writes the seed ISO at path (replacing an earlier one atomically); mode 0644 so QEMU can read it. */
  create(path: string, files: Record<'meta-data' | 'user-data', string>): Promise<void>;
  /** Removes it; false when it did not exist. */
  remove(path: string): Promise<boolean>;
}

export function createSeedIsos(opts: { genisoimage?: string; timeoutMs?: number } = {}): SeedIsos {
  const bin = opts.genisoimage ?? 'genisoimage';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const checkPath = (p: string) => {
    if (!isAbsolute(p) || p.includes('\0')) throw new HypervisorError('operation_failed', 'seed ISO path must be absolute');
  };
  return {
    async create(path, files) {
      checkPath(path);
      const src = await mkdtemp(join(tmpdir(), 'limen-seed-'));
      const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.seed.part`);
      try {
        await writeFile(join(src, 'meta-data'), files['meta-data'], { mode: 0o600 });
        await writeFile(join(src, 'user-data'), files['user-data'], { mode: 0o600 });
        await withTimeout('genisoimage', timeoutMs, (signal) =>
          new Promise<void>((resolve, reject) => {
            execFile(
              bin,
              ['-quiet', '-output', tmp, '-volid', SEED_VOLUME_ID, '-joliet', '-rock', join(src, 'user-data'), join(src, 'meta-data')],
              { signal, killSignal: 'SIGKILL', encoding: 'utf8' },
              (err, _out, stderr) => (err ? reject(new HypervisorError('operation_failed', `genisoimage: ${stderr.trim() || err.message}`, { cause: err })) : resolve()),
            );
          }),
        );
        await chmod(tmp, 0o644);
        await rename(tmp, path);
      } finally {
        await unlink(tmp).catch(() => undefined);
        await rm(src, { recursive: true, force: true });
      }
    },
    async remove(path) {
      checkPath(path);
      return unlinkIfExists(path);
    },
  };
}
