/**
 * The series store: the gateway's own instruments under register(), handed
 * to each SDK reader through a MetricProducer of its own, in the temporality
 * and aggregation that reader asks for.
 *
 * Why not SDK instruments: each histogram.record() cost 1.5–2.4 µs, most of
 * it hashing an attributes object we had already built once per series;
 * collect() was one synchronous pass of 80–100 ms at 20,000 series; and the
 * SDK kept every cumulative series for good (forgetting idle nodes needed a
 * delta reader and a second store beside it). Here a series is a row found
 * through the cell the caller holds, released with its node, and a collection
 * yields to the event loop every few milliseconds.
 *
 * Temporality: cumulative readers get the rows as they are; a delta reader
 * gets the difference from a copy of the rows kept at its last collection
 * (rows.ts shadows), with the min and max of its own interval.
 */
import type { Attributes } from '@opentelemetry/api';
import { millisToHrTime, type InstrumentationScope } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type AggregationOption,
  type CollectionResult,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type MetricProducer,
  type ScopeMetrics,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import type { Disposable, HistogramInfo, HistogramRecorder, InstrumentInfo, ObservedKind, Recorders, SumRecorder, Walk } from '../core/recorder';
import { logger, type RateLimitedWarner } from '../core/diag';
import { SumInstrument, START as SUM_START, VALUE } from './counter';
import { HistogramInstrument, type ExponentialOptions } from './histogram';
import { ObservedInstrument } from './observed';
import { nowMs, stream, type StoredInstrument } from './stream';
import { AGGREGATION_DROP, AGGREGATION_EXPLICIT, AGGREGATION_EXPONENTIAL, resolveView } from './views';

/** What the store needs to know of a reader: the SDK reader's own selectors. */
export interface StoreReader {
  temporality(type: InstrumentType): AggregationTemporality;
  aggregation(type: InstrumentType): AggregationOption;
}

/** The SDK's default maximum number of buckets of an exponential histogram. */
export const EXPONENTIAL_MAX_SIZE = 160;

/** A collection yields to the event loop after this long (checked every ROWS_PER_CHECK rows). */
export const SLICE_MS = 5;
const ROWS_PER_CHECK = 256;

type Aggregation = 'explicit' | 'exponential';

/** One reader's view of one instrument. */
interface ReaderPlan {
  readonly temporality: AggregationTemporality;
  readonly aggregation: Aggregation;
  /** Delta readers: index of their shadow and interval columns; -1 for cumulative. */
  readonly delta: number;
}

interface DeltaState {
  /** ms since the epoch of this reader's last collection of the instrument. */
  last: number;
  /** Observed counters: the last value reported, by attribute set. */
  observed?: WeakMap<Attributes, number>;
}

interface Entry {
  readonly instrument: StoredInstrument;
  readonly plans: readonly ReaderPlan[];
  readonly deltas: DeltaState[];
}

function yieldToLoop(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

export interface SeriesStoreOptions {
  readonly scope: InstrumentationScope;
  readonly readers: readonly StoreReader[];
  /** The user's Views first, then ours (gatewayViews()): the first match wins. */
  readonly views: readonly ViewOptions[];
  readonly warn: RateLimitedWarner;
  /** Runs before every collection (register() forgets idle nodes there). */
  readonly beforeCollect?: () => void;
  /**
   * Histograms keep the latest exemplar per explicit bucket of each series
   * (the Prometheus endpoint serves them; no reader's data model has them).
   * @default false
   */
  readonly exemplars?: boolean;
}

const CUMULATIVE_PLAN: ReaderPlan = { temporality: AggregationTemporality.CUMULATIVE, aggregation: 'explicit', delta: -1 };

export class SeriesStore implements Recorders {
  readonly scope: InstrumentationScope;
  private readonly _entries: Entry[] = [];
  private readonly _readers: readonly StoreReader[];
  private readonly _views: readonly ViewOptions[];
  private readonly _warn: RateLimitedWarner;
  private readonly _beforeCollect: (() => void) | undefined;
  /** Histogram cells keep exemplars (Recorders: callers then capture the active span). */
  readonly exemplars: boolean;

  constructor(options: SeriesStoreOptions) {
    this.scope = options.scope;
    this._readers = options.readers;
    this._views = options.views;
    this._warn = options.warn;
    this._beforeCollect = options.beforeCollect;
    this.exemplars = options.exemplars === true;
  }

  /** Runs the before-collection hook (the serializer calls it before reading the store directly). */
  prepare(): void {
    try {
      this._beforeCollect?.();
    } catch (err) {
      logger.warn(`store: ${String(err)}`);
    }
  }

  /** An observed instrument's current points, cumulative (what the Prometheus serializer writes). */
  observedMetric(o: ObservedInstrument): MetricData {
    const end = nowMs();
    return this._observed(o, CUMULATIVE_PLAN, { last: end }, end, millisToHrTime(end));
  }

  /** The stored instruments, in creation order (the serializer reads them directly). */
  get instruments(): StoredInstrument[] {
    return this._entries.map(e => e.instrument);
  }

  // ---- Recorders ------------------------------------------------------------

  histogram(name: string, info: HistogramInfo): HistogramRecorder {
    const view = this._view(name, InstrumentType.HISTOGRAM, info);
    if (view === undefined) return DROPPED_HISTOGRAM;
    const { s, aggregation } = view;
    let boundaries: readonly number[] = info.boundaries;
    let recordMinMax = true;
    let exponential: ExponentialOptions | undefined;
    const fixed: Aggregation | undefined =
      aggregation?.type === AGGREGATION_EXPLICIT ? 'explicit' : aggregation?.type === AGGREGATION_EXPONENTIAL ? 'exponential' : undefined;
    if (aggregation?.type === AGGREGATION_EXPLICIT) {
      boundaries = aggregation.options?.boundaries ?? boundaries;
      recordMinMax = aggregation.options?.recordMinMax ?? true;
    } else if (aggregation !== undefined && aggregation.type !== AGGREGATION_EXPONENTIAL) {
      this._unsupported(name, aggregation);
    }
    const plans = this._plans(InstrumentType.HISTOGRAM, reader => {
      if (fixed !== undefined) return fixed;
      return reader.aggregation(InstrumentType.HISTOGRAM)?.type === AGGREGATION_EXPONENTIAL ? 'exponential' : 'explicit';
    });
    if (plans.some(p => p.aggregation === 'exponential')) {
      const options = aggregation?.type === AGGREGATION_EXPONENTIAL ? aggregation.options : this._readerExponentialOptions();
      exponential = { maxSize: options?.maxSize ?? EXPONENTIAL_MAX_SIZE, recordMinMax: options?.recordMinMax ?? true };
    }
    const deltaReaders = plans.filter(p => p.delta >= 0).length;
    const instrument = new HistogramInstrument(s, boundaries, exponential, deltaReaders, this._warn, recordMinMax, this.exemplars);
    for (let k = 0; k < deltaReaders; k++) instrument.rows.shadow();
    this._entries.push({ instrument, plans, deltas: plans.map(() => ({ last: nowMs() })) });
    return instrument;
  }

  counter(name: string, info: InstrumentInfo): SumRecorder {
    const view = this._view(name, InstrumentType.COUNTER, info);
    if (view === undefined) return DROPPED_SUM;
    if (view.aggregation !== undefined && view.aggregation.type !== 2 /* SUM */) this._unsupported(name, view.aggregation);
    const plans = this._plans(InstrumentType.COUNTER, () => 'explicit');
    const instrument = new SumInstrument(view.s, true, this._warn);
    for (const p of plans) if (p.delta >= 0) instrument.rows.shadow();
    this._entries.push({ instrument, plans, deltas: plans.map(() => ({ last: nowMs() })) });
    return instrument;
  }

  observed(name: string, info: InstrumentInfo, kind: ObservedKind, walk: Walk): Disposable {
    const type = kind === 'gauge' ? InstrumentType.OBSERVABLE_GAUGE : kind === 'counter' ? InstrumentType.OBSERVABLE_COUNTER : InstrumentType.OBSERVABLE_UP_DOWN_COUNTER;
    const view = this._view(name, type, info);
    if (view === undefined) return { dispose() {} };
    const instrument = new ObservedInstrument(view.s, kind, walk);
    const plans = this._plans(type, () => 'explicit');
    this._entries.push({ instrument, plans, deltas: plans.map(() => ({ last: nowMs(), observed: new WeakMap() })) });
    return instrument;
  }

  /**
   * Add an instrument made elsewhere, read by every reader like the store's
   * own: the per-host view of a multi-process gateway is a store of the same
   * classes, filled with the workers' sums (lib/cluster/host.ts).
   */
  adopt(instrument: HistogramInstrument | SumInstrument | ObservedInstrument): void {
    const plans = this._plans(instrument.stream.type, () => 'explicit');
    this._entries.push({ instrument, plans, deltas: plans.map(() => ({ last: nowMs(), observed: new WeakMap() })) });
  }

  private _view(name: string, type: InstrumentType, info: InstrumentInfo) {
    const v = resolveView(this._views, { name, type, unit: info.unit }, this.scope);
    if (v.matches > 1) logger.warn(`${name}: ${v.matches} Views match it; only the first one applies to the gateway's own instruments`);
    if (v.ignored.length > 0) logger.warn(`${name}: the View's ${v.ignored.join(', ')} is not applied to the gateway's own instruments`);
    if (v.aggregation?.type === AGGREGATION_DROP) return undefined;
    return { s: stream(v.name, v.description ?? info.description, info.unit, info.valueType, type), aggregation: v.aggregation };
  }

  private _plans(type: InstrumentType, aggregationOf: (reader: StoreReader) => Aggregation): ReaderPlan[] {
    let deltas = 0;
    return this._readers.map(reader => {
      const temporality = reader.temporality(type);
      const delta = temporality === AggregationTemporality.DELTA ? deltas++ : -1;
      return { temporality, aggregation: aggregationOf(reader), delta };
    });
  }

  /** The exponential options a reader's selector gave (all readers here use the same ones). */
  private _readerExponentialOptions(): { maxSize?: number; recordMinMax?: boolean } | undefined {
    for (const reader of this._readers) {
      const a = reader.aggregation(InstrumentType.HISTOGRAM);
      if (a?.type === AGGREGATION_EXPONENTIAL) return a.options;
    }
    return undefined;
  }

  private _unsupported(name: string, aggregation: AggregationOption): void {
    logger.warn(`${name}: a View's aggregation type ${aggregation.type} is not one the gateway's own instruments take; using the default`);
  }

  // ---- Collection -----------------------------------------------------------

  /** The producer handed to reader number `index` (the order of `readers`). */
  producer(index: number): MetricProducer {
    return {
      collect: async (): Promise<CollectionResult> => {
        // The reader keeps the SDK's resource and takes only our scopeMetrics.
        return { resourceMetrics: { resource: undefined as never, scopeMetrics: [await this.collect(index)] }, errors: [] };
      },
    };
  }

  /**
   * Our series for reader `index`, yielding to the event loop every
   * SLICE_MS. Each point is read in one synchronous step, so it is whole,
   * though two points may be from either side of a record made meanwhile
   * (as with prom-client). `explicitOnly`: histograms with explicit buckets
   * even where the reader gets exponential ones (the stats view reads the
   * Prometheus reader's series so, whether or not its endpoint serves native
   * histograms).
   */
  async collect(index: number, explicitOnly = false): Promise<ScopeMetrics> {
    this.prepare();
    const metrics: MetricData[] = [];
    const slice = { start: performance.now() };
    for (const entry of this._entries) {
      const plan = entry.plans[index];
      if (plan === undefined) continue;
      const endMs = nowMs();
      const endTime = millisToHrTime(endMs);
      const instrument = entry.instrument;
      let metric: MetricData | undefined;
      if (instrument instanceof HistogramInstrument) {
        metric = plan.aggregation === 'exponential' && !explicitOnly
          ? await this._exponential(instrument, plan, entry.deltas[index]!, endMs, endTime, slice)
          : await this._explicit(instrument, plan, entry.deltas[index]!, endMs, endTime, slice);
      } else if (instrument instanceof SumInstrument) {
        metric = await this._sum(instrument, plan, entry.deltas[index]!, endMs, endTime, slice);
      } else if (instrument instanceof ObservedInstrument) {
        metric = this._observed(instrument, plan, entry.deltas[index]!, endMs, endTime);
      }
      if (metric !== undefined && metric.dataPoints.length > 0) metrics.push(metric);
    }
    return { scope: this.scope, metrics };
  }

  private async _slice(slice: { start: number }, row: number): Promise<void> {
    if ((row & (ROWS_PER_CHECK - 1)) !== 0 || performance.now() - slice.start < SLICE_MS) return;
    await yieldToLoop();
    slice.start = performance.now();
  }

  private async _explicit(h: HistogramInstrument, plan: ReaderPlan, state: DeltaState, endMs: number, endTime: ReturnType<typeof millisToHrTime>, slice: { start: number }): Promise<MetricData> {
    const points: DataPoint<Histogram>[] = [];
    const nb = h.boundaries.length + 1;
    const delta = plan.delta;
    const since = state.last;
    for (let row = 1; row < h.rows.end; row++) {
      await this._slice(slice, row);
      const cell = h.rows.cells[row];
      if (cell === undefined) continue;
      const d = h.rows.block(row);
      const o = h.rows.offset(row);
      if (delta < 0) {
        const count = h.count(d, o);
        if (count === 0) continue;
        points.push({
          attributes: cell.attributes,
          startTime: millisToHrTime(d[o + h.START]!),
          endTime,
          value: {
            buckets: { boundaries: h.boundaries as number[], counts: Array.from(d.subarray(o, o + nb)) },
            count,
            sum: d[o + h.SUM]!,
            min: h.recordMinMax ? d[o + h.MIN]! : undefined,
            max: h.recordMinMax ? d[o + h.MAX]! : undefined,
          },
        });
        continue;
      }
      const s = h.rows.shadowBlock(delta, row);
      const count = h.count(d, o) - h.count(s, o);
      if (count === 0) continue;
      const counts = new Array<number>(nb);
      for (let i = 0; i < nb; i++) counts[i] = d[o + i]! - s[o + i]!;
      const iMin = o + h.START + 1 + 2 * delta;
      points.push({
        attributes: cell.attributes,
        startTime: millisToHrTime(Math.max(d[o + h.START]!, since)),
        endTime,
        value: {
          buckets: { boundaries: h.boundaries as number[], counts },
          count,
          sum: d[o + h.SUM]! - s[o + h.SUM]!,
          min: h.recordMinMax ? d[iMin]! : undefined,
          max: h.recordMinMax ? d[iMin + 1]! : undefined,
        },
      });
      s.set(d.subarray(o, o + h.START), o);
      d[iMin] = Infinity;
      d[iMin + 1] = -Infinity;
    }
    state.last = endMs;
    return {
      descriptor: h.stream.descriptor,
      aggregationTemporality: plan.temporality,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: points,
    };
  }

  private async _exponential(h: HistogramInstrument, plan: ReaderPlan, state: DeltaState, endMs: number, endTime: ReturnType<typeof millisToHrTime>, slice: { start: number }): Promise<MetricData> {
    const points: DataPoint<ExponentialHistogram>[] = [];
    const since = state.last;
    // A delta reader takes its interval cells (histogram.ts intervals); a cumulative one the rows' own.
    const intervals = plan.delta >= 0 ? h.intervals?.[plan.delta] : undefined;
    const cells = intervals ?? h.exponential!;
    for (let row = 1; row < h.rows.end; row++) {
      await this._slice(slice, row);
      const owner = h.rows.cells[row];
      const cell = cells[row];
      if (owner === undefined || cell === undefined || cell.count === 0) continue;
      const start = h.rows.block(row)[h.rows.offset(row) + h.START]!;
      if (intervals === undefined) {
        points.push({ attributes: owner.attributes, startTime: millisToHrTime(start), endTime, value: cell.value() });
        continue;
      }
      intervals[row] = undefined;
      points.push({ attributes: owner.attributes, startTime: millisToHrTime(Math.max(start, since)), endTime, value: cell.value() });
    }
    state.last = endMs;
    return {
      descriptor: h.stream.descriptor,
      aggregationTemporality: plan.temporality,
      dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      dataPoints: points,
    };
  }

  private async _sum(c: SumInstrument, plan: ReaderPlan, state: DeltaState, endMs: number, endTime: ReturnType<typeof millisToHrTime>, slice: { start: number }): Promise<MetricData> {
    const points: DataPoint<number>[] = [];
    const since = state.last;
    for (let row = 1; row < c.rows.end; row++) {
      await this._slice(slice, row);
      const cell = c.rows.cells[row];
      if (cell === undefined) continue;
      const d = c.rows.block(row);
      const o = c.rows.offset(row);
      if (plan.delta < 0) {
        if (d[o + VALUE] === 0 && c.monotonic) continue;
        points.push({ attributes: cell.attributes, startTime: millisToHrTime(d[o + SUM_START]!), endTime, value: d[o + VALUE]! });
        continue;
      }
      const s = c.rows.shadowBlock(plan.delta, row);
      const value = d[o + VALUE]! - s[o + VALUE]!;
      if (value === 0) continue;
      s[o + VALUE] = d[o + VALUE]!;
      points.push({ attributes: cell.attributes, startTime: millisToHrTime(Math.max(d[o + SUM_START]!, since)), endTime, value });
    }
    state.last = endMs;
    return {
      descriptor: c.stream.descriptor,
      aggregationTemporality: plan.temporality,
      dataPointType: DataPointType.SUM,
      isMonotonic: c.monotonic,
      dataPoints: points,
    };
  }

  private _observed(o: ObservedInstrument, plan: ReaderPlan, state: DeltaState, endMs: number, endTime: ReturnType<typeof millisToHrTime>): MetricData {
    const points: DataPoint<number>[] = [];
    const since = state.last;
    // A delta reader gets an observed sum as the SDK gives it: the change since
    // its last collection, for every series observed (unchanged ones as 0).
    const delta = plan.delta >= 0 && o.observedKind !== 'gauge' ? state.observed! : undefined;
    o.walk((attributes, value, startMs) => {
      if (delta === undefined) {
        points.push({ attributes, startTime: millisToHrTime(startMs), endTime, value });
        return;
      }
      const last = delta.get(attributes);
      delta.set(attributes, value);
      points.push({ attributes, startTime: millisToHrTime(last === undefined ? startMs : Math.max(startMs, since)), endTime, value: value - (last ?? 0) });
    });
    state.last = endMs;
    if (o.observedKind === 'gauge') {
      return { descriptor: o.stream.descriptor, aggregationTemporality: plan.temporality, dataPointType: DataPointType.GAUGE, dataPoints: points };
    }
    return {
      descriptor: o.stream.descriptor,
      aggregationTemporality: plan.temporality,
      dataPointType: DataPointType.SUM,
      isMonotonic: o.observedKind === 'counter',
      dataPoints: points,
    };
  }
}

const DROPPED_HISTOGRAM: HistogramRecorder = { cell: () => ({ record() {}, release() {} }), cellWith: () => ({ record() {}, release() {} }) };
const DROPPED_SUM: SumRecorder = { cell: () => ({ add() {}, release() {} }), cellWith: () => ({ add() {}, release() {} }) };

