// An app for the slow-client tests: like buildTestApp (PGlite, test:///default, captured logs),
// plus shortened slow-client limits so a slowloris test runs in seconds, listening on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { buildApp, type App } from '../../src/app.js';
import { createLibvirtDriver } from '../../src/hypervisor/index.js';
import type { SlowRequestLimits } from '../../src/platform/http/slow-requests.js';
import { CapturedLogs, FakeHypervisorHealth, staticHostProbe } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/db.js';

export interface ListeningApp {
  app: App;
  port: number;
  logs: CapturedLogs;
  close(): Promise<void>;
}

export async function listeningApp(limits: Partial<SlowRequestLimits>): Promise<ListeningApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-hostile-'));
  const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', LOG_LEVEL: 'info' }, isRoot: false, qemuAvailable: false, version: '0.0.0-test', commit: 'test' });
  const db = await createTestDatabase('pglite', dataDir);
  const driver = createLibvirtDriver({ uri: 'test:///default' });
  await driver.connect();
  const logs = new CapturedLogs();
  const app = await buildApp({ config, database: db.database, driver, hypervisor: new FakeHypervisorHealth(driver), hostProbe: staticHostProbe, logStream: logs, slowRequestLimits: limits });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    port: (app.server.address() as { port: number }).port,
    logs,
    async close() {
      await app.close();
      await driver.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
