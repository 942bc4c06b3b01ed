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
import {
  EXPORTERS,
  HOST_PORT_RE,
  PROTOCOLS,
  checkExporters,
  checkOneOf,
  bad,
  ok,
  parseHostPortNodes,
  parseResourceAttributes,
  redact,
  sanitizeName,
  checkPrefix,
  type Check,
} from './checks';
import { logger, describe } from '../core/diag';
import { KNOWN_GATEWAY_ENV, O, knownKeys, type OptionRow } from './options';
import type { ViewOptions } from '@opentelemetry/sdk-metrics';
import { GRPC_EXPORTER, INBOUND_HTTP, isInstalled, missingReason } from './optional';
import type { ExecPathOptions, ExporterName, GatewayMetricsOptions, HistogramMode, HttpPathOptions, McpOptions, OtlpProtocol, PrometheusAuth, TemporalityPreference } from '../types';

export {
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_HEALTH_CHECK_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  DEFAULT_MAX_NODES,
  DEFAULT_NODE_IDLE_TTL_MS,
  DEFAULT_PROMETHEUS_HOST,
  DEFAULT_PROMETHEUS_PORT,
  DEFAULT_EXPORT_INTERVAL_MS,
  DEFAULT_EXPORT_TIMEOUT_MS,
  DEFAULT_STATUS_SLOW_P95_SECONDS,
  DEFAULT_STATUS_ERROR_PERCENT,
  DEFAULT_MAX_TOOLS,
  DEFAULT_MCP_REQUEST_TIMEOUT_MS,
  KNOWN_GATEWAY_ENV,
} from './options';
export { checkBuckets, checkPrefix, sanitizeName, parseHostPortNodes, parseResourceAttributes } from './checks';

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
  readonly views: readonly ViewOptions[];
  readonly exporters: readonly ExporterName[];
  readonly prometheus: {
    readonly host: string;
    readonly port: number | false;
    readonly path: string;
    readonly statsPath: string | false;
    readonly statusPath: string | false;
    readonly auth: Readonly<PrometheusAuth> | undefined;
    readonly withoutScopeInfo: boolean;
    readonly classicHistograms: boolean;
    readonly exemplars: boolean;
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
  /** The JSON-RPC observation (protocols/mcp.ts), or undefined when it is off. */
  readonly mcp: { readonly requestTimeoutMs: number } | undefined;
  readonly maxTools: number;
  /** The LLM API reading (protocols/llm.ts) is on. */
  readonly llm: boolean;
  readonly maxModels: number;
  readonly inboundHttp: boolean;
  readonly runtimeMetrics: boolean;
  readonly processMetrics: boolean;
  readonly handleSignals: boolean;
  readonly globalMeterProvider: boolean;
  /** Multi-process gateways, or undefined when off. */
  readonly cluster: { readonly dir: string | undefined } | undefined;
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

  /** A plain leaf of the option table: its check, its first env var, its default. */
  leaf<T>(row: OptionRow<T>, value: unknown, fallback: T = row.default as T): T {
    return this.pick(row.option, value, row.check!, row.env[0], row.parseEnv, fallback);
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

/**
 * A value given in code for a plain leaf of the option table (no env var):
 * the default when undefined, a ConfigError naming the option when bad. Used
 * by createGatewayMetrics() and gatewayViews(), so they hold an option to the
 * same limits as register().
 */
export function checkOption<T>(row: OptionRow<T>, value: unknown): T {
  if (value === undefined) return row.default as T;
  const c = row.check!(value);
  if (!c.ok) throw new ConfigError(row.option, redact(row.option, value), c.reason);
  return c.value;
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
    rejectUnknownKeys('http', o as Record<string, unknown>, knownKeys('http'));
  } else if (!r.leaf(O.http, undefined)) {
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
    const envName = O.httpNodeFor.env[0]!;
    const raw = r.env[envName];
    if (raw !== undefined && raw.trim() !== '') {
      const c = parseHostPortNodes(raw);
      if (c.ok) {
        mode = 'map';
        hostPortMap = c.value;
      } else {
        r.warnEnv(envName, raw, c.reason, 'zero-config (node = host:port)');
      }
    }
  }
  if (o.isError !== undefined) {
    if (typeof o.isError !== 'function') throw new ConfigError('http.isError', o.isError, 'must be a function');
    isError = o.isError;
  }
  const sizes = r.leaf(O.httpSizes, o.sizes);
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
    const on = r.leaf(O.exec, undefined);
    return on ? Object.freeze({}) : undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('exec', value, 'must be an object { nodeFor? }, or false to turn the exec path off (omit it for zero config)');
  }
  const o = value as Partial<ExecPathOptions>;
  rejectUnknownKeys('exec', o as Record<string, unknown>, knownKeys('exec'));
  if (o.nodeFor === undefined) return Object.freeze({});
  if (typeof o.nodeFor !== 'function') {
    throw new ConfigError('exec.nodeFor', o.nodeFor, 'must be a function (file, args, defaultNode) => node | undefined');
  }
  return Object.freeze({ nodeFor: o.nodeFor });
}

function resolveMcp(value: unknown, r: Resolver): { readonly requestTimeoutMs: number } | undefined {
  if (value === false) return undefined;
  if (value === undefined) {
    if (!r.leaf(O.mcp, undefined)) return undefined;
  } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('mcp', value, 'must be an object { requestTimeoutMs? }, or false to turn the JSON-RPC observation off');
  }
  const o = (value ?? {}) as Partial<McpOptions>;
  rejectUnknownKeys('mcp', o as Record<string, unknown>, knownKeys('mcp'));
  return Object.freeze({ requestTimeoutMs: r.leaf(O.mcpRequestTimeout, o.requestTimeoutMs) });
}

function resolveCluster(value: unknown, r: Resolver): { readonly dir: string | undefined } | undefined {
  if (value === false) return undefined;
  if (value === undefined) {
    if (!r.leaf(O.cluster, undefined)) return undefined;
  } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('cluster', value, 'must be an object { dir? }, or false to serve each worker\'s own numbers');
  }
  const o = (value ?? {}) as Record<string, unknown>;
  rejectUnknownKeys('cluster', o, knownKeys('cluster'));
  return Object.freeze({ dir: r.leaf(O.clusterDir, o.dir) });
}

function resolveExporters(options: GatewayMetricsOptions, r: Resolver): readonly ExporterName[] {
  if (options.exporters !== undefined) {
    const c = checkExporters(options.exporters);
    if (!c.ok) throw new ConfigError('exporters', options.exporters, c.reason);
    return c.value;
  }
  const raw = r.env[O.exporters.env[0]!];
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

/**
 * `used`: the OTLP exporter is on, so the protocol's exporter package must be
 * installed (grpc is an optional peer): missing, an option fails fast and an
 * env var warns and falls back.
 */
function resolveProtocol(value: unknown, r: Resolver, used: boolean): OtlpProtocol {
  const check = checkOneOf(PROTOCOLS);
  const [specific, generic] = O.otlpProtocol.env as [string, string];
  const usable = (p: OtlpProtocol) => !used || p !== 'grpc' || isInstalled(GRPC_EXPORTER.name);
  if (value !== undefined) {
    const p = r.pick(O.otlpProtocol.option, value, check, undefined, undefined, 'http/protobuf');
    if (!usable(p)) throw new ConfigError(O.otlpProtocol.option, value, missingReason(GRPC_EXPORTER));
    return p;
  }
  const parse = (raw: string) => check(raw.trim().toLowerCase());
  // The signal-specific variable wins; a bad one falls back to the generic one.
  let fromGeneric = r.pick(O.otlpProtocol.option, undefined, check, generic, parse, 'http/protobuf' as OtlpProtocol);
  if (!usable(fromGeneric)) {
    r.warnEnv(generic, r.env[generic]!, missingReason(GRPC_EXPORTER), 'http/protobuf');
    fromGeneric = 'http/protobuf';
  }
  const p = r.pick(O.otlpProtocol.option, undefined, check, specific, parse, fromGeneric);
  if (usable(p)) return p;
  r.warnEnv(specific, r.env[specific]!, missingReason(GRPC_EXPORTER), fromGeneric);
  return fromGeneric;
}

/** `inboundHttp` needs instrumentation-http (an optional peer): missing, the option fails fast, the env var warns. */
function resolveInboundHttp(value: unknown, r: Resolver, sdkDisabled: boolean): boolean {
  const on = r.leaf(O.inboundHttp, value);
  if (!on || sdkDisabled || isInstalled(INBOUND_HTTP.name)) return on;
  if (value !== undefined) throw new ConfigError(O.inboundHttp.option, value, missingReason(INBOUND_HTTP));
  const envName = O.inboundHttp.env[0]!;
  r.warnEnv(envName, r.env[envName]!, missingReason(INBOUND_HTTP), false);
  return false;
}

function resolveResourceAttributes(options: GatewayMetricsOptions, r: Resolver): Readonly<Attributes> {
  const out: Attributes = {};
  const envName = O.resourceAttributes.env[0]!;
  const raw = r.env[envName];
  if (raw !== undefined && raw.trim() !== '') {
    const c = parseResourceAttributes(raw);
    if (c.ok) Object.assign(out, c.value);
    else r.warnEnv(envName, raw, c.reason, {});
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

function rejectUnknownKeys(option: string, o: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const k of Object.keys(o)) {
    // The value is not shown: a misspelt `password` or `headers` may hold a secret.
    if (!known.has(k)) throw new ConfigError(option ? `${option}.${k}` : k, '[value not shown]', `unknown option; known: ${[...known].join(', ')}`);
  }
}

export function resolveConfig(options: GatewayMetricsOptions = {}, env: Env = process.env): ResolvedConfig {
  const opts = optionalObject('options', options) as GatewayMetricsOptions;
  rejectUnknownKeys('', opts as Record<string, unknown>, knownKeys(''));
  const r = new Resolver(env);
  warnUnknownGatewayEnv(env);

  const sdkDisabled = env[O.sdkDisabled.env[0]!]?.trim().toLowerCase() === 'true';
  const serviceName = r.leaf(O.serviceName, opts.serviceName);
  const prefix = r.pick(O.prefix.option, opts.prefix, checkPrefix, O.prefix.env[0], raw => {
    const c = checkPrefix(raw.trim());
    if (c.ok) return c;
    const fixed = sanitizeName(raw.trim());
    logger.warn(`${O.prefix.env[0]}=${describe(raw)} has characters Prometheus names cannot hold; using ${describe(fixed)}`);
    return ok(fixed);
  }, '');
  const buckets = r.leaf(O.buckets, opts.buckets);
  const healthCheckBuckets = r.leaf(O.healthCheckBuckets, opts.healthCheckBuckets);
  const sizeBuckets = r.leaf(O.sizeBuckets, opts.sizeBuckets);
  const histogram = r.leaf(O.histogram, opts.histogram);
  const views = r.leaf(O.views, opts.views);

  const exporters = resolveExporters(opts, r);

  const p = optionalObject('prometheus', opts.prometheus);
  rejectUnknownKeys('prometheus', p, knownKeys('prometheus'));
  const host = r.leaf(O.prometheusHost, p.host);
  let port = r.leaf(O.prometheusPort, p.port);
  if (p.port === undefined && !r.leaf(O.prometheusListen, undefined)) port = false;
  const path = r.leaf(O.prometheusPath, p.path);
  const statsPath = r.leaf(O.statsPath, p.statsPath);
  let statsPathFinal = statsPath;
  if (statsPath !== false && statsPath === path) {
    const fromEnv = (option: unknown, row: OptionRow) => option === undefined && (env[row.env[0]!] ?? '').trim() !== '';
    if (!fromEnv(p.path, O.prometheusPath) && !fromEnv(p.statsPath, O.statsPath)) {
      throw new ConfigError(O.statsPath.option, statsPath, `must differ from ${O.prometheusPath.option}`);
    }
    // One of the two came from the environment: warn, never stop the app.
    logger.warn(`the stats path and the metrics path are both ${describe(statsPath)}; serving metrics there and no stats view`);
    statsPathFinal = false;
  }
  let statusPath = r.leaf(O.statusPath, p.statusPath);
  if (statusPath !== false && (statusPath === path || statusPath === statsPathFinal)) {
    const other = statusPath === path ? O.prometheusPath.option : O.statsPath.option;
    if (p.statusPath !== undefined) throw new ConfigError(O.statusPath.option, statusPath, `must differ from ${other}`);
    // From the environment: warn, never stop the app. The default `/` yields
    // silently to a metrics or stats path set to `/`.
    if ((env[O.statusPath.env[0]!] ?? '').trim() !== '') {
      logger.warn(`the status page path and ${other} are both ${describe(statusPath)}; serving no status page on our listener`);
    }
    statusPath = false;
  }
  const auth = r.leaf(O.auth, p.auth);
  const withoutScopeInfo = r.leaf(O.withoutScopeInfo, p.withoutScopeInfo);
  const classicHistograms = r.leaf(O.classicHistograms, p.classicHistograms);
  const exemplars = r.leaf(O.exemplars, p.exemplars);

  const sp = optionalObject('statusPage', opts.statusPage);
  rejectUnknownKeys('statusPage', sp, knownKeys('statusPage'));
  const statsUrl = r.leaf(O.statsUrl, sp.statsUrl);
  const slowP95Seconds = r.leaf(O.slowP95Seconds, sp.slowP95Seconds);
  const errorPercent = r.leaf(O.errorPercent, sp.errorPercent);

  const o = optionalObject('otlp', opts.otlp);
  rejectUnknownKeys('otlp', o, knownKeys('otlp'));
  const protocol = resolveProtocol(o.protocol, r, exporters.includes('otlp') && !sdkDisabled);
  const endpoint = r.pick<string | undefined>(O.otlpEndpoint.option, o.endpoint, v => {
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
    const h = optionalObject(O.otlpHeaders.option, o.headers);
    for (const [k, v] of Object.entries(h)) {
      if (typeof v !== 'string') throw new ConfigError(`${O.otlpHeaders.option}.${k}`, '[redacted]', 'header values must be strings');
    }
    headers = Object.freeze({ ...(h as Record<string, string>) });
  }
  const exportIntervalMillis = r.leaf(O.exportIntervalMillis, o.exportIntervalMillis);
  let exportTimeoutMillis = r.leaf(O.exportTimeoutMillis, o.exportTimeoutMillis);
  if (exportTimeoutMillis > exportIntervalMillis) {
    if (o.exportTimeoutMillis !== undefined && o.exportIntervalMillis !== undefined) {
      throw new ConfigError(O.exportTimeoutMillis.option, exportTimeoutMillis, `must not exceed ${O.exportIntervalMillis.option} (${exportIntervalMillis})`);
    }
    // The SDK reader clamps the same way (PeriodicExportingMetricReader).
    exportTimeoutMillis = exportIntervalMillis;
  }
  const temporality = r.leaf(O.temporality, o.temporality);

  const maxNodes = r.leaf(O.maxNodes, opts.maxNodes);
  const nodeIdleTtl = r.leaf(O.nodeIdleTtl, opts.nodeIdleTtl);
  const downAfterErrors = r.leaf(O.downAfterErrors, opts.downAfterErrors);

  const http = resolveHttp(opts.http, r);
  const exec = resolveExec(opts.exec, r);
  const mcp = resolveMcp(opts.mcp, r);
  const maxTools = r.leaf(O.maxTools, opts.maxTools);
  const llm = r.leaf(O.llm, opts.llm);
  const maxModels = r.leaf(O.maxModels, opts.maxModels);
  const inboundHttp = resolveInboundHttp(opts.inboundHttp, r, sdkDisabled);
  const runtimeMetrics = r.leaf(O.runtimeMetrics, opts.runtimeMetrics);
  const processMetrics = r.leaf(O.processMetrics, opts.processMetrics);
  const handleSignals = r.leaf(O.handleSignals, opts.handleSignals);
  const globalMeterProvider = r.leaf(O.globalMeterProvider, opts.globalMeterProvider);
  const resourceAttributes = resolveResourceAttributes(opts, r);
  const cluster = resolveCluster(opts.cluster, r);

  return Object.freeze({
    sdkDisabled,
    serviceName,
    resourceAttributes,
    prefix,
    buckets,
    healthCheckBuckets,
    sizeBuckets,
    histogram,
    views,
    exporters,
    prometheus: Object.freeze({ host, port, path, statsPath: statsPathFinal, statusPath, auth, withoutScopeInfo, classicHistograms, exemplars }),
    statusPage: Object.freeze({ statsUrl, slowP95Seconds, errorPercent }),
    otlp: Object.freeze({ protocol, endpoint, headers, exportIntervalMillis, exportTimeoutMillis, temporality }),
    maxNodes,
    nodeIdleTtl,
    downAfterErrors,
    http,
    exec,
    mcp,
    maxTools,
    llm,
    maxModels,
    inboundHttp,
    runtimeMetrics,
    processMetrics,
    handleSignals,
    globalMeterProvider,
    cluster,
  });
}
