// Puts an archive's database into a *new* place (a staging PGlite directory or a new database on
// the PostgreSQL server), never into the live one, and adapts it to where it is restored.
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Manifest } from './manifest.js';
import { createDatabase, dropDatabase, pgRestore, pgTarget } from './pg-tools.js';
import { readEntry, type TarEntry } from './tar.js';
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

/** Loads a PGlite data-dir dump into `dir` (which must not exist yet). */
export async function stagePglite(archive: string, entry: TarEntry, dir: string, manifest: Manifest, targetDataDir: string): Promise<void> {
  const parts: Buffer[] = [];
  await readEntry(archive, entry, (c) => void parts.push(Buffer.from(c)));
  await mkdir(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dir, { loadDataDir: new Blob([Buffer.concat(parts)]) });
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
