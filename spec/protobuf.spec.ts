/**
 * The protobuf exposition (lib/export/protobuf.ts and the serializer's
 * protobufChunks), scraped from a real registration and decoded with
 * protobufjs and the upstream metrics.proto, compared field by field with
 * the series store it was written from.
 */
import { expect } from 'chai';
import type { GatewayOtel } from '../lib';
import { toNativeHistogram } from '../lib/export/native';
import { absoluteBuckets, decodeFamilies, labelsOf, PROTOBUF_ACCEPT, type PbExemplar, type PbFamily, type PbMetric } from './helpers/promproto';
import { useRegistrations } from './helpers/registration';
import { histogramOf, rowsOf, storeOf } from './helpers/store-of';
import { tools } from './helpers/tools';
import { startTracing, type Tracing } from './helpers/tracing';

const SCOPE = { otel_scope_name: 'otel-gateway-metrics' };

async function scrapeProtobuf(otel: GatewayOtel): Promise<{ contentType: string | null; families: PbFamily[] }> {
  const res = await fetch(otel.prometheusUrl!, { headers: { accept: PROTOBUF_ACCEPT } });
  expect(res.status).to.equal(200);
  return { contentType: res.headers.get('content-type'), families: decodeFamilies(new Uint8Array(await res.arrayBuffer())) };
}

function family(families: PbFamily[], name: string): PbFamily {
  const f = families.filter(x => x.name === name);
  expect(f, name).to.have.length(1);
  return f[0]!;
}

function metricWith(f: PbFamily, labels: Record<string, string>): PbMetric {
  const found = f.metric.filter(m => Object.entries(labels).every(([k, v]) => labelsOf(m)[k] === v));
  expect(found, JSON.stringify(labels)).to.have.length(1);
  return found[0]!;
}

/** The 29–145 ms mix whose explicit-bucket p95 is far off. */
const MIX = Array.from({ length: 50 }, (_, i) => 0.029 + (0.116 * i) / 49);

describe('protobuf exposition (decoded with the upstream metrics.proto)', function () {
  this.timeout(60_000);
  const reg = useRegistrations();
  let tracing: Tracing | undefined;
  before(() => tools());
  afterEach(async () => {
    await tracing?.stop();
    tracing = undefined;
  });

  /** Known calls: a mix, errors, one exec node, two of them in spans. */
  async function record(otel: GatewayOtel): Promise<{ inBucket: { traceId: string; spanId: string }; inInf: { traceId: string; spanId: string }; t0: number; t1: number }> {
    const m = otel.metrics;
    for (const v of MIX) m.record({ node: 'a', transport: 'http', status: 'success', durationSeconds: v });
    m.record({ node: 'a', transport: 'http', status: 'error', durationSeconds: 1.5, errorType: 'timeout' });
    for (const v of [0.004, 0.004, 0.2]) m.record({ node: 'b', transport: 'exec', status: 'success', durationSeconds: v });
    await m.measureHealthCheck('a', async () => true);
    tracing = startTracing();
    const t0 = Date.now();
    const ids = (fn: () => void) => tracing!.tracer.startActiveSpan('call', span => {
      fn();
      span.end();
      return { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
    });
    const inBucket = ids(() => m.record({ node: 'a', transport: 'http', status: 'success', durationSeconds: 0.07 }));
    const inInf = ids(() => m.record({ node: 'a', transport: 'http', status: 'error', durationSeconds: 70, errorType: 'timeout' }));
    return { inBucket, inInf, t0, t1: Date.now() };
  }

  const exemplarOf = (e: PbExemplar | undefined) => e === undefined ? undefined : {
    labels: Object.fromEntries(e.label.map(l => [l.name, l.value])),
    value: e.value,
    ms: (e.timestamp?.seconds ?? 0) * 1000 + Math.round((e.timestamp?.nanos ?? 0) / 1e6),
  };

  it('native: each duration series equals the store (count, sum, classic buckets, schema, zero bucket, spans, deltas, exemplars); counters too', async () => {
    const otel = await reg.ready({ histogram: 'native' });
    const { inBucket, inInf, t0, t1 } = await record(otel);
    const { contentType, families } = await scrapeProtobuf(otel);
    expect(contentType).to.equal('application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited');
    expect(families[0]!.name).to.equal('target_info');

    const store = storeOf(otel);
    const duration = histogramOf(store, 'gateway.request.duration');
    const f = family(families, 'gateway_request_duration_seconds');
    expect(f.type).to.equal('HISTOGRAM');
    expect(f.help).to.equal('Duration of each attempt to reach a backend node over one transport.');
    const rows = rowsOf(duration);
    expect(rows).to.have.length(3);
    expect(f.metric).to.have.length(3);
    for (const { row, cell } of rows) {
      const m = metricWith(f, { ...(cell.attributes as Record<string, string>), ...SCOPE });
      const h = m.histogram!;
      const d = duration.rows.block(row);
      const o = duration.rows.offset(row);
      expect(h.sampleCount).to.equal(duration.count(d, o));
      expect(h.sampleSum).to.equal(d[o + duration.SUM]);
      // Classic buckets: cumulative, finite bounds (+Inf only with an exemplar).
      let cumulative = 0;
      const ex = duration.exemplars![row];
      duration.boundaries.forEach((bound, i) => {
        cumulative += d[o + i]!;
        expect(h.bucket![i]!.upperBound).to.equal(bound);
        expect(h.bucket![i]!.cumulativeCount ?? 0).to.equal(cumulative);
      });
      const infExemplar = ex !== undefined && ex.times[duration.boundaries.length]! > 0;
      expect(h.bucket).to.have.length(duration.boundaries.length + (infExemplar ? 1 : 0));
      // Native: what the store's exponential cell converts to.
      const native = toNativeHistogram(duration.exponential![row]!.value())!;
      expect(h.schema ?? 0).to.equal(native.schema);
      expect(h.zeroThreshold).to.equal(1e-128);
      expect(h.zeroCount ?? 0).to.equal(native.zeroCount);
      expect(absoluteBuckets(h.positiveSpan, h.positiveDelta)).to.deep.equal(absoluteBuckets(native.positiveSpans, native.positiveDeltas));
      expect((h.positiveSpan ?? []).map(s => [s.offset ?? 0, s.length])).to.deep.equal(native.positiveSpans.map(s => [s.offset, s.length]));
      expect(h.positiveDelta ?? []).to.deep.equal(native.positiveDeltas);
      expect(h.negativeSpan).to.equal(undefined);
    }
    // The exemplars: the span's ids on the bucket of its value (0.07 in (0.05, 0.1]; 70 past 60 s: +Inf), and in `exemplars`.
    const ok = metricWith(f, { node: 'a', transport: 'http', status: 'success' }).histogram!;
    const okExemplar = exemplarOf(ok.bucket![4]!.exemplar)!;
    expect(ok.bucket![4]!.upperBound).to.equal(0.1);
    expect(okExemplar.labels).to.deep.equal({ trace_id: inBucket.traceId, span_id: inBucket.spanId });
    expect(okExemplar.value).to.equal(0.07);
    expect(okExemplar.ms).to.be.within(t0, t1);
    expect(ok.bucket!.filter(b => b.exemplar !== undefined)).to.have.length(1);
    expect(ok.exemplars!.map(exemplarOf)).to.deep.equal([okExemplar]);
    const err = metricWith(f, { node: 'a', transport: 'http', status: 'error' }).histogram!;
    const inf = err.bucket![duration.boundaries.length]!;
    expect(inf.upperBound).to.equal(Infinity);
    expect(inf.cumulativeCount).to.equal(2);
    expect(exemplarOf(inf.exemplar)!.labels).to.deep.equal({ trace_id: inInf.traceId, span_id: inInf.spanId });
    expect(err.exemplars!.map(exemplarOf)).to.deep.equal([exemplarOf(inf.exemplar)]);
    // Recorded outside spans: no exemplar at all.
    const b = metricWith(f, { node: 'b' }).histogram!;
    expect(b.bucket!.some(x => x.exemplar !== undefined)).to.equal(false);
    expect(b.exemplars).to.equal(undefined);

    // A histogram a View fixes to explicit buckets stays classic (no schema), and counters are counters.
    const health = metricWith(family(families, 'gateway_health_check_duration_seconds'), { node: 'a', status: 'success' }).histogram!;
    expect(health.sampleCount).to.equal(1);
    expect(health.schema).to.equal(undefined);
    expect(health.zeroThreshold).to.equal(undefined);
    const errors = family(families, 'gateway_request_errors_total');
    expect(errors.type).to.equal('COUNTER');
    expect(metricWith(errors, { node: 'a', error_type: 'timeout' }).counter!.value).to.equal(2);
    // The stats view still reads the explicit buckets of the Prometheus reader's series.
    const stats = await otel.stats();
    expect(stats.totals.requests).to.equal(MIX.length + 2 + 3 + 1);
    const a = stats.series.find(x => x.node === 'a' && x.transport === 'http')!;
    expect(a.latency.p95).to.be.a('number');
  });

  it('classicHistograms: false leaves the classic buckets out of native histograms; the exemplars stay in `exemplars`', async () => {
    const otel = await reg.ready({ histogram: 'native', prometheus: { classicHistograms: false } });
    const { inBucket } = await record(otel);
    const f = family((await scrapeProtobuf(otel)).families, 'gateway_request_duration_seconds');
    const ok = metricWith(f, { node: 'a', transport: 'http', status: 'success' }).histogram!;
    expect(ok.bucket).to.equal(undefined);
    expect(ok.sampleCount).to.equal(MIX.length + 1);
    expect(ok.zeroThreshold).to.equal(1e-128);
    expect(ok.exemplars!.map(e => exemplarOf(e)!.labels)).to.deep.equal([{ trace_id: inBucket.traceId, span_id: inBucket.spanId }]);
  });

  it('explicit mode: classic histograms only, exemplars on their buckets', async () => {
    const otel = await reg.ready();
    const { inBucket } = await record(otel);
    const f = family((await scrapeProtobuf(otel)).families, 'gateway_request_duration_seconds');
    const ok = metricWith(f, { node: 'a', transport: 'http', status: 'success' }).histogram!;
    expect(ok.schema).to.equal(undefined);
    expect(ok.zeroThreshold).to.equal(undefined);
    expect(ok.positiveSpan).to.equal(undefined);
    expect(ok.bucket).to.have.length(13);
    const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    expect(ok.bucket!.map(x => x.upperBound)).to.deep.equal(bounds);
    expect(ok.bucket!.map(x => x.cumulativeCount ?? 0)).to.deep.equal(bounds.map(le => [...MIX, 0.07].filter(v => v <= le).length));
    expect(exemplarOf(ok.bucket![4]!.exemplar)!.labels).to.deep.equal({ trace_id: inBucket.traceId, span_id: inBucket.spanId });
    expect(ok.exemplars).to.equal(undefined);
  });

  it('exemplars: false keeps none, and reads no span', async () => {
    const otel = await reg.ready({ histogram: 'native', prometheus: { exemplars: false } });
    await record(otel);
    const f = family((await scrapeProtobuf(otel)).families, 'gateway_request_duration_seconds');
    for (const m of f.metric) {
      expect(m.histogram!.bucket!.some(x => x.exemplar !== undefined)).to.equal(false);
      expect(m.histogram!.exemplars).to.equal(undefined);
    }
    expect(histogramOf(storeOf(otel), 'gateway.request.duration').exemplars).to.equal(undefined);
  });
});
