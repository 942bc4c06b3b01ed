/**
 * OpenTelemetry base-2 exponential histograms as Prometheus native
 * histograms, the conversion Prometheus's own OTLP receiver makes (its
 * otlptranslator), so that a direct scrape and the OTLP path store the same
 * buckets:
 * - the schema is the scale, clamped to 8: Prometheus 2.42 takes a schema of
 *   9–20 without a scrape error, but queries on the series then fail ("index
 *   out of range"), and OTel starts at scale 20 (a series whose values are all
 *   alike stays there). Clamping merges 2^(scale − 8) neighbouring buckets;
 * - a scale below −4 has no Prometheus schema (the series is served with its
 *   classic buckets only);
 * - OTel bucket i is (base^i, base^(i+1)], Prometheus bucket i is
 *   (base^(i−1), base^i]: after downscaling, the Prometheus index is the OTel
 *   one + 1;
 * - the zero bucket holds exact zeros in OTel; Prometheus wants a width, and
 *   its OTLP receiver uses 1e-128 (a width > 0 also marks the histogram as
 *   native when it has no observation at all);
 * - buckets go in spans of consecutive indexes, counts as deltas from the
 *   previous bucket; a gap of one or two empty buckets is filled with zeros
 *   rather than opening a span (cheaper in bytes), as the receiver does.
 */

/** What a native histogram is made from: an sdk-metrics ExponentialHistogram point value, or our store's. */
export interface ExponentialBuckets {
  readonly count: number;
  readonly sum?: number;
  readonly scale: number;
  readonly zeroCount: number;
  readonly positive: { readonly offset: number; readonly bucketCounts: ArrayLike<number> };
  readonly negative: { readonly offset: number; readonly bucketCounts: ArrayLike<number> };
}

export const NATIVE_MAX_SCHEMA = 8;
export const NATIVE_MIN_SCHEMA = -4;
/** The zero bucket's width, as Prometheus's OTLP receiver sets it. */
export const NATIVE_ZERO_THRESHOLD = 1e-128;

/**
 * Spans and deltas of one side (positive or negative) of a native histogram.
 * `spans` holds offset/length pairs (the first offset is the first bucket's
 * index, later ones the gap after the previous span); `deltas` one count
 * delta per bucket of the spans. Both arrays are cleared and filled.
 */
export function nativeBuckets(offset: number, counts: ArrayLike<number>, scaleDown: number, spans: number[], deltas: number[]): void {
  spans.length = 0;
  deltas.length = 0;
  let index = 0; // Prometheus index of the bucket being summed
  let count = 0;
  let last = 0; // index of the last bucket written
  let previous = 0; // its count
  let started = false;
  const flush = (): void => {
    if (spans.length === 0) {
      spans.push(index, 1);
    } else {
      const gap = index - last - 1;
      if (gap > 2) {
        spans.push(gap, 1);
      } else {
        for (let g = 0; g < gap; g++) {
          deltas.push(0 - previous); // not -previous: -0 is a different double
          previous = 0;
        }
        spans[spans.length - 1]! += gap + 1;
      }
    }
    deltas.push(count - previous);
    previous = count;
    last = index;
  };
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    // An arithmetic shift floors negative indexes too (bucket −3 at scale s is −2 at s − 1).
    const at = ((offset + i) >> scaleDown) + 1;
    if (started && at === index) {
      count += c;
      continue;
    }
    if (started) flush();
    started = true;
    index = at;
    count = c;
  }
  if (started) flush();
}

/** The schema a scale is served at, and how many scales to merge (undefined: no native form). */
export function nativeSchema(scale: number): { schema: number; scaleDown: number } | undefined {
  if (!(scale >= NATIVE_MIN_SCHEMA)) return undefined;
  return scale > NATIVE_MAX_SCHEMA ? { schema: NATIVE_MAX_SCHEMA, scaleDown: scale - NATIVE_MAX_SCHEMA } : { schema: scale, scaleDown: 0 };
}

/** A native histogram as plain data (specs compare with it; the protobuf writer writes the same fields). */
export interface NativeHistogram {
  schema: number;
  zeroThreshold: number;
  zeroCount: number;
  count: number;
  sum: number;
  positiveSpans: { offset: number; length: number }[];
  positiveDeltas: number[];
  negativeSpans: { offset: number; length: number }[];
  negativeDeltas: number[];
}

export function toNativeHistogram(v: ExponentialBuckets): NativeHistogram | undefined {
  const s = nativeSchema(v.scale);
  if (s === undefined) return undefined;
  const pairs = (flat: number[]) => {
    const out: { offset: number; length: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ offset: flat[i]!, length: flat[i + 1]! });
    return out;
  };
  const ps: number[] = [];
  const pd: number[] = [];
  const ns: number[] = [];
  const nd: number[] = [];
  nativeBuckets(v.positive.offset, v.positive.bucketCounts, s.scaleDown, ps, pd);
  nativeBuckets(v.negative.offset, v.negative.bucketCounts, s.scaleDown, ns, nd);
  return {
    schema: s.schema,
    zeroThreshold: NATIVE_ZERO_THRESHOLD,
    zeroCount: v.zeroCount,
    count: v.count,
    sum: v.sum ?? 0,
    positiveSpans: pairs(ps),
    positiveDeltas: pd,
    negativeSpans: pairs(ns),
    negativeDeltas: nd,
  };
}
