import { expect } from 'chai';
import {
  ConfigError,
  getGatewayOtel,
  register,
  DEFAULT_DURATION_BUCKETS,
  DEFAULT_HEALTH_CHECK_BUCKETS,
  DEFAULT_SIZE_BUCKETS,
  type GatewayMetricsOptions,
} from '../lib';
import { KNOWN_GATEWAY_ENV, resolveConfig, parseHostPortNodes, parseResourceAttributes, sanitizeName } from '../lib/config/resolve';
import { captureDiag, type Captured } from './helpers/diag';

describe('config: resolveConfig(options, env)', () => {
  let diag: Captured;
  beforeEach(() => (diag = captureDiag()));
  afterEach(() => diag.restore());

  it('defaults with an empty env', () => {
    const c = resolveConfig({}, {});
    expect(c.buckets).to.deep.equal([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
    expect(c.healthCheckBuckets[0]).to.equal(0.001);
    expect(c.healthCheckBuckets.at(-1)).to.equal(5);
    expect(c.sizeBuckets[0]).to.equal(256);
    expect(c.sizeBuckets.at(-1)).to.equal(16 * 1024 * 1024);
    expect(c.exporters).to.deep.equal(['prometheus']);
    expect(c.prometheus).to.deep.equal({
      host: '0.0.0.0', port: 9464, path: '/metrics', statsPath: '/stats', statusPath: '/', auth: undefined, withoutScopeInfo: false, classicHistograms: true, exemplars: true,
    });
    expect(c.views).to.deep.equal([]);
    expect(c.statusPage).to.deep.equal({ statsUrl: 'stats', slowP95Seconds: 1, errorPercent: 5 });
    expect(c.otlp).to.deep.equal({
      protocol: 'http/protobuf', endpoint: undefined, headers: undefined,
      exportIntervalMillis: 60000, exportTimeoutMillis: 30000, temporality: 'cumulative',
    });
    expect(c.histogram).to.equal('explicit');
    expect(c.prefix).to.equal('');
    expect(c.maxNodes).to.equal(1000);
    expect(c.nodeIdleTtl).to.equal(600000);
    expect(c.downAfterErrors).to.equal(0);
    expect(c.runtimeMetrics).to.equal(true);
    expect(c.processMetrics).to.equal(true);
    expect(c.inboundHttp).to.equal(false);
    expect(c.handleSignals).to.equal(false);
    expect(c.globalMeterProvider).to.equal(false);
    // The HTTP path is on by default, in zero-config mode (node = host:port).
    expect(c.http).to.deep.include({ mode: 'zero-config', hostPortMap: undefined, nodeFor: undefined, sizes: true });
    // The exec path is on, in zero-config mode (no nodeFor).
    expect(c.exec).to.deep.equal({});
    expect(Object.isFrozen(c.exec)).to.equal(true);
    // The JSON-RPC (MCP) observation is on, with the MCP SDK's 60 s request timeout.
    expect(c.mcp).to.deep.equal({ requestTimeoutMs: 60000 });
    expect(c.maxTools).to.equal(100);
    expect(Object.isFrozen(c)).to.equal(true);
    expect(Object.isFrozen(c.prometheus)).to.equal(true);
    expect(diag.all()).to.deep.equal([]);
  });

  it('reads every supported env var', () => {
    const c = resolveConfig({}, {
      OTEL_SERVICE_NAME: 'svc',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=a%2Cb',
      GATEWAY_METRICS_PREFIX: 'mcp',
      GATEWAY_METRICS_DURATION_BUCKETS: '0.1, 0.5,1',
      GATEWAY_METRICS_HEALTH_CHECK_BUCKETS: '0.01,0.1',
      GATEWAY_METRICS_SIZE_BUCKETS: '100,1000',
      GATEWAY_METRICS_HISTOGRAM: 'Exponential',
      OTEL_METRICS_EXPORTER: 'otlp, prometheus',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      GATEWAY_METRICS_PROMETHEUS_PATH: '/m',
      GATEWAY_METRICS_STATS_PATH: 'false',
      GATEWAY_METRICS_STATUS_PATH: '/status',
      GATEWAY_METRICS_STATUS_SLOW_P95: '0.25',
      GATEWAY_METRICS_STATUS_ERROR_PERCENT: '1.5',
      GATEWAY_METRICS_AUTH_TOKEN: 's3cret',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_METRIC_EXPORT_INTERVAL: '5000',
      OTEL_METRIC_EXPORT_TIMEOUT: '2000',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'DELTA',
      GATEWAY_METRICS_MAX_NODES: '50',
      GATEWAY_METRICS_NODE_IDLE_TTL: '1000',
      GATEWAY_METRICS_DOWN_AFTER_ERRORS: '3',
      GATEWAY_METRICS_HTTP_NODES: '10.0.0.1:8080=node-a, agent.local:9000=node-b',
      GATEWAY_METRICS_INBOUND_HTTP: 'true',
      GATEWAY_METRICS_RUNTIME_METRICS: 'false',
      GATEWAY_METRICS_PROCESS_METRICS: '0',
      GATEWAY_METRICS_HANDLE_SIGNALS: '1',
      GATEWAY_METRICS_GLOBAL_METER_PROVIDER: 'true',
      GATEWAY_METRICS_EXEC: 'false',
      GATEWAY_METRICS_PROMETHEUS_WITHOUT_SCOPE_INFO: 'true',
      GATEWAY_METRICS_PROMETHEUS_CLASSIC_HISTOGRAMS: 'false',
      GATEWAY_METRICS_PROMETHEUS_EXEMPLARS: '0',
    });
    expect(c.serviceName).to.equal('svc');
    expect(c.resourceAttributes).to.deep.equal({ 'deployment.environment.name': 'prod', team: 'a,b' });
    expect(c.prefix).to.equal('mcp');
    expect(c.buckets).to.deep.equal([0.1, 0.5, 1]);
    expect(c.healthCheckBuckets).to.deep.equal([0.01, 0.1]);
    expect(c.sizeBuckets).to.deep.equal([100, 1000]);
    expect(c.histogram).to.equal('exponential');
    expect(c.exporters).to.deep.equal(['otlp', 'prometheus']);
    expect(c.prometheus).to.deep.equal({
      host: '127.0.0.1', port: 0, path: '/m', statsPath: false, statusPath: '/status', auth: { token: 's3cret' }, withoutScopeInfo: true, classicHistograms: false, exemplars: false,
    });
    expect(c.statusPage).to.deep.equal({ statsUrl: 'stats', slowP95Seconds: 0.25, errorPercent: 1.5 });
    expect(c.otlp.protocol).to.equal('grpc');
    expect(c.otlp.exportIntervalMillis).to.equal(5000);
    expect(c.otlp.exportTimeoutMillis).to.equal(2000);
    expect(c.otlp.temporality).to.equal('delta');
    expect(c.maxNodes).to.equal(50);
    expect(c.nodeIdleTtl).to.equal(1000);
    expect(c.downAfterErrors).to.equal(3);
    expect([...c.http!.hostPortMap!]).to.deep.equal([['10.0.0.1:8080', 'node-a'], ['agent.local:9000', 'node-b']]);
    expect(c.inboundHttp).to.equal(true);
    expect(c.runtimeMetrics).to.equal(false);
    expect(c.processMetrics).to.equal(false);
    expect(c.handleSignals).to.equal(true);
    expect(c.globalMeterProvider).to.equal(true);
    expect(c.exec).to.equal(undefined);
    expect(diag.all()).to.deep.equal([]);
  });

  it('gives options precedence over env', () => {
    const env = { GATEWAY_METRICS_DURATION_BUCKETS: '1,2', OTEL_SERVICE_NAME: 'env', OTEL_EXPORTER_PROMETHEUS_PORT: '1234', OTEL_METRICS_EXPORTER: 'otlp' };
    const c = resolveConfig({ buckets: [0.5], serviceName: 'opt', prometheus: { port: 4321 }, exporters: ['prometheus'] }, env);
    expect(c.buckets).to.deep.equal([0.5]);
    expect(c.serviceName).to.equal('opt');
    expect(c.prometheus.port).to.equal(4321);
    expect(c.exporters).to.deep.equal(['prometheus']);
  });

  it('status page: options win over env; a path clash with the default page path is silent', () => {
    const env = { GATEWAY_METRICS_STATUS_SLOW_P95: '2', GATEWAY_METRICS_STATUS_ERROR_PERCENT: '10', GATEWAY_METRICS_STATUS_PATH: '/env' };
    const c = resolveConfig({ prometheus: { statusPath: '/ops/status' }, statusPage: { statsUrl: '/ops/stats', slowP95Seconds: 0.5, errorPercent: 0 } }, env);
    expect(c.prometheus.statusPath).to.equal('/ops/status');
    expect(c.statusPage).to.deep.equal({ statsUrl: '/ops/stats', slowP95Seconds: 0.5, errorPercent: 0 });
    expect(resolveConfig({ prometheus: { statusPath: false } }, env).prometheus.statusPath).to.equal(false);
    expect(resolveConfig({ statusPage: { statsUrl: '../stats?x=1' } }, {}).statusPage.statsUrl).to.equal('../stats?x=1');
    // Metrics served at "/" take the default page path: no page, no warning.
    expect(resolveConfig({ prometheus: { path: '/' } }, {}).prometheus.statusPath).to.equal(false);
    expect(diag.all()).to.deep.equal([]);
  });

  it('prefers the metrics-specific OTLP protocol variable', () => {
    expect(resolveConfig({}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' }).otlp.protocol).to.equal('http/json');
  });

  it('treats GATEWAY_METRICS_PROMETHEUS_LISTEN=false as no listener, and port 0 as ephemeral', () => {
    expect(resolveConfig({}, { GATEWAY_METRICS_PROMETHEUS_LISTEN: 'false' }).prometheus.port).to.equal(false);
    expect(resolveConfig({}, { OTEL_EXPORTER_PROMETHEUS_PORT: '0' }).prometheus.port).to.equal(0);
    expect(resolveConfig({ prometheus: { port: false } }, {}).prometheus.port).to.equal(false);
  });

  it('maps OTEL_METRICS_EXPORTER=none to no exporters', () => {
    expect(resolveConfig({}, { OTEL_METRICS_EXPORTER: 'none' }).exporters).to.deep.equal([]);
    expect(resolveConfig({ exporters: ['none'] }, {}).exporters).to.deep.equal([]);
  });

  it('copies the caller’s bucket array and never mutates it', () => {
    const mine = [0.1, 0.2];
    const c = resolveConfig({ buckets: mine }, {});
    expect(c.buckets).to.not.equal(mine);
    expect(Object.isFrozen(c.buckets)).to.equal(true);
    expect(Object.isFrozen(mine)).to.equal(false);
    expect(DEFAULT_DURATION_BUCKETS).to.have.length(13);
    expect(DEFAULT_HEALTH_CHECK_BUCKETS).to.have.length(12);
    expect(DEFAULT_SIZE_BUCKETS).to.have.length(9);
  });

  describe('a bad option in code throws a ConfigError naming the option and the value', () => {
    const cases: [string, GatewayMetricsOptions, string, RegExp][] = [
      ['buckets unsorted', { buckets: [1, 0.5] }, 'buckets', /\[1,0\.5\].*sorted/],
      ['buckets duplicate', { buckets: [1, 1] }, 'buckets', /repeat/],
      ['buckets NaN', { buckets: [NaN] }, 'buckets', /finite/],
      ['buckets Infinity', { buckets: [1, Infinity] }, 'buckets', /finite/],
      ['buckets negative', { buckets: [-1, 1] }, 'buckets', /negative/],
      ['buckets empty', { buckets: [] }, 'buckets', /empty/],
      ['buckets not array', { buckets: '1,2' as never }, 'buckets', /array/],
      ['healthCheckBuckets', { healthCheckBuckets: [2, 1] }, 'healthCheckBuckets', /sorted/],
      ['sizeBuckets', { sizeBuckets: [0, 0] }, 'sizeBuckets', /repeat/],
      ['prefix', { prefix: 'my-app' }, 'prefix', /"my-app"/],
      ['prefix digit', { prefix: '1abc' }, 'prefix', /"1abc"/],
      ['histogram', { histogram: 'sparse' as never }, 'histogram', /"sparse"/],
      ['exporters', { exporters: ['jaeger' as never] }, 'exporters', /jaeger/],
      ['serviceName', { serviceName: '' }, 'serviceName', /""/],
      ['prometheus.port', { prometheus: { port: 70000 } }, 'prometheus.port', /70000/],
      ['prometheus.port string', { prometheus: { port: '9464' as never } }, 'prometheus.port', /"9464"/],
      ['prometheus.host', { prometheus: { host: '' } }, 'prometheus.host', /""/],
      ['prometheus.path', { prometheus: { path: 'metrics' } }, 'prometheus.path', /"metrics"/],
      ['prometheus.statsPath', { prometheus: { statsPath: '/metrics' } }, 'prometheus.statsPath', /\/metrics/],
      ['prometheus.statusPath', { prometheus: { statusPath: 'status' } }, 'prometheus.statusPath', /"status"/],
      ['prometheus.statusPath = path', { prometheus: { statusPath: '/metrics' } }, 'prometheus.statusPath', /differ from prometheus\.path/],
      ['prometheus.statusPath = statsPath', { prometheus: { statusPath: '/stats' } }, 'prometheus.statusPath', /differ from prometheus\.statsPath/],
      ['statusPage.statsUrl other origin', { statusPage: { statsUrl: 'https://evil.example/stats' } }, 'statusPage.statsUrl', /evil/],
      ['statusPage.statsUrl //host', { statusPage: { statsUrl: '//evil.example/stats' } }, 'statusPage.statsUrl', /same origin/],
      ['statusPage.statsUrl backslash', { statusPage: { statsUrl: '/\\evil.example' } }, 'statusPage.statsUrl', /same origin/],
      ['statusPage.statsUrl javascript:', { statusPage: { statsUrl: 'javascript:alert(1)' } }, 'statusPage.statsUrl', /javascript/],
      ['statusPage.statsUrl empty', { statusPage: { statsUrl: '' } }, 'statusPage.statsUrl', /""/],
      ['statusPage.slowP95Seconds', { statusPage: { slowP95Seconds: -1 } }, 'statusPage.slowP95Seconds', /-1/],
      ['statusPage.slowP95Seconds NaN', { statusPage: { slowP95Seconds: NaN } }, 'statusPage.slowP95Seconds', /between 0 and/],
      ['statusPage.slowP95Seconds string', { statusPage: { slowP95Seconds: '1' as never } }, 'statusPage.slowP95Seconds', /"1"/],
      ['statusPage.errorPercent', { statusPage: { errorPercent: 101 } }, 'statusPage.errorPercent', /101.*between 0 and 100/],
      ['statusPage unknown key', { statusPage: { threshold: 1 } as never }, 'statusPage.threshold', /unknown option/],
      ['prometheus.auth', { prometheus: { auth: { token: '' } } }, 'prometheus.auth', /redacted/],
      ['prometheus.auth basic', { prometheus: { auth: { username: 'a:b', password: 'pw' } } }, 'prometheus.auth', /redacted/],
      ['prometheus unknown key', { prometheus: { listen: false } as never }, 'prometheus.listen', /unknown option/],
      ['otlp.protocol', { otlp: { protocol: 'udp' as never } }, 'otlp.protocol', /"udp"/],
      ['otlp.endpoint', { otlp: { endpoint: 'not a url' } }, 'otlp.endpoint', /"not a url"/],
      ['otlp.headers', { otlp: { headers: { a: 1 as never } } }, 'otlp.headers.a', /strings/],
      ['otlp.exportIntervalMillis', { otlp: { exportIntervalMillis: 0 } }, 'otlp.exportIntervalMillis', /0/],
      ['otlp.exportTimeoutMillis', { otlp: { exportTimeoutMillis: 1.5 } }, 'otlp.exportTimeoutMillis', /1\.5/],
      ['otlp timeout > interval', { otlp: { exportIntervalMillis: 1000, exportTimeoutMillis: 2000 } }, 'otlp.exportTimeoutMillis', /2000/],
      ['otlp.temporality', { otlp: { temporality: 'sometimes' as never } }, 'otlp.temporality', /"sometimes"/],
      ['maxNodes', { maxNodes: 0 }, 'maxNodes', /0/],
      ['nodeIdleTtl', { nodeIdleTtl: -1 }, 'nodeIdleTtl', /-1/],
      ['downAfterErrors', { downAfterErrors: 2.5 }, 'downAfterErrors', /2\.5/],
      ['http.nodeFor', { http: { nodeFor: 42 as never } }, 'http.nodeFor', /42/],
      ['http.nodeFor map key', { http: { nodeFor: { 'no-port': 'n' } } }, 'http.nodeFor', /"no-port"/],
      ['http.isError', { http: { nodeFor: () => undefined, isError: true as never } }, 'http.isError', /true/],
      ['http.sizes', { http: { nodeFor: () => undefined, sizes: 'no' as never } }, 'http.sizes', /"no"/],
      ['exec.nodeFor', { exec: { nodeFor: 'kubectl' as never } }, 'exec.nodeFor', /"kubectl"/],
      ['exec: true', { exec: true as never }, 'exec', /true.*object \{ nodeFor\? \}, or false/],
      ['exec: a function', { exec: (() => 'n') as never }, 'exec', /must be an object/],
      ['mcp: true', { mcp: true as never }, 'mcp', /true.*requestTimeoutMs\? \}, or false/],
      ['mcp.requestTimeoutMs', { mcp: { requestTimeoutMs: 0 } }, 'mcp.requestTimeoutMs', /0/],
      ['unknown mcp option', { mcp: { timeout: 5 } } as never, 'mcp.timeout', /unknown option/],
      ['maxTools', { maxTools: 0 }, 'maxTools', /0/],
      ['maxTools not an integer', { maxTools: 2.5 }, 'maxTools', /2\.5/],
      ['inboundHttp', { inboundHttp: 'yes' as never }, 'inboundHttp', /"yes"/],
      ['runtimeMetrics', { runtimeMetrics: 1 as never }, 'runtimeMetrics', /1/],
      ['processMetrics', { processMetrics: null as never }, 'processMetrics', /null/],
      ['handleSignals', { handleSignals: 'true' as never }, 'handleSignals', /"true"/],
      ['globalMeterProvider', { globalMeterProvider: 1 as never }, 'globalMeterProvider', /1/],
      ['resourceAttributes', { resourceAttributes: { a: {} as never } }, 'resourceAttributes.a', /\{\}.*string/],
      ['unknown option', { bucket: [1] } as never, 'bucket', /unknown option/],
      ['unknown http option', { http: { nodeFor: () => undefined, isErorr: () => true } } as never, 'http.isErorr', /unknown option/],
      ['unknown exec option', { exec: { nodeFor: () => undefined, timeout: 5 } } as never, 'exec.timeout', /unknown option/],
      ['prometheus.auth token with a space', { prometheus: { auth: { token: 'a b' } } }, 'prometheus.auth', /whitespace/],
    ];
    for (const [title, options, option, value] of cases) {
      it(title, () => {
        let err: unknown;
        try {
          resolveConfig(options, {});
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(ConfigError);
        const e = err as ConfigError;
        expect(e.option).to.equal(option);
        expect(e.message).to.include(`"${option}"`);
        expect(e.message).to.match(value);
        // register() fails the same way, fast, and registers nothing.
        expect(() => register(options)).to.throw(ConfigError, `"${option}"`);
        expect(getGatewayOtel()).to.equal(undefined);
      });
    }
    it('never echoes the value of an unknown (perhaps misspelt secret) option', () => {
      for (const options of [{ prometheus: { token: 'S3CRET-TOKEN' } }, { prometheus: { password: 'HUNTER2' } }, { otlp: { header: { authorization: 'Bearer S3CRET' } } }]) {
        expect(() => resolveConfig(options as never, {})).to.throw(ConfigError).with.property('message').that.does.not.match(/S3CRET|HUNTER2/);
      }
    });
    it('never echoes a secret', () => {
      expect(() => resolveConfig({ prometheus: { auth: { username: 'u', password: '' } } }, {})).to.throw(ConfigError).with.property('message').that.does.not.include('u:');
      try {
        resolveConfig({ prometheus: { auth: { token: 'top-secret', extra: 1 } as never } }, {});
      } catch {
        // accepted shape: only the token is kept
      }
      const c = resolveConfig({ prometheus: { auth: { token: 'top-secret' } } }, {});
      expect(c.prometheus.auth).to.deep.equal({ token: 'top-secret' });
    });
  });

  describe('a bad env var warns once and falls back to the default', () => {
    const cases: [string, string, (c: ReturnType<typeof resolveConfig>) => unknown, unknown][] = [
      ['GATEWAY_METRICS_DURATION_BUCKETS', '1,0.5', c => c.buckets, DEFAULT_DURATION_BUCKETS],
      ['GATEWAY_METRICS_HEALTH_CHECK_BUCKETS', 'a,b', c => c.healthCheckBuckets, DEFAULT_HEALTH_CHECK_BUCKETS],
      ['GATEWAY_METRICS_SIZE_BUCKETS', '-1,2', c => c.sizeBuckets, DEFAULT_SIZE_BUCKETS],
      ['GATEWAY_METRICS_HISTOGRAM', 'sparse', c => c.histogram, 'explicit'],
      ['OTEL_EXPORTER_PROMETHEUS_HOST', 'a b', c => c.prometheus.host, '0.0.0.0'],
      ['OTEL_EXPORTER_PROMETHEUS_PORT', '94x64', c => c.prometheus.port, 9464],
      ['GATEWAY_METRICS_PROMETHEUS_PATH', 'metrics', c => c.prometheus.path, '/metrics'],
      ['GATEWAY_METRICS_PROMETHEUS_LISTEN', 'maybe', c => c.prometheus.port, 9464],
      ['GATEWAY_METRICS_STATS_PATH', 'stats', c => c.prometheus.statsPath, '/stats'],
      ['GATEWAY_METRICS_STATUS_PATH', 'status', c => c.prometheus.statusPath, '/'],
      ['GATEWAY_METRICS_STATUS_SLOW_P95', '1s', c => c.statusPage.slowP95Seconds, 1],
      ['GATEWAY_METRICS_STATUS_ERROR_PERCENT', '150', c => c.statusPage.errorPercent, 5],
      ['OTEL_EXPORTER_OTLP_PROTOCOL', 'udp', c => c.otlp.protocol, 'http/protobuf'],
      ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'udp', c => c.otlp.protocol, 'http/protobuf'],
      ['OTEL_METRIC_EXPORT_INTERVAL', '1m', c => c.otlp.exportIntervalMillis, 60000],
      ['OTEL_METRIC_EXPORT_TIMEOUT', '-5', c => c.otlp.exportTimeoutMillis, 30000],
      ['OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', 'sometimes', c => c.otlp.temporality, 'cumulative'],
      ['GATEWAY_METRICS_MAX_NODES', 'lots', c => c.maxNodes, 1000],
      ['GATEWAY_METRICS_NODE_IDLE_TTL', '10m', c => c.nodeIdleTtl, 600000],
      ['GATEWAY_METRICS_DOWN_AFTER_ERRORS', 'three', c => c.downAfterErrors, 0],
      ['GATEWAY_METRICS_MAX_TOOLS', '0', c => c.maxTools, 100],
      ['GATEWAY_METRICS_MCP', 'off', c => c.mcp, { requestTimeoutMs: 60000 }],
      ['GATEWAY_METRICS_MCP_REQUEST_TIMEOUT', '30s', c => c.mcp?.requestTimeoutMs, 60000],
      ['GATEWAY_METRICS_HTTP_NODES', 'no-equals-sign', c => c.http?.mode, 'zero-config'],
      ['GATEWAY_METRICS_HTTP', 'off', c => c.http?.mode, 'zero-config'],
      ['GATEWAY_METRICS_INBOUND_HTTP', 'yes', c => c.inboundHttp, false],
      ['GATEWAY_METRICS_RUNTIME_METRICS', 'off', c => c.runtimeMetrics, true],
      ['GATEWAY_METRICS_PROCESS_METRICS', 'nope', c => c.processMetrics, true],
      ['GATEWAY_METRICS_HANDLE_SIGNALS', 'sure', c => c.handleSignals, false],
      ['GATEWAY_METRICS_GLOBAL_METER_PROVIDER', 'yes please', c => c.globalMeterProvider, false],
      ['OTEL_RESOURCE_ATTRIBUTES', 'a=b=c', c => c.resourceAttributes, {}],
      ['OTEL_METRICS_EXPORTER', 'jaeger', c => c.exporters, ['prometheus']],
    ];
    for (const [name, raw, read, fallback] of cases) {
      it(name, () => {
        const c = resolveConfig({}, { [name]: raw });
        expect(read(c)).to.deep.equal(fallback);
        expect(diag.warn, diag.warn.join('\n')).to.have.length(1);
        expect(diag.warn[0]).to.include(name);
      });
    }
    it('GATEWAY_METRICS_HTTP_SIZES', () => {
      const c = resolveConfig({ http: { nodeFor: () => undefined } }, { GATEWAY_METRICS_HTTP_SIZES: 'sometimes' });
      expect(c.http!.sizes).to.equal(true);
      expect(diag.warn).to.have.length(1);
      expect(diag.warn[0]).to.include('GATEWAY_METRICS_HTTP_SIZES');
      expect(resolveConfig({ http: { nodeFor: () => undefined } }, { GATEWAY_METRICS_HTTP_SIZES: 'false' }).http!.sizes).to.equal(false);
      expect(resolveConfig({ http: { nodeFor: () => undefined, sizes: false } }, { GATEWAY_METRICS_HTTP_SIZES: 'true' }).http!.sizes).to.equal(false);
      expect(resolveConfig({ http: { nodeFor: () => undefined } }, { GATEWAY_METRICS_HTTP_SIZES: 'histogram' }).http!.sizes).to.equal('histogram');
      expect(resolveConfig({ http: { sizes: 'histogram' } }, {}).http!.sizes).to.equal('histogram');
    });
    it('GATEWAY_METRICS_EXEC: false turns the exec path off; a bad value warns and keeps it on; an option wins', () => {
      expect(resolveConfig({}, { GATEWAY_METRICS_EXEC: 'false' }).exec).to.equal(undefined);
      expect(resolveConfig({}, { GATEWAY_METRICS_EXEC: ' FALSE ' }).exec).to.equal(undefined);
      expect(resolveConfig({}, { GATEWAY_METRICS_EXEC: '0' }).exec).to.equal(undefined);
      expect(resolveConfig({}, { GATEWAY_METRICS_EXEC: 'true' }).exec).to.deep.equal({});
      expect(diag.warn).to.deep.equal([]);
      expect(resolveConfig({}, { GATEWAY_METRICS_EXEC: 'off' }).exec).to.deep.equal({});
      expect(diag.warn).to.have.length(1);
      expect(diag.warn[0]).to.include('GATEWAY_METRICS_EXEC="off"');
      expect(diag.warn[0]).to.include('using the default true');
      // option > env
      const nodeFor = () => 'n';
      expect(resolveConfig({ exec: { nodeFor } }, { GATEWAY_METRICS_EXEC: 'false' }).exec).to.deep.equal({ nodeFor });
      expect(resolveConfig({ exec: {} }, { GATEWAY_METRICS_EXEC: 'false' }).exec).to.deep.equal({});
      expect(resolveConfig({ exec: false }, { GATEWAY_METRICS_EXEC: 'true' }).exec).to.equal(undefined);
      expect(resolveConfig({ exec: { nodeFor: undefined } }, {}).exec).to.deep.equal({});
      expect(diag.warn).to.have.length(1);
    });
    it('GATEWAY_METRICS_MCP / _MAX_TOOLS / _MCP_REQUEST_TIMEOUT: env applies, an option wins', () => {
      expect(resolveConfig({}, { GATEWAY_METRICS_MCP: 'false' }).mcp).to.equal(undefined);
      expect(resolveConfig({ mcp: {} }, { GATEWAY_METRICS_MCP: 'false' }).mcp).to.deep.equal({ requestTimeoutMs: 60000 });
      expect(resolveConfig({ mcp: false }, { GATEWAY_METRICS_MCP: 'true' }).mcp).to.equal(undefined);
      expect(resolveConfig({}, { GATEWAY_METRICS_MCP_REQUEST_TIMEOUT: '5000' }).mcp).to.deep.equal({ requestTimeoutMs: 5000 });
      expect(resolveConfig({ mcp: { requestTimeoutMs: 100 } }, { GATEWAY_METRICS_MCP_REQUEST_TIMEOUT: '5000' }).mcp).to.deep.equal({ requestTimeoutMs: 100 });
      expect(resolveConfig({}, { GATEWAY_METRICS_MAX_TOOLS: '7' }).maxTools).to.equal(7);
      expect(resolveConfig({ maxTools: 3 }, { GATEWAY_METRICS_MAX_TOOLS: '7' }).maxTools).to.equal(3);
      expect(diag.warn).to.deep.equal([]);
    });
    it('GATEWAY_METRICS_PREFIX with invalid characters is sanitized like a Collector would', () => {
      const c = resolveConfig({}, { GATEWAY_METRICS_PREFIX: 'my-app.v2' });
      expect(c.prefix).to.equal('my_app_v2');
      expect(diag.warn).to.have.length(1);
      expect(diag.warn[0]).to.include('GATEWAY_METRICS_PREFIX');
    });
    it('GATEWAY_METRICS_AUTH_TOKEN is never echoed', () => {
      const c = resolveConfig({}, { GATEWAY_METRICS_AUTH_TOKEN: ' ' });
      expect(c.prometheus.auth).to.equal(undefined);
      expect(diag.warn).to.have.length(0);
    });
    it('a stats path equal to the metrics path from env warns and drops the stats view, instead of stopping the app', () => {
      const c = resolveConfig({}, { GATEWAY_METRICS_STATS_PATH: '/metrics' });
      expect(c.prometheus.path).to.equal('/metrics');
      expect(c.prometheus.statsPath).to.equal(false);
      expect(diag.warn).to.have.length(1);
      const d = resolveConfig({ prometheus: { path: '/stats' } }, { GATEWAY_METRICS_STATS_PATH: '/stats' });
      expect(d.prometheus.statsPath).to.equal(false);
      expect(() => resolveConfig({ prometheus: { path: '/stats' } }, {})).to.throw(ConfigError, 'prometheus.statsPath');
      expect(() => resolveConfig({ prometheus: { path: '/x', statsPath: '/x' } }, {})).to.throw(ConfigError, 'prometheus.statsPath');
    });
    it('a status page path equal to the metrics or stats path from env warns and serves no page', () => {
      for (const clash of ['/metrics', '/stats']) {
        diag.warn.length = 0;
        const c = resolveConfig({}, { GATEWAY_METRICS_STATUS_PATH: clash });
        expect(c.prometheus.statusPath).to.equal(false);
        expect(diag.warn).to.have.length(1);
        expect(diag.warn[0]).to.include(clash);
      }
    });
    it('clamps an env timeout above the interval, as the SDK reader does', () => {
      const c = resolveConfig({}, { OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' });
      expect(c.otlp.exportTimeoutMillis).to.equal(1000);
    });
  });

  it('warns about unknown GATEWAY_METRICS_* variables (typo guard)', () => {
    resolveConfig({}, { GATEWAY_METRICS_BUCKETS: '1,2', GATEWAY_METRICS_MAX_NODES: '5', OTHER_THING: 'x' });
    expect(diag.warn).to.have.length(1);
    expect(diag.warn[0]).to.include('GATEWAY_METRICS_BUCKETS');
  });

  it('knows every GATEWAY_METRICS_* variable it reads', () => {
    const env = Object.fromEntries(KNOWN_GATEWAY_ENV.map(n => [n, '']));
    resolveConfig({}, env);
    expect(diag.warn).to.deep.equal([]);
  });

  it('parses host:port maps and resource attributes per the OTel spec', () => {
    const m = parseHostPortNodes('A.local:80=n1,[::1]:8080=n2');
    expect(m.ok && [...m.value]).to.deep.equal([['a.local:80', 'n1'], ['[::1]:8080', 'n2']]);
    expect(parseHostPortNodes('a.local=n1').ok).to.equal(false);
    expect(parseHostPortNodes('::1:80=n1').ok).to.equal(false);
    const r = parseResourceAttributes('k%3D=v%2C1, x = y ');
    expect(r.ok && r.value).to.deep.equal({ 'k=': 'v,1', x: 'y' });
    expect(sanitizeName('9lives.x')).to.equal('_9lives_x');
  });

  it('HTTP path modes: zero config by default, false or GATEWAY_METRICS_HTTP=false turns it off, option > env', () => {
    expect(resolveConfig({ http: false }, {}).http).to.equal(undefined);
    expect(resolveConfig({}, { GATEWAY_METRICS_HTTP: 'false' }).http).to.equal(undefined);
    expect(resolveConfig({}, { GATEWAY_METRICS_HTTP: ' 0 ' }).http).to.equal(undefined);
    expect(resolveConfig({}, { GATEWAY_METRICS_HTTP: 'TRUE' }).http!.mode).to.equal('zero-config');
    // Off wins over a node map in the environment.
    expect(resolveConfig({}, { GATEWAY_METRICS_HTTP: 'false', GATEWAY_METRICS_HTTP_NODES: 'a:1=n' }).http).to.equal(undefined);
    // An options object turns the path on whatever the env says (option > env).
    expect(resolveConfig({ http: { sizes: false } }, { GATEWAY_METRICS_HTTP: 'false' }).http).to.deep.include({ mode: 'zero-config', sizes: false });
    // Options without nodeFor take the env map.
    const c = resolveConfig({ http: { isError: () => true } }, { GATEWAY_METRICS_HTTP_NODES: 'a:1=n' });
    expect(c.http!.mode).to.equal('map');
    expect([...c.http!.hostPortMap!]).to.deep.equal([['a:1', 'n']]);
    expect(resolveConfig({ http: { nodeFor: () => 'x' } }, {}).http!.mode).to.equal('nodeFor');
    expect(resolveConfig({ http: { nodeFor: { 'a:1': 'n' } } }, {}).http!.mode).to.equal('map');
    expect(diag.all()).to.deep.equal([]);
  });

  it('rejects http options that are neither an object nor false', () => {
    for (const bad of [true, 'on', 1, null, []]) {
      expect(() => resolveConfig({ http: bad as never }, {})).to.throw(ConfigError, /invalid option "http"/);
    }
  });

  it('accepts http.nodeFor as a function, an object or a Map (keys lowercased)', () => {
    const fn = () => 'n';
    expect(resolveConfig({ http: { nodeFor: fn } }, {}).http!.nodeFor).to.equal(fn);
    expect([...resolveConfig({ http: { nodeFor: { 'Agent:80': 'n' } } }, {}).http!.hostPortMap!]).to.deep.equal([['agent:80', 'n']]);
    expect([...resolveConfig({ http: { nodeFor: new Map([['[::1]:80', 'v6']]) } }, {}).http!.hostPortMap!]).to.deep.equal([['[::1]:80', 'v6']]);
  });
});
