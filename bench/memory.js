#!/usr/bin/env node
// Case 4 — memory per series at 20,000 histogram series.
//
//   node bench/memory.js [--series 20000]
//
// Each implementation runs in its own process (node --expose-gc, core 1).
// Series: N request-duration histogram series = N/4 nodes × http, exec ×
// success, error, recorded through each implementation's public API; for the
// plugin that is metrics.record(), which also keeps what the plugin keeps for
// them anyway: an error counter series per node × transport (error attempts) and
// an in-flight gauge series per node × transport. prom-client is given the same
// three metrics. Memory figures are heapUsed + arrayBuffers after a full GC
// (our store keeps its numbers in Float64Array slabs, outside the JS heap).
//
//   steady  = max over 3 scrape cycles of (heap after every series got a new
//             observation, before the scrape) and (heap after the scrape), minus
//             the heap before any series existed;
//   peak    = the largest heapUsed sampled during a scrape (after collect() and
//             after every chunk written), minus the same base.
// "ours" is what register() builds: GatewayMetrics recording into our series
// store, scraped by the serializer reading the store directly.
// For the plugin the steady figure is split into our own bookkeeping (the same
// record() calls on a no-op meter: series, attribute sets, node entries), the
// serializer's label cache, and the store's rows.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { arg, num, meta, writeResult, readResult, runNode, gc, RESULTS } = require('./lib/common');
const { sig } = require('./lib/stats');

const SERIES = num('series', 20_000);
const IMPLS = ['ours', 'oursNoopMeter', 'stock', 'promClient', 'sdkHistogramOnly'];

async function orchestrate() {
  const command = `node bench/memory.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = Date.now();
  const out = { case: 'memory', meta: { ...meta(command), layout: 'one process per implementation, core 1, --expose-gc' }, series: SERIES, impls: {} };
  for (const impl of IMPLS) {
    const code = await runNode(__filename, ['--impl', impl, ...process.argv.slice(2)], { cpu: 1, nodeArgs: ['--expose-gc'] });
    if (code !== 0) throw new Error(`memory ${impl} failed (${code})`);
    out.impls[impl] = readResult(`memory-${impl}.tmp`);
    fs.rmSync(path.join(RESULTS, `memory-${impl}.tmp.json`), { force: true });
  }
  const o = out.impls.ours;
  const noop = out.impls.oursNoopMeter;
  out.split = {
    ourBookkeepingBytesPerSeries: noop.steadyBytesPerSeries,
    serializerCacheBytesPerSeries: o.serializerCacheBytesPerSeries,
    storeBytesPerSeries: o.steadyBytesPerSeries - noop.steadyBytesPerSeries - o.serializerCacheBytesPerSeries,
  };
  out.seconds = (Date.now() - started) / 1000;
  const file = writeResult('memory', out);
  console.log(`memory: wrote ${path.relative(process.cwd(), file)}`);
}

function heap() {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function implMain(impl) {
  const { createGatewayMetrics, gatewayViews, semconv } = require('../dist');
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  const { createNoopMeter } = require('@opentelemetry/api');
  const { PrometheusSerializer } = require('../dist/export/exposition');
  const { cardinalityLimits } = require('../dist/core/limits');
  const { BenchReader, resource, labelSets, durations, otelSetup, BUCKETS } = require('./lib/fixtures');
  const labels = labelSets(SERIES);
  const maxNodes = Math.ceil(SERIES / 4) + 10;
  const values = durations(4096, 11);
  let k = 0;
  const v = () => values[k++ & 4095];

  let recordAll;
  let scrape; // (onSample) => bytes
  const base = heap();
  let keep = [];

  if (impl === 'ours' || impl === 'stock' || impl === 'oursNoopMeter') {
    let provider;
    let reader;
    let recorders;
    if (impl === 'oursNoopMeter') {
      const { SdkRecorders } = require('../dist/core/recorder');
      recorders = new SdkRecorders(createNoopMeter());
    } else if (impl === 'ours') {
      // What register() builds: the store, and an SDK reader beside it for the SDK's own instruments (none here).
      const { SeriesStore } = require('../dist/store/store');
      const { RateLimitedWarner } = require('../dist/core/diag');
      const { MetricReader } = require('@opentelemetry/sdk-metrics');
      class PullReader extends MetricReader {
        async onForceFlush() {}
        async onShutdown() {}
      }
      reader = new PullReader();
      provider = new MeterProvider({ resource: resource(), readers: [reader] });
      recorders = new SeriesStore({
        scope: { name: semconv.SCOPE_NAME, version: '0.2.0' },
        readers: [{ temporality: () => 1, aggregation: () => ({ type: 0 }) }],
        views: gatewayViews({ maxNodes }),
        warn: new RateLimitedWarner(),
      });
    } else {
      const { SdkRecorders } = require('../dist/core/recorder');
      reader = new BenchReader(cardinalityLimits(maxNodes).duration);
      provider = new MeterProvider({ resource: resource(), views: gatewayViews({ maxNodes }), readers: [reader] });
      recorders = new SdkRecorders(provider.getMeter(semconv.SCOPE_NAME, '0.2.0'));
    }
    const { GatewayMetrics } = require('../dist/core/gateway-metrics');
    const metrics = new GatewayMetrics(recorders, { maxNodes, nodeIdleTtl: 0 });
    keep = [provider, reader, metrics, recorders];
    recordAll = () => {
      for (const l of labels) metrics.record({ node: l.node, transport: l.transport, status: l.status, durationSeconds: v() });
    };
    if (impl === 'ours') {
      const serializer = new PrometheusSerializer();
      keep.push(serializer);
      scrape = async onSample => {
        const { resourceMetrics } = await reader.collect();
        onSample();
        let bytes = 0;
        for (const chunk of serializer.byteChunks(resourceMetrics, recorders)) {
          bytes += chunk.length;
          onSample();
        }
        return bytes;
      };
    } else if (impl === 'stock') {
      scrape = async onSample => {
        const { resourceMetrics } = await reader.collect();
        onSample();
        const text = reader._serializer.serialize(resourceMetrics);
        onSample();
        const buf = Buffer.from(text);
        onSample();
        return buf.length;
      };
    } else {
      scrape = async () => 0;
    }
  } else if (impl === 'promClient') {
    const client = require('prom-client');
    const registry = new client.Registry();
    const h = new client.Histogram({ name: 'gateway_request_duration_seconds', help: 'h', labelNames: ['node', 'transport', 'status'], buckets: BUCKETS, registers: [registry] });
    const c = new client.Counter({ name: 'gateway_request_errors_total', help: 'e', labelNames: ['node', 'transport', 'error_type'], registers: [registry] });
    const g = new client.Gauge({ name: 'gateway_requests_active', help: 'a', labelNames: ['node', 'transport'], registers: [registry] });
    keep = [registry, h, c, g];
    recordAll = () => {
      for (const l of labels) {
        h.observe({ node: l.node, transport: l.transport, status: l.status }, v());
        if (l.status === 'error') c.inc({ node: l.node, transport: l.transport, error_type: '_OTHER' });
        else g.set({ node: l.node, transport: l.transport }, 0);
      }
    };
    scrape = async onSample => {
      const text = await registry.metrics();
      onSample();
      const buf = Buffer.from(text);
      onSample();
      return buf.length;
    };
  } else if (impl === 'sdkHistogramOnly') {
    const o = otelSetup(SERIES);
    keep = [o];
    recordAll = () => {
      for (const attrs of o.labels) o.histogram.record(v(), attrs);
    };
    scrape = async onSample => {
      const { resourceMetrics } = await o.reader.collect();
      onSample();
      return 0;
    };
  }

  const afterSetup = heap();
  recordAll();
  const afterRecord = heap();
  let peak = 0;
  const onSample = () => {
    const m = process.memoryUsage();
    const h = m.heapUsed + m.arrayBuffers;
    if (h > peak) peak = h;
  };
  // Before the first scrape: so the serializer's label cache can be told apart.
  let afterCollect;
  if (impl === 'ours') afterCollect = heap();
  let bytes = await scrape(onSample);
  const afterFirstScrape = heap();
  const steadySamples = [afterFirstScrape];
  for (let r = 0; r < 3; r++) {
    recordAll();
    steadySamples.push(heap());
    bytes = await scrape(onSample);
    steadySamples.push(heap());
  }
  const steady = Math.max(...steadySamples) - base;
  const out = {
    impl,
    series: SERIES,
    heap: { base, afterSetup, afterRecord, afterCollect, afterFirstScrape, steadySamples, peak },
    setupBytes: afterSetup - base,
    firstRecordBytesPerSeries: (afterRecord - afterSetup) / SERIES,
    steadyBytesPerSeries: (steady - (afterSetup - base)) / SERIES,
    steadyBytesPerSeriesInclSetup: steady / SERIES,
    peakBytesPerSeries: peak > 0 ? (peak - afterSetup) / SERIES : undefined,
    scrapeBytes: bytes,
    rssMB: process.memoryUsage().rss / 1e6,
    maxRssMB: process.resourceUsage().maxRSS / 1e3,
  };
  if (impl === 'ours') out.serializerCacheBytesPerSeries = (afterFirstScrape - afterCollect) / SERIES;
  console.log(`memory ${impl}: steady ${sig(out.steadyBytesPerSeries)} B/series, peak ${out.peakBytesPerSeries === undefined ? 'n/a' : sig(out.peakBytesPerSeries)} B/series, scrape ${sig(bytes / 1e6)} MB`);
  writeResult(`memory-${impl}.tmp`, out);
  if (keep.length < 0) console.log(keep);
}

const impl = arg('impl');
(impl ? implMain(impl) : orchestrate()).catch(err => {
  console.error(err);
  process.exit(1);
});
