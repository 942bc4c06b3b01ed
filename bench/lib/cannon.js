#!/usr/bin/env node
// Child process for bench/throughput.js: one bounded autocannon run against the
// example gateway, printing one JSON line. Latency percentiles come from every
// response's own time (autocannon's histogram has 1 ms resolution, too coarse
// for a 10% comparison of a ~1 ms p99).
//
//   node bench/lib/cannon.js --url http://127.0.0.1:8080/rpc --duration 6 --connections 10 --node node-a
'use strict';
const autocannon = require('autocannon');
const { arg } = require('./common');
const { quantile } = require('./stats');

async function main() {
  const url = arg('url');
  const duration = Number(arg('duration', '6'));
  const connections = Number(arg('connections', '10'));
  const node = arg('node', 'node-a');
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { node } });
  const latencies = [];
  const instance = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    pipelining: 1,
    duration,
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode === 200) latencies.push(responseTime);
  });
  const cpu0 = process.cpuUsage();
  const result = await instance;
  const cpu = process.cpuUsage(cpu0);
  const lat = Float64Array.from(latencies).sort();
  const out = {
    requests: result.requests.total,
    durationS: result.duration,
    rps: result.requests.total / result.duration,
    latencyMs: { p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), p999: quantile(lat, 0.999), max: lat[lat.length - 1], mean: lat.reduce((a, b) => a + b, 0) / lat.length },
    autocannonP99: result.latency.p99,
    loadgenCpuUsPerRequest: (cpu.user + cpu.system) / result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
