#!/usr/bin/env node
// Case 6 — the exposition formats and exemplars.
//
//   node bench/formats.js [--sizes 2000,20000] [--rounds 7] [--phase serialize|record]
//
// Part "serialize" (one process pinned to core 1): the store as register()
// builds it with `histogram: 'native'` and exemplars on, `n` duration series
// (20 observations each, one in ten series with an exemplar), serialized by
// our serializer in the text format 0.0.4, OpenMetrics 1.0.0 and protobuf
// (native histograms with their classic buckets, and without), and — the
// measured reason for writing protobuf ourselves — the same protobuf
// MetricFamily built as message objects and encoded by protobufjs (reflection
// from the upstream metrics.proto, as `protobufjs` would be used). Times are
// the event-loop time of the whole serialization (one synchronous pass here;
// the endpoint slices it every 5 ms and gzips on the thread pool), a full GC
// before each variant, variants rotated every round. Bytes: raw and gzip
// level 1 (the endpoint's level).
//
// Part "record" (one process pinned to core 1): ns per `record()` on 200
// series (the record.js mix), exemplars off (the store keeps none: the span is
// never read) against exemplars on with no tracing at all (no context
// manager: what an app without OpenTelemetry tracing pays), with a NodeSDK's
// AsyncLocalStorage context manager but no active span, and inside an active
// sampled span (the exemplar is written).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { gzipSync } = require('node:zlib');
const { arg, num, meta, writeResult, readResult, runNode, gc, RESULTS } = require('./lib/common');
const { summary, rotate, sig } = require('./lib/stats');

const SIZES = (arg('sizes', process.env.BENCH_SIZES) || '2000,20000').split(',').map(Number);
const ROUNDS = num('rounds', 7);

async function orchestrate() {
  const command = `node bench/formats.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = Date.now();
  const out = { case: 'formats', meta: { ...meta(command), layout: 'one process per part, core 1', load: os.loadavg() } };
  for (const phase of ['serialize', 'record']) {
    const code = await runNode(__filename, ['--phase', phase, ...process.argv.slice(2)], { cpu: 1, nodeArgs: ['--expose-gc'] });
    if (code !== 0) throw new Error(`formats phase ${phase} failed (${code})`);
    out[phase] = readResult(`formats-${phase}.tmp`);
    fs.rmSync(path.join(RESULTS, `formats-${phase}.tmp.json`), { force: true });
  }
  out.seconds = (Date.now() - started) / 1000;
  const file = writeResult('formats', out);
  console.log(`formats: wrote ${path.relative(process.cwd(), file)}`);
  report(out);
}

function report(out) {
  for (const [n, r] of Object.entries(out.serialize.sizes)) {
    console.log(`\n${n} series (median of ${r.rounds} rounds; ratio: median of per-round ratios to text)`);
    for (const [name, v] of Object.entries(r.variants)) {
      console.log(`  ${name.padEnd(22)} ${sig(v.ms.median).padStart(7)} ms  ×${sig(v.ratio.median)} (${sig(v.ratio.min)}–${sig(v.ratio.max)})  ${sig(v.bytes / 1e6)} MB, gzip ${sig(v.gzipBytes / 1e3)} kB`);
    }
  }
  console.log(`\nrecord() on 200 series, ns per call (median of ${out.record.rounds} rounds; ratio to exemplars off)`);
  for (const [name, v] of Object.entries(out.record.variants)) {
    console.log(`  ${name.padEnd(34)} ${sig(v.ns.median).padStart(6)} ns  ×${sig(v.ratio.median)} (${sig(v.ratio.min)}–${sig(v.ratio.max)})`);
  }
}

// ---- serialize ------------------------------------------------------------------

const TRACE = Object.freeze({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });

async function nativeSetup(n) {
  const { ValueType } = require('@opentelemetry/api');
  const { InstrumentType, MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
  const { SeriesStore } = require('../dist/store/store');
  const { RateLimitedWarner } = require('../dist/core/diag');
  const { PrometheusSerializer } = require('../dist/export/exposition');
  const { gatewayViews, semconv } = require('../dist');
  const { VERSION } = require('../dist/core/version');
  const { BUCKETS, durations, labelSets, resource } = require('./lib/fixtures');
  class PullReader extends MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  const reader = new PullReader();
  new MeterProvider({ resource: resource(), readers: [reader] });
  // What register() builds with histogram: 'native': the Prometheus reader asks for exponential histograms.
  const store = new SeriesStore({
    scope: { name: semconv.SCOPE_NAME, version: VERSION },
    readers: [{ temporality: () => 1, aggregation: t => (t === InstrumentType.HISTOGRAM ? { type: 5, options: { recordMinMax: true } } : { type: 0 }) }],
    views: gatewayViews({ durationViews: false }),
    warn: new RateLimitedWarner(),
    exemplars: true,
  });
  const info = semconv.INSTRUMENTS[semconv.METRIC_REQUEST_DURATION];
  const recorder = store.histogram(semconv.METRIC_REQUEST_DURATION, { description: info.description, unit: info.unit, valueType: ValueType.DOUBLE, boundaries: BUCKETS });
  const labels = labelSets(n);
  const values = durations(n * 20, 11);
  let k = 0;
  labels.forEach((l, i) => {
    const cell = recorder.cell(l, undefined);
    for (let j = 0; j < 20; j++) cell.record(values[k++], j === 0 && i % 10 === 0 ? TRACE : undefined);
  });
  const rm = (await reader.collect()).resourceMetrics;
  return {
    store,
    rm,
    text: new PrometheusSerializer({ nativeHistograms: true }),
    classic: new PrometheusSerializer({ nativeHistograms: true, classicBuckets: true }),
    nativeOnly: new PrometheusSerializer({ nativeHistograms: true, classicBuckets: false }),
  };
}

/** protobufjs by reflection from the upstream metrics.proto: one message object per series, label, bucket, span and exemplar. */
function protobufjsEncoder() {
  const protobuf = require('protobufjs');
  const toolsJson = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'otel-gateway-metrics', 'e2e-tools.json');
  const proto = JSON.parse(fs.readFileSync(toolsJson, 'utf8')).metricsProto;
  if (!proto || !fs.existsSync(proto)) throw new Error('metrics.proto missing: run npm run e2e:setup');
  const MF = protobuf.loadSync(proto).lookupType('io.prometheus.client.MetricFamily');
  const { HistogramInstrument } = require('../dist/store/histogram');
  const { labelPairs } = require('../dist/export/exposition');
  const { nativeBuckets, nativeSchema, NATIVE_ZERO_THRESHOLD } = require('../dist/export/native');
  const exemplar = (ex, i) => ({
    label: [{ name: 'trace_id', value: ex.traceIds[i] }, { name: 'span_id', value: ex.spanIds[i] }],
    value: ex.values[i],
    timestamp: { seconds: Math.floor(ex.times[i] / 1000), nanos: (ex.times[i] % 1000) * 1e6 },
  });
  const spansOf = flat => {
    const out = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ offset: flat[i], length: flat[i + 1] });
    return out;
  };
  return (store) => {
    const chunks = [];
    const scope = [{ name: 'otel_scope_name', value: store.scope.name }, { name: 'otel_scope_version', value: store.scope.version }];
    for (const h of store.instruments) {
      if (!(h instanceof HistogramInstrument)) continue;
      const metric = [];
      const nb = h.boundaries.length + 1;
      for (let row = 1; row < h.rows.end; row++) {
        const cell = h.rows.cells[row];
        if (cell === undefined) continue;
        const d = h.rows.data;
        const o = row * h.rows.stride;
        const ex = h.exemplars?.[row];
        const bucket = [];
        let cumulative = 0;
        for (let i = 0; i < nb - 1; i++) {
          cumulative += d[o + i];
          bucket.push({ cumulativeCount: cumulative, upperBound: h.boundaries[i], exemplar: ex && ex.times[i] > 0 ? exemplar(ex, i) : undefined });
        }
        const histogram = { sampleCount: d[o + h.COUNT], sampleSum: d[o + h.SUM], bucket };
        const v = h.exponential?.[row]?.value();
        const s = v && nativeSchema(v.scale);
        if (s) {
          const spans = [];
          const deltas = [];
          nativeBuckets(v.positive.offset, v.positive.bucketCounts, s.scaleDown, spans, deltas);
          Object.assign(histogram, { schema: s.schema, zeroThreshold: NATIVE_ZERO_THRESHOLD, zeroCount: v.zeroCount, positiveSpan: spansOf(spans), positiveDelta: deltas });
          if (ex) histogram.exemplars = bucket.filter(b => b.exemplar).map(b => b.exemplar);
        }
        metric.push({ label: [...labelPairs(cell.attributes).map(([name, value]) => ({ name, value })), ...scope], histogram });
      }
      chunks.push(MF.encodeDelimited(MF.fromObject({ name: 'gateway_request_duration_seconds', help: h.stream.description, type: 4, metric })).finish());
    }
    return chunks;
  };
}

async function serializePhase() {
  const result = { sizes: {} };
  const pbjs = protobufjsEncoder();
  for (const n of SIZES) {
    const s = await nativeSetup(n);
    const count = it => {
      let bytes = 0;
      const parts = [];
      for (const b of it) {
        bytes += b.length;
        parts.push(b);
      }
      return { bytes, parts };
    };
    const variants = {
      'text 0.0.4': () => count(s.text.byteChunks(s.rm, s.store, 'text')),
      'OpenMetrics 1.0.0': () => count(s.text.byteChunks(s.rm, s.store, 'openmetrics')),
      'protobuf native+classic': () => count(s.classic.protobufChunks(s.rm, s.store)),
      'protobuf native only': () => count(s.nativeOnly.protobufChunks(s.rm, s.store)),
      'protobufjs (reflection)': () => count(pbjs(s.store)),
    };
    if (s.store.instruments.every(i => i.exponential === undefined)) throw new Error('no exponential cells: the store serves no native histograms');
    const names = Object.keys(variants);
    const ms = Object.fromEntries(names.map(k => [k, []]));
    const bytes = {};
    const gzipBytes = {};
    for (const name of names) {
      const { bytes: b, parts } = variants[name]();
      bytes[name] = b;
      gzipBytes[name] = gzipSync(Buffer.concat(parts), { level: 1 }).length;
    }
    for (let round = 0; round < ROUNDS + 1; round++) {
      for (const name of rotate(names, round)) {
        gc();
        const t0 = performance.now();
        variants[name]();
        const t = performance.now() - t0;
        if (round > 0) ms[name].push(t); // round 0 warms up
      }
    }
    const out = {};
    for (const name of names) {
      const ratios = ms[name].map((t, i) => t / ms['text 0.0.4'][i]);
      out[name] = { ms: summary(ms[name]), ratio: summary(ratios), bytes: bytes[name], gzipBytes: gzipBytes[name] };
    }
    result.sizes[n] = { rounds: ROUNDS, variants: out };
    console.error(`formats serialize: ${n} series done`);
  }
  writeResult('formats-serialize.tmp', result);
}

// ---- record ---------------------------------------------------------------------

function recordPhase() {
  const { context, trace } = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const { BasicTracerProvider } = (() => {
    const { TracerProvider } = require('@opentelemetry/sdk-trace');
    return { BasicTracerProvider: TracerProvider };
  })();
  const { GatewayMetrics, gatewayViews, semconv } = require('../dist');
  const { SeriesStore } = require('../dist/store/store');
  const { RateLimitedWarner } = require('../dist/core/diag');
  const { VERSION } = require('../dist/core/version');
  const make = exemplars => new GatewayMetrics(new SeriesStore({
    scope: { name: semconv.SCOPE_NAME, version: VERSION },
    readers: [{ temporality: () => 1, aggregation: () => ({ type: 0 }) }],
    views: gatewayViews(),
    warn: new RateLimitedWarner(),
    exemplars,
  }), { maxNodes: 2000 });
  const off = make(false);
  const on = make(true);
  const mix = [];
  for (let n = 0; n < 50; n++) {
    for (const transport of ['http', 'exec']) for (const status of ['success', 'error']) mix.push({ node: `node-${n}`, transport, status, durationSeconds: 0.001 * (1 + n), errorType: status === 'error' ? 'timeout' : undefined });
  }
  const N = 200_000;
  const loop = m => {
    for (let i = 0; i < N; i++) m.record(mix[i % 200]);
  };
  const manager = new AsyncLocalStorageContextManager();
  const tracer = new BasicTracerProvider().getTracer('bench');
  const variants = {
    'exemplars off': () => loop(off),
    'on, no tracing (no context manager)': () => loop(on),
    'on, tracing, no active span': () => {
      context.setGlobalContextManager(manager.enable());
      try {
        loop(on);
      } finally {
        context.disable();
      }
    },
    'on, span active (exemplar kept)': () => {
      context.setGlobalContextManager(manager.enable());
      try {
        const span = tracer.startSpan('bench');
        context.with(trace.setSpan(context.active(), span), () => loop(on));
        span.end();
      } finally {
        context.disable();
      }
    },
  };
  const names = Object.keys(variants);
  const ns = Object.fromEntries(names.map(k => [k, []]));
  const rounds = ROUNDS * 3;
  for (let round = 0; round < rounds + 2; round++) {
    for (const name of rotate(names, round)) {
      gc();
      const t0 = performance.now();
      variants[name]();
      const t = ((performance.now() - t0) * 1e6) / N;
      if (round >= 2) ns[name].push(t);
    }
  }
  const out = {};
  for (const name of names) out[name] = { ns: summary(ns[name]), ratio: summary(ns[name].map((t, i) => t / ns['exemplars off'][i])) };
  writeResult('formats-record.tmp', { rounds, callsPerRound: N, variants: out });
}

const phase = arg('phase');
if (phase === 'serialize') serializePhase().catch(err => { console.error(err); process.exit(1); });
else if (phase === 'record') recordPhase();
else orchestrate().catch(err => { console.error(err); process.exit(1); });
