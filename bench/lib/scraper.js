#!/usr/bin/env node
// Child process for bench/throughput.js: GET a /metrics URL every `interval` ms
// (the next one starts on schedule, or right away when the previous one took
// longer), reading and discarding the whole body, until SIGTERM; then print one
// JSON line with what it saw.
//
//   node bench/lib/scraper.js --url http://127.0.0.1:9464/metrics [--interval 1000] [--gzip]
'use strict';
const http = require('node:http');
const { arg, flag } = require('./common');

const url = arg('url');
const interval = Number(arg('interval', '1000'));
const headers = flag('gzip') ? { 'accept-encoding': 'gzip' } : {};
const times = [];
let bytes = 0;
let failures = 0;
let stopping = false;

function scrape() {
  return new Promise(resolve => {
    const t0 = performance.now();
    const req = http.get(url, { headers, agent: false }, res => {
      let n = 0;
      res.on('data', d => (n += d.length));
      res.on('end', () => {
        if (res.statusCode === 200) times.push(performance.now() - t0);
        else failures++;
        bytes = n;
        resolve();
      });
    });
    req.on('error', () => {
      failures++;
      resolve();
    });
  });
}

async function loop() {
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  let next = performance.now();
  while (!stopping) {
    await scrape();
    next += interval;
    const wait = next - performance.now();
    if (wait > 0) await new Promise(r => setTimeout(r, wait));
    else next = performance.now();
  }
}

process.once('SIGTERM', () => {
  stopping = true;
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ scrapes: times.length, failures, bytes, ttlbMs: sorted })}\n`, () => process.exit(0));
});

loop();
