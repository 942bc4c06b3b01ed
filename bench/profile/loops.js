#!/usr/bin/env node
// Hot loops to profile (node --cpu-prof bench/profile/loops.js <what> [seconds]).
//   measure | raw | record | scrape-2000 | scrape-20000 | collect-20000
'use strict';
const what = process.argv[2];
const seconds = Number(process.argv[3] || 4);

async function main() {
  const until = performance.now() + seconds * 1000;
  if (what === 'measure' || what === 'raw' || what === 'record') {
    const { ValueType } = require('@opentelemetry/api');
    const { MeterProvider } = require('@opentelemetry/sdk-metrics');
    const { createGatewayMetrics, gatewayViews } = require('../../dist');
    const { BenchReader, BUCKETS, resource, durations } = require('../lib/fixtures');
    const reader = new BenchReader(100_000);
    const provider = new MeterProvider({ resource: resource(), views: gatewayViews(), readers: [reader] });
    const metrics = createGatewayMetrics({ meterProvider: provider });
    const raw = provider.getMeter('raw').createHistogram('raw.request.duration', { unit: 's', valueType: ValueType.DOUBLE, advice: { explicitBucketBoundaries: BUCKETS } });
    const mix = [];
    for (let n = 0; n < 50; n++) for (const transport of ['http', 'exec']) mix.push({ labels: { node: `node-${n}`, transport }, attrs: Object.freeze({ node: `node-${n}`, transport, status: 'success' }) });
    const values = durations(4096, 1);
    let i = 0;
    while (performance.now() < until) {
      for (let k = 0; k < 10_000; k++, i++) {
        const x = mix[i % mix.length];
        if (what === 'measure') metrics.measure(x.labels, () => i);
        else if (what === 'record') metrics.record({ node: x.labels.node, transport: x.labels.transport, status: 'success', durationSeconds: values[i & 4095] });
        else {
          const t0 = performance.now();
          raw.record((performance.now() - t0) / 1000, x.attrs);
        }
      }
    }
    return;
  }
  const [kind, n] = what.split('-');
  const { otelSetup, populate } = require('../lib/fixtures');
  const o = otelSetup(Number(n));
  populate({ otel: [o] }, Number(n), 3);
  let r = 0;
  while (performance.now() < until) {
    populate({ otel: [o] }, Number(n), 1, r++);
    const { resourceMetrics } = await o.reader.collect();
    if (kind === 'scrape') for (const c of o.serializer.chunks(resourceMetrics)) Buffer.from(c);
  }
}

main();
