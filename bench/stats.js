#!/usr/bin/env node
// Case 5 (issue #7) — the JSON stats view: time to answer for 400 series.
//
//   node bench/stats.js [--rounds 200] [--nodes 100]
//
// 100 nodes × 2 transports × 2 statuses = 400 request-duration series, on a
// MeterProvider read by the same PrometheusExporter reader register() uses,
// plus the plugin's error counters and in-flight gauges for them. Each round
// computes the whole GatewayStats (collect + quantiles + totals), as
// otel.stats() and GET /stats do. Median and spread after warm-up.
'use strict';
const path = require('node:path');
const { MeterProvider } = require('@opentelemetry/sdk-metrics');
const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');
const { num, meta, writeResult } = require('./lib/common');
const { summary, sig } = require('./lib/stats');
const dist = path.join(__dirname, '..', 'dist');
const { createGatewayMetrics, gatewayViews } = require(dist);
const { computeStats } = require(path.join(dist, 'export', 'stats.js'));

async function main() {
  const nodes = num('nodes', 100);
  const rounds = num('rounds', 200);
  const reader = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [reader], views: gatewayViews() });
  const m = createGatewayMetrics({ meterProvider: provider });
  for (let i = 0; i < nodes; i++) {
    for (const transport of ['http', 'exec']) {
      for (let k = 0; k < 20; k++) m.record({ node: `node-${i}`, transport, status: 'success', durationSeconds: 0.001 * (k + 1) * (i + 1) });
      m.record({ node: `node-${i}`, transport, status: 'error', durationSeconds: 0.5, errorType: 'timeout' });
    }
  }
  const t = [];
  let last;
  for (let r = 0; r < rounds + 20; r++) {
    const t0 = performance.now();
    last = await computeStats(m, reader, Date.now());
    if (r >= 20) t.push(performance.now() - t0);
  }
  const s = summary(t);
  const result = {
    case: 'stats',
    meta: meta('node bench/stats.js'),
    config: { nodes, series: last.series.length * 2, rounds },
    ms: s,
    targetMs: 2,
  };
  writeResult('stats', result);
  console.log(`stats: ${last.series.length} node×transport entries (${result.config.series} series): median ${sig(s.median)} ms (IQR ${sig(s.q1)}–${sig(s.q3)}, range ${sig(s.min)}–${sig(s.max)})`);
  await provider.shutdown();
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
