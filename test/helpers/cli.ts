// The CLI as an operator runs it (node bin/limen.js: the build when there is one, as `npm test`
// makes it, else the sources), and a test app that plays "the server holding the data dir" for the
// commands that go through the running server when it holds the embedded database.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestApp, type TestApp } from './app.js';
import { newAdmin, type TestUser } from './factories.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Runs `limen <args>` with this environment on top of ours (no DATABASE_URL / LIMEN_URL of ours leaks in). */
export function runLimen(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.LIMEN_URL;
  return new Promise((resolve) =>
    execFile(process.execPath, [join(ROOT, 'bin', 'limen.js'), ...args], { env: { ...base, LIBVIRT_URI: 'test:///default', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

export interface ServerHoldingDataDir {
  t: TestApp;
  admin: TestUser;
  /** The CLI's environment: that data dir, signed in as `admin`. */
  env: Record<string, string>;
}

/** A listening app on the embedded database whose data dir names this process as its server (limen.pid, as startServer writes it). */
export async function serverHoldingDataDir(): Promise<ServerHoldingDataDir> {
  const t = await buildTestApp({ engine: 'pglite' });
  const admin = await newAdmin(t.app);
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  writeFileSync(join(t.dataDir, 'limen.pid'), JSON.stringify({ pid: process.pid, url }) + '\n');
  return { t, admin, env: { LIMEN_DATA_DIR: t.dataDir, LIMEN_ADMIN_USER: admin.username, LIMEN_ADMIN_PASSWORD: admin.password } };
}
