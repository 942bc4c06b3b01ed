import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ts from 'typescript';
import { VERSION } from '../lib/core/version';
import { ROOT, runNode } from './helpers/child';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const PUBLIC = ['register', 'getGatewayMetrics', 'createGatewayMetrics', 'gatewayViews', 'DEFAULT_DURATION_BUCKETS'];

/** Every installed copy of a package under node_modules, at any depth. */
function copiesOf(name: string, dir = join(ROOT, 'node_modules'), found: string[] = []): string[] {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    if (entry === '.bin' || entry === '.cache') continue;
    const full = join(dir, entry);
    if (!statSync(full).isDirectory()) continue;
    if (entry.startsWith('@')) {
      copiesOf(name, full, found);
      continue;
    }
    const scopedName = dir.endsWith(`${join('node_modules', name.split('/')[0]!)}`) ? `${name.split('/')[0]}/${entry}` : entry;
    if (scopedName === name && existsSync(join(full, 'package.json'))) found.push(full);
    if (existsSync(join(full, 'node_modules'))) copiesOf(name, join(full, 'node_modules'), found);
  }
  return found;
}

describe('package', () => {
  // The dev-only OpenTelemetry JS 2.x SDK, installed under an alias for the
  // either-SDK-line spec, brings its own core and resources; users never get it.
  const devOnly = (p: string) => p.includes(`${join('node_modules', 'otel2-sdk-metrics')}`);

  for (const [name, version] of [
    ['@opentelemetry/sdk-metrics', /^3\./],
    ['@opentelemetry/core', /^3\./],
    ['@opentelemetry/resources', /^3\./],
    ['@opentelemetry/sdk-trace', /^3\./],
    ['@opentelemetry/sdk-logs', /^3\./],
    ['@opentelemetry/otlp-transformer', /^0\.301\./],
    ['@opentelemetry/api', /^1\.10\./],
  ] as const) {
    it(`installs exactly one copy of ${name} (${version.source})`, () => {
      const copies = copiesOf(name).filter(p => !devOnly(p));
      expect(copies).to.have.length(1);
      expect(JSON.parse(readFileSync(join(copies[0]!, 'package.json'), 'utf8')).version).to.match(version);
    });
  }

  it('declares the OpenTelemetry packages as ranges, the way the contrib packages do', () => {
    const deps = pkg.dependencies as Record<string, string>;
    // Stable packages `^3.x.y`; experimental (0.x) ones `^0.x.y`, which npm reads as `>=0.x.y <0.(x+1).0`.
    expect(deps).to.deep.equal({
      '@opentelemetry/core': '^3.1.0',
      '@opentelemetry/exporter-metrics-otlp-http': '^0.301.0',
      '@opentelemetry/exporter-metrics-otlp-proto': '^0.301.0',
      '@opentelemetry/instrumentation': '^0.301.0',
      '@opentelemetry/instrumentation-runtime-node': '^0.37.0',
      '@opentelemetry/resources': '^3.1.0',
      '@opentelemetry/sdk-metrics': '^3.1.0',
    });
    // The minimums agree: the 0.301.0 exporters pin exactly 3.1.0, so the oldest install has one copy too.
    expect(pkg.peerDependencies).to.deep.equal({
      '@opentelemetry/api': '>=1.10.0 <1.11.0',
      '@opentelemetry/exporter-metrics-otlp-grpc': '^0.301.0',
      '@opentelemetry/instrumentation-http': '^0.301.0',
    });
    // The optional peers, each installed for the suite at the same range.
    expect(pkg.peerDependenciesMeta).to.deep.equal({
      '@opentelemetry/exporter-metrics-otlp-grpc': { optional: true },
      '@opentelemetry/instrumentation-http': { optional: true },
    });
    for (const name of Object.keys(pkg.peerDependenciesMeta)) expect(pkg.devDependencies[name], name).to.equal(pkg.peerDependencies[name]);
    expect(pkg.engines.node).to.equal('>=22.15.0');
  });

  it('imports from lib/ only packages it declares (dependencies or peers); the stock Prometheus exporter is for specs and benchmarks', () => {
    const declared = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)]);
    const used = new Map<string, string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.name.endsWith('.js')) {
          // The built output: every import and require() of lib/ is a require() here.
          for (const m of readFileSync(full, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '').matchAll(/require\(["']([^"'.][^"']*)["']\)/g)) {
            const spec = m[1]!;
            if (spec.startsWith('node:')) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            used.set(name, full);
          }
        }
      }
    };
    walk(join(ROOT, 'dist'));
    const undeclared = [...used.keys()].filter(n => !declared.has(n));
    // grpc-js: only ever loaded from the gRPC exporter's own dependency tree, with a fallback (sdk/register.ts).
    expect(undeclared).to.deep.equal(['@grpc/grpc-js']);
    expect(used.has('@opentelemetry/exporter-prometheus')).to.equal(false);
    expect(Object.keys(pkg.dependencies)).to.not.include('@opentelemetry/exporter-prometheus');
  });

  it('keeps lib/core/version.ts equal to package.json', () => {
    expect(VERSION).to.equal(pkg.version);
  });

  it('exports the public API from both require() and import, as one module instance', async () => {
    const r = await runNode(['--input-type=module', '-e', `
      import * as esm from 'otel-gateway-metrics';
      import { createRequire } from 'node:module';
      const cjs = createRequire(process.cwd() + '/')('otel-gateway-metrics');
      const names = ${JSON.stringify(PUBLIC)};
      console.log(JSON.stringify({
        esm: names.filter(n => esm[n] !== undefined),
        cjs: names.filter(n => cjs[n] !== undefined),
        same: names.every(n => esm[n] === cjs[n]),
      }));
    `]);
    expect(r.stderr).to.equal('');
    expect(JSON.parse(r.stdout)).to.deep.equal({ esm: PUBLIC, cjs: PUBLIC, same: true });
  });

  it('ships types that a TypeScript consumer can use from CJS and ESM', function () {
    this.timeout(60_000);
    const files = ['consumer.cts', 'consumer.mts'].map(f => join(ROOT, 'spec', 'fixtures', 'types', f));
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16,
      strict: true, noEmit: true, types: ['node'], skipLibCheck: true,
    });
    const diags = ts.getPreEmitDiagnostics(program).map(d => `${d.file?.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diags).to.deep.equal([]);
    // Resolved through the package's own "exports", to the shipped declarations.
    const resolved = files.map(f => ts.resolveModuleName('otel-gateway-metrics', f, program.getCompilerOptions(), ts.sys, undefined, undefined,
      f.endsWith('.mts') ? ts.ModuleKind.ESNext : ts.ModuleKind.CommonJS).resolvedModule?.resolvedFileName);
    expect(resolved).to.deep.equal([join(ROOT, 'dist', 'index.d.ts'), join(ROOT, 'dist', 'index.d.mts')]);
  });

  describe('the published declarations show the public API only', () => {
    /** Every value and type dist/index.d.ts exports, and the members of the GatewayMetrics class it declares. */
    function declared(): { exports: string[]; gatewayMetricsMembers: string[]; diagnostics: string[] } {
      const index = join(ROOT, 'dist', 'index.d.ts');
      // skipLibCheck off: every declaration file reachable from the entry must compile as shipped.
      const program = ts.createProgram([index], {
        module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, strict: true, noEmit: true, types: ['node'],
      });
      const checker = program.getTypeChecker();
      const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
      const exported = checker.getExportsOfModule(moduleSymbol);
      const gm = exported.find(s => s.name === 'GatewayMetrics')!;
      const instance = checker.getDeclaredTypeOfSymbol(gm);
      return {
        exports: exported.map(s => s.name).sort(),
        gatewayMetricsMembers: checker.getPropertiesOfType(instance)
          .filter(p => !p.declarations?.every(d => (ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Private) !== 0))
          .map(p => p.name).sort(),
        diagnostics: ts.getPreEmitDiagnostics(program).map(d => `${d.file?.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`),
      };
    }

    it('dist/index.d.ts exports exactly the documented names, and compiles without skipLibCheck', () => {
      const d = declared();
      expect(d.diagnostics).to.deep.equal([]);
      expect(d.exports).to.deep.equal([
        'AttemptLabels', 'ClusterOptions', 'ClusterStats', 'ConfigError', 'CreateGatewayMetricsOptions', 'DEFAULT_DURATION_BUCKETS', 'DEFAULT_HEALTH_CHECK_BUCKETS',
        'DEFAULT_MAX_TOOLS', 'DEFAULT_MCP_REQUEST_TIMEOUT_MS', 'MCP_DURATION_BUCKETS', 'McpOptions', 'ToolStats',
        'DEFAULT_SIZE_BUCKETS', 'EndOptions', 'EndTimer', 'ExecPathOptions', 'ExporterName', 'FallbackLabels', 'GatewayMetrics',
        'GatewayMetricsOptions', 'GatewayOtel', 'GatewayStats', 'GatewayViewsOptions', 'HealthCheckOptions', 'HistogramMode',
        'HostPortMap', 'HttpPathOptions', 'InstrumentOptions', 'LatencyQuantiles', 'MeasureOptions', 'NodeTrackingOptions', 'OtlpOptions', 'OtlpProtocol', 'PodNodeMap',
        'PrometheusAuth', 'PrometheusOptions', 'RecordOptions', 'SeriesStats', 'Status', 'StatusPageOptions', 'TemporalityPreference',
        'WorkerStats', 'WrapOptions', 'createGatewayMetrics', 'gatewayViews', 'getGatewayMetrics', 'getGatewayOtel', 'kubectlExecNodeFor',
        'register', 'semconv',
      ].sort());
    });

    it('GatewayMetrics declares its request-path API and no internals (series, node entries, sweep, forwarding)', () => {
      expect(declared().gatewayMetricsMembers).to.deep.equal([
        'dispose', 'downAfterErrors', 'maxNodes', 'measure', 'measureHealthCheck', 'nodeIdleTtl', 'prefix', 'record',
        'recordFallback', 'setNodeUp', 'startTimer', 'wrap',
      ].sort());
    });
  });

  describe('installed from `npm pack` into fresh projects, as users get it', function () {
    this.timeout(300_000);
    const CORE = ['@opentelemetry/sdk-metrics', '@opentelemetry/core', '@opentelemetry/resources', '@opentelemetry/api',
      '@opentelemetry/sdk-trace', '@opentelemetry/sdk-logs', '@opentelemetry/otlp-transformer'];
    const npmEnv = { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
    const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', env: npmEnv });
    const dirs: string[] = [];
    let tarball = '';

    before(() => {
      const dir = mkdtempSync(join(tmpdir(), 'ogm-pack-'));
      dirs.push(dir);
      const packed = npm(['pack', '--ignore-scripts', '--silent', '--pack-destination', dir, ROOT], ROOT);
      expect(packed.status, packed.stderr).to.equal(0);
      tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
    });
    after(() => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    /** A fresh project with `packages` installed (no lockfile: the newest each range admits); `npm ls --all` must be clean. */
    function project(packages: string[]): string {
      const dir = mkdtempSync(join(tmpdir(), 'ogm-consumer-'));
      dirs.push(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
      const install = npm(['install', tarball, ...packages], dir);
      expect(install.status, install.stderr).to.equal(0);
      expect(install.stderr).to.not.match(/ERESOLVE/);
      const ls = npm(['ls', '--all'], dir);
      expect(ls.status, ls.stdout + ls.stderr).to.equal(0);
      return dir;
    }

    /** The versions of every installed copy of each core package present. */
    function coreCopies(dir: string): Record<string, string[]> {
      const out: Record<string, string[]> = {};
      for (const name of CORE) {
        const copies = copiesOf(name, join(dir, 'node_modules'));
        if (copies.length > 0) out[name] = copies.map(c => JSON.parse(readFileSync(join(c, 'package.json'), 'utf8')).version);
      }
      return out;
    }

    const runIn = (dir: string, code: string, env: Record<string, string> = {}) =>
      spawnSync(process.execPath, ['-e', code], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });

    /** Beside the app's NodeSDK: one copy of each core package, and both work in one process. */
    function besideSdkNode(sdkNode: string): void {
      const dir = project([`@opentelemetry/sdk-node@${sdkNode}`, '@opentelemetry/api@latest']);
      const copies = coreCopies(dir);
      expect(Object.keys(copies), 'core packages present').to.include.members(['@opentelemetry/sdk-metrics', '@opentelemetry/core', '@opentelemetry/resources', '@opentelemetry/api']);
      for (const [name, versions] of Object.entries(copies)) expect(versions, name).to.have.length(1);
      // The sdk-metrics npm chose is the one this sdk-node pins.
      const sdkNodeVersion = JSON.parse(readFileSync(join(dir, 'node_modules', '@opentelemetry', 'sdk-node', 'package.json'), 'utf8'));
      expect(copies['@opentelemetry/sdk-metrics']).to.deep.equal([sdkNodeVersion.dependencies['@opentelemetry/sdk-metrics']]);
      const run = runIn(dir, `
        const { NodeSDK } = require('@opentelemetry/sdk-node');
        const { register } = require('otel-gateway-metrics');
        const sdk = new NodeSDK({ instrumentations: [] });
        sdk.start();
        const otel = register({ prometheus: { port: 0, host: '127.0.0.1' } });
        otel.ready.then(async () => {
          otel.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: 0.01 });
          const body = await (await fetch(otel.prometheusUrl)).text();
          console.log(body.split('\\n').filter(l => l.startsWith('gateway_request_duration_seconds_count')).join('\\n'));
          await otel.shutdown(); await sdk.shutdown();
        });
      `, { OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'prometheus' });
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stderr).to.not.match(/duplicate registration/i);
      expect(run.stdout.trim()).to.equal(`gateway_request_duration_seconds_count{node="n1",status="success",transport="http",otel_scope_name="otel-gateway-metrics",otel_scope_version="${pkg.version}"} 1`);
    }

    it('next to the latest @opentelemetry/sdk-node and api: npm ls clean, one copy of each core package', () => {
      besideSdkNode('latest');
    });

    it('next to the oldest @opentelemetry/sdk-node our ranges admit: npm ls clean, one copy of each core package', () => {
      // The release line of our experimental exporters' range minimum (`^0.301.0` → 0.301.0), which pins the
      // stable packages at our stable ranges' minimum.
      const oldest = /^\^(\d+\.\d+\.\d+)$/.exec(pkg.dependencies['@opentelemetry/exporter-metrics-otlp-proto'])![1]!;
      besideSdkNode(oldest);
    });

    describe('alone (`npm install otel-gateway-metrics @opentelemetry/api`): the optional packages are absent', () => {
      let dir = '';
      before(() => {
        dir = project(['@opentelemetry/api']);
      });

      it('installs none of the optional peers, nor the stock Prometheus exporter or gRPC', () => {
        const modules = join(dir, 'node_modules');
        for (const name of ['@opentelemetry/exporter-metrics-otlp-grpc', '@opentelemetry/instrumentation-http', '@opentelemetry/exporter-prometheus',
          '@opentelemetry/instrumentation-host-metrics', '@grpc/grpc-js', 'protobufjs']) {
          expect(copiesOf(name, modules), name).to.deep.equal([]);
        }
        for (const [name, versions] of Object.entries(coreCopies(dir))) expect(versions, name).to.have.length(1);
      });

      /** `code` runs once a loopback OTLP receiver listens: `receiver.url`, `receiver.posts` (each request's path and content-type). */
      const withReceiver = (code: string) => `
        const http = require('node:http');
        const receiver = { posts: [] };
        const server = http.createServer((req, res) => {
          req.resume().on('end', () => { receiver.posts.push(req.url + ' ' + req.headers['content-type']); res.end(); });
        });
        server.listen(0, '127.0.0.1', async () => {
          receiver.url = 'http://127.0.0.1:' + server.address().port + '/v1/metrics';
          process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = receiver.url;
          ${code}
          server.close();
        });
      `;

      it('serves the default (Prometheus, process and runtime metrics) and exports OTLP http/protobuf', () => {
        const run = runIn(dir, withReceiver(`
          const { register } = require('otel-gateway-metrics');
          const otel = register({ prometheus: { port: 0, host: '127.0.0.1' }, exporters: ['prometheus', 'otlp'] });
          await otel.ready;
          otel.metrics.record({ node: 'n1', transport: 'exec', status: 'success', durationSeconds: 0.01 });
          const body = await (await fetch(otel.prometheusUrl)).text();
          const names = new Set(body.split('\\n').filter(l => l && !l.startsWith('#')).map(l => l.split(/[{ ]/)[0]));
          await otel.forceFlush();
          console.log(JSON.stringify({ protocol: otel.config.otlp.protocol, posts: receiver.posts, names: ['gateway_request_duration_seconds_count', 'process_cpu_time_seconds_total', 'process_memory_usage', 'process_uptime_seconds', 'v8js_memory_heap_used_bytes'].filter(n => names.has(n)) }));
          await otel.shutdown();
        `));
        expect(run.status, run.stderr).to.equal(0);
        expect(JSON.parse(run.stdout)).to.deep.equal({
          protocol: 'http/protobuf',
          posts: ['/v1/metrics application/x-protobuf'],
          names: ['gateway_request_duration_seconds_count', 'process_cpu_time_seconds_total', 'process_memory_usage', 'process_uptime_seconds', 'v8js_memory_heap_used_bytes'],
        });
      });

      const tryRegister = (options: string, env: Record<string, string> = {}) => runIn(dir, withReceiver(`
        const { register } = require('otel-gateway-metrics');
        try {
          const otel = register(${options});
          console.log(JSON.stringify({ protocol: otel.config.otlp.protocol, inboundHttp: otel.config.inboundHttp }));
          await otel.shutdown();
        } catch (err) {
          console.log(JSON.stringify({ error: err.name, option: err.option, message: err.message }));
        }
      `), { OTEL_LOG_LEVEL: 'warn', ...env });

      it('otlp.protocol "grpc" in code fails at register() naming the option, the package and the npm install command', () => {
        const r = tryRegister(`{ exporters: ['otlp'], prometheus: { port: false }, otlp: { protocol: 'grpc' } }`);
        expect(r.status, r.stderr).to.equal(0);
        expect(JSON.parse(r.stdout)).to.deep.equal({
          error: 'ConfigError', option: 'otlp.protocol',
          message: 'otel-gateway-metrics: invalid option "otlp.protocol": "grpc" (OTLP over gRPC needs the optional package @opentelemetry/exporter-metrics-otlp-grpc, which is not installed; add it with: npm install @opentelemetry/exporter-metrics-otlp-grpc)',
        });
      });

      it('OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc warns with the install command and falls back to http/protobuf', () => {
        const r = tryRegister(`{ prometheus: { port: false } }`, { OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' });
        expect(r.status, r.stderr).to.equal(0);
        expect(JSON.parse(r.stdout)).to.deep.equal({ protocol: 'http/protobuf', inboundHttp: false });
        expect(r.stderr).to.include('ignoring OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="grpc": OTLP over gRPC needs the optional package @opentelemetry/exporter-metrics-otlp-grpc, which is not installed; add it with: npm install @opentelemetry/exporter-metrics-otlp-grpc; using the default "http/protobuf"');
      });

      it('grpc chosen while the OTLP exporter is off is not an error (the protocol is unused)', () => {
        const r = tryRegister(`{ prometheus: { port: false }, otlp: { protocol: 'grpc' } }`);
        expect(JSON.parse(r.stdout)).to.deep.equal({ protocol: 'grpc', inboundHttp: false });
      });

      it('inboundHttp: true in code fails at register() naming the option, the package and the npm install command', () => {
        const r = tryRegister(`{ prometheus: { port: false }, inboundHttp: true }`);
        expect(JSON.parse(r.stdout)).to.deep.equal({
          error: 'ConfigError', option: 'inboundHttp',
          message: 'otel-gateway-metrics: invalid option "inboundHttp": true (inbound HTTP server metrics needs the optional package @opentelemetry/instrumentation-http, which is not installed; add it with: npm install @opentelemetry/instrumentation-http)',
        });
      });

      it('GATEWAY_METRICS_INBOUND_HTTP=true warns with the install command and falls back to off', () => {
        const r = tryRegister(`{ prometheus: { port: false } }`, { GATEWAY_METRICS_INBOUND_HTTP: 'true' });
        expect(JSON.parse(r.stdout)).to.deep.equal({ protocol: 'http/protobuf', inboundHttp: false });
        expect(r.stderr).to.include('ignoring GATEWAY_METRICS_INBOUND_HTTP="true": inbound HTTP server metrics needs the optional package @opentelemetry/instrumentation-http, which is not installed; add it with: npm install @opentelemetry/instrumentation-http; using the default false');
      });

      it('after `npm install` of the two optional packages, both options work', () => {
        const add = npm(['install', '@opentelemetry/exporter-metrics-otlp-grpc', '@opentelemetry/instrumentation-http'], dir);
        expect(add.status, add.stderr).to.equal(0);
        const ls = npm(['ls', '--all'], dir);
        expect(ls.status, ls.stdout + ls.stderr).to.equal(0);
        for (const [name, versions] of Object.entries(coreCopies(dir))) expect(versions, name).to.have.length(1);
        // The gRPC exporter with headers (gRPC metadata from the exporter's own grpc-js); nothing listens for gRPC
        // there, and shutdown() bounds its wait.
        const r = tryRegister(`{ exporters: ['otlp'], prometheus: { port: false }, otlp: { protocol: 'grpc', endpoint: 'http://127.0.0.1:1', headers: { 'x-tenant': 'a' }, exportTimeoutMillis: 200, exportIntervalMillis: 1000 }, inboundHttp: true }`);
        expect(r.stderr).to.equal('');
        expect(JSON.parse(r.stdout)).to.deep.equal({ protocol: 'grpc', inboundHttp: true });
      });
    });
  });

  it('lists no generated output or installed files in git', async () => {
    const r = await runNode(['-e', `process.stdout.write(require('child_process').execFileSync('git', ['ls-files'], { encoding: 'utf8' }))`]);
    const tracked = r.stdout.split('\n');
    expect(tracked.filter(f => /^(node_modules|dist|coverage)\//.test(f))).to.deep.equal([]);
  });
});
