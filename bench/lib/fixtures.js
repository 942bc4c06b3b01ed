'use strict';
// The same data three ways: our plugin's reader + serializer, the stock
// @opentelemetry/exporter-prometheus, and prom-client.
//
// Series: gateway.request.duration (unit s, the plugin's 13 default buckets),
// labels node × transport × status, recorded with frozen attribute objects the
// way GatewayMetrics records them (one object per series, reused).
const { ValueType } = require('@opentelemetry/api');
const { MeterProvider } = require('@opentelemetry/sdk-metrics');
const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');
const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources');
const pkg = require('../../dist');
const { PrometheusSerializer } = require('../../dist/export/exposition');
const { cardinalityLimits } = require('../../dist/core/limits');
const { VERSION } = require('../../dist/core/version');

const { semconv, gatewayViews, DEFAULT_DURATION_BUCKETS } = pkg;
const BUCKETS = [...DEFAULT_DURATION_BUCKETS];
const TRANSPORTS = ['http', 'exec'];
const STATUSES = ['success', 'error'];

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Durations log-uniform between 1 ms and 20 s, so every bucket gets some. */
function durations(n, seed = 1) {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => Math.exp(Math.log(0.001) + r() * (Math.log(20) - Math.log(0.001))));
}

/** `series` label sets: nodes × 2 transports × 2 statuses (series must be a multiple of 4). */
function labelSets(series) {
  const nodes = Math.ceil(series / 4);
  const out = [];
  for (let n = 0; n < nodes; n++) {
    const node = `node-${String(n).padStart(5, '0')}`;
    for (const transport of TRANSPORTS) {
      for (const status of STATUSES) {
        if (out.length < series) out.push(Object.freeze({ node, transport, status }));
      }
    }
  }
  return out;
}

/** The reader register() builds: the stock exporter's MetricReader, no server, our cardinality bound. */
class BenchReader extends PrometheusExporter {
  constructor(limit, config = {}) {
    super({ preventServerStart: true, ...config });
    this._limit = limit;
  }
  selectCardinalityLimit() {
    return this._limit;
  }
}

function resource() {
  return defaultResource().merge(resourceFromAttributes({ 'service.name': 'bench-gateway' }));
}

/** The plugin's request-duration histogram, as GatewayMetrics creates it. */
function durationHistogram(meter) {
  const info = semconv.INSTRUMENTS[semconv.METRIC_REQUEST_DURATION];
  return meter.createHistogram(semconv.METRIC_REQUEST_DURATION, {
    description: info.description,
    unit: info.unit,
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: BUCKETS },
  });
}

/**
 * An SDK MeterProvider with the plugin's Views and one Prometheus reader,
 * holding `series` histogram series.
 */
function otelSetup(series, { maxNodes = Math.max(1000, Math.ceil(series / 4) + 10) } = {}) {
  const limits = cardinalityLimits(maxNodes);
  const reader = new BenchReader(limits.duration);
  const provider = new MeterProvider({ resource: resource(), views: gatewayViews({ maxNodes }), readers: [reader] });
  const meter = provider.getMeter(semconv.SCOPE_NAME, VERSION);
  const histogram = durationHistogram(meter);
  const labels = labelSets(series);
  const live = new Set(labels.map(l => l.node));
  // Same filter as register()'s serializer: a Map/Set lookup per data point of our scope.
  const serializer = new PrometheusSerializer({
    keep: (scope, attributes) => {
      if (scope.name !== semconv.SCOPE_NAME) return true;
      const node = attributes[semconv.ATTR_NODE];
      return typeof node !== 'string' || live.has(node);
    },
  });
  // The stock exporter's own serializer, configured exactly as its endpoint uses it.
  const stockSerializer = reader._serializer;
  return { provider, reader, meter, histogram, labels, serializer, stockSerializer, live };
}

/**
 * The same histogram and series as otelSetup(), kept the way register() keeps
 * them: in our series store (one row per series, found through its cell), read
 * by the serializer directly; the SDK reader beside it holds nothing of ours
 * (only what the SDK still collects, here nothing: target_info from its resource).
 */
function registerSetup(series) {
  const { MetricReader } = require('@opentelemetry/sdk-metrics');
  const { SeriesStore } = require('../../dist/store/store');
  const { RateLimitedWarner } = require('../../dist/core/diag');
  class PullReader extends MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  const reader = new PullReader();
  const provider = new MeterProvider({ resource: resource(), readers: [reader] });
  const store = new SeriesStore({
    scope: { name: semconv.SCOPE_NAME, version: VERSION },
    readers: [{ temporality: () => 1, aggregation: () => ({ type: 0 }) }],
    views: gatewayViews(),
    warn: new RateLimitedWarner(),
  });
  const info = semconv.INSTRUMENTS[semconv.METRIC_REQUEST_DURATION];
  const recorder = store.histogram(semconv.METRIC_REQUEST_DURATION, { description: info.description, unit: info.unit, valueType: ValueType.DOUBLE, boundaries: BUCKETS });
  const labels = labelSets(series);
  const cells = new Map(labels.map(l => [l, recorder.cell(l, undefined)]));
  // populate() records through histogram.record(value, attrs), as on an SDK instrument.
  const histogram = { record: (value, attrs) => cells.get(attrs).record(value) };
  const serializer = new PrometheusSerializer();
  const live = new Set(labels.map(l => l.node));
  return { provider, reader, store, histogram, labels, serializer, live };
}

function promSetup(series) {
  const client = require('prom-client');
  const registry = new client.Registry();
  const histogram = new client.Histogram({
    name: 'gateway_request_duration_seconds',
    help: semconv.INSTRUMENTS[semconv.METRIC_REQUEST_DURATION].description,
    labelNames: ['node', 'transport', 'status'],
    buckets: BUCKETS,
    registers: [registry],
  });
  return { client, registry, histogram, labels: labelSets(series) };
}

/** Record `perSeries` observations into every series of each setup (same values everywhere). */
function populate({ otel = [], prom = [] }, series, perSeries = 3, seed = 7) {
  const values = durations(series * perSeries, seed);
  for (const o of otel) {
    let k = 0;
    for (let p = 0; p < perSeries; p++) for (const attrs of o.labels) o.histogram.record(values[k++], attrs);
  }
  for (const p of prom) {
    let k = 0;
    for (let q = 0; q < perSeries; q++) for (const l of p.labels) p.histogram.observe(l, values[k++]);
  }
}

module.exports = { BUCKETS, TRANSPORTS, STATUSES, rng, durations, labelSets, otelSetup, registerSetup, promSetup, populate, BenchReader, resource };
