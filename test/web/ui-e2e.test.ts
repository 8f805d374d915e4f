// The whole journey in Debian's Chromium against a real LIMEN (`node bin/limen.js serve`, built by
// `npm run build`) driving real QEMU through libvirt: the admin uploads the GRUB rescue ISO through
// the UI, a user registers, the admin approves, the user creates a tiny VM in the dialog, starts it
// and sees it run without a reload, watches its screen in the console tab, takes a snapshot, powers
// it off and deletes it — nothing is left. Screenshots of every page are kept; a failing step keeps
// its screenshot, both browser console logs and the server's output.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { recordConsole, withBrowser, type ConsoleLog } from './browser.js';
import type { LimenProcess } from './limen-process.js';
import { ARTIFACTS, GRUB_ISO, Steps, WEBHOOK_TOKEN, metric, pageShot, realSkipReason, sampleCanvas, shot, startRealLimen, until } from './real-ui.js';

const skip = realSkipReason();
const USER = 'e2e-alice';
const PASSWORD = 'plum orchard lantern 42';
const LONG = { timeout: 120_000 }; // QEMU under TCG on a loaded 2-core machine
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIALS9ekoui7vr9NFkUAnwErvMhXi1/AG70aQgzyrjuW8 e2e@laptop'; // a public key (its private half was thrown away)

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

async function adminApi<T>(path: string, method = 'GET', body?: object): Promise<T> {
  const login = await fetch(`${limen.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: limen.adminPassword }) });
  const { access_token } = (await login.json()) as { access_token: string };
  const headers: Record<string, string> = { authorization: `Bearer ${access_token}`, ...(body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(`${limen.url}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
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
        shots.push(await pageShot(admin, 'admin-isos'));
        steps.mark('admin signs in, uploads the ISO');

        // 2. A person registers and is told to wait for approval.
        await user.goto(`${limen.url}/register`);
        await user.getByLabel('Username').fill(USER);
        await user.getByLabel('Password', { exact: true }).fill(PASSWORD);
        await user.getByLabel('Repeat password').fill(PASSWORD);
        await user.getByRole('button', { name: 'Create account' }).click();
        await user.waitForURL(/\/awaiting-approval/);
        shots.push(await pageShot(user, 'awaiting-approval'));

        // 3. The admin approves the pending account.
        await admin.goto(`${limen.url}/admin/users?status=pending`);
        const row = admin.locator(`tr[data-user="${USER}"]`);
        await row.waitFor();
        shots.push(await pageShot(admin, 'admin-users'));
        await row.getByRole('button', { name: 'Approve' }).click();
        await row.waitFor({ state: 'detached' }); // no longer pending
        steps.mark('register, approve');

        // 4. The user signs in, creates a tiny VM in the dialog.
        await signIn(user, USER, PASSWORD);
        await user.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
        await user.getByText('You have no virtual machines yet').waitFor();
        await user.locator('[data-quota="vms"]').waitFor();
        shots.push(await pageShot(user, 'dashboard-empty'));
        await user.getByRole('button', { name: 'New virtual machine' }).first().click();
        const dialog = user.getByRole('dialog', { name: 'New virtual machine' });
        await dialog.getByLabel('Name').fill('e2e-vm');
        await dialog.getByLabel('vCPUs', { exact: true }).selectOption('1');
        await dialog.getByLabel('Memory', { exact: true }).selectOption('96');
        await dialog.getByLabel('Disk', { exact: true }).selectOption('1');
        assert.equal(await dialog.getByLabel('Installer ISO').locator('option:checked').innerText(), 'grub-rescue-cdrom.iso');
        shots.push(await pageShot(user, 'create-vm-dialog'));
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
        shots.push(await pageShot(user, 'vm-overview'));
        steps.mark('start, running live');

        // 6. The console tab shows the guest's screen; one console session is open while it does.
        await user.getByRole('tab', { name: 'Console' }).click();
        await user.locator('.console[data-phase="connected"]').waitFor(LONG);
        const screen = await until('the guest screen (non-black canvas pixels)', async () => {
          const s = await sampleCanvas(user);
          return s && s.nonBlack > 500 ? s : null;
        }, 90_000);
        assert.ok(screen.width >= 320, `canvas ${screen.width}x${screen.height}`);
        shots.push(await pageShot(user, 'vm-console'));
        assert.equal(await metric(limen.url, 'console_active_sessions'), 1);
        // The admin sees that session in the console sessions list.
        await admin.goto(`${limen.url}/admin/console-sessions`);
        await admin.locator('table').getByText(USER).waitFor();
        shots.push(await pageShot(admin, 'admin-console-sessions'));
        steps.mark('console tab shows the guest');

        // 7. Snapshot (leaving the console tab ends its session).
        await user.getByRole('tab', { name: 'Snapshots' }).click();
        await until('console session closed', async () => (await metric(limen.url, 'console_active_sessions')) === 0, 30_000);
        await user.getByLabel('Snapshot name').fill('before-poweroff');
        await user.getByRole('button', { name: 'Take snapshot' }).click();
        await user.locator('tr[data-snapshot="before-poweroff"][data-state="ready"]').waitFor(LONG);
        shots.push(await pageShot(user, 'vm-snapshots'));
        steps.mark('snapshot');

        // The other tabs: media & boot order, the VM's own audit rows; the dashboard card follows the VM.
        await user.getByRole('tab', { name: 'Media & boot' }).click();
        await user.getByRole('heading', { level: 2, name: 'Boot order' }).waitFor();
        shots.push(await pageShot(user, 'vm-media'));
        await user.getByRole('tab', { name: 'Activity' }).click();
        await user.locator('#panel-activity table').getByText('vm.start', { exact: true }).first().waitFor();
        shots.push(await pageShot(user, 'vm-activity'));
        await user.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard', exact: true }).click();
        await user.locator(`.vm-card[data-vm="${uuid}"] [data-state="running"]`).waitFor(LONG);
        shots.push(await pageShot(user, 'dashboard'));
        await user.getByRole('link', { name: 'Manage e2e-vm' }).click();
        steps.mark('media, activity, dashboard');

        // 8. Power off (asks first), then delete; the dashboard is empty and nothing is left.
        await user.getByRole('button', { name: 'Power off' }).click();
        await user.getByRole('dialog', { name: /Power off e2e-vm/ }).getByRole('button', { name: 'Power off' }).click();
        await user.locator('.vm-state-line [data-state="stopped"]').waitFor(LONG);
        steps.mark('power off');

        // The stopped VM becomes a template, which the create dialog then offers.
        await user.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Templates', exact: true }).click();
        await user.getByLabel('Stopped machine').selectOption({ label: 'e2e-vm' });
        await user.locator('#tpl-name').fill('e2e-base');
        await user.getByRole('button', { name: 'Make template' }).click();
        await user.locator('tr[data-template="e2e-base"][data-state="ready"]').waitFor(LONG);
        shots.push(await pageShot(user, 'templates'));
        await user.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard', exact: true }).click();
        await user.getByRole('button', { name: 'New virtual machine' }).first().click();
        await user.getByLabel('A template').check();
        assert.equal(await user.getByLabel('Template', { exact: true }).locator('option:checked').innerText(), 'e2e-base');
        shots.push(await pageShot(user, 'create-vm-from-template'));
        await user.getByRole('button', { name: 'Cancel' }).click();
        await user.getByRole('link', { name: 'Manage e2e-vm' }).click();
        await user.getByRole('heading', { level: 1, name: 'e2e-vm' }).waitFor();
        steps.mark('template from the VM, offered in the dialog');

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
        steps.mark('delete');

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

/** Run `body` with one signed-in page per person; a failure keeps a screenshot of each page and prints the browser console logs. */
async function withPeople(names: string[], label: string, body: (pages: Page[]) => Promise<void>, allowedError?: RegExp): Promise<void> {
  const open = async (i: number, pages: Page[], logs: ConsoleLog[]): Promise<void> => {
    if (i === names.length) {
      try {
        await body(pages);
        for (const [j, log] of logs.entries()) {
          const errors = log.errors.filter((e) => !allowedError?.test(e));
          assert.deepEqual(errors, [], `${names[j]} console errors:\n${errors.join('\n')}`);
        }
      } catch (e) {
        for (const [j, p] of pages.entries()) console.error(`screenshot: ${await shot(p, `${label}-FAILED-${names[j]}`).catch(() => 'none')}\nbrowser console (${names[j]}):\n${logs[j]?.all.join('\n')}`);
        console.error(`server output:\n${limen.output().slice(-4000)}`);
        throw e;
      }
      return;
    }
    await withBrowser(async (ctx) => {
      const page = await ctx.newPage();
      await open(i + 1, [...pages, page], [...logs, recordConsole(page)]);
    });
  };
  await open(0, [], []);
}

test('an admin lowers a quota and the user\'s create dialog reflects it', { skip, timeout: 240_000 }, async () => {
  const username = 'e2e-bob';
  const created = await adminApi<{ id: string }>('/api/admin/users', 'POST', { username, password: PASSWORD, role: 'user' });
  assert.ok(created.id, JSON.stringify(created));
  await withPeople(['admin', 'user'], 'quota', async ([admin, user]) => {
    const optionDisabled = (key: string, value: number) => user!.locator(`#vm-${key} option[value="${value}"]`).isDisabled();
    const openDialog = async () => {
      await user!.getByRole('button', { name: 'New virtual machine' }).first().click();
      await user!.locator('#vm-vcpus').waitFor();
    };

    // Before: the defaults (8 vCPUs, 16 GiB) allow 4 vCPUs and 4 GiB.
    await signIn(user!, username, PASSWORD);
    await user!.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await openDialog();
    assert.equal(await optionDisabled('vcpus', 4), false);
    assert.equal(await optionDisabled('memory_mb', 4096), false);
    assert.equal(await user!.locator('#vm-vcpus-left').innerText(), '8 left');
    await user!.getByRole('button', { name: 'Cancel' }).click();

    // The admin finds the user with the filter and lowers vCPUs to 2 and memory to 512 MiB.
    await signIn(admin!, 'admin', limen.adminPassword, `/admin/users?username=${username}`);
    const row = admin!.locator(`tr[data-user="${username}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: 'Quota' }).click();
    const dialog = admin!.getByRole('dialog', { name: `Quota of ${username}` });
    await dialog.getByLabel('vCPUs', { exact: true }).fill('2');
    await dialog.getByLabel('Memory', { exact: true }).fill('512');
    await dialog.getByRole('button', { name: 'Save (2 changed)' }).click();
    await dialog.getByText('Saved.').waitFor();
    await pageShot(admin!, 'admin-user-quota');

    // The user's dialog (no reload: it asks for the quota each time it opens) now holds only what fits.
    await openDialog();
    assert.equal(await optionDisabled('vcpus', 2), false);
    assert.equal(await optionDisabled('vcpus', 3), true, '3 vCPUs exceed the new limit of 2');
    assert.equal(await optionDisabled('memory_mb', 512), false);
    assert.equal(await optionDisabled('memory_mb', 1024), true, '1 GiB exceeds 512 MiB');
    assert.equal(await user!.locator('#vm-vcpus-left').innerText(), '2 left');
    assert.equal(await user!.locator('#vm-memory_mb-left').innerText(), '512 MiB left');
    assert.equal(await user!.locator('#vm-memory_mb').inputValue(), '512', 'the default size falls back to what fits');
    await user!.getByLabel('Name').fill('fits');
    assert.equal(await user!.getByRole('button', { name: 'Create', exact: true }).isDisabled(), false);
    await pageShot(user!, 'create-vm-dialog-lowered-quota');
    await user!.getByRole('button', { name: 'Cancel' }).click();

    // A VM limit of 0: the dialog says so and cannot create.
    await dialog.getByLabel('Virtual machines', { exact: true }).fill('0');
    await dialog.getByRole('button', { name: 'Save (1 changed)' }).click();
    // Saved: nothing differs from the stored limits any more.
    await dialog.getByRole('button', { name: 'Save', exact: true }).and(admin!.locator(':disabled')).waitFor();
    await openDialog();
    await user!.getByText('You have used all 0 of your virtual machines').waitFor();
    await user!.getByLabel('Name').fill('refused');
    assert.equal(await user!.getByRole('button', { name: 'Create', exact: true }).isDisabled(), true);
  });
});

test('every other page, one screenshot each; provision for a group; alerts and backups update live', { skip, timeout: 420_000 }, async () => {
  await adminApi('/api/admin/users', 'POST', { username: 'e2e-carol', password: PASSWORD, role: 'user' }); // a group member
  await adminApi('/api/admin/users', 'POST', { username: 'e2e-dave', password: PASSWORD, role: 'user' }); // and another
  await withPeople(['visitor', 'admin'], 'pages', async ([visitor, admin]) => {
    // Signed out: login and register.
    await visitor!.goto(`${limen.url}/`);
    await visitor!.getByRole('heading', { level: 1, name: 'Sign in to LIMEN' }).waitFor();
    await pageShot(visitor!, 'login');
    await visitor!.getByRole('link', { name: 'Register' }).click();
    await visitor!.getByLabel('Username').fill('someone');
    await visitor!.getByLabel('Password', { exact: true }).fill('someone');
    await pageShot(visitor!, 'register');

    await signIn(admin!, 'admin', limen.adminPassword, '/status');
    await admin!.getByRole('heading', { level: 1, name: 'Status' }).waitFor();
    await admin!.locator('.quota-value').first().waitFor();
    await pageShot(admin!, 'status');
    for (const [path, heading, name] of [
      ['/admin/quota-defaults', 'Quota defaults', 'admin-quota-defaults'],
      ['/admin/audit', 'Audit log', 'admin-audit'],
      ['/admin/hosts', 'Hosts', 'admin-hosts'],
    ] as const) {
      await admin!.getByRole('link', { name: heading, exact: true }).click();
      await admin!.waitForURL(`**${path}`);
      await admin!.getByRole('heading', { level: 1, name: heading }).waitFor();
      // The hosts page lists the default host (LIBVIRT_URI) with its live connection state.
      if (name === 'admin-hosts') await admin!.locator('tr[data-host="default"]').getByText('connected', { exact: true }).waitFor();
      await pageShot(admin!, name);
    }

    // Profile: an SSH key for cloud-init templates.
    await admin!.getByLabel('Account menu for admin').click();
    await admin!.getByRole('link', { name: 'Profile & SSH keys' }).click();
    await admin!.getByRole('heading', { level: 1, name: 'Your profile' }).waitFor();
    await admin!.getByLabel('Public key').fill(SSH_KEY);
    await admin!.getByRole('button', { name: 'Add key' }).click();
    await admin!.locator('tr[data-key="e2e@laptop"]').getByText('SHA256:', { exact: false }).waitFor();
    await pageShot(admin!, 'profile');

    // Groups: create a class, add a member, cap the group's machines.
    await admin!.getByRole('link', { name: 'Groups', exact: true }).click();
    await admin!.getByRole('heading', { level: 1, name: 'Groups' }).waitFor();
    await admin!.getByLabel('Name').fill('e2e-class');
    await admin!.getByLabel('Description').fill('Operating systems, autumn term');
    await admin!.getByRole('button', { name: 'Create group' }).click();
    await admin!.getByRole('heading', { level: 1, name: 'e2e-class' }).waitFor();
    await admin!.getByLabel('Add a member').selectOption({ label: 'e2e-carol' });
    await admin!.getByRole('button', { name: 'Add', exact: true }).click();
    await admin!.locator('tr[data-member="e2e-carol"]').waitFor();
    await admin!.locator('#group-quota-vms').fill('3');
    await admin!.getByRole('button', { name: 'Save (1 changed)' }).click();
    await admin!.getByText('Saved.').waitFor();
    await pageShot(admin!, 'admin-group');

    // Provision for group: one VM per member from a template shared with this group. With the
    // group capped at 1 machine the batch is refused as a whole (nothing created); at 3 it runs.
    await admin!.getByLabel('Add a member').selectOption({ label: 'e2e-dave' });
    await admin!.getByRole('button', { name: 'Add', exact: true }).click();
    await admin!.locator('tr[data-member="e2e-dave"]').waitFor();
    const groupId = /\/admin\/groups\/([0-9a-f-]{36})/.exec(admin!.url())![1]!;
    await importTemplate('e2e-class-base', groupId);
    await admin!.reload();
    const provisionForm = admin!.getByRole('form', { name: 'Provision for group' });
    // saved: nothing differs from the stored limits any more ("Saved." may still show from before)
    const savedQuota = () => admin!.getByRole('button', { name: 'Save', exact: true }).and(admin!.locator(':disabled')).waitFor();
    await provisionForm.getByLabel('Template').locator('option', { hasText: 'e2e-class-base' }).waitFor({ state: 'attached' });
    assert.equal(await provisionForm.getByLabel('vCPUs').inputValue(), '1', 'sizes start at the template minimums');
    assert.equal(await provisionForm.getByLabel('Name prefix').inputValue(), 'e2e-class');
    await provisionForm.getByLabel('Start each machine after it is created').uncheck();
    await admin!.locator('#group-quota-vms').fill('1');
    await admin!.getByRole('button', { name: 'Save (1 changed)' }).click();
    await savedQuota();
    await provisionForm.getByRole('button', { name: 'Provision 2 machines' }).click();
    await admin!.locator('[data-provision-refused="group"]').getByText('Refused as a whole: nothing was created.').waitFor();
    await pageShot(admin!, 'admin-group-provision-refused');
    assert.equal(await admin!.locator('tr[data-vm]').count(), 0, 'nothing was created');
    await admin!.locator('#group-quota-vms').fill('3');
    await admin!.getByRole('button', { name: 'Save (1 changed)' }).click();
    await savedQuota();
    await provisionForm.getByRole('button', { name: 'Provision 2 machines' }).click();
    await admin!.locator('[data-provision-state="succeeded"]').getByText('All 2 machines created.').waitFor(LONG);
    for (const member of ['e2e-carol', 'e2e-dave']) {
      await admin!.locator(`tr[data-provision-item="${member}"][data-state="succeeded"]`).waitFor();
      await admin!.locator(`tr[data-vm="e2e-class-${member}"]`).getByText(member, { exact: true }).waitFor(LONG);
    }
    assert.equal(await admin!.locator('tr[data-vm]').count(), 2, 'one VM per member');
    await pageShot(admin!, 'admin-group-provision');
    // The group's machines go with the bulk delete (it asks first).
    await admin!.getByRole('button', { name: 'Delete all' }).click();
    await admin!.getByRole('dialog', { name: 'Delete all?' }).getByRole('button', { name: 'Delete all' }).click();
    await admin!.locator('[data-bulk-result="delete"]').getByText('2 accepted, 0 failed.').waitFor(LONG);
    await until('the group\'s machines deleted', async () => (await adminApi<{ total: number }>(`/api/admin/groups/${groupId}/vms`)).total === 0, 120_000);
    await admin!.getByRole('link', { name: 'Groups', exact: true }).first().click();
    await admin!.locator('tr[data-group="e2e-class"]').getByText('VMs 3').waitFor();
    await pageShot(admin!, 'admin-groups');

    // Alerts: a delivery from Alertmanager appears, then resolves, without a reload.
    await admin!.getByRole('link', { name: 'Alerts', exact: true }).click();
    await admin!.getByRole('heading', { level: 1, name: 'Alerts' }).waitFor();
    await admin!.locator('[data-live="live"]').waitFor();
    await admin!.evaluate(() => ((window as unknown as { e2eMarker: number }).e2eMarker = 2));
    const alert = { status: 'firing', labels: { alertname: 'HighHostCPUUsage', severity: 'warning', instance: 'limen' }, annotations: { summary: 'Host CPU above 90 % for 10 minutes' }, startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus/graph', fingerprint: 'e2e0000000000001' };
    await webhook([alert]);
    await admin!.locator('tr[data-alert="HighHostCPUUsage"][data-status="firing"]').waitFor();
    await pageShot(admin!, 'admin-alerts');
    await webhook([{ ...alert, status: 'resolved', endsAt: new Date().toISOString() }]);
    await admin!.locator('tr[data-alert="HighHostCPUUsage"][data-status="resolved"]').waitFor();
    assert.equal(await admin!.evaluate(() => (window as unknown as { e2eMarker?: number }).e2eMarker), 2, 'no reload happened');

    // Backups: run one; its row turns completed by itself.
    await admin!.getByRole('link', { name: 'Backups', exact: true }).click();
    await admin!.getByRole('heading', { level: 1, name: 'Backups' }).waitFor();
    await admin!.getByRole('button', { name: 'Run backup now' }).click();
    await admin!.locator('.badge-backup-completed').first().waitFor({ timeout: 180_000 });
    await pageShot(admin!, 'admin-backups');

    // "Log out everywhere" in another browser ends this one's session too: its next request
    // leads to the login page, which remembers where the admin was and returns there.
    await signIn(visitor!, 'admin', limen.adminPassword);
    await visitor!.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
    await visitor!.getByLabel('Account menu for admin').click();
    await visitor!.getByRole('button', { name: 'Log out everywhere' }).click();
    await visitor!.waitForURL(/\/login/);
    await admin!.getByRole('link', { name: 'Alerts', exact: true }).click();
    await admin!.waitForURL(/\/login\?next=%2Fadmin%2F(alerts|backups)/);
    const remembered = decodeURIComponent(/next=([^&]+)/.exec(admin!.url())![1]!);
    await admin!.getByText('Your session ended').waitFor();
    await admin!.getByLabel('Username').fill('admin');
    await admin!.getByLabel('Password').fill(limen.adminPassword);
    await admin!.getByRole('button', { name: 'Sign in' }).click();
    await admin!.waitForURL(`**${remembered}`);
    // expected in the browser log: the refused provision (403 QUOTA_EXCEEDED) and the ended session (401)
  }, /401 \(Unauthorized\)|403 \(Forbidden\)/);
});

/** A template shared with one group, imported as an (empty) 1 GiB qcow2 image through the API. */
async function importTemplate(name: string, groupId: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-template-'));
  try {
    const img = join(dir, 'base.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '1G']);
    const login = await fetch(`${limen.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: limen.adminPassword }) });
    const { access_token } = (await login.json()) as { access_token: string };
    const q = new URLSearchParams({ name, cloud_init: 'false', visibility: 'group', group_id: groupId });
    const res = await fetch(`${limen.url}/api/templates/import?${q}`, { method: 'POST', headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/octet-stream' }, body: readFileSync(img) });
    assert.equal(res.status, 201, await res.text());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function webhook(alerts: object[]): Promise<void> {
  const status = alerts.some((a) => (a as { status: string }).status === 'firing') ? 'firing' : 'resolved';
  const res = await fetch(`${limen.url}/api/alerts/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${WEBHOOK_TOKEN}` },
    body: JSON.stringify({ version: '4', groupKey: '{}:{}', truncatedAlerts: 0, status, receiver: 'limen-warning', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://alertmanager', alerts }),
  });
  assert.equal(res.status, 200, await res.text());
}
