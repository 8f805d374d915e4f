// Backups as the product sees them: make one (recorded in `backups`, progress included), list,
// verify, prune. Used in-process by the server (admin and operator API) and by the CLI when no
// server holds the data dir.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import type { Database } from '../../platform/db/db.js';
import type { HypervisorDriver } from '../../hypervisor/index.js';
import { createArchive, type CreatedArchive } from './archive.js';
import * as repo from './backups.repo.js';
import type { BackupOrigin, BackupRow } from './backups.repo.js';
import { configSource, databaseSource, isoSource, secretsSource } from './sources.js';
import type { BackupProgress } from './source.js';
import { backupLockKey, recoverInterruptedBackups, resumePausedVms, type BackupLocks, type PausedByBackup } from './interrupted.js';
import { verifyArchive, type VerifyResult } from './verify.js';
import { vmSource } from './vm-source.js';
import { templateBaseSource } from './template-bases.js';

export interface BackupServiceDeps {
  config: Config;
  database: Database;
  /** The default host's driver, when one is connected (VM domains, consistent copies of running VMs). */
  driver: () => HypervisorDriver | undefined;
  /** Each VM's own host's driver when several hosts exist (the server); the CLI uses `driver`. */
  driverFor?: (host: string) => HypervisorDriver | undefined;
  log?: { info(o: object, m?: string): void; error(o: object, m?: string): void };
  /** Admin-only live events (the /ws/events hub): backup.progress / backup.completed / backup.failed. */
  events?: { publishAdmin(type: string, payload: object): void };
  /** The server's cluster session: a running backup holds a lock so no other instance takes it for dead. */
  locks?: BackupLocks;
}

export interface BackupRequest {
  origin: BackupOrigin;
  requestedBy: string | null;
  withIsos?: boolean;
  /** default $LIMEN_DATA_DIR/backups */
  outDir?: string;
  /** seal the data dir's secrets/ into the archive with this passphrase (`--with-secrets`) */
  secretsPassphrase?: string;
  /** keep only the newest N completed archives (older files are deleted) */
  keep?: number;
  onProgress?: (p: BackupProgress) => void;
}

export interface BackupOutcome {
  row: BackupRow;
  archive: CreatedArchive;
  pruned: string[];
}

export const defaultBackupDir = (config: Config): string => join(config.dataDir, 'backups');

export function createBackupService(deps: BackupServiceDeps) {
  const { config, database } = deps;
  const db = database.db;
  const recoveryLog = { info: (o: object, m?: string) => deps.log?.info(o, m), warn: (o: object, m?: string) => deps.log?.error(o, m) };

  async function run(req: BackupRequest, row: BackupRow): Promise<BackupOutcome> {
    const locked = (await deps.locks?.tryLock(backupLockKey(row.id))) ?? false;
    try {
      return await runLocked(req, row);
    } finally {
      if (locked) await deps.locks!.unlock(backupLockKey(row.id)).catch(() => undefined);
    }
  }

  async function runLocked(req: BackupRequest, row: BackupRow): Promise<BackupOutcome> {
    const started = Date.now();
    let lastWrite = 0;
    let lastEvent = 0;
    const publish = (type: string, backup: Record<string, unknown>): void => {
      try {
        deps.events?.publishAdmin(type, { backup: { id: row.id, origin: row.origin, ...backup } });
      } catch {
        // a broken socket must not fail the backup
      }
    };
    try {
      const archive = await createArchive({
        outDir: req.outDir ?? defaultBackupDir(config),
        dataDir: config.dataDir,
        version: config.version,
        commit: config.commit,
        withIsos: req.withIsos ?? false,
        onStart: ({ partial, workDir }) => repo.setRecovery(db, row.id, { partial, work_dir: workDir }),
        sources: [databaseSource(database), vmSource({ db, driver: deps.driver(), driverFor: deps.driverFor, onPause: (vm) => repo.setRecovery(db, row.id, { paused_vm: vm?.uuid ?? null, paused_host: vm?.host ?? null }) }), templateBaseSource(db), isoSource(config.isoDir, req.withIsos ?? false), configSource(config), ...(req.secretsPassphrase !== undefined ? [secretsSource(config.dataDir, req.secretsPassphrase)] : [])],
        onProgress: (p) => {
          req.onProgress?.(p);
          // Pushed to admins at most twice a second (a websocket line, not a flood), every step change included.
          if (Date.now() - lastEvent > 500 || p.step === 'done') {
            lastEvent = Date.now();
            publish('backup.progress', { step: p.step, bytes: p.bytes, elapsed_ms: Date.now() - started });
          }
          // Progress is persisted (for GET /api/admin/backups) at most once a second.
          if (Date.now() - lastWrite > 1000) {
            lastWrite = Date.now();
            void repo.setProgress(db, row.id, { step: p.step, bytes: p.bytes }).catch(() => undefined);
          }
        },
      });
      await repo.completeBackup(db, row.id, { filePath: archive.file, size: archive.size, vmCount: archive.manifest.vms.length, durationMs: archive.durationMs });
      const pruned = req.keep !== undefined ? await prune(req.keep) : [];
      publish('backup.completed', { file: archive.file, size_bytes: archive.size, vm_count: archive.manifest.vms.length, duration_ms: archive.durationMs });
      deps.log?.info({ backup: row.id, file: archive.file, bytes: archive.size, ms: archive.durationMs }, 'backup completed');
      return { row: (await repo.getBackup(db, row.id))!, archive, pruned };
    } catch (err) {
      await repo.failBackup(db, row.id, (err as Error).message, Date.now() - started).catch(() => undefined);
      publish('backup.failed', { error: (err as Error).message });
      deps.log?.error({ backup: row.id, err: (err as Error).message }, 'backup failed');
      throw err;
    }
  }

  async function prune(keep: number): Promise<string[]> {
    const old = await repo.completedBeyond(db, keep);
    for (const o of old) {
      await rm(o.file_path, { force: true });
      await repo.markPruned(db, o.id);
    }
    return old.map((o) => o.file_path);
  }

  return {
    /** Makes a backup and waits for it. */
    async create(req: BackupRequest): Promise<BackupOutcome> {
      const row = await repo.insertBackup(db, { origin: req.origin, requestedBy: req.requestedBy, withIsos: req.withIsos ?? false });
      return run(req, row);
    },
    /** Starts a backup in the background; returns its row at once (status 'running'). */
    async start(req: BackupRequest): Promise<BackupRow> {
      const row = await repo.insertBackup(db, { origin: req.origin, requestedBy: req.requestedBy, withIsos: req.withIsos ?? false });
      run(req, row).catch(() => undefined); // recorded as failed in the row
      return row;
    },
    get: (id: string) => repo.getBackup(db, id),
    list: (limit: number, offset: number) => repo.listBackups(db, limit, offset),
    async verify(file: string): Promise<VerifyResult> {
      const r = await verifyArchive(file);
      await repo.recordVerification(db, file, r.ok).catch(() => undefined);
      return r;
    },
    /** At start: rows a dead process left running are interrupted, their files removed; returns the VMs they had paused. */
    recoverInterrupted: () => recoverInterruptedBackups(db, recoveryLog, deps.locks),
    /** Resumes the VMs an interrupted backup had paused, each on its own host (once the hosts are known). */
    resumePaused: (paused: PausedByBackup[]) => resumePausedVms(paused, (vm) => (vm.host !== null ? deps.driverFor?.(vm.host) : undefined) ?? deps.driver(), recoveryLog),
    prune,
  };
}

export type BackupService = ReturnType<typeof createBackupService>;

export function toApiBackup(r: BackupRow) {
  const iso = (v: string | Date | null): string | null => (v === null ? null : new Date(v).toISOString());
  return {
    id: r.id,
    status: r.status,
    file: r.file_path,
    size_bytes: r.size_bytes === null ? null : Number(r.size_bytes),
    origin: r.origin,
    requested_by: r.requested_by,
    with_isos: r.with_isos,
    vm_count: r.vm_count,
    progress: r.progress,
    error: r.error,
    created_at: iso(r.started_at)!,
    completed_at: iso(r.completed_at),
    duration_ms: r.duration_ms,
    verified_at: iso(r.verified_at),
    verified: r.verified_ok,
  };
}
