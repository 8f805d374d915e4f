// `limen serve` stopped with SIGTERM, as an operator (or a process manager) stops it: it exits 0,
// removes its lock file, and leaves nothing behind that says a host failed. Before the fix the
// default driver was closed while the host watchdog still ran: its connection-change kick made one
// more pass that saw the closed connection, logged "hypervisor host unreachable" and wrote
// reachable = false into the hosts row — with several instances on one database, every other
// instance then showed that host's VMs as unreachable until its own watchdog put the row back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../src/platform/db/db.js';
import { queryRows } from '../../src/platform/db/query.js';

const ROOT = join(import.meta.dirname, '..', '..');

test('SIGTERM: exit 0, lock file gone, no host reported unreachable, the hosts row still says reachable', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-shutdown-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', LIMEN_ADMIN_PASSWORD: 'Shutdown-test-pw-1' };
    delete env.DATABASE_URL; // the embedded database, as `npm start` runs it
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'limen.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    createInterface({ input: child.stderr }).on('line', (l) => lines.push(l));
    const url = await new Promise<string>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`LIMEN did not start within 90 s:\n${lines.join('\n')}`)), 90_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const m = /running at (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          ok(m[1]!);
        }
      });
      void exited.then((code) => fail(new Error(`LIMEN exited early (code ${code}):\n${lines.join('\n')}`)));
    });
    const health = await fetch(`${url}/api/health`);
    assert.equal(health.status, 200);
    assert.ok(existsSync(join(dataDir, 'limen.pid')), 'the lock file is written while it runs');

    child.kill('SIGTERM');
    assert.equal(await exited, 0, `exit code after SIGTERM; output:\n${lines.join('\n')}`);
    assert.equal(existsSync(join(dataDir, 'limen.pid')), false, 'the lock file is removed');
    const complaints = lines.filter((l) => /host unreachable|"level":50/.test(l));
    assert.deepEqual(complaints, [], 'a clean stop logs no unreachable host and no error');

    const database = await openDatabase({ databaseUrl: undefined, dataDir });
    try {
      const rows = await queryRows<{ name: string; reachable: boolean }>(database.db, sql`select name, reachable from hosts`);
      assert.deepEqual(rows, [{ name: 'default', reachable: true }]);
    } finally {
      await database.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
