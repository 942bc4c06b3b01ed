'use strict';
// GatewayMetrics recording into our series store, as register() builds it
// (its Views, one cumulative reader), from a build's dist/: the per-call path
// of a registered gateway without the listener, exporters or automatic paths
// (the benches enable the paths they compare themselves).
const path = require('node:path');

function storeMetrics(dist, options = {}) {
  const { SeriesStore } = require(path.join(dist, 'store', 'store.js'));
  const { GatewayMetrics } = require(path.join(dist, 'core', 'gateway-metrics.js'));
  const { gatewayViews } = require(path.join(dist, 'export', 'views.js'));
  const { RateLimitedWarner } = require(path.join(dist, 'core', 'diag.js'));
  const { SCOPE_NAME } = require(path.join(dist, 'core', 'semconv.js'));
  const { VERSION } = require(path.join(dist, 'core', 'version.js'));
  const { AggregationTemporality, AggregationType } = require('@opentelemetry/sdk-metrics');
  const reader = { temporality: () => AggregationTemporality.CUMULATIVE, aggregation: () => ({ type: AggregationType.DEFAULT }) };
  const store = new SeriesStore({
    scope: { name: SCOPE_NAME, version: VERSION },
    readers: [reader],
    views: gatewayViews({ histogram: 'explicit', durationViews: true }),
    warn: new RateLimitedWarner(),
  });
  const metrics = new GatewayMetrics(store, options);
  return { store, metrics };
}

module.exports = { storeMetrics };
