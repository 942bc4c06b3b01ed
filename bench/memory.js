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
// three metrics. Heap figures are heapUsed after two full GCs.
//
//   steady  = max over 3 scrape cycles of (heap after every series got a new
//             observation, before the scrape) and (heap after the scrape), minus
//             the heap before any series existed;
//   peak    = the largest heapUsed sampled during a scrape (after collect() and
//             after every chunk written), minus the same base.
// "ours" is the reader register() builds (delta collection into our cumulative
// store, which forgets idle nodes; in-flight from our own producer), so its
// "SDK" share below includes that store.
// For the plugin the steady figure is split into our own bookkeeping (the same
// record() calls on a no-op meter), the serializer's label cache, and the SDK.
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
    sdkBytesPerSeries: o.steadyBytesPerSeries - noop.steadyBytesPerSeries - o.serializerCacheBytesPerSeries,
  };
  out.seconds = (Date.now() - started) / 1000;
  const file = writeResult('memory', out);
  console.log(`memory: wrote ${path.relative(process.cwd(), file)}`);
}

function heap() {
  gc();
  return process.memoryUsage().heapUsed;
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
    let meter;
    if (impl === 'oursNoopMeter') {
      meter = createNoopMeter();
    } else if (impl === 'ours') {
      // What register() builds: a delta reader whose collect() returns the
      // cumulative state of our store, in-flight from our own producer.
      const { CumulativePullReader, nodeStateProducer } = require('../dist/export/delta-readers');
      reader = new CumulativePullReader(
        (scope, a) => scope.name !== semconv.SCOPE_NAME || typeof a.node !== 'string' || metricsRef.isLiveNode(a.node),
        cardinalityLimits(maxNodes).duration,
        [nodeStateProducer(() => metricsRef.nodeState())],
      );
      provider = new MeterProvider({ resource: resource(), views: gatewayViews({ maxNodes }), readers: [reader] });
      meter = provider.getMeter(semconv.SCOPE_NAME, '0.2.0');
    } else {
      reader = new BenchReader(cardinalityLimits(maxNodes).duration);
      provider = new MeterProvider({ resource: resource(), views: gatewayViews({ maxNodes }), readers: [reader] });
      meter = provider.getMeter(semconv.SCOPE_NAME, '0.2.0');
    }
    const { GatewayMetrics } = require('../dist/core/gateway-metrics');
    const metrics = new GatewayMetrics(meter, { maxNodes, nodeIdleTtl: 0 }, impl === 'ours');
    var metricsRef = metrics; // eslint-disable-line no-var
    keep = [provider, reader, metrics];
    recordAll = () => {
      for (const l of labels) metrics.record({ node: l.node, transport: l.transport, status: l.status, durationSeconds: v() });
    };
    if (impl === 'ours') {
      const serializer = new PrometheusSerializer({
        keep: (scope, attributes) => scope.name !== semconv.SCOPE_NAME || typeof attributes.node !== 'string' || metrics.isLiveNode(attributes.node),
      });
      keep.push(serializer);
      scrape = async onSample => {
        const { resourceMetrics } = await reader.collect();
        onSample();
        let bytes = 0;
        for (const chunk of serializer.byteChunks(resourceMetrics)) {
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
    const h = process.memoryUsage().heapUsed;
    if (h > peak) peak = h;
  };
  // First collect without the serializer (so its cache can be told apart).
  // Ours collects twice: the SDK keeps the last interval it reported to a
  // delta reader until the next collect, and the scrape below collects again
  // with nothing new, so both heaps are taken with no interval held.
  let afterCollect;
  if (impl === 'ours') {
    await keep[1].collect();
    await keep[1].collect();
    afterCollect = heap();
  }
  let bytes = await scrape(onSample);
  const afterFirstScrape = heap();
  const steadySamples = [afterFirstScrape];
  for (let r = 0; r < 3; r++) {
    recordAll();
    steadySamples.push(heap());
    bytes = await scrape(onSample);
    steadySamples.push(heap());
  }
  // Ours only: one more collect right after the last scrape, with nothing
  // recorded in between. The SDK keeps the last interval of a delta collector
  // (TemporalMetricProcessor's report history, read back only for the series'
  // start times) until the next collect; this empty collect replaces it with an
  // empty interval, so the drop is what the SDK holds between scrapes on top of
  // our store.
  let afterEmptyCollect;
  if (impl === 'ours') {
    await keep[1].collect();
    afterEmptyCollect = heap();
  }
  const steady = Math.max(...steadySamples) - base;
  const out = {
    impl,
    series: SERIES,
    heap: { base, afterSetup, afterRecord, afterCollect, afterFirstScrape, steadySamples, afterEmptyCollect, peak },
    setupBytes: afterSetup - base,
    firstRecordBytesPerSeries: (afterRecord - afterSetup) / SERIES,
    steadyBytesPerSeries: (steady - (afterSetup - base)) / SERIES,
    steadyBytesPerSeriesInclSetup: steady / SERIES,
    peakBytesPerSeries: peak > 0 ? (peak - afterSetup) / SERIES : undefined,
    scrapeBytes: bytes,
    rssMB: process.memoryUsage().rss / 1e6,
    maxRssMB: process.resourceUsage().maxRSS / 1e3,
  };
  if (impl === 'ours') {
    out.serializerCacheBytesPerSeries = (afterFirstScrape - afterCollect) / SERIES;
    const last = steadySamples[steadySamples.length - 1];
    const beforeLast = steadySamples[steadySamples.length - 2];
    // Between scrapes: the interval the SDK is accumulating now (before the
    // scrape minus after it), and the last one it still holds (see above).
    out.sdkCurrentIntervalBytesPerSeries = (beforeLast - last) / SERIES;
    out.sdkRetainedIntervalBytesPerSeries = (last - afterEmptyCollect) / SERIES;
    out.afterEmptyCollectBytesPerSeries = (afterEmptyCollect - afterSetup) / SERIES;
  }
  console.log(`memory ${impl}: steady ${sig(out.steadyBytesPerSeries)} B/series, peak ${out.peakBytesPerSeries === undefined ? 'n/a' : sig(out.peakBytesPerSeries)} B/series, scrape ${sig(bytes / 1e6)} MB`);
  writeResult(`memory-${impl}.tmp`, out);
  if (keep.length < 0) console.log(keep);
}

const impl = arg('impl');
(impl ? implMain(impl) : orchestrate()).catch(err => {
  console.error(err);
  process.exit(1);
});
