// VMs in a backup: for every row of `vms`, the domain definition, the disk(s), the snapshot
// metadata and the row itself.
//
// Consistency (docs/backup.md): a shut-off VM's disk is copied as it is. A running VM is paused
// for the duration of its own disk copy (libvirt suspend → QEMU stops the vCPUs, drains and flushes
// every block device, so the qcow2 file is consistent, including its metadata), then resumed in a
// `finally` — also when the copy fails. VMs are paused one at a time, so each is paused only for
// its own copy. A VM already paused by its owner stays paused.
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { Db } from '../../platform/db/db.js';
import { queryOne, queryRows } from '../../platform/db/query.js';
import { HypervisorError, parseDomainXml, type DomainState, type HypervisorDriver, type SnapshotInfo } from '../../hypervisor/index.js';
import type { ManifestVm } from './manifest.js';
import type { BackupSource } from './source.js';

export interface VmRow {
  uuid: string;
  owner_id: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  state: string;
  host: string;
  disk_path: string;
}

/** Rows of `vms` (empty when the VM module's table does not exist in this database). */
export async function listVmRows(db: Db): Promise<VmRow[]> {
  const t = await queryOne<{ present: boolean }>(db, sql`select to_regclass('public.vms') is not null as present`);
  if (!t?.present) return [];
  return queryRows<VmRow>(db, sql`select uuid::text as uuid, owner_id::text as owner_id, name, vcpus, memory_mb, disk_gb, state, host, disk_path
    from vms order by created_at, uuid`);
}

const isNotFound = (e: unknown): boolean => e instanceof HypervisorError && e.kind === 'not_found';

export interface VmSourceOptions {
  db: Db;
  /** The default host's driver; undefined → disks and rows only (domains reported missing). */
  driver: HypervisorDriver | undefined;
  /** VMs on other hosts are not reachable from here: listed, not copied. */
  hostName?: string;
  /** Each VM's own host's driver (several hosts); when given, it replaces `driver`. */
  driverFor?: (host: string) => HypervisorDriver | undefined;
  /**
   * Told which VM is about to be paused, and on which host (awaited before the pause), and null
   * once it is resumed: a backup killed meanwhile leaves a record of the guest to resume.
   */
  onPause?: (vm: { uuid: string; host: string } | null) => Promise<void>;
}

export function vmSource(opts: VmSourceOptions): BackupSource {
  return {
    name: 'vms',
    async write(sink) {
      const rows = await listVmRows(opts.db);
      for (const row of rows) {
        sink.progress('vm', { uuid: row.uuid, name: row.name });
        const dir = `vms/${row.uuid}`;
        let state: DomainState | 'missing' = 'missing';
        let xml: string | null = null;
        let snapshots: SnapshotInfo[] = [];
        const driver = opts.driverFor ? opts.driverFor(row.host) : opts.driver;
        if (driver) {
          try {
            state = await driver.getState(row.uuid);
            xml = await driver.getDomainXml(row.uuid, { inactive: true });
            snapshots = await driver.listSnapshots(row.uuid);
          } catch (err) {
            if (!isNotFound(err)) throw err;
            state = 'missing';
          }
        }
        if (state === 'missing' && !driver && ['running', 'paused', 'starting', 'stopping'].includes(row.state)) {
          // Copying a running guest's disk without pausing it gives a torn image: refuse instead.
          throw new Error(`VM ${row.name} (${row.uuid}) may be running and libvirt is not reachable: cannot take a consistent copy`);
        }
        // The row's disk plus any other file-backed disk the definition names (never CD-ROMs: ISOs are library items).
        const paths = new Set<string>([row.disk_path]);
        // …plus the VM's own cloud-init seed ISO (a CD-ROM, but generated per VM, not a library item)
        const seed = join(dirname(row.disk_path), `${row.uuid}-cidata.iso`);
        if (xml) for (const d of parseDomainXml(xml).disks) if ((d.device === 'disk' || d.source === seed) && d.source) paths.add(d.source);

        const pause = state === 'running' && driver !== undefined;
        if (pause) {
          await opts.onPause?.({ uuid: row.uuid, host: row.host });
          await driver.suspend(row.uuid);
        }
        const disks: ManifestVm['disks'] = [];
        try {
          for (const p of paths) {
            let size: number;
            try {
              size = (await stat(p)).size;
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // a VM still being created has no disk yet
              throw err;
            }
            const entry = `${dir}/disks/${basename(p)}`;
            await sink.addFile(entry, 'vm-disk', p, size);
            disks.push({ path: entry, original_path: p, size });
          }
        } finally {
          if (pause) {
            await driver.resume(row.uuid);
            await opts.onPause?.(null);
          }
        }
        if (xml) await sink.addBuffer(`${dir}/domain.xml`, 'vm-domain', Buffer.from(xml));
        await sink.addBuffer(`${dir}/snapshots.json`, 'vm-snapshots', Buffer.from(JSON.stringify(snapshots, null, 2) + '\n'));
        await sink.addBuffer(`${dir}/vm.json`, 'vm-record', Buffer.from(JSON.stringify(row, null, 2) + '\n'));
        sink.draft.vms.push({
          uuid: row.uuid,
          name: row.name,
          owner_id: row.owner_id,
          state,
          consistency: state === 'missing' ? 'domain-missing' : disks.length === 0 ? 'no-disk' : pause || state === 'paused' ? 'paused-copy' : 'shutoff-copy',
          disks,
          snapshots: snapshots.length,
        });
      }
    },
  };
}

/** Where a backed-up disk goes under another data dir (disks live in <data dir>/disks/). */
export function mapDiskPath(original: string, fromDataDir: string, toDataDir: string): string {
  const prefix = fromDataDir.endsWith('/') ? fromDataDir : `${fromDataDir}/`;
  if (original.startsWith(prefix)) return join(toDataDir, original.slice(prefix.length));
  return join(toDataDir, 'disks', basename(original));
}
