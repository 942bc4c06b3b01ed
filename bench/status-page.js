#!/usr/bin/env node
// Case 6 (issue #15) — the status page: serving it, and one poll, vs GET /stats.
//
//   node bench/status-page.js [--rounds 200] [--nodes 100]
//
// A real registration on 127.0.0.1 (port 0) with the same 400 request-duration
// series as bench/stats.js (100 nodes × 2 transports × 2 statuses). Each round
// times, over one keep-alive connection and in rotated order, a whole GET /
// (the page) and a whole GET /stats (what the page fetches on every poll),
// from the request to the last byte. Median and spread after 20 warm-up rounds.
'use strict';
const http = require('node:http');
const path = require('node:path');
const { num, meta, writeResult } = require('./lib/common');
const { summary, sig, rotate, quantile } = require('./lib/stats');
const { register } = require(path.join(__dirname, '..', 'dist'));

function get(agent, url) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http.get(url, { agent }, res => {
      let bytes = 0;
      res.on('data', d => (bytes += d.length));
      res.on('end', () => (res.statusCode === 200 ? resolve({ ms: performance.now() - t0, bytes }) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    }).on('error', reject);
  });
}

async function main() {
  const nodes = num('nodes', 100);
  const rounds = num('rounds', 200);
  for (const k of Object.keys(process.env)) if (k.startsWith('OTEL_') || k.startsWith('GATEWAY_METRICS_')) delete process.env[k];
  const otel = register({ runtimeMetrics: false, processMetrics: false, prometheus: { host: '127.0.0.1', port: 0 } });
  await otel.ready;
  const m = otel.metrics;
  for (let i = 0; i < nodes; i++) {
    for (const transport of ['http', 'exec']) {
      for (let k = 0; k < 20; k++) m.record({ node: `node-${i}`, transport, status: 'success', durationSeconds: 0.001 * (k + 1) * (i + 1) });
      m.record({ node: `node-${i}`, transport, status: 'error', durationSeconds: 0.5, errorType: 'timeout' });
    }
    m.setNodeUp(`node-${i}`, i % 10 !== 0);
  }
  const base = otel.prometheusUrl.replace(/metrics$/, '');
  const urls = { page: base, stats: `${base}stats` };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const t = { page: [], stats: [] };
  const ratios = [];
  const bytes = {};
  for (let r = 0; r < rounds + 20; r++) {
    const got = {};
    for (const name of rotate(['page', 'stats'], r)) {
      const res = await get(agent, urls[name]);
      got[name] = res.ms;
      bytes[name] = res.bytes;
    }
    if (r >= 20) {
      t.page.push(got.page);
      t.stats.push(got.stats);
      ratios.push(got.page / got.stats);
    }
  }
  agent.destroy();
  await otel.shutdown();
  const result = {
    case: 'status-page',
    meta: meta('node bench/status-page.js'),
    config: { nodes, series: nodes * 4, rounds },
    page: summary(t.page),
    stats: summary(t.stats),
    ratio: { median: quantile(ratios, 0.5), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75) },
    bytes,
  };
  writeResult('status-page', result);
  console.log(`status page: GET / median ${sig(result.page.median)} ms (IQR ${sig(result.page.q1)}–${sig(result.page.q3)}, ${bytes.page} B); ` +
    `GET /stats (one poll) median ${sig(result.stats.median)} ms (IQR ${sig(result.stats.q1)}–${sig(result.stats.q3)}, ${bytes.stats} B); ` +
    `page ÷ stats per round: median ×${sig(result.ratio.median)} (IQR ${sig(result.ratio.q1)}–${sig(result.ratio.q3)})`);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
