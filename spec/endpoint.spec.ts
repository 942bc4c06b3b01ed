import { expect } from 'chai';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MetricsEndpoint, Authenticator } from '../lib/export/endpoint';
import { PrometheusSerializer } from '../lib/export/exposition';
import { useRegistrations } from './helpers/registration';
import { find, one, parseExposition, scrape } from './helpers/prom';

async function serve(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>(r => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('/metrics endpoint', () => {
  const reg = useRegistrations();
  const start = reg.ready;

  describe('bearer token', () => {
    it('answers 401 with WWW-Authenticate without the token, 200 with it', async () => {
      const o = await start({ prometheus: { auth: { token: 'tok-123' } } });
      const none = await fetch(o.prometheusUrl!);
      expect(none.status).to.equal(401);
      expect(none.headers.get('www-authenticate')).to.equal('Bearer realm="metrics"');
      const wrong = await fetch(o.prometheusUrl!, { headers: { authorization: 'Bearer tok-124' } });
      expect(wrong.status).to.equal(401);
      const ok = await fetch(o.prometheusUrl!, { headers: { authorization: 'bearer tok-123' } });
      expect(ok.status).to.equal(200);
      const stats = await fetch(o.prometheusUrl!.replace('/metrics', '/stats'));
      expect(stats.status).to.equal(401);
      expect(reg.diag.all().join('\n')).to.not.include('tok-12');
    });

    it('reads the token from GATEWAY_METRICS_AUTH_TOKEN', async () => {
      reg.env({ GATEWAY_METRICS_AUTH_TOKEN: 'from-env' });
      const o = await start();
      expect((await fetch(o.prometheusUrl!)).status).to.equal(401);
      expect((await fetch(o.prometheusUrl!, { headers: { authorization: 'Bearer from-env' } })).status).to.equal(200);
    });
  });

  it('accepts basic credentials', async () => {
    const o = await start({ prometheus: { auth: { username: 'prom', password: 'pa:ss' } } });
    const res = await fetch(o.prometheusUrl!);
    expect(res.status).to.equal(401);
    expect(res.headers.get('www-authenticate')).to.equal('Basic realm="metrics", charset="UTF-8"');
    const good = Buffer.from('prom:pa:ss').toString('base64');
    expect((await fetch(o.prometheusUrl!, { headers: { authorization: `Basic ${good}` } })).status).to.equal(200);
    const bad = Buffer.from('prom:pass').toString('base64');
    expect((await fetch(o.prometheusUrl!, { headers: { authorization: `Basic ${bad}` } })).status).to.equal(401);
  });

  it('compares credentials by digest (equal-length buffers, any input)', () => {
    const a = new Authenticator({ token: 't' });
    expect(a.check(undefined)).to.equal(false);
    expect(a.check('')).to.equal(false);
    expect(a.check('Bearer')).to.equal(false);
    expect(a.check('Bearer ' + 'x'.repeat(100_000))).to.equal(false);
    expect(a.check('  BEARER   t ')).to.equal(true);
  });

  it('gzips when asked, with the same content', async () => {
    const o = await start();
    o.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.1 });
    const plain = await new Promise<Buffer>((resolve, reject) => {
      http.get(o.prometheusUrl!, res => {
        const c: Buffer[] = [];
        res.on('data', d => c.push(d)).on('end', () => resolve(Buffer.concat(c)));
      }).on('error', reject);
    });
    const zipped = await new Promise<{ body: Buffer; encoding: string | undefined }>((resolve, reject) => {
      http.get(o.prometheusUrl!, { headers: { 'accept-encoding': 'gzip' } }, res => {
        const c: Buffer[] = [];
        res.on('data', d => c.push(d)).on('end', () => resolve({ body: Buffer.concat(c), encoding: res.headers['content-encoding'] }));
      }).on('error', reject);
    });
    expect(zipped.encoding).to.equal('gzip');
    const strip = (t: string) => t.replace(/process_uptime.*\n/g, '');
    expect(strip(gunzipSync(zipped.body).toString())).to.equal(strip(plain.toString()));
  });

  it('serves concurrent gzip and identity scrapes from one collection: the same bytes, with their length', async () => {
    const o = await start({ runtimeMetrics: false, processMetrics: false });
    for (let i = 0; i < 300; i++) o.metrics.record({ node: `n${i % 30}`, transport: 'http', status: 'success', durationSeconds: i / 100 });
    const get = (gzip: boolean) => new Promise<{ body: Buffer; encoding: string | undefined; length: string | undefined }>((resolve, reject) => {
      http.get(o.prometheusUrl!, { headers: gzip ? { 'accept-encoding': 'gzip' } : {}, agent: false }, res => {
        const c: Buffer[] = [];
        res.on('data', d => c.push(d)).on('end', () => resolve({ body: Buffer.concat(c), encoding: res.headers['content-encoding'], length: res.headers['content-length'] }));
      }).on('error', reject);
    });
    const [zipped, plain, zipped2] = await Promise.all([get(true), get(false), get(true)]);
    expect([zipped.encoding, plain.encoding, zipped2.encoding]).to.deep.equal(['gzip', undefined, 'gzip']);
    expect(Number(zipped.length)).to.equal(zipped.body.length);
    expect(Number(plain.length)).to.equal(plain.body.length);
    expect(gunzipSync(zipped.body).toString()).to.equal(plain.body.toString());
    expect(gunzipSync(zipped2.body).toString()).to.equal(plain.body.toString());
    expect(plain.body.toString().match(/^gateway_request_duration_seconds_count/gm)).to.have.length(30);
  });

  it('leaves forgotten (idle) nodes out of the exposition', async () => {
    const o = await start({ nodeIdleTtl: 50 });
    o.metrics.setNodeUp('idle', true);
    o.metrics.record({ node: 'idle', transport: 'http', status: 'success', durationSeconds: 0.1 });
    let { parsed } = await scrape(o.prometheusUrl!);
    expect(find(parsed, 'gateway_node_up', { node: 'idle' })).to.have.length(1);
    // Past the TTL: a lower bound on the idle time, which a slow machine only lengthens.
    await sleep(80);
    // 'busy' stays live however long the scrapes take: a call in flight keeps its node.
    const inFlight = o.metrics.startTimer({ node: 'busy', transport: 'http' });
    o.metrics.record({ node: 'busy', transport: 'http', status: 'success', durationSeconds: 0.1 });
    ({ parsed } = await scrape(o.prometheusUrl!));
    ({ parsed } = await scrape(o.prometheusUrl!));
    inFlight();
    expect(parsed.samples.filter(s => s.labels.node === 'idle')).to.deep.equal([]);
    expect(one(parsed, 'gateway_request_duration_seconds_count', { node: 'busy' }).value).to.equal(1);
  });

  it('keeps new nodes of a changing fleet visible: no otel_metric_overflow after many generations', async () => {
    const o = await start({ maxNodes: 3, nodeIdleTtl: 40 });
    for (let gen = 0; gen < 8; gen++) {
      // Each generation's calls stay in flight until its scrape is read, so its nodes are live however slow the
      // scrape; then they end, and the wait past the TTL (a lower bound) retires them before the next generation.
      const ends: (() => void)[] = [];
      for (let i = 0; i < 3; i++) {
        o.metrics.setNodeUp(`gen${gen}-n${i}`, true);
        ends.push(o.metrics.startTimer({ node: `gen${gen}-n${i}`, transport: 'http' }));
      }
      const { parsed } = await scrape(o.prometheusUrl!);
      for (const end of ends) end();
      expect(find(parsed, 'gateway_node_up').map(s => s.labels.node).sort(), `generation ${gen}`).to.deep.equal([0, 1, 2].map(i => `gen${gen}-n${i}`));
      expect(find(parsed, 'gateway_requests_active').map(s => s.labels.node).sort()).to.deep.equal([0, 1, 2].map(i => `gen${gen}-n${i}`));
      expect(parsed.samples.some(s => 'otel_metric_overflow' in s.labels), `generation ${gen}`).to.equal(false);
      await sleep(60);
    }
  });

  it('serves the same exposition from metricsHandler on the app’s own server, at the app’s path', async () => {
    const o = await start({ prometheus: { port: false } });
    o.metrics.record({ node: 'n', transport: 'exec', status: 'success', durationSeconds: 1 });
    const app = await serve((req, res) => {
      if (req.url === '/internal/metrics') o.metricsHandler(req, res);
      else res.writeHead(200).end('app');
    });
    try {
      const { status, headers, parsed } = await scrape(`${app.url}/internal/metrics`);
      expect(status).to.equal(200);
      expect(headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
      expect(one(parsed, 'gateway_request_duration_seconds_count').value).to.equal(1);
      expect((await fetch(`${app.url}/internal/metrics`, { method: 'DELETE' })).status).to.equal(405);
    } finally {
      await app.close();
    }
  });

  it('answers 404 with a reason when Prometheus export is not enabled', async () => {
    const o = await start({ exporters: ['none'] });
    const app = await serve((req, res) => o.metricsHandler(req, res));
    try {
      const res = await fetch(app.url);
      expect(res.status).to.equal(404);
      expect(await res.text()).to.include('not enabled');
    } finally {
      await app.close();
    }
  });

  it('answers 503 with a short reason when collection fails, and never hangs', async () => {
    // A real reader that was never attached to a MeterProvider: collect() rejects.
    const endpoint = new MetricsEndpoint({ reader: new PrometheusExporter({ preventServerStart: true }), serializer: new PrometheusSerializer(), auth: undefined });
    const app = await serve(endpoint.metricsHandler);
    try {
      const res = await fetch(app.url);
      expect(res.status).to.equal(503);
      expect(res.headers.get('content-type')).to.equal('text/plain; charset=utf-8');
      expect(await res.text()).to.match(/^Metrics collection failed/);
    } finally {
      await app.close();
    }
  });

  it('drops a scraper that stops reading, so the scrapes queued behind it are served', async () => {
    const reader = new PrometheusExporter({ preventServerStart: true });
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    const { createGatewayMetrics, gatewayViews } = await import('../lib');
    const provider = new MeterProvider({ readers: [reader], views: gatewayViews({ maxNodes: 10_000 }) });
    const m = createGatewayMetrics({ meterProvider: provider, maxNodes: 10_000 });
    for (let i = 0; i < 4000; i++) m.record({ node: `n${i}`, transport: 'http', status: 'success', durationSeconds: 0.1 });
    // The endpoint's own drop, and the server's own request event: no fixed delay stands in for either.
    let onDrop!: (key: string) => void;
    const dropped = new Promise<string>(r => (onDrop = r));
    const endpoint = new MetricsEndpoint({ reader, serializer: new PrometheusSerializer(), auth: undefined, drainTimeoutMs: 300, onDrop });
    let onFirstRequest!: () => void;
    const firstArrived = new Promise<void>(r => (onFirstRequest = r));
    const app = await serve((req, res) => {
      onFirstRequest();
      endpoint.metricsHandler(req, res);
    });
    const { port } = new URL(app.url);
    try {
      // Asks for ~10 MB and never reads a byte.
      const stuck = net.connect(Number(port), '127.0.0.1', () => stuck.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      stuck.pause();
      const closed = new Promise(r => stuck.on('close', r));
      stuck.on('error', () => {});
      await firstArrived;
      const { status, parsed } = await scrape(app.url);
      expect(status).to.equal(200);
      expect(find(parsed, 'gateway_request_duration_seconds_count')).to.have.length(4000);
      // The server drops it after reading nothing for drainTimeoutMs; reading what it had buffered then ends in a close.
      expect(await dropped).to.equal('drain-timeout');
      stuck.resume();
      await closed;
      expect(reg.diag.warn.filter(w => w.includes('read nothing'))).to.deep.equal(['otel-gateway-metrics metrics scrape: the client read nothing for 300 ms; response dropped']);
      expect(endpoint.heldBytes).to.equal(0);
    } finally {
      await app.close();
      m.dispose();
      await provider.shutdown();
    }
  });

  it('serves concurrent scrapes one after another, each complete', async () => {
    const o = await start();
    for (let i = 0; i < 300; i++) o.metrics.record({ node: `n${i}`, transport: 'http', status: 'success', durationSeconds: 0.1 });
    const results = await Promise.all(Array.from({ length: 5 }, () => scrape(o.prometheusUrl!)));
    for (const r of results) {
      expect(r.status).to.equal(200);
      expect(find(r.parsed, 'gateway_request_duration_seconds_count')).to.have.length(300);
    }
  });

  it('parses back every line it writes (no partial lines across chunks)', async () => {
    const o = await start();
    for (let i = 0; i < 1000; i++) o.metrics.record({ node: `node-${i}`, transport: i % 2 ? 'http' : 'exec', status: 'success', durationSeconds: i / 100 });
    const { text } = await scrape(o.prometheusUrl!);
    const parsed = parseExposition(text);
    expect(find(parsed, 'gateway_request_duration_seconds_bucket')).to.have.length(1000 * 14);
  });
});
