#!/usr/bin/env node
// Experiment (not part of npm run bench): what a plugin-owned histogram store
// (per Series: a Float64Array of bucket counts, sum and count, found through the
// Series object GatewayMetrics already caches: no attribute hashing) would cost
// per record, per collect-equivalent pass and per series in memory — the
// numbers behind the "own MetricProducer" suggestion. Compared with the SDK's
// histogram.record() on the same 200-series mix.
//
//   node --expose-gc bench/profile/own-storage.js
'use strict';
const { ValueType } = require('@opentelemetry/api');
const { MeterProvider } = require('@opentelemetry/sdk-metrics');
const { gc } = require('../lib/common');
const { BenchReader, BUCKETS, resource, durations } = require('../lib/fixtures');
const { summary, sig } = require('../lib/stats');

class Store {
  constructor(boundaries) {
    this.b = Float64Array.from(boundaries);
    this.counts = new Float64Array(boundaries.length + 1);
    this.sum = 0;
    this.count = 0;
  }
  record(v) {
    const b = this.b;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v > b[mid]) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]++;
    this.sum += v;
    this.count++;
  }
}

async function main() {
  const reader = new BenchReader(100_000);
  const provider = new MeterProvider({ resource: resource(), readers: [reader] });
  const h = provider.getMeter('x').createHistogram('h', { valueType: ValueType.DOUBLE, advice: { explicitBucketBoundaries: BUCKETS } });
  const mix = [];
  for (let n = 0; n < 50; n++) for (const t of ['http', 'exec']) for (const s of ['success', 'error']) mix.push({ attrs: Object.freeze({ node: `node-${n}`, transport: t, status: s }), store: new Store(BUCKETS) });
  const values = durations(4096, 9);
  const OPS = 200_000;
  const t = { sdk: [], own: [] };
  for (let r = 0; r < 25; r++) {
    for (const name of r % 2 ? ['own', 'sdk'] : ['sdk', 'own']) {
      const t0 = process.hrtime.bigint();
      if (name === 'sdk') for (let i = 0; i < OPS; i++) h.record(values[i & 4095], mix[i % 200].attrs);
      else for (let i = 0; i < OPS; i++) mix[i % 200].store.record(values[i & 4095]);
      if (r >= 5) t[name].push(Number(process.hrtime.bigint() - t0) / OPS);
    }
  }
  console.log(`record, ns/call (median of 20 rounds × ${OPS}): SDK histogram.record ${sig(summary(t.sdk).median)}, own store ${sig(summary(t.own).median)}`);

  // Memory per series and a full pass (what building cumulative data points would read).
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const stores = Array.from({ length: 20_000 }, () => new Store(BUCKETS));
  gc();
  const per = (process.memoryUsage().heapUsed - h0) / 20_000;
  const passes = [];
  for (let r = 0; r < 10; r++) {
    const t0 = performance.now();
    let acc = 0;
    for (const s of stores) {
      let c = 0;
      for (let i = 0; i < s.counts.length; i++) c += s.counts[i];
      acc += c + s.sum;
    }
    passes.push(performance.now() - t0);
    if (acc < 0) console.log(acc);
  }
  console.log(`own store: ${sig(per)} B/series (Float64Array bucket counts; boundaries shared would save more), a pass over 20,000 series ${sig(summary(passes).median)} ms`);
}

main();
