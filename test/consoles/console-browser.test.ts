// The browser console end to end: a real LIMEN (`node bin/limen.js serve`) drives a real QEMU VM
// booted from the GRUB rescue ISO; Debian's Chromium opens `/console/{uuid}` (the SPA page built on
// @novnc/novnc). The canvas shows the guest (non-black pixels, screenshot kept), typing at the
// `grub>` prompt changes the screen, and console_active_sessions goes 0 → 1 → 0 when the page
// closes, and again when the browser is killed without a close frame. Powering the VM off shows
// the server's close reason instead of a reconnect loop. The VM is set up through the API (the UI
// journey is test/web/ui-e2e.test.ts).
import { strict as assert } from 'node:assert';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { recordConsole, withBrowser } from '../web/browser.js';
import type { LimenProcess } from '../web/limen-process.js';
import { ARTIFACTS, GRUB_ISO, Steps, chromiumPids, metric, realSkipReason, sampleCanvas, shot, startRealLimen, until } from '../web/real-ui.js';

const skip = realSkipReason();
const LONG = { timeout: 120_000 };
let limen: LimenProcess;
let token = '';
let uuid = '';

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${limen.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

const vmState = async () => (await api<{ state: string }>('GET', `/api/vms/${uuid}`)).state;
const sessions = () => metric(limen.url, 'console_active_sessions');

before(async () => {
  if (skip) return;
  limen = await startRealLimen();
  const login = await fetch(`${limen.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: limen.adminPassword }) });
  token = ((await login.json()) as { access_token: string }).access_token;
  const size = (await stat(GRUB_ISO)).size;
  const up = await fetch(`${limen.url}/api/admin/isos/grub-rescue.iso`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: createReadStream(GRUB_ISO) as unknown as BodyInit,
    duplex: 'half',
  } as RequestInit);
  const upText = await up.text();
  assert.equal(up.status, 201, upText);
  const iso = JSON.parse(upText) as { id: string };
  const vm = await api<{ uuid: string }>('POST', '/api/vms', { name: 'console-e2e', vcpus: 1, memory_mb: 96, disk_gb: 1, iso: iso.id, start: true });
  uuid = vm.uuid;
  await until('VM running', async () => (await vmState()) === 'running', 120_000, 500);
});

after(async () => {
  if (uuid) {
    await api('DELETE', `/api/vms/${uuid}`).catch(() => undefined);
    await until('VM deleted', async () => (await api<{ items: { uuid: string }[] }>('GET', '/api/admin/vms')).items.every((v) => v.uuid !== uuid), 60_000).catch(() => undefined);
  }
  await limen?.stop();
});

/** Sign in through the login page, which then continues to the console page. */
async function openConsole(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${limen.url}/login?next=${encodeURIComponent(`/console/${uuid}`)}`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(limen.adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.console[data-phase="connected"]').waitFor(LONG);
  return page;
}

test('/console/{uuid}: guest screen, keystrokes reach GRUB, sessions counted 0 → 1 → 0 (close, kill, VM stop)', { skip, timeout: 240_000 }, async () => {
  const steps = new Steps();
  const shots: string[] = [];
  try {
    assert.equal(await sessions(), 0);
    await withBrowser(async (ctx) => {
      const page = await openConsole(ctx);
      const log = recordConsole(page);
      steps.mark('sign in, console connected');

      const before = await until('non-black guest screen', async () => {
        const s = await sampleCanvas(page);
        return s && s.nonBlack > 500 ? s : null;
      }, 90_000);
      shots.push(await shot(page, 'console-page'));
      assert.equal(await sessions(), 1, 'one session while the page is open');
      steps.mark(`guest screen ${before.width}x${before.height}, ${before.nonBlack} lit pixels`);

      // The rescue CD shows GRUB's menu with a countdown: wait until the boot text settles (only the
      // countdown digit changes, a few pixels), then act before the countdown ends.
      const canvas = page.locator('[data-testid="console-screen"] canvas');
      const history: number[] = [];
      const menu = await until('the boot text to settle at the GRUB menu', async () => {
        const s = await sampleCanvas(page);
        if (!s) return null;
        history.push(s.nonBlack);
        const recent = history.slice(-3); // 1.5 s at 500 ms
        return recent.length === 3 && Math.max(...recent) - Math.min(...recent) < 200 ? s : null;
      }, 90_000, 500);

      // Keystrokes from the page reach the guest. `c` leaves the menu for GRUB's command line (a
      // mostly empty screen), then `help` fills it with the command list.
      await canvas.click();
      await page.keyboard.press('c');
      const prompt = await until('GRUB command line after pressing c', async () => {
        const s = await sampleCanvas(page);
        return s && s.nonBlack < menu.nonBlack * 0.7 ? s : null;
      }, 60_000, 300);
      shots.push(await shot(page, 'console-page-prompt'));
      await page.keyboard.type('help', { delay: 30 });
      await page.keyboard.press('Enter');
      const after = await until('GRUB to print its help after typing', async () => {
        const s = await sampleCanvas(page);
        return s && s.nonBlack > prompt.nonBlack * 1.5 ? s : null;
      }, 60_000, 300);
      shots.push(await shot(page, 'console-page-after-typing'));
      assert.notEqual(after.hash, prompt.hash);
      steps.mark(`c, help typed: lit pixels menu ${menu.nonBlack} → prompt ${prompt.nonBlack} → help ${after.nonBlack}`);

      // Closing the page closes the session.
      await page.close();
      await until('sessions back to 0 after closing the page', async () => (await sessions()) === 0, 30_000);
      assert.deepEqual(log.errors, [], log.errors.join('\n'));
      steps.mark('page closed → 0 sessions');
    });

    // A browser that dies (SIGKILL, no close frame) must not leave a session behind.
    await withBrowser(async (ctx, profile) => {
      await openConsole(ctx);
      await until('one session', async () => (await sessions()) === 1, 30_000);
      const pids = chromiumPids(profile);
      assert.ok(pids.length > 0, 'found the browser processes');
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await until('sessions back to 0 after the browser was killed', async () => (await sessions()) === 0, 60_000);
      steps.mark('browser killed → 0 sessions');
    });

    // Powering the VM off closes the console with a reason the page shows (no reconnect loop).
    await withBrowser(async (ctx) => {
      const page = await openConsole(ctx);
      await api('POST', `/api/vms/${uuid}/action`, { action: 'stop' });
      await page.locator('.console[data-phase="closed"], .notice').first().waitFor(LONG);
      await until('the stopped state or close reason shown', async () => {
        const text = await page.locator('main').innerText();
        return /is not running/i.test(text) ? text : null;
      }, 60_000);
      shots.push(await shot(page, 'console-page-vm-stopped'));
      await until('sessions back to 0 after the VM stopped', async () => (await sessions()) === 0, 30_000);
      steps.mark('VM stopped → reason shown, 0 sessions');
    });
  } finally {
    console.log(`steps:\n${steps.report()}\nscreenshots (${ARTIFACTS}):\n${shots.join('\n')}`);
  }
});
