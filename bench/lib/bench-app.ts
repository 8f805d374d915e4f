// Shared by the benches that drive a real LIMEN on real libvirt (provision, class): a scratch data
// dir, the embedded database migrated, the libvirt driver, the app, one admin with no quota limits
// and the GRUB rescue ISO in the library. `close()` undoes all of it.
import { chmodSync, createReadStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/app.js';
import { openDatabase, type Database } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { createLibvirtDriver, type HypervisorDriver } from '../../src/hypervisor/index.js';
import { authRepo, hashPassword } from '../../src/modules/auth/index.js';

export const BENCH_URI = process.env.LIBVIRT_URI ?? 'qemu:///system';
export const GRUB_ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const PASSWORD = 'Bench-password-123';
const UNLIMITED = { vms: null, vcpus: null, memory_mb: null, disk_gb: null, running_vms: null, running_vcpus: null, running_memory_mb: null };

export interface BenchApp {
  app: FastifyInstance;
  database: Database;
  driver: HypervisorDriver;
  dataDir: string;
  /** Authorization header of the admin. */
  auth: { authorization: string };
  adminId: string;
  isoId: string;
  close: () => Promise<void>;
}

export async function startBenchApp(name: string, opts: { env?: Record<string, string>; pollIntervalMs?: number; bodyTimeoutMs?: number } = {}): Promise<BenchApp> {
  if (!existsSync(GRUB_ISO)) throw new Error(`${GRUB_ISO} missing: apt-get install grub-rescue-pc`);
  const dataDir = mkdtempSync(join(tmpdir(), `limen-bench-${name}-`));
  chmodSync(dataDir, 0o755); // libvirt-qemu must reach the disks
  const config = loadConfig({
    env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: BENCH_URI, LOG_LEVEL: 'warn', LIMEN_VM_ACCEL: 'tcg', ...opts.env },
    isRoot: true,
    qemuAvailable: true,
    version: '0.0.0-bench',
    commit: 'bench',
  });
  const database = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir });
  await migrate(database, MIGRATIONS_DIR);
  const driver = createLibvirtDriver({ uri: BENCH_URI, ...(opts.pollIntervalMs ? { pollIntervalMs: opts.pollIntervalMs } : {}) });
  await driver.connect();
  const app = await buildApp({
    config,
    database,
    driver,
    accel: 'tcg',
    hostProbe: { sample: async () => ({ cpuPercent: 0, memoryPercent: 0, diskPercent: 0 }) },
    logStream: new Writable({ write: (_c, _e, cb) => cb() }),
    ...(opts.bodyTimeoutMs ? { slowRequestLimits: { bodyTimeoutMs: opts.bodyTimeoutMs } } : {}),
  });
  await app.ready();
  const close = async (): Promise<void> => {
    await app.close();
    await driver.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const user = await authRepo.insertUser(database.db, { username: 'bench', passwordHash: await hashPassword(PASSWORD), role: 'admin', status: 'active' });
    const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: user.username, password: PASSWORD } });
    const auth = { authorization: `Bearer ${login.json<{ access_token: string }>().access_token}` };
    // The admin's own quota is not what a bench measures.
    await app.inject({ method: 'PUT', url: `/api/admin/users/${user.id}/quota`, headers: auth, payload: UNLIMITED });
    const up = await app.inject({ method: 'PUT', url: '/api/admin/isos/grub-rescue.iso', headers: { ...auth, 'content-type': 'application/octet-stream' }, payload: createReadStream(GRUB_ISO) });
    if (up.statusCode !== 201) throw new Error(`ISO upload failed: ${up.body}`);
    return { app, database, driver, dataDir, auth, adminId: user.id, isoId: up.json<{ id: string }>().id, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The 1-, 5- and 15-minute load averages, as the results record them. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
