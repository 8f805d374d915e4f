// HostStorage of a simulated (test:///) host: the host is this process, so its "pool" is the
// directory itself on this machine's filesystem — exactly what every other simulated host sees,
// i.e. simulated hosts always share storage. Volumes are plain files; the format is read from the
// content (qcow2 magic and virtual size from the header), like libvirt's probe.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { HypervisorError } from '../errors.js';
import type { HostStorage, VolumeInfo } from '../hypervisor.js';

const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"

async function probe(path: string, name: string): Promise<VolumeInfo | null> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) return null;
    size = s.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(32);
    const { bytesRead } = await fh.read(head, 0, 32, 0);
    if (bytesRead >= 32 && head.readUInt32BE(0) === QCOW2_MAGIC) {
      return { name, format: 'qcow2', capacityBytes: Number(head.readBigUInt64BE(24)), physicalBytes: size };
    }
    return { name, format: 'raw', capacityBytes: size, physicalBytes: size };
  } finally {
    await fh.close();
  }
}

export function createSimulatedStorage(): HostStorage {
  const file = (dir: string, name: string): string => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) throw new HypervisorError('operation_failed', `invalid volume name ${JSON.stringify(name)}`);
    return join(dir, name);
  };
  const streamDone = (s: NodeJS.EventEmitter, event: 'close' | 'finish'): Promise<void> => {
    const p = new Promise<void>((resolve, reject) => {
      s.once('error', (e: Error) => reject(new HypervisorError('operation_failed', e.message)));
      s.once(event, () => resolve());
    });
    p.catch(() => undefined);
    return p;
  };
  return {
    async ensurePool(dir) {
      await mkdir(dir, { recursive: true });
      return 'simulated';
    },
    volumeInfo: (dir, name) => probe(file(dir, name), name),
    async createVolume(dir, name, { format, capacityBytes }) {
      if (format !== 'raw' || capacityBytes !== 0) throw new HypervisorError('operation_failed', 'a simulated host creates empty raw volumes only');
      const fh = await open(file(dir, name), 'wx').catch((e: NodeJS.ErrnoException) => {
        throw new HypervisorError(e.code === 'EEXIST' ? 'invalid_state' : 'operation_failed', `volume ${name}: ${e.message}`);
      });
      await fh.close();
    },
    async deleteVolume(dir, name) {
      try {
        await unlink(file(dir, name));
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
    },
    download(dir, name) {
      const stream = createReadStream(file(dir, name));
      return { stream, done: streamDone(stream, 'close'), abort: () => stream.destroy() };
    },
    upload(dir, name) {
      const stream = createWriteStream(file(dir, name), { flags: 'r+' });
      return { stream, done: streamDone(stream, 'finish'), abort: () => stream.destroy() };
    },
  };
}
