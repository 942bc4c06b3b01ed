/**
 * Bounds on label values. Together with `maxNodes` they bound every gateway
 * instrument's series count, and the SDK cardinality limits in our Views are
 * derived from them (so nothing is silently folded into `otel_metric_overflow`).
 */

/** Longest accepted node / transport / error type (a Kubernetes node name is at most 253). */
export const MAX_LABEL_LENGTH = 256;
/** Distinct transports; beyond it a new transport is recorded as `_other`. */
export const MAX_TRANSPORTS = 8;
/** Distinct `error.type` values, derived and user-supplied; beyond it `_OTHER`. */
export const MAX_ERROR_TYPES = 64;
/** Distinct `mcp.method.name` values per node and transport; beyond it `_OTHER` (methods are free-form in JSON-RPC). */
export const MAX_MCP_METHODS = 32;

/**
 * For the observable instruments (in-flight, node up) the SDK (2.12) applies
 * the limit to a memo of every attribute set ever observed, never pruned; a
 * bound derived from maxNodes would fold new nodes into otel_metric_overflow
 * once enough nodes have come and gone. maxNodes and nodeIdleTtl already bound
 * the live series, so these get no SDK limit.
 */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

export interface CardinalityLimits {
  readonly duration: number;
  readonly errors: number;
  readonly active: number;
  readonly fallbacks: number;
  readonly nodeUp: number;
  readonly healthDuration: number;
  readonly healthFailures: number;
  readonly size: number;
  readonly streams: number;
  /** mcp.client.operation.duration: methods + tool/prompt names, by outcome. */
  readonly mcp: number;
}


/**
 * Series bounds per instrument: (maxNodes + `_other`) × (transports + `_other`)
 * × the third label's values, plus one for the SDK's own overflow series.
 */
export function cardinalityLimits(maxNodes: number, maxTools = 100): CardinalityLimits {
  const n = maxNodes + 1;
  const t = MAX_TRANSPORTS + 1;
  const e = MAX_ERROR_TYPES + 1;
  return Object.freeze({
    duration: n * t * 2 + 1,
    // × 6: the HTTP path adds `http.response.status_code_class` (1xx … 5xx, or absent).
    errors: n * t * e * 6 + 1,
    active: UNLIMITED,
    fallbacks: n * t * t + 1,
    nodeUp: UNLIMITED,
    healthDuration: n * 2 + 1,
    healthFailures: n + 1,
    size: n * t + 1,
    streams: n * t + 1,
    // (methods + names + the two _other) × (success + error types); the JSON-RPC
    // code rides along with its error type, one value per type.
    mcp: n * t * (MAX_MCP_METHODS + maxTools + 2) * (e + 1) + 1,
  });
}
