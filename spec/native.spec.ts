/**
 * OTel exponential histograms as Prometheus native histograms
 * (lib/export/native.ts): hand-built bucket layouts, and real sdk-metrics
 * ExponentialHistogram points whose every value is checked against the
 * Prometheus bucket it must fall in, (base^(i−1), base^i].
 */
import { expect } from 'chai';
import { AggregationTemporality, AggregationType, DataPointType, MeterProvider, MetricReader, type DataPoint, type ExponentialHistogram } from '@opentelemetry/sdk-metrics';
import { nativeBuckets, nativeSchema, NATIVE_ZERO_THRESHOLD, toNativeHistogram } from '../lib/export/native';
import { absoluteBuckets } from './helpers/promproto';

class Reader extends MetricReader {
  constructor() {
    super({ aggregationSelector: () => ({ type: AggregationType.EXPONENTIAL_HISTOGRAM }), aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Real SDK points of one histogram that recorded `values`. */
async function sdkPoint(values: number[], maxSize?: number): Promise<ExponentialHistogram> {
  const reader = new Reader();
  const provider = new MeterProvider({
    readers: [reader],
    views: maxSize === undefined ? [] : [{ instrumentName: 'h', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize } } }],
  });
  const h = provider.getMeter('spec').createHistogram('h');
  for (const v of values) h.record(v);
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics[0]!.metrics[0]!;
  expect(metric.dataPointType).to.equal(DataPointType.EXPONENTIAL_HISTOGRAM);
  await provider.shutdown();
  return (metric.dataPoints[0] as DataPoint<ExponentialHistogram>).value;
}

/** Where Prometheus puts each value at `schema`: the smallest i with v <= base^i, counted by index. */
function expectedBuckets(values: number[], schema: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const v of values) {
    const i = Math.ceil(Math.log2(v) * 2 ** schema);
    out.set(i, (out.get(i) ?? 0) + 1);
  }
  return out;
}

describe('native histograms from exponential ones', () => {
  describe('nativeBuckets (hand-built layouts)', () => {
    const run = (offset: number, counts: number[], scaleDown: number) => {
      const spans: number[] = [];
      const deltas: number[] = [];
      nativeBuckets(offset, counts, scaleDown, spans, deltas);
      return { spans, deltas };
    };

    it('shifts OTel indexes by one (OTel (b^i, b^(i+1)] is Prometheus (b^(i-1), b^i] of index i + 1) and writes deltas', () => {
      expect(run(5, [1, 2, 5], 0)).to.deep.equal({ spans: [6, 3], deltas: [1, 1, 3] });
    });

    it('opens a new span after a gap of three or more empty buckets, its offset the gap', () => {
      expect(run(5, [1, 2, 0, 0, 0, 3], 0)).to.deep.equal({ spans: [6, 2, 3, 1], deltas: [1, 1, 1] });
    });

    it('fills a gap of one or two empty buckets with zeros instead', () => {
      expect(run(0, [1, 0, 0, 4], 0)).to.deep.equal({ spans: [1, 4], deltas: [1, -1, 0, 4] });
      expect(run(-2, [3, 0, 3], 0)).to.deep.equal({ spans: [-1, 3], deltas: [3, -3, 3] });
    });

    it('skips empty buckets at either end', () => {
      expect(run(10, [0, 0, 7, 0], 0)).to.deep.equal({ spans: [13, 1], deltas: [7] });
      expect(run(10, [0, 0, 0], 0)).to.deep.equal({ spans: [], deltas: [] });
    });

    it('merges 2^scaleDown neighbours when downscaling, flooring negative indexes', () => {
      // OTel −3 … 1 at scale s are −1, −1, −1, 0, 0 at s − 2, then + 1.
      expect(run(-3, [1, 1, 1, 1, 1], 2)).to.deep.equal({ spans: [0, 2], deltas: [3, -1] });
      // OTel 6 … 9 >> 1 = 3, 3, 4, 4 → Prometheus 4, 5.
      expect(run(6, [2, 0, 1, 1], 1)).to.deep.equal({ spans: [4, 2], deltas: [2, 0] });
    });
  });

  describe('nativeSchema', () => {
    it('clamps scales above 8 to 8 and refuses those below -4', () => {
      expect(nativeSchema(20)).to.deep.equal({ schema: 8, scaleDown: 12 });
      expect(nativeSchema(8)).to.deep.equal({ schema: 8, scaleDown: 0 });
      expect(nativeSchema(3)).to.deep.equal({ schema: 3, scaleDown: 0 });
      expect(nativeSchema(-4)).to.deep.equal({ schema: -4, scaleDown: 0 });
      expect(nativeSchema(-5)).to.equal(undefined);
    });
  });

  describe('real sdk-metrics points', () => {
    it('a 29–145 ms mix: every value in the Prometheus bucket it belongs to, count, sum and zero bucket kept', async () => {
      const values: number[] = [];
      for (let i = 0; i < 500; i++) values.push(0.029 + (0.116 * i) / 499);
      const point = await sdkPoint([...values, 0, 0]);
      expect(point.scale).to.be.at.most(8); // 160 buckets over a factor of 5: scale 6
      const native = toNativeHistogram(point)!;
      expect(native.schema).to.equal(point.scale);
      expect(native.zeroThreshold).to.equal(NATIVE_ZERO_THRESHOLD);
      expect(native.zeroCount).to.equal(2);
      expect(native.count).to.equal(502);
      expect(native.sum).to.be.closeTo(values.reduce((a, b) => a + b, 0), 1e-9);
      expect(absoluteBuckets(native.positiveSpans, native.positiveDeltas)).to.deep.equal(expectedBuckets(values, native.schema));
      expect(native.negativeSpans).to.deep.equal([]);
    });

    it('values close together stay at scale 20 in OTel and are served at schema 8, merged into the buckets of schema 8', async () => {
      const values = [1.1, 1.1001, 1.1002, 1.1003, 1.3];
      const point = await sdkPoint(values);
      expect(point.scale).to.be.greaterThan(8);
      const native = toNativeHistogram(point)!;
      expect(native.schema).to.equal(8);
      expect(absoluteBuckets(native.positiveSpans, native.positiveDeltas)).to.deep.equal(expectedBuckets(values, 8));
    });

    it('exact powers of two land in the bucket they close (upper bounds are inclusive on both sides)', async () => {
      const values = [0.25, 0.5, 1, 2, 4, 3];
      const point = await sdkPoint(values);
      const native = toNativeHistogram(point)!;
      expect(absoluteBuckets(native.positiveSpans, native.positiveDeltas)).to.deep.equal(expectedBuckets(values, native.schema));
    });

    it('a wide spread with few buckets downscales in OTel first (scale below 8 served as it is)', async () => {
      const values = [1e-4, 1e-3, 0.01, 0.1, 1, 10, 100];
      const point = await sdkPoint(values, 8);
      expect(point.scale).to.be.lessThan(0);
      const native = toNativeHistogram(point)!;
      expect(native.schema).to.equal(point.scale);
      const decoded = absoluteBuckets(native.positiveSpans, native.positiveDeltas);
      expect([...decoded.values()].reduce((a, b) => a + b, 0)).to.equal(values.length);
      expect(decoded).to.deep.equal(expectedBuckets(values, native.schema));
    });

    it('toNativeHistogram has no form for a scale below -4', () => {
      expect(toNativeHistogram({ count: 1, sum: 1, scale: -5, zeroCount: 0, positive: { offset: 0, bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [] } })).to.equal(undefined);
    });
  });
});
