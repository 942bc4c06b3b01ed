#!/usr/bin/env node
// Experiment (not part of npm run bench): what collect() costs in a plugin-shaped
// provider at N histogram series (recorded through GatewayMetrics.record(), so
// the error counters and in-flight gauges exist too, as in the gateway), and how
// much of it the in-flight observable is.
//
//   node --expose-gc bench/profile/collect-split.js [--series 20000] [--rounds 7]
//
//   asIs              the plugin as built
//   activeSkipUnchanged  _observeActive patched to observe only series whose count
//                     changed since its last observation (sdk-metrics 2.12 keeps
//                     exporting an unobserved async series with its last value under
//                     cumulative temporality; checked below)
//   noActive          the in-flight callback removed (lower bound)
'use strict';
const { MeterProvider } = require('@opentelemetry/sdk-metrics');
const { num, gc } = require('../lib/common');
const { BenchReader, resource, labelSets, durations } = require('../lib/fixtures');
const { summary, sig } = require('../lib/stats');
const { gatewayViews, semconv } = require('../../dist');
const { GatewayMetrics } = require('../../dist/core/gateway-metrics');
const { cardinalityLimits } = require('../../dist/core/limits');

const N = num('series', 20_000);
const ROUNDS = num('rounds', 7);

function build(mode) {
  const maxNodes = N / 4 + 10;
  const reader = new BenchReader(cardinalityLimits(maxNodes).duration);
  const provider = new MeterProvider({ resource: resource(), views: gatewayViews({ maxNodes }), readers: [reader] });
  const metrics = new GatewayMetrics(provider.getMeter(semconv.SCOPE_NAME, '0.1.0'), { maxNodes, nodeIdleTtl: 0 });
  if (mode === 'noActive') metrics._active.removeCallback(metrics._observeActive);
  if (mode === 'activeSkipUnchanged') {
    metrics._active.removeCallback(metrics._observeActive);
    const seen = new WeakMap();
    metrics._active.addCallback(result => {
      for (const entry of metrics._allEntries()) {
        for (const series of entry.transports.values()) {
          if (seen.get(series) !== series.active) {
            seen.set(series, series.active);
            result.observe(series.active, series.base);
          }
        }
      }
    });
  }
  return { reader, metrics };
}

async function main() {
  const labels = labelSets(N);
  const values = durations(4096, 5);
  const out = {};
  for (const mode of ['asIs', 'activeSkipUnchanged', 'noActive']) {
    const { reader, metrics } = build(mode);
    let k = 0;
    const touch = () => {
      for (const l of labels) metrics.record({ node: l.node, transport: l.transport, status: l.status, durationSeconds: values[k++ & 4095] });
    };
    touch();
    const first = await reader.collect();
    const points = first.resourceMetrics.scopeMetrics.reduce((a, s) => a + s.metrics.reduce((b, m) => b + m.dataPoints.length, 0), 0);
    const times = { touched: [], idle: [] };
    for (let r = 0; r < ROUNDS; r++) {
      touch();
      gc();
      let t0 = performance.now();
      await reader.collect();
      times.touched.push(performance.now() - t0);
      gc();
      t0 = performance.now();
      const { resourceMetrics } = await reader.collect();
      times.idle.push(performance.now() - t0);
      if (r === ROUNDS - 1) {
        const active = resourceMetrics.scopeMetrics[0].metrics.find(m => m.descriptor.name === semconv.METRIC_REQUESTS_ACTIVE);
        out[mode] = { activePointsExported: active ? active.dataPoints.length : 0 };
      }
    }
    out[mode] = { ...out[mode], points, touched: summary(times.touched), idle: summary(times.idle) };
    console.log(`${mode.padEnd(20)} ${points} points; collect after every series got an observation: ${sig(out[mode].touched.median)} ms (${sig(out[mode].touched.min)}–${sig(out[mode].touched.max)}); collect with nothing new: ${sig(out[mode].idle.median)} ms; in-flight points still exported: ${out[mode].activePointsExported}`);
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
