// Helpers for the browser tests against a real LIMEN driving real QEMU (ui-e2e.test.ts and
// test/consoles/console-browser.test.ts): the skip/fail rule, the server, metrics, canvas reads,
// step timings, and screenshots kept as artefacts.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { chromiumSkipReason } from './browser.js';
import { startLimen, type LimenProcess } from './limen-process.js';

export const GRUB_ISO = '/usr/lib/grub-rescue/grub-rescue-cdrom.iso';
/**
 * Where the browser tests keep screenshots: `.state/test/artifacts/ui/` in the checkout (npm test
 * empties .state/test at its start, so the folder holds the last run), or LIMEN_TEST_ARTIFACTS.
 */
export const ARTIFACTS = process.env.LIMEN_TEST_ARTIFACTS ?? join(import.meta.dirname, '..', '..', '.state', 'test', 'artifacts', 'ui');
/** One screenshot per page of the UI (docs/ui.md lists them): `pages/<page>.png`. */
export const PAGE_SHOTS = join(ARTIFACTS, 'pages');
/** The webhook bearer token of the LIMEN the browser tests start (they post Alertmanager payloads). */
export const WEBHOOK_TOKEN = 'ui-e2e-webhook-token-0123456789abcdef';
const LIBVIRT_URI = process.env.LIMEN_TEST_LIBVIRT_URI;

/** Why the real tests cannot run here; under LIMEN_TEST_REAL=1 a missing piece throws instead (never a silent skip). */
export function realSkipReason(): string | undefined {
  const browser = chromiumSkipReason();
  if (browser) return browser;
  const missing = !LIBVIRT_URI ? 'LIMEN_TEST_LIBVIRT_URI is not set (scripts/test.sh starts libvirt)' : !existsSync(GRUB_ISO) ? `${GRUB_ISO} is missing (apt-get install grub-rescue-pc)` : undefined;
  if (missing && process.env.LIMEN_TEST_REAL === '1') throw new Error(`LIMEN_TEST_REAL=1 but ${missing}`);
  return missing;
}

/** A LIMEN on real libvirt with TCG guests (nested KVM is slower than TCG on these machines). */
export async function startRealLimen(): Promise<LimenProcess> {
  mkdirSync(PAGE_SHOTS, { recursive: true });
  return startLimen({ env: { LIBVIRT_URI: LIBVIRT_URI ?? '', LIMEN_VM_ACCEL: 'tcg', LOG_LEVEL: 'warn', LIMEN_ALERT_WEBHOOK_TOKEN: WEBHOOK_TOKEN }, timeoutMs: 180_000 }); // a loaded shared machine can take minutes to start a server
}

/** Poll `fn` until it returns a truthy value (no fixed sleeps); the last value or error is in the failure message. */
export async function until<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 60_000, everyMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The value of a gauge without labels in /api/metrics. */
export async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/api/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Step timings printed at the end, so a slow run shows where the time went. */
export class Steps {
  private readonly t0 = Date.now();
  private last = this.t0;
  readonly lines: string[] = [];
  mark(name: string): void {
    const now = Date.now();
    this.lines.push(`${name}: ${((now - this.last) / 1000).toFixed(1)} s`);
    this.last = now;
  }
  report(): string {
    return `${this.lines.join('\n')}\ntotal: ${((Date.now() - this.t0) / 1000).toFixed(1)} s`;
  }
}

/** Screenshot into the artefact dir and return its path. */
export async function shot(page: Page, name: string): Promise<string> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The screenshot of one UI page (`pages/<name>.png`, the file docs/ui.md names), once the page has settled. */
export async function pageShot(page: Page, name: string): Promise<string> {
  mkdirSync(PAGE_SHOTS, { recursive: true });
  // A page still fetching shows its loading state; wait until no "Loading…" text is left.
  await page.locator('text=/^Loading/').first().waitFor({ state: 'detached', timeout: 30_000 }).catch(() => undefined);
  const path = join(PAGE_SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface CanvasSample { width: number; height: number; nonBlack: number; hash: string }

/** Read the noVNC canvas in the page: size, how many sampled pixels are not black, and a hash of all pixels. */
export async function sampleCanvas(page: Page): Promise<CanvasSample | null> {
  return page.evaluate(() => {
    const c = document.querySelector<HTMLCanvasElement>('[data-testid="console-screen"] canvas');
    if (!c || c.width === 0 || c.height === 0) return null;
    const ctx = c.getContext('2d');
    if (!ctx) return null;
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    let nonBlack = 0;
    let h = 2166136261; // FNV-1a over every pixel
    for (let i = 0; i < data.length; i += 4) {
      if (data[i]! > 16 || data[i + 1]! > 16 || data[i + 2]! > 16) nonBlack += 1;
      h = Math.imul(h ^ data[i]!, 16777619) ^ data[i + 1]! ^ (data[i + 2]! << 8);
    }
    return { width: c.width, height: c.height, nonBlack, hash: (h >>> 0).toString(16) };
  });
}

/** PIDs of a Chromium whose command line names `profileDir` (its own throwaway profile: only processes this test started). */
export function chromiumPids(profileDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(profileDir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
