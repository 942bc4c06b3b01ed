/**
 * Exemplars: the sampled span active at the start of a call, kept per
 * bucket of its series (lib/core/trace.ts, lib/store/histogram.ts), served
 * in OpenMetrics; with real tracing (NodeSDK) and real HTTP calls.
 */
import { expect } from 'chai';
import { execFile, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, trace } from '@opentelemetry/api';
import type { GatewayOtel } from '../lib';
import { useRegistrations } from './helpers/registration';
import { histogramOf, rowsOf, storeOf } from './helpers/store-of';
import { tools } from './helpers/tools';
import { startTracing, type Tracing } from './helpers/tracing';

const OM_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

interface OmExemplar { le: string; traceId: string; spanId: string; value: number; seconds: number }

/** The exemplars of one series' bucket lines in an OpenMetrics exposition (parsed here, not by lib/). */
function exemplarsOf(text: string, name: string, labels: Record<string, string>): OmExemplar[] {
  const out: OmExemplar[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    const m = /le="([^"]+)"\} \d+ # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\} (\S+) (\d+\.\d{3})$/.exec(line);
    if (m === null) {
      expect(line, 'a bucket line without an exemplar ends with its count').to.match(/\} \d+$/);
      continue;
    }
    out.push({ le: m[1]!, traceId: m[2]!, spanId: m[3]!, value: Number(m[4]), seconds: Number(m[5]) });
  }
  return out;
}

async function openMetrics(otel: GatewayOtel): Promise<string> {
  const res = await fetch(otel.prometheusUrl!, { headers: { accept: OM_ACCEPT } });
  expect(res.headers.get('content-type')).to.equal('application/openmetrics-text; version=1.0.0; charset=utf-8');
  return res.text();
}

describe('exemplars', function () {
  this.timeout(30_000);
  const reg = useRegistrations();
  let tracing: Tracing;
  beforeEach(() => {
    tracing = startTracing();
  });
  afterEach(async () => {
    await tracing.stop();
  });

  const inSpan = <T>(fn: () => T): { result: T; traceId: string; spanId: string } =>
    tracing.tracer.startActiveSpan('call', span => {
      const result = fn();
      span.end();
      return { result, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
    });

  it('record() in a span: its ids on the bucket of the value, the latest per bucket, timestamps in seconds; none outside spans', async () => {
    const otel = await reg.ready();
    const m = otel.metrics;
    const t0 = Date.now();
    inSpan(() => m.record({ node: 'a', transport: 'http', status: 'success', durationSeconds: 0.06 }));
    const latest = inSpan(() => m.record({ node: 'a', transport: 'http', status: 'success', durationSeconds: 0.08 }));
    const slow = inSpan(() => m.record({ node: 'a', transport: 'http', status: 'success', durationSeconds: 3 }));
    m.record({ node: 'a', transport: 'http', status: 'success', durationSeconds: 0.09 });
    m.record({ node: 'b', transport: 'http', status: 'success', durationSeconds: 0.09 });
    const t1 = Date.now();
    const text = await openMetrics(otel);
    const a = exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'a' });
    expect(a.map(e => [e.le, e.traceId, e.spanId, e.value])).to.deep.equal([
      ['0.1', latest.traceId, latest.spanId, 0.08],
      ['5', slow.traceId, slow.spanId, 3],
    ]);
    for (const e of a) expect(e.seconds * 1000).to.be.within(t0 - 1, t1 + 1);
    expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'b' })).to.deep.equal([]);
    // A series never recorded in a span has no exemplar storage at all.
    const duration = histogramOf(storeOf(otel), 'gateway.request.duration');
    const kept = rowsOf(duration).map(({ row, cell }) => [cell.attributes.node, duration.exemplars![row] !== undefined]);
    expect(kept.sort()).to.deep.equal([['a', true], ['b', false]]);
    // The text format 0.0.4 has no exemplars.
    const plain = await (await fetch(otel.prometheusUrl!)).text();
    expect(plain).to.not.include('trace_id');
  });

  it('measure() and startTimer(): the span active when the call started, not when it ended', async () => {
    const otel = await reg.ready();
    const m = otel.metrics;
    const measured = await tracing.tracer.startActiveSpan('measured', async span => {
      await m.measure({ node: 'm', transport: 'http' }, async () => new Promise(r => setTimeout(r, 5)));
      span.end();
      return span.spanContext();
    });
    const started = inSpan(() => m.startTimer({ node: 't', transport: 'exec' }));
    // Ended inside another span: the exemplar is still the starting one's.
    inSpan(() => started.result({ status: 'success' }));
    const text = await openMetrics(otel);
    expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'm' }).map(e => e.traceId)).to.deep.equal([measured.traceId]);
    expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 't' }).map(e => [e.traceId, e.spanId])).to.deep.equal([[started.traceId, started.spanId]]);
  });

  it('an unsampled span leaves no exemplar', async () => {
    const otel = await reg.ready();
    const unsampled = trace.setSpanContext(context.active(), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 0 });
    context.with(unsampled, () => otel.metrics.record({ node: 'u', transport: 'http', status: 'success', durationSeconds: 0.02 }));
    const sampled = trace.setSpanContext(context.active(), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
    context.with(sampled, () => otel.metrics.record({ node: 's', transport: 'http', status: 'success', durationSeconds: 0.02 }));
    const text = await openMetrics(otel);
    expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'u' })).to.deep.equal([]);
    expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 's' }).map(e => e.spanId)).to.deep.equal(['00f067aa0ba902b7']);
  });

  it('the automatic HTTP path: real calls (node:http and fetch) carry the span they were made in', async () => {
    const server = http.createServer((req, res) => setTimeout(() => res.end('ok'), 30));
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const otel = await reg.ready({ http: { nodeFor: (url: URL) => url.pathname.slice(1) } });
      const get = (path: string) => new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path }, res => res.resume().on('end', resolve)).on('error', reject);
      });
      const viaHttp = await tracing.tracer.startActiveSpan('via http', async span => {
        await get('/node-http');
        span.end();
        return span.spanContext();
      });
      const viaFetch = await tracing.tracer.startActiveSpan('via fetch', async span => {
        await (await fetch(`http://127.0.0.1:${port}/node-fetch`)).text();
        span.end();
        return span.spanContext();
      });
      await get('/node-plain');
      const text = await openMetrics(otel);
      expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'node-http' }).map(e => [e.traceId, e.spanId])).to.deep.equal([[viaHttp.traceId, viaHttp.spanId]]);
      expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'node-fetch' }).map(e => [e.traceId, e.spanId])).to.deep.equal([[viaFetch.traceId, viaFetch.spanId]]);
      expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'node-plain' })).to.deep.equal([]);
      for (const e of exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'node-http' })) expect(e.value).to.be.at.least(0.03);
    } finally {
      server.closeAllConnections();
      await new Promise(r => server.close(r));
    }
  });

  it('the automatic exec path: a child spawned in a span carries it', async () => {
    const otel = await reg.ready({ exec: { nodeFor: (_file: string, args: readonly string[]) => (args.includes('traced') ? 'child-traced' : 'child-plain') } });
    const run = (tag: string) => new Promise<void>((resolve, reject) => {
      execFile(process.execPath, ['-e', '', tag], err => (err ? reject(err) : resolve()));
    });
    const spawned = await tracing.tracer.startActiveSpan('spawn', async span => {
      await run('traced');
      span.end();
      return span.spanContext();
    });
    await run('plain');
    const text = await openMetrics(otel);
    expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'child-traced', transport: 'exec' }).map(e => [e.traceId, e.spanId])).to.deep.equal([[spawned.traceId, spawned.spanId]]);
    expect(exemplarsOf(text, 'gateway_request_duration_seconds', { node: 'child-plain' })).to.deep.equal([]);
  });

  it('OpenMetrics: # EOF last, counter families without _total; the text format passes promtool check metrics in native mode', async () => {
    const otel = await reg.ready({ histogram: 'native' });
    inSpan(() => otel.metrics.record({ node: 'a', transport: 'http', status: 'error', durationSeconds: 0.02, errorType: 'timeout' }));
    const om = await openMetrics(otel);
    expect(om.endsWith('\n# EOF\n')).to.equal(true);
    expect(om.indexOf('# EOF')).to.equal(om.length - 6);
    expect(om).to.include('# TYPE gateway_request_errors counter\n');
    expect(om).to.match(/\ngateway_request_errors_total\{[^}]*node="a"[^}]*\} 1\n/);
    expect(exemplarsOf(om, 'gateway_request_duration_seconds', { node: 'a' })).to.have.length(1);
    const text = await (await fetch(otel.prometheusUrl!)).text();
    const r = spawnSync(tools().promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    expect(`${r.stdout}${r.stderr}`).to.equal('');
    expect(r.status).to.equal(0);
  });
});
