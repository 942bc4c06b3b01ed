/**
 * What gateway operators ask for beyond latency histograms: /metrics on the
 * app's own server (http, Express, Fastify), a correct JSON stats view,
 * health checks, payload sizes, process metrics, and safe metric names.
 */
import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as fc from 'fast-check';
import express from 'express';
import Fastify from 'fastify';
import { register, type GatewayStats } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { prometheusLabelName, prometheusMetricName } from '../lib/export/naming';
import { relativePath } from '../lib/export/status-page';
import { useRegistrations } from './helpers/registration';
import { eventually, ticks } from './helpers/eventually';
import { find, one, scrape } from './helpers/prom';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * histogram_quantile as Prometheus documents it (promql/quantile.go), written
 * here independently of lib/: buckets as (upper bound, cumulative count) pairs.
 */
function promQuantile(q: number, buckets: [number, number][]): number | null {
  const b = [...buckets].sort((x, y) => x[0] - y[0]);
  const total = b[b.length - 1]![1];
  if (total === 0) return null;
  const rank = q * total;
  const idx = b.findIndex(([, c]) => c >= rank);
  if (idx === b.length - 1) return b[b.length - 2]![0];
  const [upper, count] = b[idx]!;
  const [lower, below] = idx === 0 ? [0, 0] : b[idx - 1]!;
  return lower + (upper - lower) * ((rank - below) / (count - below));
}

function cumulative(values: number[], bounds: number[]): [number, number][] {
  const les = [...bounds, Infinity];
  return les.map(le => [le, values.filter(v => v <= le).length]);
}

describe('operator extras', () => {
  const reg = useRegistrations();
  const start = reg.ready;

  describe('metricsHandler on the app’s own server', () => {
    async function listen(server: http.Server): Promise<string> {
      await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }

    it('mounts on a real Express app, with auth, 405 and HEAD rules', async () => {
      // Not about the HTTP path: off, so the spec's own scrapes through fetch are not recorded as calls.
      const o = await start({ http: false, prometheus: { port: false, auth: { token: 't' } } });
      o.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.2 });
      const app = express();
      app.get('/health', (_req, res) => void res.send('ok'));
      app.all('/ops/metrics', o.metricsHandler);
      const server = http.createServer(app);
      const base = await listen(server);
      try {
        expect((await fetch(`${base}/ops/metrics`)).status).to.equal(401);
        const r = await scrape(`${base}/ops/metrics`, { headers: { authorization: 'Bearer t' } });
        expect(r.status).to.equal(200);
        expect(r.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
        expect(one(r.parsed, 'gateway_request_duration_seconds_count').value).to.equal(1);
        expect((await fetch(`${base}/ops/metrics`, { method: 'POST', headers: { authorization: 'Bearer t' } })).status).to.equal(405);
        const head = await fetch(`${base}/ops/metrics`, { method: 'HEAD', headers: { authorization: 'Bearer t' } });
        expect(head.status).to.equal(200);
        expect(await head.text()).to.equal('');
        expect(await (await fetch(`${base}/health`)).text()).to.equal('ok');
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('mounts on a real Fastify app (request/reply are unwrapped)', async () => {
      const o = await start({ prometheus: { port: false } });
      o.metrics.record({ node: 'n', transport: 'exec', status: 'error', durationSeconds: 1, errorType: 'denied' });
      const app = Fastify();
      app.get('/metrics', (req, reply) => o.metricsHandler(req as never, reply as never));
      app.get('/stats', (req, reply) => o.statsHandler(req as never, reply as never));
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const r = await scrape(`${base}/metrics`);
        expect(r.status).to.equal(200);
        expect(r.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
        expect(one(r.parsed, 'gateway_request_errors_total').labels.error_type).to.equal('denied');
        const stats = (await (await fetch(`${base}/stats`)).json()) as GatewayStats;
        expect(stats.totals.errors).to.equal(1);
      } finally {
        await app.close();
      }
    });

    it('starts no listener with GATEWAY_METRICS_PROMETHEUS_LISTEN=false (port 0 means ephemeral)', async () => {
      reg.env({ GATEWAY_METRICS_PROMETHEUS_LISTEN: 'false' });
      const otel = reg.track(register({ runtimeMetrics: false, processMetrics: false }));
      await otel.ready;
      expect(otel.prometheusUrl).to.equal(undefined);
      expect(otel.config.prometheus.port).to.equal(false);
    });
  });

  describe('JSON stats view', () => {
    it('reports exact counts and histogram_quantile-equal quantiles for a known mix', async () => {
      const o = await start({ downAfterErrors: 2 });
      const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
      const mix: Record<string, { http: number[]; exec: number[]; httpErrors: number[] }> = {
        'node-a': { http: [0.003, 0.004, 0.007, 0.012, 0.02, 0.03, 0.03, 0.04, 0.09, 0.2], exec: [], httpErrors: [0.001] },
        'node-b': { http: Array.from({ length: 40 }, (_, i) => 0.01 + i * 0.002), exec: [0.12, 0.3, 0.6], httpErrors: [] },
        'node-c': { http: [1.2, 1.4, 1.5, 1.6, 1.9, 2.2], exec: [], httpErrors: [] },
        'node-d': { http: [], exec: [0.15, 0.2, 0.25, 0.3], httpErrors: [0.002, 0.002, 0.003, 0.004] },
      };
      for (const [node, m] of Object.entries(mix)) {
        for (const v of m.http) o.metrics.record({ node, transport: 'http', status: 'success', durationSeconds: v });
        for (const v of m.httpErrors) o.metrics.record({ node, transport: 'http', status: 'error', durationSeconds: v, errorType: 'connection_refused' });
        for (const v of m.exec) o.metrics.record({ node, transport: 'exec', status: 'success', durationSeconds: v });
      }
      o.metrics.recordFallback({ node: 'node-d', from: 'http', to: 'exec' });
      const inflight = o.metrics.startTimer({ node: 'node-b', transport: 'exec' });
      const res = await fetch(o.prometheusUrl!.replace('/metrics', '/stats'));
      expect(res.headers.get('content-type')).to.equal('application/json; charset=utf-8');
      const stats = (await res.json()) as GatewayStats;
      inflight();
      expect(stats.uptimeSeconds).to.be.a('number').and.at.least(0);
      expect(new Date(stats.generatedAt).getTime()).to.be.closeTo(Date.now(), 5000);
      const expected: { node: string; transport: string; values: number[]; errors: number }[] = [];
      for (const [node, m] of Object.entries(mix)) {
        if (m.exec.length > 0) expected.push({ node, transport: 'exec', values: m.exec, errors: 0 });
        if (m.http.length + m.httpErrors.length > 0) expected.push({ node, transport: 'http', values: [...m.http, ...m.httpErrors], errors: m.httpErrors.length });
      }
      expect(stats.series.map(s => `${s.node}/${s.transport}`)).to.deep.equal(expected.map(e => `${e.node}/${e.transport}`));
      for (const e of expected) {
        const s = stats.series.find(x => x.node === e.node && x.transport === e.transport)!;
        expect(s.requests, `${e.node}/${e.transport}`).to.equal(e.values.length);
        expect(s.errors).to.equal(e.errors);
        expect(s.errorRate).to.equal(e.errors / e.values.length);
        for (const [q, key] of [[0.5, 'p50'], [0.95, 'p95'], [0.99, 'p99']] as const) {
          const want = promQuantile(q, cumulative(e.values, bounds));
          expect(s.latency[key], `${e.node}/${e.transport} ${key}`).to.be.closeTo(want!, 1e-12);
        }
      }
      expect(stats.series.find(s => s.node === 'node-b' && s.transport === 'exec')!.inFlight).to.equal(1);
      // Fallbacks belong to the transport they left.
      expect(stats.series.map(s => `${s.node}/${s.transport}=${s.fallbacks}`)).to.deep.equal(
        expected.map(e => `${e.node}/${e.transport}=${e.node === 'node-d' && e.transport === 'http' ? 1 : 0}`));
      expect(stats.series.find(s => s.node === 'node-c')!.latency.p95).to.be.above(1);
      // Derived health (downAfterErrors: 2): node-d had 4 errors in a row, then exec successes.
      expect(stats.series.find(s => s.node === 'node-a')!.up).to.equal(true);
      const total = expected.reduce((a, e) => a + e.values.length, 0);
      const errors = expected.reduce((a, e) => a + e.errors, 0);
      expect(stats.totals).to.deep.equal({
        requests: total, errors, errorRate: errors / total, inFlight: 1, fallbacks: 1, nodes: 4, nodesUp: 4, nodesDown: 0,
      });
    });

    it('is typed and also available as otel.stats() and statsHandler', async () => {
      const o = await start();
      o.metrics.record({ node: 'x', transport: 'http', status: 'success', durationSeconds: 0.5 });
      const direct = await o.stats();
      expect(direct.series).to.have.length(1);
      expect(direct.series[0]!.latency.p50).to.equal(0.375);
    });
  });

  describe('status page (the HTML; the browser spec is spec/e2e/status-page.e2e.ts)', () => {
    const configOf = (html: string) => JSON.parse(/<script type="application\/json" id="gm-config">(.*?)<\/script>/.exec(html)![1]!);

    it('GET / on our listener: HTML with a strict CSP, reading the listener’s stats path; HEAD, 405 and bearer auth as /metrics', async () => {
      const o = await start({ prometheus: { auth: { token: 't' } }, statusPage: { slowP95Seconds: 0.5, errorPercent: 2 } });
      const base = o.prometheusUrl!.replace(/metrics$/, '');
      const auth = { authorization: 'Bearer t' };
      const res = await fetch(base, { headers: auth });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).to.equal('no-store');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).to.include("default-src 'none'");
      expect(csp).to.include("connect-src 'self'");
      expect(csp).to.match(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
      const html = await res.text();
      expect(configOf(html)).to.deep.equal({ statsUrl: './stats', slowP95Seconds: 0.5, errorPercent: 2 });
      // Self-contained: no external script, stylesheet, font or image.
      expect(html).to.not.match(/\b(?:src|href)="(?!data:)[^"]+"/);
      expect(html).to.not.match(/@import|url\(/);
      expect((await fetch(base)).status).to.equal(401);
      expect((await fetch(base, { method: 'POST', headers: auth })).status).to.equal(405);
      const head = await fetch(base, { method: 'HEAD', headers: auth });
      expect(head.status).to.equal(200);
      expect(await head.text()).to.equal('');
      expect((await fetch(`${base}index.html`, { headers: auth })).status).to.equal(404);
    });

    it('follows statusPath and statsPath, relative so that a path prefix in front still works; no page without a stats view', async () => {
      const o = await start({ prometheus: { statusPath: '/ops/status', statsPath: '/ops/stats' } });
      const origin = new URL(o.prometheusUrl!).origin;
      expect(configOf(await (await fetch(`${origin}/ops/status`)).text()).statsUrl).to.equal('./stats');
      expect((await fetch(`${origin}/`)).status).to.equal(404);
      await reg.shutdownAll();
      const p = await start({ prometheus: { statusPath: '/a/b/status' } });
      expect(configOf(await (await fetch(new URL('/a/b/status', p.prometheusUrl!))).text()).statsUrl).to.equal('../../stats');
      await reg.shutdownAll();
      const q = await start({ prometheus: { statsPath: false } });
      const r = await fetch(new URL('/', q.prometheusUrl!));
      expect(r.status).to.equal(404);
      expect(await r.text()).to.equal('Not Found\n');
    });

    it('statusHandler on the app’s own server reads statusPage.statsUrl; the config cannot close its script element', async () => {
      const o = await start({ prometheus: { port: false }, statusPage: { statsUrl: '/ops/stats?x=</script><script>alert(1)</script>' } });
      const app = express();
      app.get('/ops/status', o.statusHandler);
      const server = http.createServer(app);
      await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
      try {
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ops/status`);
        expect(res.status).to.equal(200);
        const html = await res.text();
        expect(html).to.not.include('<script>alert(1)');
        expect(html.match(/<script\b/g)).to.have.length(2);
        expect(configOf(html).statsUrl).to.equal('/ops/stats?x=</script><script>alert(1)</script>');
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('bearer deployments: the app’s own login in front, then the header set for the handlers (as docs/status-page.md shows)', async () => {
      // Not about the HTTP path: the spec's own fetches would be recorded as calls.
      const o = await start({ http: false, prometheus: { port: false, auth: { token: 'tok' } } });
      o.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.1 });
      const app = express();
      const requireLogin: express.RequestHandler = (req, res, next) => (req.headers.cookie === 'session=ok' ? next() : void res.status(403).end());
      const bearer = 'Bearer tok';
      app.get('/ops/status', requireLogin, (req, res) => { req.headers.authorization = bearer; o.statusHandler(req, res); });
      app.get('/ops/stats', requireLogin, (req, res) => { req.headers.authorization = bearer; o.statsHandler(req, res); });
      const server = http.createServer(app);
      await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        expect((await fetch(`${base}/ops/status`)).status).to.equal(403);
        const page = await fetch(`${base}/ops/status`, { headers: { cookie: 'session=ok' } });
        expect(page.status).to.equal(200);
        expect(configOf(await page.text()).statsUrl).to.equal('stats');
        const stats = (await (await fetch(`${base}/ops/stats`, { headers: { cookie: 'session=ok' } })).json()) as GatewayStats;
        expect(stats.totals.requests).to.equal(1);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('relativePath: from the page to the stats, as a browser resolves it', () => {
      const cases: [string, string][] = [
        ['/', '/stats'], ['/status', '/stats'], ['/ops/status', '/ops/stats'], ['/ops/', '/ops/stats'],
        ['/a/b/status', '/stats'], ['/status', '/x/y/stats'], ['/a/b/', '/a/c/stats'], ['/', '/'],
      ];
      for (const [from, to] of cases) {
        const rel = relativePath(from, to);
        expect(rel, `${from} → ${to}`).to.match(/^\.\.?\//);
        expect(new URL(rel, `http://h${from}`).pathname, `${from} → ${to}`).to.equal(to);
        // Behind a proxy that adds a prefix, the reference still lands under it.
        expect(new URL(rel, `http://h/prefix${from}`).pathname, `prefixed ${from} → ${to}`).to.equal(`/prefix${to}`);
      }
    });
  });

  describe('health checks', () => {
    it('startHealthChecks() runs checks on an unref’d timer, updates node up, and stops on shutdown()', async () => {
      const o = await start();
      const calls: string[] = [];
      let bHealthy = true;
      o.startHealthChecks({
        nodes: ['a', 'b'],
        intervalMs: 50,
        check: async node => {
          calls.push(node);
          if (node === 'b' && !bHealthy) throw new Error('down');
          return true;
        },
      });
      // The checks run on their own timer: wait for the states they lead to, not for a number of intervals.
      await eventually(async () => {
        const { parsed } = await scrape(o.prometheusUrl!);
        expect(one(parsed, 'gateway_node_up', { node: 'a' }).value).to.equal(1);
        expect(one(parsed, 'gateway_node_up', { node: 'b' }).value).to.equal(1);
      });
      bHealthy = false;
      const parsed = await eventually(async () => {
        const { parsed: p } = await scrape(o.prometheusUrl!);
        expect(one(p, 'gateway_node_up', { node: 'b' }).value).to.equal(0);
        expect(one(p, 'gateway_health_check_duration_seconds_count', { node: 'a', status: 'success' }).value).to.be.at.least(3);
        return p;
      });
      expect(one(parsed, 'gateway_health_check_failures_total', { node: 'b' }).value).to.be.at.least(1);
      expect(parsed.types.get('gateway_health_check_duration_seconds')).to.equal('histogram');
      await o.shutdown();
      const n = calls.length;
      // Three ticks of a timer of the same interval, started after the checker's: a checker still running would have
      // fired before each of them (timers of one duration fire in the order they were set).
      await ticks(50, 3);
      expect(calls.length).to.equal(n);
    });

    it('applies the consecutive-failures rule to health checks when downAfterErrors is set', async () => {
      const o = await start({ downAfterErrors: 3 });
      for (let i = 0; i < 2; i++) await o.metrics.measureHealthCheck('n', () => false);
      o.metrics.setNodeUp('n', true);
      await o.metrics.measureHealthCheck('n', () => Promise.reject(new Error('x')));
      let { parsed } = await scrape(o.prometheusUrl!);
      expect(one(parsed, 'gateway_node_up', { node: 'n' }).value).to.equal(0);
      await o.metrics.measureHealthCheck('n', () => 'fine');
      ({ parsed } = await scrape(o.prometheusUrl!));
      expect(one(parsed, 'gateway_node_up', { node: 'n' }).value).to.equal(1);
    });

    it('never crashes on a bad node list, and does not pile up checks that hang', async () => {
      const o = await start();
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      let started = 0;
      try {
        const stopBad = o.startHealthChecks({ nodes: (() => 42) as never, intervalMs: 20, check: () => true });
        const stopAsync = o.startHealthChecks({ nodes: async () => ['async-node'], intervalMs: 20, check: () => true });
        const stopHung = o.startHealthChecks({
          nodes: ['hung'], intervalMs: 20, timeoutMs: 30,
          check: () => {
            started++;
            return new Promise(() => {});
          },
        });
        // Wait for what the checkers lead to (the async list checked, the hung check timed out), then a few more of
        // their intervals (a timer of the same interval, set after theirs), in which a piled-up check would start.
        const parsed = await eventually(async () => {
          const { parsed: p } = await scrape(o.prometheusUrl!);
          expect(one(p, 'gateway_node_up', { node: 'async-node' }).value).to.equal(1);
          expect(one(p, 'gateway_node_up', { node: 'hung' }).value).to.equal(0);
          expect(reg.diag.warn.some(w => w.includes('not a list of node names'))).to.equal(true);
          return p;
        });
        await ticks(20, 5);
        stopBad();
        stopAsync();
        stopHung();
        expect(unhandled).to.deep.equal([]);
        expect(started).to.equal(1);
        expect(one(parsed, 'gateway_health_check_failures_total', { node: 'hung' }).value).to.equal(1);
      } finally {
        process.removeListener('unhandledRejection', onUnhandled);
      }
    });

    it('validates its options', async () => {
      const o = await start();
      expect(() => o.startHealthChecks({ nodes: ['a'], check: 'x' as never })).to.throw(/"check"/);
      expect(() => o.startHealthChecks({ nodes: ['a'], check: () => true, intervalMs: 1 })).to.throw(/"intervalMs"/);
    });
  });

  describe('payload sizes', () => {
    it('measure() and record() add requestBytes / responseBytes to gateway_network_io_bytes_total (no size histogram by default)', async () => {
      const o = await start({ http: false });
      await o.metrics.measure({ node: 'n', transport: 'exec', requestBytes: 512, responseBytes: 70_000 }, async () => 1);
      o.metrics.record({ node: 'n', transport: 'exec', status: 'success', durationSeconds: 0.1, requestBytes: 100 });
      const { parsed, text } = await scrape(o.prometheusUrl!);
      expect(find(parsed, 'gateway_network_io_bytes_total').map(s => [s.labels.node, s.labels.transport, s.labels.network_io_direction, s.value])).to.deep.equal([
        ['n', 'exec', 'transmit', 612],
        ['n', 'exec', 'receive', 70_000],
      ]);
      expect(parsed.types.get('gateway_network_io_bytes_total')).to.equal('counter');
      expect(text).to.not.include('gateway_request_size_bytes');
    });

    it('with http.sizes "histogram", also gateway_request_size_bytes / _response_size_bytes', async () => {
      const o = await start({ http: { sizes: 'histogram' } });
      await o.metrics.measure({ node: 'n', transport: 'exec', requestBytes: 512, responseBytes: 70_000 }, async () => 1);
      o.metrics.record({ node: 'n', transport: 'exec', status: 'success', durationSeconds: 0.1, requestBytes: 100 });
      const { parsed } = await scrape(o.prometheusUrl!);
      expect(one(parsed, 'gateway_request_size_bytes_sum', { node: 'n', transport: 'exec' }).value).to.equal(612);
      expect(one(parsed, 'gateway_response_size_bytes_sum').value).to.equal(70_000);
      expect(one(parsed, 'gateway_response_size_bytes_bucket', { le: '262144' }).value).to.equal(1);
      expect(one(parsed, 'gateway_response_size_bytes_bucket', { le: '65536' }).value).to.equal(0);
      expect(one(parsed, 'gateway_request_size_bytes_bucket', { le: '1.6777216e+07' }).value).to.equal(2);
    });
  });

  describe('process metrics', () => {
    it('exports process_start_time_seconds, uptime, CPU time and resident memory; off when processMetrics is false', async () => {
      const o = await start({ processMetrics: true });
      const { parsed } = await scrape(o.prometheusUrl!);
      const startTime = one(parsed, 'process_start_time_seconds').value;
      expect(startTime).to.be.closeTo(Date.now() / 1000 - process.uptime(), 2);
      expect(one(parsed, 'process_uptime_seconds').value).to.be.closeTo(process.uptime(), 2);
      expect(one(parsed, 'process_cpu_time_seconds_total', { cpu_mode: 'user' }).value).to.be.above(0);
      expect(one(parsed, 'process_memory_usage').value).to.be.above(10 * 1024 * 1024);
      await o.shutdown();
      const q = await start({ processMetrics: false });
      const again = await scrape(q.prometheusUrl!);
      expect([...again.parsed.types.keys()].filter(k => k.startsWith('process_'))).to.deep.equal([]);
    });
  });

  describe('metric name safety', () => {
    it('always produces names matching ^[a-zA-Z_:][a-zA-Z0-9_:]*$ (or none at all), and valid label names', () => {
      fc.assert(
        fc.property(fc.string(), fc.string(), fc.constantFrom('counter', 'gauge', 'histogram'), fc.boolean(), (name, unit, type, mono) => {
          const out = prometheusMetricName(name, unit, type as 'counter', mono);
          expect(out === '' || NAME_RE.test(out), JSON.stringify([name, unit, out])).to.equal(true);
          const label = prometheusLabelName(name);
          expect(label === '' || LABEL_RE.test(label), JSON.stringify([name, label])).to.equal(true);
        }),
        { numRuns: 2000 },
      );
    });

    it('sanitizes an env prefix like a Collector would, so the full name is always valid', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 1 }).filter(s => s.trim() !== ''), raw => {
          const c = resolveConfig({}, { GATEWAY_METRICS_PREFIX: raw });
          const name = prometheusMetricName(`${c.prefix}.gateway.request.duration`, 's', 'histogram', false);
          expect(NAME_RE.test(name), JSON.stringify([raw, c.prefix, name])).to.equal(true);
        }),
        { numRuns: 500 },
      );
    });

    it('rejects an invalid prefix in code, naming the value', () => {
      fc.assert(
        fc.property(fc.string().filter(s => s !== '' && !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(s)), bad => {
          expect(() => resolveConfig({ prefix: bad }, {})).to.throw(/invalid option "prefix"/);
        }),
        { numRuns: 300 },
      );
    });
  });
});
