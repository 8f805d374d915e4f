// The non-VM backup sources: the database, the ISO library and the configuration.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import type { Database } from '../../platform/db/db.js';
import { maskUrl, pgDump } from './pg-tools.js';
import type { BackupSource } from './source.js';
import { SECRETS_ENTRY, sealSecrets } from './secrets-box.js';

export const PGLITE_DUMP_PATH = 'database/pglite-datadir.tar.gz';
export const PG_DUMP_PATH = 'database/limen.pgdump';

/**
 * The database, consistently: pg_dump runs in one repeatable-read snapshot; PGlite's dumpDataDir
 * runs inside the process that holds the embedded database (no other process may open it).
 */
export function databaseSource(database: Database): BackupSource {
  return {
    name: 'database',
    async write(sink) {
      const raw = database.raw;
      if (raw.kind === 'pglite') {
        const blob = await raw.pglite.dumpDataDir('gzip');
        await sink.addBuffer(PGLITE_DUMP_PATH, 'database', Buffer.from(await blob.arrayBuffer()));
        sink.draft.database = { kind: 'pglite', file: PGLITE_DUMP_PATH, format: 'pglite-datadir-tgz' };
        return;
      }
      const out = join(sink.workDir, 'limen.pgdump');
      sink.progress('database', { url: maskUrl(raw.url) });
      await pgDump(raw.url, out);
      await sink.addFile(PG_DUMP_PATH, 'database', out, (await stat(out)).size);
      sink.draft.database = { kind: 'postgres', file: PG_DUMP_PATH, format: 'pg_dump-custom' };
    },
  };
}

/** The ISO list always; the images themselves only on request (they can be re-downloaded). */
export function isoSource(isoDir: string, withIsos: boolean): BackupSource {
  return {
    name: 'isos',
    async write(sink) {
      let names: string[] = [];
      try {
        names = (await readdir(isoDir)).filter((n) => n.toLowerCase().endsWith('.iso')).sort();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      for (const name of names) {
        const st = await stat(join(isoDir, name));
        if (!st.isFile()) continue;
        if (withIsos) await sink.addFile(`isos/${name}`, 'iso', join(isoDir, name), st.size);
        sink.draft.isos.push({ name, size: st.size, included: withIsos });
      }
      await sink.addBuffer('isos/list.json', 'iso-list', Buffer.from(JSON.stringify(sink.draft.isos, null, 2) + '\n'));
    },
  };
}

/** The configuration an operator would need to rebuild the instance, without any secret. */
export function publicConfig(config: Config): Record<string, unknown> {
  return {
    port: config.port,
    host: config.host,
    data_dir: config.dataDir,
    database: config.databaseUrl ? maskUrl(config.databaseUrl) : 'embedded (PGlite)',
    libvirt_uri: config.libvirtUri,
    vm_accel: config.vmAccel,
    admin_user: config.adminUser,
    iso_dir: config.isoDir,
    public_origins: config.publicOrigins,
    trusted_proxies: config.trustedProxies,
    log_level: config.logLevel,
    metrics_token_set: config.metricsToken !== undefined,
    vm_bounds: config.vmBounds,
    version: config.version,
    commit: config.commit,
    secrets: 'not included (LIMEN_SECRET, LIMEN_ALERT_WEBHOOK_TOKEN, LIMEN_METRICS_TOKEN, passwords)',
  };
}

/** `--with-secrets`: the secrets/ folder, sealed with the passphrase (never stored in the clear). */
export function secretsSource(dataDir: string, passphrase: string): BackupSource {
  return {
    name: 'secrets',
    async write(sink) {
      const { sealed, names } = await sealSecrets(dataDir, passphrase);
      await sink.addBuffer(SECRETS_ENTRY, 'secrets', sealed);
      sink.draft.secrets = { file: SECRETS_ENTRY, names };
    },
  };
}

export function configSource(config: Config): BackupSource {
  return {
    name: 'config',
    async write(sink) {
      await sink.addBuffer('config/config.json', 'config', Buffer.from(JSON.stringify(publicConfig(config), null, 2) + '\n'));
    },
  };
}
