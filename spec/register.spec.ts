import { expect } from 'chai';
import * as net from 'node:net';
import { getGatewayMetrics, register } from '../lib';
import { OtlpGrpcReceiver, OtlpReceiver, latest } from './helpers/otlp';
import { find, one, scrape } from './helpers/prom';
import { useRegistrations } from './helpers/registration';
import { captureDiag } from './helpers/diag';
import { VERSION } from '../lib/core/version';

const LOCAL = { host: '127.0.0.1', port: 0 } as const;

describe('register()', () => {
  const reg = useRegistrations();
  const start = reg.start;

  it('serves every gateway metric under its compliant Prometheus name, with exact labels', async () => {
    const o = start({ serviceName: 'mcp-gateway' });
    await o.ready;
    expect(o.prometheusUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(o.prometheusUrl).to.not.include(':0/');
    const m = getGatewayMetrics();
    expect(m).to.equal(o.metrics);
    m.record({ node: 'ip-10-0-1-123', transport: 'http', status: 'success', durationSeconds: 0.02 });
    m.record({ node: 'ip-10-0-1-123', transport: 'exec', status: 'error', durationSeconds: 2.3, errorType: 'timeout' });
    m.recordFallback({ node: 'ip-10-0-1-123', from: 'http', to: 'exec' });
    m.setNodeUp('ip-10-0-1-123', true);
    const { status, headers, parsed } = await scrape(o.prometheusUrl!);
    expect(status).to.equal(200);
    expect(headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const scope = { otel_scope_name: 'otel-gateway-metrics', otel_scope_version: VERSION };
    expect(parsed.types.get('gateway_request_duration_seconds')).to.equal('histogram');
    expect(parsed.types.get('gateway_request_errors_total')).to.equal('counter');
    expect(parsed.types.get('gateway_requests_active')).to.equal('gauge');
    expect(parsed.types.get('gateway_fallbacks_total')).to.equal('counter');
    expect(parsed.types.get('gateway_node_up')).to.equal('gauge');
    const count = one(parsed, 'gateway_request_duration_seconds_count', { transport: 'exec' });
    expect(count.labels).to.deep.equal({ node: 'ip-10-0-1-123', transport: 'exec', status: 'error', ...scope });
    expect(count.value).to.equal(1);
    expect(one(parsed, 'gateway_request_duration_seconds_sum', { transport: 'exec' }).value).to.equal(2.3);
    const buckets = find(parsed, 'gateway_request_duration_seconds_bucket', { transport: 'http' });
    expect(buckets.map(b => b.labels.le)).to.deep.equal(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '+Inf']);
    expect(buckets.map(b => b.value)).to.deep.equal([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(one(parsed, 'gateway_request_errors_total').labels).to.deep.equal({ node: 'ip-10-0-1-123', transport: 'exec', error_type: 'timeout', ...scope });
    expect(one(parsed, 'gateway_fallbacks_total').labels).to.deep.equal({ node: 'ip-10-0-1-123', from_transport: 'http', to_transport: 'exec', ...scope });
    expect(one(parsed, 'gateway_node_up').value).to.equal(1);
    expect(find(parsed, 'gateway_requests_active').map(s => s.value)).to.deep.equal([0, 0]);
    expect(one(parsed, 'target_info').labels.service_name).to.equal('mcp-gateway');
  });

  it('names the histogram mcp_gateway_request_duration_seconds with prefix "mcp"', async () => {
    const o = start({ prefix: 'mcp' });
    await o.ready;
    o.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 1 });
    const { parsed } = await scrape(o.prometheusUrl!);
    expect(one(parsed, 'mcp_gateway_request_duration_seconds_count').value).to.equal(1);
    expect(parsed.types.get('mcp_gateway_request_duration_seconds')).to.equal('histogram');
    expect(parsed.types.has('gateway_request_duration_seconds')).to.equal(false);
  });

  it('applies GATEWAY_METRICS_DURATION_BUCKETS through a View', async () => {
    reg.env({ GATEWAY_METRICS_DURATION_BUCKETS: '0.1,0.5,1' });
    const o = start({});
    await o.ready;
    for (const v of [0.05, 0.3, 0.7, 3]) o.metrics.record({ node: 'n', transport: 'exec', status: 'success', durationSeconds: v });
    const { parsed } = await scrape(o.prometheusUrl!);
    const b = find(parsed, 'gateway_request_duration_seconds_bucket');
    expect(b.map(s => [s.labels.le, s.value])).to.deep.equal([['0.1', 1], ['0.5', 2], ['1', 3], ['+Inf', 4]]);
  });

  it('makes an instance getGatewayMetrics() gave out before register() record into the registration', async () => {
    const early = getGatewayMetrics();
    const o = start({});
    await o.ready;
    expect(getGatewayMetrics()).to.equal(o.metrics);
    early.record({ node: 'early-bird', transport: 'http', status: 'success', durationSeconds: 0.1 });
    await early.measure({ node: 'early-bird', transport: 'http' }, async () => 1);
    early.setNodeUp('early-bird', true);
    const { parsed } = await scrape(o.prometheusUrl!);
    expect(one(parsed, 'gateway_request_duration_seconds_count', { node: 'early-bird' }).value).to.equal(2);
    expect(one(parsed, 'gateway_node_up', { node: 'early-bird' }).value).to.equal(1);
  });

  it('warns on a second register() and returns the same handle', async () => {
    const a = start({});
    const b = register({ serviceName: 'other' });
    expect(b).to.equal(a);
    expect(reg.diag.warn.some(w => w.includes('already called'))).to.equal(true);
    await a.ready;
  });

  it('rejects ready with a clear error when the port is taken, without crashing', async () => {
    const blocker = net.createServer();
    await new Promise<void>(r => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const o = start({ prometheus: { host: '127.0.0.1', port } });
      const err = await o.ready.then(() => undefined, (e: Error) => e);
      expect(err).to.be.instanceOf(Error);
      expect(err!.message).to.include(`127.0.0.1:${port}`).and.include('already in use');
      expect(o.prometheusUrl).to.equal(undefined);
      // The rest of the plugin still works.
      await o.metrics.measure({ node: 'n', transport: 'http' }, async () => 1);
    } finally {
      blocker.close();
    }
  });

  it('serves 404 for unknown paths, 405 for other methods, and HEAD without a body', async () => {
    const o = start({});
    await o.ready;
    const base = o.prometheusUrl!.replace('/metrics', '');
    expect((await fetch(`${base}/nope`)).status).to.equal(404);
    const post = await fetch(o.prometheusUrl!, { method: 'POST', body: 'x' });
    expect(post.status).to.equal(405);
    expect(post.headers.get('allow')).to.equal('GET, HEAD');
    const head = await fetch(o.prometheusUrl!, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
    expect(await head.text()).to.equal('');
  });

  it('starts no listener with prometheus.port=false, and the handler still serves', async () => {
    const o = start({ prometheus: { port: false } });
    await o.ready;
    expect(o.prometheusUrl).to.equal(undefined);
  });

  it('includes runtime metrics by default and leaves them out when turned off', async () => {
    const o = register({ processMetrics: false, prometheus: LOCAL });
    reg.track(o);
    await o.ready;
    const { parsed } = await scrape(o.prometheusUrl!);
    // (the event loop delay gauges appear once the delay monitor has samples)
    expect(parsed.types.get('nodejs_eventloop_utilization_ratio')).to.equal('gauge');
    expect(parsed.types.get('nodejs_eventloop_time_seconds_total')).to.equal('counter');
    expect(parsed.types.get('v8js_memory_heap_used_bytes')).to.equal('gauge');
    await o.shutdown();
    const q = start({});
    await q.ready;
    const again = await scrape(q.prometheusUrl!);
    expect([...again.parsed.types.keys()].filter(n => n.startsWith('nodejs_') || n.startsWith('v8js_'))).to.deep.equal([]);
  });

  it('is idempotent in forceFlush() and shutdown(), and can register again after shutdown', async () => {
    const o = start({});
    await o.ready;
    await Promise.all([o.forceFlush(), o.forceFlush()]);
    const s1 = o.shutdown();
    const s2 = o.shutdown();
    expect(s1).to.equal(s2);
    await s1;
    const url = o.prometheusUrl!;
    const refused = await fetch(url).then(() => 'answered', () => 'refused');
    expect(refused).to.equal('refused');
    const p = start({});
    expect(p).to.not.equal(o);
    await p.ready;
  });

  it('adds inbound http.server.request.duration (instrumentation-http) with our seconds buckets when inboundHttp is on', async () => {
    const http = await import('node:http');
    const o = start({ inboundHttp: true });
    await o.ready;
    const server = http.createServer((_req, res) => res.end('hi'));
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      expect(await (await fetch(`http://127.0.0.1:${port}/x`)).text()).to.equal('hi');
      const { parsed } = await scrape(o.prometheusUrl!);
      const buckets = find(parsed, 'http_server_request_duration_seconds_bucket');
      expect(buckets.length).to.be.above(0);
      expect([...new Set(buckets.map(b => b.labels.le))]).to.deep.equal(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '+Inf']);
      const count = find(parsed, 'http_server_request_duration_seconds_count').reduce((a, s) => a + s.value, 0);
      expect(count).to.be.at.least(1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  describe('OTLP export', () => {
    let receiver: OtlpReceiver;
    beforeEach(async () => (receiver = await new OtlpReceiver().start()));
    afterEach(async () => {
      await reg.shutdownAll();
      await receiver.stop();
    });

    for (const [protocol, contentType] of [['http/json', 'application/json'], ['http/protobuf', 'application/x-protobuf']] as const) {
      it(`exports ${protocol} to a real receiver, with the exact counts`, async () => {
        const o = start({ serviceName: 'svc', exporters: ['otlp'], otlp: { protocol, endpoint: receiver.url } });
        await o.ready;
        for (const v of [0.003, 0.2, 0.2, 7]) o.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: v });
        o.metrics.record({ node: 'n1', transport: 'exec', status: 'error', durationSeconds: 1, errorType: 'timeout' });
        await o.forceFlush();
        expect(receiver.exports).to.have.length(1);
        const req = receiver.exports[0]!;
        expect(req.contentType).to.include(contentType);
        expect(req.path).to.equal('/v1/metrics');
        expect(req.resource['service.name']).to.equal('svc');
        const dur = req.metrics.find(m => m.name === 'gateway.request.duration')!;
        expect(dur.kind).to.equal('histogram');
        expect(dur.unit).to.equal('s');
        expect(dur.temporality).to.equal(2);
        const ok = dur.points.find(p => p.attributes.status === 'success')!;
        expect(ok.attributes).to.deep.equal({ node: 'n1', transport: 'http', status: 'success' });
        expect(ok.count).to.equal(4);
        expect(ok.sum).to.be.closeTo(7.403, 1e-9);
        expect(ok.bounds).to.deep.equal([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
        expect(ok.bucketCounts).to.deep.equal([1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0]);
        const errors = req.metrics.find(m => m.name === 'gateway.request.errors')!;
        expect(errors.kind).to.equal('sum');
        expect(errors.monotonic).to.equal(true);
        expect(errors.points).to.deep.equal([{ attributes: { node: 'n1', transport: 'exec', 'error.type': 'timeout' }, value: 1 }]);
        // Cumulative: a second flush carries the totals again.
        o.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: 0.2 });
        await o.forceFlush();
        expect(latest(receiver.exports, 'gateway.request.duration', { status: 'success' })[0]!.count).to.equal(5);
      });
    }

    it('bounds forceFlush({ timeoutMillis }) and shutdown({ timeoutMillis }) against a collector that never answers, with a warning and no rejection', async () => {
      // A real listener that accepts the export and never answers it.
      const held: net.Socket[] = [];
      const silent = net.createServer(socket => void held.push(socket));
      await new Promise<void>(r => silent.listen(0, '127.0.0.1', r));
      const diag = captureDiag();
      try {
        const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/v1/metrics`;
        const o = start({ exporters: ['otlp'], otlp: { protocol: 'http/json', endpoint: url, exportTimeoutMillis: 3_000, exportIntervalMillis: 60_000 } });
        await o.ready;
        o.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: 0.1 });
        const flushed = await Promise.race([o.forceFlush({ timeoutMillis: 300 }).then(() => 'settled'), new Promise(r => setTimeout(() => r('still waiting'), 5_000))]);
        expect(flushed).to.equal('settled');
        expect(diag.warn.filter(w => w.includes('forceFlush() took longer than 300 ms')), diag.warn.join('\n')).to.have.length(1);
        const shut = await Promise.race([o.shutdown({ timeoutMillis: 300 }).then(() => 'settled'), new Promise(r => setTimeout(() => r('still waiting'), 5_000))]);
        expect(shut).to.equal('settled');
        expect(diag.warn.filter(w => w.includes('shutdown() took longer than 300 ms'))).to.have.length(1);
        expect(held.length).to.be.at.least(1);
      } finally {
        diag.restore();
        for (const s of held) s.destroy();
        await new Promise<void>(r => silent.close(() => r()));
      }
    });

    it('exports grpc to a real OTLP/gRPC receiver, with the exact counts', async () => {
      const grpcReceiver = await new OtlpGrpcReceiver().start();
      try {
        const o = start({ exporters: ['otlp'], otlp: { protocol: 'grpc', endpoint: grpcReceiver.url, headers: { 'x-tenant': 'acme' } } });
        await o.ready;
        for (const v of [0.003, 0.2, 7]) o.metrics.record({ node: 'n1', transport: 'exec', status: 'success', durationSeconds: v });
        await o.forceFlush();
        expect(grpcReceiver.exports).to.have.length(1);
        const req = grpcReceiver.exports[0]!;
        expect(req.path).to.equal('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export');
        expect(req.headers['x-tenant']).to.equal('acme');
        const dur = req.metrics.find(m => m.name === 'gateway.request.duration')!;
        expect(dur.points).to.have.length(1);
        expect(dur.points[0]!.attributes).to.deep.equal({ node: 'n1', transport: 'exec', status: 'success' });
        expect(dur.points[0]!.count).to.equal(3);
        expect(dur.points[0]!.bucketCounts).to.deep.equal([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
        await reg.shutdownAll();
      } finally {
        await grpcReceiver.stop();
      }
    });

    it('reads endpoint, headers, interval and temporality from the standard env vars', async () => {
      reg.env({
        OTEL_METRICS_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme',
        OTEL_METRIC_EXPORT_INTERVAL: '200',
        OTEL_METRIC_EXPORT_TIMEOUT: '150',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      });
      const o = start({});
      await o.ready;
      // The interval read from the env is the reader's (an export comes on its own, no forceFlush); how soon it
      // comes is not asserted, only that it comes well before the 60 s default would have.
      expect(o.config.otlp.exportIntervalMillis).to.equal(200);
      expect(o.config.otlp.exportTimeoutMillis).to.equal(150);
      o.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.1 });
      const req = await receiver.next(15_000);
      expect(req.headers['x-tenant']).to.equal('acme');
      const dur = req.metrics.find(m => m.name === 'gateway.request.duration')!;
      expect(dur.temporality).to.equal(1);
    });

    it('sends exponential histograms over OTLP only; /metrics keeps explicit buckets', async () => {
      const o = start({ exporters: ['prometheus', 'otlp'], histogram: 'exponential', otlp: { protocol: 'http/json', endpoint: receiver.url } });
      await o.ready;
      for (const v of [0.029, 0.05, 0.145]) o.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: v });
      await o.forceFlush();
      const dur = receiver.exports[0]!.metrics.find(m => m.name === 'gateway.request.duration')!;
      expect(dur.kind).to.equal('exponential_histogram');
      expect(dur.points[0]!.count).to.equal(3);
      expect(dur.points[0]!.scale).to.be.a('number');
      const sizes = receiver.exports[0]!.metrics.find(m => m.name === 'gateway.request.errors');
      expect(sizes).to.equal(undefined);
      const { parsed } = await scrape(o.prometheusUrl!);
      expect(find(parsed, 'gateway_request_duration_seconds_bucket').map(s => s.labels.le)).to.have.length(14);
      expect(one(parsed, 'gateway_request_duration_seconds_count').value).to.equal(3);
    });

    it('flushes the OTLP exporter on shutdown()', async () => {
      const o = start({ exporters: ['otlp'], otlp: { protocol: 'http/protobuf', endpoint: receiver.url } });
      await o.ready;
      o.metrics.record({ node: 'n', transport: 'exec', status: 'success', durationSeconds: 0.1 });
      await o.shutdown();
      expect(receiver.exports).to.have.length(1);
      expect(latest(receiver.exports, 'gateway.request.duration')[0]!.count).to.equal(1);
    });
  });
});
