#!/usr/bin/env node
// Case 2 — what each scrape costs.
//
//   node bench/scrape.js [--sizes 200,2000,20000]
//
// Part A, "serialize" (one process pinned to core 1): the same ResourceMetrics,
// freshly collected every round, turned into the UTF-8 bytes that go on the
// wire by our PrometheusSerializer and by the stock exporter's serializer; and
// prom-client's registry.metrics() over the same observations. The SDK's
// collect() is timed on its own, so our part and the SDK's part are split.
// Before every round each series gets one more observation (every series has
// changed since the last scrape: the worst case for collect()), and a full GC
// runs before every timed step so one variant's garbage is not billed to the next.
//
// Part B, "http" (server pinned to core 0, client on core 1): request → last
// byte over loopback for our endpoint, the stock exporter's endpoint and a
// prom-client endpoint holding the same data, plus the longest event-loop
// block in the server while each request was in flight.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { arg, num, meta, writeResult, readResult, runNode, startNode, kill, gc, RESULTS } = require('./lib/common');
const { summary, rotate, sig } = require('./lib/stats');

const SIZES = (arg('sizes', process.env.BENCH_SIZES) || '200,2000,20000').split(',').map(Number);
/** Rounds per size: [serialize, http]. The stock exporter needs ~5 s a round at 20,000 series. */
function rounds(n) {
  const scale = num('rounds-scale', 1);
  const base = n <= 200 ? [30, 15] : n <= 2000 ? [15, 8] : [5, 4];
  return base.map(x => Math.max(3, Math.round(x * scale)));
}

async function orchestrate() {
  const command = `node bench/scrape.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = Date.now();
  const out = { case: 'scrape', meta: { ...meta(command), layout: 'serialize: one process on core 1; http: server on core 0, client on core 1' } };
  for (const phase of ['serialize', 'http']) {
    const code = await runNode(__filename, ['--phase', phase, ...process.argv.slice(2)], { cpu: 1, nodeArgs: ['--expose-gc'] });
    if (code !== 0) throw new Error(`scrape phase ${phase} failed (${code})`);
    out[phase] = readResult(`scrape-${phase}.tmp`);
    fs.rmSync(path.join(RESULTS, `scrape-${phase}.tmp.json`), { force: true });
  }
  out.seconds = (Date.now() - started) / 1000;
  const file = writeResult('scrape', out);
  console.log(`scrape: wrote ${path.relative(process.cwd(), file)}`);
}

// ---- Part A -------------------------------------------------------------------

function toBytes(strings) {
  let bytes = 0;
  for (const s of strings) bytes += Buffer.from(s, 'utf8').length;
  return bytes;
}

async function serializePhase() {
  const { otelSetup, registerSetup, promSetup, populate } = require('./lib/fixtures');
  const result = { sizes: {} };
  for (const n of SIZES) {
    const [R] = rounds(n);
    const warmup = 2;
    const o = otelSetup(n);
    const reg = registerSetup(n);
    const p = promSetup(n);
    populate({ otel: [o, reg], prom: [p] }, n, 3);
    const emptyRm = (await reg.reader.collect()).resourceMetrics;
    const t = { collect: [], ours: [], register: [], stock: [], promClient: [] };
    const bytes = {};
    const variants = {
      ours: rm => {
        let bytes = 0;
        for (const b of o.serializer.byteChunks(rm)) bytes += b.length;
        return bytes;
      },
      // register(): our store read directly (no collect() of ours to time apart).
      register: () => {
        let bytes = 0;
        for (const b of reg.serializer.byteChunks(emptyRm, reg.store)) bytes += b.length;
        return bytes;
      },
      stock: rm => toBytes([o.stockSerializer.serialize(rm)]),
      promClient: async () => toBytes([await p.registry.metrics()]),
    };
    for (let r = 0; r < warmup + R; r++) {
      populate({ otel: [o, reg], prom: [p] }, n, 1, 1000 + r);
      gc();
      let t0 = performance.now();
      const { resourceMetrics: rm } = await o.reader.collect();
      const collectMs = performance.now() - t0;
      if (r >= warmup) t.collect.push(collectMs);
      for (const name of rotate(Object.keys(variants), r)) {
        gc();
        t0 = performance.now();
        const b = await variants[name](rm);
        const ms = performance.now() - t0;
        bytes[name] = b;
        if (r >= warmup) t[name].push(ms);
      }
    }
    const s = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, summary(v)]));
    const perRound = (a, b) => summary(t[a].map((x, i) => x / t[b][i]));
    const e2e = name => t[name].map((x, i) => x + t.collect[i]);
    result.sizes[n] = {
      rounds: R,
      warmup,
      ms: s,
      collectPlusOurs: summary(e2e('ours')),
      collectPlusStock: summary(e2e('stock')),
      bytes,
      speedup: {
        // "How many times faster are we": other / ours, per round.
        oursVsStock: perRound('stock', 'ours'),
        oursVsPromClient: perRound('promClient', 'ours'),
        registerVsStock: summary(e2e('stock').map((x, i) => x / t.register[i])),
        registerVsPromClient: perRound('promClient', 'register'),
        e2eOursVsStock: summary(e2e('stock').map((x, i) => x / e2e('ours')[i])),
        e2eOursVsPromClient: summary(t.promClient.map((x, i) => x / e2e('ours')[i])),
      },
    };
    console.log(`scrape serialize ${n}: register() store ${sig(s.register.median)} ms, collect ${sig(s.collect.median)} ms, ours ${sig(s.ours.median)} ms, stock ${sig(s.stock.median)} ms, prom-client ${sig(s.promClient.median)} ms; bytes ours ${bytes.ours} stock ${bytes.stock} prom ${bytes.promClient}`);
    if (n === Math.min(...SIZES) || n === 2000) {
      const { resourceMetrics: rm } = await o.reader.collect();
      const oursText = o.serializer.serialize(rm);
      if (n === Math.min(...SIZES)) result.equivalence = equivalence(oursText, o.stockSerializer.serialize(rm), await p.registry.metrics());
      if (n === 2000) result.promtool = promtool(oursText);
    }
  }
  writeResult('scrape-serialize.tmp', result);
}

/** Parse the text format into Map(name{sorted labels} → value). */
function samples(text, rename = x => x) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable line: ${line}`);
    const labels = [];
    for (const [, k, v] of (match[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels.push(`${k}=${k === 'le' ? Number(v === '+Inf' ? Infinity : v) : v}`);
    }
    m.set(`${rename(match[1])}{${labels.sort().join(',')}}`, Number(match[3]));
  }
  return m;
}

/**
 * Ours vs the stock serializer on the same ResourceMetrics, sample for sample,
 * with the stock names mapped to the compliant ones (unit suffix `_seconds`).
 * prom-client holds the same observations, so the same check against it (its
 * output has no scope labels and no target_info) covers the numbers independently.
 */
function equivalence(ours, stock, prom) {
  const a = samples(ours);
  const b = samples(stock, name => name.replace(/^gateway_request_duration(_bucket|_sum|_count)$/, 'gateway_request_duration_seconds$1'));
  const diff = [];
  for (const [k, v] of a) if (!b.has(k) || Math.abs(b.get(k) - v) > 1e-9 * Math.max(1, Math.abs(v))) diff.push(k);
  for (const k of b.keys()) if (!a.has(k)) diff.push(k);
  const strip = k => k.replace(/,?otel_scope_(name|version)=[^,}]*/g, '').replace('{,', '{');
  const aNoScope = new Map([...a].filter(([k]) => !k.startsWith('target_info')).map(([k, v]) => [strip(k), v]));
  const c = samples(prom);
  const diffProm = [];
  for (const [k, v] of aNoScope) if (!c.has(k) || Math.abs(c.get(k) - v) > 1e-9 * Math.max(1, Math.abs(v))) diffProm.push(k);
  for (const k of c.keys()) if (!aNoScope.has(k)) diffProm.push(k);
  return {
    oursSamples: a.size, stockSamples: b.size, promClientSamples: c.size,
    vsStock: diff.length === 0 ? 'identical samples (names mapped to the unit-suffixed form)' : `${diff.length} differ, e.g. ${diff.slice(0, 3).join(' ')}`,
    vsPromClient: diffProm.length === 0 ? 'identical samples (scope labels and target_info aside)' : `${diffProm.length} differ, e.g. ${diffProm.slice(0, 3).join(' ')}`,
  };
}

function promtool(text) {
  const file = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'otel-gateway-metrics', 'e2e-tools.json');
  let bin;
  try {
    bin = JSON.parse(fs.readFileSync(file, 'utf8')).promtool;
  } catch {
    return { status: 'skipped', reason: `no ${file} (npm run e2e:setup installs promtool)` };
  }
  const r = spawnSync(bin, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 26 });
  const outText = `${r.stdout || ''}${r.stderr || ''}`.trim();
  return { status: r.status === 0 && outText === '' ? 'clean' : `exit ${r.status}`, output: outText.slice(0, 500), binary: bin };
}

// ---- Part B -------------------------------------------------------------------

function get(port, headers = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', headers, agent: false }, res => {
      let bytes = 0;
      res.on('data', d => (bytes += d.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, bytes, status: res.statusCode, encoding: res.headers['content-encoding'] }));
    });
    req.on('error', reject);
  });
}

async function httpPhase() {
  const result = { sizes: {} };
  for (const n of SIZES) {
    const [, R] = rounds(n);
    const warmup = 1;
    const servers = {};
    for (const impl of ['ours', 'register', 'stock', 'prom']) {
      servers[impl] = await startNode(path.join(__dirname, 'lib', 'scrape-server.js'), ['--series', String(n), '--impl', impl], { cpu: 0, ipc: true, timeoutMs: 120_000 });
    }
    const waitMsg = (child, type) => new Promise(resolve => {
      const on = m => {
        if (m.type === type) {
          child.removeListener('message', on);
          resolve(m);
        }
      };
      child.on('message', on);
    });
    const port = (impl, name) => servers[impl].info.ports[name];
    const variants = {
      ours: ['ours', () => get(port('ours', 'ours'))],
      oursGzip: ['ours', () => get(port('ours', 'ours'), { 'accept-encoding': 'gzip' })],
      stock: ['stock', () => get(port('stock', 'stock'))],
      promClient: ['prom', () => get(port('prom', 'prom'))],
      collectOnly: ['ours', () => get(port('ours', 'collect'))],
      promClientGzip: ['prom', () => get(port('prom', 'prom'), { 'accept-encoding': 'gzip' })],
      // What register() serves: our series store, read by the serializer directly.
      oursRegister: ['register', () => get(port('register', 'ours'))],
      oursRegisterGzip: ['register', () => get(port('register', 'ours'), { 'accept-encoding': 'gzip' })],
      collectOnlyRegister: ['register', () => get(port('register', 'collect'))],
    };
    const t = Object.fromEntries(Object.keys(variants).map(k => [k, { ttlb: [], block: [], eld: [], bytes: 0 }]));
    for (let r = 0; r < warmup + R; r++) {
      for (const name of rotate(Object.keys(variants), r)) {
        const [impl, run] = variants[name];
        // One more observation in every series right before each scrape, so
        // every variant's collect() has the same new data to merge (variants
        // sharing a server would otherwise find nothing new after the first).
        servers[impl].child.send({ type: 'touch', seed: 5000 + r });
        await waitMsg(servers[impl].child, 'touched');
        const reportP = waitMsg(servers[impl].child, 'scrape');
        const res = await run();
        const rep = await reportP;
        if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
        if (r >= warmup) {
          t[name].ttlb.push(res.ms);
          t[name].block.push(rep.maxBlockMs);
          t[name].eld.push(rep.eldMaxMs);
        }
        t[name].bytes = res.bytes;
        await new Promise(r2 => setTimeout(r2, 50));
      }
    }
    for (const { child } of Object.values(servers)) {
      child.send({ type: 'exit' });
      await kill(child);
    }
    const sizeOut = { rounds: R, warmup, variants: {} };
    for (const [name, v] of Object.entries(t)) {
      sizeOut.variants[name] = { ttlbMs: summary(v.ttlb), maxBlockMs: summary(v.block), eldMaxMs: summary(v.eld), worstBlockMs: Math.max(...v.block), bytes: v.bytes };
    }
    const ratio = (a, b, key) => summary(t[a][key].map((x, i) => x / t[b][key][i]));
    sizeOut.speedup = {
      ttlbStockOverOurs: ratio('stock', 'ours', 'ttlb'),
      ttlbPromClientOverOurs: ratio('promClient', 'ours', 'ttlb'),
      blockStockOverOurs: ratio('stock', 'ours', 'block'),
      blockPromClientOverOurs: ratio('promClient', 'ours', 'block'),
      ttlbStockOverRegister: ratio('stock', 'oursRegister', 'ttlb'),
      ttlbPromClientOverRegister: ratio('promClient', 'oursRegister', 'ttlb'),
      ttlbPromClientGzipOverRegisterGzip: ratio('promClientGzip', 'oursRegisterGzip', 'ttlb'),
    };
    result.sizes[n] = sizeOut;
    const v = sizeOut.variants;
    console.log(`scrape http ${n}: ttlb ours ${sig(v.ours.ttlbMs.median)} ms (gzip ${sig(v.oursGzip.ttlbMs.median)}), stock ${sig(v.stock.ttlbMs.median)}, prom ${sig(v.promClient.ttlbMs.median)} (gzip ${sig(v.promClientGzip.ttlbMs.median)}); ` +
      `register() path ${sig(v.oursRegister.ttlbMs.median)} ms (gzip ${sig(v.oursRegisterGzip.ttlbMs.median)}), block ${sig(v.oursRegister.maxBlockMs.median)} (worst ${sig(v.oursRegister.worstBlockMs)}); ` +
      `×stock ${sig(sizeOut.speedup.ttlbStockOverRegister.median)}, ×prom ${sig(sizeOut.speedup.ttlbPromClientOverRegister.median)}, ×prom gzip ${sig(sizeOut.speedup.ttlbPromClientGzipOverRegisterGzip.median)}; ` +
      `max block ours ${sig(v.ours.maxBlockMs.median)} ms (worst ${sig(v.ours.worstBlockMs)}), collect alone ${sig(v.collectOnly.maxBlockMs.median)}, stock ${sig(v.stock.maxBlockMs.median)}, prom ${sig(v.promClient.maxBlockMs.median)}`);
  }
  writeResult('scrape-http.tmp', result);
}

const phase = arg('phase');
(phase === 'serialize' ? serializePhase() : phase === 'http' ? httpPhase() : orchestrate()).catch(err => {
  console.error(err);
  process.exit(1);
});
