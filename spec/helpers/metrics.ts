/** Reading metrics back through a real in-memory reader (no mocks). */
import { metrics as otelMetrics, type Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import { GatewayMetrics, createGatewayMetrics } from '../../lib';
import type { CreateGatewayMetricsOptions } from '../../lib';

/** A pull reader the spec collects from on demand. */
export class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export interface Harness {
  provider: MeterProvider;
  reader: TestReader;
  metrics: GatewayMetrics;
  collect(): Promise<ResourceMetrics>;
  shutdown(): Promise<void>;
}

export function harness(options: CreateGatewayMetricsOptions = {}, views: ViewOptions[] = []): Harness {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader], views });
  const metrics = createGatewayMetrics({ meterProvider: provider, ...options });
  return {
    provider,
    reader,
    metrics,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw errors[0];
      return resourceMetrics;
    },
    async shutdown() {
      metrics.dispose();
      await provider.shutdown();
    },
  };
}

export function findMetric(rm: ResourceMetrics, name: string): MetricData | undefined {
  for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.descriptor.name === name) return m;
  return undefined;
}

export function metricNames(rm: ResourceMetrics): string[] {
  return rm.scopeMetrics.flatMap(sm => sm.metrics.map(m => m.descriptor.name));
}

function matches(attrs: Attributes, want: Attributes): boolean {
  return Object.keys(want).every(k => attrs[k] === want[k]);
}

/** The one data point of `name` whose attributes include `want`; throws if not exactly one. */
export function point<T = number>(rm: ResourceMetrics, name: string, want: Attributes): DataPoint<T> {
  const m = findMetric(rm, name);
  if (m === undefined) throw new Error(`no metric ${name}; have ${metricNames(rm).join(', ')}`);
  const pts = (m.dataPoints as DataPoint<T>[]).filter(p => matches(p.attributes, want));
  if (pts.length !== 1) {
    throw new Error(`${pts.length} points of ${name} match ${JSON.stringify(want)}; have ${JSON.stringify(m.dataPoints.map(p => p.attributes))}`);
  }
  return pts[0]!;
}

export function points<T = number>(rm: ResourceMetrics, name: string, want: Attributes = {}): DataPoint<T>[] {
  const m = findMetric(rm, name);
  if (m === undefined) return [];
  return (m.dataPoints as DataPoint<T>[]).filter(p => matches(p.attributes, want));
}

export function histogram(rm: ResourceMetrics, name: string, want: Attributes): Histogram {
  const m = findMetric(rm, name);
  if (m?.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
  return point<Histogram>(rm, name, want).value;
}

/** Total of a counter/histogram count across every point matching `want`. */
export function total(rm: ResourceMetrics, name: string, want: Attributes = {}): number {
  return points<number | Histogram>(rm, name, want).reduce(
    (acc, p) => acc + (typeof p.value === 'number' ? p.value : p.value.count),
    0,
  );
}

/** Make sure no spec leaks a global MeterProvider into the next. */
export function resetGlobals(): void {
  otelMetrics.disable();
}

/**
 * A call in flight on `node`, so that the node stays live whatever its idle TTL
 * (specs that assert a node present use it instead of racing the TTL). Started
 * outside the caller's async context: startTimer() makes its own context a
 * measured scope, in which the automatic HTTP and exec paths record nothing.
 * Resolves with the function that ends the call (recording it).
 */
export function holdLive(metrics: Pick<GatewayMetrics, 'startTimer'>, node: string, transport = 'exec'): Promise<() => void> {
  return new Promise(resolve => setImmediate(() => {
    const end = metrics.startTimer({ node, transport });
    resolve(() => void end());
  }));
}
