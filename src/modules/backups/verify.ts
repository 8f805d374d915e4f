// Verifies an archive end to end before anyone trusts it: tar structure (headers, padding,
// trailer), manifest checksum, manifest shape and version, and the size + SHA-256 of every file
// (format 2: of every chunk, hashed on every core; format 1: of the whole file).
// Restore and the drill call this first and refuse on any problem.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { MANIFEST_PATH, MANIFEST_SUM_PATH, ManifestError, parseManifest, type Manifest } from './manifest.js';
import { checkEntryContent } from './entry-content.js';
import { listTar, readEntryBuffer, TarFormatError, type TarEntry } from './tar.js';

export interface VerifyResult {
  ok: boolean;
  file: string;
  size: number;
  problems: string[];
  manifest?: Manifest;
  entries: TarEntry[];
  durationMs: number;
}

export class ArchiveDamagedError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`backup ${file} failed verification: ${problems.join('; ')}`);
    this.name = 'ArchiveDamagedError';
  }
}

/** Reads the manifest only (no content hashing): for listings. */
export async function readManifest(file: string): Promise<{ manifest: Manifest; entries: TarEntry[] }> {
  const entries = await listTar(file);
  const m = entries.find((e) => e.path === MANIFEST_PATH);
  if (!m) throw new ManifestError('archive has no manifest.json');
  return { manifest: parseManifest((await readEntryBuffer(file, m)).toString('utf8')), entries };
}

export interface VerifyOptions {
  /**
   * Entries whose content the caller hashes itself while it reads them anyway (restore stages VM
   * disks and compares their SHA-256 before anything live is touched): their size is checked
   * here, their content is not read twice.
   */
  deferContent?: (path: string) => boolean;
}

export async function verifyArchive(file: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = Date.now();
  const problems: string[] = [];
  let size = 0;
  let entries: TarEntry[] = [];
  let manifest: Manifest | undefined;
  const done = (): VerifyResult => ({ ok: problems.length === 0, file, size, problems, manifest, entries, durationMs: Date.now() - started });
  try {
    size = (await stat(file)).size;
    entries = await listTar(file);
  } catch (err) {
    problems.push(err instanceof TarFormatError ? err.message : `cannot read archive: ${(err as Error).message}`);
    return done();
  }
  const last = entries.at(-1);
  const manifestEntry = entries.at(-2);
  if (last?.path !== MANIFEST_SUM_PATH || manifestEntry?.path !== MANIFEST_PATH) {
    problems.push('archive does not end with manifest.json + manifest.sha256 (incomplete or not a LIMEN backup)');
    return done();
  }
  const manifestBytes = await readEntryBuffer(file, manifestEntry);
  const expectedSum = (await readEntryBuffer(file, last)).toString('utf8').split(/\s+/)[0];
  if (createHash('sha256').update(manifestBytes).digest('hex') !== expectedSum) {
    problems.push('manifest.json does not match manifest.sha256 (manifest damaged)');
    return done();
  }
  try {
    manifest = parseManifest(manifestBytes.toString('utf8'));
  } catch (err) {
    problems.push((err as Error).message);
    return done();
  }
  const byPath = new Map(entries.slice(0, -2).map((e) => [e.path, e]));
  if (byPath.size !== entries.length - 2) problems.push('archive contains duplicate entries');
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const p of byPath.keys()) if (!listed.has(p)) problems.push(`${p}: in the archive but not in the manifest`);
  if (!listed.has(manifest.database.file)) problems.push(`database dump ${manifest.database.file} is not in the manifest`);
  for (const f of manifest.files) {
    const e = byPath.get(f.path);
    if (!e) {
      problems.push(`${f.path}: listed in the manifest but missing from the archive`);
      continue;
    }
    if (e.size !== f.size) {
      problems.push(`${f.path}: size ${e.size} differs from the manifest (${f.size})`);
      continue;
    }
    if (opts.deferContent?.(f.path)) continue;
    const problem = await checkEntryContent(file, e, f);
    if (problem) problems.push(problem);
  }
  return done();
}

/** verifyArchive that throws ArchiveDamagedError: for callers that must not proceed on damage. */
export async function requireValidArchive(file: string, opts: VerifyOptions = {}): Promise<VerifyResult & { manifest: Manifest }> {
  const r = await verifyArchive(file, opts);
  if (!r.ok || !r.manifest) throw new ArchiveDamagedError(file, r.problems);
  return r as VerifyResult & { manifest: Manifest };
}
