// The signed-in pages in Debian's Chromium against a scripted API (fake-api.ts): quota bars with an
// over-limit resource, the create dialog disabling sizes the quota cannot hold, a server quota
// error shown inline, and a VM's state following /ws/events live. Screenshots of each page are
// kept. Needs web/dist (`npm run build:web`); the real-server flow is in ui-smoke.test.ts.
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumSkipReason, recordConsole, withBrowser } from './browser.js';
import { GRUB_ISO_ID, installFakeApi, newFakeState, pushEvent, serveDist, type FakeState } from './fake-api.js';

const ARTIFACTS = process.env.LIMEN_TEST_ARTIFACTS ?? join(tmpdir(), 'limen-ui-artifacts');
const skip = chromiumSkipReason();
let site: Awaited<ReturnType<typeof serveDist>>;

before(async () => {
  if (skip) return;
  assert.ok(existsSync(join(import.meta.dirname, '..', '..', 'web', 'dist', 'index.html')), 'web/dist is missing: run `npm run build:web` first');
  mkdirSync(ARTIFACTS, { recursive: true });
  site = await serveDist();
});
after(async () => site?.close());

async function signIn(page: Page, s: FakeState): Promise<void> {
  await installFakeApi(page, s);
  await page.goto(`${site.url}/login`);
  await page.getByLabel('Username').fill(s.user.username);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
}

test('dashboard: quota bars (over limit in red), empty state, live indicator', { skip }, async () => {
  await withBrowser(async (ctx) => {
    const page = await ctx.newPage();
    const log = recordConsole(page);
    const now = new Date().toISOString();
    const s = newFakeState({
      limits: { vms: 5, vcpus: 2, memory_mb: 16384, disk_gb: 200, snapshots: 10, running_vms: 3, running_vcpus: null, running_memory_mb: 16384 },
      vms: [{ uuid: '00000000-0000-4000-8000-00000000000a', name: 'lab-1', state: 'stopped', vcpus: 4, memory_mb: 2048, disk_gb: 20, iso: null, owner_id: 'x', host: 'default', created_at: now, updated_at: now }],
    });
    await signIn(page, s);
    await page.locator('[data-quota="vcpus"].quota-over').waitFor();
    assert.match(await page.locator('[data-quota="vcpus"]').innerText(), /4 \/ 2\s+over limit/);
    assert.match(await page.locator('[data-quota="running_vcpus"]').innerText(), /unlimited/);
    assert.equal(await page.locator('.vm-card').count(), 1);
    await page.getByText('Live', { exact: true }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-fake.png'), fullPage: true });
    assert.deepEqual(log.errors, []);
  });
});

test('create dialog disables sizes over quota, shows server errors inline, then the VM goes live', { skip }, async () => {
  await withBrowser(async (ctx) => {
    const page = await ctx.newPage();
    const log = recordConsole(page);
    const s = newFakeState({ limits: { vms: 5, vcpus: 4, memory_mb: 2048, disk_gb: 50, snapshots: 10, running_vms: 3, running_vcpus: 8, running_memory_mb: 16384 } });
    await signIn(page, s);
    await page.getByText('You have no virtual machines yet').waitFor();
    await page.getByRole('button', { name: 'New virtual machine' }).click();
    const dialog = page.getByRole('dialog', { name: 'New virtual machine' });
    await dialog.getByLabel('Name').fill('web-1');
    const memory = dialog.getByLabel('Memory');
    assert.equal(await memory.locator('option[value="2048"]').isDisabled(), false);
    assert.equal(await memory.locator('option[value="4096"]').isDisabled(), true, '4 GiB exceeds a 2 GiB quota');
    assert.equal(await dialog.getByLabel('vCPUs').locator('option[value="8"]').isDisabled(), true);
    assert.equal(await dialog.getByLabel('Installer ISO').inputValue(), GRUB_ISO_ID, 'the ISO is sent by id');
    assert.equal(await dialog.getByLabel('Installer ISO').locator('option:checked').innerText(), 'grub-rescue.iso');
    await page.screenshot({ path: join(ARTIFACTS, 'create-dialog-fake.png'), fullPage: true });

    // The admin lowers the quota meanwhile: the server refuses and the dialog says why.
    s.limits.memory_mb = 512;
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'Quota exceeded' }).waitFor();
    assert.match(await dialog.getByRole('alert').filter({ hasText: 'Quota exceeded' }).innerText(), /memory_mb: 0 used of 512, 1024 requested/);

    s.limits.memory_mb = 2048;
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { level: 1, name: 'web-1' }).waitFor();
    const uuid = s.vms[0]!.uuid;
    assert.equal(await page.locator('.vm-state-line [data-state]').getAttribute('data-state'), 'stopped');

    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('.vm-state-line [data-state="starting"]').waitFor();
    pushEvent(s, 'vm.state', { uuid, state: 'running', updated_at: new Date(Date.now() + 1000).toISOString() });
    await page.locator('.vm-state-line [data-state="running"]').waitFor();
    assert.ok(await page.getByRole('button', { name: 'Power off' }).isVisible());
    await page.screenshot({ path: join(ARTIFACTS, 'vm-page-fake.png'), fullPage: true });

    // Destructive actions ask first.
    await page.getByRole('button', { name: 'Power off' }).click();
    await page.getByRole('dialog', { name: /Power off web-1/ }).waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'vm-confirm-fake.png') });
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.ok(!s.requests.includes(`POST /api/vms/${uuid}/action`) || s.requests.filter((r) => r.endsWith('/action')).length === 1, 'cancel sends nothing');

    // Only the quota error above is an expected console error (the 403 response).
    assert.deepEqual(log.errors.filter((e) => !e.includes('403')), []);
  });
});
