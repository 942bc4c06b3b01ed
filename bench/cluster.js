#!/usr/bin/env node
// Case 8 — multi-process gateways (lib/cluster): what the per-host view costs.
//
//   node bench/cluster.js [--rounds 15] [--calls 20000] [--nodes 500] [--round-calls 200] [--busy-calls 15000]
//
// 1. Scrape: 4 workers × 2,000 series against one process with the same
//    2,000 series. Both serialize their store with our serializer (no HTTP,
//    no gzip, no SDK collect: the same in both). The cluster side is what the
//    worker answering a scrape does: write its own in-flight counts, read the
//    4 state files (what was appended since its last scrape) and sum them
//    into the host store, then serialize that. Between rounds every worker
//    makes 200 calls and writes a beat, and the single process makes the
//    same 800 calls, so each cluster read has new slots to take. Rounds
//    are interleaved; the ratio is taken per round. The first read of the
//    files (a worker's first scrape) is reported apart. Then the same with a
//    busy host: 15,000 calls per worker between two scrapes.
// 2. Per call: GatewayMetrics.record() with the bytes of the call, one call per
//    macrotask (as each upstream response is its own I/O callback), on the
//    plain store vs the same worker's store written through to its file (one
//    write(2) per tick with a record). CPU time (user + system) per call,
//    interleaved rounds, median of the per-round differences.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { num, meta, writeResult } = require('./lib/common');
const { summary, sig } = require('./lib/stats');

const dist = path.join(__dirname, '..', 'dist');
const { GatewayMetrics } = require(dist);
const { SeriesStore } = require(path.join(dist, 'store', 'store.js'));
const { PrometheusSerializer } = require(path.join(dist, 'export', 'exposition.js'));
const { RateLimitedWarner } = require(path.join(dist, 'core', 'diag.js'));
const { Member } = require(path.join(dist, 'cluster', 'member.js'));
const { GroupReader } = require(path.join(dist, 'cluster', 'reader.js'));
const { HostView } = require(path.join(dist, 'cluster', 'host.js'));
const { resourceFromAttributes } = require('@opentelemetry/resources');

const SCOPE = { name: 'otel-gateway-metrics', version: 'bench' };
const CUMULATIVE = { temporality: () => 1, aggregation: () => ({ type: 0 }) };
const RM = { resource: resourceFromAttributes({ 'service.name': 'bench' }), scopeMetrics: [] };
const tick = () => new Promise(r => setImmediate(r));

function store() {
  return new SeriesStore({ scope: SCOPE, readers: [CUMULATIVE], views: [], warn: new RateLimitedWarner() });
}

/** nodes × {http, exec} × {success, error} = 4 × nodes duration series (2,000 at 500 nodes). */
function fill(metrics, nodes, seed) {
  for (let i = 0; i < nodes; i++) {
    for (const transport of ['http', 'exec']) {
      metrics.record({ node: `node-${i}`, transport, status: 'success', durationSeconds: ((i + seed) % 97) / 1000, requestBytes: 100, responseBytes: 1000 });
      metrics.record({ node: `node-${i}`, transport, status: 'error', durationSeconds: ((i * 7 + seed) % 89) / 100, errorType: 'timeout' });
    }
  }
}

function traffic(metrics, nodes, n, seed) {
  for (let k = 0; k < n; k++) {
    const i = (k * 37 + seed) % nodes;
    metrics.record({ node: `node-${i}`, transport: k % 2 === 0 ? 'http' : 'exec', status: 'success', durationSeconds: (k % 50) / 1000, requestBytes: 10, responseBytes: 100 });
  }
}

function serialize(serializer, s) {
  let bytes = 0;
  for (const chunk of serializer.byteChunks(RM, s)) bytes += chunk.length;
  return bytes;
}

async function scrapeCase(rounds, nodes, roundCalls) {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'ogm-bench-cluster-'));
  try {
    const single = store();
    const singleMetrics = new GatewayMetrics(single, { nodeIdleTtl: 0, maxNodes: nodes + 10 });
    for (let w = 0; w < 4; w++) fill(singleMetrics, nodes, w);
    const workers = [];
    for (let w = 0; w < 4; w++) {
      const s = store();
      const member = new Member({ dir, worker: String(w + 1), procStart: undefined, ttl: 0, beatMs: 0 });
      member.onLarge = () => member.rewrite();
      const metrics = new GatewayMetrics(member.recorders(s), { nodeIdleTtl: 0, maxNodes: nodes + 10 });
      fill(metrics, nodes, w);
      workers.push({ member, metrics });
    }
    await tick();
    const reader = new GroupReader(dir);
    const view = new HostView({ scope: SCOPE, prefix: '', reader, warn: new RateLimitedWarner() });
    const singleSerializer = new PrometheusSerializer();
    const hostSerializer = new PrometheusSerializer();
    const scrapeSingle = () => {
      single.prepare();
      return serialize(singleSerializer, single);
    };
    const scrapeHost = () => {
      workers[0].member.snapshot();
      view.refresh();
      return serialize(hostSerializer, view.store);
    };
    let t0 = performance.now();
    const hostBytes = scrapeHost();
    const coldMs = performance.now() - t0;
    const singleBytes = scrapeSingle();
    const singleMs = [];
    const hostMs = [];
    const ratios = [];
    for (let r = 0; r < rounds + 3; r++) {
      // Each call in its own tick, as in a gateway (each is written on its own).
      for (let k = 0; k < roundCalls; k++) {
        for (let w = 0; w < 4; w++) traffic(workers[w].metrics, nodes, 1, r * 4 * roundCalls + 4 * k + w);
        traffic(singleMetrics, nodes, 4, r * roundCalls + k);
        await tick();
      }
      await tick();
      for (const w of workers) w.member.beat();
      const order = r % 2 === 0 ? ['single', 'host'] : ['host', 'single'];
      const t = {};
      for (const which of order) {
        t0 = performance.now();
        if (which === 'single') scrapeSingle();
        else scrapeHost();
        t[which] = performance.now() - t0;
      }
      if (r < 3) continue;
      singleMs.push(t.single);
      hostMs.push(t.host);
      ratios.push(t.host / t.single);
    }
    const generations = workers.map(w => w.member.generation);
    const files = fs.readdirSync(dir).filter(f => f.startsWith('m-')).map(f => fs.statSync(path.join(dir, f)).size);
    for (const w of workers) w.member.close();
    return {
      series: nodes * 4,
      workers: 4,
      singleMs: summary(singleMs),
      hostMs: summary(hostMs),
      ratio: summary(ratios),
      coldFirstReadMs: coldMs,
      exposition: { singleBytes, hostBytes },
      stateFileBytes: files,
      generations,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function perCallCase(rounds, calls, nodes) {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'ogm-bench-cluster-'));
  try {
    const plain = new GatewayMetrics(store(), { nodeIdleTtl: 0, maxNodes: nodes + 10 });
    const member = new Member({ dir, worker: '1', procStart: undefined, ttl: 0, beatMs: 0 });
    const written = new GatewayMetrics(member.recorders(store()), { nodeIdleTtl: 0, maxNodes: nodes + 10 });
    fill(plain, nodes, 0);
    fill(written, nodes, 0);
    await tick();
    const run = async (metrics) => {
      const c0 = process.cpuUsage();
      for (let k = 0; k < calls; k++) {
        await tick();
        metrics.record({ node: `node-${k % nodes}`, transport: 'http', status: 'success', durationSeconds: (k % 50) / 1000, requestBytes: 10, responseBytes: 100 });
      }
      await tick();
      const c = process.cpuUsage(c0);
      return (c.user + c.system) / calls;
    };
    const plainUs = [];
    const writtenUs = [];
    const diffs = [];
    for (let r = 0; r < rounds + 1; r++) {
      const t = {};
      for (const which of r % 2 === 0 ? ['plain', 'written'] : ['written', 'plain']) t[which] = await run(which === 'plain' ? plain : written);
      if (r === 0) continue;
      plainUs.push(t.plain);
      writtenUs.push(t.written);
      diffs.push(t.written - t.plain);
    }
    const size = member.fileSize;
    member.close();
    return { calls, plainUsPerCall: summary(plainUs), writtenUsPerCall: summary(writtenUs), extraUsPerCall: summary(diffs), fileBytesAfter: size };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const rounds = num('rounds', 15);
  const calls = num('calls', 20000);
  const nodes = num('nodes', 500);
  const load = os.loadavg().map(x => x.toFixed(2)).join(' ');
  const roundCalls = num('round-calls', 200);
  const busyCalls = num('busy-calls', 15000);
  const scrape = await scrapeCase(rounds, nodes, roundCalls);
  // A busy host: 15,000 calls per worker between two scrapes (1,000 calls/s per worker, scraped every 15 s).
  const busy = busyCalls > 0 ? await scrapeCase(4, nodes, busyCalls) : undefined;
  const perCall = await perCallCase(Math.max(5, Math.round(rounds / 2)), calls, nodes);
  const result = { case: 'cluster', meta: meta('node bench/cluster.js'), loadavg: load, config: { rounds, calls, nodes, roundCalls, busyCalls }, scrape, busy, perCall, targetRatio: 2 };
  writeResult('cluster', result);
  const r = scrape.ratio;
  console.log(`cluster scrape (${roundCalls} calls per worker between scrapes): ${scrape.workers} workers × ${scrape.series} series: median ${sig(scrape.hostMs.median)} ms vs one process ${sig(scrape.singleMs.median)} ms; per-round ratio median ${sig(r.median)} (IQR ${sig(r.q1)}–${sig(r.q3)}, range ${sig(r.min)}–${sig(r.max)}); first read of the files ${sig(scrape.coldFirstReadMs)} ms; exposition ${scrape.exposition.hostBytes} vs ${scrape.exposition.singleBytes} bytes`);
  if (busy !== undefined) console.log(`cluster scrape, busy (${busyCalls} calls per worker between scrapes): median ${sig(busy.hostMs.median)} ms vs one process ${sig(busy.singleMs.median)} ms; per-round ratio median ${sig(busy.ratio.median)} (range ${sig(busy.ratio.min)}–${sig(busy.ratio.max)}); files ${busy.stateFileBytes.join(', ')} bytes`);
  const d = perCall.extraUsPerCall;
  console.log(`cluster per call (one record per macrotask, CPU): plain ${sig(perCall.plainUsPerCall.median)} µs, written through ${sig(perCall.writtenUsPerCall.median)} µs; extra median ${sig(d.median)} µs (IQR ${sig(d.q1)}–${sig(d.q3)}); load average ${load}`);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
