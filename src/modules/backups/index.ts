// Backups: archive, verify, restore, drill (docs/backup.md).
export { registerBackupRoutes } from './backups.routes.js';
export { createBackupService, defaultBackupDir, toApiBackup, type BackupService, type BackupOutcome } from './backups.service.js';
export { verifyArchive, requireValidArchive, readManifest, ArchiveDamagedError, type VerifyResult } from './verify.js';
export { restoreArchive, RestoreRefusedError, type RestoreOptions, type RestoreResult } from './restore.js';
export { libvirtDomainRestorer, type DomainRestorer } from './domains.js';
export { ARCHIVE_SUFFIX, BackupWriteError } from './archive.js';
export { FORMAT_VERSION, type Manifest } from './manifest.js';
export { ensureDrillAccount, readDrillAccount, readOperatorToken, ensureOperatorToken, DRILL_USERNAME } from './local-secrets.js';
export type { BackupSource, BackupSink } from './source.js';
