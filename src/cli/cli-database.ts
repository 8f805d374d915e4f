// Opens the configured database for a CLI command. The embedded PGlite can be held by one process
// only: when a running server owns the data dir, the command says so instead of corrupting it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { openDatabase, type Database } from '../platform/db/db.js';
import { migrate } from '../platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../main.js';

export interface RunningInstance {
  pid: number;
  url: string;
}

/** The server holding this data dir, if one is alive. */
export function runningInstance(config: Config): RunningInstance | undefined {
  const file = join(config.dataDir, 'limen.pid');
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as RunningInstance;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

export async function withCliDatabase<T>(config: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  if (!config.databaseUrl) {
    const running = runningInstance(config);
    if (running) {
      throw new Error(`the embedded database in ${config.dataDir} is in use by the LIMEN server (pid ${running.pid}, ${running.url}); stop it first or use the admin API`);
    }
  }
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrate(database, MIGRATIONS_DIR);
    return await fn(database);
  } finally {
    await database.close();
  }
}
