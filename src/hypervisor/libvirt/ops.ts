// The operations @unraid/libvirt has no call for. Two implementations behind one internal
// interface: QemuOps (virsh against the daemon, qemu-ops.ts) and SimulatedOps (in-process
// stand-in for libvirt's test:/// driver, simulated-ops.ts).

import type { Hypervisor } from '@unraid/libvirt';
import { HypervisorError } from '../errors.js';
import type { ChangeEffect, DomainState, DomainStats, GuestAddresses, GuestInfo, HostStorage, MigrateOptions, SnapshotExport, SnapshotInfo } from '../hypervisor.js';
import type { ParsedDisk, ParsedDomain } from './domain-xml.js';

/** What the ops may use of the driver core. */
export interface OpsContext {
  call<T>(what: string, fn: (hv: Hypervisor) => Promise<T>, timeoutMs?: number): Promise<T>;
  getState(uuid: string): Promise<DomainState>;
  /** inactive (persistent) definition */
  inactiveXml(uuid: string): Promise<string>;
  /** redefines the persistent definition (a running domain keeps running) */
  redefine(xml: string): Promise<void>;
}

export interface ExtraOps {
  undefine(uuid: string): Promise<void>;
  reboot(uuid: string): Promise<void>;
  reset(uuid: string): Promise<void>;
  /** current CD-ROM source of the running domain, when the ops track it themselves */
  liveMedia(uuid: string, live: ParsedDomain): string | null;
  changeMedia(uuid: string, inactive: ParsedDomain, live: ParsedDomain | null, isoPath: string | null): Promise<ChangeEffect>;
  setVcpus(uuid: string, inactive: ParsedDomain, active: boolean, vcpus: number): Promise<ChangeEffect>;
  setMemory(uuid: string, inactive: ParsedDomain, active: boolean, memoryMb: number): Promise<ChangeEffect>;
  createSnapshot(uuid: string, name: string, description: string): Promise<SnapshotInfo>;
  listSnapshots(uuid: string): Promise<SnapshotInfo[]>;
  revertSnapshot(uuid: string, name: string): Promise<void>;
  deleteSnapshot(uuid: string, name: string): Promise<void>;
  domainStats(uuid: string): Promise<DomainStats>;
  guestInfo(uuid: string): Promise<GuestInfo | null>;
  guestAddresses(uuid: string): Promise<GuestAddresses | null>;
  /** null when this host can open the disk source, else libvirt's reason */
  diskError(uuid: string, disk: ParsedDisk & { source: string }): Promise<string | null>;
  migrateLive(uuid: string, destUri: string, opts: Required<MigrateOptions>): Promise<void>;
  exportSnapshots(uuid: string): Promise<SnapshotExport>;
  importSnapshots(uuid: string, snapshots: SnapshotExport): Promise<void>;
  storage: HostStorage;
}

/** Addresses worth showing a user: no loopback, no link-local. */
export function usableAddresses(info: GuestInfo): string[] {
  const out: string[] = [];
  for (const i of info.interfaces) {
    for (const a of i.addresses) {
      if (/^127\./.test(a) || a === '::1' || /^fe80:/i.test(a) || /^169\.254\./.test(a)) continue;
      if (!out.includes(a)) out.push(a);
    }
  }
  return out;
}

const SNAPSHOT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkSnapshotName(name: string): void {
  if (!SNAPSHOT_NAME_RE.test(name)) {
    throw new HypervisorError('operation_failed', 'snapshot name must be 1-64 of [A-Za-z0-9._-], starting with a letter or digit');
  }
}

export function isActive(s: DomainState): boolean {
  return s === 'running' || s === 'paused' || s === 'pmsuspended' || s === 'shutdown';
}
