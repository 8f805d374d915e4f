// Server start-up: config → database (migrated) → hypervisor → app → listen. Graceful close drains
// requests, stops background loops and closes the database and libvirt connections.
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config/config.js';
import { projectRoot } from './config/runtime.js';
import { openDatabase } from './platform/db/db.js';
import { migrate } from './platform/db/migrate.js';
import { createHostProbe } from './platform/host-metrics.js';
import { buildApp, type App } from './app.js';
import { createDefaultDriver, resolveAccel } from './hypervisor-wiring.js';
import pino from 'pino';
import { loggerOptions } from './platform/log.js';
import { bootstrapFirstAdmin, type BootstrapResult } from './modules/auth/index.js';

export const MIGRATIONS_DIR = join(projectRoot, 'migrations');

export interface RunningServer {
  app: App;
  url: string;
  bootstrap: BootstrapResult;
  close(): Promise<void>;
}

export async function startServer(config: Config): Promise<RunningServer> {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  await migrate(database, MIGRATIONS_DIR);
  const bootstrap = await bootstrapFirstAdmin(database.db, config);
  const driver = await createDefaultDriver(config, pino(loggerOptions(config.logLevel)).child({ component: 'hypervisor' }));
  const accel = resolveAccel(config.vmAccel);
  const app = await buildApp({ config, database, driver, accel, hostProbe: createHostProbe(config.dataDir) });
  const lockFile = join(config.dataDir, 'limen.pid');
  // The connections close after app.close() has stopped every loop of the app, not in an onClose
  // hook of this (root) instance: Fastify runs those before the modules' own, so the host watchdog
  // saw the default connection closing and recorded the host unreachable on every stop
  // (test/app/graceful-shutdown.test.ts).
  const close = async (): Promise<void> => {
    try {
      await app.close();
    } finally {
      await driver.close();
      await database.close();
      rmSync(lockFile, { force: true });
    }
  };
  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  // The CLI finds a running instance (and the embedded DB's owner) through this file.
  writeFileSync(lockFile, JSON.stringify({ pid: process.pid, url }) + '\n', { mode: 0o600 });
  app.log.info({ url, libvirt: config.libvirtUri, accel, database: database.kind }, 'LIMEN listening');
  return { app, url, bootstrap, close };
}
