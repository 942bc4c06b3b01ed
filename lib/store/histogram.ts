/**
 * Histogram series: explicit buckets in the instrument's slab (rows.ts), and
 * a base-2 exponential histogram beside them for the readers that ask for one
 * (exponential.ts), and the exemplars of the explicit buckets when the
 * Prometheus endpoint serves them.
 *
 * A row: the bucket counts (one per boundary, then +Inf), sum, min, max, the
 * start time (ms since the epoch), then for each delta reader the min and max
 * of its current interval. The count is the buckets' sum (count()): a column
 * of its own would be 8 B a series for what a scrape adds up anyway. The hot
 * path is a bucket search and a few increments on the row of the cell the
 * caller already holds.
 */
import type { Attributes } from '@opentelemetry/api';
import { withAttribute, type CellOwner, type HistogramCell, type HistogramRecorder, type Releasable } from '../core/recorder';
import type { RateLimitedWarner } from '../core/diag';
import { describe } from '../core/diag';
import type { TraceRef } from '../core/trace';
import { ExponentialCell } from './exponential';
import { Rows } from './rows';
import { cellClass, Labelled, nowMs, type StoredInstrument, type Stream } from './stream';

export interface ExponentialOptions {
  readonly maxSize: number;
  readonly recordMinMax: boolean;
}

/**
 * The latest exemplar of each explicit bucket of one series: made on the
 * series' first exemplar, so a series recorded outside spans costs nothing,
 * and bounded (one per bucket, 14 with the default buckets).
 */
export class Exemplars {
  readonly values: Float64Array;
  /** ms since the epoch; 0: the bucket has none yet. */
  readonly times: Float64Array;
  readonly traceIds: string[];
  readonly spanIds: string[];
  constructor(buckets: number) {
    this.values = new Float64Array(buckets);
    this.times = new Float64Array(buckets);
    this.traceIds = new Array<string>(buckets).fill('');
    this.spanIds = new Array<string>(buckets).fill('');
  }
}

export class HistogramSeries extends Labelled implements HistogramCell, Releasable {
  /** On the per-instrument prototype (stream.ts cellClass). */
  declare readonly instrument: HistogramInstrument;
  row: number;
  constructor(instrument: HistogramInstrument, base: Attributes, value?: string) {
    super(base, value);
    this.row = instrument.rows.alloc(this);
  }

  record(value: number, trace?: TraceRef): void {
    this.instrument.record(this.row, value, trace);
  }

  release(): void {
    this.instrument.release(this);
  }
}

export class HistogramInstrument implements HistogramRecorder, StoredInstrument {
  readonly kind = 'histogram';
  readonly rows: Rows<HistogramSeries>;
  /** The upper bounds (OTel: a value v goes to the first bucket with v ≤ bound). */
  readonly boundaries: readonly number[];
  private readonly _bounds: Float64Array;
  /** Offsets in a row. */
  readonly SUM: number;
  readonly MIN: number;
  readonly MAX: number;
  readonly START: number;
  /** Exponential state per row, for the readers that get exponential histograms. */
  readonly exponential: (ExponentialCell | undefined)[] | undefined;
  /**
   * Delta readers of exponential histograms: per reader, the current
   * interval's cell of each row (made on its first record). A delta point is
   * that interval recorded on its own, as the SDK gives it: the cumulative
   * cell minus a copy of it differs from the SDK's point in scale and
   * buckets when the interval's values span less than the whole history.
   */
  readonly intervals: (ExponentialCell | undefined)[][] | undefined;
  /** Exemplars per row (undefined: none kept yet); the array itself only when exemplars are kept. */
  readonly exemplars: (Exemplars | undefined)[] | undefined;
  private readonly _Cell = cellClass(HistogramSeries, this);
  /** The extra key of cellWith() cells (one per instrument; another key makes a whole set). */
  private _key: string | undefined;

  constructor(
    readonly stream: Stream,
    boundaries: readonly number[],
    readonly exponentialOptions: ExponentialOptions | undefined,
    /** Delta readers: each keeps the min and max of its interval in the row. */
    readonly deltaReaders: number,
    private readonly _warn: RateLimitedWarner,
    /** A View may turn min and max off (they are still kept, not reported). */
    readonly recordMinMax = true,
    /** Keep the latest exemplar per explicit bucket of each series (records given a trace). */
    exemplars = false,
  ) {
    this.boundaries = Object.freeze([...boundaries]);
    this._bounds = Float64Array.from(boundaries);
    const nb = boundaries.length + 1;
    this.SUM = nb;
    this.MIN = nb + 1;
    this.MAX = nb + 2;
    this.START = nb + 3;
    const MIN = this.MIN;
    const MAX = this.MAX;
    const START = this.START;
    this.rows = new Rows<HistogramSeries>(nb + 4 + 2 * deltaReaders, (d, o) => {
      d[o + MIN] = Infinity;
      d[o + MAX] = -Infinity;
      d[o + START] = nowMs();
      for (let k = 0; k < deltaReaders; k++) {
        d[o + START + 1 + 2 * k] = Infinity;
        d[o + START + 2 + 2 * k] = -Infinity;
      }
    });
    this.exponential = exponentialOptions === undefined ? undefined : [];
    this.intervals = exponentialOptions === undefined || deltaReaders === 0 ? undefined : Array.from({ length: deltaReaders }, () => []);
    this.exemplars = exemplars ? [] : undefined;
  }

  cell(attributes: Attributes, owner: CellOwner | undefined): HistogramSeries {
    return this._made(new this._Cell(this, attributes), owner);
  }

  cellWith(base: Attributes, key: string, value: string, owner: CellOwner | undefined): HistogramSeries {
    if (this._key === undefined) this._Cell.setKey((this._key = key));
    if (key !== this._key) return this.cell(withAttribute(base, key, value), owner);
    return this._made(new this._Cell(this, base, value), owner);
  }

  private _made(cell: HistogramSeries, _owner: CellOwner | undefined): HistogramSeries {
    if (this.exemplars !== undefined) this.exemplars[cell.row] = undefined;
    if (this.exponential !== undefined) {
      this.exponential[cell.row] = new ExponentialCell(this.exponentialOptions!.maxSize, this.exponentialOptions!.recordMinMax);
    }
    return cell;
  }

  record(row: number, value: number, trace?: TraceRef): void {
    // Negative values too: an OTel histogram instrument drops them (the SDK warns the same way).
    if (!(value >= 0 && value < Infinity)) {
      this._warn.warn(`store-value:${this.stream.name}`, () => `${this.stream.name}: dropped ${describe(value)} (a histogram takes finite values >= 0)`);
      return;
    }
    const bounds = this._bounds;
    // The first bound >= value (sdk-metrics' binarySearchUB).
    let lo = 0;
    let hi = bounds.length - 1;
    let bucket = bounds.length;
    while (hi >= lo) {
      const mid = (lo + hi) >>> 1;
      if (bounds[mid]! < value) lo = mid + 1;
      else {
        bucket = mid;
        hi = mid - 1;
      }
    }
    const d = this.rows.block(row);
    const o = this.rows.offset(row);
    d[o + bucket]!++;
    d[o + this.SUM]! += value;
    if (value < d[o + this.MIN]!) d[o + this.MIN] = value;
    if (value > d[o + this.MAX]!) d[o + this.MAX] = value;
    for (let k = 0, i = o + this.START + 1; k < this.deltaReaders; k++, i += 2) {
      if (value < d[i]!) d[i] = value;
      if (value > d[i + 1]!) d[i + 1] = value;
    }
    if (this.exponential !== undefined && row !== 0) {
      this.exponential[row]!.record(value);
      const intervals = this.intervals;
      if (intervals !== undefined) {
        const o = this.exponentialOptions!;
        for (const cells of intervals) (cells[row] ??= new ExponentialCell(o.maxSize, o.recordMinMax)).record(value);
      }
    }
    if (trace !== undefined && this.exemplars !== undefined && row !== 0) this._keep(row, bucket, value, trace);
  }

  /** The bucket's latest exemplar (the row's exemplars are made on its first one). */
  private _keep(row: number, bucket: number, value: number, trace: TraceRef): void {
    const e = (this.exemplars![row] ??= new Exemplars(this._bounds.length + 1));
    e.values[bucket] = value;
    e.times[bucket] = Date.now();
    e.traceIds[bucket] = trace.traceId;
    e.spanIds[bucket] = trace.spanId;
  }

  /** Observations in the row at `o` of block `d` (its buckets added up). */
  count(d: Float64Array, o: number): number {
    let n = 0;
    for (let i = 0, nb = this.SUM; i < nb; i++) n += d[o + i]!;
    return n;
  }

  release(cell: HistogramSeries): void {
    const row = cell.row;
    if (row === 0) return;
    cell.row = 0;
    this.rows.free(row);
    if (this.exponential !== undefined) this.exponential[row] = undefined;
    if (this.intervals !== undefined) for (const cells of this.intervals) cells[row] = undefined;
    if (this.exemplars !== undefined) this.exemplars[row] = undefined;
  }
}
