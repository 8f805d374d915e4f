// Writes one backup archive: sources → tar entries (hashed by chunks on the way) → manifest → rename.
// The archive appears under its final name only when complete and fsynced; on any failure
// (including a full disk) the partial file and the work dir are removed, so a listed archive is
// always a whole one.
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ARCHIVE_FORMAT, FORMAT_VERSION, MANIFEST_PATH, MANIFEST_SUM_PATH, type FileKind, type Manifest, type ManifestFile } from './manifest.js';
import { TarWriter, type WrittenEntry } from './tar.js';
import type { BackupProgress, BackupSink, BackupSource, ManifestDraft } from './source.js';

export const ARCHIVE_SUFFIX = '.limen-backup.tar';

export interface CreateArchiveOptions {
  outDir: string;
  /** the source instance's LIMEN_DATA_DIR (recorded so restore can map disk paths) */
  dataDir: string;
  sources: BackupSource[];
  version: string;
  commit: string;
  withIsos: boolean;
  withSecrets?: boolean;
  now?: () => Date;
  onProgress?: (p: BackupProgress) => void;
  /**
   * Told the partial file and work dir before either exists (awaited), so that a process killed
   * mid-backup leaves a record of what to remove (backups.recovery, undone at the next start).
   */
  onStart?: (files: { partial: string; workDir: string }) => Promise<void>;
}

export interface CreatedArchive {
  file: string;
  size: number;
  manifest: Manifest;
  durationMs: number;
}

export class BackupWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackupWriteError';
  }
}

/** A full disk says so plainly (the admin sees this text in the backup list); the rest is wrapped. */
function asBackupError(err: unknown, outDir: string, step: string): BackupWriteError {
  const code = (err as NodeJS.ErrnoException).code;
  // a child (pg_dump) reports a full disk only in its message
  if (code === 'ENOSPC' || code === 'EDQUOT' || /no space left on device/i.test((err as Error).message)) {
    return new BackupWriteError(`no space left in ${outDir} while writing the backup (step: ${step}); nothing was kept`, { cause: err });
  }
  if (err instanceof BackupWriteError) return err;
  return new BackupWriteError(`backup failed during ${step}: ${(err as Error).message}; nothing was kept`, { cause: err });
}

export function archiveName(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `limen-${stamp}-${randomBytes(3).toString('hex')}${ARCHIVE_SUFFIX}`;
}

const manifestEntry = (kind: FileKind, e: WrittenEntry): ManifestFile => ({ path: e.path, kind, size: e.size, chunk_size: e.chunk_size, chunk_sha256: e.chunk_sha256, tree_sha256: e.tree_sha256 });

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function createArchive(opts: CreateArchiveOptions): Promise<CreatedArchive> {
  const started = Date.now();
  const now = opts.now ?? (() => new Date());
  const createdAt = now();
  await mkdir(opts.outDir, { recursive: true, mode: 0o700 });
  const name = archiveName(createdAt);
  const final = join(opts.outDir, name);
  const partial = join(opts.outDir, `.${name}.partial`);
  const workDir = join(opts.outDir, `.work-${name}`);
  await opts.onStart?.({ partial, workDir });
  let fh;
  try {
    await mkdir(workDir, { mode: 0o700 });
    fh = await open(partial, 'wx', 0o600);
  } catch (err) {
    await rm(workDir, { recursive: true, force: true });
    throw asBackupError(err, opts.outDir, 'start');
  }
  const files: ManifestFile[] = [];
  const draft: ManifestDraft = { vms: [], isos: [] };
  let bytes = 0;
  let step = 'start';
  const progress = (s: string, detail?: Record<string, unknown>): void => {
    step = s;
    opts.onProgress?.({ step: s, bytes, detail });
  };
  try {
    const tar = new TarWriter(fh, Math.floor(createdAt.getTime() / 1000));
    const seen = new Set<string>();
    const record = (path: string): void => {
      if (seen.has(path)) throw new BackupWriteError(`two sources wrote ${path}`);
      seen.add(path);
    };
    const sink: BackupSink = {
      draft,
      workDir,
      progress,
      async addBuffer(path, kind, data) {
        record(path);
        const e = await tar.addBuffer(path, data);
        bytes = tar.bytesWritten;
        files.push(manifestEntry(kind, e));
      },
      async addFile(path, kind, file, size) {
        record(path);
        let last = 0;
        const e = await tar.addFile(path, file, size, () => {
          bytes = tar.bytesWritten;
          // Progress at most every 64 MiB: a TTY bar and background-job status, not a log flood.
          if (bytes - last >= 64 * 1024 * 1024) {
            last = bytes;
            opts.onProgress?.({ step, bytes, detail: { file: path } });
          }
        });
        bytes = tar.bytesWritten;
        files.push(manifestEntry(kind, e));
      },
    };
    for (const source of opts.sources) {
      progress(source.name);
      await source.write(sink);
    }
    if (!draft.database) throw new BackupWriteError('no database source wrote a dump: refusing to write an archive without the database');
    const manifest: Manifest = {
      format: ARCHIVE_FORMAT,
      format_version: FORMAT_VERSION,
      limen_version: opts.version,
      limen_commit: opts.commit,
      created_at: createdAt.toISOString(),
      data_dir: opts.dataDir,
      database: draft.database,
      vms: draft.vms,
      isos: draft.isos,
      ...(draft.templates ? { templates: draft.templates } : {}),
      options: { with_isos: opts.withIsos, with_secrets: draft.secrets !== undefined },
      ...(draft.secrets ? { secrets: draft.secrets } : {}),
      files,
    };
    const text = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
    progress('manifest');
    await tar.addBuffer(MANIFEST_PATH, text);
    await tar.addBuffer(MANIFEST_SUM_PATH, Buffer.from(`${createHash('sha256').update(text).digest('hex')}  ${MANIFEST_PATH}\n`));
    await tar.finish();
    await fh.sync();
    await fh.close();
    await rename(partial, final);
    await fsyncDir(opts.outDir);
    const size = (await stat(final)).size;
    progress('done', { file: final, size });
    return { file: final, size, manifest, durationMs: Date.now() - started };
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw asBackupError(err, opts.outDir, step);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
