#!/usr/bin/env node
// Micro-benchmark (not part of npm run bench): the store's base-2 exponential
// histogram cell (lib/store/exponential.ts, built) against the SDK on the same
// values:
//   - ns per record(): our ExponentialCell.record() on 200 cells, against the
//     SDK's histogram.record() with an exponential View on 200 attribute sets
//     (what the store replaces), and the SDK's accumulation.record() on its own
//     (its aggregator without the attribute hashing; loaded from its dist);
//     interleaved rounds, rotated order, medians;
//   - bytes per cell: 20,000 cells after 50 records each (heapUsed after gc),
//     ours and the SDK's accumulation.
//
//   npm run build && node --expose-gc bench/profile/exponential-cell.js
'use strict';
const path = require('node:path');
const { MeterProvider, AggregationType, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
const { gc } = require('../lib/common');
const { durations } = require('../lib/fixtures');
const { summary, rotate, sig } = require('../lib/stats');
const { ExponentialCell } = require('../../dist/store/exponential.js');

const { ExponentialHistogramAccumulation } = require(
  path.join(path.dirname(require.resolve('@opentelemetry/sdk-metrics')), 'aggregator', 'ExponentialHistogram.cjs'),
);

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  async onShutdown() {}
  async onForceFlush() {}
}

const SERIES = 200;
const OPS = 100_000;
const ROUNDS = 15;
const WARMUP = 3;
const CELLS = 20_000;
const PER_CELL = 50;

function main() {
  // Request durations, 1 ms .. 20 s, log-uniform (the repo's bench fixture).
  const values = durations(4096, 9);

  const provider = new MeterProvider({
    readers: [new Reader()],
    views: [{ instrumentName: 'h', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const h = provider.getMeter('bench').createHistogram('h');
  const attrs = [];
  for (let n = 0; n < SERIES / 4; n++) {
    for (const transport of ['http', 'exec']) {
      for (const status of ['success', 'error']) attrs.push(Object.freeze({ node: `node-${n}`, transport, status }));
    }
  }
  const cells = Array.from({ length: SERIES }, () => new ExponentialCell());
  const accs = Array.from({ length: SERIES }, () => new ExponentialHistogramAccumulation([0, 0]));

  const variants = {
    'SDK histogram.record (exponential View, 200 attribute sets)': () => {
      for (let i = 0; i < OPS; i++) h.record(values[i & 4095], attrs[i % SERIES]);
    },
    'SDK accumulation.record (aggregator only, 200 accumulations)': () => {
      for (let i = 0; i < OPS; i++) accs[i % SERIES].record(values[i & 4095]);
    },
    'ExponentialCell.record (200 cells)': () => {
      for (let i = 0; i < OPS; i++) cells[i % SERIES].record(values[i & 4095]);
    },
  };
  const names = Object.keys(variants);
  const t = Object.fromEntries(names.map(n => [n, []]));
  for (let r = 0; r < ROUNDS + WARMUP; r++) {
    for (const name of rotate(names, r)) {
      const t0 = process.hrtime.bigint();
      variants[name]();
      if (r >= WARMUP) t[name].push(Number(process.hrtime.bigint() - t0) / OPS);
    }
  }
  console.log(`node ${process.version}; record(), ns/call, median (IQR) of ${ROUNDS} interleaved rounds × ${OPS.toLocaleString('en-US')}:`);
  for (const name of names) {
    const s = summary(t[name]);
    console.log(`  ${name}: ${sig(s.median)} (${sig(s.q1)}–${sig(s.q3)})`);
  }
  // Same values, same points (a sanity check, not a spec).
  const check = new ExponentialCell();
  const acc = new ExponentialHistogramAccumulation([0, 0]);
  for (const v of values) {
    check.record(v);
    acc.record(v);
  }
  const pv = acc.toPointValue();
  if (JSON.stringify([check.scale, check.value().positive]) !== JSON.stringify([pv.scale, pv.positive])) throw new Error('points differ');

  // Bytes per cell: 20,000 cells, 50 records each (one function call per kind, so that
  // nothing of the previous kind stays reachable from this frame).
  const bytes = {};
  for (const [name, make] of [
    ['ExponentialCell', () => new ExponentialCell()],
    ['SDK ExponentialHistogramAccumulation', () => new ExponentialHistogramAccumulation([0, 0])],
  ]) bytes[name] = bytesPerCell(make, values);
  const probe = new ExponentialCell();
  for (let i = 0; i < PER_CELL; i++) probe.record(values[i]);
  console.log(`bytes per cell (heapUsed after gc, ${CELLS.toLocaleString('en-US')} cells × ${PER_CELL} records; ${probe.value().positive.bucketCounts.length} buckets at scale ${probe.scale} for the first):`);
  for (const [name, b] of Object.entries(bytes)) console.log(`  ${name}: ${sig(b)} B`);
  return provider.shutdown();
}

function bytesPerCell(make, values) {
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const held = new Array(CELLS);
  let k = 0;
  for (let c = 0; c < CELLS; c++) {
    const cell = make();
    for (let i = 0; i < PER_CELL; i++) cell.record(values[k++ & 4095]);
    held[c] = cell;
  }
  gc();
  const per = (process.memoryUsage().heapUsed - h0) / CELLS;
  if (held.length !== CELLS) throw new Error('unreachable');
  return per;
}

main();
