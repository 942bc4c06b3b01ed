/**
 * Every metric and attribute name this package emits, in one place.
 * Specs loop over these; nothing else in lib/ spells a name out.
 */

/** OTel instrument names (before the optional `prefix`). */
export const METRIC_REQUEST_DURATION = 'gateway.request.duration' as const;
export const METRIC_REQUEST_ERRORS = 'gateway.request.errors' as const;
export const METRIC_REQUESTS_ACTIVE = 'gateway.requests.active' as const;
export const METRIC_FALLBACKS = 'gateway.fallbacks' as const;
export const METRIC_NODE_UP = 'gateway.node.up' as const;
export const METRIC_HEALTH_CHECK_DURATION = 'gateway.health_check.duration' as const;
export const METRIC_HEALTH_CHECK_FAILURES = 'gateway.health_check.failures' as const;
export const METRIC_REQUEST_SIZE = 'gateway.request.size' as const;
export const METRIC_RESPONSE_SIZE = 'gateway.response.size' as const;
export const METRIC_STREAMS_OPENED = 'gateway.streams.opened' as const;
/** Body bytes to and from a node: an observable counter, so a call pays no SDK record for it. */
export const METRIC_NETWORK_IO = 'gateway.network.io' as const;
export const METRIC_STREAM_OPEN_DURATION = 'gateway.stream.open.duration' as const;

/**
 * MCP calls: the semantic conventions' client operation duration (GenAI / MCP
 * conventions, development status). Never prefixed.
 */
export const METRIC_MCP_CLIENT_OPERATION_DURATION = 'mcp.client.operation.duration' as const;
export const ATTR_MCP_METHOD_NAME = 'mcp.method.name' as const;
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name' as const;
export const ATTR_GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name' as const;
/** `execute_tool` on tools/call, as the conventions recommend. */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name' as const;
/** The JSON-RPC error code, as a string. */
export const ATTR_RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code' as const;
/** `pipe` for stdio, `tcp` for HTTP. */
export const ATTR_NETWORK_TRANSPORT = 'network.transport' as const;
/** The semantic conventions' advice for mcp.*.operation.duration. */
export const MCP_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
]);
export const MCP_INSTRUMENT = {
  kind: 'histogram',
  unit: 's',
  description: 'Duration of each MCP (JSON-RPC) request routed to a backend node, from the request to its response.',
  attributes: [
    'node', 'transport', ATTR_MCP_METHOD_NAME, ATTR_GEN_AI_TOOL_NAME, ATTR_GEN_AI_PROMPT_NAME, ATTR_GEN_AI_OPERATION_NAME,
    'error.type', ATTR_RPC_RESPONSE_STATUS_CODE, ATTR_NETWORK_TRANSPORT,
  ],
} as const;

/**
 * LLM API calls: the GenAI semantic conventions' client metrics (development
 * status). Never prefixed. Each also carries our `node` and `transport`.
 */
export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration' as const;
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage' as const;
export const METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK = 'gen_ai.client.operation.time_to_first_chunk' as const;
export const METRIC_GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK = 'gen_ai.client.operation.time_per_output_chunk' as const;
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name' as const;
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model' as const;
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model' as const;
/** `input` or `output`: the only token types the conventions name. */
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type' as const;
/** The conventions' advice for the three time metrics. */
export const GEN_AI_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
]);
/** The conventions' advice for gen_ai.client.token.usage. */
export const GEN_AI_TOKEN_BUCKETS: readonly number[] = Object.freeze([
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
]);
export const GEN_AI_INSTRUMENTS = {
  [METRIC_GEN_AI_CLIENT_OPERATION_DURATION]: { unit: 's', description: 'GenAI operation duration: an LLM API call routed to a backend node, to the end of its answer.' },
  [METRIC_GEN_AI_CLIENT_TOKEN_USAGE]: { unit: '{token}', description: 'Number of input and output tokens used, as the provider reported them.' },
  [METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK]: { unit: 's', description: 'Time from the request to the first chunk of a streamed answer.' },
  [METRIC_GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK]: { unit: 's', description: 'Time per output chunk of a streamed answer, after the first one.' },
} as const;

/** Instruments of other packages that our duration View also covers. */
export const METRIC_HTTP_SERVER_DURATION = 'http.server.request.duration' as const;
export const METRIC_HTTP_CLIENT_DURATION = 'http.client.request.duration' as const;

/** Process metrics of ours with no semantic-conventions name (sdk/process-metrics.ts; runtime ones come from runtime-node). */
export const METRIC_PROCESS_UPTIME = 'process.uptime' as const;
/** Already Prometheus-shaped on purpose: the name every Prometheus client library uses. */
export const METRIC_PROCESS_START_TIME = 'process_start_time_seconds' as const;

export const ATTR_NODE = 'node' as const;
export const ATTR_TRANSPORT = 'transport' as const;
export const ATTR_STATUS = 'status' as const;
export const ATTR_ERROR_TYPE = 'error.type' as const;
export const ATTR_FROM_TRANSPORT = 'from_transport' as const;
export const ATTR_TO_TRANSPORT = 'to_transport' as const;
export const ATTR_HTTP_STATUS_CLASS = 'http.response.status_code_class' as const;
/** As in the semantic conventions' `*.network.io` metrics: `transmit` (to the node) or `receive`. */
export const ATTR_NETWORK_IO_DIRECTION = 'network.io.direction' as const;

export const STATUS_SUCCESS = 'success' as const;
export const STATUS_ERROR = 'error' as const;
export type Status = typeof STATUS_SUCCESS | typeof STATUS_ERROR;

export const TRANSPORT_HTTP = 'http' as const;
export const TRANSPORT_EXEC = 'exec' as const;

/** Label value used once `maxNodes` distinct nodes are live. */
export const NODE_OTHER = '_other' as const;
/** `error.type` value for errors outside the documented set (OTel semconv spelling). */
export const ERROR_TYPE_OTHER = '_OTHER' as const;

/**
 * The documented, bounded set of derived `error.type` values.
 * User-supplied `errorType`s (`rate_limited`, `circuit_open`, …) are kept too, bounded separately.
 */
export const ERROR_TYPES = [
  'timeout',
  'connection_refused',
  'connection_reset',
  'dns',
  'aborted',
  'tls',
  'http_4xx',
  'http_5xx',
  'exit_nonzero',
  'signal',
  'spawn_error',
  // MCP calls (protocols/mcp.ts): a tools/call result with isError, a stdio request open when its child exited.
  'tool_error',
  'child_exit',
  ERROR_TYPE_OTHER,
] as const;
export type DerivedErrorType = (typeof ERROR_TYPES)[number];

/** Meter (instrumentation scope) name; shows up as `otel_scope_name`. */
export const SCOPE_NAME = 'otel-gateway-metrics' as const;

/** Unit and description of each gateway instrument, keyed by its unprefixed name: the instruments are created from it. */
export const INSTRUMENTS = {
  [METRIC_REQUEST_DURATION]: { unit: 's', description: 'Duration of each attempt to reach a backend node over one transport.' },
  [METRIC_REQUEST_ERRORS]: { unit: '{error}', description: 'Failed attempts to reach a backend node, by error type.' },
  [METRIC_REQUESTS_ACTIVE]: { unit: '{request}', description: 'Attempts to reach a backend node that are in flight.' },
  [METRIC_FALLBACKS]: { unit: '{fallback}', description: 'Requests that fell back from one transport to another.' },
  [METRIC_NODE_UP]: { unit: '', description: 'Whether the backend node is up (1) or down (0).' },
  [METRIC_HEALTH_CHECK_DURATION]: { unit: 's', description: 'Duration of health checks of a backend node.' },
  [METRIC_HEALTH_CHECK_FAILURES]: { unit: '{failure}', description: 'Failed health checks of a backend node.' },
  [METRIC_REQUEST_SIZE]: { unit: 'By', description: 'Size of request bodies sent to a backend node.' },
  [METRIC_RESPONSE_SIZE]: { unit: 'By', description: 'Size of response bodies received from a backend node.' },
  [METRIC_NETWORK_IO]: { unit: 'By', description: 'Body bytes sent to (transmit) and received from (receive) a backend node.' },
  [METRIC_STREAMS_OPENED]: { unit: '{stream}', description: 'Long-lived streams opened to a backend node (GET text/event-stream, upgraded connections, CONNECT tunnels); not routed calls.' },
  [METRIC_STREAM_OPEN_DURATION]: { unit: 's', description: 'Time from the start of a stream request to its response headers.' },
} as const;
export type GatewayInstrumentName = keyof typeof INSTRUMENTS;

/**
 * The workers of a multi-process gateway (node:cluster, PM2), in the per-host
 * view only: one per host, labelled by worker where per worker.
 */
export const METRIC_CLUSTER_WORKERS = 'gateway.cluster.workers' as const;
export const METRIC_CLUSTER_WORKER_RESTARTS = 'gateway.cluster.worker.restarts' as const;
export const METRIC_CLUSTER_WORKER_UP = 'gateway.cluster.worker.up' as const;
export const METRIC_CLUSTER_WORKER_MEMORY = 'gateway.cluster.worker.memory' as const;
export const METRIC_CLUSTER_WORKER_EVENT_LOOP_DELAY = 'gateway.cluster.worker.event_loop.delay' as const;
/** The worker: PM2's pm_id, node:cluster's worker id. */
export const ATTR_WORKER = 'worker' as const;
/** `running`, or `unresponsive` (alive, but it wrote no beat for a few seconds: stopped, or its event loop blocked). */
export const ATTR_WORKER_STATE = 'state' as const;
export const WORKER_RUNNING = 'running' as const;
export const WORKER_UNRESPONSIVE = 'unresponsive' as const;

export const CLUSTER_INSTRUMENTS = {
  [METRIC_CLUSTER_WORKERS]: { unit: '{worker}', description: 'Workers of this host\'s gateway, by state: running, or unresponsive (alive but silent for a few seconds: stopped or blocked).' },
  [METRIC_CLUSTER_WORKER_RESTARTS]: { unit: '{restart}', description: 'Workers of this host\'s gateway that ended (killed, crashed or stopped) since its primary started; a supervisor replaces each.' },
  [METRIC_CLUSTER_WORKER_UP]: { unit: '', description: 'Whether the worker is running (1) or unresponsive (0); a worker that ended is not listed.' },
  [METRIC_CLUSTER_WORKER_MEMORY]: { unit: 'By', description: 'Resident memory of the worker.' },
  [METRIC_CLUSTER_WORKER_EVENT_LOOP_DELAY]: { unit: 's', description: 'The worker\'s event loop delay, 99th percentile over its last second.' },
} as const;

export function withPrefix(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}
