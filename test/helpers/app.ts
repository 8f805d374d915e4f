// Builds a LIMEN app for tests: a temp data dir, a migrated database of the chosen engine, its own
// libvirt connection (test:///default unless a test passes a driver), a switchable health view of
// it and a captured log stream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../src/config/config.js';
import { buildApp, type App } from '../../src/app.js';
import type { HypervisorHealth } from '../../src/modules/system/index.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import type { AppDeps } from '../../src/app.js';
import type { HostProbe } from '../../src/platform/host-metrics.js';
import { createTestDatabase, openSharedDatabase, type DbEngine, type TestDatabase } from './db.js';

/** Health of the test's driver, with a switch: `up = false` makes libvirt look down to /api/health. */
export class FakeHypervisorHealth implements HypervisorHealth {
  uri: string;
  hostName = 'default';
  simulated: boolean;
  up = true;
  constructor(private readonly driver?: HypervisorDriver) {
    this.uri = driver?.uri ?? 'test:///default';
    this.simulated = driver ? driver.kind === 'test' : true;
  }
  async ping(ms = 1000): Promise<boolean> {
    return this.up && (this.driver ? this.driver.ping(ms) : true);
  }
}

/** A test:///default driver for tests that build apps by hand (not connected: no VM work there). */
export const testDriver = (): HypervisorDriver => createLibvirtDriver({ uri: 'test:///default' });

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
  driver: HypervisorDriver;
  dataDir: string;
  close(): Promise<void>;
}

export interface TestAppOptions {
  engine?: DbEngine;
  env?: Record<string, string>;
  hostProbe?: HostProbe;
  hostSampleMs?: number;
  /** A driver of the test's own (e.g. real QEMU); default: a fresh test:///default connection. */
  driver?: HypervisorDriver;
  /** VM module tuning (e.g. shorter shutdown timeout). */
  vmOptions?: AppDeps['vmOptions'];
  /** Replaces the console's view of VMs (console tests against a fake VNC server). */
  consoleVmAccess?: AppDeps['consoleVmAccess'];
  /**
   * Another app's database: two instances on one PostgreSQL (cluster tests). Opened anew (own
   * pool, like a second process); left in place at close, its owner drops it.
   */
  shareDatabase?: TestDatabase;
  /** Snapshot scheduler period and clock (default: 30 s, the real clock). */
  snapshotScheduler?: AppDeps['snapshotScheduler'];
  /** Slow-client bounds (a test on a heavily loaded machine may need a longer body timeout). */
  slowRequestLimits?: AppDeps['slowRequestLimits'];
  /** Driver for hosts added through the hosts API (default: libvirt's for the URI). */
  createHostDriver?: AppDeps['createHostDriver'];
  /** Host watchdog period (default 5 s). */
  hostWatchEveryMs?: number;
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
  const db = opts.shareDatabase ? await openSharedDatabase(opts.shareDatabase, dataDir) : await createTestDatabase(opts.engine ?? 'pglite', dataDir);
  const logs = new CapturedLogs();
  const driver = opts.driver ?? createLibvirtDriver({ uri: 'test:///default' });
  await driver.connect();
  const hypervisor = new FakeHypervisorHealth(driver);
  const app = await buildApp({
    config,
    database: db.database,
    driver,
    hypervisor,
    vmOptions: { reconcileEveryMs: 1_000, ...opts.vmOptions },
    hostProbe: opts.hostProbe ?? staticHostProbe,
    hostSampleMs: opts.hostSampleMs,
    logStream: logs,
    consoleVmAccess: opts.consoleVmAccess,
    snapshotScheduler: opts.snapshotScheduler,
    slowRequestLimits: opts.slowRequestLimits,
    hostWatchEveryMs: opts.hostWatchEveryMs,
    createHostDriver: opts.createHostDriver,
  });
  await opts.beforeReady?.(app);
  await app.ready();
  return {
    app,
    config,
    db,
    logs,
    hypervisor,
    driver,
    dataDir,
    async close() {
      await app.close();
      if (!opts.driver) await driver.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
