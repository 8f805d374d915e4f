// Puts an archive's database into a *new* place (a staging PGlite directory or a new database on
// the PostgreSQL server), never into the live one, and adapts it to where it is restored.
import { spawn } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Manifest } from './manifest.js';
import { createDatabase, dropDatabase, pgRestore, pgTarget } from './pg-tools.js';
import { readEntry, readEntryBuffer, type TarEntry } from './tar.js';
import { mapDiskPath } from './vm-source.js';

type Exec = (text: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/**
 * After the copy: VM disk paths follow the target data dir, and a backup that was running when
 * the dump was taken (the dump includes its own 'running' row) is marked interrupted.
 */
async function adapt(exec: Exec, manifest: Manifest, targetDataDir: string): Promise<void> {
  const present = await exec("select to_regclass('public.vms') is not null as v, to_regclass('public.backups') is not null as b");
  const row = present.rows[0] ?? {};
  if (row.v === true) {
    for (const vm of manifest.vms) {
      const disk = vm.disks[0];
      if (!disk) continue;
      await exec('update vms set disk_path = $1 where uuid = $2', [mapDiskPath(disk.original_path, manifest.data_dir, targetDataDir), vm.uuid]);
    }
  }
  if (row.b === true) await exec("update backups set status = 'interrupted', error = 'the instance was restored while this backup ran' where status = 'running'");
}

/** Writes an entry's content to a new file (fsynced); returns the SHA-256 of what was written. */
export async function extractToFile(archive: string, entry: TarEntry, target: string): Promise<string> {
  const fh = await open(target, 'wx', 0o600);
  try {
    const sha256 = await readEntry(archive, entry, undefined, { fh, offset: 0 });
    await fh.sync();
    return sha256;
  } finally {
    await fh.close();
  }
}

/**
 * Unpacks a PGlite data-dir dump (a tar of the data dir, gzipped) into `dir` with the system tar,
 * in its own process. Why not PGlite's `loadDataDir`: that writes every file through the WASM
 * filesystem on this thread — ~1 s longer for a fresh instance's 40 MiB, during which this thread
 * hands no chunks to the disk workers staging beside it. The dump's members are the data dir's
 * files under a leading "/" (tar strips it, and refuses ".." members); the entry was checked
 * against the manifest before restore stages anything. Returns false when tar cannot be run.
 */
async function untarDump(archive: string, entry: TarEntry, dir: string): Promise<boolean> {
  const head = await readEntryBuffer(archive, { ...entry, size: Math.min(2, entry.size) });
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  const child = spawn('tar', [gzipped ? '-xzf' : '-xf', '-', '-C', dir, '--no-same-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | 'missing'>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve('missing') : reject(err)));
    child.on('close', (code) => resolve(code ?? -1));
  });
  // stdin closes early when tar fails or is missing: that is reported by the exit, not as EPIPE
  child.stdin.on('error', () => undefined);
  try {
    // the chunk buffer is reused after the sink returns: hand the pipe a copy, one chunk at a time
    // (the callback also comes, with an error, once tar has gone away)
    const feed = (c: Buffer): Promise<void> => new Promise<void>((resolve) => child.stdin.write(Buffer.from(c), () => resolve()));
    await readEntry(archive, entry, feed);
  } finally {
    child.stdin.end();
  }
  const code = await exited;
  if (code === 'missing') return false;
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !/Removing leading/.test(l));
  if (code !== 0) throw new Error(`unpacking the database dump failed (tar exited ${code}): ${lines.join('; ').slice(0, 500)}`);
  return true;
}

/** Loads a PGlite data-dir dump into `dir` (which must not exist yet). */
export async function stagePglite(archive: string, entry: TarEntry, dir: string, manifest: Manifest, targetDataDir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  let db;
  if (await untarDump(archive, entry, dir)) {
    db = await PGlite.create(dir);
  } else {
    // no tar on this machine: PGlite unpacks it itself (slower, same result)
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    db = await PGlite.create(dir, { loadDataDir: new Blob([new Uint8Array(await readEntryBuffer(archive, entry, Number.MAX_SAFE_INTEGER))]) });
  }
  try {
    await adapt((t, p) => db.query<Record<string, unknown>>(t, p), manifest, targetDataDir);
  } finally {
    await db.close();
  }
}

/**
 * Restores a pg_dump into a new database `name` on the server of `serverUrl`; returns its URL.
 * On failure the new database is dropped again.
 */
export async function stagePostgres(archive: string, entry: TarEntry, serverUrl: string, name: string, workDir: string, manifest: Manifest, targetDataDir: string): Promise<string> {
  const dumpFile = join(workDir, 'limen.pgdump');
  await rm(dumpFile, { force: true });
  await extractToFile(archive, entry, dumpFile);
  const url = await createDatabase(serverUrl, name);
  try {
    await pgRestore(url, dumpFile);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await adapt((t, p) => c.query(t, p), manifest, targetDataDir);
    } finally {
      await c.end();
    }
    return url;
  } catch (err) {
    await dropDatabase(serverUrl, name).catch(() => undefined);
    throw err;
  } finally {
    await rm(dumpFile, { force: true });
  }
}

export const databaseNameOf = (url: string): string => pgTarget(url).database;
