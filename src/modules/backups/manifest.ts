// manifest.json: what a backup archive holds and how to check it (docs/backup.md, "Archive format").
// The manifest is the second-to-last entry (its checksums are known only after everything else was
// written); the last entry, manifest.sha256, is the manifest's own SHA-256 so that even a harmless-
// looking edit of the manifest (a date, a size) is detected.

export const ARCHIVE_FORMAT = 'limen-backup';
export const FORMAT_VERSION = 1;
export const MANIFEST_PATH = 'manifest.json';
export const MANIFEST_SUM_PATH = 'manifest.sha256';

export type FileKind = 'database' | 'vm-domain' | 'vm-disk' | 'vm-snapshots' | 'vm-record' | 'iso-list' | 'iso' | 'config' | 'secrets' | 'template-base';

/** A template's base image, stored once however many linked clones back onto it. */
export interface ManifestTemplate {
  id: string;
  name: string;
  path: string;
  original_path: string;
  size: number;
}

export interface ManifestFile {
  path: string;
  kind: FileKind;
  size: number;
  sha256: string;
}

export interface ManifestVm {
  uuid: string;
  name: string;
  owner_id: string | null;
  /** state when the copy was taken, and how consistency was obtained */
  state: string;
  consistency: 'shutoff-copy' | 'paused-copy' | 'no-disk' | 'domain-missing';
  disks: { path: string; original_path: string; size: number }[];
  snapshots: number;
}

export interface Manifest {
  format: typeof ARCHIVE_FORMAT;
  format_version: number;
  limen_version: string;
  limen_commit: string;
  created_at: string;
  /** LIMEN_DATA_DIR of the source: restore rewrites VM disk paths from it to the target's */
  data_dir: string;
  database: { kind: 'postgres' | 'pglite'; file: string; format: 'pg_dump-custom' | 'pglite-datadir-tgz' };
  vms: ManifestVm[];
  isos: { name: string; size: number; included: boolean }[];
  /** template base images (absent in archives made before templates existed) */
  templates?: ManifestTemplate[];
  /** with_secrets: the data dir's secrets/, sealed with a passphrase (secrets-box.ts); absent in older archives */
  options: { with_isos: boolean; with_secrets?: boolean };
  /** names of the sealed secret files (never their content) */
  secrets?: { file: string; names: string[] };
  files: ManifestFile[];
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and shape-checks a manifest; refuses other formats and newer format versions. */
export function parseManifest(text: string): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new ManifestError('manifest.json is not valid JSON');
  }
  if (!isObj(m) || m.format !== ARCHIVE_FORMAT) throw new ManifestError('not a LIMEN backup (manifest format is not "limen-backup")');
  if (typeof m.format_version !== 'number' || !Number.isInteger(m.format_version)) throw new ManifestError('manifest has no format_version');
  if (m.format_version > FORMAT_VERSION) {
    throw new ManifestError(`archive format version ${m.format_version} is newer than this LIMEN understands (${FORMAT_VERSION}); upgrade LIMEN to restore it`);
  }
  if (m.format_version < 1) throw new ManifestError(`unknown archive format version ${m.format_version}`);
  if (!Array.isArray(m.files) || !m.files.every((f) => isObj(f) && typeof f.path === 'string' && typeof f.size === 'number' && typeof f.sha256 === 'string')) {
    throw new ManifestError('manifest file list is malformed');
  }
  if (!isObj(m.database) || (m.database.kind !== 'pglite' && m.database.kind !== 'postgres') || typeof m.database.file !== 'string') {
    throw new ManifestError('manifest has no database entry');
  }
  if (!Array.isArray(m.vms) || !Array.isArray(m.isos)) throw new ManifestError('manifest vm or iso list is malformed');
  return m as unknown as Manifest;
}
