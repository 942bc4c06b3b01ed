#!/usr/bin/env node
// Case 1 — what each routed call pays to be recorded.
//
//   node bench/record.js            (both phases, each in its own process pinned to core 1)
//   node bench/record.js --phase plain|scope [--rounds 40] [--warmup 10]
//
// 200 series in the mix (50 nodes × 2 transports × 2 statuses); the
// "record-2k" group has 2,000 (500 nodes). "ours" is GatewayMetrics as
// register() builds it: recording into our series store (no SDK call);
// "oursSdk" is the same API on SDK instruments (createGatewayMetrics on a
// provider the user owns). The raw OTel baselines make the SDK calls the
// plugin made before the store (histogram record, plus a counter add for an
// error attempt). Variants of one group run side by side, rotated every
// round, after warm-up rounds.
//
// Phase "plain": GatewayMetrics without an automatic path.
// Phase "scope": the same after enableScope(), i.e. as inside register() with an
// automatic HTTP/exec path on: AsyncLocalStorage is live and every promise of the
// process pays Node 20's promise hooks; the baselines pay them too.
'use strict';
const path = require('node:path');
const { arg, num, meta, writeResult, readResult, runNode, RESULTS } = require('./lib/common');
const { summary, rotate, sig } = require('./lib/stats');

const PHASES = ['plain', 'scope'];

async function orchestrate() {
  const command = 'node bench/record.js';
  const started = Date.now();
  const phases = {};
  for (const phase of PHASES) {
    const code = await runNode(__filename, ['--phase', phase, ...process.argv.slice(2)], { cpu: 1 });
    if (code !== 0) throw new Error(`record phase ${phase} failed (${code})`);
    phases[phase] = readResult(`record-${phase}.tmp`);
    require('node:fs').rmSync(path.join(RESULTS, `record-${phase}.tmp.json`), { force: true });
  }
  const result = { case: 'record', meta: { ...meta(command), pinned: 'core 1' }, seconds: (Date.now() - started) / 1000, phases };
  const file = writeResult('record', result);
  console.log(`record: wrote ${path.relative(process.cwd(), file)}`);
}

// ---------------------------------------------------------------------------

function setup(phase) {
  const { ValueType } = require('@opentelemetry/api');
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  const client = require('prom-client');
  const { createGatewayMetrics, gatewayViews, semconv, GatewayMetrics } = require('../dist');
  const { SeriesStore } = require('../dist/store/store');
  const { RateLimitedWarner } = require('../dist/core/diag');
  const { VERSION } = require('../dist/core/version');
  const { errorTypeOf } = require('../dist/core/error-type');
  const { BenchReader, BUCKETS, durations, resource } = require('./lib/fixtures');
  if (phase === 'scope') require('../dist/core/scope').enableScope();

  const reader = new BenchReader(100_000);
  const provider = new MeterProvider({ resource: resource(), views: gatewayViews(), readers: [reader] });
  const metricsSdk = createGatewayMetrics({ meterProvider: provider, maxNodes: 2000 });
  // What register() builds: the store, read by a cumulative reader.
  const store = new SeriesStore({
    scope: { name: semconv.SCOPE_NAME, version: VERSION },
    readers: [{ temporality: () => 1, aggregation: () => ({ type: 0 }) }],
    views: gatewayViews(),
    warn: new RateLimitedWarner(),
  });
  const metrics = new GatewayMetrics(store, { maxNodes: 2000 });
  const meter = provider.getMeter('bench-raw');
  const raw = meter.createHistogram('raw.request.duration', { unit: 's', valueType: ValueType.DOUBLE, advice: { explicitBucketBoundaries: BUCKETS } });
  const rawErrors = meter.createCounter('raw.request.errors', { valueType: ValueType.INT });

  const registry = new client.Registry();
  const prom = new client.Histogram({ name: 'gateway_request_duration_seconds', help: 'h', labelNames: ['node', 'transport', 'status'], buckets: BUCKETS, registers: [registry] });
  const promErrors = new client.Counter({ name: 'gateway_request_errors_total', help: 'e', labelNames: ['node', 'transport', 'error_type'], registers: [registry] });

  const failure = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
  const okFn = async () => {};
  const failFn = () => Promise.reject(failure);
  const errType = errorTypeOf(failure);
  const errTypeNoError = errorTypeOf(undefined);
  const mix = [];
  for (let n = 0; n < 50; n++) {
    const node = `node-${n}`;
    for (const transport of ['http', 'exec']) {
      for (const status of ['success', 'error']) {
        mix.push({
          node, transport, status, error: status === 'error',
          labels: { node, transport },
          attrs: Object.freeze({ node, transport, status }),
          errAttrs: Object.freeze({ node, transport, 'error.type': errType }),
          errAttrsNoError: Object.freeze({ node, transport, 'error.type': errTypeNoError }),
          promErr: { node, transport, error_type: errType },
          fn: status === 'error' ? failFn : okFn,
        });
      }
    }
  }
  const okMix = mix.filter(s => !s.error);
  const values = durations(4096, 3);
  // 2,000 histogram series: 1,000 nodes × 2 transports, successes (an error
  // would also count in the errors counter, which observe() does not do).
  const mix2k = [];
  for (let n = 0; n < 1000; n++) {
    for (const transport of ['http', 'exec']) mix2k.push({ node: `node-${n}`, transport, status: 'success' });
  }
  const prom2k = new client.Histogram({ name: 'gateway2k_request_duration_seconds', help: 'h', labelNames: ['node', 'transport', 'status'], buckets: BUCKETS, registers: [registry] });
  return { metrics, metricsSdk, raw, rawErrors, prom, promErrors, mix, okMix, values, reader, registry, store, mix2k, prom2k };
}

/** Groups of variants compared side by side; the first of each group is its baseline. */
function groups(s) {
  const { metrics, metricsSdk, raw, rawErrors, prom, promErrors, mix, okMix, values, mix2k, prom2k } = s;
  const M = mix.length;
  const M2 = mix2k.length;
  const sync = (fn) => ({ kind: 'sync', fn });
  const asy = (fn) => ({ kind: 'async', fn });
  return [
    {
      id: 'measure-async',
      title: 'measure() around a no-op async fn (awaited)',
      target: 'measure() ≤ 1.15 × baseline',
      variants: {
        baseline: { label: 'raw OTel: 2 × performance.now() + histogram.record() (+ counter.add on error), same await', ...asy(async i => {
          const x = mix[i % M];
          const t0 = performance.now();
          try {
            await x.fn();
            raw.record((performance.now() - t0) / 1000, x.attrs);
          } catch {
            raw.record((performance.now() - t0) / 1000, x.attrs);
            rawErrors.add(1, x.errAttrs);
          }
        }) },
        ours: { label: 'metrics.measure({ node, transport }, fn)', ...asy(async i => {
          const x = mix[i % M];
          try {
            await metrics.measure(x.labels, x.fn);
          } catch { /* the fn's own rejection */ }
        }) },
        promClient: { label: 'prom-client: startTimer(labels) … end({ status }) (+ counter.inc on error)', ...asy(async i => {
          const x = mix[i % M];
          const end = prom.startTimer({ node: x.node, transport: x.transport });
          try {
            await x.fn();
            end({ status: 'success' });
          } catch {
            end({ status: 'error' });
            promErrors.inc(x.promErr);
          }
        }) },
      },
    },
    {
      id: 'measure-sync',
      title: 'measure() around a sync no-op (success series only)',
      target: 'measure() ≤ 1.15 × baseline',
      variants: {
        baseline: { label: 'raw OTel: 2 × performance.now() + histogram.record()', ...sync(i => {
          const x = okMix[i % okMix.length];
          const t0 = performance.now();
          const r = i + 1;
          raw.record((performance.now() - t0) / 1000, x.attrs);
          return r;
        }) },
        ours: { label: 'metrics.measure({ node, transport }, () => i + 1)', ...sync(i => {
          const x = okMix[i % okMix.length];
          return metrics.measure(x.labels, () => i + 1);
        }) },
        promClient: { label: 'prom-client: startTimer(labels) … end({ status })', ...sync(i => {
          const x = okMix[i % okMix.length];
          const end = prom.startTimer({ node: x.node, transport: x.transport });
          const r = i + 1;
          end({ status: 'success' });
          return r;
        }) },
      },
    },
    {
      id: 'record',
      title: 'record() of a duration measured elsewhere',
      target: 'report',
      variants: {
        baseline: { label: 'raw OTel histogram.record(v, frozenAttrs) (+ counter.add on error)', ...sync(i => {
          const x = mix[i % M];
          raw.record(values[i & 4095], x.attrs);
          if (x.error) rawErrors.add(1, x.errAttrsNoError);
        }) },
        rawLiteral: { label: 'raw OTel histogram.record(v, { node, transport, status }) (new object per call)', ...sync(i => {
          const x = mix[i % M];
          raw.record(values[i & 4095], { node: x.node, transport: x.transport, status: x.status });
          if (x.error) rawErrors.add(1, { node: x.node, transport: x.transport, 'error.type': '_OTHER' });
        }) },
        ours: { label: 'metrics.record({ node, transport, status, durationSeconds }) (register(): our store)', ...sync(i => {
          const x = mix[i % M];
          metrics.record({ node: x.node, transport: x.transport, status: x.status, durationSeconds: values[i & 4095] });
        }) },
        oursSdk: { label: 'the same on SDK instruments (createGatewayMetrics on your provider)', ...sync(i => {
          const x = mix[i % M];
          metricsSdk.record({ node: x.node, transport: x.transport, status: x.status, durationSeconds: values[i & 4095] });
        }) },
        promClient: { label: 'prom-client histogram.observe({ node, transport, status }, v) (+ counter.inc on error)', ...sync(i => {
          const x = mix[i % M];
          prom.observe({ node: x.node, transport: x.transport, status: x.status }, values[i & 4095]);
          if (x.error) promErrors.inc(x.promErr);
        }) },
      },
    },
    {
      id: 'record-2k',
      title: 'record() over 2,000 series (successes: one histogram series per call) vs prom-client observe(), same buckets',
      target: 'ours ≤ 0.5 × prom-client',
      variants: {
        baseline: { label: 'prom-client histogram.observe({ node, transport, status }, v)', ...sync(i => {
          const x = mix2k[i % M2];
          prom2k.observe({ node: x.node, transport: x.transport, status: x.status }, values[i & 4095]);
        }) },
        ours: { label: 'metrics.record({ node, transport, status, durationSeconds }) (register(): our store)', ...sync(i => {
          const x = mix2k[i % M2];
          metrics.record({ node: x.node, transport: x.transport, status: x.status, durationSeconds: values[i & 4095] });
        }) },
        oursSdk: { label: 'the same on SDK instruments', ...sync(i => {
          const x = mix2k[i % M2];
          metricsSdk.record({ node: x.node, transport: x.transport, status: x.status, durationSeconds: values[i & 4095] });
        }) },
      },
    },
    {
      id: 'timer',
      title: 'startTimer() / end()',
      target: 'report',
      variants: {
        baseline: { label: 'raw OTel: 2 × performance.now() + histogram.record() (+ counter.add on error)', ...sync(i => {
          const x = mix[i % M];
          const t0 = performance.now();
          raw.record((performance.now() - t0) / 1000, x.attrs);
          if (x.error) rawErrors.add(1, x.errAttrsNoError);
        }) },
        ours: { label: 'end = metrics.startTimer({ node, transport }); end(error ? { status: "error" } : undefined)', ...sync(i => {
          const x = mix[i % M];
          const end = metrics.startTimer(x.labels);
          end(x.error ? { status: 'error' } : undefined);
        }) },
        promClient: { label: 'prom-client: end = startTimer(labels); end({ status }) (+ counter.inc on error)', ...sync(i => {
          const x = mix[i % M];
          const end = prom.startTimer({ node: x.node, transport: x.transport });
          end({ status: x.status });
          if (x.error) promErrors.inc(x.promErr);
        }) },
      },
    },
  ];
}

async function timeVariant(v, ops, start) {
  if (v.kind === 'sync') {
    const fn = v.fn;
    let sink = 0;
    const t0 = process.hrtime.bigint();
    for (let i = start; i < start + ops; i++) sink += fn(i) ? 1 : 0;
    const ns = Number(process.hrtime.bigint() - t0) / ops;
    if (sink < 0) console.log(sink);
    return ns;
  }
  const fn = v.fn;
  const t0 = process.hrtime.bigint();
  for (let i = start; i < start + ops; i++) await fn(i);
  return Number(process.hrtime.bigint() - t0) / ops;
}

async function phaseMain(phase) {
  const rounds = num('rounds', 40);
  const warmup = num('warmup', 10);
  const s = setup(phase);
  const out = { phase, rounds, warmup, groups: {} };
  const ops = { sync: num('sync-ops', 20_000), async: num('async-ops', 8_000) };
  for (const g of groups(s)) {
    const names = Object.keys(g.variants);
    const samples = Object.fromEntries(names.map(n => [n, []]));
    let start = 0;
    for (let r = 0; r < warmup + rounds; r++) {
      for (const name of rotate(names, r)) {
        const v = g.variants[name];
        const ns = await timeVariant(v, ops[v.kind], start);
        start += ops[v.kind];
        if (r >= warmup) samples[name].push(ns);
      }
    }
    const base = summary(samples.baseline);
    const variants = {};
    for (const name of names) {
      const sm = summary(samples[name]);
      // Ratio per round (same round, adjacent runs), then its median: robust to drifts in machine speed.
      const ratios = samples[name].map((x, i) => x / samples.baseline[i]);
      variants[name] = { label: g.variants[name].label, nsPerOp: sm, ratioToBaseline: summary(ratios), overheadNs: sm.median - base.median };
    }
    if (variants.promClient) {
      variants.ours.ratioToPromClient = summary(samples.ours.map((x, i) => x / samples.promClient[i]));
    }
    out.groups[g.id] = { title: g.title, target: g.target, opsPerSample: ops[Object.values(g.variants)[0].kind], variants };
    const line = names.map(n => `${n} ${sig(variants[n].nsPerOp.median)} ns (×${sig(variants[n].ratioToBaseline.median)})`).join(', ');
    console.log(`record[${phase}] ${g.id}: ${line}`);
  }
  writeResult(`record-${phase}.tmp`, out);
}

const phase = arg('phase');
(phase ? phaseMain(phase) : orchestrate()).catch(err => {
  console.error(err);
  process.exit(1);
});
