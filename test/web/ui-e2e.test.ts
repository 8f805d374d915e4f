// The whole journey in Debian's Chromium against a real LIMEN (`node bin/limen.js serve`, built by
// `npm run build`) driving real QEMU through libvirt: the admin uploads the GRUB rescue ISO through
// the UI, a user registers, the admin approves, the user creates a tiny VM in the dialog, starts it
// and sees it run without a reload, watches its screen in the console tab, takes a snapshot, powers
// it off and deletes it — nothing is left. Screenshots of every page are kept; a failing step keeps
// its screenshot, both browser console logs and the server's output.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { recordConsole, withBrowser, type ConsoleLog } from './browser.js';
import type { LimenProcess } from './limen-process.js';
import { ARTIFACTS, GRUB_ISO, Steps, metric, realSkipReason, sampleCanvas, shot, startRealLimen, until } from './real-ui.js';

const skip = realSkipReason();
const USER = 'e2e-alice';
const PASSWORD = 'plum orchard lantern 42';
const LONG = { timeout: 120_000 }; // QEMU under TCG on a loaded 2-core machine

let limen: LimenProcess;
let createdUuid: string | undefined; // set while the test's VM exists, so a failure still removes it
before(async () => {
  if (!skip) limen = await startRealLimen();
});
after(async () => {
  if (createdUuid) await removeVm(createdUuid).catch((e: unknown) => console.error(`cleanup of ${createdUuid} failed: ${String(e)}`));
  await limen?.stop();
});

async function signIn(page: Page, username: string, password: string, next = '/'): Promise<void> {
  await page.goto(`${limen.url}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function adminApi<T>(path: string, method = 'GET'): Promise<T> {
  const login = await fetch(`${limen.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: limen.adminPassword }) });
  const { access_token } = (await login.json()) as { access_token: string };
  const res = await fetch(`${limen.url}${path}`, { method, headers: { authorization: `Bearer ${access_token}` } });
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** After a failure: delete the VM through the API (LIMEN powers it off first) and wait until it is gone. */
async function removeVm(uuid: string): Promise<void> {
  await adminApi(`/api/vms/${uuid}`, 'DELETE');
  await until('cleanup delete', async () => (await adminApi<{ items: { uuid: string }[] }>('/api/admin/vms')).items.every((v) => v.uuid !== uuid), 60_000);
}

test('register → approve → create VM → start live → console → snapshot → power off → delete', { skip, timeout: 300_000 }, async () => {
  const steps = new Steps();
  const shots: string[] = [];
  const logs: Record<string, ConsoleLog> = {};
  await withBrowser(async (adminCtx) => {
    await withBrowser(async (userCtx) => {
      const admin = await adminCtx.newPage();
      const user = await userCtx.newPage();
      logs['admin'] = recordConsole(admin);
      logs['user'] = recordConsole(user);
      try {
        // 1. The admin signs in and uploads the ISO with the progress bar.
        await signIn(admin, 'admin', limen.adminPassword, '/admin/isos');
        await admin.getByRole('heading', { level: 1, name: 'ISO library' }).waitFor();
        await admin.locator('#iso-file').setInputFiles(GRUB_ISO);
        assert.equal(await admin.getByLabel('Name in the library').inputValue(), 'grub-rescue-cdrom.iso');
        await admin.getByRole('button', { name: 'Upload' }).click();
        await admin.getByText('grub-rescue-cdrom.iso uploaded.').waitFor(LONG);
        await admin.locator('table').getByText('grub-rescue-cdrom.iso').waitFor();
        shots.push(await shot(admin, 'e2e-admin-isos'));
        steps.mark('admin signs in, uploads the ISO');

        // 2. A person registers and is told to wait for approval.
        await user.goto(`${limen.url}/register`);
        await user.getByLabel('Username').fill(USER);
        await user.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await user.getByLabel('Repeat password').fill(PASSWORD);
        await user.getByRole('button', { name: 'Create account' }).click();
        await user.waitForURL(/\/awaiting-approval/);
        shots.push(await shot(user, 'e2e-awaiting-approval'));

        // 3. The admin approves the pending account.
        await admin.goto(`${limen.url}/admin/users?status=pending`);
        const row = admin.locator(`tr[data-user="${USER}"]`);
        await row.waitFor();
        shots.push(await shot(admin, 'e2e-admin-users-pending'));
        await row.getByRole('button', { name: 'Approve' }).click();
        await row.waitFor({ state: 'detached' }); // no longer pending
        steps.mark('register, approve');

        // 4. The user signs in, creates a tiny VM in the dialog.
        await signIn(user, USER, PASSWORD);
        await user.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
        await user.getByText('You have no virtual machines yet').waitFor();
        await user.locator('[data-quota="vms"]').waitFor();
        shots.push(await shot(user, 'e2e-dashboard-empty'));
        await user.getByRole('button', { name: 'New virtual machine' }).first().click();
        const dialog = user.getByRole('dialog', { name: 'New virtual machine' });
        await dialog.getByLabel('Name').fill('e2e-vm');
        await dialog.getByLabel('vCPUs', { exact: true }).selectOption('1');
        await dialog.getByLabel('Memory', { exact: true }).selectOption('96');
        await dialog.getByLabel('Disk', { exact: true }).selectOption('1');
        assert.equal(await dialog.getByLabel('Installer ISO').locator('option:checked').innerText(), 'grub-rescue-cdrom.iso');
        shots.push(await shot(user, 'e2e-create-dialog'));
        await dialog.getByRole('button', { name: 'Create' }).click();
        await user.getByRole('heading', { level: 1, name: 'e2e-vm' }).waitFor();
        const uuid = /\/vms\/([0-9a-f-]{36})/.exec(user.url())?.[1];
        assert.ok(uuid, `VM page URL: ${user.url()}`);
        createdUuid = uuid;
        await user.locator('.vm-state-line [data-state="stopped"]').waitFor(LONG);
        steps.mark('sign in, create VM');

        // 5. Start: the state follows the event stream; the page is never reloaded.
        await user.evaluate(() => ((window as unknown as { e2eMarker: number }).e2eMarker = 1));
        await user.getByRole('button', { name: 'Start', exact: true }).click();
        await user.locator('.vm-state-line [data-state="running"]').waitFor(LONG);
        assert.equal(await user.evaluate(() => (window as unknown as { e2eMarker?: number }).e2eMarker), 1, 'no reload happened');
        await user.locator('[data-stat="cpu"]').waitFor(LONG); // stats of a running VM
        shots.push(await shot(user, 'e2e-vm-running'));
        steps.mark('start, running live');

        // 6. The console tab shows the guest's screen; one console session is open while it does.
        await user.getByRole('tab', { name: 'Console' }).click();
        await user.locator('.console[data-phase="connected"]').waitFor(LONG);
        const screen = await until('the guest screen (non-black canvas pixels)', async () => {
          const s = await sampleCanvas(user);
          return s && s.nonBlack > 500 ? s : null;
        }, 90_000);
        assert.ok(screen.width >= 320, `canvas ${screen.width}x${screen.height}`);
        shots.push(await shot(user, 'e2e-console-tab'));
        assert.equal(await metric(limen.url, 'console_active_sessions'), 1);
        steps.mark('console tab shows the guest');

        // 7. Snapshot (leaving the console tab ends its session).
        await user.getByRole('tab', { name: 'Snapshots' }).click();
        await until('console session closed', async () => (await metric(limen.url, 'console_active_sessions')) === 0, 30_000);
        await user.getByLabel('Snapshot name').fill('before-poweroff');
        await user.getByRole('button', { name: 'Take snapshot' }).click();
        await user.locator('tr[data-snapshot="before-poweroff"][data-state="ready"]').waitFor(LONG);
        shots.push(await shot(user, 'e2e-snapshots'));
        steps.mark('snapshot');

        // 8. Power off (asks first), then delete; the dashboard is empty and nothing is left.
        await user.getByRole('button', { name: 'Power off' }).click();
        await user.getByRole('dialog', { name: /Power off e2e-vm/ }).getByRole('button', { name: 'Power off' }).click();
        await user.locator('.vm-state-line [data-state="stopped"]').waitFor(LONG);
        await user.getByRole('button', { name: 'Delete', exact: true }).click();
        await user.getByRole('dialog', { name: /Delete e2e-vm/ }).getByRole('button', { name: 'Delete permanently' }).click();
        await user.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
        await user.getByText('You have no virtual machines yet').waitFor(LONG);
        shots.push(await shot(user, 'e2e-dashboard-after-delete'));
        // libvirt is shared with other suites: look for this VM only, in LIMEN and among libvirt's domains.
        let left = '';
        await until('the VM gone from LIMEN and libvirt', async () => {
          const all = await adminApi<{ items: { uuid: string; state: string }[]; orphans: { uuid: string }[] }>('/api/admin/vms');
          left = JSON.stringify([...all.items, ...all.orphans].filter((v) => v.uuid === uuid));
          return left === '[]';
        }, 60_000).catch((e: Error) => Promise.reject(new Error(`${e.message}; left: ${left}`)));
        createdUuid = undefined;
        steps.mark('power off, delete');

        // Only expected browser errors: none.
        for (const [who, log] of Object.entries(logs)) assert.deepEqual(log.errors, [], `${who} console errors:\n${log.errors.join('\n')}`);
      } catch (e) {
        shots.push(await shot(admin, 'e2e-FAILED-admin').catch(() => 'none'), await shot(user, 'e2e-FAILED-user').catch(() => 'none'));
        console.error(`browser console (admin):\n${logs['admin']?.all.join('\n')}\nbrowser console (user):\n${logs['user']?.all.join('\n')}\nserver output:\n${limen.output().slice(-6000)}`);
        throw e;
      } finally {
        console.log(`steps:\n${steps.report()}\nscreenshots (${ARTIFACTS}):\n${shots.join('\n')}`);
      }
    });
  });
});
