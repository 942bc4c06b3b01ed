/**
 * Debian's chromium (installed by scripts/e2e-setup.sh), driven by
 * playwright-core, which never downloads a browser of its own. Each context
 * gets a fresh temporary profile, removed when it closes.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Without the background-networking flags chromium reaches out to Google
 * hosts (component updates, sync, variations), which this network refuses and
 * which would show up as requests leaving the origin.
 */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export interface OpenedContext {
  context: BrowserContext;
  /** Close the browser, then remove its profile. */
  close(): Promise<void>;
}

export async function openContext(options: { httpCredentials?: { username: string; password: string } } = {}): Promise<OpenedContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: run npm run e2e:setup (or set CHROMIUM_PATH)`);
  const profile = mkdtempSync(join(tmpdir(), 'ogm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 700 },
    ...(options.httpCredentials !== undefined ? { httpCredentials: options.httpCredentials } : {}),
  });
  return {
    context,
    async close() {
      await context.close();
      // Chromium's helper processes may still be writing the profile for a moment.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
