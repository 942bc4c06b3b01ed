/**
 * The readers register() builds: the SDK collects in DELTA temporality (so it
 * keeps only the current interval), and a CumulativeStore per reader adds the
 * deltas up and forgets idle nodes (see cumulative.ts for the measured reason).
 */
import type { Attributes } from '@opentelemetry/api';
import type { ExportResult, InstrumentationScope } from '@opentelemetry/core';
import {
  AggregationTemporality,
  MetricReader,
  type AggregationOption,
  type MetricCollectOptions,
  type CollectionResult,
  type InstrumentType,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { CumulativeStore } from './cumulative';

/** Which points to keep: false for a point of a node that is no longer live. */
export type KeepPoint = (scope: InstrumentationScope, attributes: Attributes) => boolean;

const delta = (): AggregationTemporality => AggregationTemporality.DELTA;

/**
 * The Prometheus pull reader: collect() returns the cumulative state, like a
 * cumulative reader would, but built from the SDK's deltas and without the
 * series of forgotten nodes.
 */
export class CumulativePullReader extends MetricReader {
  private readonly _store = new CumulativeStore();

  constructor(
    private readonly _keep: KeepPoint,
    private readonly _limit: number,
    metricProducers: MetricProducer[],
  ) {
    super({ aggregationTemporalitySelector: delta, metricProducers });
  }

  override selectCardinalityLimit(_type: InstrumentType): number {
    return this._limit;
  }

  /** Series held by the store (specs and the churn soak read it). */
  get storedSeries(): number {
    return this._store.size;
  }

  override async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    const { resourceMetrics, errors } = await super.collect(options);
    this._store.merge(resourceMetrics);
    this._store.forget(this._keep);
    return { resourceMetrics: this._store.toResourceMetrics() ?? resourceMetrics, errors };
  }

  /**
   * Take the SDK's deltas in now, without building an exposition. With another
   * reader (OTLP) on the same provider, the SDK stashes every interval of the
   * other reader for this one until it collects: a process nobody scrapes would
   * grow that list by one map per export. register() calls this on a timer.
   */
  async fold(): Promise<void> {
    const { resourceMetrics } = await super.collect();
    this._store.merge(resourceMetrics);
    this._store.forget(this._keep);
  }

  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * An OTLP exporter that wants cumulative temporality, fed from a delta reader:
 * each export adds the deltas into the store, forgets idle nodes, and sends
 * the cumulative state on. Exports therefore carry the live nodes only.
 */
export class CumulativeExporter implements PushMetricExporter {
  private readonly _store = new CumulativeStore();

  constructor(
    private readonly _inner: PushMetricExporter,
    private readonly _keep: KeepPoint,
  ) {}

  /** Series held by the store. */
  get storedSeries(): number {
    return this._store.size;
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this._store.merge(metrics);
    this._store.forget(this._keep);
    this._inner.export(this._store.toResourceMetrics() ?? metrics, resultCallback);
  }

  selectAggregationTemporality(_type: InstrumentType): AggregationTemporality {
    return AggregationTemporality.DELTA;
  }

  selectAggregation(type: InstrumentType): AggregationOption {
    // AggregationType.DEFAULT (0) when the inner exporter has no preference.
    return this._inner.selectAggregation?.(type) ?? ({ type: 0 } as AggregationOption);
  }

  forceFlush(): Promise<void> {
    return this._inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this._inner.shutdown();
  }
}

/** Our in-flight and up series, given to every reader as a MetricProducer. */
export function nodeStateProducer(state: () => ResourceMetrics['scopeMetrics'][number]): MetricProducer {
  return {
    async collect(): Promise<CollectionResult> {
      // The reader keeps the SDK's resource and takes only our scopeMetrics.
      return { resourceMetrics: { resource: undefined as never, scopeMetrics: [state()] }, errors: [] };
    },
  };
}
