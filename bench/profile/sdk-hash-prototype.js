#!/usr/bin/env node
// What caching the SDK's attribute hash per attribute object would buy (issue 16).
//
//   node bench/profile/sdk-hash-prototype.js [--rounds 15] [--n 200000]
//
// @opentelemetry/sdk-metrics 3.1.0 hashes the attributes on every record:
// SyncInstrument._record → SyncMetricStorage.record → DeltaMetricProcessor.record
// → this._activeCollectionStorage.get(attributes) (AttributeHashMap, a HashMap
// built with utils.hashAttributes) → hashAttributes(attributes): Object.keys,
// sort, map to [key, value] pairs, JSON.stringify. We pass the same frozen
// object for a series on every call, so the string is the same every time.
//
// Prototype, applied here only (nothing in lib/): utils.cjs's exported
// hashAttributes replaced by a memo keyed by object identity (a WeakMap), used
// for frozen objects only (a frozen object's own properties cannot change, so
// its hash cannot either; anything else is hashed as before). AttributeHashMap
// reads `require_utils.hashAttributes` in its constructor, so a MeterProvider
// made before the swap keeps the stock function and one made after it gets the
// memo: both run side by side in one process, in interleaved rounds.
//
// Variants, ns per histogram.record() (one process pinned to core 1):
//   stock     sdk-metrics as shipped
//   memo      the same after the swap
//   prom      prom-client 15 Histogram.observe(labels, v), for scale
// each with the gateway's own attribute object (3 keys: node, transport,
// status) and the MCP convention metric's (6 keys), the objects our package
// passes. Then a check: both providers collected (cumulative) must hold the
// same points (attributes, count, sum, min, max, bucket counts), also for a
// non-frozen object mutated between records (two series, memo or not).
'use strict';
const os = require('node:os');
const path = require('node:path');
const { num, meta, writeResult, startNode, ROOT } = require('../lib/common');
const { summary, rotate, sig } = require('../lib/stats');

function run(rounds, n) {
  const assert = require('node:assert');
  const { ValueType } = require('@opentelemetry/api');
  const sdk = require('@opentelemetry/sdk-metrics');
  const utils = require(path.join(path.dirname(require.resolve('@opentelemetry/sdk-metrics')), 'utils.cjs'));
  const client = require('prom-client');
  const { createGatewayMetrics, DEFAULT_DURATION_BUCKETS } = require(path.join(ROOT, 'dist'));
  const { MCP_DURATION_BUCKETS } = require(path.join(ROOT, 'dist', 'protocols', 'mcp.js'));
  const { durations } = require('../lib/fixtures');

  class Reader extends sdk.MetricReader {
    constructor() { super({ aggregationTemporalitySelector: () => sdk.AggregationTemporality.CUMULATIVE }); }
    async onShutdown() {}
    async onForceFlush() {}
  }
  function provider(name) {
    const reader = new Reader();
    const p = new sdk.MeterProvider({ readers: [reader] });
    const meter = p.getMeter(name);
    const h = (metric, buckets) => meter.createHistogram(metric, { unit: 's', valueType: ValueType.DOUBLE, advice: { explicitBucketBoundaries: [...buckets] } });
    return { reader, gateway: h('gateway.request.duration', DEFAULT_DURATION_BUCKETS), mcp: h('mcp.client.operation.duration', MCP_DURATION_BUCKETS) };
  }

  // The attribute objects our package passes: a series' `ok` and an MCP op's.
  const metrics = createGatewayMetrics({ meterProvider: new sdk.MeterProvider() });
  const series = metrics.autoSeries('agent-1', 'exec');
  const op = metrics.mcp.op(series, 'tools/call', 'echo');
  const attrs = { gateway: series.ok, mcp: op.ok };
  assert.ok(Object.isFrozen(attrs.gateway) && Object.isFrozen(attrs.mcp));

  const stockHash = utils.hashAttributes;
  const stock = provider('stock');
  let memoCalls = 0;
  const memo = new WeakMap();
  utils.hashAttributes = function hashAttributesMemo(attributes) {
    memoCalls++;
    if (!Object.isFrozen(attributes)) return stockHash(attributes);
    let h = memo.get(attributes);
    if (h === undefined) {
      h = stockHash(attributes);
      memo.set(attributes, h);
    }
    return h;
  };
  const proto = provider('memo');
  utils.hashAttributes = stockHash;

  const registry = new client.Registry();
  const promH = (name, buckets, labelNames) => new client.Histogram({ name, help: 'h', labelNames, buckets: [...buckets], registers: [registry] });
  const prom = {
    gateway: promH('gateway_request_duration_seconds', DEFAULT_DURATION_BUCKETS, Object.keys(attrs.gateway)),
    mcp: promH('mcp_client_operation_duration_seconds', MCP_DURATION_BUCKETS, Object.keys(attrs.mcp).map(k => k.replace(/\./g, '_'))),
  };
  const promLabels = { gateway: { ...attrs.gateway }, mcp: Object.fromEntries(Object.entries(attrs.mcp).map(([k, v]) => [k.replace(/\./g, '_'), v])) };

  const values = durations(4096);
  const loops = {
    stock: shape => { const h = stock[shape]; const a = attrs[shape]; for (let i = 0; i < n; i++) h.record(values[i & 4095], a); },
    memo: shape => { const h = proto[shape]; const a = attrs[shape]; for (let i = 0; i < n; i++) h.record(values[i & 4095], a); },
    prom: shape => { const h = prom[shape]; const l = promLabels[shape]; for (let i = 0; i < n; i++) h.observe(l, values[i & 4095]); },
    hashStock: shape => { const a = attrs[shape]; let x = 0; for (let i = 0; i < n; i++) x += stockHash(a).length; return x; },
  };
  const variants = Object.keys(loops);
  const shapes = ['gateway', 'mcp'];
  const perRound = [];
  for (let r = -2; r < rounds; r++) { // two warm-up rounds
    const row = {};
    for (const shape of shapes) {
      for (const v of rotate(variants, r + 2)) {
        const memoBefore = memoCalls;
        const t0 = process.hrtime.bigint();
        loops[v](shape);
        row[`${v}.${shape}`] = Number(process.hrtime.bigint() - t0) / n;
        // The memo is in the prototype's path only.
        // (n + 1 on the first record of a series: get, then set, each hashes.)
        if (v === 'memo') assert.ok(memoCalls - memoBefore >= n);
        else assert.equal(memoCalls, memoBefore);
      }
    }
    if (r >= 0) perRound.push(row);
  }

  // Same output: every record above went to both providers in equal numbers
  // with the same values. A non-frozen object mutated between two records is
  // two series, memo or not.
  for (const p of [stock, proto]) {
    const loose = { node: 'loose', transport: 'exec', status: 'success' };
    p.gateway.record(0.5, loose);
    loose.node = 'loose-2';
    p.gateway.record(0.25, loose);
  }
  const pointsOf = async reader => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics.scopeMetrics.flatMap(s => s.metrics.map(m => ({
      name: m.descriptor.name,
      points: m.dataPoints.map(d => ({ attributes: d.attributes, count: d.value.count, sum: d.value.sum, min: d.value.min, max: d.value.max, buckets: d.value.buckets })),
    })));
  };
  return Promise.all([pointsOf(stock.reader), pointsOf(proto.reader)]).then(([a, b]) => {
    assert.deepStrictEqual(b, a);
    const gw = a.find(m => m.name === 'gateway.request.duration');
    assert.equal(gw.points.length, 3);
    return { perRound, check: { identical: true, series: a.map(m => ({ name: m.name, points: m.points.map(p => ({ attributes: p.attributes, count: p.count })) })) } };
  });
}

async function main() {
  const rounds = num('rounds', 15);
  const n = num('n', 200_000);
  if (process.argv[2] === '--run') {
    const out = await run(Number(process.argv[3]), Number(process.argv[4]));
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const loadStart = os.loadavg();
  const { child, info } = await startNode(__filename, ['--run', String(rounds), String(n)], { cpu: 1, timeoutMs: 600_000 });
  await new Promise(r => child.once('exit', r));
  const { perRound, check } = info;
  const result = { meta: meta('node bench/profile/sdk-hash-prototype.js'), loadavg: { start: loadStart, end: os.loadavg() }, rounds, n, check, ns: {}, ratio: {}, saved: {} };
  for (const key of Object.keys(perRound[0])) result.ns[key] = summary(perRound.map(r => r[key]));
  for (const shape of ['gateway', 'mcp']) {
    result.ratio[`memo/stock.${shape}`] = summary(perRound.map(r => r[`memo.${shape}`] / r[`stock.${shape}`]));
    result.ratio[`stock/prom.${shape}`] = summary(perRound.map(r => r[`stock.${shape}`] / r[`prom.${shape}`]));
    result.ratio[`memo/prom.${shape}`] = summary(perRound.map(r => r[`memo.${shape}`] / r[`prom.${shape}`]));
    result.saved[shape] = summary(perRound.map(r => r[`stock.${shape}`] - r[`memo.${shape}`]));
  }
  result.perRound = perRound;
  console.log(`ns per call, medians over ${rounds} rounds of ${n} (IQR); load ${loadStart.map(x => x.toFixed(2)).join(' ')}`);
  for (const [k, s] of Object.entries(result.ns)) console.log(`  ${k.padEnd(18)} ${sig(s.median)} (${sig(s.q1)} to ${sig(s.q3)})`);
  for (const [k, s] of Object.entries(result.ratio)) console.log(`  ${k.padEnd(22)} ${sig(s.median)} (${sig(s.q1)} to ${sig(s.q3)})`);
  for (const [k, s] of Object.entries(result.saved)) console.log(`  saved per record, ${k.padEnd(8)} ${sig(s.median)} ns (${sig(s.q1)} to ${sig(s.q3)})`);
  console.log(`collect: stock and memo identical (${check.series.map(m => `${m.name}: ${m.points.length} series`).join(', ')})`);
  console.log(`wrote ${writeResult('sdk-hash-prototype', result)}`);
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
