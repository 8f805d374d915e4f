// Restore: verify → stage everything next to the live data → switch over → clean up.
//
// Never half-restores: nothing live is touched until the whole archive is verified and staged
// (database loaded into a new PGlite dir / a new PostgreSQL database, disks extracted). The
// switch-over is a short series of renames on one filesystem plus one transactional database
// rename; if any of it fails, the renames done so far are undone in reverse order and the staged
// database is dropped, leaving the live data exactly as it was.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import type { Manifest } from './manifest.js';
import { dropDatabase, swapDatabases, withDatabase } from './pg-tools.js';
import { databaseNameOf, stagePglite, stagePostgres } from './stage-db.js';
import { checkEntryContent } from './entry-content.js';
import { ArchiveDamagedError, requireValidArchive } from './verify.js';
import { mapDiskPath } from './vm-source.js';
import { rebaseOverlays, stageTemplateBases, TEMPLATES_DIR } from './template-bases.js';
import type { DomainRestorer } from './domains.js';
import { RestoreRefusedError } from './restore-errors.js';
import { readEntryBuffer } from './tar.js';
import { openSecrets, SECRETS_ENTRY, SecretsPassphraseError, writeSecretsDir } from './secrets-box.js';

export interface RestoreOptions {
  file: string;
  /** target LIMEN_DATA_DIR */
  dataDir: string;
  /** target database: undefined → embedded PGlite in dataDir/db */
  databaseUrl: string | undefined;
  /** libvirt side: define the backed-up domains that do not exist (omitted: database and files only) */
  domains?: DomainRestorer;
  /** restore the archive's sealed secrets with this passphrase; undefined → keep the target's own */
  secretsPassphrase?: string;
  /** called before each step; a throw aborts the restore (tests inject faults here) */
  onStep?: (step: string) => void | Promise<void>;
}

export interface RestoreResult {
  manifest: Manifest;
  durationMs: number;
  verifyMs: number;
  stageMs: number;
  domains: { defined: string[]; existing: string[]; failed: { uuid: string; error: string }[] };
  /** restored: the archive's secrets replaced secrets/; kept: the target kept its own (in-archive tells whether it had any) */
  secrets: { action: 'restored' | 'kept'; inArchive: boolean };
}

export { RestoreRefusedError };

interface Move {
  from: string;
  to: string;
}

export async function restoreArchive(opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const step = async (s: string): Promise<void> => opts.onStep?.(s);
  await step('verify');
  // Everything but the bulk (VM disks, ISOs) is hashed now; the bulk is hashed while it is staged
  // below (chunk by chunk, stopping at the first damaged one) and compared before the switch-over,
  // so restore reads each disk once instead of twice.
  const bulk = (path: string): boolean => /^vms\/[^/]+\/disks\//.test(path) || (path.startsWith('isos/') && path !== 'isos/list.json');
  const { manifest, entries } = await requireValidArchive(opts.file, { deferContent: bulk });
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const extractChecked = async (path: string, target: string): Promise<void> => {
    const problem = await checkEntryContent(opts.file, byPath.get(path)!, listed.get(path)!, target);
    if (problem) throw new ArchiveDamagedError(opts.file, [problem]);
  };
  const verifyMs = Date.now() - started;
  const targetKind = opts.databaseUrl ? 'postgres' : 'pglite';
  if (manifest.database.kind !== targetKind) {
    throw new RestoreRefusedError(`the archive holds a ${manifest.database.kind} database but the target is ${targetKind}; restore it into a ${manifest.database.kind} installation`);
  }
  // Sealed secrets are opened before anything is written: a wrong passphrase refuses here.
  const sealedEntry = entries.find((e) => e.path === SECRETS_ENTRY);
  let secrets: Record<string, Buffer> | undefined;
  if (opts.secretsPassphrase !== undefined) {
    if (!sealedEntry) throw new RestoreRefusedError('a secrets passphrase was given but this archive holds no secrets (it was made without --with-secrets)');
    try {
      secrets = await openSecrets(await readEntryBuffer(opts.file, sealedEntry), opts.secretsPassphrase);
    } catch (err) {
      if (err instanceof SecretsPassphraseError) throw new RestoreRefusedError(err.message);
      throw err;
    }
  }
  await step('precheck');
  if (opts.domains) await opts.domains.precheck(manifest.vms.map((v) => v.uuid));

  await mkdir(opts.dataDir, { recursive: true });
  const stage = join(opts.dataDir, `.restore-${randomBytes(4).toString('hex')}`);
  const fresh = join(stage, 'new');
  const old = join(stage, 'old');
  const byPath = new Map(entries.map((e) => [e.path, e]));
  let stagedDb: { server: string; name: string; live: string } | undefined;
  const moves: Move[] = [];
  let committed = false;
  try {
    // 1. Stage: nothing live is touched.
    await mkdir(join(fresh, 'disks'), { recursive: true });
    await mkdir(old, { recursive: true });
    // Files and database are staged at the same time: the disks keep every core busy reading and
    // hashing while the database loads on this thread. Both settle before anything is decided, so
    // a failure in one never leaves the other running while the staging is removed.
    const stageFiles = async (): Promise<void> => {
      await step('stage:disks');
      const stagedDisks: string[] = [];
      for (const vm of manifest.vms) {
        for (const d of vm.disks) {
          const target = mapDiskPath(d.original_path, manifest.data_dir, opts.dataDir);
          const staged = join(fresh, relative(opts.dataDir, target));
          await mkdir(dirname(staged), { recursive: true });
          await extractChecked(d.path, staged);
          stagedDisks.push(staged);
        }
      }
      // template bases once each; linked clones re-pointed at the restored bases
      if (manifest.templates) await stageTemplateBases(manifest, join(fresh, TEMPLATES_DIR), extractChecked);
      await rebaseOverlays(manifest, opts.dataDir, stagedDisks);
      if (manifest.options.with_isos) {
        await mkdir(join(fresh, 'isos'), { recursive: true });
        for (const iso of manifest.isos) await extractChecked(`isos/${iso.name}`, join(fresh, 'isos', iso.name));
      }
      if (secrets) await writeSecretsDir(join(fresh, 'secrets'), secrets);
    };
    const stageDatabase = async (): Promise<void> => {
      await step('stage:database');
      const dbEntry = byPath.get(manifest.database.file)!;
      if (opts.databaseUrl) {
        const live = databaseNameOf(opts.databaseUrl);
        const name = `${live}_restore_${randomBytes(4).toString('hex')}`.slice(0, 63);
        stagedDb = { server: opts.databaseUrl, name, live };
        await stagePostgres(opts.file, dbEntry, opts.databaseUrl, name, stage, manifest, opts.dataDir);
      } else {
        await stagePglite(opts.file, dbEntry, join(fresh, 'db'), manifest, opts.dataDir);
      }
    };
    const staged = await Promise.allSettled([stageFiles(), stageDatabase()]);
    for (const r of staged) if (r.status === 'rejected') throw r.reason;
    const stageMs = Date.now() - started - verifyMs;
    await step('staged');

    // 2. Switch over: renames within the data dir's filesystem, each undone on failure.
    const dirs = ['disks', ...(manifest.templates ? [TEMPLATES_DIR] : []), ...(opts.databaseUrl ? [] : ['db']), ...(manifest.options.with_isos ? ['isos'] : []), ...(secrets ? ['secrets'] : [])];
    for (const d of dirs) {
      await step(`swap:${d}`);
      const liveDir = join(opts.dataDir, d);
      if (existsSync(liveDir)) {
        await rename(liveDir, join(old, d));
        moves.push({ from: liveDir, to: join(old, d) });
      }
      await rename(join(fresh, d), liveDir);
      moves.push({ from: join(fresh, d), to: liveDir });
    }
    if (stagedDb) {
      await step('swap:database');
      // The last switch-over action, and atomic: after it the restore is committed.
      if (await databaseExists(stagedDb.server, stagedDb.live)) {
        const retired = `${stagedDb.live}_pre_restore_${randomBytes(3).toString('hex')}`.slice(0, 63);
        await swapDatabases(stagedDb.server, stagedDb.live, stagedDb.name, retired);
        stagedDb = { ...stagedDb, name: retired }; // left to drop: the previous live database
      } else {
        await renameDatabase(stagedDb.server, stagedDb.name, stagedDb.live);
        stagedDb = undefined;
      }
    }
    committed = true;

    // 3. Domains (after the switch: they point at the restored disks). Failures are reported, not undone.
    const readXml = async (uuid: string): Promise<string | undefined> => {
      const e = byPath.get(`vms/${uuid}/domain.xml`);
      return e ? (await readEntryBuffer(opts.file, e)).toString('utf8') : undefined;
    };
    const domains = opts.domains ? await opts.domains.defineMissing(manifest, opts.dataDir, readXml) : { defined: [], existing: [], failed: [] };
    return { manifest, durationMs: Date.now() - started, verifyMs, stageMs, domains, secrets: { action: secrets ? 'restored' : 'kept', inArchive: sealedEntry !== undefined } };
  } catch (err) {
    if (!committed) for (const m of moves.reverse()) await rename(m.to, m.from).catch(() => undefined);
    throw err;
  } finally {
    // Not committed: the staged database; committed: the retired previous one.
    if (stagedDb) await dropDatabase(stagedDb.server, stagedDb.name).catch(() => undefined);
    await rm(stage, { recursive: true, force: true });
  }
}

async function onServer<T>(serverUrl: string, fn: (c: import('pg').Client) => Promise<T>): Promise<T> {
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const databaseExists = (serverUrl: string, name: string): Promise<boolean> =>
  onServer(serverUrl, async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);

const renameDatabase = (serverUrl: string, from: string, to: string): Promise<void> =>
  onServer(serverUrl, async (c) => void (await c.query(`alter database "${from.replace(/"/g, '""')}" rename to "${to.replace(/"/g, '""')}"`)));
