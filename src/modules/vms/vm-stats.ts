// Usage figures for a VM, computed from two libvirt domain-statistics samples. Sampling happens
// only while someone looks: a GET /stats, or a websocket client watching the VM.
import { isHypervisorError, type DomainStats, type HypervisorDriver } from '../../hypervisor/index.js';
import { delay } from '../../hypervisor/index.js';
import type { VmRecord } from './vms.repo.js';

export interface VmStatsView {
  uuid: string;
  state: string;
  cpu_percent: number;
  memory: { used_mb: number; total_mb: number };
  disk: { read_bytes_per_s: number; write_bytes_per_s: number };
  net: { rx_bytes_per_s: number; tx_bytes_per_s: number };
  guest_ips: string[] | 'unknown';
  interval_s: number;
  at: string;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;
const rate = (a: number, b: number, dt: number): number => (dt > 0 ? Math.max(0, round((b - a) / dt, 0)) : 0);

/** Rates between two samples (pure). CPU % is of the VM's own vCPUs (100 = all busy). */
export function computeRates(a: DomainStats, b: DomainStats): Omit<VmStatsView, 'uuid' | 'state' | 'guest_ips'> {
  const dt = (b.at.getTime() - a.at.getTime()) / 1000;
  const cpu = dt > 0 ? ((b.cpuTimeNs - a.cpuTimeNs) / (dt * 1e9 * Math.max(1, b.vcpus))) * 100 : 0;
  return {
    cpu_percent: Math.min(100, Math.max(0, round(cpu))),
    memory: { used_mb: round(b.memoryKiB / 1024), total_mb: round(b.maxMemoryKiB / 1024) },
    disk: { read_bytes_per_s: rate(a.blockReadBytes, b.blockReadBytes, dt), write_bytes_per_s: rate(a.blockWriteBytes, b.blockWriteBytes, dt) },
    net: { rx_bytes_per_s: rate(a.netRxBytes, b.netRxBytes, dt), tx_bytes_per_s: rate(a.netTxBytes, b.netTxBytes, dt) },
    interval_s: round(dt, 2),
    at: b.at.toISOString(),
  };
}

export interface StatsSampler {
  sample(vm: VmRecord): Promise<VmStatsView>;
  /** Forgets samples of VMs nobody asked about for a while. */
  prune(keep: Set<string>): void;
}

export function createStatsSampler(driverFor: (host: string) => HypervisorDriver, opts: { firstGapMs?: number } = {}): StatsSampler {
  const last = new Map<string, DomainStats>();
  const idle = (vm: VmRecord, at: Date): VmStatsView => ({
    uuid: vm.uuid,
    state: vm.state,
    cpu_percent: 0,
    memory: { used_mb: 0, total_mb: vm.memoryMb },
    disk: { read_bytes_per_s: 0, write_bytes_per_s: 0 },
    net: { rx_bytes_per_s: 0, tx_bytes_per_s: 0 },
    guest_ips: 'unknown',
    interval_s: 0,
    at: at.toISOString(),
  });

  return {
    async sample(vm) {
      if (vm.state !== 'running' && vm.state !== 'paused') {
        last.delete(vm.uuid);
        return idle(vm, new Date());
      }
      try {
        const driver = driverFor(vm.host);
        let prev = last.get(vm.uuid);
        let cur = await driver.domainStats(vm.uuid);
        if (!prev || cur.at.getTime() - prev.at.getTime() > 120_000) {
          // no recent sample: take a second one shortly after, so the first answer has real rates
          prev = cur;
          await delay(opts.firstGapMs ?? 500);
          cur = await driver.domainStats(vm.uuid);
        }
        last.set(vm.uuid, cur);
        const guest = await driver.guestInfo(vm.uuid).catch(() => null);
        const ips = guest?.interfaces.flatMap((i) => i.addresses) ?? [];
        return { uuid: vm.uuid, state: vm.state, ...computeRates(prev, cur), guest_ips: guest && ips.length > 0 ? ips : 'unknown' };
      } catch (e) {
        if (isHypervisorError(e, 'not_found') || isHypervisorError(e, 'invalid_state')) return idle(vm, new Date());
        throw e;
      }
    },
    prune(keep) {
      for (const k of last.keys()) if (!keep.has(k)) last.delete(k);
    },
  };
}
