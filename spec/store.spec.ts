/**
 * The series store against the SDK: the same calls through GatewayMetrics on
 * our store and on a real SDK MeterProvider with the same Views give the same
 * points, cumulative and delta; rows are released with their node and reused;
 * Views set the buckets of the store as they do the SDK's.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type AggregationOption,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import { createGatewayMetrics, gatewayViews, GatewayMetrics, semconv } from '../lib';
import { RateLimitedWarner } from '../lib/core/diag';
import { SeriesStore, type StoreReader } from '../lib/store/store';
import { VERSION } from '../lib/core/version';
import { captureDiag } from './helpers/diag';

class Reader extends MetricReader {
  constructor(temporality: AggregationTemporality, aggregation?: AggregationOption) {
    super({
      aggregationTemporalitySelector: () => temporality,
      ...(aggregation !== undefined ? { aggregationSelector: (t: InstrumentType) => (t === InstrumentType.HISTOGRAM ? aggregation : { type: AggregationType.DEFAULT }) } : {}),
    });
  }
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

type Op =
  | { kind: 'record'; node: number; transport: number; error: boolean; ticks: number; bytes: number }
  | { kind: 'fallback'; node: number }
  | { kind: 'up'; node: number; up: boolean }
  | { kind: 'collect' };

const NODES = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
const TRANSPORTS = ['http', 'exec'];

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({
    kind: fc.constant('record' as const),
    node: fc.nat(NODES.length - 1),
    transport: fc.nat(1),
    error: fc.boolean(),
    // Durations in 1/1024 s steps (0 … 80 s): every sum is exact in binary
    // floating point, so the SDK adding up its deltas and the store adding up
    // records give the same bits whatever the order.
    ticks: fc.nat(80 * 1024),
    bytes: fc.nat(5_000_000),
  }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fallback' as const), node: fc.nat(NODES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('up' as const), node: fc.nat(NODES.length - 1), up: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'collect' as const }) },
);

function apply(m: GatewayMetrics, o: Op): void {
  if (o.kind === 'record') {
    m.record({
      node: NODES[o.node]!,
      transport: TRANSPORTS[o.transport]!,
      status: o.error ? 'error' : 'success',
      durationSeconds: o.ticks / 1024,
      ...(o.error ? { errorType: 'rate_limited' } : {}),
      requestBytes: o.bytes,
      responseBytes: o.bytes >> 1,
    });
  } else if (o.kind === 'fallback') {
    m.recordFallback({ node: NODES[o.node]!, from: 'http', to: 'exec' });
  } else if (o.kind === 'up') {
    m.setNodeUp(NODES[o.node]!, o.up);
  }
}

const key = (a: Attributes) => JSON.stringify(Object.keys(a).sort().map(k => [k, a[k]]));

/**
 * metric name → attribute key → the point's value (times left out: the two
 * clocks are read at different moments). A delta point of 0 on an observed
 * sum is left out too: on an SDK instrument, the in-flight callback observes
 * only series that changed (see core/recorder.ts), so the SDK reports no
 * point where the store reports a change of 0.
 */
function normalize(metrics: readonly MetricData[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const m of metrics) {
    const points: Record<string, unknown> = {};
    for (const dp of m.dataPoints as DataPoint<unknown>[]) {
      let v = dp.value as number | Histogram | ExponentialHistogram;
      if (v === 0 && m.aggregationTemporality === AggregationTemporality.DELTA && m.dataPointType === DataPointType.SUM) continue;
      if (typeof v !== 'number' && 'buckets' in v) v = { ...v, buckets: { boundaries: [...v.buckets.boundaries], counts: [...v.buckets.counts] } };
      points[key(dp.attributes)] = v;
    }
    if (Object.keys(points).length === 0) continue;
    out[m.descriptor.name] = { type: `${m.dataPointType}/${m.aggregationTemporality}/${'isMonotonic' in m ? m.isMonotonic : '-'}`, unit: m.descriptor.unit, points };
  }
  return out;
}

function sdkSide(temporality: AggregationTemporality, aggregation?: AggregationOption, views: ViewOptions[] = gatewayViews({ sizeBuckets: [1000, 100_000] })) {
  const reader = new Reader(temporality, aggregation);
  const provider = new MeterProvider({ readers: [reader], views });
  const metrics = createGatewayMetrics({ meterProvider: provider, sizeHistograms: true, sizeBuckets: [1000, 100_000] });
  return {
    metrics,
    async collect() {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.filter(sm => sm.scope.name === semconv.SCOPE_NAME).flatMap(sm => sm.metrics);
    },
    shutdown: () => provider.shutdown(),
  };
}

function storeSide(temporality: AggregationTemporality, aggregation?: AggregationOption, views: ViewOptions[] = gatewayViews({ sizeBuckets: [1000, 100_000] })) {
  const reader: StoreReader = {
    temporality: () => temporality,
    aggregation: t => (aggregation !== undefined && t === InstrumentType.HISTOGRAM ? aggregation : { type: AggregationType.DEFAULT }),
  };
  const store = new SeriesStore({ scope: { name: semconv.SCOPE_NAME, version: VERSION }, readers: [reader], views, warn: new RateLimitedWarner() });
  const metrics = new GatewayMetrics(store, { sizeHistograms: true, sizeBuckets: [1000, 100_000] });
  return { store, metrics, collect: async () => (await store.collect(0)).metrics };
}

describe('the series store gives the points the SDK gives', function () {
  this.timeout(60_000);

  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    const name = temporality === AggregationTemporality.CUMULATIVE ? 'cumulative' : 'delta';
    it(`random calls, ${name}: identical names, types, attribute sets, counts, buckets, sums, min and max at every collection`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 300, size: 'max' }), async ops => {
          const sdk = sdkSide(temporality);
          const ours = storeSide(temporality);
          try {
            for (const o of [...ops, { kind: 'collect' } as Op]) {
              if (o.kind !== 'collect') {
                apply(sdk.metrics, o);
                apply(ours.metrics, o);
                continue;
              }
              expect(normalize(await ours.collect())).to.deep.equal(normalize(await sdk.collect()));
            }
          } finally {
            await sdk.shutdown();
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    const name = temporality === AggregationTemporality.CUMULATIVE ? 'cumulative' : 'delta';
    it(`random calls, exponential histograms from the reader, ${name}: identical points at every collection`, async () => {
      const exponential: AggregationOption = { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160, recordMinMax: true } };
      // No duration Views: the reader's aggregation decides, as register() does in exponential mode.
      const views = gatewayViews({ sizeBuckets: [1000, 100_000], durationViews: false });
      // Cumulative, durations > 0: the SDK adds each interval into its cumulative
      // point by merging, and an interval that saw only zeros reports scale 0,
      // so a merge after one coarsens the whole history to scale 0; the store
      // records every value into one cell and keeps the finer scale
      // (spec/store-exponential.spec.ts shows the SDK's merge doing so).
      // Delta intervals are recorded alone on both sides: zeros included.
      const ops = temporality === AggregationTemporality.CUMULATIVE
        ? fc.array(op.map(o => (o.kind === 'record' && o.ticks === 0 ? { ...o, ticks: 1 } : o)), { minLength: 1, maxLength: 200, size: 'max' })
        : fc.array(op, { minLength: 1, maxLength: 200, size: 'max' });
      await fc.assert(
        fc.asyncProperty(ops, async ops => {
          const sdk = sdkSide(temporality, exponential, views);
          const ours = storeSide(temporality, exponential, views);
          try {
            for (const o of [...ops, { kind: 'collect' } as Op]) {
              if (o.kind !== 'collect') {
                apply(sdk.metrics, o);
                apply(ours.metrics, o);
                continue;
              }
              const got = normalize(await ours.collect());
              expect(got['gateway.request.duration']?.type ?? 'none').to.match(/^(none|1\/)/);
              expect(got).to.deep.equal(normalize(await sdk.collect()));
            }
          } finally {
            await sdk.shutdown();
          }
        }),
        { numRuns: 40 },
      );
    });
  }

  it('a fixed set of calls: the same exposition lines as through the SDK, family by family', async () => {
    const { PrometheusSerializer } = await import('../lib/export/exposition');
    const sdk = sdkSide(AggregationTemporality.CUMULATIVE);
    const ours = storeSide(AggregationTemporality.CUMULATIVE);
    for (let i = 0; i < 500; i++) {
      const o: Op = { kind: 'record', node: i % 6, transport: (i >> 1) % 2, error: i % 7 === 0, ticks: (i * 7919) % (60 * 1024), bytes: (i * 104_729) % 3_000_000 };
      apply(sdk.metrics, o);
      apply(ours.metrics, o);
      if (i % 50 === 0) {
        apply(sdk.metrics, { kind: 'fallback', node: i % 6 });
        apply(ours.metrics, { kind: 'fallback', node: i % 6 });
      }
    }
    const resource = { attributes: {} } as never;
    const serializer = new PrometheusSerializer({ targetInfo: false });
    const sdkText = serializer.serialize({ resource, scopeMetrics: [{ scope: { name: semconv.SCOPE_NAME, version: VERSION }, metrics: await sdk.collect() }] });
    const ourText = serializer.serialize({ resource, scopeMetrics: [] }, ours.store);
    await sdk.shutdown();
    // Families and series may come in another order; each line is the same.
    const lines = (t: string) => t.split('\n').filter(l => l !== '').sort();
    expect(lines(ourText)).to.have.length.above(500);
    expect(lines(ourText)).to.deep.equal(lines(sdkText));
  });
});

describe('the series store: rows, release and Views', () => {
  it('a node forgotten gives its rows back; a late record into its cell goes nowhere, not into the next tenant', async () => {
    const ours = storeSide(AggregationTemporality.CUMULATIVE);
    const recorder = ours.store.histogram('x', { description: 'x', unit: 's', valueType: 1, boundaries: [1, 2] });
    const old = recorder.cell(Object.freeze({ node: 'a' }), undefined);
    old.record(0.5);
    old.release();
    const fresh = recorder.cell(Object.freeze({ node: 'b' }), undefined);
    old.record(1.5);
    fresh.record(3);
    const x = (await ours.collect()).find(m => m.descriptor.name === 'x')!;
    expect(x.dataPoints.map(p => [p.attributes.node, (p.value as Histogram).buckets.counts])).to.deep.equal([['b', [0, 0, 1]]]);
  });

  it("takes a user's View before ours, matched by name with a wildcard as the SDK matches it: buckets, rename, drop", async () => {
    const views: ViewOptions[] = [
      { instrumentName: 'gateway.request.dur*', aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [0.1, 1] } } },
      { instrumentName: 'gateway.fallbacks', name: 'gateway.fallbacks.renamed' },
      { instrumentName: 'gateway.node.up', aggregation: { type: AggregationType.DROP } },
      ...gatewayViews(),
    ];
    const ours = storeSide(AggregationTemporality.CUMULATIVE, undefined, views);
    for (const m of [ours.metrics]) {
      apply(m, { kind: 'record', node: 0, transport: 0, error: false, ticks: 300, bytes: 0 });
      apply(m, { kind: 'fallback', node: 0 });
      apply(m, { kind: 'up', node: 0, up: true });
    }
    const got = normalize(await ours.collect());
    const dur = got['gateway.request.duration']!.points as Record<string, Histogram>;
    expect(Object.values(dur).map(h => [h.buckets.boundaries, h.buckets.counts])).to.deep.equal([[[0.1, 1], [0, 1, 0]]]);
    expect(Object.keys(got)).to.include('gateway.fallbacks.renamed').and.not.include('gateway.fallbacks').and.not.include('gateway.node.up');
    expect(Object.values(got['gateway.fallbacks.renamed']!.points as Record<string, number>)).to.deep.equal([1]);
    // With only the user's Views, the SDK gives the same (with ours too, it would make a second stream for each of ours that matches).
    const sdk = sdkSide(AggregationTemporality.CUMULATIVE, undefined, views.slice(0, 3));
    const alone = storeSide(AggregationTemporality.CUMULATIVE, undefined, views.slice(0, 3));
    for (const m of [sdk.metrics, alone.metrics]) {
      apply(m, { kind: 'record', node: 0, transport: 0, error: false, ticks: 300, bytes: 0 });
      apply(m, { kind: 'fallback', node: 0 });
      apply(m, { kind: 'up', node: 0, up: true });
    }
    expect(normalize(await alone.collect())).to.deep.equal(normalize(await sdk.collect()));
    await sdk.shutdown();
  });

  it('drops a value a histogram cannot take with one rate-limited warning, and never throws', async () => {
    const diag = captureDiag();
    try {
      const ours = storeSide(AggregationTemporality.CUMULATIVE);
      const recorder = ours.store.histogram('y', { description: 'y', unit: 's', valueType: 1, boundaries: [1] });
      const cell = recorder.cell(Object.freeze({ node: 'a' }), undefined);
      for (const v of [NaN, Infinity, -1, -Infinity, 0.5]) cell.record(v);
      const y = (await ours.collect()).find(m => m.descriptor.name === 'y')!;
      expect((y.dataPoints[0]!.value as Histogram).count).to.equal(1);
      expect(diag.warn.filter(w => w.includes('y: dropped'))).to.have.length(1);
    } finally {
      diag.restore();
    }
  });

  it('grows its slab past the first rows and keeps every series exact (10,000 series)', async () => {
    const ours = storeSide(AggregationTemporality.CUMULATIVE);
    const recorder = ours.store.histogram('z', { description: 'z', unit: 's', valueType: 1, boundaries: [1] });
    const cells = Array.from({ length: 10_000 }, (_, i) => recorder.cell(Object.freeze({ i }), undefined));
    cells.forEach((c, i) => {
      for (let k = 0; k <= i % 3; k++) c.record(k);
    });
    const z = (await ours.collect()).find(m => m.descriptor.name === 'z')!;
    expect(z.dataPoints).to.have.length(10_000);
    const byI = new Map(z.dataPoints.map(p => [p.attributes.i, (p.value as Histogram).count]));
    expect([...byI.entries()].every(([i, n]) => n === ((i as number) % 3) + 1)).to.equal(true);
  });
});


