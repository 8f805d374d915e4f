// Sessions live in the database: they survive a restart. The first admin is created once and a
// later start with a different LIMEN_ADMIN_PASSWORD does not reset it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase } from '../../src/platform/db/db.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { MIGRATIONS_DIR } from '../../src/main.js';
import { buildApp } from '../../src/app.js';
import { bootstrapFirstAdmin } from '../../src/modules/auth/index.js';
import { CapturedLogs, FakeHypervisorHealth, staticHostProbe, testDriver } from '../helpers/app.js';
import { DB_ENGINES, createTestDatabase } from '../helpers/db.js';
import { parseSetCookies } from '../helpers/factories.js';

for (const engine of DB_ENGINES) {
  describe(`restart (${engine})`, () => {
    test('sessions survive a restart and the first admin is never reset', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'limen-restart-'));
      // Embedded: the same on-disk PGlite dir; server: the same database reopened.
      const server = engine === 'postgres' ? await createTestDatabase('postgres', dataDir) : undefined;
      const start = async (adminPassword: string) => {
        const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir, LIBVIRT_URI: 'test:///default', LIMEN_ADMIN_PASSWORD: adminPassword, ...(server?.url ? { DATABASE_URL: server.url } : {}) } });
        const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir });
        await migrate(database, MIGRATIONS_DIR);
        const boot = await bootstrapFirstAdmin(database.db, config);
        const app = await buildApp({ config, database, driver: testDriver(), hypervisor: new FakeHypervisorHealth(), hostProbe: staticHostProbe, logStream: new CapturedLogs() });
        await app.ready();
        return { app, boot, stop: async () => { await app.close(); await database.close(); } };
      };
      try {
        const first = await start('first-admin-password-1');
        assert.equal(first.boot.created, true);
        const li = await first.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'first-admin-password-1' } });
        assert.equal(li.statusCode, 200);
        const access = li.json().access_token as string;
        const csrf = li.json().csrf_token as string;
        const refresh = parseSetCookies(li.headers['set-cookie']).limen_refresh!;
        await first.stop();

        const second = await start('a-different-password-2');
        try {
          assert.equal(second.boot.created, false);
          assert.equal((await second.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${access}` } })).statusCode, 200);
          const r = await second.app.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { limen_refresh: refresh }, headers: { 'x-csrf-token': csrf } });
          assert.equal(r.statusCode, 200);
          const oldPw = await second.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'first-admin-password-1' } });
          assert.equal(oldPw.statusCode, 200, 'the original admin password still works');
          const newPw = await second.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'admin', password: 'a-different-password-2' } });
          assert.equal(newPw.statusCode, 401);
        } finally {
          await second.stop();
        }
      } finally {
        await server?.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}

test('a generated first-admin password is written once to a 0600 file', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'limen-boot-'));
  try {
    const config = loadConfig({ env: { LIMEN_DATA_DIR: dataDir } });
    const database = await openDatabase({ databaseUrl: undefined, dataDir, memory: true });
    await migrate(database, MIGRATIONS_DIR);
    const b = await bootstrapFirstAdmin(database.db, config);
    assert.ok(b.generatedPassword && b.generatedPassword.length >= 16);
    const file = join(dataDir, 'initial-admin-password');
    assert.equal(readFileSync(file, 'utf8').trim(), b.generatedPassword);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await bootstrapFirstAdmin(database.db, config);
    assert.equal(again.created, false);
    assert.equal(readFileSync(file, 'utf8').trim(), b.generatedPassword);
    await database.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
