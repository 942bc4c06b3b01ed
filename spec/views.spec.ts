import { expect } from 'chai';
import { AggregationType } from '@opentelemetry/sdk-metrics';
import { ConfigError, DEFAULT_DURATION_BUCKETS, gatewayViews, semconv } from '../lib';
import { cardinalityLimits } from '../lib/core/limits';
import { harness, histogram, point } from './helpers/metrics';
import { find, scrape } from './helpers/prom';
import { useRegistrations } from './helpers/registration';

describe('gatewayViews() for users who run their own MeterProvider / NodeSDK', () => {
  it('overrides the duration buckets of the gateway and http.* duration instruments through Views', async () => {
    const views = gatewayViews({ buckets: [0.1, 1, 10] });
    const h = harness({}, views);
    try {
      for (const v of [0.05, 0.5, 5, 50]) h.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: v });
      const meter = h.provider.getMeter('@opentelemetry/instrumentation-http');
      meter.createHistogram(semconv.METRIC_HTTP_SERVER_DURATION, { unit: 's', advice: { explicitBucketBoundaries: [0.005, 10] } }).record(20);
      meter.createHistogram(semconv.METRIC_HTTP_CLIENT_DURATION, { unit: 's' }).record(0.2);
      const rm = await h.collect();
      const hist = histogram(rm, semconv.METRIC_REQUEST_DURATION, {});
      expect(hist.buckets.boundaries).to.deep.equal([0.1, 1, 10]);
      expect(hist.buckets.counts).to.deep.equal([1, 1, 1, 1]);
      expect(histogram(rm, semconv.METRIC_HTTP_SERVER_DURATION, {}).buckets.boundaries).to.deep.equal([0.1, 1, 10]);
      expect(histogram(rm, semconv.METRIC_HTTP_CLIENT_DURATION, {}).buckets.counts).to.deep.equal([0, 1, 0, 0]);
    } finally {
      await h.shutdown();
    }
  });

  it('gives the same metrics as register() by default, with the prefix applied to View selectors', async () => {
    const h = harness({ prefix: 'mcp' }, gatewayViews({ prefix: 'mcp' }));
    try {
      h.metrics.record({ node: 'n', transport: 'exec', status: 'error', durationSeconds: 45, errorType: 'timeout' });
      const rm = await h.collect();
      const hist = histogram(rm, `mcp.${semconv.METRIC_REQUEST_DURATION}`, {});
      expect(hist.buckets.boundaries).to.deep.equal([...DEFAULT_DURATION_BUCKETS]);
      expect(point(rm, `mcp.${semconv.METRIC_REQUEST_ERRORS}`, {}).value).to.equal(1);
    } finally {
      await h.shutdown();
    }
  });

  it('sets cardinality limits derived from maxNodes, so nothing folds into otel_metric_overflow', () => {
    const views = gatewayViews({ maxNodes: 10 });
    const limits = cardinalityLimits(10);
    const byName = new Map(views.map(v => [v.instrumentName, v]));
    expect(byName.get(semconv.METRIC_REQUEST_DURATION)!.aggregationCardinalityLimit).to.equal(limits.duration);
    expect(limits.duration).to.equal(11 * 9 * 2 + 1);
    expect(byName.get(semconv.METRIC_REQUEST_ERRORS)!.aggregationCardinalityLimit).to.equal(limits.errors);
    // Observable instruments: the SDK's limit counts every series ever seen (see lib/core/limits.ts).
    expect(byName.get(semconv.METRIC_NODE_UP)!.aggregationCardinalityLimit).to.equal(Number.MAX_SAFE_INTEGER);
    expect(byName.get(semconv.METRIC_REQUESTS_ACTIVE)!.aggregationCardinalityLimit).to.equal(Number.MAX_SAFE_INTEGER);
  });

  it('switches the duration Views to base-2 exponential histograms on request', () => {
    const views = gatewayViews({ histogram: 'exponential' });
    const d = views.find(v => v.instrumentName === semconv.METRIC_REQUEST_DURATION)!;
    expect(d.aggregation).to.deep.equal({ type: AggregationType.EXPONENTIAL_HISTOGRAM, options: { maxSize: 160, recordMinMax: true } });
    const size = views.find(v => v.instrumentName === semconv.METRIC_REQUEST_SIZE)!;
    expect(size.aggregation!.type).to.equal(AggregationType.EXPLICIT_BUCKET_HISTOGRAM);
  });

  it('validates its options like register() does, and never mutates the caller’s array', () => {
    expect(() => gatewayViews({ buckets: [2, 1] })).to.throw(ConfigError, '"buckets"');
    expect(() => gatewayViews({ prefix: 'a-b' })).to.throw(ConfigError, '"prefix"');
    expect(() => gatewayViews({ maxNodes: 0 })).to.throw(ConfigError, '"maxNodes"');
    const mine = [1, 2, 3];
    const v = gatewayViews({ buckets: mine });
    (v[0]!.aggregation as { options: { boundaries: number[] } }).options.boundaries.push(99);
    expect(mine).to.deep.equal([1, 2, 3]);
  });
});

describe('register(): the views option and the scope labels on /metrics', () => {
  const reg = useRegistrations();

  it("applies a user's Views to the gateway's own instruments before ours: buckets by wildcard name, DROP", async () => {
    const o = await reg.ready({
      views: [
        { instrumentName: 'gateway.request.dur*', aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [0.1, 1] } } },
        { instrumentName: 'gateway.request.errors', aggregation: { type: AggregationType.DROP } },
      ],
    });
    for (const v of [0.05, 0.5, 5]) o.metrics.record({ node: 'n', transport: 'http', status: 'error', durationSeconds: v, errorType: 'e' });
    const { parsed } = await scrape(o.prometheusUrl!);
    expect(find(parsed, 'gateway_request_duration_seconds_bucket').map(s => [s.labels.le, s.value])).to.deep.equal([['0.1', 1], ['1', 2], ['+Inf', 3]]);
    expect(find(parsed, 'gateway_request_errors_total')).to.deep.equal([]);
  });

  it('refuses a View without a selector or with a name on a wildcard, naming the option', () => {
    expect(() => reg.start({ views: [{ aggregation: { type: AggregationType.DROP } }] })).to.throw('invalid option "views"');
    expect(() => reg.start({ views: [{ instrumentName: 'gateway.*', name: 'x' }] })).to.throw('invalid option "views"');
  });

  it('withoutScopeInfo leaves otel_scope_name and otel_scope_version off every series, and only them', async () => {
    const o = await reg.ready({ prometheus: { withoutScopeInfo: true } });
    o.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.2 });
    const { parsed, text } = await scrape(o.prometheusUrl!);
    expect(find(parsed, 'gateway_request_duration_seconds_count').map(s => s.labels)).to.deep.equal([{ node: 'n', status: 'success', transport: 'http' }]);
    expect(find(parsed, 'gateway_requests_active').map(s => s.labels)).to.deep.equal([{ node: 'n', transport: 'http' }]);
    expect(text).to.not.include('otel_scope_');
  });
});
