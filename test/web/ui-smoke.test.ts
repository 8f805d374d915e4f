// The built UI (web/dist, from `npm run build`) served by a real LIMEN, opened in Debian's
// Chromium: the login page renders with labelled fields, no console errors, and a screenshot is
// kept as an artefact. Needs `npm run build` first (npm test does it); builds nothing itself.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromiumSkipReason, recordConsole, withBrowser } from './browser.js';
import { startLimen, type LimenProcess } from './limen-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = process.env.LIMEN_TEST_ARTIFACTS ?? join(tmpdir(), 'limen-ui-artifacts');
const skip = chromiumSkipReason();

let limen: LimenProcess;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(join(ROOT, 'web', 'dist', 'index.html')), 'web/dist/index.html is missing: run `npm run build` first');
  mkdirSync(ARTIFACTS, { recursive: true });
  limen = await startLimen({ timeoutMs: 180_000 }); // a loaded shared machine can take minutes to start a server
});

after(async () => {
  await limen?.stop();
});

test('the login page renders in Chromium without console errors', { skip }, async () => {
  await withBrowser(async (ctx) => {
    const page = await ctx.newPage();
    const log = recordConsole(page);
    const shot = join(ARTIFACTS, 'login.png');
    try {
      await page.goto(`${limen.url}/`, { waitUntil: 'networkidle' });
      // Signed out, `/` leads to the login page.
      await page.waitForURL(/\/login/, { timeout: 10_000 });
      await page.getByRole('heading', { level: 1, name: 'Sign in to LIMEN' }).waitFor({ timeout: 10_000 });
      assert.equal(await page.getByLabel('Username').count(), 1, 'a labelled username field');
      assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password', 'a labelled password field');
      assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 1);
      assert.equal(await page.getByRole('link', { name: 'Register' }).count(), 1);
      await page.screenshot({ path: shot, fullPage: true });
      assert.deepEqual(log.errors, [], `console errors:\n${log.errors.join('\n')}`);
    } catch (e) {
      // A failing step keeps its screenshot and the browser console log.
      await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
      console.error(`screenshot: ${shot}\nbrowser console:\n${log.all.join('\n')}\nserver output:\n${limen.output().slice(-4000)}`);
      throw e;
    }
    console.log(`screenshot: ${shot}`);
  });
});

test('the register page shows the password rules while typing', { skip }, async () => {
  await withBrowser(async (ctx) => {
    const page = await ctx.newPage();
    const log = recordConsole(page);
    await page.goto(`${limen.url}/register`, { waitUntil: 'networkidle' });
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password', { exact: true }).fill('alice');
    const rules = page.locator('#reg-password-rules li');
    assert.equal(await rules.count(), 3);
    // Too short and equal to the username: only "not a common password" is met.
    assert.equal(await page.locator('#reg-password-rules li.rule-ok').count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Create account' }).isDisabled(), true);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
    assert.equal(await page.locator('#reg-password-rules li.rule-ok').count(), 3);
    await page.getByLabel('Repeat password').fill('correct horse battery staple');
    assert.equal(await page.getByRole('button', { name: 'Create account' }).isDisabled(), false);
    await page.screenshot({ path: join(ARTIFACTS, 'register.png'), fullPage: true });
    assert.deepEqual(log.errors, [], `console errors:\n${log.errors.join('\n')}`);
  });
});
