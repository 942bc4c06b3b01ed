/**
 * OTel Views for the gateway instruments.
 *
 * The default buckets live in each instrument's `advice`; a View carries the
 * buckets actually in force (default or override) plus the cardinality limit
 * derived from `maxNodes`, so that a user running their own NodeSDK gets the
 * same metrics by passing `gatewayViews()` to it.
 */
// Types only: the Views are plain objects, so that a user's own MeterProvider of
// either SDK line (OpenTelemetry JS 2.x or 3.x) takes them, and loading them never
// pulls a second copy of sdk-metrics into that user's process.
import type { AggregationType, ViewOptions, AggregationOption } from '@opentelemetry/sdk-metrics';
import {
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_HEALTH_CHECK_BUCKETS,
  DEFAULT_MAX_NODES,
  DEFAULT_SIZE_BUCKETS,
  ConfigError,
  checkBuckets,
  checkPrefix,
} from './config';
import { cardinalityLimits } from './limits';
import {
  METRIC_FALLBACKS,
  METRIC_HEALTH_CHECK_DURATION,
  METRIC_HEALTH_CHECK_FAILURES,
  METRIC_HTTP_CLIENT_DURATION,
  METRIC_HTTP_SERVER_DURATION,
  METRIC_MCP_CLIENT_OPERATION_DURATION,
  METRIC_NETWORK_IO,
  METRIC_NODE_UP,
  METRIC_REQUEST_DURATION,
  METRIC_REQUEST_ERRORS,
  METRIC_REQUEST_SIZE,
  METRIC_REQUESTS_ACTIVE,
  METRIC_RESPONSE_SIZE,
  METRIC_STREAM_OPEN_DURATION,
  METRIC_STREAMS_OPENED,
} from './semconv';
import type { HistogramMode } from './types';
import { DEFAULT_MAX_TOOLS, MCP_DURATION_BUCKETS } from './mcp';

export interface GatewayViewsOptions {
  /** Same as `createGatewayMetrics({ prefix })`. @default '' */
  prefix?: string;
  /** @default DEFAULT_DURATION_BUCKETS */
  buckets?: readonly number[];
  /** @default DEFAULT_HEALTH_CHECK_BUCKETS */
  healthCheckBuckets?: readonly number[];
  /** @default DEFAULT_SIZE_BUCKETS */
  sizeBuckets?: readonly number[];
  /**
   * `exponential` makes the duration Views base-2 exponential for every reader of
   * the provider. The stock Prometheus exporter drops exponential histograms, so
   * only use it with OTLP-only providers. @default 'explicit'
   */
  histogram?: HistogramMode;
  /** @default 1000 */
  maxNodes?: number;
  /** Tool and prompt names per node and transport on `mcp.client.operation.duration`. @default 100 */
  maxTools?: number;
  /**
   * Whether to include the duration Views (gateway and http.server/client).
   * `register()` leaves them out in exponential mode and sets the aggregation
   * per reader instead. @default true
   * @internal
   */
  durationViews?: boolean;
}

// The AggregationType enum values, identical in sdk-metrics 2.x and 3.x (checked
// by spec/sdk-lines.spec.ts against both).
const EXPLICIT_BUCKET_HISTOGRAM = 4 as AggregationType.EXPLICIT_BUCKET_HISTOGRAM;
const EXPONENTIAL_HISTOGRAM = 5 as AggregationType.EXPONENTIAL_HISTOGRAM;

/** Max buckets of the exponential aggregation: the SDK default (160). */
const EXPONENTIAL_MAX_SIZE = 160;

export function withPrefix(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function explicit(boundaries: readonly number[]): AggregationOption {
  return { type: EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [...boundaries] } };
}

function pickBuckets(option: string, value: readonly number[] | undefined, fallback: readonly number[]): readonly number[] {
  if (value === undefined) return fallback;
  const c = checkBuckets(value);
  if (!c.ok) throw new ConfigError(option, value, c.reason);
  return c.value;
}

export function gatewayViews(options: GatewayViewsOptions = {}): ViewOptions[] {
  const prefixCheck = checkPrefix(options.prefix ?? '');
  if (!prefixCheck.ok) throw new ConfigError('prefix', options.prefix, prefixCheck.reason);
  const prefix = prefixCheck.value;
  const buckets = pickBuckets('buckets', options.buckets, DEFAULT_DURATION_BUCKETS);
  const healthBuckets = pickBuckets('healthCheckBuckets', options.healthCheckBuckets, DEFAULT_HEALTH_CHECK_BUCKETS);
  const sizeBuckets = pickBuckets('sizeBuckets', options.sizeBuckets, DEFAULT_SIZE_BUCKETS);
  const mode = options.histogram ?? 'explicit';
  if (mode !== 'explicit' && mode !== 'exponential') {
    throw new ConfigError('histogram', mode, 'must be one of explicit, exponential');
  }
  const maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
  if (!Number.isInteger(maxNodes) || maxNodes < 1) throw new ConfigError('maxNodes', maxNodes, 'must be a positive integer');
  const maxTools = options.maxTools ?? DEFAULT_MAX_TOOLS;
  if (!Number.isInteger(maxTools) || maxTools < 1) throw new ConfigError('maxTools', maxTools, 'must be a positive integer');
  const limits = cardinalityLimits(maxNodes, maxTools);
  const name = (n: string) => withPrefix(prefix, n);

  const durationAggregation: AggregationOption =
    mode === 'exponential'
      ? { type: EXPONENTIAL_HISTOGRAM, options: { maxSize: EXPONENTIAL_MAX_SIZE, recordMinMax: true } }
      : explicit(buckets);

  const views: ViewOptions[] = [];
  if (options.durationViews !== false) {
    views.push(
      {
        instrumentName: name(METRIC_REQUEST_DURATION),
        aggregation: durationAggregation,
        aggregationCardinalityLimit: limits.duration,
      },
      // instrumentation-http's own advice stops at 10 s; exec-style timeouts need 60 s.
      { instrumentName: METRIC_HTTP_SERVER_DURATION, aggregation: durationAggregation },
      { instrumentName: METRIC_HTTP_CLIENT_DURATION, aggregation: durationAggregation },
      // Time to a stream's response headers: the same scale as a call's duration.
      { instrumentName: name(METRIC_STREAM_OPEN_DURATION), aggregation: durationAggregation, aggregationCardinalityLimit: limits.streams },
      // The MCP convention metric: never prefixed, and the conventions' own bucket advice.
      {
        instrumentName: METRIC_MCP_CLIENT_OPERATION_DURATION,
        aggregation: mode === 'exponential' ? durationAggregation : explicit(MCP_DURATION_BUCKETS),
        aggregationCardinalityLimit: limits.mcp,
      },
    );
  }
  views.push(
    { instrumentName: name(METRIC_REQUEST_ERRORS), aggregationCardinalityLimit: limits.errors },
    { instrumentName: name(METRIC_REQUESTS_ACTIVE), aggregationCardinalityLimit: limits.active },
    { instrumentName: name(METRIC_FALLBACKS), aggregationCardinalityLimit: limits.fallbacks },
    { instrumentName: name(METRIC_NODE_UP), aggregationCardinalityLimit: limits.nodeUp },
    {
      instrumentName: name(METRIC_HEALTH_CHECK_DURATION),
      aggregation: explicit(healthBuckets),
      aggregationCardinalityLimit: limits.healthDuration,
    },
    { instrumentName: name(METRIC_HEALTH_CHECK_FAILURES), aggregationCardinalityLimit: limits.healthFailures },
    { instrumentName: name(METRIC_REQUEST_SIZE), aggregation: explicit(sizeBuckets), aggregationCardinalityLimit: limits.size },
    { instrumentName: name(METRIC_RESPONSE_SIZE), aggregation: explicit(sizeBuckets), aggregationCardinalityLimit: limits.size },
    // Two directions per node × transport.
    { instrumentName: name(METRIC_NETWORK_IO), aggregationCardinalityLimit: 2 * limits.size },
    { instrumentName: name(METRIC_STREAMS_OPENED), aggregationCardinalityLimit: limits.streams },
  );
  return views;
}
