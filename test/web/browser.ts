// Chromium for UI tests: Debian's /usr/bin/chromium driven by playwright-core, with a fresh
// profile each time. Never lets playwright download a browser.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.LIMEN_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Whether the browser tests can run. Under LIMEN_TEST_REAL=1 (npm test) a missing Chromium is a
 * failure, never a skip; elsewhere the caller skips with this reason.
 */
export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const reason = `${CHROMIUM_PATH} not found (apt-get install chromium)`;
  if (process.env.LIMEN_TEST_REAL === '1') throw new Error(`LIMEN_TEST_REAL=1 but ${reason}`);
  return reason;
}

/** Launch Chromium with a throwaway profile, run `fn`, and always close and delete the profile. */
export async function withBrowser<T>(fn: (ctx: BrowserContext, profileDir: string) => Promise<T>): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'limen-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    viewport: { width: 1366, height: 860 }, // a common laptop screen
  });
  try {
    return await fn(ctx, profile);
  } finally {
    await ctx.close().catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
  }
}

export interface ConsoleLog { errors: string[]; all: string[] }

/** Record the page's console and uncaught errors, so a test can assert there were none and print them if there were. */
export function recordConsole(page: Page): ConsoleLog {
  const log: ConsoleLog = { errors: [], all: [] };
  page.on('console', (m) => {
    const line = `[${m.type()}] ${m.text()}`;
    log.all.push(line);
    if (m.type() === 'error') log.errors.push(line);
  });
  page.on('pageerror', (e) => {
    const line = `[pageerror] ${e.message}`;
    log.all.push(line);
    log.errors.push(line);
  });
  return log;
}
