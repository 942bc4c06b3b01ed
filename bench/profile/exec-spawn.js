#!/usr/bin/env node
// The exec path's cost per spawn, and the zero-config naming's share of it.
//
//   node bench/profile/exec-spawn.js [--spawns 1000] [--rounds 5] [--before <dist of an older build>]
//
// Part A: `execNodeName()` alone over typical command lines (ns per call).
// Part B: parent CPU (user + system, process.cpuUsage) per `execFile('/bin/true')`,
// spawned one after another, in one process per variant and round (pinned to
// core 1), variants rotated across rounds:
//   off          no exec path
//   before       the exec path of `--before` (an older dist) with nodeFor → 'agent-1'
//   nodeFor      this build with nodeFor → 'agent-1' (the default name is computed too)
//   zero-config  this build with no nodeFor
// Each variant's figure is minus `off` of the same round. Bounded: about
// 4 variants × rounds × spawns × ~2.5 ms (50 s at the defaults).
// Part C: the exec path's own bookkeeping per spawn, without the spawn: the
// prototype hook's start (command, node name, series, in flight) and end
// (one histogram record), called directly 100,000 times per round, `before`
// vs this build. Part B cannot resolve a few µs on a loaded 2-core VM (a spawn
// costs the parent 1.5–2 ms of CPU); part C can.
'use strict';
const path = require('node:path');
const { execFile } = require('node:child_process');
const { ROOT, arg, num, meta, writeResult, startNode } = require('../lib/common');
const { summary, rotate, sig } = require('../lib/stats');

const COMMANDS = [
  ['npx', ['-y', '@modelcontextprotocol/server-everything']],
  ['node', ['node_modules/@modelcontextprotocol/server-everything/dist/index.js', 'stdio']],
  ['kubectl', ['exec', '-n', 'prod', '-i', 'agent-1', '--', 'agent', '--stdio']],
  ['docker', ['run', '-i', '--rm', '-e', 'TOKEN', '-v', '/a:/b', 'ghcr.io/github/github-mcp-server:v1']],
  ['uvx', ['mcp-server-fetch']],
  ['python3', ['-m', 'mcp_server_time']],
  ['/usr/bin/git', ['status']],
  ['true', []],
];

async function child(variant, dist, spawns) {
  const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
  class Reader extends MetricReader {
    constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
    async onShutdown() {}
    async onForceFlush() {}
  }
  let exec;
  if (variant !== 'off') {
    const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
    const { ExecPath } = require(path.join(dist, 'paths', 'exec.js'));
    const provider = new MeterProvider({ readers: [new Reader()] });
    const metrics = createGatewayMetrics({ meterProvider: provider });
    exec = new ExecPath(metrics, variant === 'zero-config' ? {} : { nodeFor: () => 'agent-1' });
    exec.enable();
  }
  const run = () => new Promise(r => execFile('/bin/true', [], r));
  for (let i = 0; i < 100; i++) await run(); // warm-up
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < spawns; i++) await run();
  const cpu = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ variant, cpuUs: (cpu.user + cpu.system) / spawns, wallUs: (wall * 1000) / spawns })}\n`);
}

async function hook(variant, dist, n) {
  const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
  class Reader extends MetricReader {
    constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
    async onShutdown() {}
    async onForceFlush() {}
  }
  const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
  const { ExecPath } = require(path.join(dist, 'paths', 'exec.js'));
  const metrics = createGatewayMetrics({ meterProvider: new MeterProvider({ readers: [new Reader()] }) });
  const exec = new ExecPath(metrics, variant === 'zero-config' ? {} : { nodeFor: () => 'agent-1' });
  // What ChildProcess#spawn receives for execFile('kubectl', ['exec', …]): args start with argv0.
  const options = { file: 'kubectl', args: ['kubectl', 'exec', '-n', 'prod', '-i', 'agent-1', '--', 'agent', '--stdio'] };
  const once = () => {
    const t = exec._start(options);
    exec._end(t.series, t.t0, undefined);
  };
  for (let i = 0; i < 20_000; i++) once();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) once();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  process.stdout.write(`${JSON.stringify({ variant, ns })}\n`);
}

function naming(dist) {
  const { execNodeName } = require(path.join(dist, 'paths', 'exec-node.js'));
  const out = {};
  for (const [file, args] of COMMANDS) {
    const n = 200_000;
    let sink = 0;
    for (let i = 0; i < 20_000; i++) sink += execNodeName(file, args).length;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += execNodeName(file, args).length;
    const ns = Number(process.hrtime.bigint() - t0) / n;
    out[`${file} ${args.join(' ')}`] = { name: execNodeName(file, args), ns, sink };
  }
  return out;
}

async function main() {
  if (process.argv[2] === '--child') return child(process.argv[3], process.argv[4], Number(process.argv[5]));
  if (process.argv[2] === '--hook') return hook(process.argv[3], process.argv[4], Number(process.argv[5]));
  const spawns = num('spawns', 1000);
  const rounds = num('rounds', 5);
  const before = arg('before', undefined);
  const dist = path.join(ROOT, 'dist');
  const variants = ['off', ...(before ? ['before'] : []), 'nodeFor', 'zero-config'];

  const names = naming(dist);
  console.log('A. execNodeName(), ns per call');
  for (const [cmd, r] of Object.entries(names)) console.log(`  ${sig(r.ns)} ns  ${cmd} → ${r.name}`);

  const perRound = [];
  for (let round = 0; round < rounds; round++) {
    const row = {};
    for (const v of rotate(variants, round)) {
      const d = v === 'before' ? path.resolve(before) : dist;
      const { child: c, info } = await startNode(__filename, ['--child', v === 'before' ? 'nodeFor' : v, d, String(spawns)], { cpu: 1, timeoutMs: 120_000 });
      await new Promise(r => c.once('exit', r));
      row[v] = info;
    }
    perRound.push(row);
    console.log(`round ${round + 1}: ${variants.map(v => `${v} ${sig(row[v].cpuUs)} µs`).join(', ')}`);
  }
  let runMeta;
  try {
    runMeta = meta('node bench/profile/exec-spawn.js');
  } catch (err) {
    // meta() reads package.json files some 3.x packages no longer export.
    runMeta = { command: 'node bench/profile/exec-spawn.js', date: new Date().toISOString(), node: process.version, metaError: err.code };
  }
  const result = { meta: runMeta, spawns, rounds, naming: names, variants: {} };
  console.log('B. parent CPU per spawn, minus "off" of the same round (median, IQR)');
  for (const v of variants) {
    const abs = summary(perRound.map(r => r[v].cpuUs));
    const delta = summary(perRound.map(r => r[v].cpuUs - r.off.cpuUs));
    const wall = summary(perRound.map(r => r[v].wallUs));
    result.variants[v] = { cpuUs: abs, deltaCpuUs: delta, wallUs: wall };
    console.log(`  ${v.padEnd(12)} ${sig(abs.median)} µs CPU/spawn  Δ ${sig(delta.median)} µs (IQR ${sig(delta.q1)} to ${sig(delta.q3)})  wall ${sig(wall.median)} µs`);
  }
  const hookVariants = variants.filter(v => v !== 'off');
  const hookRounds = [];
  for (let round = 0; round < rounds; round++) {
    const row = {};
    for (const v of rotate(hookVariants, round)) {
      const d = v === 'before' ? path.resolve(before) : dist;
      const { child: c, info } = await startNode(__filename, ['--hook', v === 'before' ? 'nodeFor' : v, d, '100000'], { cpu: 1, timeoutMs: 120_000 });
      await new Promise(r => c.once('exit', r));
      row[v] = info.ns;
    }
    hookRounds.push(row);
  }
  result.hook = {};
  console.log('C. exec path bookkeeping per spawn (start + end, no spawn), ns (median, IQR)');
  for (const v of hookVariants) {
    const s = summary(hookRounds.map(r => r[v]));
    result.hook[v] = s;
    console.log(`  ${v.padEnd(12)} ${sig(s.median)} ns (IQR ${sig(s.q1)} to ${sig(s.q3)})`);
  }
  console.log(`wrote ${writeResult('exec-spawn', result)}`);
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
