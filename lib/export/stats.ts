/**
 * The JSON stats view: computed from the same cumulative data the Prometheus
 * reader serves, plus the in-flight and up state the gateway metrics keep.
 * Quantiles use Prometheus's histogram_quantile interpolation over the
 * cumulative buckets since start (Prometheus itself applies it to rates).
 */
import {
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { NodeEntry } from '../core/series-registry';
import type { McpSeries } from '../protocols/mcp';
import {
  ATTR_ERROR_TYPE,
  ATTR_FROM_TRANSPORT,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_MCP_METHOD_NAME,
  METRIC_MCP_CLIENT_OPERATION_DURATION,
  ATTR_NODE,
  ATTR_STATUS,
  ATTR_TRANSPORT,
  METRIC_FALLBACKS,
  METRIC_REQUEST_DURATION,
  SCOPE_NAME,
  STATUS_ERROR,
} from '../core/semconv';
import { withPrefix } from '../core/semconv';

export interface LatencyQuantiles {
  /** Seconds; null when there are no observations. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** One tool of a node × transport, from `mcp.client.operation.duration` (tools/call only). */
export interface ToolStats {
  tool: string;
  requests: number;
  errors: number;
  /** errors / requests; 0 when there were no requests. */
  errorRate: number;
  inFlight: number;
  latency: LatencyQuantiles;
}

export interface SeriesStats {
  node: string;
  transport: string;
  requests: number;
  errors: number;
  /** errors / requests; 0 when there were no requests. */
  errorRate: number;
  inFlight: number;
  /** gateway_node_up for the node; null when never reported. */
  up: boolean | null;
  /** Fallbacks away from this node's transport (gateway_fallbacks_total{from_transport}). */
  fallbacks: number;
  latency: LatencyQuantiles;
  /** Series that carried MCP tools/call requests: per tool, sorted by name. */
  tools?: ToolStats[];
}

export interface GatewayStats {
  /** Seconds since register(). */
  uptimeSeconds: number;
  /** ISO 8601 time of this snapshot. */
  generatedAt: string;
  totals: {
    requests: number;
    errors: number;
    errorRate: number;
    inFlight: number;
    fallbacks: number;
    nodes: number;
    nodesUp: number;
    nodesDown: number;
  };
  /** One entry per node × transport, sorted by node then transport. */
  series: SeriesStats[];
  /** Under node:cluster or PM2: the workers whose sums these are (absent in a single process). */
  cluster?: ClusterStats;
}

/** One live worker of a multi-process gateway. */
export interface WorkerStats {
  /** PM2's pm_id, or node:cluster's worker id. */
  worker: string;
  pid: number;
  /** Writing its state (false: alive but silent for a few seconds, stopped or blocked; its last state is in the sums). */
  responding: boolean;
  rssBytes: number | null;
  eventLoopDelayP99Seconds: number | null;
}

/** The workers a multi-process gateway's sums cover. */
export interface ClusterStats {
  /** Live workers. */
  workers: number;
  /** Live workers writing their state: the sums are current for these. */
  responding: number;
  /** Workers (ids) alive but silent for a few seconds: the sums hold their last state. */
  unresponsive: string[];
  /** Workers that ended since the primary started; their counts stay in the sums. */
  exited: number;
  perWorker: WorkerStats[];
}

interface Bucketed {
  boundaries: readonly number[];
  counts: number[];
  count: number;
  errors: number;
}

/**
 * Prometheus's bucketQuantile (promql/quantile.go): linear interpolation inside
 * the bucket holding the rank; the lowest bucket starts at 0; a rank in the
 * +Inf bucket gives the highest finite bound. `cumulative` holds one count per
 * finite bound, then the +Inf count.
 */
export function bucketQuantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  if (bounds.length + 1 !== cumulative.length || cumulative.length < 2) return NaN;
  const observations = cumulative[cumulative.length - 1]!;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let b = 0;
  while (b < cumulative.length - 1 && cumulative[b]! < rank) b++;
  if (b === cumulative.length - 1) return bounds[bounds.length - 1]!;
  if (b === 0 && bounds[0]! <= 0) return bounds[0]!;
  let start = 0;
  const end = bounds[b]!;
  let count = cumulative[b]!;
  if (b > 0) {
    start = bounds[b - 1]!;
    count -= cumulative[b - 1]!;
    rank -= cumulative[b - 1]!;
  }
  return start + (end - start) * (rank / count);
}

function quantiles(b: Bucketed): LatencyQuantiles {
  const cumulative: number[] = [];
  let acc = 0;
  for (const c of b.counts) cumulative.push((acc += c));
  const at = (q: number) => {
    const v = bucketQuantile(q, b.boundaries, cumulative);
    return Number.isFinite(v) ? v : null;
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

function findMetric(rm: Pick<ResourceMetrics, 'scopeMetrics'>, name: string): MetricData | undefined {
  for (const sm of rm.scopeMetrics) {
    if (sm.scope.name !== SCOPE_NAME) continue;
    for (const m of sm.metrics) if (m.descriptor.name === name) return m;
  }
  return undefined;
}

/** (node, transport) → tools, from the MCP metric's tools/call points and the live in-flight counts. */
function toolStats(metrics: StatsNodes, rm: Pick<ResourceMetrics, 'scopeMetrics'>): Map<string, Map<string, Bucketed & { inFlight: number }>> {
  const out = new Map<string, Map<string, Bucketed & { inFlight: number }>>();
  const perSeries = (node: string, transport: string) => {
    const key = `${node}\u0000${transport}`;
    let m = out.get(key);
    if (m === undefined) out.set(key, (m = new Map()));
    return m;
  };
  const mcp = findMetric(rm, METRIC_MCP_CLIENT_OPERATION_DURATION);
  if (mcp !== undefined && mcp.dataPointType === DataPointType.HISTOGRAM) {
    for (const dp of mcp.dataPoints as DataPoint<Histogram>[]) {
      const a = dp.attributes;
      const node = a[ATTR_NODE];
      const transport = a[ATTR_TRANSPORT];
      const tool = a[ATTR_GEN_AI_TOOL_NAME];
      if (a[ATTR_MCP_METHOD_NAME] !== 'tools/call' || typeof node !== 'string' || typeof transport !== 'string' || typeof tool !== 'string') continue;
      if (!metrics.isLiveNode(node)) continue;
      const m = perSeries(node, transport);
      let b = m.get(tool);
      if (b === undefined) {
        b = { boundaries: dp.value.buckets.boundaries, counts: dp.value.buckets.counts.map(() => 0), count: 0, errors: 0, inFlight: 0 };
        m.set(tool, b);
      }
      dp.value.buckets.counts.forEach((c, i) => (b!.counts[i] = (b!.counts[i] ?? 0) + c));
      b.count += dp.value.count;
      if (a[ATTR_ERROR_TYPE] !== undefined) b.errors += dp.value.count;
    }
  }
  // In flight now: tools with calls open, also before their first finished.
  const entries = [...metrics.nodeEntries()];
  if (metrics.otherEntry !== undefined) entries.push(metrics.otherEntry);
  for (const entry of entries) {
    for (const s of entry.transports) {
      const transport = s.transport;
      const mcp = s.mcp as McpSeries | undefined;
      if (mcp === undefined) continue;
      for (const op of new Set(mcp.ops.values())) {
        if (op.method !== 'tools/call' || op.name === undefined || op.inFlight === 0) continue;
        const m = perSeries(entry.name, transport);
        let b = m.get(op.name);
        if (b === undefined) m.set(op.name, (b = { boundaries: [], counts: [0], count: 0, errors: 0, inFlight: 0 }));
        b.inFlight += op.inFlight;
      }
    }
  }
  return out;
}

function withTools(tools: Map<string, Bucketed & { inFlight: number }> | undefined): { tools?: ToolStats[] } {
  if (tools === undefined || tools.size === 0) return {};
  const list: ToolStats[] = [];
  for (const [tool, b] of tools) {
    list.push({
      tool,
      requests: b.count,
      errors: b.errors,
      errorRate: b.count === 0 ? 0 : b.errors / b.count,
      inFlight: b.inFlight,
      latency: b.count === 0 ? { p50: null, p95: null, p99: null } : quantiles(b),
    });
  }
  list.sort((a, b) => (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : 0));
  return { tools: list };
}

/** The node state the stats view reads: a GatewayMetrics, or a cluster's per-host view of its workers'. */
export interface StatsNodes {
  readonly prefix: string;
  isLiveNode(node: string): boolean;
  nodeEntries(): IterableIterator<NodeEntry>;
  readonly otherEntry: NodeEntry | undefined;
}

/** Our series, cumulative: the store's collection for the Prometheus reader. */
export type CollectCumulative = () => Promise<Pick<ResourceMetrics, 'scopeMetrics'>>;

export async function computeStats(metrics: StatsNodes, collect: CollectCumulative | undefined, startedAt: number): Promise<GatewayStats> {
  if (collect === undefined) throw new Error('the stats view needs the prometheus exporter (OTEL_METRICS_EXPORTER=prometheus)');
  const resourceMetrics = await collect();
  const byKey = new Map<string, Bucketed & { node: string; transport: string }>();
  const duration = findMetric(resourceMetrics, withPrefix(metrics.prefix, METRIC_REQUEST_DURATION));
  if (duration !== undefined && duration.dataPointType === DataPointType.HISTOGRAM) {
    for (const dp of duration.dataPoints as DataPoint<Histogram>[]) {
      const node = dp.attributes[ATTR_NODE];
      const transport = dp.attributes[ATTR_TRANSPORT];
      if (typeof node !== 'string' || typeof transport !== 'string' || !metrics.isLiveNode(node)) continue;
      const key = `${node}\u0000${transport}`;
      let b = byKey.get(key);
      if (b === undefined) {
        b = { node, transport, boundaries: dp.value.buckets.boundaries, counts: dp.value.buckets.counts.map(() => 0), count: 0, errors: 0 };
        byKey.set(key, b);
      }
      dp.value.buckets.counts.forEach((c, i) => (b!.counts[i] = (b!.counts[i] ?? 0) + c));
      b.count += dp.value.count;
      if (dp.attributes[ATTR_STATUS] === STATUS_ERROR) b.errors += dp.value.count;
    }
  }
  let fallbacks = 0;
  const fallbacksFrom = new Map<string, number>();
  const fb = findMetric(resourceMetrics, withPrefix(metrics.prefix, METRIC_FALLBACKS));
  if (fb !== undefined && fb.dataPointType === DataPointType.SUM) {
    for (const dp of fb.dataPoints as DataPoint<number>[]) {
      fallbacks += dp.value;
      const node = dp.attributes[ATTR_NODE];
      const from = dp.attributes[ATTR_FROM_TRANSPORT];
      if (typeof node !== 'string' || typeof from !== 'string') continue;
      const key = `${node}\u0000${from}`;
      fallbacksFrom.set(key, (fallbacksFrom.get(key) ?? 0) + dp.value);
    }
  }

  const tools = toolStats(metrics, resourceMetrics);

  const entries = new Map<string, NodeEntry>();
  for (const e of metrics.nodeEntries()) entries.set(e.name, e);
  if (metrics.otherEntry !== undefined) entries.set(metrics.otherEntry.name, metrics.otherEntry);

  const series: SeriesStats[] = [];
  const seen = new Set<string>();
  for (const b of byKey.values()) {
    const entry = entries.get(b.node);
    seen.add(`${b.node}\u0000${b.transport}`);
    series.push({
      node: b.node,
      transport: b.transport,
      requests: b.count,
      errors: b.errors,
      errorRate: b.count === 0 ? 0 : b.errors / b.count,
      inFlight: entry?.series(b.transport)?.active ?? 0,
      up: entry?.up ?? null,
      fallbacks: fallbacksFrom.get(`${b.node}\u0000${b.transport}`) ?? 0,
      latency: quantiles(b),
      ...withTools(tools.get(`${b.node}\u0000${b.transport}`)),
    });
  }
  // Series with calls in flight but none finished yet.
  for (const entry of entries.values()) {
    for (const s of entry.transports) {
      const transport = s.transport;
      if (seen.has(`${entry.name}\u0000${transport}`) || s.active === 0) continue;
      series.push({
        node: entry.name, transport, requests: 0, errors: 0, errorRate: 0, inFlight: s.active,
        up: entry.up ?? null, fallbacks: fallbacksFrom.get(`${entry.name}\u0000${transport}`) ?? 0,
        latency: { p50: null, p95: null, p99: null },
        ...withTools(tools.get(`${entry.name}\u0000${transport}`)),
      });
    }
  }
  series.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : a.transport < b.transport ? -1 : a.transport > b.transport ? 1 : 0));

  let requests = 0;
  let errors = 0;
  let inFlight = 0;
  for (const s of series) {
    requests += s.requests;
    errors += s.errors;
    inFlight += s.inFlight;
  }
  let nodesUp = 0;
  let nodesDown = 0;
  for (const e of entries.values()) {
    if (e.up === true) nodesUp++;
    else if (e.up === false) nodesDown++;
  }
  return {
    uptimeSeconds: (Date.now() - startedAt) / 1000,
    generatedAt: new Date().toISOString(),
    totals: {
      requests,
      errors,
      errorRate: requests === 0 ? 0 : errors / requests,
      inFlight,
      fallbacks,
      nodes: entries.size,
      nodesUp,
      nodesDown,
    },
    series,
  };
}
