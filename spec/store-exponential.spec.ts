/**
 * ExponentialCell (lib/store/exponential.ts) against the real sdk-metrics 3.1.
 *
 * Every expected value comes from the SDK: a MeterProvider with an exponential
 * View read back through a MetricReader, or, for diff() and merge() on their
 * own, the SDK's accumulation class itself. The SDK exports neither
 * ExponentialHistogramAccumulation nor its aggregator, and its synchronous
 * pipeline never calls diff() (a delta point is a fresh accumulation of the
 * interval), so those two are loaded from the package's dist by file path.
 *
 * Three documented differences, each pinned by its own spec against the SDK:
 * - where the SDK reports min = +Infinity and max = -Infinity (no
 *   observation, or a diff result), value() leaves min and max undefined;
 *   `expectedFrom()` applies exactly that to the SDK's point and nothing else;
 * - where the SDK's point is not a histogram (more than maxSize buckets,
 *   counts not adding up; a downscale across scale 0, see the spec), ours is
 *   one, with the same count, sum, min and max (`expectPoint()`);
 * - where the SDK's diff() goes wrong (only zeros since the snapshot), ours
 *   gives the SDK's delta point for the interval.
 */
import { expect } from 'chai';
import * as fc from 'fast-check';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import {
  AggregationTemporality,
  AggregationType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type ExponentialHistogram,
} from '@opentelemetry/sdk-metrics';
import { ExponentialCell, type ExponentialValue } from '../lib/store/exponential';

// ---------------------------------------------------------------- the SDK

interface SdkPointValue {
  hasMinMax: boolean;
  min: number;
  max: number;
  sum: number;
  count: number;
  scale: number;
  zeroCount: number;
  positive: { offset: number; bucketCounts: number[] };
  negative: { offset: number; bucketCounts: number[] };
}
interface SdkAccumulation {
  record(value: number): void;
  clone(): SdkAccumulation;
  toPointValue(): SdkPointValue;
}
interface SdkAggregator {
  merge(previous: SdkAccumulation, delta: SdkAccumulation): SdkAccumulation;
  diff(previous: SdkAccumulation, current: SdkAccumulation): SdkAccumulation;
}
const sdkDist = path.dirname(createRequire(__filename).resolve('@opentelemetry/sdk-metrics'));
const internals = createRequire(__filename)(path.join(sdkDist, 'aggregator', 'ExponentialHistogram.cjs')) as {
  ExponentialHistogramAccumulation: new (startTime: [number, number], maxSize?: number, recordMinMax?: boolean) => SdkAccumulation;
  ExponentialHistogramAggregator: new (maxSize: number, recordMinMax: boolean) => SdkAggregator;
};
const sdkAccumulation = (maxSize: number, recordMinMax: boolean): SdkAccumulation =>
  new internals.ExponentialHistogramAccumulation([0, 0], maxSize, recordMinMax);
const sdkAggregator = (maxSize: number, recordMinMax: boolean): SdkAggregator =>
  new internals.ExponentialHistogramAggregator(maxSize, recordMinMax);

/** An accumulation's value as the SDK's toMetricData puts it in a point (histogram instrument). */
function pointOf(a: SdkAccumulation): ExponentialHistogram {
  const v = a.toPointValue();
  return {
    min: v.hasMinMax ? v.min : undefined,
    max: v.hasMinMax ? v.max : undefined,
    sum: v.sum,
    positive: { offset: v.positive.offset, bucketCounts: v.positive.bucketCounts },
    negative: { offset: v.negative.offset, bucketCounts: v.negative.bucketCounts },
    count: v.count,
    scale: v.scale,
    zeroCount: v.zeroCount,
  };
}

/** What value() must return for an SDK point: the same, with unknown min / max (±Infinity) as undefined. */
function expectedFrom(p: ExponentialHistogram): ExponentialHistogram {
  const unknown = p.min === Infinity && p.max === -Infinity;
  return { ...p, min: unknown ? undefined : p.min, max: unknown ? undefined : p.max };
}

/**
 * Whether a point is a histogram at all: at most maxSize buckets a side,
 * whole non-negative counts adding up to count − zeroCount. The SDK's are not
 * always: see "SDK: a downscale from scale > 0 to <= 0 can leave ...".
 */
function isValid(p: ExponentialHistogram | ExponentialValue, maxSize: number): boolean {
  const sides = [p.positive.bucketCounts, p.negative.bucketCounts];
  if (sides.some(b => b.length > Math.max(2, maxSize) || b.some(c => !Number.isInteger(c) || c < 0))) return false;
  return sides.flat().reduce((a, c) => a + c, 0) === p.count - p.zeroCount;
}

/**
 * value() against the SDK's point: deep-equal (as expectedFrom), unless the
 * SDK's point is broken, or was in an earlier step (`broken`): then ours is a
 * valid histogram with the SDK's count, zeroCount, sum, min and max. Returns
 * whether the SDK is broken from here on.
 */
function expectPoint(ours: ExponentialValue, point: ExponentialHistogram, maxSize: number, broken = false): boolean {
  const sdk = expectedFrom(point);
  if (!broken && isValid(point, maxSize)) {
    expect(ours).to.deep.equal(sdk);
    return false;
  }
  expect(isValid(ours, maxSize), 'ours is a valid histogram where the SDK\'s is not').to.equal(true);
  const totals = (v: ExponentialHistogram) => ({ count: v.count, zeroCount: v.zeroCount, sum: v.sum, min: v.min, max: v.max });
  expect(totals(ours)).to.deep.equal(totals(sdk));
  return true;
}

class PullReader extends MetricReader {
  constructor(temporality: AggregationTemporality) {
    super({ aggregationTemporalitySelector: () => temporality });
  }
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

interface Pipeline {
  record(value: number): void;
  /** The one data point of the collection, or undefined when there is none. */
  collect(): Promise<ExponentialHistogram | undefined>;
  shutdown(): Promise<void>;
}

/**
 * A real MeterProvider: a Histogram instrument (drops negative values before
 * aggregating, as the SDK's Histogram does) or a Gauge (passes them on, but
 * its points carry no sum), with an exponential View.
 */
function pipeline(kind: 'histogram' | 'gauge', temporality: AggregationTemporality, maxSize: number, recordMinMax: boolean): Pipeline {
  const reader = new PullReader(temporality);
  const provider = new MeterProvider({
    readers: [reader],
    views: [{ instrumentName: 'x', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize, recordMinMax } } }],
  });
  const meter = provider.getMeter('store-exponential.spec');
  const instrument = kind === 'histogram' ? meter.createHistogram('x') : meter.createGauge('x');
  return {
    record: v => instrument.record(v),
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      const points = resourceMetrics.scopeMetrics.flatMap(s => s.metrics).flatMap(m => m.dataPoints as DataPoint<unknown>[]);
      expect(points.length).to.be.at.most(1);
      return points[0]?.value as ExponentialHistogram | undefined;
    },
    shutdown: () => provider.shutdown(),
  };
}

// ---------------------------------------------------------------- values

const view = new DataView(new ArrayBuffer(8));
/** The double next to x (dir +1 up, -1 down), for positive finite x. */
function nextDouble(x: number, dir: 1 | -1): number {
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + BigInt(dir));
  return view.getFloat64(0);
}

const zero = fc.constantFrom(0, -0);
/** Subnormals and the smallest normal (where both mappings special-case). */
const subnormal = fc.oneof(fc.double({ min: Number.MIN_VALUE, max: 2 ** -1022, noNaN: true }), fc.constantFrom(2 ** -1022, Number.MIN_VALUE));
const tiny = fc.double({ min: Number.MIN_VALUE, max: 1e-290, noNaN: true });
const huge = fc.oneof(fc.double({ min: 1e290, max: Number.MAX_VALUE, noNaN: true }), fc.constant(Number.MAX_VALUE));
const powerOfTwo = fc.integer({ min: -1074, max: 1023 }).map(e => 2 ** e);
const logUniform = (lo: number, hi: number) => fc.double({ min: lo, max: hi, noNaN: true }).map(e => 10 ** e);
/** Request latencies in seconds, 1 µs .. 100 s. */
const latency = logUniform(-6, 2);
/** Spread over nearly all of the double range: forces the lowest scales. */
const wide = logUniform(-300, 300);
/** A narrow cluster that fills the finest scales' buckets. */
const cluster = fc.double({ min: 1, max: 1.001, noNaN: true });
/** Any finite positive double, uniform over bit patterns. */
const anyPositive = fc.double({ min: Number.MIN_VALUE, max: Number.MAX_VALUE, noNaN: true });
/** On and next to the boundaries of a scale's buckets: 2**(i / 2**scale), computed two ways, ±1 ulp. */
const boundary = fc
  .record({ scale: fc.integer({ min: -10, max: 20 }), exponent: fc.integer({ min: -1000, max: 1000 }), j: fc.nat(), how: fc.boolean(), nudge: fc.constantFrom(-1, 0, 1) })
  .map(({ scale, exponent, j, how, nudge }) => {
    const per = scale > 0 ? 2 ** scale : 1;
    const step = scale > 0 ? 1 : 2 ** -scale;
    const i = exponent * per + (j % per);
    const x = scale > 0 ? (how ? Math.pow(2, i / per) : Math.exp(i * Math.LN2 / per)) : 2 ** Math.max(-1074, Math.min(1023, exponent * step));
    return nudge === 0 ? x : nextDouble(x, nudge as 1 | -1);
  })
  .filter(x => Number.isFinite(x) && x > 0);

/** Magnitudes drawn from one of a few mixes per sequence. */
const mixes: fc.Arbitrary<number>[] = [
  fc.oneof({ arbitrary: latency, weight: 20 }, { arbitrary: zero, weight: 1 }),
  fc.oneof(wide, tiny, huge, subnormal, powerOfTwo, boundary, zero, latency),
  fc.oneof({ arbitrary: cluster, weight: 10 }, { arbitrary: boundary, weight: 3 }, { arbitrary: powerOfTwo, weight: 1 }),
  fc.oneof({ arbitrary: anyPositive, weight: 5 }, { arbitrary: boundary, weight: 3 }, { arbitrary: zero, weight: 1 }),
  fc.oneof(powerOfTwo, boundary),
];
/** Per sequence, a narrow band (2**c .. 2**(c + 2**w)): the middle and fine scales, 0 .. 20. */
const narrow = fc
  // (Up to 2**980: a band entirely above 1e300 would leave sequence({ finiteSums }) nothing to draw.)
  .tuple(fc.double({ min: -1000, max: 980, noNaN: true }), fc.double({ min: -22, max: 3, noNaN: true }))
  .map(([c, w]) => fc.double({ min: c, max: c + 2 ** w, noNaN: true }).map(e => 2 ** e).filter(x => x > 0 && Number.isFinite(x)));
const withSign = (mag: fc.Arbitrary<number>) => fc.tuple(mag, fc.nat(9)).map(([v, r]) => (r < 3 ? -v : v));
const nonFinite = fc.constantFrom(NaN, Infinity, -Infinity);

/** A sequence of 1..max values from one mix; `signed` adds negatives, `junk` a few NaN / ±Infinity. */
function sequence(opts: { signed: boolean; junk?: boolean; max?: number; finiteSums?: boolean }): fc.Arbitrary<number[]> {
  return fc.oneof({ arbitrary: fc.constantFrom(...mixes), weight: 2 }, { arbitrary: narrow, weight: 1 }).chain(mix => {
    let v = opts.signed ? withSign(mix) : mix;
    // Sums of values up to 1e300 stay finite over 2,000 values (a difference of infinite sums is NaN).
    if (opts.finiteSums) v = v.filter(x => Math.abs(x) <= 1e300);
    if (opts.junk) v = fc.oneof({ arbitrary: v, weight: 30 }, { arbitrary: nonFinite, weight: 1 });
    return fc.array(v, { minLength: 1, maxLength: opts.max ?? 2000, size: 'max' });
  });
}

/** Cut `values` into consecutive intervals at the given positions (some intervals may be empty). */
function intervals(values: number[], cuts: number[]): number[][] {
  const at = [...new Set(cuts.map(c => c % (values.length + 1)))].sort((a, b) => a - b);
  const out: number[][] = [];
  let from = 0;
  for (const c of [...at, values.length]) {
    out.push(values.slice(from, c));
    from = c;
  }
  return out;
}

/**
 * Two sides holding the same values at the same scale, up to the SDK's
 * mapping: at scale > 0 it maps by Math.log, which puts a value a few ulps
 * below a power of two in the bucket above (2**e), where the bit-exact
 * mapping of scale <= 0 puts it below. Values recorded at different scales
 * can therefore sit one bucket apart once both are brought to one scale.
 * Same count per side, and sorted bucket indices pairwise at most 1 apart.
 */
function sameValuesUpToOneBucket(ours: { offset: number; bucketCounts: number[] }, theirs: { offset: number; bucketCounts: number[] }, shift: number): void {
  const expand = (m: Map<number, number>) => [...m].sort((x, y) => x[0] - y[0]).flatMap(([k, c]) => new Array<number>(c).fill(k));
  const a = expand(rebucketed(ours, 0));
  const b = expand(rebucketed(theirs, shift));
  expect(a.length).to.equal(b.length);
  const far = a.findIndex((k, i) => Math.abs(k - b[i]!) > 1);
  expect(far, `bucket ${a[far]} against ${b[far]}`).to.equal(-1);
}

/** A side's buckets as index → count at a lower scale (index >> shift), empty buckets left out. */
function rebucketed(side: { offset: number; bucketCounts: number[] }, shift: number): Map<number, number> {
  const m = new Map<number, number>();
  side.bucketCounts.forEach((c, i) => {
    if (c === 0) return;
    const k = (side.offset + i) >> shift;
    m.set(k, (m.get(k) ?? 0) + c);
  });
  return m;
}

const CUMULATIVE = AggregationTemporality.CUMULATIVE;
const DELTA = AggregationTemporality.DELTA;
const SIZES = [160, 20, 4];

function withoutSum(v: ExponentialValue | ExponentialHistogram): Omit<ExponentialHistogram, 'sum'> {
  const { sum: _sum, ...rest } = v;
  return rest;
}

// ---------------------------------------------------------------- specs

describe('store/exponential: ExponentialCell gives the SDK\'s exponential histogram points', function () {
  this.timeout(120_000);

  describe('cumulative: record() into one cell = the SDK\'s point (property)', () => {
    for (const maxSize of SIZES) {
      it(`maxSize ${maxSize}, Histogram instrument (values >= 0, a few NaN / ±Infinity): the whole point`, async () => {
        await fc.assert(
          fc.asyncProperty(sequence({ signed: false, junk: true }), fc.boolean(), async (values, recordMinMax) => {
            const sdk = pipeline('histogram', CUMULATIVE, maxSize, recordMinMax);
            const cell = new ExponentialCell(maxSize, recordMinMax);
            for (const v of values) {
              sdk.record(v);
              cell.record(v);
            }
            const point = await sdk.collect();
            await sdk.shutdown();
            if (values.every(v => v < 0)) {
              // Only -Infinity: the Histogram instrument dropped it, no point at all.
              expect(point).to.equal(undefined);
              return;
            }
            expectPoint(cell.value(), point!, maxSize);
          }),
          { numRuns: 100 },
        );
      });

      it(`maxSize ${maxSize}, signed values (Gauge instrument, and the SDK's accumulation for the sum)`, async () => {
        await fc.assert(
          fc.asyncProperty(sequence({ signed: true, junk: true }), fc.boolean(), async (values, recordMinMax) => {
            const sdk = pipeline('gauge', CUMULATIVE, maxSize, recordMinMax);
            const acc = sdkAccumulation(maxSize, recordMinMax);
            const cell = new ExponentialCell(maxSize, recordMinMax);
            for (const v of values) {
              sdk.record(v);
              acc.record(v);
              cell.record(v);
            }
            const point = await sdk.collect();
            await sdk.shutdown();
            // A Gauge's exponential points carry no sum (toMetricData leaves it out for gauges).
            expect(point!.sum).to.equal(undefined);
            expectPoint({ ...cell.value(), sum: undefined as unknown as number }, point!, maxSize);
            expectPoint(cell.value(), pointOf(acc), maxSize);
          }),
          { numRuns: 100 },
        );
      });
    }

    it('values on and next to the bucket boundaries of the scale in use (each maxSize, both mappings)', async () => {
      // Two anchors put the cell at some scale; then values around that scale's boundaries between them.
      const anchors = fc.tuple(logUniform(-300, 300), fc.double({ min: 2 ** -20, max: 600, noNaN: true }));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...SIZES, 2),
          anchors,
          fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(-1, 0, 1)), { minLength: 1, maxLength: 300 }),
          async (maxSize, [low, ratioLog2], picks) => {
            const high = low * 2 ** ratioLog2;
            fc.pre(Number.isFinite(high));
            const probe = new ExponentialCell(maxSize);
            probe.record(low);
            probe.record(high);
            // The probe only chooses inputs; expectations come from the SDK.
            const s = probe.scale;
            const values = [low, high];
            for (const [f, nudge] of picks) {
              const e = Math.log2(low) + f * ratioLog2;
              const x = s > 0 ? Math.pow(2, Math.round(e * 2 ** s) / 2 ** s) : 2 ** (Math.round(e / 2 ** -s) * 2 ** -s);
              if (!(x > 0 && Number.isFinite(x))) continue;
              values.push(nudge === 0 ? x : nextDouble(x, nudge as 1 | -1));
            }
            const sdk = pipeline('histogram', CUMULATIVE, maxSize, true);
            const cell = new ExponentialCell(maxSize);
            for (const v of values) {
              sdk.record(v);
              cell.record(v);
            }
            const point = await sdk.collect();
            await sdk.shutdown();
            expectPoint(cell.value(), point!, maxSize);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('SDK: the order of records can move a value by a bucket (Math.log at scale > 0, bits at scale <= 0); ours follows', async () => {
      const x = 65535.99999999999; // one ulp below 2**16
      const points: ExponentialHistogram[] = [];
      for (const order of [[x, 1e-300, 1e300], [1e-300, 1e300, x]]) {
        const sdk = pipeline('histogram', CUMULATIVE, 160, true);
        const cell = new ExponentialCell();
        for (const v of order) {
          sdk.record(v);
          cell.record(v);
        }
        const point = (await sdk.collect())!;
        await sdk.shutdown();
        expect(cell.value()).to.deep.equal(expectedFrom(point));
        points.push(point);
      }
      expect(points[0]!.scale).to.equal(points[1]!.scale);
      expect(points[0]!.positive).to.not.deep.equal(points[1]!.positive);
    });

    it('SDK: a downscale from scale > 0 to <= 0 can leave the value outside the window (more than maxSize buckets, counts adding up to more than count); ours halves once more', async () => {
      // 1, then one ulp below 2**-160, default maxSize: the change is computed from Math.log's index at
      // scale 20 (one bucket up), the exact index at scale 0 is one further out: 161 buckets.
      const x = nextDouble(2 ** -160, -1);
      const sdk = pipeline('histogram', CUMULATIVE, 160, true);
      const cell = new ExponentialCell();
      for (const v of [1, x]) {
        sdk.record(v);
        cell.record(v);
      }
      const point = (await sdk.collect())!;
      await sdk.shutdown();
      expect(point).to.deep.include({ count: 2, scale: 0 });
      expect(point.positive.offset).to.equal(-161);
      expect(point.positive.bucketCounts.length).to.equal(161);
      expect(point.positive.bucketCounts.reduce((a, c) => a + c, 0)).to.equal(4);
      expect(isValid(point, 160)).to.equal(false);
      // At scale -1, buckets (4**i, 4**(i+1)]: x in i = -81, 1 in i = -1.
      const counts = new Array<number>(81).fill(0);
      counts[0] = 1;
      counts[80] = 1;
      expect(cell.value()).to.deep.equal({ ...expectedFrom(point), scale: -1, positive: { offset: -81, bucketCounts: counts } });
    });

    it('maxSize below 2 is raised to 2, as the SDK does', async () => {
      for (const maxSize of [1, 0, -5]) {
        const sdk = pipeline('histogram', CUMULATIVE, maxSize, true);
        const cell = new ExponentialCell(maxSize);
        for (const v of [1, 3, 1e-3, 1e9, 0.5]) {
          sdk.record(v);
          cell.record(v);
        }
        const point = await sdk.collect();
        await sdk.shutdown();
        expect(cell.value()).to.deep.equal(expectedFrom(point!));
      }
    });

    it('defaults are maxSize 160 and recordMinMax true, as a View without options', async () => {
      const reader = new PullReader(CUMULATIVE);
      const provider = new MeterProvider({ readers: [reader], views: [{ instrumentName: 'x', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }] });
      const h = provider.getMeter('m').createHistogram('x');
      const cell = new ExponentialCell();
      for (let i = 0; i < 500; i++) {
        const v = 1e-6 * 1.05 ** i;
        h.record(v);
        cell.record(v);
      }
      const { resourceMetrics } = await reader.collect();
      await provider.shutdown();
      const point = resourceMetrics.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.value as ExponentialHistogram;
      expect(point.positive.bucketCounts.length).to.be.greaterThan(20);
      expect(cell.value()).to.deep.equal(expectedFrom(point));
    });
  });

  describe('delta: cur.diff(snapshot at the last collect) against a DELTA reader (property)', () => {
    for (const [maxSize, kind] of SIZES.flatMap(m => [[m, 'histogram'], [m, 'gauge']] as const)) {
      it(`maxSize ${maxSize}, ${kind === 'histogram' ? 'Histogram (values >= 0)' : 'Gauge (signed values, points without sum)'}: equal to the SDK's own diff(); against the SDK's delta point: same counts, its values at the (coarser) cumulative scale, its sum up to rounding`, async () => {
        await fc.assert(
          fc.asyncProperty(
            sequence({ signed: kind === 'gauge', junk: true, finiteSums: true }),
            fc.array(fc.nat(2000), { maxLength: 8 }),
            fc.boolean(),
            async (values, cuts, recordMinMax) => {
              const sdk = pipeline(kind, DELTA, maxSize, recordMinMax);
              const agg = sdkAggregator(maxSize, recordMinMax);
              const cur = new ExponentialCell(maxSize, recordMinMax);
              let snap = cur.clone();
              const curAcc = sdkAccumulation(maxSize, recordMinMax);
              let snapAcc = curAcc.clone();
              let n = 0;
              let absSum = 0;
              let broken = false;
              for (const part of intervals(values, cuts)) {
                for (const v of part) {
                  sdk.record(v);
                  cur.record(v);
                  curAcc.record(v);
                  n++;
                  if (Number.isFinite(v)) absSum += Math.abs(v);
                }
                const point = await sdk.collect();
                const d = cur.diff(snap);
                const dv = d.value();
                // Once the SDK's state is broken (see expectPoint), compare only what still holds.
                broken ||= !isValid(pointOf(curAcc), maxSize) || (point !== undefined && !isValid(point, maxSize));
                if (broken) {
                  expect(isValid(cur.value(), maxSize)).to.equal(true);
                  expect(isValid(dv, maxSize)).to.equal(true);
                  snap = cur.clone();
                  snapAcc = curAcc.clone();
                  continue;
                }

                // The SDK's diff resets min / max; value() reports them as unknown.
                expect([d.min, d.max]).to.deep.equal([Infinity, -Infinity]);
                expect([dv.min, dv.max]).to.deep.equal([undefined, undefined]);

                const onlyZeros = !part.some(v => Number.isFinite(v) && v !== 0);
                // Where the SDK's diff goes wrong: only zeros (or nothing) since, other values before, scale not 0.
                const sdkDiffWrong = onlyZeros && cur.count !== cur.zeroCount && cur.scale !== 0;
                if (!sdkDiffWrong) {
                  // Same as the SDK's aggregator diff(previous, current), bit for bit, and it records on alike.
                  const sdkDiff = agg.diff(snapAcc, curAcc);
                  expectPoint(dv, pointOf(sdkDiff), maxSize);
                  const next = d.clone();
                  for (const v of values.slice(0, 20)) {
                    next.record(v);
                    sdkDiff.record(v);
                  }
                  expectPoint(next.value(), pointOf(sdkDiff), maxSize);
                }
                // What the instrument let through (a Histogram drops -Infinity, as any negative).
                const reached = kind === 'histogram' ? part.filter(v => !(v < 0)) : part;
                // Nothing recorded since the last collect: the DELTA reader has no point.
                if (reached.length === 0) expect(point).to.equal(undefined);
                if (onlyZeros) {
                  // Only zeros (or NaN / Infinity, or nothing) since: no buckets, and the counts of the SDK's delta point.
                  // (A Gauge's point has no sum; nothing but zeros added up is 0.)
                  const want = point === undefined ? EMPTY : { ...withoutMinMax(point), sum: kind === 'gauge' ? 0 : point.sum };
                  if (sdkDiffWrong) {
                    // Where the SDK's diff goes wrong, ours is the SDK's delta point itself, min / max aside.
                    expect(withoutMinMax(dv)).to.deep.equal(want);
                  } else {
                    // (Like the SDK's diff, an emptied side may keep its last offset.)
                    const bare = (v: Omit<ExponentialHistogram, 'min' | 'max'>) => ({ ...v, positive: v.positive.bucketCounts, negative: v.negative.bucketCounts });
                    expect(bare(withoutMinMax(dv))).to.deep.equal(bare(want));
                  }
                } else {
                  expect(dv.count).to.equal(point!.count);
                  expect(dv.zeroCount).to.equal(point!.zeroCount);
                  expect(dv.scale).to.be.at.most(point!.scale);
                  const shift = point!.scale - dv.scale;
                  sameValuesUpToOneBucket(dv.positive, point!.positive, shift);
                  sameValuesUpToOneBucket(dv.negative, point!.negative, shift);
                  // Subtracted cumulative sums against a sum of the interval: equal up to rounding.
                  if (kind === 'histogram') expect(Math.abs(dv.sum - point!.sum!)).to.be.at.most(n * Number.EPSILON * absSum);
                  else expect(point!.sum).to.equal(undefined);
                  // The SDK's delta point knows min and max; a diff cannot.
                  if (recordMinMax) expect(point!.min).to.equal(Math.min(...part.filter(Number.isFinite)));
                }
                snap = cur.clone();
                snapAcc = curAcc.clone();
              }
              await sdk.shutdown();
            },
          ),
          { numRuns: 60 },
        );
      });
    }

    it('a diff stays at the cumulative scale: the SDK\'s delta point of the same interval can be finer', async () => {
      const sdk = pipeline('histogram', DELTA, 160, true);
      const cur = new ExponentialCell();
      for (const v of [1e-3, 1e3]) {
        sdk.record(v);
        cur.record(v);
      }
      await sdk.collect();
      const snap = cur.clone();
      sdk.record(1.5);
      cur.record(1.5);
      const point = (await sdk.collect())!;
      await sdk.shutdown();
      const d = cur.diff(snap).value();
      expect(point.scale).to.equal(20);
      expect(d.scale).to.equal(cur.scale).and.to.be.below(20);
      expect(rebucketed(d.positive, 0)).to.deep.equal(rebucketed(point.positive, 20 - d.scale));
    });

    it('a diff\'s sum is a difference of sums: 0.1 + 0.2 | 0.3 gives 0.30000000000000004 where the SDK\'s delta says 0.3', async () => {
      const sdk = pipeline('histogram', DELTA, 160, true);
      const cur = new ExponentialCell();
      for (const v of [0.1, 0.2]) {
        sdk.record(v);
        cur.record(v);
      }
      await sdk.collect();
      const snap = cur.clone();
      sdk.record(0.3);
      cur.record(0.3);
      const point = (await sdk.collect())!;
      await sdk.shutdown();
      expect(point.sum).to.equal(0.3);
      expect(cur.diff(snap).sum).to.equal(0.1 + 0.2 + 0.3 - (0.1 + 0.2)).and.to.equal(0.30000000000000004);
    });

    describe('where the SDK\'s own diff() goes wrong (only zeros, or nothing, since the snapshot)', () => {
      it('SDK: nothing new since the snapshot gives count 0 with a bucket of count 1 (and a 613,229-slot array); ours: empty', () => {
        const agg = sdkAggregator(160, true);
        const acc = sdkAccumulation(160, true);
        acc.record(1.5);
        const sdkDiff = agg.diff(acc.clone(), acc);
        expect(pointOf(sdkDiff)).to.deep.include({ count: 0, scale: 0, positive: { offset: 149, bucketCounts: [1] } });
        expect((sdkDiff as unknown as { positive: { backing: { _counts: number[] } } }).positive.backing._counts.length).to.equal(613_229);

        const cell = new ExponentialCell();
        cell.record(1.5);
        expect(cell.diff(cell.clone()).value()).to.deep.equal({
          min: undefined, max: undefined, sum: 0, count: 0, scale: 0, zeroCount: 0,
          positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] },
        });
      });

      it('SDK: only a zero since gives count 1 = zeroCount with that stale bucket; ours: the SDK\'s DELTA point for the interval', async () => {
        const agg = sdkAggregator(160, true);
        const acc = sdkAccumulation(160, true);
        acc.record(1.5);
        const accSnap = acc.clone();
        acc.record(0);
        expect(pointOf(agg.diff(accSnap, acc))).to.deep.include({ count: 1, zeroCount: 1, positive: { offset: 149, bucketCounts: [1] } });

        const sdk = pipeline('histogram', DELTA, 160, true);
        const cell = new ExponentialCell();
        sdk.record(1.5);
        cell.record(1.5);
        await sdk.collect();
        const snap = cell.clone();
        sdk.record(0);
        cell.record(0);
        const point = (await sdk.collect())!;
        await sdk.shutdown();
        const { min: _min, max: _max, ...rest } = point;
        expect(withoutMinMax(cell.diff(snap).value())).to.deep.equal(rest);
      });

      it('SDK: with maxSize 2 the same diff throws a MappingError (scale -20); ours does not', () => {
        const agg = sdkAggregator(2, true);
        const acc = sdkAccumulation(2, true);
        const cell = new ExponentialCell(2);
        for (const v of [1e-300, 1.5]) {
          acc.record(v);
          cell.record(v);
        }
        expect(() => agg.diff(acc.clone(), acc)).to.throw(/expected scale >= -10 && <= 20, got: -20/);
        expect(cell.diff(cell.clone()).value()).to.deep.include({ count: 0, scale: 0, positive: { offset: 0, bucketCounts: [] } });
      });

      it('SDK, public pipeline: an ObservableGauge with an exponential View reports such diffs (DELTA: count 0 and a bucket; CUMULATIVE: bucket counts above count)', async () => {
        const seen: Record<string, ExponentialHistogram[]> = {};
        for (const [name, t] of [['delta', DELTA], ['cumulative', CUMULATIVE]] as const) {
          const reader = new PullReader(t);
          const provider = new MeterProvider({ readers: [reader], views: [{ instrumentName: 'x', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }] });
          provider.getMeter('m').createObservableGauge('x').addCallback(o => o.observe(5));
          seen[name] = [];
          for (let i = 0; i < 3; i++) {
            const { resourceMetrics } = await reader.collect();
            seen[name]!.push(resourceMetrics.scopeMetrics[0]!.metrics[0]!.dataPoints[0]!.value as ExponentialHistogram);
          }
          await provider.shutdown();
        }
        expect(seen.delta![1]).to.deep.include({ count: 0, min: Infinity, max: -Infinity, positive: { offset: 148, bucketCounts: [1] } });
        expect(seen.cumulative![2]).to.deep.include({ count: 1, positive: { offset: 148, bucketCounts: [3] } });
      });
    });
  });

  describe('merge: (this interval).merge(previous cumulative) = a CUMULATIVE reader across collections (property)', () => {
    for (const maxSize of SIZES) {
      it(`maxSize ${maxSize}: after every collect, Histogram instrument`, async () => {
        await fc.assert(
          fc.asyncProperty(sequence({ signed: false, junk: true }), fc.array(fc.nat(2000), { maxLength: 6 }), fc.boolean(), async (values, cuts, recordMinMax) => {
            const sdk = pipeline('histogram', CUMULATIVE, maxSize, recordMinMax);
            let cumulative: ExponentialCell | undefined;
            let broken = false;
            for (const part of intervals(values, cuts)) {
              // The SDK's sync storage: a fresh accumulation per interval (created on its first record),
              // merged as delta.clone().merge(last cumulative).
              const accepted = part.filter(v => !(v < 0));
              if (accepted.length > 0) {
                const delta = new ExponentialCell(maxSize, recordMinMax);
                for (const v of accepted) delta.record(v);
                if (cumulative !== undefined) delta.merge(cumulative);
                cumulative = delta;
              }
              for (const v of part) sdk.record(v);
              const point = await sdk.collect();
              if (cumulative === undefined) expect(point).to.equal(undefined);
              else broken = expectPoint(cumulative.value(), point!, maxSize, broken);
            }
            await sdk.shutdown();
          }),
          { numRuns: 60 },
        );
      });
    }

    it('signed values, any order: b.clone().merge(a) = the SDK aggregator\'s merge(a, b), a is left unchanged, and both record on alike (property)', () => {
      // Empty and zeros-only cells too: their mapping scale is not in their value, only in what they do next.
      const cellValues = fc.oneof(
        { arbitrary: sequence({ signed: true, junk: true, max: 500 }), weight: 4 },
        { arbitrary: fc.array(zero, { maxLength: 3 }), weight: 1 },
      );
      fc.assert(
        fc.property(
          fc.constantFrom(...SIZES, 2, 3),
          cellValues,
          cellValues,
          sequence({ signed: true, junk: true, max: 200 }),
          fc.boolean(),
          (maxSize, xs, ys, more, recordMinMax) => {
            const [a, b] = [new ExponentialCell(maxSize, recordMinMax), new ExponentialCell(maxSize, recordMinMax)];
            const [accA, accB] = [sdkAccumulation(maxSize, recordMinMax), sdkAccumulation(maxSize, recordMinMax)];
            xs.forEach(v => (a.record(v), accA.record(v)));
            ys.forEach(v => (b.record(v), accB.record(v)));
            const before = a.value();
            const merged = b.clone();
            merged.merge(a);
            const sdkMerged = sdkAggregator(maxSize, recordMinMax).merge(accA, accB);
            const broken = !isValid(pointOf(accA), maxSize) || !isValid(pointOf(accB), maxSize);
            const stillBroken = expectPoint(merged.value(), pointOf(sdkMerged), maxSize, broken);
            expect(a.value()).to.deep.equal(before);
            more.forEach(v => (merged.record(v), sdkMerged.record(v)));
            expectPoint(merged.value(), pointOf(sdkMerged), maxSize, stillBroken);
          },
        ),
        { numRuns: 200 },
      );
    });

    it('a merge is not one recording: zeros in the first interval, 1.5 in the next → scale 0 (SDK) where one cell says 20', async () => {
      const sdk = pipeline('histogram', CUMULATIVE, 160, true);
      sdk.record(0);
      await sdk.collect();
      sdk.record(1.5);
      const point = (await sdk.collect())!;
      await sdk.shutdown();

      const first = new ExponentialCell();
      first.record(0);
      const second = new ExponentialCell();
      second.record(1.5);
      second.merge(first);
      expect(second.value()).to.deep.equal(expectedFrom(point));
      expect(point.scale).to.equal(0);

      const one = new ExponentialCell();
      one.record(0);
      one.record(1.5);
      expect(one.scale).to.equal(20);
    });

    it('merging a cell into itself adds it once (as merging a copy)', () => {
      const a = new ExponentialCell(20);
      for (const v of [1, 2, 3, -4, 0, 1e-9, 1e9]) a.record(v);
      const copy = a.clone();
      copy.merge(a.clone());
      a.merge(a);
      expect(a.value()).to.deep.equal(copy.value());
    });
  });

  describe('clone, fromValue, bad input', () => {
    it('value() → fromValue() → value() is identical, and the rebuilt cell records on as the original (property)', () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...SIZES, 2),
          fc.boolean(),
          sequence({ signed: true, junk: true, max: 500 }),
          sequence({ signed: true, junk: true, max: 200 }),
          fc.constantFrom('record', 'merge', 'diff'),
          (maxSize, recordMinMax, xs, more, how) => {
            let cell = new ExponentialCell(maxSize, recordMinMax);
            xs.forEach(v => cell.record(v));
            if (how === 'merge') {
              const other = new ExponentialCell(maxSize, recordMinMax);
              more.forEach(v => other.record(v));
              cell.merge(other);
            } else if (how === 'diff') {
              const snap = cell.clone();
              more.forEach(v => cell.record(v));
              cell = cell.diff(snap);
            }
            const v = cell.value();
            const rebuilt = ExponentialCell.fromValue(v, maxSize, recordMinMax);
            expect(rebuilt.value()).to.deep.equal(v);
            if (how !== 'diff') {
              // (A diff result's internal scale is not in its value when it holds only zeros.)
              for (const x of more) {
                cell.record(x);
                rebuilt.record(x);
              }
              expect(rebuilt.value()).to.deep.equal(cell.value());
            }
          },
        ),
        { numRuns: 200 },
      );
    });

    it('clone() is deep: recording into the copy leaves the original as it was', () => {
      const a = new ExponentialCell(4);
      for (const v of [1, 2, -3]) a.record(v);
      const before = a.value();
      const b = a.clone();
      for (const v of [1e9, 1e-9, -1e9, 0]) b.record(v);
      expect(a.value()).to.deep.equal(before);
      expect(b.count).to.equal(7);
    });

    it('fromValue() of another producer\'s point: scale above 20 and more buckets than maxSize are brought down as the SDK would', async () => {
      // Scale 21, buckets 2i and 2i+1 become bucket i at scale 20; then 200 buckets at maxSize 20.
      const fine = ExponentialCell.fromValue({ count: 3, sum: 4, scale: 21, zeroCount: 0, positive: { offset: 10, bucketCounts: [1, 2] }, negative: { offset: 0, bucketCounts: [] } });
      expect(fine.value()).to.deep.include({ scale: 20, positive: { offset: 5, bucketCounts: [3] } });
      const sdk = pipeline('histogram', CUMULATIVE, 20, true);
      const cell = new ExponentialCell(160);
      for (let i = 0; i < 200; i++) {
        const x = 1 + i / 200;
        sdk.record(x);
        cell.record(x);
      }
      const point = (await sdk.collect())!;
      await sdk.shutdown();
      expect(ExponentialCell.fromValue(cell.value(), 20).value()).to.deep.equal(expectedFrom(point));
    });

    it('never throws, whatever it is given; non-numbers are ignored like NaN', () => {
      const input = fc.oneof(
        fc.double(),
        fc.constantFrom(NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** -1022),
        fc.anything(),
      );
      fc.assert(
        fc.property(fc.constantFrom(...SIZES, 2, 1), fc.array(input, { maxLength: 300 }), fc.array(input, { maxLength: 300 }), (maxSize, xs, ys) => {
          const a = new ExponentialCell(maxSize);
          const b = new ExponentialCell(maxSize);
          xs.forEach(v => a.record(v as number));
          const snap = a.clone();
          ys.forEach(v => (a.record(v as number), b.record(v as number)));
          const finite = xs.filter(v => typeof v === 'number' && Number.isFinite(v)).length + ys.filter(v => typeof v === 'number' && Number.isFinite(v)).length;
          expect(a.count).to.equal(finite);
          a.diff(snap).value();
          snap.diff(a).value(); // backwards: not a delta, but still no throw
          b.merge(a);
          b.merge(snap.diff(a));
          ExponentialCell.fromValue(b.value(), maxSize).value();
        }),
        { numRuns: 300 },
      );
    });

    it('fromValue() of nonsense (huge or fractional scales, offsets past 32 bits, NaN counts) neither throws nor hangs', () => {
      const side = (offset: number, bucketCounts: number[]) => ({ offset, bucketCounts });
      const odd: ExponentialValue[] = [
        { count: 3, sum: 1, scale: 1000, zeroCount: 0, positive: side(5, [1, 2]), negative: side(0, []) },
        { count: 3, sum: 1, scale: -1000, zeroCount: 0, positive: side(-5, [1, 2]), negative: side(3, [1]) },
        { count: 3, sum: 1, scale: 2.5, zeroCount: 0, positive: side(2 ** 40, [1, 0, 2]), negative: side(-(2 ** 40), [0, 0]) },
        { count: NaN, sum: NaN, scale: NaN, zeroCount: NaN, positive: side(NaN, [NaN, 1]), negative: side(1.5, [1]) },
        { count: 0, sum: 0, scale: 0, zeroCount: 5, positive: side(0, new Array<number>(5000).fill(1)), negative: side(0, []) },
      ];
      for (const v of odd) {
        const c = ExponentialCell.fromValue(v, 4);
        for (const x of [1, 1e300, 1e-300, -7, 0]) c.record(x);
        c.merge(ExponentialCell.fromValue(v));
        c.diff(ExponentialCell.fromValue(v, 2)).value();
        c.value();
      }
    });

    it('NaN and ±Infinity are not counted; a series that saw nothing else: count 0, min / max unknown (the SDK says +Infinity / -Infinity)', async () => {
      const sdk = pipeline('histogram', CUMULATIVE, 160, true);
      const cell = new ExponentialCell();
      for (const v of [NaN, Infinity]) {
        sdk.record(v);
        cell.record(v);
      }
      cell.record(-Infinity);
      const point = (await sdk.collect())!;
      await sdk.shutdown();
      expect(point).to.deep.include({ count: 0, min: Infinity, max: -Infinity, scale: 0, sum: 0 });
      expect(cell.value()).to.deep.equal(expectedFrom(point));
      expect(cell.value()).to.deep.include({ count: 0, min: undefined, max: undefined });
    });

    it('-0 is a zero (zeroCount), and becomes min / max as -0 when first, as in the SDK; sum stays +0', async () => {
      const cases: [number[], number][] = [[[-0, 0], 0], [[0, -0], 0], [[-0], 0], [[-0, 2], 2], [[-2, -0], -2]];
      for (const [values, sum] of cases) {
        const sdk = pipeline('gauge', CUMULATIVE, 160, true);
        const cell = new ExponentialCell();
        for (const v of values) {
          sdk.record(v);
          cell.record(v);
        }
        const point = (await sdk.collect())!;
        await sdk.shutdown();
        expect(withoutSum(cell.value())).to.deep.equal(withoutSum(expectedFrom(point)));
        expect(Object.is(cell.sum, sum)).to.equal(true);
      }
      const c = new ExponentialCell();
      c.record(-0);
      c.record(0);
      expect(Object.is(c.min, -0) && Object.is(c.max, -0)).to.equal(true);
    });

    it('the SDK\'s Histogram instrument drops negatives before aggregating; the cell records them (as Gauge / UpDownCounter Views do)', async () => {
      const sdk = pipeline('histogram', CUMULATIVE, 160, true);
      sdk.record(-1);
      sdk.record(-Infinity);
      expect(await sdk.collect()).to.equal(undefined);
      await sdk.shutdown();
      const cell = new ExponentialCell();
      cell.record(-1);
      expect(cell.value()).to.deep.include({ count: 1, sum: -1, negative: { offset: -1, bucketCounts: [1] } });
    });
  });
});

function withoutMinMax(v: ExponentialValue | ExponentialHistogram): Omit<ExponentialHistogram, 'min' | 'max'> {
  const { min: _min, max: _max, ...rest } = v;
  return rest;
}

/** value() of a cell with no observation, min / max aside. */
const EMPTY = { sum: 0, count: 0, scale: 0, zeroCount: 0, positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] } };
