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

export interface Releasable {
  /** Frees the series for good; a record into a released cell goes nowhere. */
  release(): void;
}

/** One histogram series. */
export interface HistogramCell extends Releasable {
  /**
   * `trace`: the sampled span the call was made in, kept as the exemplar of
   * the value's bucket where the implementation keeps exemplars (our store);
   * SDK instruments have none and ignore it.
   */
  record(value: number, trace?: TraceRef): void;
}

/** One counter (monotonic) or up-down counter series. */
export interface SumCell extends Releasable {
  add(value: number): void;
}

/**
 * The node a cell belongs to. Recorders that keep per-node state (the
 * cluster mode's files) group cells by it. Cells are released by whoever
 * made them: the gateway's own through its series' fields, a protocol
 * reader's by `track()`ing them, so that forgetting the node releases them.
 */
export interface CellOwner {
  track(cell: Releasable): void;
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

/**
 * A cell's attributes are a frozen set of ours, or one such set plus one more
 * key and value (`cellWith`): the status of a duration series, the error type
 * of an error series. The store keeps the three parts and builds the set when
 * an exporter reads it (a set of three attributes is a ~56 B object per
 * series, the parts two pointers); the SDK gets the whole set at once.
 */
export interface HistogramRecorder {
  cell(attributes: Attributes, owner: CellOwner | undefined): HistogramCell;
  cellWith(base: Attributes, key: string, value: string, owner: CellOwner | undefined): HistogramCell;
}

export interface SumRecorder {
  cell(attributes: Attributes, owner: CellOwner | undefined): SumCell;
  cellWith(base: Attributes, key: string, value: string, owner: CellOwner | undefined): SumCell;
}

/** `base` plus `key: value`, frozen. */
export function withAttribute(base: Attributes, key: string, value: string): Attributes {
  return Object.freeze({ ...base, [key]: value });
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

function noop(): void {}

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
    // The SDK keeps a cumulative series for good: nothing to release.
    const cell = (attributes: Attributes): HistogramCell => ({ record: value => h.record(value, attributes), release: noop });
    return { cell, cellWith: (base, key, value) => cell(withAttribute(base, key, value)) };
  }

  counter(name: string, info: InstrumentInfo): SumRecorder {
    const c = this._meter.createCounter(name, { description: info.description, unit: info.unit, valueType: info.valueType });
    const cell = (attributes: Attributes): SumCell => ({ add: value => c.add(value, attributes), release: noop });
    return { cell, cellWith: (base, key, value) => cell(withAttribute(base, key, value)) };
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
