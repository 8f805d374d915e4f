// Builds a LIMEN app for tests: a temp data dir, a migrated database of the chosen engine, a
// controllable hypervisor health and a captured log stream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/config.js';
import { buildApp, type App } from '../../src/app.js';
import type { HypervisorHealth } from '../../src/modules/system/index.js';
import type { HostProbe } from '../../src/platform/host-metrics.js';
import { createTestDatabase, type DbEngine, type TestDatabase } from './db.js';

export class FakeHypervisorHealth implements HypervisorHealth {
  uri = 'test:///default';
  hostName = 'default';
  simulated = true;
  up = true;
  async ping(): Promise<boolean> {
    return this.up;
  }
}

export class CapturedLogs extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    cb();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface TestApp {
  app: App;
  config: Config;
  db: TestDatabase;
  logs: CapturedLogs;
  hypervisor: FakeHypervisorHealth;
  dataDir: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  engine?: DbEngine;
  env?: Record<string, string>;
  hostProbe?: HostProbe;
  hostSampleMs?: number;
  /** Called before app.ready(): add test-only routes here. */
  beforeReady?: (app: App) => void | Promise<void>;
}

export const staticHostProbe: HostProbe = {
  sample: async () => ({ cpuPercent: 12.5, memoryPercent: 40, diskPercent: 55 }),
};

export async function buildTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-test-'));
  const config = loadConfig({
    env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', LOG_LEVEL: 'info', ...opts.env },
    isRoot: false,
    qemuAvailable: false,
    version: '0.0.0-test',
    commit: 'test',
  });
  const db = await createTestDatabase(opts.engine ?? 'pglite', dataDir);
  const logs = new CapturedLogs();
  const hypervisor = new FakeHypervisorHealth();
  const app = await buildApp({
    config,
    database: db.database,
    hypervisor,
    hostProbe: opts.hostProbe ?? staticHostProbe,
    hostSampleMs: opts.hostSampleMs,
    logStream: logs,
  });
  await opts.beforeReady?.(app);
  await app.ready();
  return {
    app,
    config,
    db,
    logs,
    hypervisor,
    dataDir,
    async close() {
      await app.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
