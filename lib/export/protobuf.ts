/**
 * The Prometheus protobuf exposition: length-delimited
 * `io.prometheus.client.MetricFamily` messages (metrics.proto of
 * prometheus/client_model, which scripts/e2e-setup.sh fetches for the specs).
 * The only format that carries native histograms.
 *
 * Why a writer of our own and not protobufjs (in the tree only through
 * @grpc/proto-loader, and not a dependency of ours) or code generated from
 * the .proto: encoding through message objects costs one object per series,
 * label, bucket, span and exemplar, then a second pass to size and write
 * them; here every label set is encoded once and cached as bytes (as the text
 * serializer caches its escaped labels), and each series is written in one
 * pass into the chunk buffers. Measured with bench/formats.js (Node 24, our
 * 2-core dev VM, native histograms with classic buckets, the same bytes
 * within protobufjs's unpacked deltas): protobufjs by reflection from the
 * upstream metrics.proto took 127–242 ms at 2,000 series and 2.35 s at
 * 20,000, 4.6–12 times this writer, most of which is the reading of the
 * exponential cells both share. The wire format needs four things (varint,
 * zigzag, little-endian double, length prefix), written below; a spec
 * decodes our output with protobufjs and the upstream .proto.
 */

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const VARINT = 0;
const I64 = 1;
const LEN = 2;

/** Bytes a chunk buffer has at least. */
const CHUNK_BYTES = 256 * 1024;

/** MetricType of metrics.proto. */
export const PB_COUNTER = 0;
export const PB_GAUGE = 1;
export const PB_HISTOGRAM = 4;

/** Field numbers of metrics.proto used here. */
export const F = {
  family: { name: 1, help: 2, type: 3, metric: 4 },
  metric: { label: 1, gauge: 2, counter: 3, histogram: 7 },
  label: { name: 1, value: 2 },
  value: 1, // Gauge.value, Counter.value
  histogram: {
    sampleCount: 1, sampleSum: 2, bucket: 3, schema: 5, zeroThreshold: 6, zeroCount: 7,
    negativeSpan: 9, negativeDelta: 10, positiveSpan: 12, positiveDelta: 13, exemplars: 16,
  },
  bucket: { cumulativeCount: 1, upperBound: 2, exemplar: 3 },
  span: { offset: 1, length: 2 },
  exemplar: { label: 1, value: 2, timestamp: 3 },
  timestamp: { seconds: 1, nanos: 2 },
} as const;

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Zigzag of a signed integer (sint32/sint64) as a non-negative double: exact up to 2^52. */
function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

/**
 * Protobuf bytes written into chunk buffers. A length-delimited field is
 * opened with begin() (one byte reserved for its length) and closed with
 * end(), which moves the body when its length takes more than one byte:
 * cheaper than sizing every message first, since most bodies here are
 * shorter than 128 bytes. The caller makes room for a whole series first
 * (room()), so a series never spans two buffers.
 *
 * Bytes are handed out per group (a MetricFamily): `take()` returns the
 * slices written since the last take, and the next group goes on in the same
 * buffer.
 */
export class ProtoWriter {
  private _buf: Buffer | undefined;
  private _pos = 0;
  /** Where the current group's bytes begin in `_buf`. */
  private _start = 0;
  private _parts: Buffer[] = [];
  private _bytes = 0;

  /** Room for `n` more bytes. */
  room(n: number): void {
    const buf = this._buf;
    if (buf !== undefined && this._pos + n <= buf.length) return;
    if (buf !== undefined && this._pos > this._start) {
      this._parts.push(buf.subarray(this._start, this._pos));
      this._bytes += this._pos - this._start;
    }
    this._buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, n));
    this._pos = 0;
    this._start = 0;
  }

  /** Bytes written since the last take(). */
  get size(): number {
    return this._bytes + this._pos - this._start;
  }

  /** The slices written since the last take(), in order. */
  take(): Buffer[] {
    if (this._buf !== undefined && this._pos > this._start) this._parts.push(this._buf.subarray(this._start, this._pos));
    const parts = this._parts;
    this._parts = [];
    this._bytes = 0;
    this._start = this._pos;
    return parts;
  }

  /** Drops what was written since the last take() (a group that turned out empty). */
  discard(): void {
    this._parts = [];
    this._bytes = 0;
    this._pos = this._start;
  }

  varint(n: number): void {
    const b = this._buf!;
    let p = this._pos;
    if (n < 0x80000000) {
      while (n > 127) {
        b[p++] = (n & 127) | 128;
        n >>>= 7;
      }
    } else {
      while (n >= 128) {
        b[p++] = (n % 128) | 128;
        n = Math.floor(n / 128);
      }
    }
    b[p++] = n;
    this._pos = p;
  }

  tag(field: number, wire: number): void {
    const t = (field << 3) | wire;
    if (t < 128) this._buf![this._pos++] = t;
    else this.varint(t); // Histogram.exemplars is field 16
  }

  uint(field: number, n: number): void {
    this.tag(field, VARINT);
    this.varint(n);
  }

  sint(field: number, n: number): void {
    this.tag(field, VARINT);
    this.varint(zigzag(n));
  }

  double(field: number, v: number): void {
    this.tag(field, I64);
    this._buf!.writeDoubleLE(v, this._pos);
    this._pos += 8;
  }

  /** Pre-encoded fields (cached label pairs). */
  bytes(b: Buffer): void {
    this._buf!.set(b, this._pos);
    this._pos += b.length;
  }

  /** A string field; the caller made room for 3 bytes per UTF-16 unit plus 6. */
  string(field: number, s: string): void {
    const at = this.begin(field);
    this._pos += this._buf!.write(s, this._pos, 'utf8');
    this.end(at);
  }

  /** Opens a length-delimited field: returns where its length goes. */
  begin(field: number): number {
    this.tag(field, LEN);
    return this._pos++;
  }

  end(at: number): void {
    const b = this._buf!;
    const length = this._pos - at - 1;
    if (length < 128) {
      b[at] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    b.copyWithin(at + 1 + extra, at + 1, this._pos);
    this._pos += extra;
    let p = at;
    let n = length;
    while (n > 127) {
      b[p++] = (n & 127) | 128;
      n >>>= 7;
    }
    b[p] = n;
  }

  /** Packed repeated sint64 (the native histogram's deltas). */
  packedSint(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    const at = this.begin(field);
    for (const v of values) this.varint(zigzag(v));
    this.end(at);
  }

  /** BucketSpans from offset/length pairs. */
  spans(field: number, flat: readonly number[]): void {
    for (let i = 0; i < flat.length; i += 2) {
      const at = this.begin(field);
      const offset = flat[i]!;
      if (offset !== 0) this.sint(F.span.offset, offset);
      this.uint(F.span.length, flat[i + 1]!);
      this.end(at);
    }
  }

  /** An Exemplar message body's fields: trace_id and span_id labels, value, timestamp (ms since the epoch). */
  exemplar(field: number, traceId: string, spanId: string, value: number, timeMs: number): void {
    const at = this.begin(field);
    this._pair(F.exemplar.label, 'trace_id', traceId);
    this._pair(F.exemplar.label, 'span_id', spanId);
    this.double(F.exemplar.value, value);
    const ts = this.begin(F.exemplar.timestamp);
    const seconds = Math.floor(timeMs / 1000);
    this.uint(F.timestamp.seconds, seconds);
    const nanos = Math.round((timeMs - seconds * 1000) * 1e6);
    if (nanos > 0) this.uint(F.timestamp.nanos, nanos);
    this.end(ts);
    this.end(at);
  }

  private _pair(field: number, name: string, value: string): void {
    const at = this.begin(field);
    this.string(F.label.name, name);
    this.string(F.label.value, value);
    this.end(at);
  }
}

/** Bytes an exemplar takes at most (two labels of 32 and 16 UTF-16 units, 3 bytes each at worst, value, timestamp, headers). */
export const EXEMPLAR_BYTES = 200;

/** A LabelPair as a repeated field `field` (Metric.label, Exemplar.label). */
export function labelPairBytes(field: number, name: string, value: string): Buffer {
  const n = Buffer.byteLength(name);
  const v = Buffer.byteLength(value);
  const body = 1 + varintSize(n) + n + 1 + varintSize(v) + v;
  const out = Buffer.allocUnsafe(1 + varintSize(body) + body);
  let p = 0;
  const varint = (x: number) => {
    while (x > 127) {
      out[p++] = (x & 127) | 128;
      x = Math.floor(x / 128);
    }
    out[p++] = x;
  };
  out[p++] = (field << 3) | LEN;
  varint(body);
  out[p++] = (F.label.name << 3) | LEN;
  varint(n);
  p += out.write(name, p, 'utf8');
  out[p++] = (F.label.value << 3) | LEN;
  varint(v);
  p += out.write(value, p, 'utf8');
  return out;
}

/** Metric.label fields for `pairs` (name, value), concatenated. */
export function labelsBytes(pairs: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(pairs.map(([name, value]) => labelPairBytes(F.metric.label, name, value)));
}

/** The varint length prefix of a delimited message, followed by the MetricFamily header fields. */
export function familyHead(name: string, help: string, type: number, metricsBytes: number): Buffer {
  const head = Buffer.allocUnsafe(32 + 3 * (name.length + help.length));
  const w = new HeadWriter(head);
  w.string(F.family.name, name);
  if (help !== '') w.string(F.family.help, help);
  w.tag(F.family.type, VARINT);
  w.varint(type);
  const body = w.pos + metricsBytes;
  const prefix = varintSize(body);
  const out = Buffer.allocUnsafe(prefix + w.pos);
  const pw = new HeadWriter(out);
  pw.varint(body);
  head.copy(out, prefix, 0, w.pos);
  return out;
}

/** A plain writer for small headers. */
class HeadWriter {
  pos = 0;
  constructor(private readonly _b: Buffer) {}
  tag(field: number, wire: number): void {
    this._b[this.pos++] = (field << 3) | wire;
  }
  varint(n: number): void {
    while (n > 127) {
      this._b[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    this._b[this.pos++] = n;
  }
  string(field: number, s: string): void {
    const bytes = Buffer.byteLength(s);
    this.tag(field, LEN);
    this.varint(bytes);
    this.pos += this._b.write(s, this.pos, 'utf8');
  }
}
