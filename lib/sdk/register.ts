/**
 * register(): the one place that builds an SDK MeterProvider, touches OTel
 * globals, starts listeners and installs process hooks.
 */
import type * as http from 'node:http';
import { metrics as otelMetrics, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  ConsoleMetricExporter,
  InstrumentType,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type AggregationOption,
  type IMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { resolveConfig, type ResolvedConfig } from '../config/resolve';
import { GRPC_EXPORTER } from '../config/optional';
import { logger, describe, RateLimitedWarner } from '../core/diag';
import type { HttpPath, OwnEndpoint } from '../paths/http';
import type { AutomaticPath } from '../paths/path';
import { createGatewayMetrics, GatewayMetrics } from '../core/gateway-metrics';
import { protocolsFor } from '../protocols';
import type { Protocol } from '../protocols/protocol';
import { SeriesStore, type StoreReader } from '../store/store';
import { SCOPE_NAME } from '../core/semconv';
import type { GatewayStats } from '../export/stats';
import type { HealthChecker, HealthCheckOptions } from './health';
import { callWithTimeout } from '../core/timeout';
import type { GatewayMetricsOptions, OtlpProtocol, TemporalityPreference } from '../types';
import { gatewayViews } from '../export/views';
import { VERSION } from '../core/version';
import { joinCluster, pm2Env, yieldPortToWorkers, type ClusterWorker } from '../cluster';

/**
 * What only a registration uses, loaded by the first register() rather than by
 * require('otel-gateway-metrics'): the endpoint (node:http, zlib, crypto, the
 * status page), the exec path (it brings @opentelemetry/instrumentation and
 * its module hooks), the HTTP path, stats and health checks. Loading them up
 * front made require() ×1.4 the time of requiring the stock sdk-metrics +
 * exporter-prometheus pair (bench/footprint.js). Each getter loads its module
 * on first use, so a part that is off is never loaded.
 */
const lazy = {
  get crypto() { return require('node:crypto') as typeof import('node:crypto'); },
  get os() { return require('node:os') as typeof import('node:os'); },
  get endpoint() { return require('../export/endpoint') as typeof import('../export/endpoint'); },
  get exposition() { return require('../export/exposition') as typeof import('../export/exposition'); },
  get stats() { return require('../export/stats') as typeof import('../export/stats'); },
  get exec() { return require('../paths/exec') as typeof import('../paths/exec'); },
  get http() { return require('../paths/http') as typeof import('../paths/http'); },
  get health() { return require('./health') as typeof import('./health'); },
  get hooks() { return require('./process-hooks') as typeof import('./process-hooks'); },
  get processMetrics() { return require('./process-metrics') as typeof import('./process-metrics'); },
};

export interface GatewayOtel {
  /** Resolves once every exporter and endpoint is up; rejects (e.g. port in use) with a clear error. */
  readonly ready: Promise<void>;
  /** Gateway metrics bound to `meterProvider`. */
  readonly metrics: GatewayMetrics;
  readonly meterProvider: MeterProvider;
  /** `http://host:port/path` of our own listener, once `ready` (undefined when there is none). */
  readonly prometheusUrl: string | undefined;
  /** Serve the exposition from your own server (Express, Fastify, http.createServer). */
  readonly metricsHandler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Serve the JSON stats view from your own server. */
  readonly statsHandler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /**
   * Serve the live HTML status page from your own server. The page reads the
   * stats from `statusPage.statsUrl` (default `stats`: mount `statsHandler` at
   * the sibling path), with the same auth as the metrics.
   */
  readonly statusHandler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** The configuration in force. */
  readonly config: ResolvedConfig;
  /** The stats view's data. */
  stats(): Promise<GatewayStats>;
  /** Run health checks on an unref'd timer, stopped by shutdown(). Returns a stop function. */
  startHealthChecks(options: HealthCheckOptions): () => void;
  /**
   * Export now through every push exporter. Never rejects: a failure or a wait
   * longer than `timeoutMillis` (default `otlp.exportTimeoutMillis`) is a warning.
   */
  forceFlush(options?: { timeoutMillis?: number }): Promise<void>;
  /**
   * Flush, stop listeners, timers and patches. Idempotent, never rejects. The
   * wait is bounded by `timeoutMillis` (default `otlp.exportTimeoutMillis`);
   * the shutdown itself goes on after it.
   */
  shutdown(options?: { timeoutMillis?: number }): Promise<void>;
}

const GLOBAL_KEY = Symbol.for('otel-gateway-metrics');

interface GlobalState {
  handle: GatewayOtel | undefined;
  fallback: { provider: ApiMeterProvider; metrics: GatewayMetrics } | undefined;
}

/** One registration per process, even when the CJS and ESM builds are both loaded. */
function globalState(): GlobalState {
  const g = globalThis as Record<symbol, unknown>;
  return (g[GLOBAL_KEY] ??= { handle: undefined, fallback: undefined }) as GlobalState;
}

/** The handle of this process's registration (e.g. made by the --require entry), if any. */
export function getGatewayOtel(): GatewayOtel | undefined {
  return globalState().handle;
}

/**
 * The registered gateway metrics, or (before/without register()) an instance
 * on the global MeterProvider.
 */
export function getGatewayMetrics(): GatewayMetrics {
  const state = globalState();
  if (state.handle !== undefined) return state.handle.metrics;
  const provider = otelMetrics.getMeterProvider();
  if (state.fallback === undefined || state.fallback.provider !== provider) {
    state.fallback?.metrics.dispose();
    state.fallback = { provider, metrics: createGatewayMetrics({ meterProvider: provider }) };
  }
  return state.fallback.metrics;
}

function loadOtlpExporter(protocol: OtlpProtocol, config: ResolvedConfig): PushMetricExporter {
  // `native` is exponential for OTLP too (the Collector and Prometheus's OTLP receiver make native histograms of them).
  const exponential = config.histogram !== 'explicit';
  const options = {
    ...(config.otlp.endpoint !== undefined ? { url: config.otlp.endpoint } : {}),
    ...(config.otlp.headers !== undefined ? { headers: { ...config.otlp.headers } } : {}),
    timeoutMillis: config.otlp.exportTimeoutMillis,
    temporalityPreference: temporalityOf(config.otlp.temporality),
    // Exponential histograms are chosen per reader, not by a global View: only the OTLP
    // reader gets them; the duration instruments have no View in this mode.
    ...(exponential
      ? {
          aggregationPreference: (type: InstrumentType) =>
            type === InstrumentType.HISTOGRAM
              ? { type: AggregationType.EXPONENTIAL_HISTOGRAM as const, options: { recordMinMax: true } }
              : { type: AggregationType.DEFAULT as const },
        }
      : {}),
  };
  // Loaded lazily: the gRPC exporter pulls in @grpc/grpc-js.
  switch (protocol) {
    case 'grpc': {
      const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc');
      // The gRPC exporter ignores `headers`; it takes gRPC metadata.
      const { headers, ...rest } = options as typeof options & { headers?: Record<string, string> };
      if (headers === undefined) return new OTLPMetricExporter(rest);
      const metadata = new (grpcMetadata())();
      for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
      return new OTLPMetricExporter({ ...rest, metadata });
    }
    case 'http/json': {
      const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http') as typeof import('@opentelemetry/exporter-metrics-otlp-http');
      return new OTLPMetricExporter(options);
    }
    default: {
      const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-proto') as typeof import('@opentelemetry/exporter-metrics-otlp-proto');
      return new OTLPMetricExporter(options);
    }
  }
}

/**
 * The Prometheus pull reader: cumulative, for what the SDK still holds
 * (runtime and process metrics, the app's own instruments when our provider
 * is the global one). Our own series are read from the store by the
 * serializer directly.
 */
class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const CUMULATIVE_DEFAULT: StoreReader = {
  temporality: () => AggregationTemporality.CUMULATIVE,
  aggregation: () => ({ type: AggregationType.DEFAULT }),
};

/**
 * The Prometheus endpoint's view of the store with native histograms: the
 * histograms no View fixes (the durations) keep exponential cells for it,
 * served as native histograms in the protobuf format; the explicit buckets
 * stay beside them for the text formats.
 */
const CUMULATIVE_NATIVE: StoreReader = {
  temporality: () => AggregationTemporality.CUMULATIVE,
  aggregation: type =>
    type === InstrumentType.HISTOGRAM ? { type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { recordMinMax: true } } : { type: AggregationType.DEFAULT },
};

/** A push exporter's own selectors, as the store reads them. */
function storeReaderOf(exporter: PushMetricExporter): StoreReader {
  return {
    temporality: type => exporter.selectAggregationTemporality?.(type) ?? AggregationTemporality.CUMULATIVE,
    aggregation: type => exporter.selectAggregation?.(type) ?? ({ type: AggregationType.DEFAULT } as AggregationOption),
  };
}

/**
 * grpc-js's Metadata class, from the copy the gRPC exporter itself loads
 * (@grpc/grpc-js is its dependency, not ours: npm may nest it under the
 * exporter's base package), else from wherever our own require() finds one.
 */
function grpcMetadata(): typeof import('@grpc/grpc-js').Metadata {
  try {
    const { createRequire } = require('node:module') as typeof import('node:module');
    const fromExporter = createRequire(require.resolve(GRPC_EXPORTER.name));
    const fromBase = createRequire(fromExporter.resolve('@opentelemetry/otlp-grpc-exporter-base'));
    return (fromBase('@grpc/grpc-js') as typeof import('@grpc/grpc-js')).Metadata;
  } catch {
    return (require('@grpc/grpc-js') as typeof import('@grpc/grpc-js')).Metadata;
  }
}

function temporalityOf(t: TemporalityPreference): number {
  // AggregationTemporalityPreference in exporter-metrics-otlp-http: DELTA 0, CUMULATIVE 1, LOWMEMORY 2.
  return t === 'delta' ? 0 : t === 'lowmemory' ? 2 : 1;
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The startup line that says how outbound HTTP calls are attributed. */
export function httpModeLine(config: ResolvedConfig): string {
  const http = config.http;
  if (http === undefined) return 'HTTP path: off (http: false or GATEWAY_METRICS_HTTP=false)';
  switch (http.mode) {
    case 'zero-config':
      return 'HTTP path: zero config, every outbound HTTP call is recorded with node="host:port" of its destination (http.nodeFor refines, http: false turns it off)';
    case 'nodeFor':
      return 'HTTP path: http.nodeFor names each call\'s node; calls it maps to undefined are not recorded';
    default:
      return `HTTP path: a map of ${http.hostPortMap?.size ?? 0} host:port destination(s); unmapped calls are not recorded`;
  }
}

/**
 * Our own listener as an outbound destination (a scrape of our endpoint from
 * this process): its port on any local name or address.
 */
function ownEndpoint(host: string, port: number): OwnEndpoint {
  const { keyHost } = lazy.http;
  const { hostname, networkInterfaces } = lazy.os;
  const local = new Set<string>(['localhost', '127.0.0.1', '[::1]', '0.0.0.0', '[::]', keyHost(host)]);
  try {
    local.add(keyHost(hostname()));
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) local.add(keyHost(a.address));
    }
  } catch {
    // Interfaces unreadable (sandbox): the loopback names above remain.
  }
  const p = String(port);
  return (h, q) => q === p && (local.has(h) || h.startsWith('127.'));
}

/**
 * Register the plugin once per process. Synchronous; env fills what options
 * omit. A second call warns and returns the first handle.
 */
export function register(options: GatewayMetricsOptions = {}): GatewayOtel {
  const state = globalState();
  if (state.handle !== undefined) {
    logger.warn('register() was already called in this process; returning the existing registration');
    return state.handle;
  }
  // Under PM2 the ecosystem file's env reaches process.env only after preloads ran: read it where PM2 keeps it.
  const config = resolveConfig(options, pm2Env(process.env));
  const handle = new Registration(config);
  state.handle = handle;
  // Code that called getGatewayMetrics() before register() holds an instance
  // on the global provider of that time (the no-op one): make it record here.
  state.fallback?.metrics.forwardTo(handle.metrics);
  return handle;
}

class Registration implements GatewayOtel {
  readonly ready: Promise<void>;
  readonly metrics: GatewayMetrics;
  readonly meterProvider: MeterProvider;
  readonly metricsHandler: GatewayOtel['metricsHandler'];
  readonly statsHandler: GatewayOtel['statsHandler'];
  readonly statusHandler: GatewayOtel['statusHandler'];
  prometheusUrl: string | undefined;

  private readonly _startedAt = Date.now();
  private readonly _prometheusReader: PullReader | undefined;
  /** The Prometheus reader's index among the store's readers. */
  private readonly _prometheusIndex: number = -1;
  private readonly _store: SeriesStore;
  private _sweepTimer: NodeJS.Timeout | undefined;
  private readonly _pushReaders: MetricReader[] = [];
  private readonly _server: http.Server | undefined;
  private readonly _disposers: (() => void)[] = [];
  private readonly _health = new Set<HealthChecker>();
  private _httpPath: HttpPath | undefined;
  private _shutdown: Promise<void> | undefined;
  private _shutdownWait: Promise<void> | undefined;
  /** This process as a node:cluster / PM2 worker: the endpoint serves the host's sums. */
  private readonly _cluster: ClusterWorker | undefined;

  constructor(readonly config: ResolvedConfig) {
    const attrs: Record<string, string | number | boolean> = { ...(config.resourceAttributes as Record<string, string>) };
    if (config.serviceName !== undefined) attrs['service.name'] = config.serviceName;
    const { host, port, path, statsPath, statusPath } = config.prometheus;
    this._cluster = config.cluster === undefined || config.sdkDisabled || !config.exporters.includes('prometheus')
      ? undefined
      : joinCluster({ dir: config.cluster.dir, host, port, nodeIdleTtl: config.nodeIdleTtl, prefix: config.prefix, scope: { name: SCOPE_NAME, version: VERSION } }, pm2Env(process.env));
    const hostAttrs = this._cluster?.hostAttributes(attrs);
    this._cluster?.workerAttributes(attrs);
    // Replicas must be told apart after a Collector (it derives `instance` from
    // this); the semantic conventions recommend a random UUID per process.
    attrs['service.instance.id'] ??= lazy.crypto.randomUUID();
    const resource = defaultResource().merge(resourceFromAttributes(attrs));
    if (hostAttrs !== undefined) this._cluster!.setHostResource(defaultResource().merge(resourceFromAttributes(hostAttrs)));

    const readers: IMetricReader[] = [];
    const exporters = config.sdkDisabled ? [] : config.exporters;
    // Our instruments record into the store; each reader takes them through a
    // producer of its own, in its own temporality and aggregation.
    const storeReaders: StoreReader[] = [];
    const producer = (spec: StoreReader) => {
      storeReaders.push(spec);
      const index = storeReaders.length - 1;
      return [{ collect: () => this._store.producer(index).collect() }];
    };
    if (exporters.includes('prometheus')) {
      this._prometheusIndex = storeReaders.length;
      storeReaders.push(config.histogram === 'native' ? CUMULATIVE_NATIVE : CUMULATIVE_DEFAULT);
      this._prometheusReader = new PullReader();
      readers.push(this._prometheusReader);
    }
    if (exporters.includes('otlp')) {
      const otlp = loadOtlpExporter(config.otlp.protocol, config);
      this._pushReaders.push(
        new PeriodicExportingMetricReader({
          exporter: otlp,
          exportIntervalMillis: config.otlp.exportIntervalMillis,
          exportTimeoutMillis: config.otlp.exportTimeoutMillis,
          metricProducers: producer(storeReaderOf(otlp)),
        }),
      );
    }
    if (exporters.includes('console')) {
      const console = new ConsoleMetricExporter();
      this._pushReaders.push(
        new PeriodicExportingMetricReader({
          exporter: console,
          exportIntervalMillis: config.otlp.exportIntervalMillis,
          exportTimeoutMillis: config.otlp.exportTimeoutMillis,
          metricProducers: producer(storeReaderOf(console)),
        }),
      );
    }
    readers.push(...this._pushReaders);

    const views = gatewayViews({
      prefix: config.prefix,
      buckets: config.buckets,
      healthCheckBuckets: config.healthCheckBuckets,
      sizeBuckets: config.sizeBuckets,
      maxNodes: config.maxNodes,
      maxTools: config.maxTools,
      histogram: 'explicit',
      // Exponential and native modes: no View on the duration instruments, so
      // each reader's own aggregation selector decides (OTLP exponential;
      // Prometheus explicit, or exponential cells beside the explicit buckets
      // for native histograms).
      durationViews: config.histogram === 'explicit',
    });
    this.meterProvider = new MeterProvider({ resource, views: [...config.views, ...views], readers });
    // Our provider is private unless asked for. Setting it as the global one
    // would take the app's own instruments away from the app's NodeSDK: whichever
    // of the two registers second gets "Attempted duplicate registration of API:
    // metrics" and its instruments go to the other's exporters, silently.
    if (!config.sdkDisabled && config.globalMeterProvider && !otelMetrics.setGlobalMeterProvider(this.meterProvider)) {
      logger.warn('globalMeterProvider: a global MeterProvider is already registered (the app\'s own SDK?); only gateway metrics go to our exporters');
    }

    this._store = new SeriesStore({
      scope: { name: SCOPE_NAME, version: VERSION },
      readers: storeReaders,
      // The user's Views first: the first match wins.
      views: [...config.views, ...views],
      warn: new RateLimitedWarner(),
      // Idle nodes are forgotten before every collection, so no reader sees them.
      beforeCollect: () => this.metrics.sweep(),
      // Only the endpoint serves exemplars (no OTLP data model in sdk-metrics has them).
      exemplars: this._prometheusReader !== undefined && config.prometheus.exemplars,
    });
    this.metrics = new GatewayMetrics(this._cluster?.recorders(this._store) ?? this._store, {
      prefix: config.prefix,
      buckets: config.buckets,
      healthCheckBuckets: config.healthCheckBuckets,
      sizeBuckets: config.sizeBuckets,
      maxNodes: config.maxNodes,
      nodeIdleTtl: config.nodeIdleTtl,
      downAfterErrors: config.downAfterErrors,
      maxTools: config.maxTools,
      maxModels: config.maxModels,
      sizeHistograms: config.http?.sizes === 'histogram',
    });
    // Idle nodes are also forgotten on a timer, so a process nobody collects
    // from gives their memory back too.
    if (config.nodeIdleTtl > 0) {
      this._sweepTimer = setInterval(() => this.metrics.sweep(), Math.max(1000, Math.min(config.nodeIdleTtl, 60_000)));
      this._sweepTimer.unref();
    }

    if (!config.sdkDisabled) this._startInstrumentation();

    const serializer = new lazy.exposition.PrometheusSerializer({
      scopeLabels: !config.prometheus.withoutScopeInfo,
      nativeHistograms: config.histogram === 'native',
      classicBuckets: config.prometheus.classicHistograms,
    });
    const endpoint = new lazy.endpoint.MetricsEndpoint({
      reader: this._prometheusReader,
      store: this._store,
      ...(this._cluster !== undefined ? { view: this._cluster.view } : {}),
      serializer,
      auth: config.prometheus.auth,
      stats: () => this.stats(),
      statusPage: config.statusPage,
    });
    this.metricsHandler = endpoint.metricsHandler;
    this.statsHandler = endpoint.statsHandler;
    this.statusHandler = endpoint.statusHandler;

    if (this._prometheusReader !== undefined && port !== false) {
      const server = lazy.endpoint.createMetricsServer(endpoint, { host, port, path, statsPath, statusPath });
      this._server = server;
      if (this._cluster === undefined && config.cluster !== undefined) this._disposers.push(yieldPortToWorkers(server));
      this.ready = lazy.endpoint.listen(server, host, port).then(address => {
        this.prometheusUrl = `http://${hostForUrl(host)}:${address.port}${path}`;
        this._httpPath?.setOwnEndpoint(ownEndpoint(host, address.port));
      });
    } else {
      this.ready = Promise.resolve();
    }
    // A rejected `ready` nobody awaits must not crash the host (unhandled rejection).
    this.ready.catch(err => logger.warn(describe(err instanceof Error ? err.message : err)));

    if (this._cluster !== undefined) this._disposers.push(() => this._cluster!.close());
    if (this._pushReaders.length > 0) this._disposers.push(lazy.hooks.flushBeforeExit(() => this.shutdown()));
    if (config.handleSignals) this._disposers.push(lazy.hooks.flushOnSignals(() => this.forceFlush(), () => this.shutdown()));
  }

  private _startInstrumentation(): void {
    const { config } = this;
    if (config.runtimeMetrics) {
      try {
        const { RuntimeNodeInstrumentation } = require('@opentelemetry/instrumentation-runtime-node') as typeof import('@opentelemetry/instrumentation-runtime-node');
        const runtime = new RuntimeNodeInstrumentation({ enabled: false });
        runtime.setMeterProvider(this.meterProvider);
        runtime.enable();
        this._disposers.push(() => runtime.disable());
      } catch (err) {
        logger.warn(`runtime metrics unavailable: ${describe(err)}`);
      }
    }
    if (config.processMetrics) {
      const proc = new lazy.processMetrics.ProcessMetrics(this.meterProvider);
      this._disposers.push(() => proc.disable());
    }
    logger.info(httpModeLine(config));
    const paths: AutomaticPath[] = [];
    if (config.http !== undefined) {
      this._httpPath = new lazy.http.HttpPath(this.metrics, config.http, this._protocols());
      paths.push(this._httpPath);
    }
    if (config.exec !== undefined) {
      paths.push(new lazy.exec.ExecPath(this.metrics, config.exec, this._protocols()));
      logger.info(config.exec.nodeFor === undefined
        ? 'exec path: zero-config (every child process is recorded; node named after its command: pod, script, package or image; exec: false or GATEWAY_METRICS_EXEC=false turns it off)'
        : 'exec path: nodeFor (child processes it maps are recorded, on the node it returns)');
    } else {
      logger.info('exec path: off');
    }
    for (const path of paths) {
      path.enable();
      this._disposers.push(() => path.disable());
    }
    logger.info(config.mcp === undefined
      ? 'MCP (JSON-RPC) observation: off (children timed per process, HTTP per exchange)'
      : `MCP (JSON-RPC) observation: on (each JSON-RPC request over stdio or Streamable HTTP is a call; stdio request timeout ${config.mcp.requestTimeoutMs} ms; mcp: false or GATEWAY_METRICS_MCP=false turns it off)`);
    if (config.inboundHttp) {
      try {
        const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
        const inbound = new HttpInstrumentation({
          enabled: false,
          // Outbound calls are ours (the HTTP path); scrapes of our own endpoint are not the app's traffic.
          disableOutgoingRequestInstrumentation: true,
          ignoreIncomingRequestHook: req => this._server !== undefined && (req.socket as { server?: unknown }).server === this._server,
        });
        inbound.setMeterProvider(this.meterProvider);
        inbound.enable();
        // Its require hook patches on the next require; http is usually loaded already.
        require('node:http');
        require('node:https');
        this._disposers.push(() => inbound.disable());
      } catch (err) {
        logger.warn(`inbound HTTP metrics unavailable: ${describe(err)}`);
      }
    }
  }

  private _protocolList: Protocol[] | undefined;

  /** The protocol readers the exec and HTTP paths share (those the configuration leaves on). */
  private _protocols(): Protocol[] {
    return (this._protocolList ??= protocolsFor(this.metrics, this.config));
  }

  async stats(): Promise<GatewayStats> {
    if (this._cluster !== undefined) return this._cluster.stats();
    const index = this._prometheusIndex;
    return lazy.stats.computeStats(this.metrics, index < 0 ? undefined : async () => ({ scopeMetrics: [await this._store.collect(index, true)] }), this._startedAt);
  }

  startHealthChecks(options: HealthCheckOptions): () => void {
    const checker = new lazy.health.HealthChecker(this.metrics, options);
    this._health.add(checker);
    checker.start();
    return () => {
      checker.stop();
      this._health.delete(checker);
    };
  }

  async forceFlush(options?: { timeoutMillis?: number }): Promise<void> {
    const ms = this._timeoutOf('forceFlush', options);
    try {
      await callWithTimeout(this.meterProvider.forceFlush(), ms, 'forceFlush()');
    } catch (err) {
      logger.warn(`forceFlush failed: ${describe(err)}`);
    }
  }

  shutdown(options?: { timeoutMillis?: number }): Promise<void> {
    // Without options every call returns the same promise.
    if (options === undefined) return (this._shutdownWait ??= this._boundedShutdown(undefined));
    return this._boundedShutdown(options);
  }

  private async _boundedShutdown(options: { timeoutMillis?: number } | undefined): Promise<void> {
    const ms = this._timeoutOf('shutdown', options);
    this._shutdown ??= this._doShutdown();
    try {
      await callWithTimeout(this._shutdown, ms, 'shutdown()');
    } catch (err) {
      logger.warn(`shutdown: ${describe(err)}; it goes on in the background`);
    }
  }

  /** A bad timeout warns and falls back: flush and shutdown run at exit, where a throw helps nobody. */
  private _timeoutOf(method: string, options: { timeoutMillis?: number } | undefined): number {
    const fallback = this.config.otlp.exportTimeoutMillis;
    const ms = options?.timeoutMillis;
    if (ms === undefined) return fallback;
    if (typeof ms === 'number' && Number.isFinite(ms) && ms > 0) return ms;
    logger.warn(`${method}: ignoring timeoutMillis ${describe(ms)} (must be a positive number); using ${fallback}`);
    return fallback;
  }

  private async _doShutdown(): Promise<void> {
    clearInterval(this._sweepTimer);
    for (const checker of this._health) checker.stop();
    this._health.clear();
    for (const dispose of this._disposers.splice(0).reverse()) {
      try {
        dispose();
      } catch (err) {
        logger.warn(`shutdown: ${describe(err)}`);
      }
    }
    const closing = this._server === undefined
      ? Promise.resolve()
      : new Promise<void>(resolve => {
          this._server!.close(() => resolve());
          this._server!.closeIdleConnections?.();
        });
    const flushing = (async () => {
      try {
        // MeterProvider.shutdown() flushes every push reader before shutting its exporter down.
        await this.meterProvider.shutdown();
      } catch (err) {
        logger.warn(`shutdown: ${describe(err)}`);
      }
      this.metrics.dispose();
      // A shut-down provider is of no use as the global one; let a later register() set its own.
      if (otelMetrics.getMeterProvider() === this.meterProvider) otelMetrics.disable();
    })();
    await closing;
    // The process may register again as soon as our port is free, even while
    // the last export is still under way (a shutdown bounded by timeoutMillis
    // returns before it ends).
    const state = globalState();
    if (state.handle === this) state.handle = undefined;
    state.fallback?.metrics.forwardTo(undefined);
    await flushing;
  }

}
