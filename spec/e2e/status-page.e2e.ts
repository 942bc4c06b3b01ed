/// <reference lib="dom" />
/**
 * Issue #15: the live status page, in a real browser (Debian's chromium driven
 * by playwright-core; npm run e2e:setup installs it).
 *
 * A real registration on 127.0.0.1 with basic auth records a known mix: one
 * fast node, one slow node (p95 > 1 s), one erroring node (20 % errors), one
 * node reported down, and one whose name is markup. The page is read through
 * the DOM the browser built, and compared with what GET /stats answers.
 */
import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { register, type GatewayOtel, type GatewayStats } from '../../lib';
import { openContext, type OpenedContext } from '../helpers/browser';
import { cleanEnv } from '../helpers/env';
import { colourStats, decodePng } from '../helpers/png';

const USER = 'ops';
const PASSWORD = 'pa55-word';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const XSS = '<img src=x onerror=alert(1)>';
const BAD = ['node-down', 'node-errors', 'node-slow']; // worst first: down, then errors, then slow

function recordMix(o: GatewayOtel, fastCalls = 40): void {
  const m = o.metrics;
  for (let i = 0; i < fastCalls; i++) m.record({ node: 'node-fast', transport: 'http', status: 'success', durationSeconds: 0.004 + i * 0.0005 });
  for (let i = 0; i < 20; i++) m.record({ node: 'node-slow', transport: 'http', status: 'success', durationSeconds: 1.1 + i * 0.05 });
  for (let i = 0; i < 30; i++) {
    const failed = i % 5 === 0;
    m.record({ node: 'node-errors', transport: 'http', status: failed ? 'error' : 'success', durationSeconds: failed ? 0.05 : 0.03, ...(failed ? { errorType: 'http_5xx' } : {}) });
    if (failed) {
      m.recordFallback({ node: 'node-errors', from: 'http', to: 'exec' });
      m.record({ node: 'node-errors', transport: 'exec', status: 'success', durationSeconds: 0.2 });
    }
  }
  for (let i = 0; i < 10; i++) m.record({ node: 'node-down', transport: 'exec', status: 'success', durationSeconds: 0.15 });
  for (let i = 0; i < 5; i++) m.record({ node: XSS, transport: 'http', status: 'success', durationSeconds: 0.01 });
  m.setNodeUp('node-fast', true);
  m.setNodeUp('node-slow', true);
  m.setNodeUp('node-down', false);
}

interface PageNode {
  name: string;
  flagged: boolean;
  flags: string;
  marker: string;
  rows: { transport: string; requests: string; rate: string; errors: string; p95: string; p95Bad: boolean; fallbacks: string }[];
  tools: { name: string; requests: string; errors: string; errorsBad: boolean }[];
}

function readNodes(page: Page): Promise<PageNode[]> {
  return page.$$eval('#nodes tbody.node', bodies => bodies.map(b => ({
    name: b.querySelector('.name')!.textContent!,
    flagged: b.classList.contains('flagged'),
    flags: b.getAttribute('data-flags')!,
    marker: b.querySelector('.marker')!.textContent!,
    rows: Array.from(b.querySelectorAll('tr.series')).map(tr => ({
      transport: tr.querySelector('.transport')!.textContent!,
      requests: tr.querySelector('.requests')!.textContent!,
      rate: tr.querySelector('.rate')!.textContent!,
      errors: tr.querySelector('.errors')!.textContent!,
      p95: tr.querySelector('.p95')!.textContent!,
      p95Bad: tr.querySelector('.p95')!.classList.contains('bad'),
      fallbacks: tr.querySelector('.fallbacks')!.textContent!,
    })),
    tools: Array.from(b.querySelectorAll('tr.tool')).map(tr => ({
      name: tr.querySelector('.transport')!.textContent!,
      requests: tr.querySelector('.requests')!.textContent!,
      errors: tr.querySelector('.errors')!.textContent!,
      errorsBad: tr.querySelector('.errors')!.classList.contains('bad'),
    })),
  })));
}

/** "2.42 s" / "243 ms" / "7.5 ms" → seconds, and half of the last displayed digit. */
function displayed(text: string): { value: number; halfStep: number } {
  const m = /^([0-9.]+) (ms|s)$/.exec(text);
  if (m === null) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  const decimals = m[1]!.includes('.') ? m[1]!.split('.')[1]!.length : 0;
  const scale = m[2] === 'ms' ? 0.001 : 1;
  return { value: Number(m[1]) * scale, halfStep: (0.5 * 10 ** -decimals) * scale };
}

const count = (s: string) => Number(s.replace(/,/g, ''));

describe('status page in a real browser (issue #15)', function () {
  this.timeout(60_000);
  let restoreEnv: () => void;
  let otel: GatewayOtel;
  let base: string;
  let origin: string;
  let browser: OpenedContext;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const dialogs: string[] = [];
  let shotDir: string;

  const polls = () => page.evaluate(() => Number(document.body.getAttribute('data-polls')));
  const waitPolls = (n: number) => page.waitForFunction(k => Number(document.body.getAttribute('data-polls')) >= k, n, { timeout: 15_000 });
  const stats = async (): Promise<GatewayStats> => (await (await fetch(`${base}stats`, { headers: { authorization: AUTH } })).json()) as GatewayStats;

  before(async () => {
    restoreEnv = cleanEnv();
    otel = register({
      runtimeMetrics: false,
      processMetrics: false,
      // The known mix only: the browser process the driver starts, and its
      // connection to it, would be nodes too.
      http: false,
      exec: false,
      prometheus: { host: '127.0.0.1', port: 0, auth: { username: USER, password: PASSWORD } },
    });
    await otel.ready;
    base = otel.prometheusUrl!.replace(/metrics$/, '');
    origin = new URL(base).origin;
    recordMix(otel);
    shotDir = mkdtempSync(join(tmpdir(), 'ogm-status-shot-'));
    browser = await openContext({ httpCredentials: { username: USER, password: PASSWORD } });
    context = browser.context;
    page = await context.newPage();
    // Every request the page makes: the document, its script's fetches, and any subresource.
    page.on('request', r => requests.push(r.url()));
    page.on('console', msg => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', err => pageErrors.push(err.message));
    page.on('dialog', d => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const res = await page.goto(base);
    expect(res!.status()).to.equal(200);
    await waitPolls(1);
  });

  after(async () => {
    await browser?.close();
    await otel?.shutdown();
    restoreEnv?.();
    if (shotDir !== undefined) rmSync(shotDir, { recursive: true, force: true });
  });

  it('shows every node, the bad three flagged (text marker and colour) and first, worst first', async () => {
    const nodes = await readNodes(page);
    expect(nodes.map(n => n.name).sort()).to.deep.equal(['node-down', 'node-errors', 'node-fast', 'node-slow', XSS].sort());
    expect(nodes.filter(n => n.flagged).map(n => n.name)).to.deep.equal(BAD);
    expect(nodes.slice(0, 3).map(n => n.name)).to.deep.equal(BAD);
    const byName = new Map(nodes.map(n => [n.name, n]));
    expect(byName.get('node-down')!.flags).to.equal('down');
    expect(byName.get('node-down')!.marker).to.include('DOWN');
    expect(byName.get('node-errors')!.flags).to.equal('errors');
    expect(byName.get('node-errors')!.marker).to.include('ERRORS');
    expect(byName.get('node-slow')!.flags).to.equal('slow');
    expect(byName.get('node-slow')!.marker).to.include('SLOW');
    for (const ok of ['node-fast', XSS]) {
      expect(byName.get(ok)!.flags).to.equal('');
      expect(byName.get(ok)!.marker).to.include('OK');
    }
    // Colour, too: the flagged groups' header rows are not painted like the OK ones.
    const headColours = await page.$$eval('#nodes tbody.node tr.head th', ths => ths.map(th => getComputedStyle(th).borderLeftColor));
    expect(new Set(headColours.slice(0, 3)).has(headColours[4]!)).to.equal(false);
    expect(await page.$eval('[data-total="flagged"] .v', e => e.textContent)).to.equal('3');
    // The erroring node's row: 6 of 30 attempts failed, each followed by one fallback.
    const errorsHttp = byName.get('node-errors')!.rows.find(r => r.transport === 'http')!;
    expect(errorsHttp.errors).to.equal('20.0 %');
    expect(errorsHttp.fallbacks).to.equal('6');
  });

  it('shows the slow node’s p95 as /stats has it, within display rounding', async () => {
    const s = await stats();
    const want = s.series.find(x => x.node === 'node-slow' && x.transport === 'http')!.latency.p95!;
    expect(want).to.be.above(1);
    const row = (await readNodes(page)).find(n => n.name === 'node-slow')!.rows[0]!;
    const shown = displayed(row.p95);
    expect(Math.abs(shown.value - want), `${row.p95} vs ${want}`).to.be.at.most(shown.halfStep + 1e-12);
    expect(row.p95Bad).to.equal(true);
    // Every other p95 on the page too.
    for (const n of await readNodes(page)) {
      for (const r of n.rows) {
        const p95 = s.series.find(x => x.node === n.name && x.transport === r.transport)!.latency.p95!;
        const d = displayed(r.p95);
        expect(Math.abs(d.value - p95), `${n.name}/${r.transport}`).to.be.at.most(d.halfStep + 1e-12);
      }
    }
  });

  it('moves the counts between two reads, and shows a request rate', async () => {
    const before = (await readNodes(page)).find(n => n.name === 'node-fast')!.rows[0]!;
    const totalBefore = count((await page.$eval('[data-total="requests"] .v', e => e.textContent))!);
    expect(count(before.requests)).to.equal(40);
    for (let i = 0; i < 7; i++) otel.metrics.record({ node: 'node-fast', transport: 'http', status: 'success', durationSeconds: 0.01 });
    // The poll in progress may have collected before these records: wait for the one after it.
    await waitPolls((await polls()) + 2);
    const after = (await readNodes(page)).find(n => n.name === 'node-fast')!.rows[0]!;
    const totalAfter = count((await page.$eval('[data-total="requests"] .v', e => e.textContent))!);
    expect(count(after.requests)).to.equal(47);
    expect(totalAfter - totalBefore).to.equal(7);
    expect(after.rate).to.match(/^[0-9.]+$/);
  });

  it('renders a node named like markup as text', async () => {
    const names = await page.$$eval('#nodes .name', els => els.map(e => ({ text: e.textContent, children: e.children.length })));
    expect(names).to.deep.include({ text: XSS, children: 0 });
    expect(await page.$$eval('img', imgs => imgs.length)).to.equal(0);
    expect(dialogs).to.deep.equal([]);
  });

  it('shows per-tool rows under their node, read from a stats URL the app configures (statusHandler)', async () => {
    // The app mounts the page at /ops/status; with the default statsUrl
    // ('stats') it reads the sibling /ops/stats, here the app's own route that
    // adds per-tool entries to the stats (the shape a per-tool producer gives).
    const app = http.createServer((req, res) => {
      if (req.url === '/ops/status') return otel.statusHandler(req, res);
      if (req.url === '/ops/stats') {
        void otel.stats().then(s => {
          const series = s.series.find(x => x.node === 'node-fast' && x.transport === 'http')!;
          Object.assign(series, {
            tools: [
              { tool: 'search', requests: 3, errors: 0, errorRate: 0, inFlight: 0, latency: { p50: 0.01, p95: 0.02, p99: 0.02 } },
              { tool: 'fetch', requests: 4, errors: 2, errorRate: 0.5, inFlight: 1, latency: { p50: 0.02, p95: 0.04, p99: 0.04 } },
            ],
          });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(s));
        });
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>(r => app.listen(0, '127.0.0.1', r));
    const appBase = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const tab = await context.newPage();
    const tabErrors: string[] = [];
    const tabRequests: string[] = [];
    tab.on('request', r => tabRequests.push(r.url()));
    tab.on('console', msg => void (msg.type() === 'error' && tabErrors.push(msg.text())));
    tab.on('pageerror', err => tabErrors.push(err.message));
    try {
      expect((await fetch(`${appBase}/ops/status`)).status).to.equal(401);
      expect((await tab.goto(`${appBase}/ops/status`))!.status()).to.equal(200);
      await tab.waitForFunction(() => document.querySelectorAll('tr.tool').length > 0, undefined, { timeout: 15_000 });
      const fast = (await readNodes(tab)).find(n => n.name === 'node-fast')!;
      expect(fast.tools).to.deep.equal([
        { name: '\u21B3 search', requests: '3', errors: '0.0 %', errorsBad: false },
        { name: '\u21B3 fetch', requests: '4', errors: '50.0 %', errorsBad: true },
      ]);
      expect(tabErrors).to.deep.equal([]);
      expect(new Set(tabRequests.map(u => new URL(u).origin))).to.deep.equal(new Set([appBase]));
      expect(new Set(tabRequests.map(u => new URL(u).pathname))).to.deep.equal(new Set(['/ops/status', '/ops/stats']));
    } finally {
      await tab.close();
      app.closeAllConnections();
      await new Promise(r => app.close(r));
    }
  });

  it('asks for basic credentials: 401 without them, the data with them', async () => {
    for (const path of ['', 'stats']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.equal('Basic realm="metrics", charset="UTF-8"');
      expect(await res.text()).to.equal('Unauthorized\n');
    }
    const withCreds = await fetch(base, { headers: { authorization: AUTH } });
    expect(withCreds.status).to.equal(200);
    expect(withCreds.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    // A browser that has no credentials to give gets the 401 and no page:
    // playwright answers the challenge by cancelling it, so the navigation fails.
    const anonymous = await openContext();
    try {
      const p = await anonymous.context.newPage();
      const statuses: number[] = [];
      const asked: string[] = [];
      p.on('response', r => statuses.push(r.status()));
      p.on('request', r => asked.push(new URL(r.url()).pathname));
      let failure = '';
      const res = await p.goto(base).catch((err: Error) => {
        failure = err.message;
        return null;
      });
      expect(res === null ? failure : res.status()).to.satisfy((v: string | number) => v === 401 || /ERR_INVALID_AUTH_CREDENTIALS/.test(String(v)));
      expect(statuses).to.deep.equal([401]);
      // No page ran: nothing polled the stats within a poll period.
      await new Promise(r => setTimeout(r, 2500));
      expect(asked).to.deep.equal(['/']);
    } finally {
      await anonymous.close();
    }
    // The authenticated page got its data.
    expect((await readNodes(page)).length).to.equal(5);
  });

  it('made no request to another origin, and logged no console error', async () => {
    expect(requests.length).to.be.at.least(3);
    expect(requests.filter(u => new URL(u).origin !== origin)).to.deep.equal([]);
    const own = requests.filter(u => new URL(u).origin === origin).map(u => new URL(u).pathname);
    expect(new Set(own)).to.deep.equal(new Set(['/', '/stats']));
    expect(consoleErrors).to.deep.equal([]);
    expect(pageErrors).to.deep.equal([]);
  });

  it('saves a screenshot that is not blank', async () => {
    const file = join(shotDir, 'status-page.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).to.be.above(5000);
    const img = decodePng(readFileSync(file));
    expect(img.width).to.equal(1100);
    expect(img.height).to.be.at.least(300);
    const { distinct, dominantShare } = colourStats(img);
    // Text (anti-aliased), the flag colours and the sparklines: hundreds of
    // colours; a blank or error page has a handful.
    expect(distinct).to.be.above(50);
    expect(dominantShare).to.be.below(0.9);
  });
});
