/**
 * The span a call is made in, for exemplars: read once, at the start of the
 * call, in the caller's own async context (a call's end runs in whatever
 * context the socket or child process event happens in, which may be another
 * call's).
 *
 * sdk-metrics (3.1) keeps no exemplars, so the store keeps them itself: one
 * per bucket per series, the latest (store/histogram.ts).
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';

/** A sampled span's ids: the two labels of an exemplar. */
export interface TraceRef {
  readonly traceId: string;
  readonly spanId: string;
}

/**
 * The active span's context when it is sampled (the OpenTelemetry SDK's
 * default exemplar filter, `trace_based`: an unsampled span's trace is
 * nowhere to be found), else undefined.
 *
 * Cost (bench/formats.js, record part): with no span active it is the API's
 * context lookup and nothing else (~20 ns here with no context manager, ~16
 * ns with NodeSDK's); the id lengths are checked instead of the API's
 * isSpanContextValid(), whose two regular expressions made the read ~110 ns
 * with a span active (the all-zero invalid context is never sampled, so the
 * flag already filters it out).
 */
export function activeTrace(): TraceRef | undefined {
  const span = trace.getSpan(context.active());
  if (span === undefined) return undefined;
  const sc = span.spanContext();
  if ((sc.traceFlags & TraceFlags.SAMPLED) === 0 || sc.traceId.length !== 32 || sc.spanId.length !== 16) return undefined;
  return sc;
}
