#!/usr/bin/env node
// npm run screenshot: regenerates docs/status-page.png, the README's picture of
// the status page, from the real demo (examples/demo.js): starts the demo,
// opens the status page URL it prints in Debian's chromium (npm run e2e:setup
// installs it), lets the page poll for a while so that the latency history has
// a shape, and saves a screenshot of the page.
//
//   node scripts/screenshot.mjs [--seconds 30] [--out docs/status-page.png]
//
// Env CHROMIUM_PATH overrides /usr/bin/chromium.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const SECONDS = Number(arg('seconds', '30'));
const OUT = resolve(ROOT, arg('out', 'docs/status-page.png'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Same flags as the browser spec (spec/helpers/browser.ts): without the
// background-networking ones chromium calls Google hosts.
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

if (!existsSync(CHROMIUM)) {
  console.error(`no chromium at ${CHROMIUM}: run npm run e2e:setup (or set CHROMIUM_PATH)`);
  process.exit(1);
}

// The demo runs a little longer than the page watches it.
const demo = spawn(process.execPath, [join(ROOT, 'examples', 'demo.js'), '--duration', String(SECONDS + 30), '--metrics-port', '0'], {
  cwd: ROOT,
  env: { ...process.env, OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const statusUrl = await new Promise((resolveUrl, reject) => {
  let buf = '';
  demo.stdout.on('data', d => {
    buf += d;
    const m = /^status:\s+(\S+)/m.exec(buf);
    if (m) resolveUrl(m[1]);
  });
  demo.once('exit', code => reject(new Error(`the demo exited (${code}) before printing the status URL`)));
});
demo.stdout.resume();
console.log(`status page: ${statusUrl}; watching for ${SECONDS} s`);

const profile = mkdtempSync(join(tmpdir(), 'ogm-screenshot-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1000, height: 420 }, deviceScaleFactor: 1,
});
try {
  const page = await context.newPage();
  await page.goto(statusUrl);
  await page.waitForTimeout(SECONDS * 1000);
  await page.screenshot({ path: OUT, fullPage: true });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  demo.kill('SIGINT');
  await new Promise(r => (demo.exitCode !== null ? r() : demo.once('exit', r)));
}
console.log(`wrote ${OUT} (${statSync(OUT).size} bytes)`);
