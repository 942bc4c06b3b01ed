#!/usr/bin/env node
// Experiment (not part of npm run bench): how long a well-behaved scraper waits
// for a complete /metrics while other clients abuse the endpoint. One
// registration of the built package (npm run build first), N histogram series
// recorded through otel.metrics, 127.0.0.1 only, every socket destroyed at the end.
//
//   node bench/profile/endpoint-abuse.js <case> [--series 2200]
//
//   pipeline-gone   one connection sends 9 pipelined GET /metrics, reads nothing, and is destroyed after 300 ms
//   pipeline-stay   the same, but it stays connected and never reads
//   never-read      9 connections each send GET /metrics and never read
//   slowloris       500 connections trickle header bytes (one every 200 ms)
//
// The scraper starts 300 ms after the abuse: one plain GET at a time (no gzip),
// 1 s apart after a refusal as Prometheus would retry at its next interval,
// until one answers 200 in full; then one more. Prints one JSON line each.
// Run it under another Node to compare runtimes (queued pipelined responses are
// destroyed when their socket closes only since Node 24).
'use strict';
const http = require('node:http');
const net = require('node:net');
const { num } = require('../lib/common');
const { register } = require('../../dist');

const CASE = process.argv[2];
const SERIES = num('series', 2200);
const CASES = ['pipeline-gone', 'pipeline-stay', 'never-read', 'slowloris'];
const sleep = ms => new Promise(r => setTimeout(r, ms));

function scrape(url, capMs = 150_000) {
  return new Promise(resolve => {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    const req = http.get(url, res => {
      const parts = [];
      res.on('data', d => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        resolve({ status: res.statusCode, ms: ms(), bytes: text.length, series: (text.match(/^gateway_request_duration_seconds_count\{/gm) || []).length });
      });
      res.on('error', e => resolve({ error: e.message, ms: ms() }));
    });
    req.setTimeout(capMs, () => req.destroy(new Error(`no answer within ${capMs} ms`)));
    req.on('error', e => resolve({ error: e.message, ms: ms() }));
  });
}

async function main() {
  if (!CASES.includes(CASE)) throw new Error(`usage: endpoint-abuse.js <${CASES.join('|')}> [--series N]`);
  const otel = register({ runtimeMetrics: false, processMetrics: false, maxNodes: SERIES + 100, prometheus: { host: '127.0.0.1', port: 0 } });
  await otel.ready;
  for (let i = 0; i < SERIES; i++) otel.metrics.record({ node: `node-${i}`, transport: 'http', status: 'success', durationSeconds: i / 1000 });
  const url = otel.prometheusUrl;
  const port = Number(new URL(url).port);
  console.log(JSON.stringify({ node: process.version, case: 'baseline', ...(await scrape(url)) }));

  const sockets = [];
  const open = onConnect => {
    const s = net.connect(port, '127.0.0.1', () => onConnect(s));
    s.on('error', () => {});
    sockets.push(s);
    return s;
  };
  const GET = 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const t0 = Date.now();
  if (CASE === 'pipeline-gone' || CASE === 'pipeline-stay') {
    open(s => s.write(GET.repeat(9))).pause();
    await sleep(300);
    if (CASE === 'pipeline-gone') sockets[0].destroy();
  } else if (CASE === 'never-read') {
    for (let i = 0; i < 9; i++) open(s => s.write(GET)).pause();
    await sleep(300);
  } else {
    const head = `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}`;
    for (let i = 0; i < 500; i++) {
      let sent = 0;
      const s = open(c => {
        const t = setInterval(() => (c.destroyed || sent >= head.length ? clearInterval(t) : c.write(head[sent++])), 200);
      });
      s.resume();
    }
    await sleep(300);
  }

  const answers = [];
  for (;;) {
    const r = await scrape(url);
    answers.push(r.status ?? r.error);
    if (r.status === 200 || Date.now() - t0 > 150_000) {
      console.log(JSON.stringify({ case: CASE, firstCompleteAfterMs: Date.now() - t0, thatScrapeMs: r.ms, bytes: r.bytes, series: r.series, refused: answers.length - 1, answers: [...new Set(answers)] }));
      break;
    }
    await sleep(1000);
  }
  console.log(JSON.stringify({ case: CASE, next: await scrape(url) }));
  for (const s of sockets) s.destroy();
  await otel.shutdown();
}

main().then(() => process.exit(0), err => {
  console.error(err);
  process.exit(1);
});
