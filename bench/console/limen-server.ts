// A real LIMEN app for the console bench, in a process of its own (like websockify): the
// production buildApp with an embedded database on disk, plus the console routes wired to a fake
// VM access port that points every VM's console at the bench's source (as the tests do).
// Prints {port, username, password, uuid} once listening; `gc` on IPC runs a full GC and answers
// with process.memoryUsage(), so memory is measured without garbage.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/app.js';
import { openDatabase } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { createLibvirtDriver } from '../../src/hypervisor/index.js';
import { authRepo, hashPassword } from '../../src/modules/auth/index.js';
import { createConsolesService, registerConsoleRoutes, type ConsoleVmAccess } from '../../src/modules/consoles/index.js';
import { answerProbeRequests, createLoopProbe } from '../lib/loop-probe.js';

const sourcePort = Number(process.argv[2]);
if (!Number.isInteger(sourcePort) || sourcePort <= 0) throw new Error('usage: limen-server.ts SOURCE_PORT');

const dataDir = mkdtempSync(join(tmpdir(), 'limen-bench-'));
const config = loadConfig({
  env: {
    LIMEN_DATA_DIR: dataDir,
    LIBVIRT_URI: 'test:///default',
    // Logs at warn: the bench measures the proxy, not pino formatting 1000 request lines.
    LOG_LEVEL: 'warn',
    LIMEN_CONSOLE_MAX_PER_USER: '1000',
    LIMEN_CONSOLE_MAX_TOTAL: '1000',
  },
  isRoot: false,
  qemuAvailable: false,
  version: '0.0.0-bench',
  commit: 'bench',
});
const database = await openDatabase({ databaseUrl: undefined, dataDir });
// Armed by the bench around its round-trip phase: what held this process's event loop meanwhile.
answerProbeRequests(createLoopProbe({ pglite: database.raw.kind === 'pglite' ? database.raw.pglite : undefined }));
await migrate(database, MIGRATIONS_DIR);
const driver = createLibvirtDriver({ uri: 'test:///default' });
await driver.connect();
const discard = new Writable({ write: (_c, _e, cb) => cb() });

const uuid = randomUUID();
const access: ConsoleVmAccess = {
  getVm: async (_p, id) => {
    if (id !== uuid) throw new Error('no such VM');
    return { uuid, state: 'running', host: 'default' };
  },
  vncEndpoint: async () => ({ host: '127.0.0.1', port: sourcePort }),
  onVmState: () => () => undefined,
};
// buildApp takes the console's VM access as a dependency once the console module is wired in
// app.ts; until then the bench registers the console routes itself (the same code either way).
const deps = {
  config,
  database,
  driver,
  hostProbe: { sample: async () => ({ cpuPercent: 0, memoryPercent: 0, diskPercent: 0 }) },
  logStream: discard,
  consoleVmAccess: access,
};
const app = await buildApp(deps);
if (!app.hasRoute({ method: 'POST', url: '/api/vms/:uuid/console' })) {
  await app.register(registerConsoleRoutes(app.limen, createConsolesService(app.limen, access)));
}
await app.listen({ port: 0, host: '127.0.0.1' });

const username = `bench${Date.now()}`;
const password = 'Limen-bench-password-42';
await authRepo.insertUser(database.db, { username, passwordHash: await hashPassword(password), role: 'user', status: 'active' });
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as { port: number }).port, username, password, uuid })}\n`);

process.on('message', (m) => {
  if (m !== 'gc') return;
  // Twice: the first pass may only queue finalizers that free native (socket) memory.
  globalThis.gc?.();
  globalThis.gc?.();
  const u = process.memoryUsage();
  process.send?.({ heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers });
});

const stop = async (): Promise<void> => {
  await app.close().catch(() => undefined);
  await driver.close().catch(() => undefined);
  await database.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('disconnect', () => void stop());
