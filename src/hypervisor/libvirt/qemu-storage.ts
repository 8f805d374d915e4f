// HostStorage for a libvirt daemon, through virsh (@unraid/libvirt has no storage calls): one dir
// pool per directory, volumes created / inspected / deleted in it, bytes streamed with
// `virsh vol-download … /dev/stdout` and `virsh vol-upload … /dev/stdin` children (libvirt's
// stream API over the daemon's connection, so it works for remote URIs as well).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { HypervisorError, isHypervisorError, toHypervisorError } from '../errors.js';
import type { HostStorage, VolumeDownload, VolumeInfo, VolumeUpload } from '../hypervisor.js';
import { withTempFile, type VirshRunner } from './virsh.js';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, trimValues: true });
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', format: false });

/** LIMEN's name for the pool over `dir`: stable on every host, distinct per directory. */
export function poolNameFor(dir: string): string {
  return `limen-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
}

const VOLUME_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkVolumeName(name: string): void {
  // a file name in the pool's directory, never a path
  if (!VOLUME_NAME_RE.test(name)) throw new HypervisorError('operation_failed', `invalid volume name ${JSON.stringify(name)}`);
}

function checkDir(dir: string): void {
  if (!dir.startsWith('/') || dir.includes('\0')) throw new HypervisorError('operation_failed', 'pool directory must be an absolute path');
}

/** Parses `virsh vol-dumpxml`. */
export function parseVolumeXml(xml: string): VolumeInfo {
  const v = (parser.parse(xml) as { volume?: Record<string, unknown> }).volume ?? {};
  const num = (x: unknown): number => Number(typeof x === 'object' && x !== null ? (x as Record<string, unknown>)['#text'] : x) || 0;
  const target = (v.target ?? {}) as Record<string, unknown>;
  const format = target.format as Record<string, unknown> | undefined;
  return {
    name: typeof v.name === 'string' ? v.name : '',
    format: typeof format?.['@type'] === 'string' ? format['@type'] : 'raw',
    capacityBytes: num(v.capacity),
    physicalBytes: num(v.physical ?? v.allocation),
  };
}

export function volumeXml(name: string, format: 'qcow2' | 'raw', capacityBytes: number): string {
  return builder.build({
    volume: {
      '@type': 'file',
      name,
      capacity: { '@unit': 'bytes', '#text': String(capacityBytes) },
      allocation: { '@unit': 'bytes', '#text': '0' },
      target: { format: { '@type': format }, permissions: { mode: '0600' } },
    },
  });
}

export function createQemuStorage(uri: string, virsh: VirshRunner, virshPath: string): HostStorage {
  const pools = new Map<string, string>();

  async function poolOf(dir: string): Promise<string> {
    checkDir(dir);
    const known = pools.get(dir);
    if (known) return known;
    let name = poolNameFor(dir);
    try {
      await virsh.run(['pool-info', name]);
    } catch (e) {
      if (!isHypervisorError(e, 'not_found')) throw e;
      try {
        // transient: nothing accumulates in the host's configuration; made again on demand after a restart
        await virsh.run(['pool-create-as', name, 'dir', '--target', dir, '--build']);
      } catch (err) {
        const msg = err instanceof Error ? err.message : '';
        // another pool already covers this directory (an admin's, or another LIMEN's): use it
        const m = /conflict with pool: '([^']+)'/i.exec(msg);
        if (m?.[1]) name = m[1];
        else if (!isHypervisorError(err, 'invalid_state')) throw err; // invalid_state: a concurrent caller made it
      }
    }
    if (!/^State:\s+running/m.test(await virsh.run(['pool-info', name]))) {
      await virsh.run(['pool-start', name, '--build']).catch((e: unknown) => {
        if (!isHypervisorError(e, 'invalid_state')) throw e; // started meanwhile by a concurrent caller
      });
    }
    pools.set(dir, name);
    return name;
  }

  async function refreshed(dir: string): Promise<string> {
    const pool = await poolOf(dir);
    try {
      await virsh.run(['pool-refresh', pool]);
    } catch (e) {
      // undefined or stopped by someone else since we cached it: once more from scratch
      pools.delete(dir);
      if (isHypervisorError(e, 'disconnected')) throw e;
      const again = await poolOf(dir);
      await virsh.run(['pool-refresh', again]);
      return again;
    }
    return pool;
  }

  /**
   * A virsh child whose stdin or stdout is the byte stream. virsh opens /dev/stdin or /dev/stdout
   * by name, which fails on the socketpair Node gives a child ("No such device or address"): a
   * `cat` between them makes it a real pipe (bash with pipefail keeps virsh's exit status; the
   * arguments are "$@", never parsed by the shell).
   */
  function transfer(args: string[], direction: 'in' | 'out') {
    const script = direction === 'out' ? 'set -o pipefail; "$@" | cat' : 'set -o pipefail; cat | "$@"';
    const child = spawn('bash', ['-c', script, 'bash', virshPath, '-q', '-c', uri, ...args], {
      stdio: direction === 'out' ? ['ignore', 'pipe', 'pipe'] : ['pipe', 'ignore', 'pipe'],
      detached: true, // its own process group: abort() ends bash, virsh and cat together
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const done = new Promise<void>((resolve, reject) => {
      child.once('error', (e) => reject(toHypervisorError(e, `virsh ${args[0]}`)));
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(toHypervisorError(new Error(stderr.replace(/^error: /gm, '').trim() || `exited with ${code ?? signal}`), `virsh ${args[0]}`));
      });
    });
    done.catch(() => undefined); // the caller awaits it; never an unhandled rejection
    const abort = (): void => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    return { child, done, abort };
  }

  /** out: vol-download to our stdout; in: vol-upload from our stdin. The pool must be open (volumeInfo/createVolume first). */
  function stream(dir: string, name: string, direction: 'in' | 'out') {
    checkVolumeName(name);
    const pool = pools.get(dir);
    if (!pool) throw new HypervisorError('invalid_state', `${direction === 'out' ? 'download' : 'upload'}: the pool over ${dir} is not open yet`);
    return transfer(direction === 'out' ? ['vol-download', '--pool', pool, name, '/dev/stdout'] : ['vol-upload', '--pool', pool, name, '/dev/stdin'], direction);
  }

  return {
    ensurePool: (dir) => poolOf(dir),
    async volumeInfo(dir, name) {
      checkVolumeName(name);
      const pool = await refreshed(dir);
      try {
        return parseVolumeXml(await virsh.run(['vol-dumpxml', '--pool', pool, name]));
      } catch (e) {
        if (isHypervisorError(e, 'not_found')) return null;
        throw e;
      }
    },
    async createVolume(dir, name, { format, capacityBytes }) {
      checkVolumeName(name);
      const pool = await refreshed(dir);
      await withTempFile(volumeXml(name, format, capacityBytes), (file) => virsh.run(['vol-create', '--pool', pool, '--file', file], { timeoutMs: 120_000 }));
    },
    async deleteVolume(dir, name) {
      checkVolumeName(name);
      const pool = await refreshed(dir);
      try {
        await virsh.run(['vol-delete', '--pool', pool, name]);
        return true;
      } catch (e) {
        if (isHypervisorError(e, 'not_found')) return false;
        throw e;
      }
    },
    download(dir, name): VolumeDownload {
      const t = stream(dir, name, 'out');
      return { stream: t.child.stdout!, done: t.done, abort: t.abort };
    },
    upload(dir, name): VolumeUpload {
      const t = stream(dir, name, 'in');
      return { stream: t.child.stdin!, done: t.done, abort: t.abort };
    },
  };
}
