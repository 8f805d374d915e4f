// The libvirt side of a restore: a backed-up VM whose domain does not exist on the host is defined
// again from its archived XML (disk path mapped to the restored disk). A domain that exists is left
// alone when shut off (its definition names the same UUID and disk path) and refused when active:
// overwriting the disk of a running guest would corrupt it, so restore stops before touching anything.
import { HypervisorError, parseDomainXml, type BootDevice, type DomainSpec, type HypervisorDriver } from '../../hypervisor/index.js';
import type { Manifest } from './manifest.js';
import { RestoreRefusedError } from './restore-errors.js';
import { mapDiskPath } from './vm-source.js';

export interface DomainRestorer {
  /** Throws RestoreRefusedError when a backed-up VM's domain is active on this host. */
  precheck(uuids: string[]): Promise<void>;
  defineMissing(manifest: Manifest, dataDir: string, readXml: (uuid: string) => Promise<string | undefined>): Promise<{ defined: string[]; existing: string[]; failed: { uuid: string; error: string }[] }>;
}

/** Archived domain XML → the spec the hypervisor port defines domains from. */
export function specFromXml(xml: string, diskPath: string | undefined, mapPath: (p: string) => string = (p) => p): DomainSpec {
  const d = parseDomainXml(xml);
  const boot = d.bootOrder.filter((b): b is BootDevice => b === 'cdrom' || b === 'hd' || b === 'network');
  const cdrom = d.disks.find((x) => x.device === 'cdrom');
  // a second CD-ROM is a VM's cloud-init seed ISO, restored beside its disk
  const seed = d.disks.filter((x) => x.device === 'cdrom')[1]?.source ?? null;
  const iface = d.interfaces[0];
  return {
    uuid: d.uuid,
    title: d.title || undefined,
    description: d.description || undefined,
    vcpus: d.vcpus,
    maxVcpus: d.maxVcpus,
    memoryMb: Math.round(d.currentMemoryKiB / 1024),
    maxMemoryMb: Math.round(d.memoryKiB / 1024),
    accel: d.domainType === 'kvm' ? 'kvm' : 'tcg',
    machine: d.machine?.includes('q35') ? 'q35' : d.machine ? 'pc' : undefined,
    diskPath,
    isoPath: cdrom?.source ?? null,
    seedIsoPath: seed ? mapPath(seed) : null,
    bootOrder: boot.length > 0 ? boot : undefined,
    mac: iface?.mac ?? undefined,
  };
}

export function libvirtDomainRestorer(driver: HypervisorDriver): DomainRestorer {
  const stateOf = async (uuid: string): Promise<string | null> => {
    try {
      return await driver.getState(uuid);
    } catch (e) {
      if (e instanceof HypervisorError && e.kind === 'not_found') return null;
      throw e;
    }
  };
  return {
    async precheck(uuids) {
      const active: string[] = [];
      for (const u of uuids) {
        const s = await stateOf(u);
        if (s !== null && s !== 'shutoff' && s !== 'crashed') active.push(u);
      }
      if (active.length > 0) throw new RestoreRefusedError(`VMs ${active.join(', ')} are running on this host; shut them down before restoring over their disks`);
    },
    async defineMissing(manifest, dataDir, readXml) {
      const out = { defined: [] as string[], existing: [] as string[], failed: [] as { uuid: string; error: string }[] };
      for (const vm of manifest.vms) {
        try {
          if ((await stateOf(vm.uuid)) !== null) {
            out.existing.push(vm.uuid);
            continue;
          }
          const xml = await readXml(vm.uuid);
          if (!xml) {
            out.failed.push({ uuid: vm.uuid, error: 'no domain definition in the archive' });
            continue;
          }
          const disk = vm.disks[0];
          await driver.defineDomain(specFromXml(xml, disk ? mapDiskPath(disk.original_path, manifest.data_dir, dataDir) : undefined, (p) => mapDiskPath(p, manifest.data_dir, dataDir)));
          out.defined.push(vm.uuid);
        } catch (e) {
          out.failed.push({ uuid: vm.uuid, error: (e as Error).message });
        }
      }
      return out;
    },
  };
}
