// Taking a backup from the command line (limen backup create, limen drill): directly when this
// process may open the database, or through the running server when it holds the embedded one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import { openDatabase } from '../../platform/db/db.js';
import { migrate } from '../../platform/db/migrate.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../hypervisor/index.js';
import { projectRoot } from '../../config/runtime.js';
import { createBackupService } from './backups.service.js';
import { ensureDrillAccount } from './local-secrets.js';
import { backupThroughServer } from './operator-client.js';
import type { BackupProgress } from './source.js';

const MIGRATIONS_DIR = join(projectRoot, 'migrations');

/** The server holding this data dir (limen.pid written by startServer), if it is alive. */
export function serverHoldingDataDir(dataDir: string): { pid: number; url: string } | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, 'limen.pid'), 'utf8')) as { pid: number; url: string };
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

/** A connected driver for the configured host, or undefined when libvirt does not answer. */
export async function connectDriver(config: Config): Promise<HypervisorDriver | undefined> {
  const driver = createLibvirtDriver({ uri: config.libvirtUri, connectTimeoutMs: 5000 });
  try {
    await driver.connect();
    return driver;
  } catch {
    await driver.close().catch(() => undefined);
    return undefined;
  }
}

export interface LocalBackupRequest {
  outDir?: string;
  withIsos?: boolean;
  keep?: number;
  drillAccount?: boolean;
  origin: 'cli' | 'drill';
  secretsPassphrase?: string;
  onProgress?: (p: BackupProgress) => void;
}

export interface LocalBackupResult {
  file: string;
  size: number;
  via: 'server' | 'direct';
  durationMs: number;
  vmCount: number;
}

export async function takeBackup(config: Config, req: LocalBackupRequest): Promise<LocalBackupResult> {
  const started = Date.now();
  const server = config.databaseUrl ? undefined : serverHoldingDataDir(config.dataDir);
  if (server) {
    const b = await backupThroughServer(config, server.url, { withIsos: req.withIsos, outDir: req.outDir, keep: req.keep, drillAccount: req.drillAccount, origin: req.origin, secretsPassphrase: req.secretsPassphrase }, (p) =>
      req.onProgress?.({ step: typeof p.progress.step === 'string' ? p.progress.step : 'running', bytes: Number(p.progress.bytes ?? 0) }),
    );
    return { file: b.file!, size: b.size_bytes ?? 0, via: 'server', durationMs: Date.now() - started, vmCount: b.vm_count ?? 0 };
  }
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const driver = await connectDriver(config);
  try {
    await migrate(database, MIGRATIONS_DIR);
    if (req.drillAccount) await ensureDrillAccount(database.db, config.dataDir);
    const svc = createBackupService({ config, database, driver: () => driver });
    const out = await svc.create({ origin: req.origin, requestedBy: null, withIsos: req.withIsos, outDir: req.outDir, keep: req.keep, secretsPassphrase: req.secretsPassphrase, onProgress: req.onProgress });
    return { file: out.archive.file, size: out.archive.size, via: 'direct', durationMs: Date.now() - started, vmCount: out.archive.manifest.vms.length };
  } finally {
    await driver?.close().catch(() => undefined);
    await database.close();
  }
}
