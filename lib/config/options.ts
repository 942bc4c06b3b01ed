/**
 * THE option table: every option and environment variable the package reads,
 * once. It drives the known-option and known-env lists (typos are reported
 * against them), the defaults, the checks that register(),
 * createGatewayMetrics() and gatewayViews() share, and the table in
 * docs/options.md (spec/options-table.spec.ts fails when that table and this
 * one disagree; `node scripts/options-table.mjs --write` rewrites it).
 *
 * Rows with a `check` are plain leaves that `pick()` resolves generically
 * (option > env > default). The rest (exporters, the OTLP protocol's two
 * variables, the HTTP and exec paths, resource attributes) have their own
 * resolution in resolve.ts but are still listed here, so they are known,
 * documented and checked against docs/options.md like every other.
 */
import {
  HISTOGRAMS,
  TEMPORALITIES,
  bad,
  checkAuth,
  checkBool,
  checkBuckets,
  checkHost,
  checkNonNegInt,
  checkOneOf,
  checkPath,
  checkPort,
  checkPositiveInt,
  checkPrefix,
  checkSameOriginRef,
  checkThreshold,
  intEnv,
  ok,
  parseBucketList,
  parseEnvBool,
  parseEnvInt,
  parseEnvNumber,
  type Check,
} from './checks';
import type { ViewOptions } from '@opentelemetry/sdk-metrics';
import type { HistogramMode, PrometheusAuth, TemporalityPreference } from '../types';

const SELECTORS = ['instrumentName', 'instrumentType', 'instrumentUnit', 'meterName', 'meterVersion', 'meterSchemaUrl'] as const;

/** The checks sdk-metrics' View constructor makes, so a bad View fails at register() naming it. */
function checkViews(v: unknown): Check<readonly ViewOptions[]> {
  if (!Array.isArray(v)) return bad('must be an array of ViewOptions');
  for (let i = 0; i < v.length; i++) {
    const view = v[i] as Record<string, unknown>;
    if (typeof view !== 'object' || view === null) return bad(`views[${i}] must be an object`);
    if (!SELECTORS.some(k => view[k] != null)) return bad(`views[${i}] has no selector (one of ${SELECTORS.join(', ')})`);
    if (view.name != null && (typeof view.instrumentName !== 'string' || view.instrumentName.includes('*'))) {
      return bad(`views[${i}] has a name, so its instrumentName must select one instrument (no wildcard)`);
    }
  }
  return ok(Object.freeze([...v]) as readonly ViewOptions[]);
}

export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);
export const DEFAULT_HEALTH_CHECK_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);
/** 256 B … 16 MiB, ×4 per step. */
export const DEFAULT_SIZE_BUCKETS: readonly number[] = Object.freeze([
  256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
]);
export const DEFAULT_PROMETHEUS_HOST = '0.0.0.0';
export const DEFAULT_PROMETHEUS_PORT = 9464;
export const DEFAULT_MAX_NODES = 1000;
export const DEFAULT_NODE_IDLE_TTL_MS = 600_000;
export const DEFAULT_EXPORT_INTERVAL_MS = 60_000;
export const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;
/** The status page flags a node whose p95 is above this (seconds). */
export const DEFAULT_STATUS_SLOW_P95_SECONDS = 1;
/** … or whose error percentage is above this: the threshold of examples/alerts.yml's HighGatewayErrorRate. */
export const DEFAULT_STATUS_ERROR_PERCENT = 5;
/** Distinct tool and prompt names per node and transport on mcp.client.operation.duration; beyond it `_other`. */
export const DEFAULT_MAX_TOOLS = 100;
/** Distinct model names per node and transport on the gen_ai.* metrics; beyond it `_OTHER`. */
export const DEFAULT_MAX_MODELS = 50;
/** The MCP SDK's own default request timeout (DEFAULT_REQUEST_TIMEOUT_MSEC in its shared/protocol). */
export const DEFAULT_MCP_REQUEST_TIMEOUT_MS = 60_000;
/** maxNodes above this is refused: each live node costs series on every instrument (docs/cardinality.md). */
export const MAX_NODES_LIMIT = 1_000_000;

export interface OptionRow<T = unknown> {
  /** Dotted option path; '' for a variable that has no option of its own. */
  readonly option: string;
  /** Environment variables, the one that wins first. */
  readonly env: readonly string[];
  /** docs/options.md: the default as shown, and what it does. */
  readonly shown: string;
  readonly doc: string;
  /** Present on plain leaves: the check of a value given in code … */
  readonly check?: (value: unknown) => Check<T>;
  /** … the parser of the env value (held to the same check) … */
  readonly parseEnv?: (raw: string) => Check<T>;
  /** … and the default. */
  readonly default?: T;
}

function row<T>(r: OptionRow<T>): OptionRow<T> {
  return Object.freeze(r);
}

/** A row that documents: resolved by its own code in resolve.ts, or read by someone else (the OTLP exporter, the entries). */
function info(option: string, env: readonly string[], shown: string, doc: string): OptionRow {
  return row({ option, env, shown, doc });
}

/** A number: the env value is held to the option's check; the default is shown as it is. */
function numeric(option: string, env: string, check: (v: unknown) => Check<number>, parseEnv: (raw: string) => Check<number>, fallback: number, doc: string): OptionRow<number> {
  return row({ option, env: [env], shown: `\`${fallback}\``, doc, check, parseEnv, default: fallback });
}

/** A true/false switch: env `true`/`1`/`false`/`0`. */
function flag(option: string, env: string, fallback: boolean, doc: string, shown = `\`${fallback}\``): OptionRow<boolean> {
  return row({ option, env: [env], shown, doc, check: checkBool, parseEnv: parseEnvBool, default: fallback });
}

/** A directory path: a non-empty string a file system takes (no NUL). */
const directory = (v: unknown): Check<string | undefined> => (typeof v === 'string' && v.trim() !== '' && !v.includes('\u0000') ? ok(v) : bad('must be a directory path'));
const trimmed = <T>(check: (v: unknown) => Check<T>) => (raw: string) => check(raw.trim());
const lowered = <T>(check: (v: unknown) => Check<T>) => (raw: string) => check(raw.trim().toLowerCase());
const pathOrFalse = (v: unknown): Check<string | false> => (v === false ? ok(false) : checkPath(v));
const nodeCount = (v: unknown) => checkPositiveInt(v, MAX_NODES_LIMIT);
const positiveMs = (v: unknown) => checkPositiveInt(v);
const nonNegMs = (v: unknown) => checkNonNegInt(v);
const errorCount = (v: unknown) => checkNonNegInt(v, 1_000_000);
const toolCount = (v: unknown) => checkPositiveInt(v, 100_000);
const requestMs = (v: unknown) => checkPositiveInt(v, 86_400_000);
const seconds = checkThreshold(86_400);
const percent = checkThreshold(100);

/** Every row, keyed for typed access from resolve.ts; the docs table's order is the declaration order. */
export const O = {
  serviceName: row<string | undefined>({
    option: 'serviceName', env: ['OTEL_SERVICE_NAME'], shown: '`unknown_service:node`', doc: '`service.name`',
    check: v => (typeof v === 'string' && v !== '' ? ok(v) : bad('must be a non-empty string')),
    parseEnv: raw => ok(raw.trim()), default: undefined,
  }),
  resourceAttributes: info('resourceAttributes', ['OTEL_RESOURCE_ATTRIBUTES'], '', '`k=v,k2=v2` resource attributes (percent-encoded); the option\'s keys win'),
  exporters: info('exporters', ['OTEL_METRICS_EXPORTER'], '`prometheus`', '`prometheus`, `otlp`, `console`, `none` (comma list)'),
  prometheusHost: row({
    option: 'prometheus.host', env: ['OTEL_EXPORTER_PROMETHEUS_HOST'], shown: '`0.0.0.0`', doc: 'bind address of `/metrics`',
    check: checkHost, parseEnv: trimmed(checkHost), default: DEFAULT_PROMETHEUS_HOST,
  }),
  prometheusPort: row<number | false>({
    option: 'prometheus.port', env: ['OTEL_EXPORTER_PROMETHEUS_PORT'], shown: '`9464`',
    doc: 'port (`0` = ephemeral); the option also takes `false`: no listener of our own',
    check: checkPort,
    parseEnv: raw => {
      const c = parseEnvInt(raw);
      return c.ok ? checkPort(c.value) : bad('must be an integer 0-65535');
    },
    default: DEFAULT_PROMETHEUS_PORT as number | false,
  }),
  prometheusListen: flag('', 'GATEWAY_METRICS_PROMETHEUS_LISTEN', true, '`false`: no listener of our own'),
  prometheusPath: row({
    option: 'prometheus.path', env: ['GATEWAY_METRICS_PROMETHEUS_PATH'], shown: '`/metrics`', doc: 'exposition path',
    check: checkPath, parseEnv: trimmed(checkPath), default: '/metrics',
  }),
  statsPath: row<string | false>({
    option: 'prometheus.statsPath', env: ['GATEWAY_METRICS_STATS_PATH'], shown: '`/stats`', doc: 'JSON stats path (`false` for none)',
    check: pathOrFalse, parseEnv: raw => (raw.trim().toLowerCase() === 'false' ? ok(false) : checkPath(raw.trim())), default: '/stats',
  }),
  statusPath: row<string | false>({
    option: 'prometheus.statusPath', env: ['GATEWAY_METRICS_STATUS_PATH'], shown: '`/`',
    doc: 'status page path on our listener (`false` for none)',
    check: pathOrFalse, parseEnv: raw => (raw.trim().toLowerCase() === 'false' ? ok(false) : checkPath(raw.trim())), default: '/',
  }),
  withoutScopeInfo: flag('prometheus.withoutScopeInfo', 'GATEWAY_METRICS_PROMETHEUS_WITHOUT_SCOPE_INFO', false,
    'no `otel_scope_name` / `otel_scope_version` labels on `/metrics` (about half the bytes of a histogram line)'),
  classicHistograms: flag('prometheus.classicHistograms', 'GATEWAY_METRICS_PROMETHEUS_CLASSIC_HISTOGRAMS', true,
    'with `histogram: native`, native histograms in the protobuf format also carry their classic buckets (docs/native-histograms.md)'),
  exemplars: flag('prometheus.exemplars', 'GATEWAY_METRICS_PROMETHEUS_EXEMPLARS', true,
    'latest exemplar per bucket of the latency histograms for calls made in a sampled span, served in OpenMetrics and protobuf'),
  auth: row<PrometheusAuth | undefined>({
    option: 'prometheus.auth', env: ['GATEWAY_METRICS_AUTH_TOKEN'], shown: '',
    doc: '`{ token }` (env: the bearer token) or `{ username, password }`, required on `/metrics`, `/stats` and the status page',
    check: checkAuth,
    parseEnv: raw => (/^\S+$/.test(raw.trim()) ? ok(Object.freeze({ token: raw.trim() })) : bad('must be one word (no whitespace)')),
    default: undefined,
  }),
  statsUrl: row({
    option: 'statusPage.statsUrl', env: [], shown: '`stats`', doc: 'where a page served by `statusHandler` reads the stats (same origin)',
    check: checkSameOriginRef, default: 'stats',
  }),
  slowP95Seconds: numeric('statusPage.slowP95Seconds', 'GATEWAY_METRICS_STATUS_SLOW_P95', seconds, parseEnvNumber(seconds), DEFAULT_STATUS_SLOW_P95_SECONDS, 'status page: flag a node whose p95 is above this many seconds'),
  errorPercent: numeric('statusPage.errorPercent', 'GATEWAY_METRICS_STATUS_ERROR_PERCENT', percent, parseEnvNumber(percent), DEFAULT_STATUS_ERROR_PERCENT, 'status page: flag a node whose error percentage is above this'),
  otlpProtocol: info('otlp.protocol', ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'], '`http/protobuf`', '`http/protobuf`, `http/json`, `grpc` (an optional package: `npm install @opentelemetry/exporter-metrics-otlp-grpc`)'),
  otlpEndpoint: info('otlp.endpoint', ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'], '', 'the Collector\'s URL (env: read by the OTLP exporter itself)'),
  otlpHeaders: info('otlp.headers', ['OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'], '', 'export headers (env: read by the OTLP exporter itself)'),
  otlpExporterOwn: info('', ['OTEL_EXPORTER_OTLP_METRICS_COMPRESSION', 'OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE'], '', 'and their generic `OTEL_EXPORTER_OTLP_*` forms: read by the OTLP exporter itself. Its `…_TIMEOUT` is not: we pass `otlp.exportTimeoutMillis`'),
  exportIntervalMillis: numeric('otlp.exportIntervalMillis', 'OTEL_METRIC_EXPORT_INTERVAL', positiveMs, intEnv(positiveMs), DEFAULT_EXPORT_INTERVAL_MS, 'ms between OTLP exports'),
  exportTimeoutMillis: numeric('otlp.exportTimeoutMillis', 'OTEL_METRIC_EXPORT_TIMEOUT', positiveMs, intEnv(positiveMs), DEFAULT_EXPORT_TIMEOUT_MS, 'ms per export; also bounds `forceFlush()`, `shutdown()` and the flush on SIGTERM'),
  temporality: row<TemporalityPreference>({
    option: 'otlp.temporality', env: ['OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE'], shown: '`cumulative`',
    doc: '`cumulative`, `delta`, `lowmemory`',
    check: checkOneOf(TEMPORALITIES), parseEnv: lowered(checkOneOf(TEMPORALITIES)), default: 'cumulative',
  }),
  sdkDisabled: info('', ['OTEL_SDK_DISABLED'], '`false`', '`true`: no exporters and no automatic paths'),
  logLevel: info('', ['OTEL_LOG_LEVEL'], '`warn`', 'level of our console messages when the app has set no diag logger'),
  configModule: info('', ['GATEWAY_METRICS_CONFIG'], '', 'options module for the `register` entries (`.js`, `.cjs`, `.mjs`, `.json`)'),
  prefix: row({
    option: 'prefix', env: ['GATEWAY_METRICS_PREFIX'], shown: '',
    doc: 'metric name prefix (env: invalid characters become `_`, as a Collector would do)',
    check: checkPrefix, default: '',
  }),
  buckets: row({
    option: 'buckets', env: ['GATEWAY_METRICS_DURATION_BUCKETS'], shown: '5 ms … 60 s', doc: 'duration buckets, seconds (env: comma list)',
    check: checkBuckets, parseEnv: parseBucketList, default: DEFAULT_DURATION_BUCKETS,
  }),
  healthCheckBuckets: row({
    option: 'healthCheckBuckets', env: ['GATEWAY_METRICS_HEALTH_CHECK_BUCKETS'], shown: '1 ms … 5 s', doc: 'health check buckets, seconds',
    check: checkBuckets, parseEnv: parseBucketList, default: DEFAULT_HEALTH_CHECK_BUCKETS,
  }),
  sizeBuckets: row({
    option: 'sizeBuckets', env: ['GATEWAY_METRICS_SIZE_BUCKETS'], shown: '256 B … 16 MiB', doc: 'payload size buckets, bytes',
    check: checkBuckets, parseEnv: parseBucketList, default: DEFAULT_SIZE_BUCKETS,
  }),
  views: row<readonly ViewOptions[]>({
    option: 'views', env: [], shown: '`[]`',
    doc: 'OpenTelemetry Views, applied before ours, also to the gateway\'s own instruments (first match wins)',
    check: checkViews, default: Object.freeze([]) as readonly ViewOptions[],
  }),
  histogram: row<HistogramMode>({
    option: 'histogram', env: ['GATEWAY_METRICS_HISTOGRAM'], shown: '`explicit`',
    doc: '`exponential` for OTLP readers; `native`: also Prometheus native histograms on `/metrics` (protobuf format)',
    check: checkOneOf(HISTOGRAMS), parseEnv: lowered(checkOneOf(HISTOGRAMS)), default: 'explicit',
  }),
  maxNodes: numeric('maxNodes', 'GATEWAY_METRICS_MAX_NODES', nodeCount, intEnv(nodeCount), DEFAULT_MAX_NODES, 'live nodes before new ones become `node="_other"`'),
  nodeIdleTtl: numeric('nodeIdleTtl', 'GATEWAY_METRICS_NODE_IDLE_TTL', nonNegMs, intEnv(nonNegMs), DEFAULT_NODE_IDLE_TTL_MS, 'ms of idleness after which a node is forgotten (`0` never)'),
  downAfterErrors: numeric('downAfterErrors', 'GATEWAY_METRICS_DOWN_AFTER_ERRORS', errorCount, intEnv(errorCount), 0, 'derived health: down after N consecutive errors (`0` off)'),
  http: flag('http', 'GATEWAY_METRICS_HTTP', true, '`false`: no automatic HTTP path'),
  httpNodeFor: info('http.nodeFor', ['GATEWAY_METRICS_HTTP_NODES'], '', '`(url, defaultNode) => node`, or a `host:port` → node map (env: `host:port=node,…`); a map records only its destinations (default: all, `node="host:port"`)'),
  httpIsError: info('http.isError', [], '`status >= 500`', 'which response status codes are errors'),
  httpSizes: row<boolean | 'histogram'>({
    option: 'http.sizes', env: ['GATEWAY_METRICS_HTTP_SIZES'], shown: '`true`',
    doc: 'body bytes from the automatic HTTP path: `true` (byte totals), `histogram` (also size histograms), `false`',
    check: v => (v === 'histogram' || typeof v === 'boolean' ? ok(v) : bad('must be true, false or "histogram"')),
    parseEnv: raw => (raw.trim().toLowerCase() === 'histogram' ? ok('histogram' as const) : parseEnvBool(raw)),
    default: true,
  }),
  exec: flag('exec', 'GATEWAY_METRICS_EXEC', true, '`false`: no automatic exec path (on by default, zero config)'),
  execNodeFor: info('exec.nodeFor', [], '', '`(file, args, defaultNode) => node`; `undefined` excludes a child'),
  mcp: flag('mcp', 'GATEWAY_METRICS_MCP', true,
    '`false`: no JSON-RPC observation (exec children timed per process, HTTP per exchange); the option takes `false` or `{ requestTimeoutMs }`'),
  mcpRequestTimeout: numeric('mcp.requestTimeoutMs', 'GATEWAY_METRICS_MCP_REQUEST_TIMEOUT', requestMs, intEnv(requestMs), DEFAULT_MCP_REQUEST_TIMEOUT_MS,
    'ms after which a stdio JSON-RPC request with no response ends as `timeout`'),
  maxTools: numeric('maxTools', 'GATEWAY_METRICS_MAX_TOOLS', toolCount, intEnv(toolCount), DEFAULT_MAX_TOOLS,
    'tool and prompt names per node and transport on `mcp.client.operation.duration` before new ones become `_other`'),
  llm: flag('llm', 'GATEWAY_METRICS_LLM', true,
    '`false`: no LLM API reading (OpenAI-compatible, Anthropic and Ollama calls stay plain HTTP calls)'),
  maxModels: numeric('maxModels', 'GATEWAY_METRICS_MAX_MODELS', toolCount, intEnv(toolCount), DEFAULT_MAX_MODELS,
    'model names per node and transport on the `gen_ai.client.*` metrics before new ones become `_OTHER`'),
  inboundHttp: flag('inboundHttp', 'GATEWAY_METRICS_INBOUND_HTTP', false, 'inbound `http.server.request.duration` via instrumentation-http (an optional package: `npm install @opentelemetry/instrumentation-http`)'),
  runtimeMetrics: flag('runtimeMetrics', 'GATEWAY_METRICS_RUNTIME_METRICS', true, 'event loop, heap and GC metrics'),
  processMetrics: flag('processMetrics', 'GATEWAY_METRICS_PROCESS_METRICS', true, 'uptime, start time, CPU and memory'),
  handleSignals: flag('handleSignals', 'GATEWAY_METRICS_HANDLE_SIGNALS', false, 'flush on SIGTERM/SIGINT', '`false` (`true` in the entries)'),
  cluster: flag('cluster', 'GATEWAY_METRICS_CLUSTER', true,
    'under `node:cluster` or PM2 cluster mode, every worker\'s endpoint serves the sums over all workers of the host (docs/cluster.md); `false`: each worker its own numbers'),
  clusterDir: row<string | undefined>({
    option: 'cluster.dir', env: ['GATEWAY_METRICS_CLUSTER_DIR'], shown: '`/dev/shm` or the temp dir',
    doc: 'directory of the workers\' state files (one subdirectory per primary and metrics port)',
    check: directory, parseEnv: raw => directory(raw.trim()), default: undefined,
  }),
  globalMeterProvider: flag('globalMeterProvider', 'GATEWAY_METRICS_GLOBAL_METER_PROVIDER', false, '`true`: our MeterProvider also becomes the global one (only without an app SDK)'),
} as const;

export const OPTION_TABLE: readonly OptionRow[] = Object.freeze(Object.values(O) as OptionRow[]);

/** Every `GATEWAY_METRICS_*` variable we read; anything else with the prefix is a typo. */
export const KNOWN_GATEWAY_ENV: readonly string[] = Object.freeze(
  OPTION_TABLE.flatMap(r => r.env).filter(e => e.startsWith('GATEWAY_METRICS_')),
);

/** The option keys known under `parent` ('' for the top level). */
export function knownKeys(parent: string): ReadonlySet<string> {
  const keys = new Set<string>();
  const prefix = parent === '' ? '' : `${parent}.`;
  for (const r of OPTION_TABLE) {
    if (r.option === '' || !r.option.startsWith(prefix)) continue;
    keys.add(r.option.slice(prefix.length).split('.')[0]!);
  }
  return keys;
}

/** The rows of the table in docs/options.md, in order: `| option | env | default | what |`. */
export function optionTableMarkdown(): string {
  const code = (s: string) => (s === '' ? '' : `\`${s}\``);
  const lines = ['| option | environment variable | default | what |', '|---|---|---|---|'];
  for (const r of OPTION_TABLE) lines.push(`| ${code(r.option)} | ${r.env.map(code).join(', ')} | ${r.shown} | ${r.doc} |`);
  return lines.join('\n');
}
