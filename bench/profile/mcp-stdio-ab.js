#!/usr/bin/env node
// Before/after of the MCP stdio observation in ONE gateway process, on real pipes.
//
//   node bench/profile/mcp-stdio-ab.js --before-dist DIR [--blocks 40] [--block 250] [--rounds 3] [--hash-memo]
//
// The gateway process (pinned to core 1, its children with it) spawns three
// JSON-RPC peers (mcp-stdio.js's inline peer) and calls them in turn, in blocks
// of `--block` sequential tools/call requests, the order of the three rotated
// every block:
//   off     no observer on the child
//   before  the MCP stdio observation of the build in DIR (`cp -r dist DIR` before a change)
//   after   the MCP stdio observation of dist/
//   memo    (with --hash-memo) `after` on a MeterProvider made while
//           sdk-metrics' hashAttributes is replaced by the per-object memo of
//           sdk-hash-prototype.js: what that upstream change would take off a call
// Each observer is attached the way the exec path attaches it (new
// StdioObserver(tracker, node, onActivate).attach(child)), with its own
// MeterProvider and gateway metrics. Gateway CPU (process.cpuUsage, user +
// system) per call is taken per block; a difference is taken between the
// blocks of one rotation, so that both sides see the same machine (another
// process on the VM slows every block of a rotation alike). mcp-stdio.js
// compares separate processes, whose spread on a shared 2-core VM was larger
// than the change measured here. `--rounds` processes, one after the other;
// the figures pool their rotations.
// Bounded: rounds × 3 × blocks × block calls at ~0.1 ms each.
'use strict';
const { observeStdio } = require('../lib/mcp-observe');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, arg, flag, num, meta, writeResult, startNode } = require('../lib/common');
const { stdioCaller, cpuPerCallBlocks } = require('../lib/stdio-client');
const { summary, sig } = require('../lib/stats');
const { PEER } = require('./mcp-stdio');

function metricsOf(dist, hashMemo = false) {
  const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
  const utils = require(path.join(path.dirname(require.resolve('@opentelemetry/sdk-metrics')), 'utils.cjs'));
  const stockHash = utils.hashAttributes;
  if (hashMemo) {
    // As in sdk-hash-prototype.js: AttributeHashMap takes the function when it is made.
    const memo = new WeakMap();
    utils.hashAttributes = attributes => {
      if (!Object.isFrozen(attributes)) return stockHash(attributes);
      let h = memo.get(attributes);
      if (h === undefined) memo.set(attributes, (h = stockHash(attributes)));
      return h;
    };
  }
  class Reader extends MetricReader {
    constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
    async onShutdown() {}
    async onForceFlush() {}
  }
  const reader = new Reader();
  const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
  const metrics = createGatewayMetrics({ meterProvider: new MeterProvider({ readers: [reader] }) });
  // Instruments (and their storages) are made with the provider's meter, above.
  utils.hashAttributes = stockHash;
  return { metrics, reader, dist };
}

/** A peer and a call() on it: Buffer chunks split on '\n', one concat per line (as mcp-stdio.js). */
function peer(observe) {
  const child = spawn(process.execPath, ['-e', PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
  if (observe !== undefined) {
    const { metrics, dist } = observe;
    const series = metrics.autoSeries('agent-1', 'exec');
    metrics.autoStart(series);
    observeStdio(dist, metrics, series, child);
  }
  const call = stdioCaller(child);
  return { child, call };
}

async function gateway(beforeDist, blocks, block, hashMemo) {
  const before = metricsOf(beforeDist);
  const after = metricsOf(path.join(ROOT, 'dist'));
  const peers = { off: peer(undefined), before: peer(before), after: peer(after) };
  const memo = hashMemo ? metricsOf(path.join(ROOT, 'dist'), true) : undefined;
  if (memo !== undefined) peers.memo = peer(memo);
  const names = Object.keys(peers);
  const rows = await cpuPerCallBlocks(peers, blocks, block);
  // The observed calls were recorded: the count on each build's convention histogram.
  const count = async m => {
    const { resourceMetrics } = await m.reader.collect();
    const metric = resourceMetrics.scopeMetrics.flatMap(s => s.metrics).find(x => x.descriptor.name === 'mcp.client.operation.duration');
    return metric === undefined ? 0 : metric.dataPoints.reduce((a, p) => a + p.value.count, 0);
  };
  const counts = { before: await count(before), after: await count(after) };
  if (memo !== undefined) counts.memo = await count(memo);
  for (const n of names) peers[n].child.stdin.end();
  await Promise.all(names.map(n => new Promise(r => peers[n].child.on('close', r))));
  process.stdout.write(`${JSON.stringify({ rows, counts })}\n`);
}

async function main() {
  if (process.argv[2] === '--gateway') return gateway(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6] === 'memo');
  const beforeArg = arg('before-dist', process.env.BENCH_BEFORE_DIST);
  if (beforeArg === undefined) throw new Error('--before-dist DIR (a copy of dist/ from before the change) is required');
  const beforeDist = path.resolve(beforeArg);
  const blocks = num('blocks', 40);
  const block = num('block', 250);
  const rounds = num('rounds', 3);
  const hashMemo = flag('hash-memo');
  const loadStart = os.loadavg();
  const rows = [];
  const counts = [];
  for (let r = 0; r < rounds; r++) {
    const { child, info } = await startNode(__filename, ['--gateway', beforeDist, String(blocks), String(block), hashMemo ? 'memo' : 'stock'], {
      cpu: 1,
      // A copy of dist/ outside the repository finds the repository's dependencies through NODE_PATH.
      env: { NODE_PATH: path.join(ROOT, 'node_modules') },
      timeoutMs: 300_000,
    });
    await new Promise(res => child.once('exit', res));
    rows.push(...info.rows);
    counts.push(info.counts);
    console.log(`process ${r + 1}: ${info.rows.length} rotations; calls recorded before ${info.counts.before}, after ${info.counts.after}${hashMemo ? `, memo ${info.counts.memo}` : ''}`);
  }
  const s = f => summary(rows.map(f));
  const result = {
    meta: meta('node bench/profile/mcp-stdio-ab.js'),
    loadavg: { start: loadStart, end: os.loadavg() },
    beforeDist, blocks, block, rounds, hashMemo, counts,
    perCallUs: { off: s(r => r.off), before: s(r => r.before), after: s(r => r.after) },
    deltaUs: { before: s(r => r.before - r.off), after: s(r => r.after - r.off), afterMinusBefore: s(r => r.after - r.before) },
    rows,
  };
  if (hashMemo) {
    result.perCallUs.memo = s(r => r.memo);
    result.deltaUs.memo = s(r => r.memo - r.off);
    result.deltaUs.memoMinusAfter = s(r => r.memo - r.after);
  }
  const line = (label, x) => console.log(`  ${label.padEnd(30)} ${sig(x.median)} µs (IQR ${sig(x.q1)} to ${sig(x.q3)}, n ${x.n})`);
  console.log('gateway CPU per call, medians over rotations:');
  line('off', result.perCallUs.off);
  line('before', result.perCallUs.before);
  line('after', result.perCallUs.after);
  line('before − off', result.deltaUs.before);
  line('after − off', result.deltaUs.after);
  line('after − before', result.deltaUs.afterMinusBefore);
  if (hashMemo) {
    line('memo − off', result.deltaUs.memo);
    line('memo − after', result.deltaUs.memoMinusAfter);
  }
  console.log(`wrote ${writeResult('mcp-stdio-ab', result)}`);
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
