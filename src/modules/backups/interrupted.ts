// Undoing what a backup left behind when its process died mid-way (SIGKILL, OOM, power loss):
// the row is marked interrupted, its partial archive and work dir are removed (so only whole
// archives ever sit in the backup dir), and the VM it had paused for a consistent disk copy is
// resumed — otherwise that guest would stay frozen until someone noticed.
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import type { HypervisorDriver } from '../../hypervisor/index.js';
import type { Queryable } from '../../platform/db/query.js';
import { markInterrupted, runningBackupIds } from './backups.repo.js';

/** The advisory lock a backup holds while it runs (several instances share one database). */
export const backupLockKey = (id: string): string => `backup:${id}`;

export interface BackupLocks {
  tryLock(key: string): Promise<boolean>;
  unlock(key: string): Promise<void>;
}

interface Log {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

/** Only the names createArchive gives its scratch files: a damaged row cannot point rm elsewhere. */
const isScratchName = (p: string): boolean => /^\.limen-[^/]+\.partial$/.test(basename(p)) || /^\.work-limen-[^/]+$/.test(basename(p));

/** A guest a dead backup had paused, and the host it runs on (null: recorded before hosts existed). */
export interface PausedByBackup {
  uuid: string;
  host: string | null;
}

async function resumePaused(driver: HypervisorDriver, uuid: string, log: Log): Promise<void> {
  try {
    if ((await driver.getState(uuid)) !== 'paused') return;
    await driver.resume(uuid);
    log.info({ vm: uuid }, 'resumed a VM paused by a backup that was interrupted');
  } catch (err) {
    log.warn({ err, vm: uuid }, 'could not resume a VM paused by an interrupted backup');
  }
}

/**
 * Marks the backups a dead process left running as interrupted and removes their partial files;
 * returns the guests they had paused (resumed by resumePausedVms once the hosts are known).
 * With `locks` (a server's cluster session) only backups whose lock is free are taken for dead —
 * another live instance's backup holds its lock; without (the CLI) every running row is.
 */
export async function recoverInterruptedBackups(db: Queryable, log: Log, locks?: BackupLocks): Promise<PausedByBackup[]> {
  let left;
  if (!locks) left = await markInterrupted(db);
  else {
    const dead: string[] = [];
    for (const id of await runningBackupIds(db)) {
      if (!(await locks.tryLock(backupLockKey(id)))) continue;
      dead.push(id);
      await locks.unlock(backupLockKey(id));
    }
    left = await markInterrupted(db, dead);
  }
  const paused: PausedByBackup[] = [];
  for (const r of left) {
    for (const p of [r.partial, r.work_dir]) {
      if (p && isScratchName(p)) await rm(p, { recursive: true, force: true }).catch((err: unknown) => log.warn({ err, path: p }, 'cannot remove what an interrupted backup left'));
    }
    if (r.paused_vm) paused.push({ uuid: r.paused_vm, host: r.paused_host ?? null });
  }
  return paused;
}

/** Resumes each guest on its own host's driver: now, or as soon as that host's libvirt answers. */
export async function resumePausedVms(paused: PausedByBackup[], driverOf: (vm: PausedByBackup) => HypervisorDriver | undefined, log: Log): Promise<void> {
  for (const vm of paused) {
    const driver = driverOf(vm);
    if (!driver) {
      log.warn({ vm: vm.uuid, host: vm.host }, 'a VM paused by an interrupted backup is on a host this instance does not know; resume it by hand');
      continue;
    }
    if (driver.status() === 'connected') await resumePaused(driver, vm.uuid, log);
    else {
      const off = driver.onConnectionChange((s) => {
        if (s !== 'connected') return;
        off();
        void resumePaused(driver, vm.uuid, log);
      });
    }
  }
}
