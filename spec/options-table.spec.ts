/**
 * The one option table (lib/config/options.ts) against what the package really does
 * and against its copy in docs/options.md.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { createGatewayMetrics, gatewayViews } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { KNOWN_GATEWAY_ENV, OPTION_TABLE, knownKeys, optionTableMarkdown } from '../lib/config/options';
import { ROOT } from './helpers/child';
import { captureDiag } from './helpers/diag';

describe('the option table', () => {
  it('is the table in docs/options.md, row for row (regenerate with `node scripts/options-table.mjs --write`)', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'options.md'), 'utf8');
    const m = /<!-- options-table:[^\n]*-->\n([\s\S]*?)\n<!-- \/options-table -->/.exec(doc);
    expect(m, 'docs/options.md has no generated options table').to.not.equal(null);
    expect(m![1]).to.equal(optionTableMarkdown());
  });

  it('lists every GATEWAY_METRICS_* variable the code reads, and no other', () => {
    const read = new Set<string>();
    const files = readdirSync(join(ROOT, 'lib'), { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.ts'));
    expect(files.length).to.be.at.least(20);
    for (const f of files) {
      for (const m of readFileSync(join(ROOT, 'lib', f), 'utf8').matchAll(/GATEWAY_METRICS_[A-Z0-9_]+/g)) read.add(m[0]);
    }
    expect([...KNOWN_GATEWAY_ENV].sort()).to.deep.equal([...read].sort());
  });

  it('knows exactly the option keys that resolveConfig() accepts: each top-level and nested key resolves, a neighbour typo is refused', () => {
    expect([...knownKeys('')].sort()).to.deep.equal([
      'buckets', 'cluster', 'downAfterErrors', 'exec', 'exporters', 'globalMeterProvider', 'handleSignals', 'healthCheckBuckets', 'histogram',
      'http', 'inboundHttp', 'llm', 'maxModels', 'maxNodes', 'maxTools', 'mcp', 'nodeIdleTtl', 'otlp', 'prefix', 'processMetrics', 'prometheus', 'resourceAttributes',
      'runtimeMetrics', 'serviceName', 'sizeBuckets', 'statusPage', 'views',
    ]);
    expect([...knownKeys('prometheus')]).to.deep.equal(['host', 'port', 'path', 'statsPath', 'statusPath', 'withoutScopeInfo', 'classicHistograms', 'exemplars', 'auth']);
    expect([...knownKeys('cluster')]).to.deep.equal(['dir']);
    expect(() => resolveConfig({ prometheus: { paht: '/x' } } as never, {})).to.throw('invalid option "prometheus.paht"');
    expect(() => resolveConfig({ http: { nodefor: {} } } as never, {})).to.throw('invalid option "http.nodefor"');
  });

  it('every plain leaf: its default is what resolveConfig() gives with no option and no env', () => {
    const diag = captureDiag();
    try {
      const c = resolveConfig({}, {}) as unknown as Record<string, unknown>;
      const get = (path: string) => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], c);
      const leaves = OPTION_TABLE.filter(r => r.option !== '' && r.check !== undefined && !['http', 'exec', 'mcp', 'cluster'].includes(r.option));
      expect(leaves.length).to.equal(36);
      for (const r of leaves) expect(get(r.option), r.option).to.deep.equal(r.default);
      expect(diag.all()).to.deep.equal([]);
    } finally {
      diag.restore();
    }
  });

  it('every plain leaf with an env var: a bad value warns once, naming the variable, and the default is used', () => {
    const diag = captureDiag();
    try {
      // serviceName takes any string, so no env value is bad for it.
      const leaves = OPTION_TABLE.filter(r => r.option !== '' && r.option !== 'serviceName' && r.check !== undefined && r.parseEnv !== undefined && r.env.length > 0);
      expect(leaves.length).to.equal(36);
      for (const r of leaves) {
        diag.warn.length = 0;
        // A value no leaf accepts: not a number, a path, a bucket list, a boolean or one word.
        const c = resolveConfig({}, { [r.env[0]!]: '/ \u0000 not valid' }) as unknown as Record<string, unknown>;
        const got = r.option.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], c);
        // http, exec, mcp and cluster resolve to their settings; on (the default) is an object, off is undefined.
        if (r.option === 'http' || r.option === 'exec' || r.option === 'mcp' || r.option === 'cluster') expect(got, r.option).to.be.an('object');
        else expect(got, r.option).to.deep.equal(r.default);
        expect(diag.warn.filter(w => w.includes(`ignoring ${r.env[0]}=`)), r.env[0]).to.have.length(1);
      }
    } finally {
      diag.restore();
    }
  });

  it('createGatewayMetrics() and gatewayViews() hold an option to the same check as register(), with the same error', () => {
    const meterProvider = new MeterProvider();
    const cases: [string, Record<string, unknown>][] = [
      ['maxNodes', { maxNodes: 5e6 }],
      ['maxNodes', { maxNodes: 0 }],
      ['buckets', { buckets: [1, 0.5] }],
      ['prefix', { prefix: '9x' }],
    ];
    for (const [option, o] of cases) {
      const errors = [
        () => resolveConfig(o, {}),
        () => createGatewayMetrics({ meterProvider, ...o }),
        () => gatewayViews(o),
      ].map(f => {
        try {
          f();
          return 'accepted';
        } catch (e) {
          return (e as Error).message;
        }
      });
      expect(errors[0], option).to.match(new RegExp(`^otel-gateway-metrics: invalid option "${option}"`));
      expect(errors, option).to.deep.equal([errors[0], errors[0], errors[0]]);
    }
  });
});
