// The restore drill (docs/backup.md): take (or take the given) backup, restore it into a scratch
// data dir and a scratch database, start a second LIMEN there with libvirt untouched
// (test:///default), and prove the copy works through its API. Never touches the live data beyond
// making sure the drill account exists. Every step is timed and recorded; the scratch instance and
// database are removed whatever happens.
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import { dropDatabase, withDatabase } from './pg-tools.js';
import { readDrillAccount } from './local-secrets.js';
import { restoreArchive } from './restore.js';
import { startScratchInstance, type ScratchInstance } from './scratch-instance.js';
import { requireValidArchive } from './verify.js';
import { databaseNameOf } from './stage-db.js';
import { checkConsole, checkDisk, checkHealth, checkLogin, checkSnapshots, checkVmList, SkipStep, type DrillContext } from './drill-checks.js';
import type { Manifest } from './manifest.js';

export type StepStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface DrillStep {
  name: string;
  status: StepStatus;
  duration_ms: number;
  evidence: Record<string, unknown>;
}

export interface DrillReport {
  ok: boolean;
  started_at: string;
  duration_ms: number;
  backup: { file: string; source: 'fresh' | 'given'; size?: number; created_at?: string; via?: string } | null;
  scratch: { data_dir: string; database: string; url?: string } | null;
  steps: DrillStep[];
}

export interface DrillOptions {
  config: Config;
  /** use this archive instead of taking a fresh backup */
  backupFile?: string;
  /** takes a fresh backup (with the drill account ensured first); returns the archive */
  takeBackup: () => Promise<{ file: string; size: number; via: string }>;
  /** parent of the scratch data dir (default: the system temp dir) */
  scratchParent?: string;
}

export async function runDrill(opts: DrillOptions): Promise<DrillReport> {
  const started = Date.now();
  const report: DrillReport = { ok: false, started_at: new Date(started).toISOString(), duration_ms: 0, backup: null, scratch: null, steps: [] };
  const step = async (name: string, fn: () => Promise<Record<string, unknown>>): Promise<boolean> => {
    const t = Date.now();
    try {
      const evidence = await fn();
      report.steps.push({ name, status: 'PASS', duration_ms: Date.now() - t, evidence });
      return true;
    } catch (err) {
      if (err instanceof SkipStep) {
        report.steps.push({ name, status: 'SKIP', duration_ms: Date.now() - t, evidence: { reason: err.reason, ...err.evidence } });
        return true;
      }
      report.steps.push({ name, status: 'FAIL', duration_ms: Date.now() - t, evidence: { error: (err as Error).message } });
      return false;
    }
  };

  let scratchDir: string | undefined;
  let scratchDb: { server: string; name: string } | undefined;
  let instance: ScratchInstance | undefined;
  let manifest: Manifest | undefined;
  const live = opts.config;
  try {
    let file = opts.backupFile;
    const ok =
      (await step('backup', async () => {
        if (file) {
          report.backup = { file, source: 'given' };
          return { file, source: 'given' };
        }
        const b = await opts.takeBackup();
        file = b.file;
        report.backup = { file: b.file, source: 'fresh', size: b.size, via: b.via };
        return { file: b.file, size_bytes: b.size, via: b.via };
      })) &&
      (await step('verify', async () => {
        const v = await requireValidArchive(file!);
        manifest = v.manifest;
        report.backup = { ...report.backup!, size: v.size, created_at: v.manifest.created_at };
        return { files: v.manifest.files.length, bytes: v.size, vms: v.manifest.vms.length, database: v.manifest.database.kind, verify_ms: v.durationMs };
      })) &&
      (await step('restore into scratch', async () => {
        scratchDir = await mkdtemp(join(opts.scratchParent ?? tmpdir(), 'limen-drill-'));
        let databaseUrl: string | undefined;
        if (live.databaseUrl) {
          const name = `${databaseNameOf(live.databaseUrl)}_drill_${randomBytes(4).toString('hex')}`.slice(0, 63);
          scratchDb = { server: live.databaseUrl, name };
          databaseUrl = withDatabase(live.databaseUrl, name);
        }
        report.scratch = { data_dir: scratchDir, database: scratchDb ? `postgres database ${scratchDb.name} (same server)` : `PGlite in ${scratchDir}/db` };
        const r = await restoreArchive({ file: file!, dataDir: scratchDir, databaseUrl });
        return { data_dir: scratchDir, database: report.scratch.database, restore_ms: r.durationMs, stage_ms: r.stageMs };
      })) &&
      (await step('start scratch instance', async () => {
        instance = await startScratchInstance({ dataDir: scratchDir!, databaseUrl: scratchDb ? withDatabase(scratchDb.server, scratchDb.name) : undefined, libvirtUri: 'test:///default' });
        report.scratch!.url = instance.url;
        return { url: instance.url, pid: instance.pid, libvirt: 'test:///default (the real host is untouched)' };
      }));
    if (ok && instance && manifest) {
      const account = readDrillAccount(live.dataDir);
      const ctx: DrillContext = { url: instance.url, manifest, archive: report.backup!.file, scratchDir: scratchDir!, token: undefined, account };
      await step('health', () => checkHealth(ctx));
      if (await step('login (drill account)', () => checkLogin(ctx))) {
        await step('VM list identical', () => checkVmList(ctx));
        await step('snapshot list identical', () => checkSnapshots(ctx));
        await step('console ticket', () => checkConsole(ctx));
      }
      await step('restored disk checksum', () => checkDisk(ctx));
    }
  } finally {
    const t = Date.now();
    const cleaned: string[] = [];
    if (instance) await instance.stop().then(() => cleaned.push(`instance pid ${instance!.pid} stopped`));
    if (scratchDb) await dropDatabase(scratchDb.server, scratchDb.name).then(() => cleaned.push(`database ${scratchDb!.name} dropped`), () => cleaned.push(`could not drop ${scratchDb!.name}`));
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true }).then(() => cleaned.push(`${scratchDir} removed`));
    report.steps.push({ name: 'cleanup', status: 'PASS', duration_ms: Date.now() - t, evidence: { done: cleaned } });
  }
  report.ok = report.steps.every((s) => s.status !== 'FAIL');
  report.duration_ms = Date.now() - started;
  return report;
}
