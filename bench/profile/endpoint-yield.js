#!/usr/bin/env node
// Experiment (not part of npm run bench): the endpoint's yielding, as it is and
// with the slice check also after a drain wait.
//
//   node bench/profile/endpoint-yield.js [--sizes 2000,20000] [--scrapes 5]
//
// MetricsEndpoint resets its 10 ms slice after every `await drain`, taking the
// drain for a turn of the event loop. On loopback (and on any socket whose
// kernel buffer takes the chunk at once) the write completes synchronously and
// 'drain' is emitted from process.nextTick — before any I/O or timer — so the
// whole serialization runs as one block. "fixed" below yields with setImmediate
// whenever the slice is over 10 ms, drain or not. Everything else is the same
// code (a subclass overriding _serveMetrics with the loop changed).
'use strict';
const http = require('node:http');
const { arg, num, startNode } = require('../lib/common');
const { otelSetup, populate } = require('../lib/fixtures');
const { summary, sig } = require('../lib/stats');
const { MetricsEndpoint } = require('../../dist/endpoint');
const { CONTENT_TYPE } = require('../../dist/exposition');

const YIELD_AFTER_MS = 10;

function waitDrain(sink, res, resolve) {
  const done = () => {
    sink.removeListener('drain', done);
    res.removeListener('close', done);
    resolve();
  };
  sink.once('drain', done);
  res.once('close', done);
}

class FixedEndpoint extends MetricsEndpoint {
  async _serveMetrics(req, res) {
    await this._exclusive(async () => {
      const collected = await this._collect();
      res.statusCode = 200;
      res.setHeader('Content-Type', CONTENT_TYPE);
      res.setHeader('Cache-Control', 'no-store');
      let sliceStart = performance.now();
      for (const chunk of this._options.serializer.chunks(collected.resourceMetrics)) {
        if (res.destroyed) return true;
        if (!res.write(chunk)) await new Promise(r => waitDrain(res, res, r));
        if (performance.now() - sliceStart > YIELD_AFTER_MS) {
          await new Promise(r => setImmediate(r));
          sliceStart = performance.now();
        }
      }
      res.end();
      return true;
    });
  }
}

async function main() {
  const sizes = (arg('sizes') || '2000,20000').split(',').map(Number);
  const scrapes = num('scrapes', 5);
  for (const n of sizes) {
    const o = otelSetup(n);
    populate({ otel: [o] }, n, 3);
    const endpoints = {
      current: new MetricsEndpoint({ reader: o.reader, serializer: o.serializer }),
      fixed: new FixedEndpoint({ reader: o.reader, serializer: o.serializer }),
    };
    // Gaps between turns of a setImmediate probe while a request is in flight.
    let probe;
    const server = http.createServer((req, res) => {
      const p = { last: performance.now(), maxGap: 0, gaps: [], run: true };
      const gap = () => {
        const now = performance.now();
        const g = now - p.last;
        if (g > p.maxGap) p.maxGap = g;
        if (g > 5) p.gaps.push(Math.round(g));
        p.last = now;
      };
      const tick = () => {
        if (!p.run) return;
        gap();
        setImmediate(tick);
      };
      setImmediate(tick);
      probe = p;
      res.on('finish', () => {
        gap();
        p.run = false;
      });
      endpoints[req.url.slice(1)].metricsHandler(req, res);
    });
    await new Promise(r => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    const res = { current: [], fixed: [] };
    for (let i = 0; i < scrapes; i++) {
      for (const name of i % 2 ? ['fixed', 'current'] : ['current', 'fixed']) {
        populate({ otel: [o] }, n, 1, 50 + i);
        // The client is another process (curl), on the other core.
        const t0 = performance.now();
        const { child } = await startNode('-e', [`require('http').get('http://127.0.0.1:${port}/${name}', r => { r.resume(); r.on('end', () => { console.log('{}'); }); })`], { cpu: 1 });
        await new Promise(r => (child.exitCode !== null ? r() : child.once('exit', r)));
        res[name].push({ ttlb: performance.now() - t0, maxGap: probe.maxGap, longGaps: probe.gaps });
      }
    }
    server.close();
    for (const [name, v] of Object.entries(res)) {
      const g = summary(v.map(x => x.maxGap));
      console.log(`${n} series, ${name.padEnd(7)}: longest block median ${sig(g.median)} ms (range ${sig(g.min)}–${sig(g.max)}), blocks > 5 ms in the last scrape (ms, in order): ${v[v.length - 1].longGaps.join(' ')}, request→last byte median ${sig(summary(v.map(x => x.ttlb)).median)} ms (incl. client process start)`);
    }
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
