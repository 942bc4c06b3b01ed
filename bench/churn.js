#!/usr/bin/env node
// Churn soak (issue #14): node names retired and replaced continuously, about
// 50 live at any time, nodeIdleTtl short. Prints heap, /metrics size and the
// duration points an OTLP export carries, against names ever seen.
//
//   node bench/churn.js [--names 20000] [--live 50] [--ttl 1000]
//
// Every variant is scraped once a second, as Prometheus would, and ours also
// exports over OTLP once a second: between collections the SDK holds that
// interval's series, so the collection rhythm is part of the memory.
//
// Variants, each in its own process (--expose-gc, core 1):
//   ours           register(): Prometheus endpoint + OTLP (http/json to a local
//                  receiver in the same process), delta readers + our store;
//   sdkCumulative  what 0.1.x did: createGatewayMetrics() on an SDK
//                  MeterProvider whose reader is cumulative (the SDK keeps
//                  every series it has seen);
//   promClient     prom-client Histogram + Counter, remove() on retirement.
// Heap is heapUsed after two full GCs. "OTLP points" is the number of duration
// data points one export carries (for sdkCumulative: what its cumulative
// collect() holds, which a cumulative OTLP exporter would send).
'use strict';
const http = require('node:http');
const path = require('node:path');
const fs = require('node:fs');
const { num, arg, meta, writeResult, readResult, runNode, gc, RESULTS } = require('./lib/common');

const NAMES = num('names', 20_000);
const LIVE = num('live', 50);
const TTL = num('ttl', 1000);
const PER_STEP = 5;
const STEP_MS = 10;
const VARIANTS = ['ours', 'sdkCumulative', 'promClient'];
const CHECKPOINTS = [1_000, 5_000, 10_000, 20_000, 40_000].filter(n => n <= NAMES);

const sleep = ms => new Promise(r => setTimeout(r, ms));

function heap() {
  gc();
  return process.memoryUsage().heapUsed;
}

async function orchestrate() {
  const command = `node bench/churn.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const out = { case: 'churn', meta: { ...meta(command), layout: 'one process per variant, core 1, --expose-gc' }, names: NAMES, live: LIVE, ttlMs: TTL, variants: {} };
  for (const v of VARIANTS) {
    const code = await runNode(__filename, ['--variant', v, ...process.argv.slice(2)], { cpu: 1, nodeArgs: ['--expose-gc'] });
    if (code !== 0) throw new Error(`churn ${v} failed (${code})`);
    out.variants[v] = readResult(`churn-${v}.tmp`);
    fs.rmSync(path.join(RESULTS, `churn-${v}.tmp.json`), { force: true });
  }
  const file = writeResult('churn', out);
  console.log(`churn: wrote ${path.relative(process.cwd(), file)}`);
}

/** A local OTLP/HTTP JSON receiver that keeps only the last export's duration point count and size. */
function receiver() {
  const state = { exports: 0, lastPoints: 0, lastBytes: 0, waiters: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let points = 0;
      for (const rm of JSON.parse(raw.toString('utf8')).resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          for (const m of sm.metrics ?? []) if (m.name === 'gateway.request.duration') points += (m.histogram?.dataPoints ?? []).length;
        }
      }
      state.exports++;
      state.lastPoints = points;
      state.lastBytes = raw.length;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
      for (const w of state.waiters.splice(0)) w();
    });
  });
  return { server, state };
}

async function variantMain(variant) {
  const base = heap();
  let recordCall; // (node) => void
  let retire = () => {}; // (node) => void, after it expired
  let measure; // async () => { metricsBytes, otlpPoints }
  let stop = async () => {};
  let scrapeOnce; // async () => void

  if (variant === 'ours') {
    const { register } = require('../dist');
    const { server, state } = receiver();
    await new Promise(r => server.listen(0, '127.0.0.1', r));
    const otel = register({
      exporters: ['prometheus', 'otlp'],
      runtimeMetrics: false,
      processMetrics: false,
      nodeIdleTtl: TTL,
      maxNodes: 1000,
      prometheus: { host: '127.0.0.1', port: 0 },
      otlp: { protocol: 'http/json', endpoint: `http://127.0.0.1:${server.address().port}/v1/metrics`, exportIntervalMillis: 1000 },
    });
    await otel.ready;
    recordCall = node => otel.metrics.record({ node, transport: 'http', status: 'success', durationSeconds: 0.02 });
    scrapeOnce = async () => {
      await (await fetch(otel.prometheusUrl)).text();
    };
    measure = async () => {
      const metricsBytes = Buffer.byteLength(await (await fetch(otel.prometheusUrl)).text());
      await otel.forceFlush();
      return { metricsBytes, otlpPoints: state.lastPoints, otlpBytes: state.lastBytes };
    };
    stop = async () => {
      await otel.shutdown();
      server.close();
    };
  } else if (variant === 'sdkCumulative') {
    const { createGatewayMetrics, gatewayViews, semconv } = require('../dist');
    const { PrometheusSerializer } = require('../dist/export/exposition');
    const { MeterProvider, MetricReader, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
    class Reader extends MetricReader {
      constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
      async onShutdown() {}
      async onForceFlush() {}
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader], views: gatewayViews({ maxNodes: 1000 }) });
    const metrics = createGatewayMetrics({ meterProvider: provider, maxNodes: 1000, nodeIdleTtl: TTL });
    const serializer = new PrometheusSerializer({
      keep: (scope, a) => scope.name !== semconv.SCOPE_NAME || typeof a.node !== 'string' || metrics.isLiveNode(a.node),
    });
    recordCall = node => metrics.record({ node, transport: 'http', status: 'success', durationSeconds: 0.02 });
    scrapeOnce = async () => {
      serializer.serialize((await reader.collect()).resourceMetrics);
    };
    measure = async () => {
      const { resourceMetrics } = await reader.collect();
      let otlpPoints = 0;
      for (const sm of resourceMetrics.scopeMetrics) for (const m of sm.metrics) if (m.descriptor.name === 'gateway.request.duration') otlpPoints += m.dataPoints.length;
      return { metricsBytes: Buffer.byteLength(serializer.serialize(resourceMetrics)), otlpPoints, otlpBytes: null };
    };
    stop = () => provider.shutdown();
  } else {
    const client = require('prom-client');
    const registry = new client.Registry();
    const h = new client.Histogram({ name: 'gateway_request_duration_seconds', help: 'h', labelNames: ['node', 'transport', 'status'], registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
    const g = new client.Gauge({ name: 'gateway_requests_active', help: 'g', labelNames: ['node', 'transport'], registers: [registry] });
    recordCall = node => {
      g.inc({ node, transport: 'http' });
      h.observe({ node, transport: 'http', status: 'success' }, 0.02);
      g.dec({ node, transport: 'http' });
    };
    retire = node => {
      h.remove({ node, transport: 'http', status: 'success' });
      g.remove({ node, transport: 'http' });
    };
    scrapeOnce = async () => {
      await registry.metrics();
    };
    measure = async () => ({ metricsBytes: Buffer.byteLength(await registry.metrics()), otlpPoints: null, otlpBytes: null });
  }

  const live = [];
  const retired = []; // [name, retiredAt]
  let seen = 0;
  const fresh = () => `pod-${(seen++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  for (let i = 0; i < LIVE; i++) live.push(fresh());
  const rows = [];
  const t0 = Date.now();
  const scraper = setInterval(() => scrapeOnce().catch(err => console.error(err)), 1000);
  let next = 0;
  while (seen < NAMES || next < CHECKPOINTS.length) {
    for (const n of live) recordCall(n);
    const now = Date.now();
    for (let i = 0; i < PER_STEP && seen < NAMES; i++) {
      retired.push([live.shift(), now]);
      live.push(fresh());
    }
    while (retired.length > 0 && now - retired[0][1] > TTL) retire(retired.shift()[0]);
    if (next < CHECKPOINTS.length && seen >= CHECKPOINTS[next]) {
      await sleep(TTL + 50); // the last retired names expire
      for (const n of live) recordCall(n);
      while (retired.length > 0) retire(retired.shift()[0]);
      const m = await measure();
      const h = heap() - base;
      rows.push({ namesSeen: seen, heapBytes: h, heapBytesPerNameSeen: Math.round(h / seen), ...m, elapsedS: (Date.now() - t0) / 1000 });
      console.log(`churn ${variant}: ${seen} names: heap +${(h / 1048576).toFixed(1)} MB, /metrics ${m.metricsBytes} B, OTLP points ${m.otlpPoints}`);
      next++;
      if (seen >= NAMES && next >= CHECKPOINTS.length) break;
    }
    await sleep(STEP_MS);
  }
  // Growth per retired name between the first and last checkpoint: the figure the issue's goal is about.
  const first = rows[0];
  const last = rows[rows.length - 1];
  const growthPerRetiredName = Math.round((last.heapBytes - first.heapBytes) / (last.namesSeen - first.namesSeen));
  clearInterval(scraper);
  writeResult(`churn-${variant}.tmp`, { variant, rows, growthPerRetiredName });
  await stop();
}

const variant = arg('variant');
(variant ? variantMain(variant) : orchestrate()).then(
  () => process.exit(0),
  err => {
    console.error(err);
    process.exit(1);
  },
);
