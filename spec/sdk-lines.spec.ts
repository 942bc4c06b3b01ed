/**
 * createGatewayMetrics() and gatewayViews() use only the OpenTelemetry API and
 * plain View objects, so a user's own MeterProvider of either SDK line takes
 * them: OpenTelemetry JS 2.x (sdk-metrics 2.12, a dev dependency under the
 * alias otel2-sdk-metrics) and 3.x (our own sdk-metrics 3.1).
 */
import { expect } from 'chai';
import * as sdk3 from '@opentelemetry/sdk-metrics';
import * as sdk2 from 'otel2-sdk-metrics';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGatewayMetrics, gatewayViews } from '../lib';
import { ROOT } from './helpers/child';

type Sdk = typeof sdk3;
const lines: [string, Sdk][] = [
  ['2.x', sdk2 as unknown as Sdk],
  ['3.x', sdk3],
];

describe('the pieces on either SDK line, in the user’s own MeterProvider', () => {
  for (const [line, sdk] of lines) {
    it(`OpenTelemetry JS ${line}: our names and View buckets, exact counts`, async () => {
      // 3.x has an exports map without ./package.json: read the file itself.
      const dir = line === '2.x' ? 'otel2-sdk-metrics' : join('@opentelemetry', 'sdk-metrics');
      const version = (JSON.parse(readFileSync(join(ROOT, 'node_modules', dir, 'package.json'), 'utf8')) as { version: string }).version;
      expect(version.split('.')[0]).to.equal(line[0]);
      // The enum values our Views carry as plain numbers.
      expect([sdk.AggregationType.EXPLICIT_BUCKET_HISTOGRAM, sdk.AggregationType.EXPONENTIAL_HISTOGRAM]).to.deep.equal([4, 5]);

      class Reader extends sdk.MetricReader {
        protected async onShutdown(): Promise<void> {}
        protected async onForceFlush(): Promise<void> {}
      }
      const reader = new Reader();
      const provider = new sdk.MeterProvider({ readers: [reader], views: gatewayViews({ buckets: [0.01, 0.1, 1], prefix: 'mcp' }) });
      const m = createGatewayMetrics({ meterProvider: provider, prefix: 'mcp' });
      m.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: 0.005 });
      m.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: 0.05 });
      m.record({ node: 'n1', transport: 'exec', status: 'error', durationSeconds: 2, errorType: 'timeout' });
      m.recordFallback({ node: 'n1', from: 'http', to: 'exec' });

      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).to.deep.equal([]);
      const all = resourceMetrics.scopeMetrics.flatMap(sm => sm.metrics);
      const byName = (n: string) => all.find(x => x.descriptor.name === n);
      const duration = byName('mcp.gateway.request.duration')!;
      expect(duration.descriptor.unit).to.equal('s');
      const points = duration.dataPoints.map(p => ({
        attrs: p.attributes,
        boundaries: (p.value as sdk3.Histogram).buckets.boundaries,
        counts: (p.value as sdk3.Histogram).buckets.counts,
        sum: (p.value as sdk3.Histogram).sum,
      }));
      expect(points).to.deep.equal([
        { attrs: { node: 'n1', transport: 'http', status: 'success' }, boundaries: [0.01, 0.1, 1], counts: [1, 1, 0, 0], sum: 0.055 },
        { attrs: { node: 'n1', transport: 'exec', status: 'error' }, boundaries: [0.01, 0.1, 1], counts: [0, 0, 0, 1], sum: 2 },
      ]);
      const errorsMetric = byName('mcp.gateway.request.errors')!;
      expect(errorsMetric.dataPoints.map(p => [p.attributes, p.value])).to.deep.equal([
        [{ node: 'n1', transport: 'exec', 'error.type': 'timeout' }, 1],
      ]);
      expect(byName('mcp.gateway.fallbacks')!.dataPoints.map(p => p.value)).to.deep.equal([1]);
      m.dispose();
      await provider.shutdown();
    });
  }
});
