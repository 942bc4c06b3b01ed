import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { semconv, type HttpPathOptions } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { HttpPath } from '../lib/paths/http';
import { captureDiag, type Captured } from './helpers/diag';
import { eventually } from './helpers/eventually';
import { harness, histogram, point, points, total, type Harness } from './helpers/metrics';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;

/** A real agent: /ok, /slow-body (headers now, body end after 150 ms), /503, /404, /chunked. */
async function agent(): Promise<{ server: http.Server; port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/slow-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part;');
        setTimeout(() => res.end('end'), 150);
      } else if (req.url === '/503') res.writeHead(503).end('unavailable');
      else if (req.url === '/404') res.writeHead(404).end('missing');
      else if (req.url === '/chunked') {
        res.writeHead(200);
        res.write('a'.repeat(1000));
        res.end('b'.repeat(234));
      } else if (req.url === '/hang') {
        // never answers
      } else res.writeHead(200, { 'content-length': '2' }).end('ok');
    });
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise(r => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>(r => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>(r => s.close(() => r()));
  return port;
}

function get(url: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: body ? 'POST' : 'GET' }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', d => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('automatic HTTP path (diagnostics channels)', () => {
  let h: Harness;
  let path: HttpPath;
  let srv: Awaited<ReturnType<typeof agent>>;
  let diag: Captured;

  function enable(http: HttpPathOptions): void {
    path = new HttpPath(h.metrics, resolveConfig({ http }, {}).http!);
    path.enable();
  }

  beforeEach(async () => {
    diag = captureDiag();
    h = harness();
    srv = await agent();
  });
  afterEach(async () => {
    path?.disable();
    await srv.close();
    await h.shutdown();
    diag.restore();
  });

  it('times http.request to the end of the response body, with transport="http"', async () => {
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'node-a' } });
    const r = await get(`http://127.0.0.1:${srv.port}/slow-body`);
    expect(r.text).to.equal('part;end');
    const rm = await h.collect();
    const hist = histogram(rm, D, { node: 'node-a', transport: 'http', status: 'success' });
    expect(hist.count).to.equal(1);
    expect(hist.sum).to.be.at.least(0.14);
    expect(point(rm, A, { node: 'node-a' }).value).to.equal(0);
    expect(points(rm, E)).to.have.length(0);
  });

  it('times fetch, including a 503 (http_5xx, status class on the errors counter only)', async () => {
    enable({ nodeFor: (url: URL) => (url.port === String(srv.port) ? `node-${url.pathname.slice(1)}` : undefined) });
    expect((await fetch(`http://127.0.0.1:${srv.port}/ok`)).status).to.equal(200);
    const r = await fetch(`http://127.0.0.1:${srv.port}/503`);
    expect(r.status).to.equal(503);
    expect(await r.text()).to.equal('unavailable');
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'node-ok', status: 'success' }).count).to.equal(1);
    expect(point(rm, D, { node: 'node-503' }).attributes).to.deep.equal({ node: 'node-503', transport: 'http', status: 'error' });
    expect(point(rm, E, { node: 'node-503' }).attributes).to.deep.equal({
      node: 'node-503', transport: 'http', 'error.type': 'http_5xx', 'http.response.status_code_class': '5xx',
    });
  });

  it('times fetch of a slow body to its end', async () => {
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'n' } });
    const res = await fetch(`http://127.0.0.1:${srv.port}/slow-body`);
    expect(await res.text()).to.equal('part;end');
    expect(histogram(await h.collect(), D, { node: 'n' }).sum).to.be.at.least(0.14);
  });

  it('records a refused connection as connection_refused, for fetch and http.request', async () => {
    const port = await closedPort();
    enable({ nodeFor: { [`127.0.0.1:${port}`]: 'down' } });
    const fetchErr = await fetch(`http://127.0.0.1:${port}/`).then(() => undefined, (e: Error) => e);
    expect(fetchErr).to.be.instanceOf(TypeError);
    const reqErr = await get(`http://127.0.0.1:${port}/`).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(reqErr?.code).to.equal('ECONNREFUSED');
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'down', status: 'error' }).count).to.equal(2);
    expect(point(rm, E, { node: 'down' }).attributes).to.deep.equal({ node: 'down', transport: 'http', 'error.type': 'connection_refused' });
    expect(point(rm, E, { node: 'down' }).value).to.equal(2);
    expect(point(rm, A, { node: 'down' }).value).to.equal(0);
  });

  it('records aborts and timeouts with their error.type', async () => {
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'slow' } });
    const ctl = new AbortController();
    // Aborted once the server has the request (before it, there would be no call to record).
    const arrived = once(srv.server, 'request');
    const p = fetch(`http://127.0.0.1:${srv.port}/hang`, { signal: ctl.signal }).catch((e: Error) => e);
    await arrived;
    ctl.abort();
    expect(((await p) as Error).name).to.equal('AbortError');
    const t = await fetch(`http://127.0.0.1:${srv.port}/hang`, { signal: AbortSignal.timeout(300) }).catch((e: Error) => e);
    expect((t as Error).name).to.equal('TimeoutError');
    // Each end reaches the HTTP path on its own schedule: wait for both records.
    const rm = await eventually(async () => {
      const r = await h.collect();
      expect(point(r, E, { 'error.type': 'aborted' }).value).to.equal(1);
      expect(point(r, E, { 'error.type': 'timeout' }).value).to.equal(1);
      return r;
    });
    expect(point(rm, A, { node: 'slow' }).value).to.equal(0);
  });

  it('does not record calls nodeFor maps to undefined', async () => {
    enable({ nodeFor: () => undefined });
    await get(`http://127.0.0.1:${srv.port}/ok`);
    await (await fetch(`http://127.0.0.1:${srv.port}/ok`)).text();
    expect(points(await h.collect(), D)).to.have.length(0);
  });

  it('honours isError(statusCode)', async () => {
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'n' }, isError: (code: number) => code >= 400 });
    await get(`http://127.0.0.1:${srv.port}/404`);
    await get(`http://127.0.0.1:${srv.port}/ok`);
    const rm = await h.collect();
    expect(point(rm, E, {}).attributes).to.deep.include({ 'error.type': 'http_4xx', 'http.response.status_code_class': '4xx' });
    expect(histogram(rm, D, { status: 'success' }).count).to.equal(1);
  });

  it('survives a nodeFor that throws (call goes ahead, not recorded, one warning)', async () => {
    enable({ nodeFor: () => {
      throw new Error('bad mapper');
    } });
    expect((await get(`http://127.0.0.1:${srv.port}/ok`)).text).to.equal('ok');
    expect((await get(`http://127.0.0.1:${srv.port}/ok`)).text).to.equal('ok');
    expect(points(await h.collect(), D)).to.have.length(0);
    expect(diag.warn.filter(w => w.includes('bad mapper'))).to.have.length(1);
  });

  it('does not count again a call made inside measure() (one sample per attempt)', async () => {
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'n' } });
    await h.metrics.measure({ node: 'n', transport: 'http' }, async () => (await fetch(`http://127.0.0.1:${srv.port}/ok`)).text());
    const end = h.metrics.startTimer({ node: 'n', transport: 'http' });
    await get(`http://127.0.0.1:${srv.port}/ok`);
    end();
    await get(`http://127.0.0.1:${srv.port}/ok`);
    expect(total(await h.collect(), D, { node: 'n' })).to.equal(3);
  });

  it('adds the body bytes it sees to gateway.network.io (transmit / receive)', async () => {
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'n' } });
    const io = async () => points(await h.collect(), semconv.METRIC_NETWORK_IO, { node: 'n' }).map(p => [p.attributes['network.io.direction'], p.value]);
    await get(`http://127.0.0.1:${srv.port}/chunked`, 'x'.repeat(300));
    expect(await io()).to.deep.equal([['transmit', 300], ['receive', 1234]]);
    await (await fetch(`http://127.0.0.1:${srv.port}/ok`, { method: 'POST', body: 'hello' })).text();
    expect(await io()).to.deep.equal([['transmit', 305], ['receive', 1236]]);
    expect(points(await h.collect(), semconv.METRIC_REQUEST_SIZE)).to.deep.equal([]);
  });

  it('records the size histograms too with sizes: "histogram"', async () => {
    await h.shutdown();
    h = harness({ sizeHistograms: true });
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'n' }, sizes: 'histogram' });
    await get(`http://127.0.0.1:${srv.port}/chunked`, 'x'.repeat(300));
    const rm = await h.collect();
    expect(histogram(rm, semconv.METRIC_REQUEST_SIZE, { node: 'n' }).sum).to.equal(300);
    expect(histogram(rm, semconv.METRIC_RESPONSE_SIZE, { node: 'n' }).sum).to.equal(1234);
    expect(points(rm, semconv.METRIC_NETWORK_IO, { node: 'n' }).map(p => p.value)).to.deep.equal([300, 1234]);
  });

  it('stops recording after disable()', async () => {
    enable({ nodeFor: { [`127.0.0.1:${srv.port}`]: 'n' } });
    path.disable();
    await get(`http://127.0.0.1:${srv.port}/ok`);
    await (await fetch(`http://127.0.0.1:${srv.port}/ok`)).text();
    expect(points(await h.collect(), D)).to.have.length(0);
  });
});

/** A harness and a real agent mapped to node "n" by an enabled HTTP path; all torn down after `fn`. */
async function withMappedAgent(fn: (h: Harness, base: string) => Promise<void>): Promise<void> {
  const h = harness();
  const srv = await agent();
  const path = new HttpPath(h.metrics, resolveConfig({ http: { nodeFor: { [`127.0.0.1:${srv.port}`]: 'n' } } }, {}).http!);
  path.enable();
  try {
    await fn(h, `http://127.0.0.1:${srv.port}`);
  } finally {
    path.disable();
    await srv.close();
    await h.shutdown();
  }
}

describe('the "already measured" scope costs nothing until it is needed', () => {
  it('automatic paths alone create no AsyncLocalStorage; the first explicit call does', async () => {
    const { scopeActive } = await import('../lib/core/scope');
    await withMappedAgent(async (h, base) => {
      await get(`${base}/ok`);
      await (await fetch(`${base}/ok`)).text();
      expect(scopeActive()).to.equal(false);
      await h.metrics.measure({ node: 'n', transport: 'http' }, () => get(`${base}/ok`));
      expect(scopeActive()).to.equal(true);
      expect(total(await h.collect(), D, { node: 'n' })).to.equal(3);
    });
    expect(scopeActive()).to.equal(false);
  });
});

describe('the measured scope ends with its attempt', () => {
  it('startTimer() in one timer tick does not hide later calls made by the same timer', async () => {
    await withMappedAgent(async (h, base) => {
      await new Promise<void>((resolve, reject) => {
        let tick = 0;
        // One Timeout object runs every tick: a mark left on it would cover all later ticks.
        const iv = setInterval(() => {
          tick++;
          if (tick === 1) {
            const end = h.metrics.startTimer({ node: 'timed', transport: 'http' });
            setTimeout(() => end(), 5);
          } else {
            get(`${base}/ok`).then(() => {
              if (tick >= 3) {
                clearInterval(iv);
                resolve();
              }
            }, reject);
          }
        }, 30);
      });
      const rm = await h.collect();
      expect(total(rm, D, { node: 'n' })).to.equal(2);
      expect(total(rm, D, { node: 'timed' })).to.equal(1);
    });
  });

  it('a call made while measure() runs is not counted again; one made after it settles is', async () => {
    await withMappedAgent(async (h, base) => {
      let later: Promise<unknown> | undefined;
      await h.metrics.measure({ node: 'n', transport: 'http' }, async () => {
        await get(`${base}/ok`);
        // Work the measured call leaves behind, running after it has ended.
        later = new Promise(r => setTimeout(r, 20)).then(() => get(`${base}/ok`));
      });
      await later;
      expect(total(await h.collect(), D, { node: 'n' })).to.equal(2);
    });
  });
});
