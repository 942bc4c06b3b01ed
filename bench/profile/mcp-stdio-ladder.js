#!/usr/bin/env node
// Where the MCP stdio observation's cost per call goes, on real pipes (issue 16).
//
//   node bench/profile/mcp-stdio-ladder.js [--blocks 40] [--block 200] [--rounds 2]
//
// One gateway process (pinned to core 1, its children with it) calls several
// JSON-RPC peers (mcp-stdio.js's inline peer), each observed by the MCP stdio reader
// of dist/ cut short at a different step, in blocks of `--block` sequential
// tools/call requests, the order rotated every block (as mcp-stdio-ab.js):
//   off      no observer
//   wrap     stdin.write/end and stdout.push wrapped, nothing done in them
//   frame    + lines framed on both streams, nothing read
//   read     + each request line and answer line read (readRequest/readAnswer), no call tracked
//   read2    as read, each line read twice
//   track    the whole observation with both SDK records replaced by no-ops
//   record1  + the gateway duration record (the convention record a no-op)
//   full     + the convention record: the observation as shipped
//   record2  full, with the gateway duration recorded twice
// Steps are differences between blocks of one rotation. `read2 − read` and
// `record2 − full` are the same work run a second time while its code and data
// are hot: set next to `read − frame` and `record1 − track`, they show how
// much of a step is its first run after the event loop, the streams and the
// peer have run (the loop of mcp-stdio.js part C runs everything hot).
// Bounded: rounds × 9 × blocks × block calls at ~0.1 ms each.
'use strict';
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, num, meta, writeResult, startNode } = require('../lib/common');
const { stdioCaller, cpuPerCallBlocks } = require('../lib/stdio-client');
const { summary, sig } = require('../lib/stats');
const { PEER } = require('./mcp-stdio');
const { observeStdio } = require('../lib/mcp-observe');

const dist = path.join(ROOT, 'dist');

function metricsOf() {
  const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
  class Reader extends MetricReader {
    constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
    async onShutdown() {}
    async onForceFlush() {}
  }
  const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
  return createGatewayMetrics({ meterProvider: new MeterProvider({ readers: [new Reader()] }) });
}

const noop = () => {};
/** Each step as a change to one observer (and its own metrics), made before attach(). */
function steps() {
  const rpc = require(path.join(dist, 'protocols', 'jsonrpc.js'));
  // Turn the observer on at the first request line, as _stdinLine does, with `onOut` for stdout lines.
  const onlyFrame = (reads, onIn, onOut) => o => {
    o._stdinLine = function (line) {
      for (let i = 0; i < reads; i++) onIn(line);
      if (this.state !== 'on') {
        this.state = 'on';
        this._out = new rpc.LineFramer(l => { for (let i = 0; i < reads; i++) onOut(l); });
      }
    };
  };
  return {
    off: undefined,
    wrap: o => { o.stdin = noop; o.stdout = noop; },
    frame: onlyFrame(0, noop, noop),
    read: onlyFrame(1, rpc.readRequest, rpc.readAnswer),
    read2: onlyFrame(2, rpc.readRequest, rpc.readAnswer),
    track: (o, m) => { m._duration.record = noop; m.mcp._duration.record = noop; },
    record1: (o, m) => { m.mcp._duration.record = noop; },
    full: () => {},
    record2: (o, m) => {
      const h = m._duration;
      const record = h.record;
      h.record = function (v, a) { record.call(this, v, a); record.call(this, v, a); };
    },
  };
}

function peer(change) {
  const child = spawn(process.execPath, ['-e', PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
  if (change !== undefined) {
    const metrics = metricsOf();
    const series = metrics.autoSeries('agent-1', 'exec');
    metrics.autoStart(series);
    observeStdio(dist, metrics, series, child, change);
  }
  const call = stdioCaller(child);
  return { child, call };
}

async function gateway(blocks, block) {
  const changes = steps();
  const names = Object.keys(changes);
  const peers = {};
  for (const n of names) peers[n] = peer(changes[n]);
  const rows = await cpuPerCallBlocks(peers, blocks, block);
  for (const n of names) peers[n].child.stdin.end();
  await Promise.all(names.map(n => new Promise(r => peers[n].child.on('close', r))));
  process.stdout.write(`${JSON.stringify({ rows })}\n`);
}

async function main() {
  if (process.argv[2] === '--gateway') return gateway(Number(process.argv[3]), Number(process.argv[4]));
  const blocks = num('blocks', 40);
  const block = num('block', 200);
  const rounds = num('rounds', 2);
  const loadStart = os.loadavg();
  const rows = [];
  for (let r = 0; r < rounds; r++) {
    const { child, info } = await startNode(__filename, ['--gateway', String(blocks), String(block)], { cpu: 1, timeoutMs: 300_000 });
    await new Promise(res => child.once('exit', res));
    rows.push(...info.rows);
  }
  const s = f => summary(rows.map(f));
  const STEPS = [
    ['wrap − off', 'wrap', 'off'],
    ['frame − wrap', 'frame', 'wrap'],
    ['read − frame', 'read', 'frame'],
    ['read2 − read (second read)', 'read2', 'read'],
    ['track − read', 'track', 'read'],
    ['record1 − track', 'record1', 'track'],
    ['full − record1', 'full', 'record1'],
    ['record2 − full (second record)', 'record2', 'full'],
    ['full − off', 'full', 'off'],
  ];
  const result = {
    meta: meta('node bench/profile/mcp-stdio-ladder.js'),
    loadavg: { start: loadStart, end: os.loadavg() },
    blocks, block, rounds,
    perCallUs: Object.fromEntries(Object.keys(rows[0]).map(n => [n, s(r => r[n])])),
    stepsUs: Object.fromEntries(STEPS.map(([label, a, b]) => [label, s(r => r[a] - r[b])])),
    rows,
  };
  console.log(`gateway CPU per call, µs, medians over ${rows.length} rotations (IQR); load ${loadStart.map(x => x.toFixed(2)).join(' ')}`);
  for (const [n, x] of Object.entries(result.perCallUs)) console.log(`  ${n.padEnd(32)} ${sig(x.median)} (${sig(x.q1)} to ${sig(x.q3)})`);
  for (const [n, x] of Object.entries(result.stepsUs)) console.log(`  ${n.padEnd(32)} ${sig(x.median)} (${sig(x.q1)} to ${sig(x.q3)})`);
  console.log(`wrote ${writeResult('mcp-stdio-ladder', result)}`);
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
