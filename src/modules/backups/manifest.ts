// manifest.json: what a backup archive holds and how to check it (docs/backup.md, "Archive format").
// The manifest is the second-to-last entry (its checksums are known only after everything else was
// written); the last entry, manifest.sha256, is the manifest's own SHA-256 so that even a harmless-
// looking edit of the manifest (a date, a size) is detected.
//
// Format 2 (current) names each file's content by chunk digests (chunked.ts): `chunk_size`, the
// SHA-256 of every chunk in `chunk_sha256`, and `tree_sha256` = SHA-256 of those digests. Format 1
// archives (one whole-file `sha256` per file) are still read, verified and restored.
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, treeDigest } from './chunked.js';

export const ARCHIVE_FORMAT = 'limen-backup';
export const FORMAT_VERSION = 2;
/** The oldest format this LIMEN still reads. */
export const OLDEST_FORMAT_VERSION = 1;
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
  /** format 1: SHA-256 of the whole content */
  sha256?: string;
  /** format 2: the content cut into pieces of this many bytes (the last one may be shorter) */
  chunk_size?: number;
  /** format 2: SHA-256 of each piece, in order (none for an empty file) */
  chunk_sha256?: string[];
  /** format 2: SHA-256 of the binary chunk digests concatenated — one value naming the content */
  tree_sha256?: string;
}

/** A format 2 file entry (what the writer produces). */
export type ChunkedFile = ManifestFile & { chunk_size: number; chunk_sha256: string[]; tree_sha256: string };

export const isChunked = (f: ManifestFile): f is ChunkedFile => Array.isArray(f.chunk_sha256);

/** The single digest that names a file's content, whatever the format ("sha256:" or "tree-sha256:"). */
export const contentDigest = (f: ManifestFile): string => (isChunked(f) ? `tree-sha256:${f.tree_sha256}` : `sha256:${f.sha256}`);

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
  if (m.format_version < OLDEST_FORMAT_VERSION) throw new ManifestError(`unknown archive format version ${m.format_version}`);
  const version = m.format_version;
  if (!Array.isArray(m.files) || !m.files.every((f) => isObj(f) && typeof f.path === 'string' && typeof f.size === 'number' && Number.isSafeInteger(f.size) && f.size >= 0)) {
    throw new ManifestError('manifest file list is malformed');
  }
  for (const f of m.files as Record<string, unknown>[]) {
    const problem = version === 1 ? checkWholeFile(f) : checkChunkedFile(f);
    if (problem) throw new ManifestError(`manifest entry ${String(f.path)}: ${problem}`);
  }
  if (!isObj(m.database) || (m.database.kind !== 'pglite' && m.database.kind !== 'postgres') || typeof m.database.file !== 'string') {
    throw new ManifestError('manifest has no database entry');
  }
  if (!Array.isArray(m.vms) || !Array.isArray(m.isos)) throw new ManifestError('manifest vm or iso list is malformed');
  return m as unknown as Manifest;
}

const HEX64 = /^[0-9a-f]{64}$/;

function checkWholeFile(f: Record<string, unknown>): string | undefined {
  return typeof f.sha256 === 'string' && HEX64.test(f.sha256) ? undefined : 'no SHA-256';
}

/** Format 2: a sane chunk size, one digest per chunk, and a tree digest that matches them. */
function checkChunkedFile(f: Record<string, unknown>): string | undefined {
  const size = f.size as number;
  const cs = f.chunk_size;
  if (typeof cs !== 'number' || !Number.isInteger(cs) || cs < MIN_CHUNK_SIZE || cs > MAX_CHUNK_SIZE) return 'bad chunk_size';
  const chunks = f.chunk_sha256;
  if (!Array.isArray(chunks) || !chunks.every((c) => typeof c === 'string' && HEX64.test(c))) return 'bad chunk_sha256 list';
  if (chunks.length !== Math.ceil(size / cs)) return `${chunks.length} chunk digests for ${size} bytes`;
  if (f.tree_sha256 !== treeDigest(chunks as string[])) return 'tree_sha256 does not match its chunk digests';
  return undefined;
}
