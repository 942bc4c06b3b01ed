/**
 * The one interface the gateway logic records through, with two
 * implementations:
 * - under register(), our series store (lib/store/): a cell per series, found
 *   once through the Series the paths already hold, so a call costs a bucket
 *   search and a few increments, no attribute hashing and no SDK call;
 * - on a MeterProvider the user owns (createGatewayMetrics({ meterProvider })),
 *   real SDK instruments (below): we cannot attach a producer to a provider
 *   whose readers are built, so there each cell is an SDK record with its
 *   frozen attributes.
 * The gateway logic (GatewayMetrics, the MCP and LLM readers) exists once,
 * written against these types.
 */
import { ValueType, type Attributes, type Meter, type ObservableResult } from '@opentelemetry/api';
import type { TraceRef } from './trace';

/** One histogram series. */
export interface HistogramCell {
  /**
   * `trace`: the sampled span the call was made in, kept as the exemplar of
   * the value's bucket where the implementation keeps exemplars (our store);
   * SDK instruments have none and ignore it.
   */
  record(value: number, trace?: TraceRef): void;
}

/** One counter (monotonic) or up-down counter series. */
export interface SumCell {
  add(value: number): void;
}

/** What a cell is released with: the node it belongs to keeps a list, and forgetting the node releases them. */
export interface CellOwner {
  cells: Releasable[] | undefined;
}

export interface Releasable {
  /** Frees the series for good; a record into a released cell goes nowhere. */
  release(): void;
}

export interface InstrumentInfo {
  readonly description: string;
  readonly unit: string;
  readonly valueType: ValueType;
}

export interface HistogramInfo extends InstrumentInfo {
  /** The instrument's advice; a View may replace them. */
  readonly boundaries: readonly number[];
}

export interface HistogramRecorder {
  cell(attributes: Attributes, owner: CellOwner | undefined): HistogramCell;
}

export interface SumRecorder {
  cell(attributes: Attributes, owner: CellOwner | undefined): SumCell;
}

/** Emits one observed point: its attributes, value and start time (ms since the epoch). */
export type Emit = (attributes: Attributes, value: number, startTimeMs: number) => void;

/**
 * Walks the current state and emits one point per live series; with
 * `changedOnly`, only those whose value changed since the last walk (the SDK
 * keeps reporting an observable series' last value to a cumulative reader, so
 * an unchanged one need not be observed again: at 20,000 series that took the
 * SDK's collect() from 222 to 133 ms).
 */
export type Walk = (emit: Emit, changedOnly: boolean) => void;

export type ObservedKind = 'upDownCounter' | 'counter' | 'gauge';

export interface Recorders {
  /** The histogram cells keep exemplars: callers pass the span a call was made in (core/trace.ts). */
  readonly exemplars?: boolean;
  histogram(name: string, info: HistogramInfo): HistogramRecorder;
  counter(name: string, info: InstrumentInfo): SumRecorder;
  /** Values kept by the caller (in-flight, node up), read at each collection. */
  observed(name: string, info: InstrumentInfo, kind: ObservedKind, walk: Walk): Disposable;
}

export interface Disposable {
  dispose(): void;
}

// ---------------------------------------------------------------------------
// The SDK implementation.

/**
 * Records through real SDK instruments. Attributes must be frozen objects of
 * ours: the SDK keys a series by the object it is first given, so a caller's
 * object mutated later would relabel it.
 */
export class SdkRecorders implements Recorders {
  constructor(private readonly _meter: Meter) {}

  histogram(name: string, info: HistogramInfo): HistogramRecorder {
    const h = this._meter.createHistogram(name, {
      description: info.description,
      unit: info.unit,
      valueType: info.valueType,
      advice: { explicitBucketBoundaries: [...info.boundaries] },
    });
    return { cell: attributes => ({ record: value => h.record(value, attributes) }) };
  }

  counter(name: string, info: InstrumentInfo): SumRecorder {
    const c = this._meter.createCounter(name, { description: info.description, unit: info.unit, valueType: info.valueType });
    return { cell: attributes => ({ add: value => c.add(value, attributes) }) };
  }

  observed(name: string, info: InstrumentInfo, kind: ObservedKind, walk: Walk): Disposable {
    const options = { description: info.description, unit: info.unit, valueType: info.valueType };
    const instrument =
      kind === 'gauge' ? this._meter.createObservableGauge(name, options)
        : kind === 'counter' ? this._meter.createObservableCounter(name, options)
          : this._meter.createObservableUpDownCounter(name, options);
    const callback = (result: ObservableResult): void => walk((attributes, value) => result.observe(value, attributes), true);
    instrument.addCallback(callback);
    return { dispose: () => instrument.removeCallback(callback) };
  }
}
