#!/usr/bin/env node
// npm run bench: every case, one after another, each in its own processes;
// JSON results in bench/results/, then BENCHMARKS.md generated from them.
//
//   node bench/run.js [--only record,scrape,throughput,memory,stats,status-page,churn,cluster,footprint] [--no-report]
//
// Bounded: ~6–8 minutes on the 2-core machine (record ~40 s, scrape ~1.5 min,
// throughput ~4.5 min, memory ~40 s, churn ~3 min, cluster ~1 min, footprint ~20 s with the registry at hand). Case options can be passed through the
// environment (BENCH_DURATION, BENCH_ROUNDS, BENCH_SIZES, BENCH_SERIES, …).
'use strict';
const path = require('node:path');
const { arg, flag, runNode, writeResult, readResult, meta } = require('./lib/common');

const CASES = ['record', 'scrape', 'throughput', 'memory', 'stats', 'status-page', 'churn', 'cluster', 'footprint'];

async function main() {
  const only = (arg('only') || CASES.join(',')).split(',');
  const started = Date.now();
  const timings = {};
  for (const name of CASES) {
    if (!only.includes(name)) continue;
    const t0 = Date.now();
    console.log(`\n== ${name} ==`);
    const code = await runNode(path.join(__dirname, `${name}.js`), []);
    timings[name] = (Date.now() - t0) / 1000;
    if (code !== 0) {
      console.error(`bench: ${name} failed with exit code ${code}`);
      process.exitCode = 1;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  // A run of some cases keeps the timings of the others from the last run.
  const previous = only.length < CASES.length ? readResult('run') : undefined;
  const merged = { ...(previous ? previous.timings : {}), ...timings };
  writeResult('run', { meta: meta(`node bench/run.js${only.length < CASES.length ? ` --only ${only.join(',')}` : ''}`), seconds, timings: merged, only });
  if (!flag('no-report')) {
    require('./report').writeReport();
    console.log(`\nbench: BENCHMARKS.md written; total ${seconds.toFixed(0)} s (${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')})`);
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
