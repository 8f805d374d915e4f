// ExtraOps for a libvirt daemon (qemu:///system, qemu:///session, remote URIs) through virsh.
// Media changes use `change-media --live --config` on a running domain, so the guest sees them
// at once AND they persist (the earlier implementation only edited the persistent XML).

import { XMLParser } from 'fast-xml-parser';
import { HypervisorError, isHypervisorError } from '../errors.js';
import type { ChangeEffect, DomainState, DomainStats, GuestInfo, HostStorage, SnapshotInfo } from '../hypervisor.js';
import { cdromOf } from './domain-xml.js';
import { checkSnapshotName, usableAddresses, type ExtraOps } from './ops.js';
import { withTempFile, type VirshRunner } from './virsh.js';

const snapParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });

const STATE_NUM: DomainState[] = ['nostate', 'running', 'running', 'paused', 'shutdown', 'shutoff', 'crashed', 'pmsuspended'];

export function stateFromNumber(n: number): DomainState {
  return STATE_NUM[n] ?? 'nostate';
}

function snapshotState(s: string): DomainState {
  const known: DomainState[] = ['running', 'paused', 'shutoff', 'shutdown', 'crashed', 'pmsuspended'];
  if (s === 'disk-snapshot') return 'shutoff';
  return known.includes(s as DomainState) ? (s as DomainState) : 'nostate';
}

/** Parses `virsh snapshot-dumpxml` (the embedded domain is ignored). */
export function parseSnapshotXml(xml: string): SnapshotInfo {
  const root = (snapParser.parse(xml) as { domainsnapshot?: Record<string, unknown> }).domainsnapshot ?? {};
  const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
  return {
    name: str(root.name),
    description: str(root.description),
    state: snapshotState(str(root.state)),
    createdAt: new Date(Number(str(root.creationTime)) * 1000),
  };
}

/** Parses `virsh domstats --raw` key=value lines into sums. */
export function parseDomstats(out: string): Omit<DomainStats, 'at'> {
  const kv = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^\s*([\w.-]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) kv.set(m[1], m[2].trim());
  }
  const num = (k: string): number => Number(kv.get(k) ?? 0) || 0;
  const sum = (prefix: string, suffix: string): number => {
    let total = 0;
    for (const [k, v] of kv) if (k.startsWith(prefix) && k.endsWith(suffix) && /^\w+\.\d+\./.test(k)) total += Number(v) || 0;
    return total;
  };
  return {
    state: stateFromNumber(num('state.state')),
    cpuTimeNs: num('cpu.time'),
    vcpus: num('vcpu.current'),
    memoryKiB: num('balloon.current'),
    maxMemoryKiB: num('balloon.maximum'),
    blockReadBytes: sum('block.', '.rd.bytes'),
    blockWriteBytes: sum('block.', '.wr.bytes'),
    netRxBytes: sum('net.', '.rx.bytes'),
    netTxBytes: sum('net.', '.tx.bytes'),
  };
}

/** Parses `virsh domifaddr --full` tables. */
export function parseDomifaddr(out: string): GuestInfo {
  const byName = new Map<string, { name: string; mac: string | null; addresses: string[] }>();
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('Name') || /^-+$/.test(line)) continue;
    const [name, mac, , addr] = line.split(/\s+/);
    if (!name || name === 'lo') continue;
    const entry = byName.get(name) ?? { name, mac: mac && mac !== '-' ? mac : null, addresses: [] };
    if (addr && addr !== '-') entry.addresses.push(addr.replace(/\/\d+$/, ''));
    byName.set(name, entry);
  }
  return { interfaces: [...byName.values()] };
}

export function createQemuOps(virsh: VirshRunner, snapshotTimeoutMs: number, storage: HostStorage): ExtraOps {
  const dumpSnapshot = async (uuid: string, name: string): Promise<SnapshotInfo> =>
    parseSnapshotXml(await virsh.run(['snapshot-dumpxml', '--domain', uuid, '--snapshotname', name]));

  return {
    storage,
    async exportSnapshots(uuid) {
      const names = (await virsh.run(['snapshot-list', '--domain', uuid, '--name', '--topological'])).split('\n').map((x) => x.trim()).filter(Boolean);
      const items: { name: string; xml: string }[] = [];
      // --security-info: the embedded domain definition complete (VNC password etc.), as redefine needs it
      for (const name of names) items.push({ name, xml: await virsh.run(['snapshot-dumpxml', '--domain', uuid, '--snapshotname', name, '--security-info']) });
      let current: string | null = null;
      if (names.length > 0) {
        try {
          current = (await virsh.run(['snapshot-current', '--domain', uuid, '--name'])).trim() || null;
        } catch (e) {
          if (!isHypervisorError(e, 'operation_failed') && !isHypervisorError(e, 'not_found')) throw e; // none is current
        }
      }
      return { items, current };
    },
    async importSnapshots(uuid, snapshots) {
      for (const s of snapshots.items) {
        checkSnapshotName(s.name);
        const flags = s.name === snapshots.current ? ['--current'] : [];
        await withTempFile(s.xml, (file) => virsh.run(['snapshot-create', '--domain', uuid, '--xmlfile', file, '--redefine', ...flags]));
      }
    },
    async undefine(uuid) {
      // --snapshots-metadata: libvirt refuses to undefine a domain that has snapshots otherwise.
      await virsh.run(['undefine', '--domain', uuid, '--snapshots-metadata', '--nvram']);
    },
    async reboot(uuid) {
      await virsh.run(['reboot', '--domain', uuid]);
    },
    async reset(uuid) {
      await virsh.run(['reset', '--domain', uuid]);
    },
    liveMedia(_uuid, live) {
      return cdromOf(live)?.source ?? null;
    },
    async changeMedia(uuid, inactive, live, isoPath) {
      const cd = cdromOf(live ?? inactive);
      if (!cd) throw new HypervisorError('invalid_state', 'domain has no CD-ROM drive');
      const flags = live ? ['--live', '--config'] : ['--config'];
      const effect: ChangeEffect = live ? 'live' : 'config';
      if (isoPath === null) {
        if (cd.source === null && cdromOf(inactive)?.source == null) return effect;
        // --force: a guest that locked the tray (a mounted CD) would otherwise refuse the eject.
        await virsh.run(['change-media', '--domain', uuid, '--path', cd.target, '--eject', '--force', ...flags]);
        return effect;
      }
      const mode = cd.source === null ? '--insert' : '--update';
      await virsh.run(['change-media', '--domain', uuid, '--path', cd.target, '--source', isoPath, mode, '--force', ...flags]);
      return effect;
    },
    async setVcpus(uuid, inactive, active, vcpus) {
      if (active && vcpus <= inactive.maxVcpus) {
        try {
          await virsh.run(['setvcpus', '--domain', uuid, '--count', String(vcpus), '--live', '--config']);
          return 'live';
        } catch (e) {
          if (!isHypervisorError(e, 'operation_failed') && !isHypervisorError(e, 'invalid_state')) throw e;
          // hot-plug unsupported by this guest/machine: fall through to a persistent change
        }
      }
      if (vcpus > inactive.maxVcpus) await virsh.run(['setvcpus', '--domain', uuid, '--count', String(vcpus), '--maximum', '--config']);
      await virsh.run(['setvcpus', '--domain', uuid, '--count', String(vcpus), '--config']);
      return active ? 'next_boot' : 'config';
    },
    async setMemory(uuid, inactive, active, memoryMb) {
      const kib = memoryMb * 1024;
      if (active && kib <= inactive.memoryKiB) {
        try {
          await virsh.run(['setmem', '--domain', uuid, '--size', `${kib}KiB`, '--live', '--config']);
          return 'live';
        } catch (e) {
          if (!isHypervisorError(e, 'operation_failed') && !isHypervisorError(e, 'invalid_state')) throw e;
        }
      }
      if (kib > inactive.memoryKiB) await virsh.run(['setmaxmem', '--domain', uuid, '--size', `${kib}KiB`, '--config']);
      await virsh.run(['setmem', '--domain', uuid, '--size', `${kib}KiB`, '--config']);
      return active ? 'next_boot' : 'config';
    },
    async createSnapshot(uuid, name, description) {
      checkSnapshotName(name);
      // Arguments are passed as argv; virsh escapes the description into the snapshot XML itself.
      const args = ['snapshot-create-as', '--domain', uuid, '--name', name];
      if (description) args.push('--description', description);
      await virsh.run(args, { timeoutMs: snapshotTimeoutMs });
      return dumpSnapshot(uuid, name);
    },
    async listSnapshots(uuid) {
      const names = (await virsh.run(['snapshot-list', '--domain', uuid, '--name']))
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      const out: SnapshotInfo[] = [];
      for (const n of names) out.push(await dumpSnapshot(uuid, n));
      return out.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    },
    async revertSnapshot(uuid, name) {
      checkSnapshotName(name);
      await virsh.run(['snapshot-revert', '--domain', uuid, '--snapshotname', name], { timeoutMs: snapshotTimeoutMs });
    },
    async deleteSnapshot(uuid, name) {
      checkSnapshotName(name);
      await virsh.run(['snapshot-delete', '--domain', uuid, '--snapshotname', name], { timeoutMs: snapshotTimeoutMs });
    },
    async domainStats(uuid) {
      const out = await virsh.run(['domstats', '--raw', '--state', '--cpu-total', '--balloon', '--vcpu', '--interface', '--block', uuid]);
      return { ...parseDomstats(out), at: new Date() };
    },
    async guestAddresses(uuid) {
      for (const source of ['lease', 'agent'] as const) {
        try {
          const addresses = usableAddresses(parseDomifaddr(await virsh.run(['domifaddr', '--domain', uuid, '--source', source, '--full'])));
          if (addresses.length > 0) return { source, addresses };
        } catch (e) {
          // no agent, not running, no lease table: this source knows nothing; try the next
          if (!(isHypervisorError(e) && (e.kind === 'operation_failed' || e.kind === 'invalid_state'))) throw e;
        }
      }
      return null;
    },
    async diskError(uuid, disk) {
      try {
        // domblkinfo on a defined domain makes THIS host's libvirtd open the source file
        await virsh.run(['domblkinfo', '--domain', uuid, '--device', disk.target]);
        return null;
      } catch (e) {
        if (isHypervisorError(e, 'operation_failed')) return e.message.replace(/^virsh domblkinfo: /, '');
        throw e;
      }
    },
    async migrateLive(uuid, destUri, opts) {
      // Not peer-to-peer: virsh (this process's child) talks to both daemons, so any URI LIMEN
      // reaches works as a target. --unsafe: on shared storage LIMEN proved the sharing itself
      // (vm-storage-move.ts), which libvirt cannot detect on a local filesystem. --copy-storage-all:
      // the target's QEMU receives every writable disk over NBD (listening on the same address)
      // into volumes pre-created through its pool.
      const storage = opts.copyStorage ? ['--copy-storage-all'] : [];
      await virsh.run(
        ['migrate', '--live', '--persistent', '--undefinesource', '--unsafe', '--auto-converge', ...storage, '--domain', uuid, '--desturi', destUri,
          '--migrateuri', `tcp://${opts.listenAddress}`, '--listen-address', opts.listenAddress],
        { timeoutMs: opts.timeoutMs },
      );
    },
    async guestInfo(uuid) {
      try {
        return parseDomifaddr(await virsh.run(['domifaddr', '--domain', uuid, '--source', 'agent', '--full']));
      } catch (e) {
        // No agent in the guest (or the domain is not running): "unknown", not an error.
        if (isHypervisorError(e) && (e.kind === 'operation_failed' || e.kind === 'invalid_state')) return null;
        throw e;
      }
    },
  };
}
