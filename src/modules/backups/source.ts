// The port through which content gets into a backup. The archive writer knows nothing about
// databases or VMs: each BackupSource writes its entries through a BackupSink and records what it
// wrote in the manifest draft. Adding a kind of content (e.g. console recordings) = one new source.
import type { FileKind, Manifest } from './manifest.js';

export interface BackupSink {
  /** Adds a small entry held in memory. */
  addBuffer(path: string, kind: FileKind, data: Buffer): Promise<void>;
  /** Streams `size` bytes of a file into the archive (size taken by the source at a consistent moment). */
  addFile(path: string, kind: FileKind, file: string, size: number): Promise<void>;
  /** The manifest being built: sources fill database / vms / isos. */
  draft: ManifestDraft;
  /** Scratch directory on the archive's filesystem for intermediate files (e.g. pg_dump output). */
  workDir: string;
  progress(step: string, detail?: Record<string, unknown>): void;
}

export type ManifestDraft = Pick<Manifest, 'vms' | 'isos'> & { database?: Manifest['database']; secrets?: Manifest['secrets']; templates?: Manifest['templates'] };

export interface BackupSource {
  readonly name: string;
  write(sink: BackupSink): Promise<void>;
}

export interface BackupProgress {
  step: string;
  bytes: number;
  detail?: Record<string, unknown>;
}
