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
import { checkOption } from '../config/resolve';
import { O } from '../config/options';
import { cardinalityLimits } from '../core/limits';
import * as sc from '../core/semconv';
import { withPrefix } from '../core/semconv';
import type { GatewayViewsOptions } from '../types';

export type { GatewayViewsOptions } from '../types';

// The AggregationType enum values, identical in sdk-metrics 2.x and 3.x (checked
// by spec/sdk-lines.spec.ts against both).
const EXPLICIT_BUCKET_HISTOGRAM = 4 as AggregationType.EXPLICIT_BUCKET_HISTOGRAM;
const EXPONENTIAL_HISTOGRAM = 5 as AggregationType.EXPONENTIAL_HISTOGRAM;

/** Max buckets of the exponential aggregation: the SDK default (160). */
const EXPONENTIAL_MAX_SIZE = 160;


function explicit(boundaries: readonly number[]): AggregationOption {
  return { type: EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [...boundaries] } };
}

export function gatewayViews(options: GatewayViewsOptions = {}): ViewOptions[] {
  // The checks and limits of register()'s option table.
  const prefix = checkOption(O.prefix, options.prefix);
  const buckets = checkOption(O.buckets, options.buckets);
  const healthBuckets = checkOption(O.healthCheckBuckets, options.healthCheckBuckets);
  const sizeBuckets = checkOption(O.sizeBuckets, options.sizeBuckets);
  const mode = checkOption(O.histogram, options.histogram);
  const maxNodes = checkOption(O.maxNodes, options.maxNodes);
  const maxTools = checkOption(O.maxTools, options.maxTools);
  const limits = cardinalityLimits(maxNodes, maxTools);
  const name = (n: string) => withPrefix(prefix, n);

  const durationAggregation: AggregationOption =
    mode !== 'explicit'
      ? { type: EXPONENTIAL_HISTOGRAM, options: { maxSize: EXPONENTIAL_MAX_SIZE, recordMinMax: true } }
      : explicit(buckets);

  const views: ViewOptions[] = [];
  if (options.durationViews !== false) {
    views.push(
      {
        instrumentName: name(sc.METRIC_REQUEST_DURATION),
        aggregation: durationAggregation,
        aggregationCardinalityLimit: limits.duration,
      },
      // instrumentation-http's own advice stops at 10 s; exec-style timeouts need 60 s.
      { instrumentName: sc.METRIC_HTTP_SERVER_DURATION, aggregation: durationAggregation },
      { instrumentName: sc.METRIC_HTTP_CLIENT_DURATION, aggregation: durationAggregation },
      // Time to a stream's response headers: the same scale as a call's duration.
      { instrumentName: name(sc.METRIC_STREAM_OPEN_DURATION), aggregation: durationAggregation, aggregationCardinalityLimit: limits.streams },
      // The MCP convention metric: never prefixed, and the conventions' own bucket advice.
      {
        instrumentName: sc.METRIC_MCP_CLIENT_OPERATION_DURATION,
        aggregation: mode !== 'explicit' ? durationAggregation : explicit(sc.MCP_DURATION_BUCKETS),
        aggregationCardinalityLimit: limits.mcp,
      },
    );
  }
  views.push(
    { instrumentName: name(sc.METRIC_REQUEST_ERRORS), aggregationCardinalityLimit: limits.errors },
    { instrumentName: name(sc.METRIC_REQUESTS_ACTIVE), aggregationCardinalityLimit: limits.active },
    { instrumentName: name(sc.METRIC_FALLBACKS), aggregationCardinalityLimit: limits.fallbacks },
    { instrumentName: name(sc.METRIC_NODE_UP), aggregationCardinalityLimit: limits.nodeUp },
    {
      instrumentName: name(sc.METRIC_HEALTH_CHECK_DURATION),
      aggregation: explicit(healthBuckets),
      aggregationCardinalityLimit: limits.healthDuration,
    },
    { instrumentName: name(sc.METRIC_HEALTH_CHECK_FAILURES), aggregationCardinalityLimit: limits.healthFailures },
    { instrumentName: name(sc.METRIC_REQUEST_SIZE), aggregation: explicit(sizeBuckets), aggregationCardinalityLimit: limits.size },
    { instrumentName: name(sc.METRIC_RESPONSE_SIZE), aggregation: explicit(sizeBuckets), aggregationCardinalityLimit: limits.size },
    // Two directions per node × transport.
    { instrumentName: name(sc.METRIC_NETWORK_IO), aggregationCardinalityLimit: 2 * limits.size },
    { instrumentName: name(sc.METRIC_STREAMS_OPENED), aggregationCardinalityLimit: limits.streams },
  );
  return views;
}
