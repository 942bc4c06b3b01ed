/**
 * Cumulative series kept by us, from the SDK's deltas, so that a forgotten
 * node is gone from memory and from every export.
 *
 * Why: sdk-metrics keeps every cumulative series it has ever seen, for the life
 * of the process (opentelemetry-js #2997, open since 2022), and observable
 * instruments keep a memo of every attribute set under either temporality. A
 * fleet whose pod names change all day grew the heap 3.4–3.8 kB per name ever
 * seen, and every OTLP export carried every retired node (128,210 duration
 * points at 40,000 names against ~50 live nodes). With DELTA temporality the
 * SDK's sync storage holds only the current interval (DeltaMetricProcessor
 * swaps its map on collect; TemporalMetricProcessor keeps only the last
 * interval for a delta collector), so the readers run in delta and this store
 * adds the deltas up, the way the Collector's `deltatocumulative` processor
 * does, and drops series whose node went idle (its `max_stale`).
 *
 * Buckets still come from the SDK's Views: the store only adds up what the SDK
 * aggregated. A series that comes back after being forgotten starts again from
 * zero, with the start time of its first new delta, which Prometheus and OTLP
 * backends read as a counter reset.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type MetricDescriptor,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';

type Value = number | Histogram | ExponentialHistogram;

interface Point {
  readonly attributes: Attributes;
  startTime: HrTime;
  endTime: HrTime;
  value: Value;
}

interface Stream {
  descriptor: MetricDescriptor;
  readonly dataPointType: DataPointType;
  isMonotonic: boolean | undefined;
  readonly points: Map<string, Point>;
}

interface Scope {
  readonly scope: InstrumentationScope;
  readonly streams: Map<string, Stream>;
}

/** The SDK's default maximum number of buckets of an exponential histogram. */
const EXPONENTIAL_MAX_SIZE = 160;

// The SDK hands back the attribute object it was first given for a series;
// ours are frozen per series, so the key is computed once per object.
const keyCache = new WeakMap<Attributes, string>();

function attributesKey(attributes: Attributes): string {
  let key = keyCache.get(attributes);
  if (key === undefined) {
    const names = Object.keys(attributes).sort();
    key = JSON.stringify(names.map(n => [n, attributes[n]]));
    keyCache.set(attributes, key);
  }
  return key;
}

function scopeKey(scope: InstrumentationScope): string {
  return `${scope.name}\u0000${scope.version ?? ''}\u0000${scope.schemaUrl ?? ''}`;
}

function copyHistogram(h: Histogram): Histogram {
  return {
    buckets: { boundaries: h.buckets.boundaries, counts: [...h.buckets.counts] },
    count: h.count,
    sum: h.sum,
    min: h.min,
    max: h.max,
  };
}

function copyExponential(h: ExponentialHistogram): ExponentialHistogram {
  return {
    count: h.count,
    sum: h.sum,
    min: h.min,
    max: h.max,
    scale: h.scale,
    zeroCount: h.zeroCount,
    positive: { offset: h.positive.offset, bucketCounts: [...h.positive.bucketCounts] },
    negative: { offset: h.negative.offset, bucketCounts: [...h.negative.bucketCounts] },
  };
}

function copyValue(v: Value): Value {
  if (typeof v === 'number') return v;
  return 'buckets' in v ? copyHistogram(v) : copyExponential(v);
}

function minOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function maxOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

function sameBoundaries(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Adds `delta` into `into` (same boundaries), in place. */
function addHistogram(into: Histogram, delta: Histogram): void {
  const counts = into.buckets.counts;
  const add = delta.buckets.counts;
  for (let i = 0; i < counts.length; i++) counts[i]! += add[i] ?? 0;
  into.count += delta.count;
  into.sum = (into.sum ?? 0) + (delta.sum ?? 0);
  into.min = minOf(into.min, delta.min);
  into.max = maxOf(into.max, delta.max);
}

/** Bucket index → count of one side, at `scale` (indices shift right when the scale drops). */
function rescaled(side: { offset: number; bucketCounts: number[] }, shift: number, into: Map<number, number>): void {
  for (let i = 0; i < side.bucketCounts.length; i++) {
    const c = side.bucketCounts[i]!;
    if (c === 0) continue;
    const index = (side.offset + i) >> shift;
    into.set(index, (into.get(index) ?? 0) + c);
  }
}

function mergeSide(
  a: { offset: number; bucketCounts: number[] },
  aShift: number,
  b: { offset: number; bucketCounts: number[] },
  bShift: number,
): { offset: number; bucketCounts: number[]; span: number } {
  const m = new Map<number, number>();
  rescaled(a, aShift, m);
  rescaled(b, bShift, m);
  if (m.size === 0) return { offset: 0, bucketCounts: [], span: 0 };
  let lo = Infinity;
  let hi = -Infinity;
  for (const k of m.keys()) {
    if (k < lo) lo = k;
    if (k > hi) hi = k;
  }
  const bucketCounts = new Array<number>(hi - lo + 1).fill(0);
  for (const [k, c] of m) bucketCounts[k - lo] = c;
  return { offset: lo, bucketCounts, span: hi - lo + 1 };
}

/**
 * Two base-2 exponential histograms as one: both go to the smaller scale, and
 * lower again until each side fits the SDK's bucket limit, as the SDK's own
 * merge does (a bucket at scale s holds buckets 2i and 2i+1 of scale s+1).
 */
export function mergeExponential(a: ExponentialHistogram, b: ExponentialHistogram): ExponentialHistogram {
  let scale = Math.min(a.scale, b.scale);
  for (;;) {
    const positive = mergeSide(a.positive, a.scale - scale, b.positive, b.scale - scale);
    const negative = mergeSide(a.negative, a.scale - scale, b.negative, b.scale - scale);
    if ((positive.span > EXPONENTIAL_MAX_SIZE || negative.span > EXPONENTIAL_MAX_SIZE) && scale > -10) {
      scale--;
      continue;
    }
    return {
      count: a.count + b.count,
      sum: (a.sum ?? 0) + (b.sum ?? 0),
      min: minOf(a.min, b.min),
      max: maxOf(a.max, b.max),
      scale,
      zeroCount: a.zeroCount + b.zeroCount,
      positive: { offset: positive.offset, bucketCounts: positive.bucketCounts },
      negative: { offset: negative.offset, bucketCounts: negative.bucketCounts },
    };
  }
}

export class CumulativeStore {
  private readonly _scopes = new Map<string, Scope>();
  private _resource: ResourceMetrics['resource'] | undefined;
  /** End time of the newest collection merged: every point is reported at it. */
  private _endTime: HrTime | undefined;

  /** Series held now (for memory accounting and specs). */
  get size(): number {
    let n = 0;
    for (const s of this._scopes.values()) for (const st of s.streams.values()) n += st.points.size;
    return n;
  }

  /**
   * Adds one collection into the store: delta sums and histograms are added
   * up; gauges and points that are already cumulative (our own in-flight and
   * up series) replace the previous value.
   */
  merge(rm: ResourceMetrics): void {
    this._resource = rm.resource;
    for (const sm of rm.scopeMetrics) {
      const sk = scopeKey(sm.scope);
      let scope = this._scopes.get(sk);
      if (scope === undefined) {
        scope = { scope: sm.scope, streams: new Map() };
        this._scopes.set(sk, scope);
      }
      for (const metric of sm.metrics) this._mergeMetric(scope, metric);
    }
  }

  private _mergeMetric(scope: Scope, metric: MetricData): void {
    let stream = scope.streams.get(metric.descriptor.name);
    if (stream === undefined || stream.dataPointType !== metric.dataPointType) {
      stream = {
        descriptor: metric.descriptor,
        dataPointType: metric.dataPointType,
        isMonotonic: 'isMonotonic' in metric ? metric.isMonotonic : undefined,
        points: new Map(),
      };
      scope.streams.set(metric.descriptor.name, stream);
    }
    stream.descriptor = metric.descriptor;
    const replace = metric.aggregationTemporality === AggregationTemporality.CUMULATIVE || metric.dataPointType === DataPointType.GAUGE;
    for (const dp of metric.dataPoints as DataPoint<Value>[]) {
      this._endTime = dp.endTime;
      const key = attributesKey(dp.attributes);
      const point = stream.points.get(key);
      if (point === undefined || replace) {
        stream.points.set(key, {
          attributes: dp.attributes,
          startTime: point !== undefined && !replace ? point.startTime : dp.startTime,
          endTime: dp.endTime,
          value: copyValue(dp.value),
        });
        continue;
      }
      const v = dp.value;
      if (typeof v === 'number') {
        point.value = (point.value as number) + v;
      } else if ('buckets' in v) {
        const h = point.value as Histogram;
        if (sameBoundaries(h.buckets.boundaries, v.buckets.boundaries)) addHistogram(h, v);
        else point.value = copyHistogram(v);
      } else {
        point.value = mergeExponential(point.value as ExponentialHistogram, v);
      }
    }
  }

  /** Drops every point for which `keep` says false; streams left empty go too. */
  forget(keep: (scope: InstrumentationScope, attributes: Attributes) => boolean): void {
    for (const scope of this._scopes.values()) {
      for (const [name, stream] of scope.streams) {
        for (const [key, point] of stream.points) {
          if (!keep(scope.scope, point.attributes)) stream.points.delete(key);
        }
        if (stream.points.size === 0) scope.streams.delete(name);
      }
    }
  }

  /**
   * The cumulative state as the SDK would report it to a cumulative reader.
   * The points are the store's own objects, not copies (at 20,000 series a
   * copy per scrape cost more than the SDK's collect()): a merge while a
   * serializer yields between chunks updates each point in one synchronous
   * step, so every point it writes is whole, though two points may be from
   * either side of that merge, as with prom-client. The arrays are new, so a
   * forget() never shifts a serializer's iteration.
   */
  toResourceMetrics(): ResourceMetrics | undefined {
    if (this._resource === undefined) return undefined;
    const scopeMetrics: ScopeMetrics[] = [];
    for (const scope of this._scopes.values()) {
      const metrics: MetricData[] = [];
      for (const stream of scope.streams.values()) {
        // A cumulative point is as of the newest collection, changed or not
        // (an OTLP backend would read an old end time as a stale sample).
        if (this._endTime !== undefined) for (const p of stream.points.values()) p.endTime = this._endTime;
        metrics.push({
          descriptor: stream.descriptor,
          dataPointType: stream.dataPointType,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          ...(stream.isMonotonic !== undefined ? { isMonotonic: stream.isMonotonic } : {}),
          dataPoints: [...stream.points.values()],
        } as MetricData);
      }
      if (metrics.length > 0) scopeMetrics.push({ scope: scope.scope, metrics });
    }
    return { resource: this._resource, scopeMetrics };
  }
}

/** Descriptor fields for series we produce ourselves (in-flight, node up). */
export function descriptorOf(name: string, description: string, unit: string): MetricDescriptor {
  return { name, description, unit, valueType: ValueType.INT };
}
