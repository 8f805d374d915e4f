// Disks between hypervisor hosts, through libvirt's storage API (a dir pool over LIMEN's disk
// directory on each host, created on demand):
//
// - whether two hosts SHARE that directory is decided by evidence, at every migration: a probe
//   volume with a random name is created through the source's pool and looked up through the
//   target's pool at the same path (then removed). Found = the same files (NFS, CephFS, or the
//   same machine); not found = separate disks, which must be copied. No configuration to get wrong.
// - a copy streams `vol-download` on the source into `vol-upload` on the target (both virsh
//   children, through this process, which hashes the bytes on the way), into an EMPTY raw volume
//   created first (libvirt's upload does not truncate, so a pre-sized file would keep trailing
//   bytes; the pool probes the format back from the content). It is verified before anyone relies
//   on it: format, virtual size and file size as the target's libvirt reports them, and the
//   SHA-256 of the target's bytes read back through its pool equal to the source's. Any failure
//   removes the partial target volume.
import { randomBytes, createHash } from 'node:crypto';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { HypervisorDriver, VolumeInfo } from '../../hypervisor/index.js';
import { conflict } from '../../platform/http/app-error.js';

export interface CopyResult {
  name: string;
  bytes: number;
  sha256: string;
  ms: number;
}

/** The files of a VM in the disk directory: its disk, and its cloud-init seed ISO when it has one. */
export function volumeNamesOf(vm: { uuid: string; diskPath: string; cloudInit: unknown }): string[] {
  const names = [basename(vm.diskPath)];
  if (vm.cloudInit) names.push(`${vm.uuid}-cidata.iso`);
  return names;
}

/** true when `dst` sees the files `src` has in `dir` (a fresh probe volume, removed afterwards). */
export async function storageShared(src: HypervisorDriver, dst: HypervisorDriver, dir: string): Promise<boolean> {
  const probe = `limen-probe-${randomBytes(8).toString('hex')}.raw`;
  await src.storage.ensurePool(dir);
  await dst.storage.ensurePool(dir);
  await src.storage.createVolume(dir, probe, { format: 'raw', capacityBytes: 0 });
  try {
    return (await dst.storage.volumeInfo(dir, probe)) !== null;
  } finally {
    await src.storage.deleteVolume(dir, probe);
  }
}

function hashing(onChunk: (b: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onChunk(chunk);
      cb(null, chunk);
    },
  });
}

async function sha256Of(driver: HypervisorDriver, dir: string, name: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  const dl = driver.storage.download(dir, name);
  try {
    for await (const chunk of dl.stream as AsyncIterable<Buffer>) {
      h.update(chunk);
      bytes += chunk.length;
    }
    await dl.done;
  } catch (e) {
    dl.abort();
    throw e;
  }
  return { sha256: h.digest('hex'), bytes };
}

function describe(v: VolumeInfo): string {
  return `${v.format}, ${v.capacityBytes} bytes virtual, ${v.physicalBytes} bytes on disk`;
}

/**
 * Copies one volume of `dir` from `src` to `dst` and verifies it. The target must not have a file
 * of that name (never overwritten: 409). On any failure the partial target volume is removed.
 */
export async function copyVolume(src: HypervisorDriver, dst: HypervisorDriver, dir: string, name: string, signal?: AbortSignal): Promise<CopyResult> {
  const t0 = Date.now();
  const source = await src.storage.volumeInfo(dir, name);
  if (!source) throw new Error(`the source host has no volume ${name} in ${dir}`);
  if (await dst.storage.volumeInfo(dir, name)) throw conflict(`The target host already has a file ${name} in ${dir}; it is never overwritten`, { volume: name });
  await dst.storage.createVolume(dir, name, { format: 'raw', capacityBytes: 0 });
  const dl = src.storage.download(dir, name);
  const ul = dst.storage.upload(dir, name);
  try {
    const h = createHash('sha256');
    let bytes = 0;
    await pipeline(dl.stream, hashing((b) => {
      h.update(b);
      bytes += b.length;
    }), ul.stream, { signal });
    await Promise.all([dl.done, ul.done]);
    const sha256 = h.digest('hex');
    const copied = await dst.storage.volumeInfo(dir, name);
    if (!copied || copied.format !== source.format || copied.capacityBytes !== source.capacityBytes || copied.physicalBytes !== source.physicalBytes || bytes !== source.physicalBytes) {
      throw new Error(`the copy of ${name} does not match: source ${describe(source)}, streamed ${bytes} bytes, target ${copied ? describe(copied) : 'missing'}`);
    }
    const back = await sha256Of(dst, dir, name);
    if (back.sha256 !== sha256 || back.bytes !== bytes) throw new Error(`the copy of ${name} does not match: SHA-256 ${sha256} sent, ${back.sha256} read back from the target`);
    return { name, bytes, sha256, ms: Date.now() - t0 };
  } catch (e) {
    dl.abort();
    ul.abort();
    await dst.storage.deleteVolume(dir, name).catch(() => undefined);
    throw e;
  }
}

/** Removes these volumes of `dir` on a host; returns the names that existed. */
export async function deleteVolumes(driver: HypervisorDriver, dir: string, names: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const n of names) if (await driver.storage.deleteVolume(dir, n)) removed.push(n);
  return removed;
}

/**
 * Pre-creates, on the target of a live move without shared storage, an empty qcow2 of the same
 * virtual size for each disk QEMU mirrors (`--copy-storage-all` needs it; libvirt could pre-create
 * it from the pool too, but only when the pool exists: LIMEN makes sure of both).
 */
export async function precreateForMirror(src: HypervisorDriver, dst: HypervisorDriver, dir: string, name: string): Promise<void> {
  const source = await src.storage.volumeInfo(dir, name);
  if (!source) throw new Error(`the source host has no volume ${name} in ${dir}`);
  if (await dst.storage.volumeInfo(dir, name)) throw conflict(`The target host already has a file ${name} in ${dir}; it is never overwritten`, { volume: name });
  await dst.storage.createVolume(dir, name, { format: source.format === 'qcow2' ? 'qcow2' : 'raw', capacityBytes: source.capacityBytes });
}
