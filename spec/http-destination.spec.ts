/**
 * The HTTP path's attribution, streams and error types, against real loopback
 * agents: the node is the host:port a request connects to; streams are not
 * calls; the client's own aborts and timeouts are told from resets by the peer.
 */
import { expect } from 'chai';
import * as http from 'node:http';
import { semconv, type HttpPathOptions } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { errorTypeOf } from '../lib/core/error-type';
import { HttpPath, hostHeaderKey, keyHost } from '../lib/paths/http';
import { startAgent, refusedPort, type Agent } from './helpers/agents';
import { eventually } from './helpers/eventually';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, histogram, point, points, total, type Harness } from './helpers/metrics';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const S = semconv.METRIC_STREAMS_OPENED;
const SD = semconv.METRIC_STREAM_OPEN_DURATION;

/** http.request, body read to its end; rejects with the request's error. */
function request(url: string, options: http.RequestOptions = {}, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', d => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP path: the node is the real destination', () => {
  let h: Harness;
  let path: HttpPath | undefined;
  let a: Agent;
  let diag: Captured;

  function enable(options?: HttpPathOptions): void {
    path = new HttpPath(h.metrics, resolveConfig(options === undefined ? {} : { http: options }, {}).http!);
    path.enable();
  }

  beforeEach(async () => {
    diag = captureDiag();
    h = harness();
    a = await startAgent();
  });
  afterEach(async () => {
    path?.disable();
    path = undefined;
    await a.close();
    await h.shutdown();
    diag.restore();
  });

  it('zero config: node = host:port of the connection, the same for http.request and fetch, whatever the Host header says', async () => {
    enable();
    await request(`${a.base}/ok`);
    // What http-proxy does without changeOrigin: the caller's Host header, forwarded.
    await request(`${a.base}/ok`, { headers: { host: 'gateway.example:8080' } });
    await (await fetch(`${a.base}/ok`)).text();
    const rm = await h.collect();
    expect(points(rm, D).map(p => p.attributes)).to.deep.equal([{ node: a.hostPort, transport: 'http', status: 'success' }]);
    expect(histogram(rm, D, { node: a.hostPort }).count).to.equal(3);
  });

  it('a map is keyed by the connected host:port first, the Host header second', async () => {
    enable({ nodeFor: { [a.hostPort]: 'by-destination', 'front.example:80': 'by-host-header' } });
    await request(`${a.base}/ok`, { headers: { host: 'gateway.example:8080' } });
    await request(`${a.base}/ok`, { headers: { host: 'front.example' } });
    const other = await startAgent();
    try {
      // Not mapped by destination: the Host header (default port filled in) is the second key.
      await request(`${other.base}/ok`, { headers: { host: 'front.example' } });
      // Neither key mapped: not recorded.
      await request(`${other.base}/ok`, { headers: { host: 'elsewhere.example' } });
    } finally {
      await other.close();
    }
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'by-destination' }).count).to.equal(2);
    expect(histogram(rm, D, { node: 'by-host-header' }).count).to.equal(1);
    expect(total(rm, D)).to.equal(3);
  });

  it('finds the port of a request queued behind a busy agent socket, and of a reused keep-alive socket', async () => {
    enable({ nodeFor: { [a.hostPort]: 'n' } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const opts = { agent, headers: { host: 'gateway.example:8080' } };
      await Promise.all([request(`${a.base}/slow`, opts), request(`${a.base}/ok`, opts), request(`${a.base}/ok`, opts)]);
      await request(`${a.base}/ok`, opts);
    } finally {
      agent.destroy();
    }
    expect(histogram(await h.collect(), D, { node: 'n' }).count).to.equal(4);
  });

  it('nodeFor(url, defaultNode) gets the destination URL and host:port; undefined or null excludes the call', async () => {
    const seen: [string, string][] = [];
    enable({
      nodeFor: (url, defaultNode) => {
        seen.push([url.href, defaultNode]);
        if (url.pathname === '/503') return null;
        if (url.pathname === '/slow') return undefined;
        return `api@${defaultNode}`;
      },
    });
    await request(`${a.base}/ok?x=1`, { headers: { host: 'gateway.example' } });
    await request(`${a.base}/503`);
    await request(`${a.base}/slow`);
    expect(seen).to.deep.equal([
      [`${a.base}/ok?x=1`, a.hostPort],
      [`${a.base}/503`, a.hostPort],
      [`${a.base}/slow`, a.hostPort],
    ]);
    const rm = await h.collect();
    expect(points(rm, D).map(p => p.attributes.node)).to.deep.equal([`api@${a.hostPort}`]);
    expect(total(rm, D)).to.equal(1);
  });

  it('writes keys one way: lowercase host, default port filled in, IPv6 in brackets', () => {
    expect(hostHeaderKey('Front.Example', 'http:')).to.equal('front.example:80');
    expect(hostHeaderKey('front.example', 'https:')).to.equal('front.example:443');
    expect(hostHeaderKey('front.example:8443', 'https:')).to.equal('front.example:8443');
    expect(hostHeaderKey('[::1]', 'http:')).to.equal('[::1]:80');
    expect(hostHeaderKey('[::1]:9000', 'http:')).to.equal('[::1]:9000');
    expect(hostHeaderKey('::1:9000', 'http:')).to.equal(undefined);
    expect(hostHeaderKey('', 'http:')).to.equal(undefined);
    expect(keyHost('::1')).to.equal('[::1]');
    expect(keyHost('Agent.Local')).to.equal('agent.local');
  });
});

describe('HTTP path in zero config, against a real agent', () => {
  let h: Harness;
  let path: HttpPath;
  let a: Agent;

  beforeEach(async () => {
    h = harness();
    a = await startAgent();
    path = new HttpPath(h.metrics, resolveConfig({}, {}).http!);
    path.enable();
  });
  afterEach(async () => {
    path.disable();
    await a.close();
    await h.shutdown();
  });

  describe('a stream is not a call', () => {
    it('a GET text/event-stream (http.request and fetch): one opened stream with its time to headers, no call, not in flight, no error on close', async () => {
      // http.request: read two events, then the client closes the stream.
      const t1 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${a.base}/sse`, res => {
          let n = 0;
          res.on('data', () => {
            if (++n === 2) req.destroy();
          });
          res.on('close', () => resolve());
        });
        req.on('error', e => (e.message === 'socket hang up' ? undefined : reject(e)));
      });
      const lifetime1 = (performance.now() - t1) / 1000;
      // fetch: read one chunk, then abort.
      const t2 = performance.now();
      const ctl = new AbortController();
      const res = await fetch(`${a.base}/sse`, { signal: ctl.signal });
      const reader = res.body!.getReader();
      await reader.read();
      let rm = await h.collect();
      expect(point(rm, S, { node: a.hostPort }).value).to.equal(2);
      // Both still open or just closed: neither holds in-flight.
      expect(point(rm, A, { node: a.hostPort }).value).to.equal(0);
      ctl.abort();
      await reader.read().catch(() => undefined);
      const lifetime2 = (performance.now() - t2) / 1000;
      // The stream's close reaches the HTTP path on its own schedule: wait for its record.
      rm = await eventually(async () => {
        const r = await h.collect();
        expect(histogram(r, SD, { node: a.hostPort }).count).to.equal(2);
        return r;
      });
      expect(point(rm, S, { node: a.hostPort }).attributes).to.deep.equal({ node: a.hostPort, transport: 'http' });
      const open = histogram(rm, SD, { node: a.hostPort });
      expect(open.count).to.equal(2);
      // Time to headers, not the streams' lives: within what each client waited, less the 50 ms between the first
      // stream's two events that came after its headers (bounds from the clients' own clocks, not a fixed figure).
      expect(open.sum).to.be.at.most(lifetime1 - 0.05 + lifetime2);
      expect(points(rm, D)).to.have.length(0);
      expect(points(rm, E)).to.have.length(0);
      expect(point(rm, A, { node: a.hostPort }).value).to.equal(0);
    });

    it('a POST answered with an event stream that ends (MCP Streamable HTTP) is a call timed to the end of its body', async () => {
      const t0 = performance.now();
      const r = await request(`${a.base}/sse-post`, { method: 'POST', headers: { 'content-type': 'application/json' } }, '{}');
      const waited = (performance.now() - t0) / 1000;
      expect(r.text).to.contain('"result"');
      const f0 = performance.now();
      await (await fetch(`${a.base}/sse-post`, { method: 'POST', body: '{}' })).text();
      const fwaited = (performance.now() - f0) / 1000;
      const rm = await h.collect();
      const hist = histogram(rm, D, { node: a.hostPort, status: 'success' });
      expect(hist.count).to.equal(2);
      // Timed to the end of the body (the agent streams for 200 ms), and within what each client waited: bounds
      // that hold however loaded the machine is, where a tolerance around the client's wait would not.
      expect(hist.sum).to.be.at.least(0.2);
      expect(hist.sum).to.be.at.most(waited + fwaited + 0.001);
      expect(points(rm, S)).to.have.length(0);
    });

    it('an upgraded connection and a CONNECT tunnel are opened streams, and closing them is not an error', async () => {
      for (const kind of ['upgrade', 'connect'] as const) {
        await new Promise<void>((resolve, reject) => {
          const req = http.request(a.base, kind === 'upgrade'
            ? { headers: { connection: 'Upgrade', upgrade: 'test' } }
            : { method: 'CONNECT', path: 'backend.example:443' });
          req.on(kind, (_res: http.IncomingMessage, socket: import('node:net').Socket) => {
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 100);
          });
          req.on('error', reject);
          req.end();
        });
      }
      // Each socket's close reaches the HTTP path on its own schedule: wait for both records.
      const rm = await eventually(async () => {
        const r = await h.collect();
        expect(histogram(r, SD, { node: a.hostPort }).count).to.equal(2);
        return r;
      });
      expect(point(rm, S, { node: a.hostPort }).value).to.equal(2);
      expect(points(rm, D)).to.have.length(0);
      expect(points(rm, E)).to.have.length(0);
      expect(point(rm, A, { node: a.hostPort }).value).to.equal(0);
    });

    it('an event stream that fails to open (a 503) is a failed call, not a stream', async () => {
      await request(`${a.base}/503`, { headers: { accept: 'text/event-stream' } });
      const rm = await h.collect();
      expect(point(rm, E, { node: a.hostPort }).attributes['error.type']).to.equal('http_5xx');
      expect(points(rm, S)).to.have.length(0);
    });
  });

  describe('error types tell what happened', () => {
    async function errorTypes(): Promise<Record<string, number>> {
      const rm = await h.collect();
      const out: Record<string, number> = {};
      // Summed over http.response.status_code_class (a timeout during the body has a 2xx).
      for (const p of points(rm, E, { node: a.hostPort })) out[String(p.attributes['error.type'])] = (out[String(p.attributes['error.type'])] ?? 0) + p.value;
      expect(point(rm, A, { node: a.hostPort }).value).to.equal(0);
      return out;
    }

    it('the client destroying its request before the response is aborted; a reset by the peer is connection_reset', async () => {
      const own = await new Promise<NodeJS.ErrnoException>(resolve => {
        const req = http.get(`${a.base}/hang`);
        req.on('error', resolve);
        setTimeout(() => req.destroy(), 50);
      });
      expect(own.code).to.equal('ECONNRESET');
      const peer = await request(`${a.base}/reset`).catch((e: NodeJS.ErrnoException) => e);
      expect((peer as NodeJS.ErrnoException).code).to.equal('ECONNRESET');
      expect(await errorTypes()).to.deep.equal({ aborted: 1, connection_reset: 1 });
    });

    it('a timeout that fires with nobody acting on it, then a reset by the peer, is connection_reset', async () => {
      // Like the global agent's 5 s socket timeout: armed, emitted, ignored.
      const agent = new http.Agent({ keepAlive: true, timeout: 100 });
      try {
        const err = await request(`${a.base}/reset-late`, { agent }).catch((e: NodeJS.ErrnoException) => e);
        expect((err as NodeJS.ErrnoException).code).to.equal('ECONNRESET');
      } finally {
        agent.destroy();
      }
      expect(await errorTypes()).to.deep.equal({ connection_reset: 1 });
    });

    it('the client destroying the response mid-body is aborted', async () => {
      await new Promise<void>(resolve => {
        http.get(`${a.base}/stream`, res => {
          res.once('data', () => res.destroy());
          res.on('close', () => resolve());
        });
      });
      await eventually(async () => expect(await errorTypes()).to.deep.equal({ aborted: 1 }));
    });

    it('the http timeout option with a destroy, and AbortSignal.timeout(), are timeouts', async () => {
      await new Promise<void>(resolve => {
        const req = http.get(`${a.base}/hang`, { timeout: 100 });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve());
      });
      // The timeout firing while the body is read.
      await new Promise<void>(resolve => {
        const req = http.get(`${a.base}/slow`, { timeout: 100 }, res => {
          res.resume();
          res.on('close', () => resolve());
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => undefined);
      });
      const err = await request(`${a.base}/hang`, { signal: AbortSignal.timeout(100) }).catch((e: Error) => e);
      expect((err as Error).name).to.equal('AbortError');
      const ferr = await fetch(`${a.base}/hang`, { signal: AbortSignal.timeout(100) }).catch((e: Error) => e);
      expect((ferr as Error).name).to.equal('TimeoutError');
      await eventually(async () => expect(await errorTypes()).to.deep.equal({ timeout: 4 }));
    });

    it('a refused port is connection_refused', async () => {
      const port = await refusedPort();
      await request(`http://127.0.0.1:${port}/`).catch(() => undefined);
      const rm = await h.collect();
      expect(point(rm, E, { node: `127.0.0.1:${port}` }).attributes['error.type']).to.equal('connection_refused');
    });

    it('codes that name Object.prototype members are _OTHER, not "" or "{}"', () => {
      for (const code of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
        expect(errorTypeOf(Object.assign(new Error('x'), { code }))).to.equal('_OTHER');
        const named = new Error('x');
        named.name = code;
        expect(errorTypeOf(named)).to.equal('_OTHER');
      }
      expect(errorTypeOf(Object.assign(new Error('timeout of 50ms exceeded'), { code: 'ECONNABORTED' }))).to.equal('timeout');
      expect(errorTypeOf(Object.assign(new Error('Software caused connection abort'), { code: 'ECONNABORTED' }))).to.equal('connection_reset');
      const abortByTimeout = Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: new DOMException('t', 'TimeoutError') });
      expect(errorTypeOf(abortByTimeout)).to.equal('timeout');
      expect(errorTypeOf(Object.assign(new Error('aborted'), { name: 'AbortError' }))).to.equal('aborted');
    });
  });
});
