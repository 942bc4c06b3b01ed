/**
 * Configuration resolution: explicit option, then env var, then default.
 *
 * `resolveConfig(options, env)` is pure apart from its warnings: specs pass `env`
 * in and never touch `process.env`. Bad options passed in code throw a
 * `ConfigError` naming the option and the value; a bad env var warns once and
 * falls back to the default (OTel JS core's convention, minus its silent
 * `Number(x) || default`).
 */
import type { Attributes } from '@opentelemetry/api';
import { logger, describe } from './diag';
import type {
  ExecPathOptions,
  ExporterName,
  GatewayMetricsOptions,
  McpOptions,
  HistogramMode,
  HttpPathOptions,
  OtlpProtocol,
  PrometheusAuth,
  TemporalityPreference,
} from './types';

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

/** MCP defaults live with the MCP observation; re-exported here with the others. */
export { DEFAULT_MAX_TOOLS, DEFAULT_MCP_REQUEST_TIMEOUT_MS } from './mcp';
import { DEFAULT_MAX_TOOLS, DEFAULT_MCP_REQUEST_TIMEOUT_MS } from './mcp';

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

/** Every `GATEWAY_METRICS_*` variable we read; anything else with the prefix is a typo. */
export const KNOWN_GATEWAY_ENV = [
  'GATEWAY_METRICS_CONFIG',
  'GATEWAY_METRICS_PREFIX',
  'GATEWAY_METRICS_DURATION_BUCKETS',
  'GATEWAY_METRICS_HEALTH_CHECK_BUCKETS',
  'GATEWAY_METRICS_SIZE_BUCKETS',
  'GATEWAY_METRICS_HISTOGRAM',
  'GATEWAY_METRICS_PROMETHEUS_PATH',
  'GATEWAY_METRICS_PROMETHEUS_LISTEN',
  'GATEWAY_METRICS_STATS_PATH',
  'GATEWAY_METRICS_STATUS_PATH',
  'GATEWAY_METRICS_STATUS_SLOW_P95',
  'GATEWAY_METRICS_STATUS_ERROR_PERCENT',
  'GATEWAY_METRICS_AUTH_TOKEN',
  'GATEWAY_METRICS_MAX_NODES',
  'GATEWAY_METRICS_NODE_IDLE_TTL',
  'GATEWAY_METRICS_DOWN_AFTER_ERRORS',
  'GATEWAY_METRICS_HTTP',
  'GATEWAY_METRICS_HTTP_NODES',
  'GATEWAY_METRICS_HTTP_SIZES',
  'GATEWAY_METRICS_EXEC',
  'GATEWAY_METRICS_MCP',
  'GATEWAY_METRICS_MCP_REQUEST_TIMEOUT',
  'GATEWAY_METRICS_MAX_TOOLS',
  'GATEWAY_METRICS_INBOUND_HTTP',
  'GATEWAY_METRICS_RUNTIME_METRICS',
  'GATEWAY_METRICS_PROCESS_METRICS',
  'GATEWAY_METRICS_HANDLE_SIGNALS',
  'GATEWAY_METRICS_GLOBAL_METER_PROVIDER',
] as const;

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends TypeError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    reason: string,
  ) {
    super(`otel-gateway-metrics: invalid option "${option}": ${describe(value)} (${reason})`);
    this.name = 'ConfigError';
  }
}

/**
 * How the HTTP path names a call's node: `zero-config` (every call, node =
 * `host:port`), `nodeFor` (a function refines or excludes), `map` (only mapped
 * destinations are recorded).
 */
export type HttpPathMode = 'zero-config' | 'nodeFor' | 'map';

export interface ResolvedHttpPath {
  readonly mode: HttpPathMode;
  /** `host:port` → node, when `nodeFor` was a map (no URL is built per call then). */
  readonly hostPortMap: ReadonlyMap<string, string> | undefined;
  readonly nodeFor: ((url: URL, defaultNode: string) => string | undefined | null) | undefined;
  readonly isError: (statusCode: number) => boolean;
  readonly sizes: boolean | 'histogram';
}

export interface ResolvedConfig {
  readonly sdkDisabled: boolean;
  readonly serviceName: string | undefined;
  readonly resourceAttributes: Readonly<Attributes>;
  readonly prefix: string;
  readonly buckets: readonly number[];
  readonly healthCheckBuckets: readonly number[];
  readonly sizeBuckets: readonly number[];
  readonly histogram: HistogramMode;
  readonly exporters: readonly ExporterName[];
  readonly prometheus: {
    readonly host: string;
    readonly port: number | false;
    readonly path: string;
    readonly statsPath: string | false;
    readonly statusPath: string | false;
    readonly auth: Readonly<PrometheusAuth> | undefined;
  };
  readonly statusPage: {
    readonly statsUrl: string;
    readonly slowP95Seconds: number;
    readonly errorPercent: number;
  };
  readonly otlp: {
    readonly protocol: OtlpProtocol;
    readonly endpoint: string | undefined;
    readonly headers: Readonly<Record<string, string>> | undefined;
    readonly exportIntervalMillis: number;
    readonly exportTimeoutMillis: number;
    readonly temporality: TemporalityPreference;
  };
  readonly maxNodes: number;
  readonly nodeIdleTtl: number;
  readonly downAfterErrors: number;
  readonly http: ResolvedHttpPath | undefined;
  /** The exec path, or undefined when it is off; `nodeFor` undefined is zero config. */
  readonly exec: Readonly<ExecPathOptions> | undefined;
  /** The JSON-RPC observation (lib/mcp.ts), or undefined when it is off. */
  readonly mcp: { readonly requestTimeoutMs: number } | undefined;
  readonly maxTools: number;
  readonly inboundHttp: boolean;
  readonly runtimeMetrics: boolean;
  readonly processMetrics: boolean;
  readonly handleSignals: boolean;
  readonly globalMeterProvider: boolean;
}

// ---------------------------------------------------------------------------
// Validators. Each returns the value or a reason string; callers decide whether
// a failure throws (code) or warns (env).

type Check<T> = { ok: true; value: T } | { ok: false; reason: string };
const ok = <T>(value: T): Check<T> => ({ ok: true, value });
const bad = <T>(reason: string): Check<T> => ({ ok: false, reason });

export function checkBuckets(value: unknown): Check<readonly number[]> {
  if (!Array.isArray(value)) return bad('must be an array of numbers');
  if (value.length === 0) return bad('must not be empty');
  const copy: number[] = [];
  for (const b of value) {
    if (typeof b !== 'number' || !Number.isFinite(b)) return bad('every boundary must be a finite number');
    if (b < 0) return bad('boundaries must not be negative');
    if (copy.length > 0 && b <= copy[copy.length - 1]!) {
      return bad(b === copy[copy.length - 1] ? 'boundaries must not repeat' : 'boundaries must be sorted ascending');
    }
    copy.push(b);
  }
  return ok(Object.freeze(copy));
}

function parseBucketList(raw: string): Check<readonly number[]> {
  const parts = raw.split(',').map(s => s.trim());
  if (parts.some(p => p === '' || !/^[0-9eE.+-]+$/.test(p))) return bad('must be a comma list of numbers');
  return checkBuckets(parts.map(Number));
}

/** Prometheus metric name characters; a prefix must also start with a letter or `_`. */
const NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function checkPrefix(value: unknown): Check<string> {
  if (typeof value !== 'string') return bad('must be a string');
  if (value === '') return ok('');
  if (!NAME_RE.test(value)) return bad('must match ^[a-zA-Z_][a-zA-Z0-9_]*$');
  return ok(value);
}

/** What a Collector would produce from the same string: invalid characters become `_`. */
export function sanitizeName(value: string): string {
  let s = value.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(s)) s = `_${s}`;
  return s;
}

function checkPort(value: unknown): Check<number | false> {
  if (value === false) return ok(false);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    return bad('must be an integer 0-65535 (0 = ephemeral) or false (no listener)');
  }
  return ok(value);
}

function checkHost(value: unknown): Check<string> {
  if (typeof value !== 'string' || value === '' || /[\s/?#@]/.test(value)) return bad('must be a host name or IP address');
  return ok(value);
}

function checkPath(value: unknown): Check<string> {
  if (typeof value !== 'string' || !/^\/[^\s?#]*$/.test(value)) return bad('must be a path starting with "/"');
  return ok(value);
}

/**
 * A same-origin URL reference (path, optionally with a query): no scheme, no
 * `//host`, and no backslash, which browsers read as `/` (`/\\host` is `//host`).
 */
function checkSameOriginRef(value: unknown): Check<string> {
  if (typeof value !== 'string' || value === '' || /[\s\\#]/.test(value) || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value) || value.startsWith('//')) {
    return bad('must be a relative or absolute path on the same origin (no scheme, no //host, no whitespace)');
  }
  return ok(value);
}

function checkThreshold(max: number) {
  return (value: unknown): Check<number> =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= max
      ? ok(value)
      : bad(`must be a number between 0 and ${max}`);
}

function parseEnvNumber(check: (v: unknown) => Check<number>): (raw: string) => Check<number> {
  return raw => {
    const v = raw.trim();
    return /^[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?$/.test(v) ? check(Number(v)) : bad('must be a non-negative number');
  };
}

function checkNonNegInt(value: unknown, max = Number.MAX_SAFE_INTEGER): Check<number> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    return bad(`must be an integer between 0 and ${max}`);
  }
  return ok(value);
}

function checkPositiveInt(value: unknown, max = Number.MAX_SAFE_INTEGER): Check<number> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    return bad(`must be an integer between 1 and ${max}`);
  }
  return ok(value);
}

function checkBool(value: unknown): Check<boolean> {
  return typeof value === 'boolean' ? ok(value) : bad('must be true or false');
}

function checkOneOf<T extends string>(allowed: readonly T[]) {
  return (value: unknown): Check<T> =>
    typeof value === 'string' && (allowed as readonly string[]).includes(value)
      ? ok(value as T)
      : bad(`must be one of ${allowed.join(', ')}`);
}

const EXPORTERS: readonly ExporterName[] = ['prometheus', 'otlp', 'console', 'none'];
const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];
const HISTOGRAMS: readonly HistogramMode[] = ['explicit', 'exponential'];
const TEMPORALITIES: readonly TemporalityPreference[] = ['cumulative', 'delta', 'lowmemory'];

function checkExporters(value: unknown): Check<readonly ExporterName[]> {
  if (!Array.isArray(value)) return bad(`must be an array of ${EXPORTERS.join(', ')}`);
  const out: ExporterName[] = [];
  for (const v of value) {
    if (!EXPORTERS.includes(v)) return bad(`unknown exporter ${describe(v)}; allowed: ${EXPORTERS.join(', ')}`);
    if (!out.includes(v)) out.push(v);
  }
  return ok(Object.freeze(out.includes('none') ? [] : out));
}

function checkAuth(value: unknown): Check<PrometheusAuth | undefined> {
  if (value === undefined) return ok(undefined);
  if (typeof value !== 'object' || value === null) return bad('must be { token } or { username, password }');
  const v = value as Record<string, unknown>;
  if ('token' in v) {
    if (typeof v.token !== 'string' || !/^\S+$/.test(v.token)) return bad('token must be a non-empty string without whitespace');
    return ok(Object.freeze({ token: v.token }));
  }
  if (typeof v.username !== 'string' || v.username === '' || v.username.includes(':')) {
    return bad('username must be a non-empty string without ":"');
  }
  if (typeof v.password !== 'string' || v.password === '') return bad('password must be a non-empty string');
  return ok(Object.freeze({ username: v.username, password: v.password }));
}

/** Never echo credentials: the error names the option, not the secret. */
function redact(option: string, value: unknown): unknown {
  return option.startsWith('prometheus.auth') && value !== undefined ? '[redacted]' : value;
}

// ---------------------------------------------------------------------------
// Env parsing

function parseEnvBool(raw: string): Check<boolean> {
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1') return ok(true);
  if (v === 'false' || v === '0') return ok(false);
  return bad('must be true or false');
}

function parseEnvInt(raw: string): Check<number> {
  const v = raw.trim();
  return /^[0-9]+$/.test(v) ? ok(Number(v)) : bad('must be a non-negative integer');
}

/** An integer env var held to the same check as its option. */
function intEnv(check: (v: unknown) => Check<number>): (raw: string) => Check<number> {
  return raw => {
    const c = parseEnvInt(raw);
    return c.ok ? check(c.value) : c;
  };
}

/** `host:port`, or `[v6 address]:port`. */
const HOST_PORT_RE = /^(?:[^\s:[\]]+|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$/;

/** `host:port=node,host:port=node` */
export function parseHostPortNodes(raw: string): Check<ReadonlyMap<string, string>> {
  const map = new Map<string, string>();
  for (const entry of raw.split(',')) {
    const e = entry.trim();
    if (e === '') continue;
    const eq = e.lastIndexOf('=');
    const key = e.slice(0, eq).trim().toLowerCase();
    const node = e.slice(eq + 1).trim();
    if (eq <= 0 || node === '' || !HOST_PORT_RE.test(key)) {
      return bad(`entry ${describe(e)} must look like host:port=node`);
    }
    map.set(key, node);
  }
  if (map.size === 0) return bad('must list at least one host:port=node');
  return ok(map);
}

/** OTEL_RESOURCE_ATTRIBUTES, per the OTel spec (percent-decoded `k=v` pairs). */
export function parseResourceAttributes(raw: string): Check<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of raw.split(',')) {
    if (entry.trim() === '') continue;
    const kv = entry.split('=');
    if (kv.length !== 2 || kv[0]!.trim() === '') return bad(`entry ${describe(entry)} must look like key=value`);
    try {
      out[decodeURIComponent(kv[0]!.trim())] = decodeURIComponent(kv[1]!.trim());
    } catch {
      return bad(`entry ${describe(entry)} is not valid percent-encoding`);
    }
  }
  return ok(out);
}

// ---------------------------------------------------------------------------

class Resolver {
  constructor(readonly env: Env) {}

  /** option > env > default. */
  pick<T>(
    option: string,
    value: unknown,
    check: (v: unknown) => Check<T>,
    envName: string | undefined,
    parseEnv: ((raw: string) => Check<T>) | undefined,
    fallback: T,
  ): T {
    if (value !== undefined) {
      const c = check(value);
      if (!c.ok) throw new ConfigError(option, redact(option, value), c.reason);
      return c.value;
    }
    if (envName !== undefined && parseEnv !== undefined) {
      const raw = this.env[envName];
      if (raw !== undefined && raw.trim() !== '') {
        const c = parseEnv(raw);
        if (c.ok) return c.value;
        this.warnEnv(envName, raw, c.reason, fallback);
      }
    }
    return fallback;
  }

  warnEnv(envName: string, raw: string, reason: string, fallback: unknown): void {
    const shown = envName === 'GATEWAY_METRICS_AUTH_TOKEN' ? '[redacted]' : describe(raw);
    let fb: string;
    try {
      fb = JSON.stringify(fallback);
    } catch {
      fb = String(fallback);
    }
    logger.warn(`ignoring ${envName}=${shown}: ${reason}; using the default ${fb}`);
  }
}

function optionalObject(option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(option, value, 'must be an object');
  }
  return value as Record<string, unknown>;
}

function resolveHttp(value: unknown, r: Resolver): ResolvedHttpPath | undefined {
  if (value === false) return undefined;
  let o: Partial<HttpPathOptions> = {};
  if (value !== undefined) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError('http', value, 'must be an object of HTTP path options, or false to turn the HTTP path off');
    }
    o = value as Partial<HttpPathOptions>;
    rejectUnknownKeys('http', o as Record<string, unknown>, new Set(['nodeFor', 'isError', 'sizes']));
  } else if (!r.pick('http', undefined, checkBool, 'GATEWAY_METRICS_HTTP', parseEnvBool, true)) {
    return undefined;
  }
  let mode: HttpPathMode = 'zero-config';
  let hostPortMap: ReadonlyMap<string, string> | undefined;
  let nodeFor: ResolvedHttpPath['nodeFor'];
  let isError: (code: number) => boolean = code => code >= 500;
  const nf = o.nodeFor;
  if (typeof nf === 'function') {
    mode = 'nodeFor';
    nodeFor = nf;
  } else if (nf instanceof Map) {
    mode = 'map';
    hostPortMap = normalizeHostPortMap('http.nodeFor', nf);
  } else if (typeof nf === 'object' && nf !== null) {
    mode = 'map';
    hostPortMap = normalizeHostPortMap('http.nodeFor', new Map(Object.entries(nf as Record<string, unknown>)));
  } else if (nf !== undefined) {
    throw new ConfigError('http.nodeFor', nf, 'must be a function (url, defaultNode) => node | undefined, or a map of host:port to node');
  } else {
    const raw = r.env.GATEWAY_METRICS_HTTP_NODES;
    if (raw !== undefined && raw.trim() !== '') {
      const c = parseHostPortNodes(raw);
      if (c.ok) {
        mode = 'map';
        hostPortMap = c.value;
      } else {
        r.warnEnv('GATEWAY_METRICS_HTTP_NODES', raw, c.reason, 'zero-config (node = host:port)');
      }
    }
  }
  if (o.isError !== undefined) {
    if (typeof o.isError !== 'function') throw new ConfigError('http.isError', o.isError, 'must be a function');
    isError = o.isError;
  }
  const checkSizes = (v: unknown): Check<boolean | 'histogram'> => (v === 'histogram' ? ok(v) : typeof v === 'boolean' ? ok(v) : bad('must be true, false or "histogram"'));
  const sizes = r.pick('http.sizes', o.sizes, checkSizes, 'GATEWAY_METRICS_HTTP_SIZES',
    raw => (raw.trim().toLowerCase() === 'histogram' ? ok('histogram' as const) : parseEnvBool(raw)), true as boolean | 'histogram');
  return Object.freeze({ mode, hostPortMap, nodeFor, isError, sizes });
}

function normalizeHostPortMap(option: string, map: ReadonlyMap<unknown, unknown>): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of map) {
    if (typeof k !== 'string' || !HOST_PORT_RE.test(k)) {
      throw new ConfigError(option, k, 'keys must look like host:port');
    }
    if (typeof v !== 'string' || v === '') throw new ConfigError(`${option}["${k}"]`, v, 'must be a non-empty node name');
    out.set(k.toLowerCase(), v);
  }
  return out;
}

function resolveExec(value: unknown, r: Resolver): Readonly<ExecPathOptions> | undefined {
  if (value === false) return undefined;
  if (value === undefined) {
    // Zero config unless the environment turns it off.
    const on = r.pick('exec', undefined, checkBool, 'GATEWAY_METRICS_EXEC', parseEnvBool, true);
    return on ? Object.freeze({}) : undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('exec', value, 'must be an object { nodeFor? }, or false to turn the exec path off (omit it for zero config)');
  }
  const o = value as Partial<ExecPathOptions>;
  rejectUnknownKeys('exec', o as Record<string, unknown>, new Set(['nodeFor']));
  if (o.nodeFor === undefined) return Object.freeze({});
  if (typeof o.nodeFor !== 'function') {
    throw new ConfigError('exec.nodeFor', o.nodeFor, 'must be a function (file, args, defaultNode) => node | undefined');
  }
  return Object.freeze({ nodeFor: o.nodeFor });
}

function resolveMcp(value: unknown, r: Resolver): { readonly requestTimeoutMs: number } | undefined {
  if (value === false) return undefined;
  if (value === undefined) {
    if (!r.pick('mcp', undefined, checkBool, 'GATEWAY_METRICS_MCP', parseEnvBool, true)) return undefined;
  } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('mcp', value, 'must be an object { requestTimeoutMs? }, or false to turn the JSON-RPC observation off');
  }
  const o = (value ?? {}) as Partial<McpOptions>;
  rejectUnknownKeys('mcp', o as Record<string, unknown>, new Set(['requestTimeoutMs']));
  const ms = (v: unknown) => checkPositiveInt(v, 86_400_000);
  const requestTimeoutMs = r.pick('mcp.requestTimeoutMs', o.requestTimeoutMs, ms,
    'GATEWAY_METRICS_MCP_REQUEST_TIMEOUT', intEnv(ms), DEFAULT_MCP_REQUEST_TIMEOUT_MS);
  return Object.freeze({ requestTimeoutMs });
}

function resolveExporters(options: GatewayMetricsOptions, r: Resolver): readonly ExporterName[] {
  if (options.exporters !== undefined) {
    const c = checkExporters(options.exporters);
    if (!c.ok) throw new ConfigError('exporters', options.exporters, c.reason);
    return c.value;
  }
  const raw = r.env.OTEL_METRICS_EXPORTER;
  if (raw === undefined || raw.trim() === '') return Object.freeze(['prometheus'] as ExporterName[]);
  const names = raw.split(',').map(s => s.trim().toLowerCase()).filter(Boolean);
  const known = names.filter((n): n is ExporterName => (EXPORTERS as readonly string[]).includes(n));
  const unknown = names.filter(n => !known.includes(n as ExporterName));
  if (known.length === 0) {
    logger.warn(`ignoring OTEL_METRICS_EXPORTER=${describe(raw)}: no known exporter (allowed: ${EXPORTERS.join(', ')}); using the default ["prometheus"]`);
    return Object.freeze(['prometheus'] as ExporterName[]);
  }
  if (unknown.length > 0) {
    logger.warn(`OTEL_METRICS_EXPORTER: ignoring unknown exporter(s) ${unknown.join(', ')}; allowed: ${EXPORTERS.join(', ')}`);
  }
  const unique = [...new Set(known)];
  return Object.freeze(unique.includes('none') ? [] : unique);
}

function resolveProtocol(value: unknown, r: Resolver): OtlpProtocol {
  const check = checkOneOf(PROTOCOLS);
  if (value !== undefined) return r.pick('otlp.protocol', value, check, undefined, undefined, 'http/protobuf');
  const parse = (raw: string) => check(raw.trim().toLowerCase());
  // The signal-specific variable wins; a bad one falls back to the generic one.
  const generic = r.pick('otlp.protocol', undefined, check, 'OTEL_EXPORTER_OTLP_PROTOCOL', parse, 'http/protobuf' as OtlpProtocol);
  return r.pick('otlp.protocol', undefined, check, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', parse, generic);
}

function resolveResourceAttributes(options: GatewayMetricsOptions, r: Resolver): Readonly<Attributes> {
  const out: Attributes = {};
  const raw = r.env.OTEL_RESOURCE_ATTRIBUTES;
  if (raw !== undefined && raw.trim() !== '') {
    const c = parseResourceAttributes(raw);
    if (c.ok) Object.assign(out, c.value);
    else r.warnEnv('OTEL_RESOURCE_ATTRIBUTES', raw, c.reason, {});
  }
  if (options.resourceAttributes !== undefined) {
    const o = optionalObject('resourceAttributes', options.resourceAttributes);
    for (const [k, v] of Object.entries(o)) {
      const okValue =
        typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
      if (!okValue) throw new ConfigError(`resourceAttributes.${k}`, v, 'must be a string, finite number or boolean');
      out[k] = v as string | number | boolean;
    }
  }
  return Object.freeze(out);
}

function warnUnknownGatewayEnv(env: Env): void {
  const known = new Set<string>(KNOWN_GATEWAY_ENV);
  for (const name of Object.keys(env)) {
    if (name.startsWith('GATEWAY_METRICS_') && !known.has(name)) {
      logger.warn(`unknown environment variable ${name} (typo?); known: ${KNOWN_GATEWAY_ENV.join(', ')}`);
    }
  }
}

const KNOWN_OPTIONS = new Set([
  'serviceName', 'resourceAttributes', 'prefix', 'buckets', 'healthCheckBuckets', 'sizeBuckets',
  'histogram', 'exporters', 'prometheus', 'statusPage', 'otlp', 'maxNodes', 'nodeIdleTtl', 'downAfterErrors',
  'http', 'exec', 'mcp', 'maxTools', 'inboundHttp', 'runtimeMetrics', 'processMetrics', 'handleSignals', 'globalMeterProvider',
]);
const KNOWN_PROMETHEUS = new Set(['host', 'port', 'path', 'statsPath', 'statusPath', 'auth']);
const KNOWN_STATUS_PAGE = new Set(['statsUrl', 'slowP95Seconds', 'errorPercent']);
const KNOWN_OTLP = new Set(['protocol', 'endpoint', 'headers', 'exportIntervalMillis', 'exportTimeoutMillis', 'temporality']);

function rejectUnknownKeys(option: string, o: Record<string, unknown>, known: Set<string>): void {
  for (const k of Object.keys(o)) {
    // The value is not shown: a misspelt `password` or `headers` may hold a secret.
    if (!known.has(k)) throw new ConfigError(option ? `${option}.${k}` : k, '[value not shown]', `unknown option; known: ${[...known].join(', ')}`);
  }
}

export function resolveConfig(options: GatewayMetricsOptions = {}, env: Env = process.env): ResolvedConfig {
  const opts = optionalObject('options', options) as GatewayMetricsOptions;
  rejectUnknownKeys('', opts as Record<string, unknown>, KNOWN_OPTIONS);
  const r = new Resolver(env);
  warnUnknownGatewayEnv(env);

  const sdkDisabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';

  const serviceName = r.pick<string | undefined>(
    'serviceName', opts.serviceName,
    v => (typeof v === 'string' && v !== '' ? ok(v) : bad('must be a non-empty string')),
    'OTEL_SERVICE_NAME', raw => ok(raw.trim()), undefined,
  );

  const prefix = r.pick('prefix', opts.prefix, checkPrefix, 'GATEWAY_METRICS_PREFIX', raw => {
    const c = checkPrefix(raw.trim());
    if (c.ok) return c;
    const fixed = sanitizeName(raw.trim());
    logger.warn(`GATEWAY_METRICS_PREFIX=${describe(raw)} has characters Prometheus names cannot hold; using ${describe(fixed)}`);
    return ok(fixed);
  }, '');

  const buckets = r.pick('buckets', opts.buckets, checkBuckets, 'GATEWAY_METRICS_DURATION_BUCKETS', parseBucketList, DEFAULT_DURATION_BUCKETS);
  const healthCheckBuckets = r.pick('healthCheckBuckets', opts.healthCheckBuckets, checkBuckets, 'GATEWAY_METRICS_HEALTH_CHECK_BUCKETS', parseBucketList, DEFAULT_HEALTH_CHECK_BUCKETS);
  const sizeBuckets = r.pick('sizeBuckets', opts.sizeBuckets, checkBuckets, 'GATEWAY_METRICS_SIZE_BUCKETS', parseBucketList, DEFAULT_SIZE_BUCKETS);
  const histogram = r.pick('histogram', opts.histogram, checkOneOf(HISTOGRAMS), 'GATEWAY_METRICS_HISTOGRAM', raw => checkOneOf(HISTOGRAMS)(raw.trim().toLowerCase()), 'explicit' as HistogramMode);

  const exporters = resolveExporters(opts, r);

  const p = optionalObject('prometheus', opts.prometheus);
  rejectUnknownKeys('prometheus', p, KNOWN_PROMETHEUS);
  const host = r.pick('prometheus.host', p.host,
    checkHost, 'OTEL_EXPORTER_PROMETHEUS_HOST', raw => checkHost(raw.trim()), DEFAULT_PROMETHEUS_HOST);
  let port = r.pick<number | false>('prometheus.port', p.port, checkPort, 'OTEL_EXPORTER_PROMETHEUS_PORT', raw => {
    const c = parseEnvInt(raw);
    return c.ok ? checkPort(c.value) : bad('must be an integer 0-65535');
  }, DEFAULT_PROMETHEUS_PORT);
  if (p.port === undefined) {
    const listen = r.pick('prometheus.listen', undefined, checkBool, 'GATEWAY_METRICS_PROMETHEUS_LISTEN', parseEnvBool, true);
    if (!listen) port = false;
  }
  const path = r.pick('prometheus.path', p.path, checkPath, 'GATEWAY_METRICS_PROMETHEUS_PATH', raw => checkPath(raw.trim()), '/metrics');
  const statsPath = r.pick<string | false>('prometheus.statsPath', p.statsPath,
    v => (v === false ? ok(false) : checkPath(v)), 'GATEWAY_METRICS_STATS_PATH',
    raw => (raw.trim().toLowerCase() === 'false' ? ok(false) : checkPath(raw.trim())), '/stats');
  let statsPathFinal = statsPath;
  if (statsPath !== false && statsPath === path) {
    const fromEnv = (option: unknown, name: string) => option === undefined && (env[name] ?? '').trim() !== '';
    if (!fromEnv(p.path, 'GATEWAY_METRICS_PROMETHEUS_PATH') && !fromEnv(p.statsPath, 'GATEWAY_METRICS_STATS_PATH')) {
      throw new ConfigError('prometheus.statsPath', statsPath, 'must differ from prometheus.path');
    }
    // One of the two came from the environment: warn, never stop the app.
    logger.warn(`the stats path and the metrics path are both ${describe(statsPath)}; serving metrics there and no stats view`);
    statsPathFinal = false;
  }
  const statusPathPicked = r.pick<string | false>('prometheus.statusPath', p.statusPath,
    v => (v === false ? ok(false) : checkPath(v)), 'GATEWAY_METRICS_STATUS_PATH',
    raw => (raw.trim().toLowerCase() === 'false' ? ok(false) : checkPath(raw.trim())), '/');
  let statusPath = statusPathPicked;
  if (statusPath !== false && (statusPath === path || statusPath === statsPathFinal)) {
    const other = statusPath === path ? 'prometheus.path' : 'prometheus.statsPath';
    if (p.statusPath !== undefined) throw new ConfigError('prometheus.statusPath', statusPath, `must differ from ${other}`);
    // From the environment: warn, never stop the app. The default `/` yields
    // silently to a metrics or stats path set to `/`.
    if ((env.GATEWAY_METRICS_STATUS_PATH ?? '').trim() !== '') {
      logger.warn(`the status page path and ${other} are both ${describe(statusPath)}; serving no status page on our listener`);
    }
    statusPath = false;
  }
  const auth = r.pick<PrometheusAuth | undefined>('prometheus.auth', p.auth, checkAuth, 'GATEWAY_METRICS_AUTH_TOKEN',
    raw => (/^\S+$/.test(raw.trim()) ? ok(Object.freeze({ token: raw.trim() })) : bad('must be one word (no whitespace)')), undefined);

  const sp = optionalObject('statusPage', opts.statusPage);
  rejectUnknownKeys('statusPage', sp, KNOWN_STATUS_PAGE);
  const statsUrl = r.pick('statusPage.statsUrl', sp.statsUrl, checkSameOriginRef, undefined, undefined, 'stats');
  const seconds = checkThreshold(86_400);
  const slowP95Seconds = r.pick('statusPage.slowP95Seconds', sp.slowP95Seconds, seconds,
    'GATEWAY_METRICS_STATUS_SLOW_P95', parseEnvNumber(seconds), DEFAULT_STATUS_SLOW_P95_SECONDS);
  const percent = checkThreshold(100);
  const errorPercent = r.pick('statusPage.errorPercent', sp.errorPercent, percent,
    'GATEWAY_METRICS_STATUS_ERROR_PERCENT', parseEnvNumber(percent), DEFAULT_STATUS_ERROR_PERCENT);

  const o = optionalObject('otlp', opts.otlp);
  rejectUnknownKeys('otlp', o, KNOWN_OTLP);
  const protocol = resolveProtocol(o.protocol, r);
  const endpoint = r.pick<string | undefined>('otlp.endpoint', o.endpoint, v => {
    if (typeof v !== 'string') return bad('must be a URL string');
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:' ? ok(v) : bad('must be an http(s) URL');
    } catch {
      return bad('must be a URL');
    }
  }, undefined, undefined, undefined);
  let headers: Readonly<Record<string, string>> | undefined;
  if (o.headers !== undefined) {
    const h = optionalObject('otlp.headers', o.headers);
    for (const [k, v] of Object.entries(h)) {
      if (typeof v !== 'string') throw new ConfigError(`otlp.headers.${k}`, '[redacted]', 'header values must be strings');
    }
    headers = Object.freeze({ ...(h as Record<string, string>) });
  }
  const positiveMs = (v: unknown) => checkPositiveInt(v);
  const exportIntervalMillis = r.pick('otlp.exportIntervalMillis', o.exportIntervalMillis, positiveMs,
    'OTEL_METRIC_EXPORT_INTERVAL', intEnv(positiveMs), DEFAULT_EXPORT_INTERVAL_MS);
  let exportTimeoutMillis = r.pick('otlp.exportTimeoutMillis', o.exportTimeoutMillis, positiveMs,
    'OTEL_METRIC_EXPORT_TIMEOUT', intEnv(positiveMs), DEFAULT_EXPORT_TIMEOUT_MS);
  if (exportTimeoutMillis > exportIntervalMillis) {
    if (o.exportTimeoutMillis !== undefined && o.exportIntervalMillis !== undefined) {
      throw new ConfigError('otlp.exportTimeoutMillis', exportTimeoutMillis, `must not exceed otlp.exportIntervalMillis (${exportIntervalMillis})`);
    }
    // The SDK reader clamps the same way (PeriodicExportingMetricReader).
    exportTimeoutMillis = exportIntervalMillis;
  }
  const temporality = r.pick('otlp.temporality', o.temporality, checkOneOf(TEMPORALITIES),
    'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', raw => checkOneOf(TEMPORALITIES)(raw.trim().toLowerCase()),
    'cumulative' as TemporalityPreference);

  const nodeCount = (v: unknown) => checkPositiveInt(v, 1_000_000);
  const maxNodes = r.pick('maxNodes', opts.maxNodes, nodeCount, 'GATEWAY_METRICS_MAX_NODES', intEnv(nodeCount), DEFAULT_MAX_NODES);
  const ttl = (v: unknown) => checkNonNegInt(v);
  const nodeIdleTtl = r.pick('nodeIdleTtl', opts.nodeIdleTtl, ttl, 'GATEWAY_METRICS_NODE_IDLE_TTL', intEnv(ttl), DEFAULT_NODE_IDLE_TTL_MS);
  const errorCount = (v: unknown) => checkNonNegInt(v, 1_000_000);
  const downAfterErrors = r.pick('downAfterErrors', opts.downAfterErrors, errorCount,
    'GATEWAY_METRICS_DOWN_AFTER_ERRORS', intEnv(errorCount), 0);

  const http = resolveHttp(opts.http, r);
  const exec = resolveExec(opts.exec, r);
  const mcp = resolveMcp(opts.mcp, r);
  const toolCount = (v: unknown) => checkPositiveInt(v, 100_000);
  const maxTools = r.pick('maxTools', opts.maxTools, toolCount, 'GATEWAY_METRICS_MAX_TOOLS', intEnv(toolCount), DEFAULT_MAX_TOOLS);
  const inboundHttp = r.pick('inboundHttp', opts.inboundHttp, checkBool, 'GATEWAY_METRICS_INBOUND_HTTP', parseEnvBool, false);
  const runtimeMetrics = r.pick('runtimeMetrics', opts.runtimeMetrics, checkBool, 'GATEWAY_METRICS_RUNTIME_METRICS', parseEnvBool, true);
  const processMetrics = r.pick('processMetrics', opts.processMetrics, checkBool, 'GATEWAY_METRICS_PROCESS_METRICS', parseEnvBool, true);
  const handleSignals = r.pick('handleSignals', opts.handleSignals, checkBool, 'GATEWAY_METRICS_HANDLE_SIGNALS', parseEnvBool, false);
  const globalMeterProvider = r.pick('globalMeterProvider', opts.globalMeterProvider, checkBool,
    'GATEWAY_METRICS_GLOBAL_METER_PROVIDER', parseEnvBool, false);
  const resourceAttributes = resolveResourceAttributes(opts, r);

  return Object.freeze({
    sdkDisabled,
    serviceName,
    resourceAttributes,
    prefix,
    buckets,
    healthCheckBuckets,
    sizeBuckets,
    histogram,
    exporters,
    prometheus: Object.freeze({ host, port, path, statsPath: statsPathFinal, statusPath, auth }),
    statusPage: Object.freeze({ statsUrl, slowP95Seconds, errorPercent }),
    otlp: Object.freeze({ protocol, endpoint, headers, exportIntervalMillis, exportTimeoutMillis, temporality }),
    maxNodes,
    nodeIdleTtl,
    downAfterErrors,
    http,
    exec,
    mcp,
    maxTools,
    inboundHttp,
    runtimeMetrics,
    processMetrics,
    handleSignals,
    globalMeterProvider,
  });
}
