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
    ['@opentelemetry/sdk-metrics', /^3\.1\./],
    ['@opentelemetry/core', /^3\.1\./],
    ['@opentelemetry/resources', /^3\.1\./],
    ['@opentelemetry/api', /^1\.10\./],
  ] as const) {
    it(`installs exactly one copy of ${name} (${version.source})`, () => {
      const copies = copiesOf(name).filter(p => !devOnly(p));
      expect(copies).to.have.length(1);
      expect(JSON.parse(readFileSync(join(copies[0]!, 'package.json'), 'utf8')).version).to.match(version);
    });
  }

  it('pins the OpenTelemetry packages to exactly what the 3.x exporters pin', () => {
    const deps = pkg.dependencies as Record<string, string>;
    for (const [name, version] of Object.entries(deps)) {
      if (!name.startsWith('@opentelemetry/')) continue;
      expect(version, name).to.match(/^\d+\.\d+\.\d+$/);
      if (/exporter|^@opentelemetry\/instrumentation$|instrumentation-http/.test(name)) expect(version, name).to.match(/^0\.301\./);
    }
    // Read from the installed exporter: the pins must be what it pins, or npm installs a second copy.
    const exporterPkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@opentelemetry', 'exporter-prometheus', 'package.json'), 'utf8'));
    for (const name of ['@opentelemetry/sdk-metrics', '@opentelemetry/core', '@opentelemetry/resources']) {
      expect(deps[name], name).to.equal(exporterPkg.dependencies[name]);
    }
    expect(pkg.peerDependencies['@opentelemetry/api']).to.equal('>=1.10.0 <1.11.0');
    expect(pkg.engines.node).to.equal('>=22.15.0');
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

  it('installs from `npm pack` into a fresh project next to the latest @opentelemetry/sdk-node and api, with one copy of each core package', async function () {
    this.timeout(300_000);
    const dir = mkdtempSync(join(tmpdir(), 'ogm-consumer-'));
    try {
      const npm = (args: string[], cwd: string) => spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' } });
      const packed = npm(['pack', '--ignore-scripts', '--silent', '--pack-destination', dir, ROOT], ROOT);
      expect(packed.status, packed.stderr).to.equal(0);
      const tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
      const install = npm(['install', tarball, '@opentelemetry/sdk-node@latest', '@opentelemetry/api@latest'], dir);
      expect(install.status, install.stderr).to.equal(0);
      expect(install.stderr).to.not.match(/ERESOLVE/);
      const ls = npm(['ls', '--all'], dir);
      expect(ls.status, ls.stdout + ls.stderr).to.equal(0);
      const modules = join(dir, 'node_modules');
      for (const name of ['@opentelemetry/sdk-metrics', '@opentelemetry/core', '@opentelemetry/resources', '@opentelemetry/api']) {
        expect(copiesOf(name, modules), name).to.have.length(1);
      }
      // And it runs there, beside the NodeSDK it was installed with.
      const run = spawnSync(process.execPath, ['-e', `
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
      `], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, OTEL_TRACES_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'prometheus' } });
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stderr).to.not.match(/duplicate registration/i);
      expect(run.stdout.trim()).to.equal(`gateway_request_duration_seconds_count{node="n1",status="success",transport="http",otel_scope_name="otel-gateway-metrics",otel_scope_version="${pkg.version}"} 1`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists no generated output or installed files in git', async () => {
    const r = await runNode(['-e', `process.stdout.write(require('child_process').execFileSync('git', ['ls-files'], { encoding: 'utf8' }))`]);
    const tracked = r.stdout.split('\n');
    expect(tracked.filter(f => /^(node_modules|dist|coverage)\//.test(f))).to.deep.equal([]);
  });
});
