// --with-secrets: the secrets folder travels sealed (no plaintext in the archive); the right
// passphrase restores it, a wrong one refuses before anything is touched; without a passphrase
// the target keeps its own secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackupService, restoreArchive } from '../../src/modules/backups/index.js';
import { liveInstall, seed } from './fixtures.js';

const PASS = 'correct horse battery staple';

test('secrets: sealed in the archive, restored with the passphrase, refused with a wrong one', { timeout: 180_000 }, async () => {
  const live = await liveInstall('pglite', { memory: true });
  try {
    await seed(live, 1);
    const dir = join(live.dataDir, 'secrets');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'limen-secret'), 'ORIGINAL-SECRET-VALUE-0123456789');
    writeFileSync(join(dir, 'operator-token'), 'ORIGINAL-OPERATOR-TOKEN-abcdefgh');
    const svc = createBackupService({ config: live.config, database: live.database, driver: () => undefined });
    const withSecrets = (await svc.create({ origin: 'cli', requestedBy: null, secretsPassphrase: PASS })).archive;
    const without = (await svc.create({ origin: 'cli', requestedBy: null })).archive;
    assert.equal(withSecrets.manifest.options.with_secrets, true);
    for (const n of ['limen-secret', 'operator-token']) assert.ok(withSecrets.manifest.secrets?.names.includes(n), n);
    assert.equal(without.manifest.options.with_secrets, false);
    const bytes = readFileSync(withSecrets.file);
    assert.ok(!bytes.includes('ORIGINAL-SECRET-VALUE') && !bytes.includes('ORIGINAL-OPERATOR-TOKEN'), 'no plaintext secret in the archive');
    await live.database.close();

    // The installation's secrets change after the backup (e.g. a rebuilt machine).
    writeFileSync(join(dir, 'limen-secret'), 'NEW-SECRET');
    const fingerprint = (): string => JSON.stringify([readdirSync(live.dataDir).sort(), readdirSync(dir).map((n) => [n, readFileSync(join(dir, n), 'utf8')])]);
    const fp = fingerprint();
    await assert.rejects(restoreArchive({ file: withSecrets.file, dataDir: live.dataDir, databaseUrl: undefined, secretsPassphrase: 'wrong passphrase!' }), /wrong passphrase/);
    assert.equal(fingerprint(), fp, 'a wrong passphrase touches nothing');
    await assert.rejects(restoreArchive({ file: without.file, dataDir: live.dataDir, databaseUrl: undefined, secretsPassphrase: PASS }), /holds no secrets/);
    assert.equal(fingerprint(), fp);

    const kept = await restoreArchive({ file: withSecrets.file, dataDir: live.dataDir, databaseUrl: undefined });
    assert.deepEqual(kept.secrets, { action: 'kept', inArchive: true });
    assert.equal(readFileSync(join(dir, 'limen-secret'), 'utf8'), 'NEW-SECRET', 'no passphrase: the target keeps its own');

    const restored = await restoreArchive({ file: withSecrets.file, dataDir: live.dataDir, databaseUrl: undefined, secretsPassphrase: PASS });
    assert.equal(restored.secrets.action, 'restored');
    assert.equal(readFileSync(join(dir, 'limen-secret'), 'utf8'), 'ORIGINAL-SECRET-VALUE-0123456789');
    assert.equal(readFileSync(join(dir, 'operator-token'), 'utf8'), 'ORIGINAL-OPERATOR-TOKEN-abcdefgh');
    await live.reopen();
  } finally {
    await live.cleanup();
  }
});
