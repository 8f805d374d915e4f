// `limen isos add-demo` as an operator runs it (node bin/limen.js): straight into the embedded
// database when no server holds it, and through the running server's admin API when one does (the
// usual case with `npm start`, where a second process may not open that database). Either way the
// GRUB rescue CD lands in the library once, with its SHA-256, and a second run adds nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestApp } from '../helpers/app.js';
import type { TestUser } from '../helpers/factories.js';
import { runLimen, serverHoldingDataDir } from '../helpers/cli.js';

const GRUB = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
const skip = existsSync(GRUB) ? false : `${GRUB} is missing (grub-rescue-pc; npm test installs it)`;

const addDemo = (env: Record<string, string>) => runLimen(['isos', 'add-demo'], env);

describe('limen isos add-demo', { skip, timeout: 180_000 }, () => {
  const sha = skip ? '' : createHash('sha256').update(readFileSync(GRUB)).digest('hex');

  test('no server running: the GRUB rescue CD goes straight into the library, once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'limen-isos-cli-'));
    try {
      const first = await addDemo({ LIMEN_DATA_DIR: dataDir });
      assert.equal(first.code, 0, first.out);
      assert.match(first.out, new RegExp(`added grub-rescue.iso \\(\\d+ bytes, sha256 ${sha}\\)`));
      const again = await addDemo({ LIMEN_DATA_DIR: dataDir });
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /already in the library: grub-rescue.iso/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe('a server holds the embedded database', () => {
    let t: TestApp;
    let admin: TestUser;
    let env: Record<string, string>;
    before(async () => {
      ({ t, admin, env } = await serverHoldingDataDir());
    });
    after(() => t.close());

    test('uploaded through the admin API: the server lists it at once with the same SHA-256; a second run adds nothing', async () => {
      const first = await addDemo(env);
      assert.equal(first.code, 0, first.out);
      assert.match(first.out, /added grub-rescue.iso/);
      const list = (await t.app.inject({ method: 'GET', url: '/api/isos', headers: admin.auth })).json<{ items: { name: string; sha256: string }[] }>();
      assert.deepEqual(list.items.filter((i) => i.name === 'grub-rescue.iso').map((i) => i.sha256), [sha]);
      const audit = (await t.app.inject({ method: 'GET', url: '/api/admin/audit?action=iso.upload', headers: admin.auth })).json<{ items: { actor_username: string | null }[] }>();
      assert.equal(audit.items[0]?.actor_username, admin.username, 'audited as the signed-in admin');
      const again = await addDemo(env);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /already in the library: grub-rescue.iso/);
    });
  });
});
