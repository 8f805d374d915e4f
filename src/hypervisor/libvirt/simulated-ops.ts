// ExtraOps for libvirt's test driver (test:///default, test:///path.xml): the FAST-TIER STAND-IN.
//
// A test:/// connection lives inside this process, so virsh in a child process cannot see its
// domains, and the test driver itself has no snapshots, stats, live media or reboot. This store
// layers those on the binding, in memory, with libvirt's semantics where they matter to callers:
// snapshots keep the persistent definition and run state and are reverted by redefining and
// starting/stopping the domain; invalid states and unknown names raise the same error kinds as
// the real driver; media/vCPU/memory changes persist through redefinition and report 'live' when
// a real QEMU would have applied them live. Nothing here touches disks or the host.

import { access, constants } from 'node:fs/promises';
import { HypervisorError } from '../errors.js';
import { usingDomain } from './domain-hold.js';
import type { ChangeEffect, DomainStats, SnapshotInfo } from '../hypervisor.js';
import { cdromOf, parseDomainXml } from './domain-xml.js';
import { checkSnapshotName, isActive, type ExtraOps, type OpsContext } from './ops.js';
import { stateFromNumber } from './qemu-ops.js';
import { setCdromSourceInXml, setMemoryInXml, setVcpusInXml } from './xml-edit.js';
import { createSimulatedStorage } from './simulated-storage.js';

interface SimSnapshot extends SnapshotInfo {
  xml: string;
}

export function createSimulatedOps(ctx: OpsContext): ExtraOps {
  const snapshots = new Map<string, SimSnapshot[]>();
  /** live CD-ROM source of running domains (the test driver cannot change a live definition) */
  const liveMedia = new Map<string, string | null>();

  const requireRunning = async (uuid: string, what: string): Promise<void> => {
    const s = await ctx.getState(uuid);
    if (s !== 'running') throw new HypervisorError('invalid_state', `${what}: domain is not running`);
  };
  const lookup = (uuid: string, name: string): SimSnapshot => {
    const s = (snapshots.get(uuid) ?? []).find((x) => x.name === name);
    if (!s) throw new HypervisorError('not_found', `snapshot not found: no domain snapshot with matching name '${name}'`);
    return s;
  };

  return {
    storage: createSimulatedStorage(),
    async exportSnapshots(uuid) {
      await ctx.getState(uuid);
      // opaque to callers; only another simulated host reads it back
      return { items: (snapshots.get(uuid) ?? []).map((s) => ({ name: s.name, xml: JSON.stringify(s) })), current: snapshots.get(uuid)?.at(-1)?.name ?? null };
    },
    async importSnapshots(uuid, exported) {
      const list = snapshots.get(uuid) ?? [];
      for (const item of exported.items) {
        checkSnapshotName(item.name);
        const s = JSON.parse(item.xml) as SimSnapshot & { createdAt: string };
        if (s.name !== item.name || typeof s.xml !== 'string') throw new HypervisorError('operation_failed', `snapshot ${item.name}: not a simulated host's definition`);
        if (list.some((x) => x.name === s.name)) throw new HypervisorError('invalid_state', `domain snapshot ${s.name} already exists`);
        list.push({ ...s, createdAt: new Date(s.createdAt) });
      }
      snapshots.set(uuid, list);
    },
    async undefine(uuid) {
      await ctx.call('undefine', (hv) => usingDomain(hv.domainLookupByUUIDString(uuid), (d) => hv.domainUndefine(d)));
      snapshots.delete(uuid);
      liveMedia.delete(uuid);
    },
    async reboot(uuid) {
      await requireRunning(uuid, 'reboot');
    },
    async reset(uuid) {
      await requireRunning(uuid, 'reset');
    },
    liveMedia(uuid, live) {
      return liveMedia.has(uuid) ? (liveMedia.get(uuid) ?? null) : (cdromOf(live)?.source ?? null);
    },
    async changeMedia(uuid, inactive, live, isoPath) {
      if (!cdromOf(inactive)) throw new HypervisorError('invalid_state', 'domain has no CD-ROM drive');
      await ctx.redefine(setCdromSourceInXml(await ctx.inactiveXml(uuid), isoPath));
      if (live) {
        liveMedia.set(uuid, isoPath);
        return 'live';
      }
      liveMedia.delete(uuid);
      return 'config';
    },
    async setVcpus(uuid, inactive, active, vcpus): Promise<ChangeEffect> {
      await ctx.redefine(setVcpusInXml(await ctx.inactiveXml(uuid), vcpus));
      if (!active) return 'config';
      return vcpus <= inactive.maxVcpus ? 'live' : 'next_boot';
    },
    async setMemory(uuid, inactive, active, memoryMb): Promise<ChangeEffect> {
      await ctx.redefine(setMemoryInXml(await ctx.inactiveXml(uuid), memoryMb));
      if (!active) return 'config';
      return memoryMb * 1024 <= inactive.memoryKiB ? 'live' : 'next_boot';
    },
    async createSnapshot(uuid, name, description) {
      checkSnapshotName(name);
      const xml = await ctx.inactiveXml(uuid);
      // Same rule as QEMU: internal snapshots need a qcow2 disk.
      if (!parseDomainXml(xml).disks.some((d) => d.device === 'disk')) {
        throw new HypervisorError('operation_failed', 'cannot snapshot a domain without a disk');
      }
      const list = snapshots.get(uuid) ?? [];
      if (list.some((s) => s.name === name)) throw new HypervisorError('invalid_state', `domain snapshot ${name} already exists`);
      const state = await ctx.getState(uuid);
      const snap: SimSnapshot = { name, description, state: isActive(state) ? state : 'shutoff', createdAt: new Date(), xml };
      list.push(snap);
      snapshots.set(uuid, list);
      const { xml: _xml, ...info } = snap;
      return info;
    },
    async listSnapshots(uuid) {
      await ctx.getState(uuid); // not_found for an unknown domain, like virsh
      return (snapshots.get(uuid) ?? []).map(({ xml: _xml, ...info }) => info);
    },
    async revertSnapshot(uuid, name) {
      checkSnapshotName(name);
      const snap = lookup(uuid, name);
      await ctx.redefine(snap.xml);
      liveMedia.delete(uuid);
      const now = await ctx.getState(uuid);
      await ctx.call('revert', (hv) => usingDomain(hv.domainLookupByUUIDString(uuid), async (d) => {
        if (snap.state === 'running' || snap.state === 'paused') {
          if (!isActive(now)) await hv.domainCreate(d);
          if (snap.state === 'paused' && now !== 'paused') await hv.domainSuspend(d);
          if (snap.state === 'running' && now === 'paused') await hv.domainResume(d);
        } else if (isActive(now)) await hv.domainDestroy(d);
      }));
    },
    async deleteSnapshot(uuid, name) {
      checkSnapshotName(name);
      lookup(uuid, name);
      snapshots.set(
        uuid,
        (snapshots.get(uuid) ?? []).filter((s) => s.name !== name),
      );
    },
    async domainStats(uuid): Promise<DomainStats> {
      const info = await ctx.call('stats', (hv) => usingDomain(hv.domainLookupByUUIDString(uuid), (d) => hv.domainGetInfo(d)));
      return {
        state: stateFromNumber(info.state),
        cpuTimeNs: info.cpuTime,
        vcpus: info.nrVirtCpu,
        memoryKiB: info.memory,
        maxMemoryKiB: info.maxMem,
        blockReadBytes: 0,
        blockWriteBytes: 0,
        netRxBytes: 0,
        netTxBytes: 0,
        at: new Date(),
      };
    },
    async guestInfo(uuid) {
      await ctx.getState(uuid);
      return null; // the test driver has no guest agent
    },
    async diskError(_uuid, disk) {
      // the simulated host is this process: it sees exactly the files this process sees
      return access(disk.source, constants.R_OK).then(
        () => null,
        (e: unknown) => `Failed to open file '${disk.source}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}`,
      );
    },
    migrateLive() {
      return Promise.reject(new HypervisorError('invalid_state', 'live migration needs QEMU on both hosts (libvirt\'s test driver cannot migrate)'));
    },
    async guestAddresses(uuid) {
      // libvirt's test driver answers domifaddr with a lease of 192.168.122.<3+n> per interface of
      // a running domain; the binding cannot call it, so the same answer is given here.
      if (!isActive(await ctx.getState(uuid))) return null;
      const n = parseDomainXml(await ctx.inactiveXml(uuid)).interfaces.length;
      return n > 0 ? { source: 'lease', addresses: Array.from({ length: n }, (_x, i) => `192.168.122.${3 + i}`) } : null;
    },
  };
}
