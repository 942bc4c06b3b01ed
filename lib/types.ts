import type { Attributes, MeterProvider } from '@opentelemetry/api';
import type { ViewOptions } from '@opentelemetry/sdk-metrics';
import type { Status } from './core/semconv';

export type ExporterName = 'prometheus' | 'otlp' | 'console' | 'none';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type HistogramMode = 'explicit' | 'exponential' | 'native';
export type TemporalityPreference = 'cumulative' | 'delta' | 'lowmemory';

/** Bearer token or basic credentials required on `/metrics`, `/stats` and the status page. */
export type PrometheusAuth = { token: string } | { username: string; password: string };

export interface PrometheusOptions {
  /**
   * Address the endpoint binds to. Env `OTEL_EXPORTER_PROMETHEUS_HOST`.
   * Use 127.0.0.1 plus a sidecar, or `auth`, when the port is reachable from outside the pod.
   * @default '0.0.0.0'
   */
  host?: string;
  /**
   * Port of our own listener. `0` picks an ephemeral port (see `prometheusUrl`);
   * `false` starts no listener (mount `metricsHandler` on your own server).
   * Env `OTEL_EXPORTER_PROMETHEUS_PORT`, `GATEWAY_METRICS_PROMETHEUS_LISTEN=false`.
   * @default 9464
   */
  port?: number | false;
  /**
   * Path of the exposition. Env `GATEWAY_METRICS_PROMETHEUS_PATH`.
   * @default '/metrics'
   */
  path?: string;
  /**
   * Path of the JSON stats view on our own listener; `false` serves none.
   * Env `GATEWAY_METRICS_STATS_PATH`.
   * @default '/stats'
   */
  statsPath?: string | false;
  /**
   * Path of the live HTML status page on our own listener; `false` serves none.
   * The page reads `statsPath`, so it is served only while that is set.
   * Env `GATEWAY_METRICS_STATUS_PATH`.
   * @default '/'
   */
  statusPath?: string | false;
  /**
   * Credentials required to read the endpoint (metrics, stats and status page). Env `GATEWAY_METRICS_AUTH_TOKEN` (bearer).
   * @default undefined (no authentication)
   */
  auth?: PrometheusAuth;
  /**
   * Leave the `otel_scope_name` / `otel_scope_version` labels off every
   * series, as the stock exporter's `withoutScopeInfo` does: about half the
   * bytes of a histogram line. The Collector's Prometheus exporter writes
   * them, so dashboards that read both should keep them.
   * Env `GATEWAY_METRICS_PROMETHEUS_WITHOUT_SCOPE_INFO`.
   * @default false
   */
  withoutScopeInfo?: boolean;
  /**
   * With `histogram: 'native'`, the native histograms of the protobuf format
   * also carry their classic buckets. Prometheus stores them only when its
   * scrape config asks (`always_scrape_classic_histograms` in 3.x,
   * `scrape_classic_histograms` from 2.45), so `_bucket` dashboards can keep
   * working; Prometheus 2.x also reads a native histogram's exemplars from
   * them only. `false` cuts about 40% of the protobuf bytes (35% gzipped).
   * Env `GATEWAY_METRICS_PROMETHEUS_CLASSIC_HISTOGRAMS`.
   * @default true
   */
  classicHistograms?: boolean;
  /**
   * Keep the latest exemplar (value, `trace_id`, `span_id`, time) per bucket
   * of each latency series, for calls made inside a sampled span, and serve
   * them in the OpenMetrics and protobuf formats. No cost when no span is
   * active. Env `GATEWAY_METRICS_PROMETHEUS_EXEMPLARS`.
   * @default true
   */
  exemplars?: boolean;
}

/** Multi-process gateways: see `GatewayMetricsOptions.cluster`. */
export interface ClusterOptions {
  /**
   * Directory of the workers' state files; every worker of a host must see
   * the same one. Env `GATEWAY_METRICS_CLUSTER_DIR`.
   * @default `/dev/shm/otel-gateway-metrics-<uid>` (the temp directory where there is no /dev/shm)
   */
  dir?: string;
}

/** The live status page (`GET /` on our listener, `statusHandler` elsewhere). */
export interface StatusPageOptions {
  /**
   * Where the page served by `statusHandler` reads the JSON stats from, resolved
   * against the page's own URL like a link: `'stats'` is the sibling path (page
   * at `/ops/status` → `/ops/stats`), `'/internal/stats'` is absolute. It must
   * stay on the page's origin (no scheme, no `//host`). The page on our own
   * listener always reads that listener's `statsPath`.
   * @default 'stats'
   */
  statsUrl?: string;
  /**
   * A node whose p95 (seconds) is above this is flagged slow.
   * Env `GATEWAY_METRICS_STATUS_SLOW_P95`.
   * @default 1
   */
  slowP95Seconds?: number;
  /**
   * A node whose error percentage (0–100) is above this is flagged.
   * Env `GATEWAY_METRICS_STATUS_ERROR_PERCENT`.
   * @default 5
   */
  errorPercent?: number;
}

export interface OtlpOptions {
  /**
   * Env `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL`.
   * `grpc` needs the optional package `@opentelemetry/exporter-metrics-otlp-grpc`
   * (`npm install @opentelemetry/exporter-metrics-otlp-grpc`); without it register() throws.
   * @default 'http/protobuf'
   */
  protocol?: OtlpProtocol;
  /**
   * Full URL of the metrics endpoint. When omitted the OTLP exporter reads
   * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` itself.
   * @default 'http://localhost:4318/v1/metrics' (http), 'http://localhost:4317' (grpc)
   */
  endpoint?: string;
  /** Extra headers. When omitted the exporter reads `OTEL_EXPORTER_OTLP_(METRICS_)HEADERS`. */
  headers?: Record<string, string>;
  /**
   * Env `OTEL_METRIC_EXPORT_INTERVAL` (the OTel JS readers do not read it; we do).
   * @default 60000
   */
  exportIntervalMillis?: number;
  /**
   * Env `OTEL_METRIC_EXPORT_TIMEOUT`. Also bounds the flush on SIGTERM/SIGINT.
   * @default 30000
   */
  exportTimeoutMillis?: number;
  /**
   * Env `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
   * @default 'cumulative'
   */
  temporality?: TemporalityPreference;
}

/** `host:port` → node name, as a plain object or a Map. */
export type HostPortMap = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

export interface HttpPathOptions {
  /**
   * Which backend node an outbound HTTP call goes to. The key is the real
   * destination, the `host:port` the request connects to (default port filled
   * in, IPv6 as `[addr]:port`); for http/https a map also tries the `Host`
   * header as a second key.
   * - omitted: zero config, every call is recorded with node = `host:port`
   *   (env `GATEWAY_METRICS_HTTP_NODES=host:port=node,…` gives a map instead);
   * - a function gets the destination URL and that `host:port` as
   *   `defaultNode`, and returns the node; `undefined`/`null` means "not a
   *   gateway call" (not recorded);
   * - a map (object or Map of `host:port` → node): unmapped calls are not recorded.
   * The package's own traffic (OTLP export, requests to its own endpoint) is never recorded.
   */
  nodeFor?: ((url: URL, defaultNode: string) => string | undefined | null) | HostPortMap;
  /**
   * Which response status codes count as `status="error"`.
   * @default (code) => code >= 500
   */
  isError?: (statusCode: number) => boolean;
  /**
   * Body bytes the path sees. `true`: byte totals per node and transport
   * (`gateway.network.io`, an observable counter: plain arithmetic per call, no
   * SDK record). `'histogram'`: also the size histograms `gateway.request.size`
   * and `gateway.response.size` (two more SDK records per call). `false`: none.
   * Env `GATEWAY_METRICS_HTTP_SIZES` (`true`, `false`, `histogram`).
   * @default true
   */
  sizes?: boolean | 'histogram';
}

export interface ExecPathOptions {
  /**
   * Which backend node a child process talks to. Called with the command
   * (`file`, `args`; a shell line arrives split into words) and `defaultNode`,
   * the zero-config name (the pod of `kubectl exec`, the script, package or
   * image of `node`/`python`/`npx`/`uvx`/`docker run`…, else the program's
   * base name). Return it, a refined name, or `undefined`/`null` for "not a
   * gateway call" (not recorded). See `kubectlExecNodeFor()` for pod → node maps.
   * @default every child process is recorded on `defaultNode`
   */
  nodeFor?: (file: string, args: readonly string[], defaultNode: string) => string | undefined | null;
}

export interface McpOptions {
  /**
   * A JSON-RPC request over stdio with no response after this many ms ends as
   * `error_type="timeout"` (the MCP SDK's own default request timeout is 60 s).
   * Env `GATEWAY_METRICS_MCP_REQUEST_TIMEOUT`.
   * @default 60000
   */
  requestTimeoutMs?: number;
}

/**
 * The shape of the gateway instruments: names and buckets. register(),
 * createGatewayMetrics() and gatewayViews() take the same options, with the
 * same checks (one option table), so a provider built from gatewayViews() and
 * createGatewayMetrics() with equal options gets equal instruments.
 */
export interface InstrumentOptions {
  /**
   * Prefix of every gateway metric name: `mcp` gives `mcp.gateway.request.duration`,
   * scraped as `mcp_gateway_request_duration_seconds`. Env `GATEWAY_METRICS_PREFIX`.
   * @default ''
   */
  prefix?: string;
  /**
   * Bucket boundaries (seconds) of `gateway.request.duration` and of
   * `http.server/client.request.duration`. Env `GATEWAY_METRICS_DURATION_BUCKETS`.
   * @default DEFAULT_DURATION_BUCKETS (5 ms … 60 s)
   */
  buckets?: readonly number[];
  /**
   * Buckets (seconds) of `gateway.health_check.duration`. Env `GATEWAY_METRICS_HEALTH_CHECK_BUCKETS`.
   * @default DEFAULT_HEALTH_CHECK_BUCKETS (1 ms … 5 s)
   */
  healthCheckBuckets?: readonly number[];
  /**
   * Buckets (bytes) of `gateway.request.size` / `gateway.response.size`. Env `GATEWAY_METRICS_SIZE_BUCKETS`.
   * @default DEFAULT_SIZE_BUCKETS (256 B … 16 MiB)
   */
  sizeBuckets?: readonly number[];
  /**
   * Distinct live node names; beyond it new nodes are recorded as `node="_other"`.
   * Env `GATEWAY_METRICS_MAX_NODES`.
   * @default 1000
   */
  maxNodes?: number;
  /**
   * Distinct tool and prompt names per node and transport on
   * `mcp.client.operation.duration`; beyond it new names are recorded as
   * `_other` (one warning). Env `GATEWAY_METRICS_MAX_TOOLS`.
   * @default 100
   */
  maxTools?: number;
  /**
   * Distinct model names (requested and answered) per node and transport on
   * the `gen_ai.client.*` metrics; beyond it new names are recorded as
   * `_OTHER` (one warning). Env `GATEWAY_METRICS_MAX_MODELS`.
   * @default 50
   */
  maxModels?: number;
}

/** How nodes are tracked: register() and createGatewayMetrics(). */
export interface NodeTrackingOptions {
  /**
   * A node idle for longer than this (ms) is forgotten: it leaves `maxNodes`
   * accounting, `gateway_node_up` and the endpoint. `0` never forgets.
   * Env `GATEWAY_METRICS_NODE_IDLE_TTL`.
   * @default 600000
   */
  nodeIdleTtl?: number;
  /**
   * Derived health: a node is marked down after this many consecutive errors
   * and up again after a success. `0` turns it off. Env `GATEWAY_METRICS_DOWN_AFTER_ERRORS`.
   * @default 0
   */
  downAfterErrors?: number;
}

export interface GatewayMetricsOptions extends InstrumentOptions, NodeTrackingOptions {
  /** `service.name`. Env `OTEL_SERVICE_NAME`. */
  serviceName?: string;
  /** Extra resource attributes, merged over `OTEL_RESOURCE_ATTRIBUTES`. */
  resourceAttributes?: Attributes;
  /**
   * `exponential` switches the duration histograms to base-2 exponential
   * aggregation for OTLP readers only; the Prometheus endpoint keeps explicit
   * buckets. `native` does the same for OTLP and also serves them as
   * Prometheus native histograms on the endpoint, in the protobuf format
   * (the text formats, which have no native form, keep the explicit
   * buckets). Env `GATEWAY_METRICS_HISTOGRAM`.
   * @default 'explicit'
   */
  histogram?: HistogramMode;
  /**
   * OpenTelemetry Views (sdk-metrics `ViewOptions`), applied before ours: to
   * the SDK's instruments as usual, and to the gateway's own instruments
   * (matched by instrument name, type and unit as the SDK matches them; the
   * first matching View sets the aggregation, e.g. the buckets, the name or
   * DROP). No env form.
   * @default []
   */
  views?: readonly ViewOptions[];
  /**
   * Where metrics go. Env `OTEL_METRICS_EXPORTER` (comma list).
   * @default ['prometheus']
   */
  exporters?: readonly ExporterName[];
  prometheus?: PrometheusOptions;
  /** Thresholds and stats location of the live status page. */
  statusPage?: StatusPageOptions;
  otlp?: OtlpOptions;
  /**
   * Time outbound HTTP calls automatically (http, https, fetch/undici). On by
   * default in zero-config mode (node = `host:port`); `false` turns it off.
   * Env `GATEWAY_METRICS_HTTP=false`.
   * @default {} (zero config)
   */
  http?: HttpPathOptions | false;
  /**
   * Time child processes automatically (spawn, execFile, exec, fork, execa…).
   * On by default, with zero-config node names; `false` turns it off.
   * Env `GATEWAY_METRICS_EXEC=false`.
   * @default {} (on, zero config)
   */
  exec?: ExecPathOptions | false;
  /**
   * Time each MCP / JSON-RPC request as one routed call, over stdio (children
   * of the exec path that speak JSON-RPC) and Streamable HTTP (POSTs of the
   * HTTP path), also on `mcp.client.operation.duration`. `false` turns the
   * JSON-RPC observation off: exec children are then timed per process and
   * HTTP exchanges per exchange. Env `GATEWAY_METRICS_MCP=false`.
   * @default {} (on)
   */
  mcp?: McpOptions | false;
  /**
   * Read LLM API calls on the HTTP path (OpenAI-compatible, Anthropic, Ollama:
   * model, tokens, time to first chunk) into the `gen_ai.client.*` metrics.
   * Env `GATEWAY_METRICS_LLM=false` turns it off.
   * @default true
   */
  llm?: boolean;
  /**
   * Inbound `http.server.request.duration` via `@opentelemetry/instrumentation-http`.
   * Off by default: it costs 30–35% of a proxy's throughput (see BENCHMARKS.md).
   * Needs the optional package (`npm install @opentelemetry/instrumentation-http`);
   * without it register() throws. Env `GATEWAY_METRICS_INBOUND_HTTP`.
   * @default false
   */
  inboundHttp?: boolean;
  /**
   * Event loop, heap and GC metrics from `@opentelemetry/instrumentation-runtime-node`.
   * Env `GATEWAY_METRICS_RUNTIME_METRICS`.
   * @default true
   */
  runtimeMetrics?: boolean;
  /**
   * `process.uptime`, `process_start_time_seconds`, and resident memory / CPU time
   * (`process.memory.usage`, `process.cpu.time`, `process.cpu.utilization`, as
   * `@opentelemetry/instrumentation-host-metrics` names them). Env `GATEWAY_METRICS_PROCESS_METRICS`.
   * @default true
   */
  processMetrics?: boolean;
  /**
   * Flush on SIGTERM/SIGINT (bounded by the export timeout), then let the
   * process end as it would have without us. Env `GATEWAY_METRICS_HANDLE_SIGNALS`.
   * @default false (true in the `otel-gateway-metrics/register` entry)
   */
  handleSignals?: boolean;
  /**
   * Multi-process gateways (node:cluster, PM2 cluster mode): each worker
   * writes what it records to a state file of its host's group, and the
   * endpoint of whichever worker answers a scrape serves the sums over all of
   * them, dead workers' counts included (docs/cluster.md). `false`: each
   * worker serves its own numbers. Env `GATEWAY_METRICS_CLUSTER=false`,
   * `GATEWAY_METRICS_CLUSTER_DIR`.
   * @default {} (on; no effect outside a node:cluster worker)
   */
  cluster?: ClusterOptions | false;
  /**
   * Also install our MeterProvider as the global one, so that the app's own
   * instruments (`metrics.getMeter(...)`) are exported through our endpoint and
   * OTLP exporter too. Leave it off when the app runs its own NodeSDK or
   * MeterProvider: only one global provider can exist, and the app's metrics
   * belong to the app's exporters. Env `GATEWAY_METRICS_GLOBAL_METER_PROVIDER`.
   * @default false
   */
  globalMeterProvider?: boolean;
}

export interface CreateGatewayMetricsOptions extends InstrumentOptions, NodeTrackingOptions {
  /** @default the global MeterProvider */
  meterProvider?: MeterProvider;
  /**
   * Also record `requestBytes`/`responseBytes` into the size histograms
   * (`gateway.request.size`, `gateway.response.size`). They always go to the
   * byte totals (`gateway.network.io`).
   * @default false
   */
  sizeHistograms?: boolean;
}

export interface GatewayViewsOptions extends InstrumentOptions {
  /**
   * `exponential` (or `native`, the same here) makes the duration Views base-2
   * exponential for every reader of the provider. The stock Prometheus exporter
   * drops exponential histograms, so only use it with OTLP-only providers.
   * @default 'explicit'
   */
  histogram?: HistogramMode;
  /**
   * Whether to include the duration Views (gateway and http.server/client).
   * `register()` leaves them out in exponential mode and sets the aggregation
   * per reader instead. @default true
   * @internal
   */
  durationViews?: boolean;
}

/** Labels of one attempt. */
export interface AttemptLabels {
  node: string;
  transport: string;
}

export interface MeasureOptions extends AttemptLabels {
  /** Bytes sent to the node, recorded in `gateway.request.size`. */
  requestBytes?: number;
  /** Bytes received from the node, recorded in `gateway.response.size`. */
  responseBytes?: number;
}

export interface RecordOptions extends MeasureOptions {
  status: Status;
  durationSeconds: number;
  /** Kept as given (bounded); derived from `error` when omitted. */
  errorType?: string;
  error?: unknown;
}

export interface EndOptions {
  /** A non-null `error` marks the attempt failed (unless `status` says otherwise). */
  error?: unknown;
  status?: Status;
  errorType?: string;
  requestBytes?: number;
  responseBytes?: number;
}

export interface FallbackLabels {
  node: string;
  from: string;
  to: string;
}

export interface WrapOptions<A extends unknown[]> {
  transport: string;
  node: string | ((...args: A) => string);
}
