#!/usr/bin/env node
// What the MCP stdio observation adds per call and per MB piped.
//
//   node bench/profile/mcp-stdio.js [--calls 2000] [--big 60] [--mb 1] [--rounds 5] [--before-dist DIR]
//
// A gateway process (pinned to core 1) spawns a JSON-RPC peer (an inline
// script, below) and makes sequential calls over its stdin/stdout, reading
// stdout with a 'data' listener and a line splitter as the MCP SDK does. It
// reports its own CPU (user + system, process.cpuUsage) per call. Variants,
// one process each per round, rotated across rounds:
//   off   the package and the SDK loaded (a MeterProvider, gateway metrics),
//         no exec path: the same heap, so the difference is the observation
//   on    exec path + JSON-RPC observation (nodeFor → 'agent-1'): each call is
//         two SDK records, the framing and parsing of both lines
// Part A: `--calls` small calls (tools/call, a ~80 byte answer), CPU µs per call.
// Part B: `--big` calls answered with `--mb` MB lines, CPU µs per MB piped.
// Each figure is `on` minus `off` of the same round; medians and IQR over rounds.
// Part C: the observation alone, no I/O: a request line written and its answer
// pushed through the MCP stdio reader on a stand-in child, ns per call.
// `--before-dist DIR` (or BENCH_BEFORE_DIST): a copy of dist/ from before a
// change (`cp -r dist /tmp/x` first); adds the variant `before` (= `on` with
// that build) to every round, and part C for it, so that before and after are
// measured in the same run, interleaved, and compared round by round.
// Bounded: rounds × 2 × (calls × ~0.1 ms + big × mb × ~3 ms) plus part C's 50,000 calls × rounds.
'use strict';
const { observeStdio, mcpArg } = require('../lib/mcp-observe');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, arg, num, meta, writeResult, startNode } = require('../lib/common');
const { stdioCaller } = require('../lib/stdio-client');
const { summary, rotate, sig } = require('../lib/stats');

const PEER = `
const big = new Map();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', d => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) !== -1) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    const m = JSON.parse(line);
    const size = m.params && m.params.arguments && m.params.arguments.bytes || 0;
    let text = 'ok';
    if (size > 0) {
      if (!big.has(size)) big.set(size, 'x'.repeat(size));
      text = big.get(size);
    }
    process.stdout.write(JSON.stringify({ result: { content: [{ type: 'text', text }] }, jsonrpc: '2.0', id: m.id }) + '\\n');
  }
});
`;

async function gateway(variant, calls, bigCalls, mb, distDir) {
  const dist = distDir || path.join(ROOT, 'dist');
  const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
  class Reader extends MetricReader {
    constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
    async onShutdown() {}
    async onForceFlush() {}
  }
  const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
  const { ExecPath } = require(path.join(dist, 'paths', 'exec.js'));
  const metrics = createGatewayMetrics({ meterProvider: new MeterProvider({ readers: [new Reader()] }) });
  if (variant !== 'off') new ExecPath(metrics, { nodeFor: () => 'agent-1' }, mcpArg(dist, metrics)).enable();
  const child = spawn(process.execPath, ['-e', PEER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const call = stdioCaller(child);
  for (let i = 0; i < 200; i++) await call(0); // warm-up
  let c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) await call(0);
  let cpu = process.cpuUsage(c0);
  const smallUs = (cpu.user + cpu.system) / calls;
  const bytes = Math.round(mb * 1024 * 1024);
  await call(bytes);
  c0 = process.cpuUsage();
  for (let i = 0; i < bigCalls; i++) await call(bytes);
  cpu = process.cpuUsage(c0);
  const perMbUs = (cpu.user + cpu.system) / (bigCalls * mb);
  child.stdin.end();
  await new Promise(r => child.on('close', r));
  process.stdout.write(`${JSON.stringify({ variant, smallUs, perMbUs })}\n`);
}

async function observerOnly(n, distDir) {
  const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
  class Reader extends MetricReader {
    constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
    async onShutdown() {}
    async onForceFlush() {}
  }
  const dist = distDir || path.join(ROOT, 'dist');
  const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
  const metrics = createGatewayMetrics({ meterProvider: new MeterProvider({ readers: [new Reader()] }) });
  const series = metrics.autoSeries('agent-1', 'exec');
  metrics.autoStart(series);
  const child = { stdin: { write() {}, end() {} }, stdout: { push() {} } };
  observeStdio(dist, metrics, series, child);
  const once = i => {
    child.stdin.write(`{"method":"tools/call","params":{"name":"echo","arguments":{}},"jsonrpc":"2.0","id":${i}}\n`);
    child.stdout.push(Buffer.from(`{"result":{"content":[{"type":"text","text":"ok"}]},"jsonrpc":"2.0","id":${i}}\n`));
  };
  for (let i = 0; i < 20_000; i++) once(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) once(20_000 + i);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  process.stdout.write(`${JSON.stringify({ ns })}\n`);
}

async function main() {
  if (process.argv[2] === '--gateway') return gateway(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6]), process.argv[7]);
  if (process.argv[2] === '--observer') return observerOnly(Number(process.argv[3]), process.argv[4]);
  const calls = num('calls', 2000);
  const bigCalls = num('big', 60);
  const mb = num('mb', 1);
  const rounds = num('rounds', 5);
  const beforeArg = arg('before-dist', process.env.BENCH_BEFORE_DIST);
  const beforeDist = beforeArg === undefined ? undefined : path.resolve(beforeArg);
  const variants = beforeDist === undefined ? ['off', 'on'] : ['off', 'on', 'before'];
  const distOf = v => (v === 'before' ? beforeDist : path.join(ROOT, 'dist'));
  // A copy of dist/ outside the repository finds the repository's dependencies through NODE_PATH.
  const env = { NODE_PATH: path.join(ROOT, 'node_modules') };
  const loadStart = require('node:os').loadavg();
  const perRound = [];
  for (let round = 0; round < rounds; round++) {
    const row = {};
    for (const v of rotate(variants, round)) {
      const { child: c, info } = await startNode(__filename, ['--gateway', v, String(calls), String(bigCalls), String(mb), distOf(v)], { cpu: 1, env, timeoutMs: 120_000 });
      await new Promise(r => c.once('exit', r));
      row[v] = info;
    }
    for (const v of rotate(variants.filter(x => x !== 'off'), round)) {
      const { child: c, info } = await startNode(__filename, ['--observer', '50000', distOf(v)], { cpu: 1, env, timeoutMs: 120_000 });
      await new Promise(r => c.once('exit', r));
      row[v === 'on' ? 'observerNs' : 'observerBeforeNs'] = info.ns;
    }
    perRound.push(row);
    console.log(`round ${round + 1}: small off ${sig(row.off.smallUs)} / on ${sig(row.on.smallUs)}` +
      `${row.before ? ` / before ${sig(row.before.smallUs)}` : ''} µs per call; ` +
      `${mb} MB lines off ${sig(row.off.perMbUs)} / on ${sig(row.on.perMbUs)}${row.before ? ` / before ${sig(row.before.perMbUs)}` : ''} µs per MB; ` +
      `observer alone ${sig(row.observerNs)}${row.before ? ` / before ${sig(row.observerBeforeNs)}` : ''} ns per call`);
  }
  let runMeta;
  try {
    runMeta = meta('node bench/profile/mcp-stdio.js');
  } catch (err) {
    runMeta = { command: 'node bench/profile/mcp-stdio.js', date: new Date().toISOString(), node: process.version, metaError: err.code };
  }
  const result = {
    meta: runMeta, calls, bigCalls, mb, rounds,
    loadavg: { start: loadStart, end: require('node:os').loadavg() },
    small: { off: summary(perRound.map(r => r.off.smallUs)), on: summary(perRound.map(r => r.on.smallUs)), delta: summary(perRound.map(r => r.on.smallUs - r.off.smallUs)) },
    perMb: { off: summary(perRound.map(r => r.off.perMbUs)), on: summary(perRound.map(r => r.on.perMbUs)), delta: summary(perRound.map(r => r.on.perMbUs - r.off.perMbUs)) },
    observerNs: summary(perRound.map(r => r.observerNs)),
  };
  if (beforeDist !== undefined) {
    result.beforeDist = beforeDist;
    result.small.before = summary(perRound.map(r => r.before.smallUs));
    result.small.beforeDelta = summary(perRound.map(r => r.before.smallUs - r.off.smallUs));
    result.small.onMinusBefore = summary(perRound.map(r => r.on.smallUs - r.before.smallUs));
    result.perMb.before = summary(perRound.map(r => r.before.perMbUs));
    result.perMb.beforeDelta = summary(perRound.map(r => r.before.perMbUs - r.off.perMbUs));
    result.perMb.onMinusBefore = summary(perRound.map(r => r.on.perMbUs - r.before.perMbUs));
    result.observerBeforeNs = summary(perRound.map(r => r.observerBeforeNs));
  }
  result.perRound = perRound;
  const line = (label, s, unit) => console.log(`  ${label.padEnd(34)} ${sig(s.median)} ${unit} (IQR ${sig(s.q1)} to ${sig(s.q3)})`);
  console.log('medians over rounds:');
  line('A. gateway CPU per small call, off', result.small.off, 'µs');
  line('   on', result.small.on, 'µs');
  line('   on − off', result.small.delta, 'µs');
  line(`B. gateway CPU per MB (${mb} MB lines), off`, result.perMb.off, 'µs');
  line('   on', result.perMb.on, 'µs');
  line('   on − off', result.perMb.delta, 'µs');
  if (beforeDist !== undefined) {
    line('A. before: on − off', result.small.beforeDelta, 'µs');
    line('A. on − before (same round)', result.small.onMinusBefore, 'µs');
    line('B. before: on − off', result.perMb.beforeDelta, 'µs');
    line('B. on − before (same round)', result.perMb.onMinusBefore, 'µs');
  }
  line('C. observer alone, per call', result.observerNs, 'ns');
  if (beforeDist !== undefined) line('C. before', result.observerBeforeNs, 'ns');
  console.log(`wrote ${writeResult('mcp-stdio', result)}`);
}

module.exports = { PEER };

if (require.main === module) {
  main().catch(err => {
    console.error(err);
    process.exitCode = 1;
  });
}
