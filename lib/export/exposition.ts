/**
 * Prometheus exposition of our series store, read directly (no data point
 * objects per scrape), and of what the SDK collected beside it (runtime and
 * process metrics, the app's own instruments), in the three formats the
 * endpoint negotiates: the text format 0.0.4, OpenMetrics 1.0.0 text (with
 * the exemplars of the store's histograms) and the protobuf format (with
 * native histograms and exemplars, protobuf.ts).
 *
 * Why our own serializer instead of the stock one:
 * - naming: the stock one adds no unit suffixes, so its names differ from the
 *   Collector's (`gateway_request_duration` vs `gateway_request_duration_seconds`);
 * - speed: the stock one rebuilds and escapes every label string on every
 *   scrape: 174–238 ms of event loop per scrape at 2,000 histogram series on
 *   our 2-core dev machine. A series' labels never change, only its numbers,
 *   so we escape each attribute set once (cached by the identity of the SDK's
 *   attribute object, which is stable across collections) and format only
 *   numbers per scrape. See BENCHMARKS.md for the measured result;
 * - stalls: output comes in chunks, so the endpoint can yield to the event
 *   loop between them instead of blocking for a whole large scrape;
 * - bytes: the text is written straight into Buffers (see ChunkWriter), not
 *   built as strings and encoded afterwards.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { InstrumentationScope } from '@opentelemetry/core';
import { logger } from '../core/diag';
import type { SeriesStore } from '../store/store';
import { HistogramInstrument, type Exemplars } from '../store/histogram';
import { SumInstrument, VALUE as SUM_VALUE } from '../store/counter';
import { ObservedInstrument } from '../store/observed';
import { LABEL_SPAN } from '../store/rows';
import { Labelled } from '../store/stream';
import type { StoredInstrument } from '../store/stream';
import {
  attributeValueString,
  escapeHelp,
  escapeLabelValue,
  formatGoFloat,
  formatValue,
  prometheusLabelName,
  prometheusMetricName,
  type PromType,
} from './naming';
import { nativeBuckets, nativeSchema, NATIVE_ZERO_THRESHOLD, type ExponentialBuckets } from './native';
import { EXEMPLAR_BYTES, F, familyHead, labelsBytes, PB_COUNTER, PB_GAUGE, PB_HISTOGRAM, ProtoWriter } from './protobuf';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** The two text formats: Prometheus text 0.0.4, OpenMetrics 1.0.0 (exemplars, `# EOF`). */
export type TextFormat = 'text' | 'openmetrics';

/** Bytes per chunk buffer (a chunk ends early after `chunkPoints` points). */
const CHUNK_BYTES = 256 * 1024;

/**
 * Exposition bytes written straight into Buffers.
 *
 * Why not strings: building the text with `+=` and encoding each chunk with
 * `Buffer.from()` left V8 a rope of ~50,000 small strings per chunk to flatten
 * before it could encode it. At 2,000 histogram series (5.4 MB) on our 2-core
 * dev machine, Node 24, building the strings took 3.5–6 ms, flattening them
 * 12–73 ms and encoding the flat strings 1–2 ms. Encoding each series' line
 * head from a string instead still cost ~1 µs per `buf.write()` (the head is
 * itself a rope). So every piece is kept as bytes: label sets and scopes are
 * encoded once and cached, a histogram series' line head is assembled from
 * them (`set`, ~30 ns per piece) and copied inside the buffer for its other
 * buckets (`copyWithin`, ~50 ns), each `le="…"} ` is a cached Buffer, and
 * counts are written as ASCII digits (~25 ns): no string per line at all.
 */
class ChunkWriter {
  private _buf: Buffer | undefined;
  private _pos = 0;

  /**
   * Room for `n` more bytes in the current buffer. When it has not, the
   * filled part is returned (the caller yields it) and a new buffer started,
   * so a chunk never splits a line.
   */
  room(n: number): Buffer | undefined {
    const buf = this._buf;
    if (buf !== undefined && this._pos + n <= buf.length) return undefined;
    const full = this.take();
    this._buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, n));
    return full;
  }

  /** The filled part, for the caller to yield; the next write starts a new buffer. */
  take(): Buffer | undefined {
    const buf = this._buf;
    if (buf === undefined || this._pos === 0) return undefined;
    const out = buf.subarray(0, this._pos);
    this._buf = undefined;
    this._pos = 0;
    return out;
  }

  /** UTF-8 text; the caller made room for 3 bytes per UTF-16 unit. */
  text(s: string): void {
    this._pos += this._buf!.write(s, this._pos, 'utf8');
  }

  /** A short string that is ASCII (a formatted number): a loop beats a native call. */
  ascii(s: string): void {
    const buf = this._buf!;
    let p = this._pos;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        this._pos = p;
        this.text(s.slice(i));
        return;
      }
      buf[p++] = c;
    }
    this._pos = p;
  }

  bytes(b: Buffer): void {
    this._buf!.set(b, this._pos);
    this._pos += b.length;
  }

  /** `length` bytes of `from` at `start`. */
  slice(from: Buffer, start: number, length: number): void {
    from.copy(this._buf!, this._pos, start, start + length);
    this._pos += length;
  }

  byte(c: number): void {
    this._buf![this._pos++] = c;
  }

  /** Copies `length` bytes already written at `start` to the end. */
  again(start: number, length: number): void {
    this._buf!.copyWithin(this._pos, start, start + length);
    this._pos += length;
  }

  get pos(): number {
    return this._pos;
  }

  /** A count: ASCII digits for a safe non-negative integer, JS number text otherwise. */
  count(n: number, suffix: number): void {
    const buf = this._buf!;
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n)) {
      this._pos += buf.write(String(n), this._pos, 'latin1');
      buf[this._pos++] = suffix;
      return;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    let p = this._pos + digits;
    this._pos = p + 1;
    buf[p] = suffix;
    let m = n;
    do {
      buf[--p] = 48 + (m % 10);
      m = Math.floor(m / 10);
    } while (m > 0);
  }
}

const NEWLINE = 10;
const SPACE = 32;
const COMMA = 44;
const OPEN = 123;
const CLOSE = 125;
const LE = Buffer.from('le="', 'latin1');
const EMPTY = Buffer.alloc(0);
const EXEMPLAR_OPEN = Buffer.from('# {trace_id="', 'latin1');
const EXEMPLAR_MID = Buffer.from('",span_id="', 'latin1');
const EXEMPLAR_CLOSE = Buffer.from('"} ', 'latin1');
const EOF = '# EOF\n';
/** Bytes a number and the character after it can take at most (JS number text is ≤ 25 characters). */
const NUMBER_BYTES = 26;

/** A label set's place in the arena (and in a store slab's label bytes): offset × LEN_SPAN + length. */
const LEN_SPAN = LABEL_SPAN;

/** A stored series' label set, from its attributes (built by the cell when read). */
const encodeLabels = (cell: unknown): string => formatLabels((cell as { attributes: Attributes }).attributes);

/**
 * Escaped label sets (`k="v",…`, no braces) as bytes, all in one growing
 * Buffer, found by the identity of their attributes object.
 *
 * Why one arena and not a Buffer per label set: a Buffer object costs ~100–200
 * B of heap beside its bytes; at 20,000 series (and their in-flight and error
 * series) a Buffer per label set was 370 B a series, the arena ~60. Label sets
 * of forgotten series stay in it until it holds more than twice what the last
 * full exposition read: it then starts over (each live set is encoded again
 * once, ~1 µs).
 */
class LabelArena {
  buf = Buffer.allocUnsafe(64 * 1024);
  private _used = 0;
  private _index = new WeakMap<Attributes, number>();
  /** Bytes of label sets read in the current exposition, and in the last one. */
  private _read = 0;
  private _lastRead = 0;

  /** At the start of an exposition (one at a time: the endpoint serializes under a lock). */
  begin(): void {
    if (this._used > 64 * 1024 && this._used > 2 * this._lastRead) {
      this._used = 0;
      this._index = new WeakMap();
    }
    this._read = 0;
  }

  /** At the end of a complete exposition. */
  end(): void {
    this._lastRead = this._read;
  }

  /** Where `attributes`' label set is (encoded on first use). */
  of(attributes: Attributes): number {
    let at = this._index.get(attributes);
    if (at === undefined) {
      at = this._append(attributes);
      this._index.set(attributes, at);
      return at;
    }
    this._read += at % LEN_SPAN;
    return at;
  }

  private _append(attributes: Attributes): number {
    const text = formatLabels(attributes);
    const length = Buffer.byteLength(text, 'utf8');
    if (this._used + length > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(Math.ceil(1.5 * this.buf.length), this._used + length));
      this.buf.copy(next, 0, 0, this._used);
      this.buf = next;
    }
    this.buf.write(text, this._used, 'utf8');
    const at = this._used * LEN_SPAN + length;
    this._used += length;
    this._read += length;
    return at;
  }
}

export interface SerializerOptions {
  /** Add `otel_scope_name` / `otel_scope_version` labels, as the Collector does. @default true */
  scopeLabels?: boolean;
  /** Emit `target_info` with the resource attributes. @default true */
  targetInfo?: boolean;
  /** Drop a data point when this returns false (e.g. a forgotten node). */
  keep?: (scope: InstrumentationScope, attributes: Attributes) => boolean;
  /** Data points per chunk yielded by `chunks()`. @default 200 */
  chunkPoints?: number;
  /**
   * Histograms the store keeps exponential cells for are served as native
   * histograms in the protobuf format (the text formats have no native form
   * and keep the classic buckets). @default false
   */
  nativeHistograms?: boolean;
  /** In the protobuf format, native histograms also carry their classic buckets. @default true */
  classicBuckets?: boolean;
}

/** One source of a family's points: SDK data points, or an instrument of our store read row by row. */
type Source =
  | { metric: MetricData; scopeLabels: Buffer; scope: InstrumentationScope; stored?: undefined }
  | { stored: HistogramInstrument | SumInstrument; scopeLabels: Buffer; scope: InstrumentationScope; metric?: undefined };

interface Family {
  name: string;
  type: PromType;
  /** The description as it is (the protobuf format's HELP). */
  help: string;
  header: string;
  /** OpenMetrics: a counter's family name has no `_total`, and HELP escapes `"` too. */
  omHeader: string;
  /** `name` and, for histograms, `name_bucket{`, `name_sum`, `name_count`, as bytes. */
  bytes: { plain: Buffer; bucket: Buffer; sum: Buffer; count: Buffer };
  metrics: Source[];
}

function promTypeOf(metric: MetricData): PromType | undefined {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      // Exponential histograms have no text exposition; the Prometheus reader
      // always gets explicit buckets: the stock exporter would drop these too.
      return undefined;
  }
}

export class PrometheusSerializer {
  private readonly _scopeLabels: boolean;
  private readonly _targetInfo: boolean;
  private readonly _keep: SerializerOptions['keep'];
  private readonly _chunkPoints: number;
  private readonly _native: boolean;
  private readonly _classic: boolean;
  /** attribute object → escaped `k="v",…` (no braces), as bytes. */
  private readonly _arena = new LabelArena();
  /** attribute object → Metric.label fields (protobuf), as bytes. */
  private _pbLabels = new WeakMap<object, Buffer>();
  private _pbScopes = new WeakMap<InstrumentationScope, Buffer>();
  /**
   * bucket boundaries array → `le="…"} ` as bytes, `+Inf` last. The same
   * spelling in both text formats (Go's shortest, `1` not `1.0`): Prometheus
   * 2.x stores `le` as written, so a scrape that moves from the text format
   * to OpenMetrics keeps its series, and they match the Collector's.
   */
  private _les = new WeakMap<readonly number[], Buffer[]>();
  /** metric descriptor → [family name, type]. */
  private _names = new WeakMap<object, [string, PromType] | null>();
  private _scopes = new WeakMap<InstrumentationScope, Buffer>();
  private _shapes = new WeakMap<StoredInstrument, MetricData>();
  private _warned = new Set<string>();

  constructor(options: SerializerOptions = {}) {
    this._scopeLabels = options.scopeLabels ?? true;
    this._targetInfo = options.targetInfo ?? true;
    this._keep = options.keep;
    this._chunkPoints = Math.max(1, options.chunkPoints ?? 200);
    this._native = options.nativeHistograms === true;
    this._classic = options.classicBuckets ?? true;
  }

  /** The whole exposition as one string (tests, benchmarks, small outputs). */
  serialize(rm: ResourceMetrics, store?: SeriesStore, format: TextFormat = 'text'): string {
    return Buffer.concat([...this.byteChunks(rm, store, format)]).toString('utf8');
  }

  /** The exposition as strings, in the pieces byteChunks() makes. */
  *chunks(rm: ResourceMetrics, store?: SeriesStore, format: TextFormat = 'text'): Generator<string, void, undefined> {
    for (const chunk of this.byteChunks(rm, store, format)) yield chunk.toString('utf8');
  }

  /**
   * The exposition as UTF-8 bytes, in chunks of at most about 256 kB or
   * `chunkPoints` data points, whichever comes first; a chunk always ends
   * with a whole line. `rm` is what the SDK collected (its resource makes
   * `target_info`); `store`'s instruments are read row by row, each row in
   * one synchronous step (whole, though rows written before a yield may be
   * older than rows written after it). `openmetrics`: OpenMetrics 1.0.0,
   * with the exemplars the store keeps on its histograms' buckets.
   */
  *byteChunks(rm: ResourceMetrics, store?: SeriesStore, format: TextFormat = 'text'): Generator<Buffer, void, undefined> {
    const om = format === 'openmetrics';
    const w = new ChunkWriter();
    let full: Buffer | undefined;
    this._arena.begin();
    if (this._targetInfo) {
      const info = this._targetInfoText(rm.resource.attributes);
      w.room(3 * info.length);
      w.text(info);
    }
    let points = 0;
    for (const family of this._families(rm, store)) {
      // The header goes before the family's first point: a stored instrument
      // whose series have nothing to show yet (a counter at 0) has no family.
      let headed = false;
      const text = om ? family.omHeader : family.header;
      const header = (): Buffer | undefined => {
        headed = true;
        const f = w.room(3 * text.length);
        w.text(text);
        return f;
      };
      const fb = family.bytes;
      for (const source of family.metrics) {
        const { scopeLabels, scope } = source;
        const stored = source.stored;
        if (stored instanceof HistogramInstrument) {
          const les = this._lesOf(stored.boundaries);
          const nb = stored.boundaries.length + 1;
          const exemplars = om ? stored.exemplars : undefined;
          for (let row = 1; row < stored.rows.end; row++) {
            const cell = stored.rows.cells[row];
            if (cell === undefined) continue;
            const d = stored.rows.block(row);
            const o = stored.rows.offset(row);
            const count = stored.count(d, o);
            if (count === 0) continue;
            if (!headed && (full = header()) !== undefined) yield full;
            const at = stored.rows.labelsAt(row, cell, encodeLabels);
            const ex = exemplars?.[row];
            full = at >= 0
              ? this._histogram(w, fb, stored.rows.labelBytes, at, scopeLabels, les, d, o, nb, d[o + stored.SUM]!, count, ex)
              : this._histogram(w, fb, this._arena.buf, this._arena.of(cell.attributes), scopeLabels, les, d, o, nb, d[o + stored.SUM]!, count, ex);
            if (full !== undefined) yield full;
            if (++points >= this._chunkPoints && (full = w.take()) !== undefined) {
              points = 0;
              yield full;
            }
          }
          continue;
        }
        if (stored instanceof SumInstrument) {
          for (let row = 1; row < stored.rows.end; row++) {
            const cell = stored.rows.cells[row];
            if (cell === undefined) continue;
            const value = stored.rows.block(row)[stored.rows.offset(row) + SUM_VALUE]!;
            if (value === 0 && stored.monotonic) continue;
            if (!headed && (full = header()) !== undefined) yield full;
            const at = stored.rows.labelsAt(row, cell, encodeLabels);
            full = at >= 0
              ? this._plain(w, fb, stored.rows.labelBytes, at, scopeLabels, value)
              : this._plain(w, fb, this._arena.buf, this._arena.of(cell.attributes), scopeLabels, value);
            if (full !== undefined) yield full;
            if (++points >= this._chunkPoints && (full = w.take()) !== undefined) {
              points = 0;
              yield full;
            }
          }
          continue;
        }
        const metric = source.metric!;
        const keep = this._keep;
        const histogram = metric.dataPointType === DataPointType.HISTOGRAM;
        for (const dp of metric.dataPoints as DataPoint<Histogram | number>[]) {
          if (keep !== undefined && !keep(scope, dp.attributes)) continue;
          if (!headed && (full = header()) !== undefined) yield full;
          const labels = this._arena.of(dp.attributes);
          if (histogram) {
            const h = dp.value as Histogram;
            const counts = h.buckets.counts;
            full = this._histogram(w, fb, this._arena.buf, labels, scopeLabels, this._lesOf(h.buckets.boundaries), counts, 0, counts.length, h.sum ?? 0, h.count, undefined);
          } else {
            full = this._plain(w, fb, this._arena.buf, labels, scopeLabels, dp.value as number);
          }
          if (full !== undefined) yield full;
          if (++points >= this._chunkPoints && (full = w.take()) !== undefined) {
            points = 0;
            yield full;
          }
        }
      }
    }
    if (om) {
      if ((full = w.room(EOF.length)) !== undefined) yield full;
      w.text(EOF);
    }
    if ((full = w.take()) !== undefined) yield full;
    this._arena.end();
  }

  /**
   * The exposition in the protobuf format: one length-delimited MetricFamily
   * per family, with native histograms where the store keeps exponential
   * cells and `nativeHistograms` is on. A family's length is known only once
   * its last series is written, so its bytes are yielded together after it;
   * meanwhile an empty Buffer is yielded every `chunkPoints` points, for the
   * caller to let the event loop in (and to skip).
   */
  *protobufChunks(rm: ResourceMetrics, store?: SeriesStore): Generator<Buffer, void, undefined> {
    const w = new ProtoWriter();
    if (this._targetInfo) {
      const labels = labelsBytes(labelPairs(rm.resource.attributes));
      w.room(labels.length + 32);
      this._pbPlain(w, labels, EMPTY, F.metric.gauge, 1);
      const size = w.size;
      const parts = w.take();
      yield familyHead('target_info', 'Target metadata', PB_GAUGE, size);
      yield* parts;
    }
    let points = 0;
    const spans: number[] = [];
    const deltas: number[] = [];
    for (const family of this._families(rm, store)) {
      const pbType = family.type === 'counter' ? PB_COUNTER : family.type === 'histogram' ? PB_HISTOGRAM : PB_GAUGE;
      const valueField = family.type === 'counter' ? F.metric.counter : F.metric.gauge;
      for (const source of family.metrics) {
        const { scope } = source;
        const scopeLabels = this._pbScopeLabelsOf(scope);
        const stored = source.stored;
        if (stored instanceof HistogramInstrument) {
          const nb = stored.boundaries.length + 1;
          const cells = this._native ? stored.exponential : undefined;
          for (let row = 1; row < stored.rows.end; row++) {
            const cell = stored.rows.cells[row];
            if (cell === undefined) continue;
            const d = stored.rows.block(row);
            const o = stored.rows.offset(row);
            const count = stored.count(d, o);
            if (count === 0) continue;
            const native = cells?.[row]?.value();
            this._pbHistogram(w, this._pbLabelsOf(cell), scopeLabels, stored.boundaries, d, o, nb, d[o + stored.SUM]!, count,
              stored.exemplars?.[row], native, spans, deltas);
            if (++points >= this._chunkPoints) {
              points = 0;
              yield EMPTY;
            }
          }
          continue;
        }
        if (stored instanceof SumInstrument) {
          for (let row = 1; row < stored.rows.end; row++) {
            const cell = stored.rows.cells[row];
            if (cell === undefined) continue;
            const value = stored.rows.block(row)[stored.rows.offset(row) + SUM_VALUE]!;
            if (value === 0 && stored.monotonic) continue;
            const labels = this._pbLabelsOf(cell);
            w.room(labels.length + scopeLabels.length + 32);
            this._pbPlain(w, labels, scopeLabels, valueField, value);
            if (++points >= this._chunkPoints) {
              points = 0;
              yield EMPTY;
            }
          }
          continue;
        }
        const metric = source.metric!;
        const keep = this._keep;
        const histogram = metric.dataPointType === DataPointType.HISTOGRAM;
        for (const dp of metric.dataPoints as DataPoint<Histogram | number>[]) {
          if (keep !== undefined && !keep(scope, dp.attributes)) continue;
          const labels = this._pbLabelsOf(dp.attributes);
          if (histogram) {
            const h = dp.value as Histogram;
            const counts = h.buckets.counts;
            this._pbHistogram(w, labels, scopeLabels, h.buckets.boundaries, counts, 0, counts.length, h.sum ?? 0, h.count, undefined, undefined, spans, deltas);
          } else {
            w.room(labels.length + scopeLabels.length + 32);
            this._pbPlain(w, labels, scopeLabels, valueField, dp.value as number);
          }
          if (++points >= this._chunkPoints) {
            points = 0;
            yield EMPTY;
          }
        }
      }
      const size = w.size;
      if (size === 0) continue;
      const parts = w.take();
      yield familyHead(family.name, family.help, pbType, size);
      yield* parts;
    }
  }

  /** A counter or gauge Metric (the caller made room). */
  private _pbPlain(w: ProtoWriter, labels: Buffer, scopeLabels: Buffer, field: number, value: number): void {
    const m = w.begin(F.family.metric);
    w.bytes(labels);
    w.bytes(scopeLabels);
    const v = w.begin(field);
    w.double(F.value, value);
    w.end(v);
    w.end(m);
  }

  /**
   * A histogram Metric: classic buckets from `counts[offset … offset + nb)`
   * (not cumulative, the last one +Inf, which is written only to carry its
   * exemplar: Prometheus takes the count as +Inf), and the native histogram
   * of `native` when it has a schema Prometheus takes. Exemplars go on the
   * classic buckets (Prometheus 2.x reads them there, also for a native
   * histogram) and in `exemplars` of a native one (where 3.x reads them
   * first).
   */
  private _pbHistogram(
    w: ProtoWriter, labels: Buffer, scopeLabels: Buffer, boundaries: readonly number[], counts: ArrayLike<number>, offset: number, nb: number,
    sum: number, count: number, ex: Exemplars | undefined, native: ExponentialBuckets | undefined, spans: number[], deltas: number[],
  ): void {
    const schema = native === undefined ? undefined : nativeSchema(native.scale);
    if (native !== undefined && schema === undefined) this._warnOnce(`schema:${native.scale}`, `a native histogram of scale ${native.scale} has no Prometheus schema (-4 to 8); served with its classic buckets only`);
    const classic = schema === undefined || this._classic;
    const exemplarBytes = ex === undefined ? 0 : nb * EXEMPLAR_BYTES * (schema === undefined ? 1 : 2);
    const nativeBytes = native === undefined ? 0 : 64 + 24 * (native.positive.bucketCounts.length + native.negative.bucketCounts.length);
    w.room(labels.length + scopeLabels.length + 64 + (classic ? 28 * nb : 0) + nativeBytes + exemplarBytes);
    const m = w.begin(F.family.metric);
    w.bytes(labels);
    w.bytes(scopeLabels);
    const h = w.begin(F.metric.histogram);
    w.uint(F.histogram.sampleCount, count);
    w.double(F.histogram.sampleSum, sum);
    if (classic) {
      let cumulative = 0;
      for (let i = 0; i < nb; i++) {
        cumulative += counts[offset + i]!;
        const last = i === nb - 1;
        const exemplar = ex !== undefined && ex.times[i]! > 0;
        if (last && !exemplar) break;
        const b = w.begin(F.histogram.bucket);
        w.uint(F.bucket.cumulativeCount, cumulative);
        w.double(F.bucket.upperBound, last ? Infinity : boundaries[i]!);
        if (exemplar) w.exemplar(F.bucket.exemplar, ex.traceIds[i]!, ex.spanIds[i]!, ex.values[i]!, ex.times[i]!);
        w.end(b);
      }
    }
    if (schema !== undefined) {
      w.sint(F.histogram.schema, schema.schema);
      w.double(F.histogram.zeroThreshold, NATIVE_ZERO_THRESHOLD);
      w.uint(F.histogram.zeroCount, native!.zeroCount);
      nativeBuckets(native!.negative.offset, native!.negative.bucketCounts, schema.scaleDown, spans, deltas);
      w.spans(F.histogram.negativeSpan, spans);
      w.packedSint(F.histogram.negativeDelta, deltas);
      nativeBuckets(native!.positive.offset, native!.positive.bucketCounts, schema.scaleDown, spans, deltas);
      w.spans(F.histogram.positiveSpan, spans);
      w.packedSint(F.histogram.positiveDelta, deltas);
      if (ex !== undefined) {
        for (let i = 0; i < nb; i++) {
          if (ex.times[i]! > 0) w.exemplar(F.histogram.exemplars, ex.traceIds[i]!, ex.spanIds[i]!, ex.values[i]!, ex.times[i]!);
        }
      }
    }
    w.end(h);
    w.end(m);
  }

  /**
   * A label set as protobuf LabelPair fields, by its attributes object, or by
   * the stored cell (a cell builds its attributes anew when read).
   */
  private _pbLabelsOf(key: Attributes | { readonly attributes: Attributes }): Buffer {
    let b = this._pbLabels.get(key);
    if (b === undefined) {
      const attributes = key instanceof Labelled ? key.attributes : (key as Attributes);
      b = labelsBytes(labelPairs(attributes));
      this._pbLabels.set(key, b);
    }
    return b;
  }

  private _pbScopeLabelsOf(scope: InstrumentationScope): Buffer {
    if (!this._scopeLabels) return EMPTY;
    let b = this._pbScopes.get(scope);
    if (b === undefined) {
      const pairs: [string, string][] = [['otel_scope_name', scope.name]];
      if (scope.version) pairs.push(['otel_scope_version', scope.version]);
      if (scope.schemaUrl) pairs.push(['otel_scope_schema_url', scope.schemaUrl]);
      b = labelsBytes(pairs);
      this._pbScopes.set(scope, b);
    }
    return b;
  }

  /**
   * One histogram series: `counts[offset … offset + n)` are the bucket
   * counts (not cumulative), the last one +Inf; `ex`, the series' exemplars
   * (OpenMetrics only). Returns the filled buffer when it had to start a new
   * one.
   */
  private _histogram(
    w: ChunkWriter, fb: Family['bytes'], ab: Buffer, labels: number, scopeLabels: Buffer, les: Buffer[],
    counts: ArrayLike<number>, offset: number, n: number, sum: number, count: number, ex: Exemplars | undefined,
  ): Buffer | undefined {
    const len = labels % LEN_SPAN;
    const off = (labels - len) / LEN_SPAN;
    // `{labels,scope}` and the bytes it takes (nothing when both are empty).
    const inner = len + scopeLabels.length + (len > 0 && scopeLabels.length > 0 ? 1 : 0);
    const braced = inner === 0 ? 0 : inner + 2;
    const head = fb.bucket.length + inner + (inner === 0 ? 0 : 1) + LE.length;
    let leBytes = 0;
    for (const le of les) leBytes += le.length;
    const need = (head + NUMBER_BYTES) * n + leBytes + fb.sum.length + fb.count.length + 2 * (braced + 1 + NUMBER_BYTES) + (ex === undefined ? 0 : n * EXEMPLAR_TEXT_BYTES);
    const full = w.room(need);
    // The first bucket line's head, then copies of it.
    const headAt = w.pos;
    w.bytes(fb.bucket);
    if (inner > 0) {
      this._inner(w, ab, off, len, scopeLabels);
      w.byte(COMMA);
    }
    w.bytes(LE);
    let cumulative = 0;
    for (let i = 0; i < n; i++) {
      cumulative += counts[offset + i]!;
      if (i > 0) w.again(headAt, head);
      w.bytes(les[i] ?? les[les.length - 1]!);
      if (ex !== undefined && ex.times[i]! > 0) {
        w.count(cumulative, SPACE);
        exemplarText(w, ex, i);
      } else {
        w.count(cumulative, NEWLINE);
      }
    }
    w.bytes(fb.sum);
    this._braced(w, inner, ab, off, len, scopeLabels);
    w.ascii(formatValue(sum));
    w.byte(NEWLINE);
    w.bytes(fb.count);
    this._braced(w, inner, ab, off, len, scopeLabels);
    w.count(count, NEWLINE);
    return full;
  }

  /** One counter or gauge series. */
  private _plain(w: ChunkWriter, fb: Family['bytes'], ab: Buffer, labels: number, scopeLabels: Buffer, v: number): Buffer | undefined {
    const len = labels % LEN_SPAN;
    const off = (labels - len) / LEN_SPAN;
    const inner = len + scopeLabels.length + (len > 0 && scopeLabels.length > 0 ? 1 : 0);
    const braced = inner === 0 ? 0 : inner + 2;
    const value = formatValue(v);
    const full = w.room(fb.plain.length + braced + 2 + 3 * value.length);
    w.bytes(fb.plain);
    this._braced(w, inner, ab, off, len, scopeLabels);
    w.ascii(value);
    w.byte(NEWLINE);
    return full;
  }

  /** `labels,scope` (either may be empty). */
  private _inner(w: ChunkWriter, ab: Buffer, off: number, len: number, scopeLabels: Buffer): void {
    w.slice(ab, off, len);
    if (len > 0 && scopeLabels.length > 0) w.byte(COMMA);
    w.bytes(scopeLabels);
  }

  /** `{labels,scope} `, or just the space when there are no labels. */
  private _braced(w: ChunkWriter, inner: number, ab: Buffer, off: number, len: number, scopeLabels: Buffer): void {
    if (inner > 0) {
      w.byte(OPEN);
      this._inner(w, ab, off, len, scopeLabels);
      w.byte(CLOSE);
    }
    w.byte(SPACE);
  }

  /** Group metrics by Prometheus family name (the text format wants each family in one block). */
  private _families(rm: ResourceMetrics, store: SeriesStore | undefined): Family[] {
    const families = new Map<string, Family>();
    const add = (scope: InstrumentationScope, metric: MetricData, source: Source) => {
      const nt = this._nameOf(metric);
      if (nt === null) return;
      const [name, type] = nt;
      let family = families.get(name);
      if (family === undefined) {
        const raw = metric.descriptor.description || metric.descriptor.name;
        const help = escapeHelp(raw);
        // OpenMetrics names a counter family without its `_total` (the samples keep it).
        const omName = type === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name;
        family = {
          name,
          type,
          help: raw,
          header: `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`,
          omHeader: `# HELP ${omName} ${escapeOmHelp(raw)}\n# TYPE ${omName} ${type}\n`,
          bytes: {
            plain: Buffer.from(name, 'utf8'),
            bucket: Buffer.from(`${name}_bucket{`, 'utf8'),
            sum: Buffer.from(`${name}_sum`, 'utf8'),
            count: Buffer.from(`${name}_count`, 'utf8'),
          },
          metrics: [],
        };
        families.set(name, family);
      } else if (family.type !== type) {
        this._warnOnce(`conflict:${name}`, `metric ${name} from scope ${scope.name} is a ${type}, but an earlier ${name} is a ${family.type}; dropped`);
        return;
      }
      family.metrics.push(source);
    };
    if (store !== undefined) {
      const scope = store.scope;
      const scopeLabels = this._scopeLabelsOf(scope);
      for (const instrument of store.instruments) {
        if (instrument instanceof ObservedInstrument) {
          const metric = store.observedMetric(instrument);
          if (metric.dataPoints.length > 0) add(scope, metric, { metric, scopeLabels, scope });
        } else if (instrument instanceof HistogramInstrument || instrument instanceof SumInstrument) {
          if (instrument.rows.live > 0) add(scope, this._storedShape(instrument), { stored: instrument, scopeLabels, scope });
        }
      }
    }
    for (const sm of rm.scopeMetrics) {
      const scopeLabels = this._scopeLabelsOf(sm.scope);
      for (const metric of sm.metrics) {
        if (metric.dataPoints.length === 0) continue;
        add(sm.scope, metric, { metric, scopeLabels, scope: sm.scope });
      }
    }
    return [...families.values()];
  }

  /** A stored instrument as the metric its name and type are worked out from (cached: one per instrument). */
  private _storedShape(instrument: StoredInstrument): MetricData {
    let shape = this._shapes.get(instrument);
    if (shape === undefined) {
      const s = instrument.stream;
      shape = instrument instanceof SumInstrument
        ? { descriptor: s.descriptor, aggregationTemporality: 1, dataPointType: DataPointType.SUM, isMonotonic: instrument.monotonic, dataPoints: [] }
        : { descriptor: s.descriptor, aggregationTemporality: 1, dataPointType: DataPointType.HISTOGRAM, dataPoints: [] };
      this._shapes.set(instrument, shape);
    }
    return shape;
  }

  private _nameOf(metric: MetricData): [string, PromType] | null {
    const cached = this._names.get(metric.descriptor);
    if (cached !== undefined) return cached;
    const type = promTypeOf(metric);
    let result: [string, PromType] | null = null;
    if (type === undefined) {
      this._warnOnce(`type:${metric.descriptor.name}`, `metric ${metric.descriptor.name} has no Prometheus text form (exponential histogram); dropped from /metrics`);
    } else {
      const name = prometheusMetricName(metric.descriptor.name, metric.descriptor.unit, type,
        metric.dataPointType === DataPointType.SUM && metric.isMonotonic);
      if (name === '') this._warnOnce(`name:${metric.descriptor.name}`, `metric ${JSON.stringify(metric.descriptor.name)} has no valid Prometheus name; dropped`);
      else result = [name, type];
    }
    this._names.set(metric.descriptor, result);
    return result;
  }

  private _scopeLabelsOf(scope: InstrumentationScope): Buffer {
    if (!this._scopeLabels) return EMPTY;
    let b = this._scopes.get(scope);
    if (b === undefined) {
      let s = `otel_scope_name="${escapeLabelValue(scope.name)}"`;
      if (scope.version) s += `,otel_scope_version="${escapeLabelValue(scope.version)}"`;
      if (scope.schemaUrl) s += `,otel_scope_schema_url="${escapeLabelValue(scope.schemaUrl)}"`;
      b = Buffer.from(s, 'utf8');
      this._scopes.set(scope, b);
    }
    return b;
  }

  private _lesOf(boundaries: readonly number[]): Buffer[] {
    let les = this._les.get(boundaries);
    if (les === undefined) {
      les = [...boundaries.map(formatGoFloat), '+Inf'].map(le => Buffer.from(`${le}"} `, 'utf8'));
      this._les.set(boundaries, les);
    }
    return les;
  }

  private _targetInfoText(attributes: Attributes): string {
    const labels = formatLabels(attributes);
    return `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info${labels === '' ? '' : `{${labels}}`} 1\n`;
  }

  private _warnOnce(key: string, message: string): void {
    if (this._warned.has(key)) return;
    this._warned.add(key);
    logger.warn(message);
  }
}

/**
 * The label pairs of an attribute set, sorted by key. Keys that sanitize to
 * the same label name have their values joined with `;` in key order (OTel
 * compatibility spec).
 */
export function labelPairs(attributes: Attributes): [string, string][] {
  const keys = Object.keys(attributes);
  if (keys.length === 0) return [];
  const byLabel = new Map<string, string[]>();
  for (const key of keys.sort()) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    const label = prometheusLabelName(key);
    if (label === '') continue;
    const values = byLabel.get(label);
    if (values === undefined) byLabel.set(label, [attributeValueString(value)]);
    else values.push(attributeValueString(value));
  }
  return [...byLabel].map(([label, values]) => [label, values.join(';')]);
}

/** `k="v",…` for an attribute set (labelPairs(), escaped). */
export function formatLabels(attributes: Attributes): string {
  let out = '';
  for (const [label, value] of labelPairs(attributes)) out += `${out === '' ? '' : ','}${label}="${escapeLabelValue(value)}"`;
  return out;
}

/** Bytes an OpenMetrics exemplar takes at most (ids of 32 and 16 UTF-16 units, 3 bytes each at worst). */
const EXEMPLAR_TEXT_BYTES = 32 + 3 * 48 + 2 * NUMBER_BYTES + 8;

/** ` # {trace_id="…",span_id="…"} value seconds` and the line's end (the count and a space are written). */
function exemplarText(w: ChunkWriter, ex: Exemplars, i: number): void {
  w.bytes(EXEMPLAR_OPEN);
  w.ascii(escapeLabelValue(ex.traceIds[i]!));
  w.bytes(EXEMPLAR_MID);
  w.ascii(escapeLabelValue(ex.spanIds[i]!));
  w.bytes(EXEMPLAR_CLOSE);
  w.ascii(formatValue(ex.values[i]!));
  w.byte(SPACE);
  // Seconds: Prometheus 2.42 drops an exemplar with a millisecond timestamp silently.
  w.ascii(secondsText(ex.times[i]!));
  w.byte(NEWLINE);
}

/** ms since the epoch as seconds with three decimals. */
function secondsText(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const frac = Math.round(ms - whole * 1000);
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** OpenMetrics HELP escapes `\`, newlines and `"`. */
function escapeOmHelp(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

