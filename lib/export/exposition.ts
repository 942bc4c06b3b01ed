/**
 * Prometheus text exposition (format 0.0.4) of a `ResourceMetrics` collected
 * from the SDK (through @opentelemetry/exporter-prometheus's MetricReader).
 *
 * Why our own serializer instead of the stock one:
 * - naming: the stock one adds no unit suffixes, so its names differ from the
 *   Collector's (`gateway_request_duration` vs `gateway_request_duration_seconds`);
 * - speed: the stock one rebuilds and escapes every label string on every
 *   scrape: 174–238 ms of event loop per scrape at 2,000 histogram series on
 *   our 2-core dev machine. A series' labels never change, only its numbers,
 *   so we escape each attribute set once (cached by the identity of the SDK's
 *   attribute object, which is stable across collections) and format only
 *   numbers per scrape. See BENCHMARKS.md for the measured result;
 * - stalls: output comes in chunks, so the endpoint can yield to the event
 *   loop between them instead of blocking for a whole large scrape.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { InstrumentationScope } from '@opentelemetry/core';
import { logger } from '../core/diag';
import {
  attributeValueString,
  escapeHelp,
  escapeLabelValue,
  formatGoFloat,
  formatValue,
  prometheusLabelName,
  prometheusMetricName,
  type PromType,
} from './naming';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface SerializerOptions {
  /** Add `otel_scope_name` / `otel_scope_version` labels, as the Collector does. @default true */
  scopeLabels?: boolean;
  /** Emit `target_info` with the resource attributes. @default true */
  targetInfo?: boolean;
  /** Drop a data point when this returns false (e.g. a forgotten node). */
  keep?: (scope: InstrumentationScope, attributes: Attributes) => boolean;
  /** Data points per chunk yielded by `chunks()`. @default 200 */
  chunkPoints?: number;
}

interface Family {
  name: string;
  type: PromType;
  header: string;
  metrics: { metric: MetricData; scopeLabels: string; scope: InstrumentationScope }[];
}

function promTypeOf(metric: MetricData): PromType | undefined {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      // Exponential histograms have no text exposition; the Prometheus reader
      // always gets explicit buckets: the stock exporter would drop these too.
      return undefined;
  }
}

export class PrometheusSerializer {
  private readonly _scopeLabels: boolean;
  private readonly _targetInfo: boolean;
  private readonly _keep: SerializerOptions['keep'];
  private readonly _chunkPoints: number;
  /** attribute object → escaped `k="v",…` (no braces). */
  private _labels = new WeakMap<Attributes, string>();
  /** bucket boundaries array → formatted `le` values, `+Inf` last. */
  private _les = new WeakMap<readonly number[], string[]>();
  /** metric descriptor → [family name, type]. */
  private _names = new WeakMap<object, [string, PromType] | null>();
  private _scopes = new WeakMap<InstrumentationScope, string>();
  private _warned = new Set<string>();

  constructor(options: SerializerOptions = {}) {
    this._scopeLabels = options.scopeLabels ?? true;
    this._targetInfo = options.targetInfo ?? true;
    this._keep = options.keep;
    this._chunkPoints = Math.max(1, options.chunkPoints ?? 200);
  }

  /** The whole exposition as one string (tests, benchmarks, small outputs). */
  serialize(rm: ResourceMetrics): string {
    let out = '';
    for (const chunk of this.chunks(rm)) out += chunk;
    return out;
  }

  /**
   * The exposition as UTF-8 bytes, chunk by chunk. Most of the time here is V8
   * flattening each chunk's concatenated string, not the encoding itself: a
   * latin1 fast path for ASCII-only chunks measured no gain (2,000 series:
   * 17–21 ms either way, 5 ms of it building the strings), so there is none.
   */
  *byteChunks(rm: ResourceMetrics): Generator<Buffer, void, undefined> {
    for (const chunk of this.chunks(rm)) yield Buffer.from(chunk, 'utf8');
  }

  /** The exposition in pieces of about `chunkPoints` data points each. */
  *chunks(rm: ResourceMetrics): Generator<string, void, undefined> {
    let out = this._targetInfo ? this._targetInfoText(rm.resource.attributes) : '';
    let points = 0;
    for (const family of this._families(rm)) {
      out += family.header;
      for (const { metric, scopeLabels, scope } of family.metrics) {
        const keep = this._keep;
        if (metric.dataPointType === DataPointType.HISTOGRAM) {
          for (const dp of metric.dataPoints as DataPoint<Histogram>[]) {
            if (keep !== undefined && !keep(scope, dp.attributes)) continue;
            out += this._histogram(family.name, this._labelsOf(dp.attributes), scopeLabels, dp.value);
            if (++points >= this._chunkPoints) {
              yield out;
              out = '';
              points = 0;
            }
          }
        } else {
          for (const dp of metric.dataPoints as DataPoint<number>[]) {
            if (keep !== undefined && !keep(scope, dp.attributes)) continue;
            const labels = join(this._labelsOf(dp.attributes), scopeLabels);
            out += `${family.name}${labels === '' ? '' : `{${labels}}`} ${formatValue(dp.value)}\n`;
            if (++points >= this._chunkPoints) {
              yield out;
              out = '';
              points = 0;
            }
          }
        }
      }
    }
    if (out !== '') yield out;
  }

  private _histogram(name: string, labels: string, scopeLabels: string, h: Histogram): string {
    const all = join(labels, scopeLabels);
    const les = this._lesOf(h.buckets.boundaries);
    const counts = h.buckets.counts;
    const open = `${name}_bucket{${all === '' ? '' : `${all},`}le="`;
    let out = '';
    let cumulative = 0;
    for (let i = 0; i < counts.length; i++) {
      cumulative += counts[i]!;
      out += `${open}${les[i]}"} ${cumulative}\n`;
    }
    const braces = all === '' ? '' : `{${all}}`;
    out += `${name}_sum${braces} ${formatValue(h.sum ?? 0)}\n${name}_count${braces} ${h.count}\n`;
    return out;
  }

  /** Group metrics by Prometheus family name (the text format wants each family in one block). */
  private _families(rm: ResourceMetrics): Family[] {
    const families = new Map<string, Family>();
    for (const sm of rm.scopeMetrics) {
      const scopeLabels = this._scopeLabelsOf(sm.scope);
      for (const metric of sm.metrics) {
        if (metric.dataPoints.length === 0) continue;
        const nt = this._nameOf(metric);
        if (nt === null) continue;
        const [name, type] = nt;
        let family = families.get(name);
        if (family === undefined) {
          const help = escapeHelp(metric.descriptor.description || metric.descriptor.name);
          family = { name, type, header: `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`, metrics: [] };
          families.set(name, family);
        } else if (family.type !== type) {
          this._warnOnce(`conflict:${name}`, `metric ${name} from scope ${sm.scope.name} is a ${type}, but an earlier ${name} is a ${family.type}; dropped`);
          continue;
        }
        family.metrics.push({ metric, scopeLabels, scope: sm.scope });
      }
    }
    return [...families.values()];
  }

  private _nameOf(metric: MetricData): [string, PromType] | null {
    const cached = this._names.get(metric.descriptor);
    if (cached !== undefined) return cached;
    const type = promTypeOf(metric);
    let result: [string, PromType] | null = null;
    if (type === undefined) {
      this._warnOnce(`type:${metric.descriptor.name}`, `metric ${metric.descriptor.name} has no Prometheus text form (exponential histogram); dropped from /metrics`);
    } else {
      const name = prometheusMetricName(metric.descriptor.name, metric.descriptor.unit, type,
        metric.dataPointType === DataPointType.SUM && metric.isMonotonic);
      if (name === '') this._warnOnce(`name:${metric.descriptor.name}`, `metric ${JSON.stringify(metric.descriptor.name)} has no valid Prometheus name; dropped`);
      else result = [name, type];
    }
    this._names.set(metric.descriptor, result);
    return result;
  }

  private _scopeLabelsOf(scope: InstrumentationScope): string {
    if (!this._scopeLabels) return '';
    let s = this._scopes.get(scope);
    if (s === undefined) {
      s = `otel_scope_name="${escapeLabelValue(scope.name)}"`;
      if (scope.version) s += `,otel_scope_version="${escapeLabelValue(scope.version)}"`;
      if (scope.schemaUrl) s += `,otel_scope_schema_url="${escapeLabelValue(scope.schemaUrl)}"`;
      this._scopes.set(scope, s);
    }
    return s;
  }

  private _labelsOf(attributes: Attributes): string {
    let s = this._labels.get(attributes);
    if (s === undefined) {
      s = formatLabels(attributes);
      this._labels.set(attributes, s);
    }
    return s;
  }

  private _lesOf(boundaries: readonly number[]): string[] {
    let les = this._les.get(boundaries);
    if (les === undefined) {
      les = boundaries.map(formatGoFloat);
      les.push('+Inf');
      this._les.set(boundaries, les);
    }
    return les;
  }

  private _targetInfoText(attributes: Attributes): string {
    const labels = formatLabels(attributes);
    return `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info${labels === '' ? '' : `{${labels}}`} 1\n`;
  }

  private _warnOnce(key: string, message: string): void {
    if (this._warned.has(key)) return;
    this._warned.add(key);
    logger.warn(message);
  }
}

function join(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}

/**
 * `k="v",…` for an attribute set. Keys that sanitize to the same label name
 * have their values joined with `;` in key order (OTel compatibility spec).
 */
export function formatLabels(attributes: Attributes): string {
  const keys = Object.keys(attributes);
  if (keys.length === 0) return '';
  const byLabel = new Map<string, string[]>();
  for (const key of keys.sort()) {
    const value = attributes[key];
    if (value === undefined || value === null) continue;
    const label = prometheusLabelName(key);
    if (label === '') continue;
    const values = byLabel.get(label);
    if (values === undefined) byLabel.set(label, [attributeValueString(value)]);
    else values.push(attributeValueString(value));
  }
  let out = '';
  for (const [label, values] of byLabel) {
    out += `${out === '' ? '' : ','}${label}="${escapeLabelValue(values.join(';'))}"`;
  }
  return out;
}
