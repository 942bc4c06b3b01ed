#!/usr/bin/env node
// Experiment (not part of npm run bench): where does our plugin's per-request
// CPU in the example gateway go? Same layout as bench/throughput.js part A
// (gateway on core 0; fast agent + autocannon on core 1); gateway CPU µs per
// request, interleaved rounds.
//
//   node bench/profile/attribution.js [--rounds 3] [--duration 5] [--variants none,ours,oursNoHttpPath]
//   [--out attribution]  (result file name under bench/results/)
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { arg, num, startNode, kill, writeResult } = require('../lib/common');
const { summary, rotate, sig } = require('../lib/stats');

const ROOT = path.join(__dirname, '..', '..');
const PRE = name => ['-r', path.join(__dirname, 'preload', `${name}.js`)];
// Otel variants run without health checks (--health-interval 0): with them the
// AsyncLocalStorage scope is on, which is measured separately in throughput.js.
const ALL_VARIANTS = {
  none: ['none', {}, []],
  ours: ['otel', {}, []],
  oursNoRuntimeProcess: ['otel', { GATEWAY_METRICS_RUNTIME_METRICS: 'false', GATEWAY_METRICS_PROCESS_METRICS: 'false' }, []],
  oursNoSizes: ['otel', { GATEWAY_METRICS_HTTP_SIZES: 'false' }, []],
  oursNoMcp: ['otel', { GATEWAY_METRICS_MCP: 'false' }, []],
  oursNoHttpPath: ['otel', {}, PRE('no-http-path')],
  promClient: ['prom-client', {}, []],
  // BENCH_BEFORE_DIST=<another build's dist/>: the same gateway on that build, interleaved with ours.
  ...(process.env.BENCH_BEFORE_DIST
    ? { oursBefore: ['otel', { BENCH_DIST: process.env.BENCH_BEFORE_DIST }, PRE('dist-from')] }
    : {}),
};
// A subset keeps a before/after comparison short; `none` is always in (every
// variant is reported against it).
const picked = String(arg('variants', Object.keys(ALL_VARIANTS).join(','))).split(',');
const VARIANTS = Object.fromEntries(Object.entries(ALL_VARIANTS).filter(([k]) => k === 'none' || picked.includes(k)));

function cpuMs(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function main() {
  const rounds = num('rounds', 3);
  const duration = num('duration', 5);
  const { child: agent, info } = await startNode(path.join(ROOT, 'bench', 'lib', 'fast-agent.js'), ['--port', '0', '--name', 'node-a'], { cpu: 1 });
  const nodes = [{ name: 'node-a', http: `127.0.0.1:${info.port}`, pod: 'agent-a' }];
  const gws = {};
  for (const [name, [mode, env, nodeArgs]] of Object.entries(VARIANTS)) {
    gws[name] = await startNode(path.join(ROOT, 'examples', 'gateway', 'gateway.js'), ['--nodes', JSON.stringify(nodes), '--port', '0', '--metrics', mode, '--metrics-port', '0', '--health-interval', '0'],
      { cpu: 0, nodeArgs, env: { OTEL_LOG_LEVEL: 'error', ...env } });
  }
  const res = Object.fromEntries(Object.keys(VARIANTS).map(k => [k, { cpu: [], rps: [] }]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const name of rotate(Object.keys(VARIANTS), r)) {
      const g = gws[name];
      const c0 = cpuMs(g.child.pid);
      const { child, info: out } = await startNode(path.join(ROOT, 'bench', 'lib', 'cannon.js'), ['--url', g.info.gateway, '--duration', String(r === 0 ? 2 : duration), '--connections', '50'], { cpu: 1, timeoutMs: 90_000 });
      await new Promise(x => (child.exitCode !== null ? x() : child.once('exit', x)));
      if (r === 0) continue; // warm-up
      res[name].cpu.push(((cpuMs(g.child.pid) - c0) * 1000) / out.requests);
      res[name].rps.push(out.rps);
    }
  }
  for (const g of Object.values(gws)) await kill(g.child);
  await kill(agent);
  const out = {};
  for (const [name, v] of Object.entries(res)) {
    const c = summary(v.cpu);
    // Per round, minus the no-plugin gateway's CPU/request in the same round (drift cancels).
    const added = summary(v.cpu.map((x, i) => x - res.none.cpu[i]));
    const ratio = summary(v.cpu.map((x, i) => x / res.none.cpu[i]));
    out[name] = { cpuUsPerRequest: c, addedUsPerRequest: added, ratioToNone: ratio, rps: summary(v.rps) };
    console.log(`${name.padEnd(28)} ${sig(c.median)} µs CPU/request (${sig(c.min)}–${sig(c.max)}); vs none in the same round: +${sig(added.median)} µs (IQR ${sig(added.q1)}–${sig(added.q3)}), ×${sig(ratio.median)}; ${sig(summary(v.rps).median)} req/s`);
  }
  writeResult(String(arg('out', 'attribution')), { command: `node bench/profile/attribution.js ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(), rounds, duration, out });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
