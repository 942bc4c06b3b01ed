#!/usr/bin/env node
// Experiment (not part of npm run bench): CPU the automatic HTTP path adds per
// call, in one process (a keep-alive http.request client and its loopback
// server), so the difference between variants is the path alone. Process CPU
// time (process.cpuUsage) per call, not wall time: on a loaded machine it is
// the steadier of the two. Variants run interleaved, each round in a rotated
// order, and each is reported minus the no-path variant of the same round.
//
//   node bench/profile/http-path-cost.js [--rounds 12] [--calls 3000]
//   BENCH_BEFORE_DIST=<another build's dist/> adds that build's path in map mode ("before").
'use strict';
const http = require('node:http');
const path = require('node:path');
const { num, writeResult } = require('../lib/common');
const { summary, rotate, sig } = require('../lib/stats');

const ROOT = path.join(__dirname, '..', '..');

function load(dist) {
  const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
  const { resolveConfig } = require(path.join(dist, 'config', 'resolve.js'));
  const { HttpPath } = require(path.join(dist, 'paths', 'http.js'));
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  return { resolveConfig, createGatewayMetrics, HttpPath, MeterProvider };
}

async function main() {
  const rounds = num('rounds', 12);
  const calls = num('calls', 3000);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': '2' }).end('ok'));
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const hostPort = `127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  const current = load(path.join(ROOT, 'dist'));
  const before = process.env.BENCH_BEFORE_DIST ? load(process.env.BENCH_BEFORE_DIST) : undefined;
  const make = (lib, http) => {
    const provider = new lib.MeterProvider();
    const metrics = lib.createGatewayMetrics({ meterProvider: provider });
    const p = new lib.HttpPath(metrics, lib.resolveConfig({ http }, {}).http);
    return p;
  };
  const map = { nodeFor: { [hostPort]: 'node-a' }, sizes: false };
  const variants = {
    none: undefined,
    mapSizes: make(current, { nodeFor: { [hostPort]: 'node-a' } }),
    map: make(current, map),
    zeroConfig: make(current, { sizes: false }),
    ...(before ? { beforeMap: make(before, map) } : {}),
  };

  const one = () => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent, method: 'POST', headers: { 'content-length': '5' } }, res => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end('hello');
  });
  const batch = async () => {
    for (let i = 0; i < calls; i += 8) await Promise.all(Array.from({ length: 8 }, one));
  };

  const res = Object.fromEntries(Object.keys(variants).map(k => [k, []]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const name of rotate(Object.keys(variants), r)) {
      const p = variants[name];
      p?.enable();
      const c0 = process.cpuUsage();
      await batch();
      const c = process.cpuUsage(c0);
      p?.disable();
      if (r > 0) res[name].push((c.user + c.system) / calls);
    }
  }
  agent.destroy();
  server.close();
  const out = {};
  for (const [name, v] of Object.entries(res)) {
    const c = summary(v);
    const added = summary(v.map((x, i) => x - res.none[i]));
    out[name] = { cpuUsPerCall: c, addedUsPerCall: added };
    console.log(`${name.padEnd(12)} ${sig(c.median)} µs CPU/call (${sig(c.min)}–${sig(c.max)}); vs none in the same round: +${sig(added.median)} µs (IQR ${sig(added.q1)}–${sig(added.q3)})`);
  }
  if (before) {
    // Paired: the same mode, this build minus the other build, round by round.
    const paired = summary(res.map.map((x, i) => x - res.beforeMap[i]));
    out.mapMinusBeforeMap = paired;
    console.log(`map − beforeMap, same round: ${sig(paired.median)} µs (IQR ${sig(paired.q1)}–${sig(paired.q3)})`);
  }
  // The new per-call step alone: connectPort() on a live request whose
  // keep-alive socket the agent holds (a loop over the agent's keys).
  const { connectPort } = require(path.join(ROOT, 'dist', 'paths', 'http.js'));
  const probeServer = http.createServer((_q, r) => r.end('ok'));
  await new Promise(r => probeServer.listen(0, '127.0.0.1', r));
  const probeAgent = new http.Agent({ keepAlive: true });
  const req = http.request({ host: '127.0.0.1', port: probeServer.address().port, agent: probeAgent, headers: { host: 'gateway.example:8080' } });
  req.on('error', () => {}); // destroyed unsent below
  await new Promise(r => req.once('socket', r));
  const n = 1_000_000;
  let sink = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) sink += connectPort(req, '127.0.0.1', 'http:', 'gateway.example:8080').length;
  const c = process.cpuUsage(t0);
  out.connectPortNs = ((c.user + c.system) * 1000) / n;
  console.log(`connectPort(): ${sig(out.connectPortNs)} ns per call (${sink > 0 ? 'ok' : '?'})`);
  req.destroy();
  probeAgent.destroy();
  probeServer.close();
  writeResult('http-path-cost', { command: `node bench/profile/http-path-cost.js ${process.argv.slice(2).join(' ')}`.trim(), before: Boolean(before), date: new Date().toISOString(), rounds, calls, out });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
