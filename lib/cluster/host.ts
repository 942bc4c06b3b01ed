/**
 * The per-host view: a SeriesStore made of the store's own classes
 * (HistogramInstrument, SumInstrument, ObservedInstrument), whose rows are
 * the sums of every member's rows for the same attribute set. The
 * serializers, /stats and the status page read it as they read a worker's
 * own store.
 *
 * Which rows add up (the same rule in every process, computed from the files
 * alone, so that every worker answering a scrape answers the same):
 * - counts, sums and bytes: every member's row for the series, dead members'
 *   included (a worker killed keeps what it counted), as long as the series
 *   is alive on the host. Each row covers [began, last activity + nodeIdleTtl];
 *   the series is alive while the union of its rows' intervals reaches now,
 *   and the rows of that last stretch are the ones summed. A series idle on
 *   every worker for nodeIdleTtl is forgotten, and a later call starts it
 *   again from zero, as in one process;
 * - in-flight counts: summed over live workers (a worker that ended has none);
 * - node up: the lowest value among live workers (down when any worker has
 *   it down: alerts on `== 0` fire as they would in one process).
 */
import type { Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { AggregationTemporality, AggregationType, InstrumentType } from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import type { RateLimitedWarner } from '../core/diag';
import { NodeEntry, Series } from '../core/series-registry';
import {
  ATTR_NODE,
  ATTR_TRANSPORT,
  ATTR_WORKER,
  ATTR_WORKER_STATE,
  CLUSTER_INSTRUMENTS,
  METRIC_CLUSTER_WORKER_EVENT_LOOP_DELAY,
  METRIC_CLUSTER_WORKER_MEMORY,
  METRIC_CLUSTER_WORKER_RESTARTS,
  METRIC_CLUSTER_WORKER_UP,
  METRIC_CLUSTER_WORKERS,
  METRIC_NODE_UP,
  METRIC_REQUESTS_ACTIVE,
  NODE_OTHER,
  WORKER_RUNNING,
  WORKER_UNRESPONSIVE,
  withPrefix,
} from '../core/semconv';
import type { Emit, ObservedKind } from '../core/recorder';
import { HistogramInstrument, type HistogramSeries } from '../store/histogram';
import { SumInstrument, type SumSeries } from '../store/counter';
import { ObservedInstrument } from '../store/observed';
import { ExponentialCell } from '../store/exponential';
import { SeriesStore } from '../store/store';
import { stream } from '../store/stream';
import type { ClusterStats, GatewayStats, StatsNodes, WorkerStats } from '../export/stats';
import { unflattenExponential, type InstrumentRecord } from './journal';
import type { GroupReader, MemberMirror, MirrorRow, RowSink } from './reader';

/**
 * One series of the host view and the member rows that make it. It is summed
 * again only when one of its rows changed (`dirty`, set by the reader) or
 * when time passed the end of its current stretch (`until`).
 */
class HostSeries implements RowSink {
  cell: HistogramSeries | SumSeries | undefined = undefined;
  readonly rows = new Set<MirrorRow>();
  dirty = true;
  until = -Infinity;
  /** Observed instruments: the point last summed (undefined: none to show). */
  point: Point | undefined = undefined;
  constructor(readonly attributes: Attributes) {}
}

interface Point {
  attributes: Attributes;
  value: number;
  start: number;
}

/** Instruments of the host view, by kind and name. */
export class HostInstrument {
  readonly series = new Map<string, HostSeries>();
  readonly stored: HistogramInstrument | SumInstrument | undefined;
  readonly observed: ObservedInstrument | undefined;
  points: Point[] = [];
  /** A series of this instrument changed since `points` was made. */
  changed = true;

  constructor(readonly record: InstrumentRecord, warn: RateLimitedWarner) {
    const s = stream(record.name, record.description, record.unit, record.valueType, record.type as InstrumentType);
    if (record.kind === 'histogram') {
      this.stored = new HistogramInstrument(s, record.boundaries ?? [], record.exponential, 0, warn, record.recordMinMax ?? true);
    } else if (record.kind === 'sum') {
      this.stored = new SumInstrument(s, record.monotonic ?? true, warn);
    } else {
      this.observed = new ObservedInstrument(s, record.observedKind ?? 'gauge', emit => {
        for (const p of this.points) emit(p.attributes, p.value, p.start);
      });
    }
  }

  /** Whether a member's instrument of this name can add to this one (same kind and buckets). */
  accepts(r: InstrumentRecord): boolean {
    const a = this.record;
    if (a.kind !== r.kind || a.observedKind !== r.observedKind) return false;
    if (a.kind !== 'histogram') return a.monotonic === r.monotonic;
    const x = a.boundaries ?? [];
    const y = r.boundaries ?? [];
    return x.length === y.length && x.every((b, i) => b === y[i]) && (a.exponential === undefined) === (r.exponential === undefined);
  }
}

const CUMULATIVE = {
  temporality: () => AggregationTemporality.CUMULATIVE,
  aggregation: () => ({ type: AggregationType.DEFAULT }),
};

export interface HostViewOptions {
  readonly scope: InstrumentationScope;
  readonly prefix: string;
  readonly reader: GroupReader;
  readonly warn: RateLimitedWarner;
}

export class HostView {
  readonly store: SeriesStore;
  private readonly _instruments = new Map<string, HostInstrument>();
  private readonly _compatible = new WeakMap<InstrumentRecord, HostInstrument | null>();
  private readonly _workers: { [k in 'count' | 'restarts' | 'up' | 'memory' | 'eld']: Point[] } = { count: [], restarts: [], up: [], memory: [], eld: [] };
  private readonly _pointAttrs = new Map<string, Attributes>();
  private _cluster: ClusterStats = { workers: 0, responding: 0, unresponsive: [], exited: 0, perWorker: [] };
  private _firstJoined = Date.now();
  /** The members summed by the last refresh, by key (a member rewritten is a new mirror). */
  private _members = new Map<string, MemberMirror>();
  /** Nodes of the visible series, the in-flight counts and the up state (for the stats view; made when asked). */
  private _nodes: Map<string, NodeEntry> | undefined = undefined;

  constructor(private readonly _options: HostViewOptions) {
    this.store = new SeriesStore({ scope: _options.scope, readers: [CUMULATIVE], views: [], warn: _options.warn });
    const started = Date.now();
    const add = (name: keyof typeof CLUSTER_INSTRUMENTS, kind: ObservedKind, points: () => Point[]) => {
      const type = kind === 'counter' ? InstrumentType.OBSERVABLE_COUNTER : InstrumentType.OBSERVABLE_GAUGE;
      const info = CLUSTER_INSTRUMENTS[name];
      const s = stream(withPrefix(_options.prefix, name), info.description, info.unit, ValueType.DOUBLE, type);
      this.store.adopt(new ObservedInstrument(s, kind, (emit: Emit) => {
        for (const p of points()) emit(p.attributes, p.value, p.start === 0 ? started : p.start);
      }));
    };
    add(METRIC_CLUSTER_WORKERS, 'gauge', () => this._workers.count);
    add(METRIC_CLUSTER_WORKER_RESTARTS, 'counter', () => this._workers.restarts);
    add(METRIC_CLUSTER_WORKER_UP, 'gauge', () => this._workers.up);
    add(METRIC_CLUSTER_WORKER_MEMORY, 'gauge', () => this._workers.memory);
    add(METRIC_CLUSTER_WORKER_EVENT_LOOP_DELAY, 'gauge', () => this._workers.eld);
  }

  get cluster(): ClusterStats {
    return this._cluster;
  }

  /** ms since the epoch when the group's oldest member still on file joined. */
  get startedAt(): number {
    return this._firstJoined;
  }

  /** Re-read the group and sum what changed into the store. */
  refresh(now = Date.now()): void {
    this._options.reader.refresh(now);
    const adopted = this.adoptedKeys();
    const members = new Map<string, MemberMirror>();
    for (const m of this._options.reader.members.values()) if (!adopted.has(m.key) && m.header !== undefined) members.set(m.key, m);
    // Members gone, rewritten (a new mirror) or adopted: their rows leave their series.
    for (const [key, old] of this._members) if (members.get(key) !== old) this._detach(old);
    let firstJoined = Infinity;
    for (const m of members.values()) {
      if (m.header!.joined < firstJoined) firstJoined = m.header!.joined;
      const rows = this._members.get(m.key) === m ? m.fresh : m.rows.values();
      for (const row of rows) this._attach(row);
      m.fresh = [];
      if (m.summedAlive !== m.alive) {
        // In-flight counts and node up count live members only.
        for (const row of m.rows.values()) if (row.host !== undefined) row.host.dirty = true;
        m.summedAlive = m.alive;
      }
    }
    this._members = members;
    if (firstJoined !== Infinity) this._firstJoined = firstJoined;
    for (const hi of this._instruments.values()) this._sum(hi, now);
    this._summarizeWorkers([...this._options.reader.members.values()], adopted);
    this._nodes = undefined;
  }

  private _attach(row: MirrorRow): void {
    const hi = this._instrumentFor(row.instrument);
    if (hi === undefined) return;
    let hs = hi.series.get(row.key);
    if (hs === undefined) {
      hs = new HostSeries(row.attributes);
      hi.series.set(row.key, hs);
    }
    hs.rows.add(row);
    hs.dirty = true;
    row.host = hs;
  }

  private _detach(m: MemberMirror): void {
    for (const row of m.rows.values()) {
      const hs = row.host as HostSeries | undefined;
      if (hs === undefined) continue;
      hs.rows.delete(row);
      hs.dirty = true;
      row.host = undefined;
    }
    m.summedAlive = undefined;
  }

  /** The members another one took over (they are summed through it), and when. */
  adoptedKeys(): Map<string, number> {
    const adopted = new Map<string, number>();
    for (const m of this._options.reader.members.values()) for (const [k, t] of m.adopted) adopted.set(k, t);
    return adopted;
  }

  /** Whether the last sum of its series included `row`: it is in the series' current stretch (other rows are an earlier life of the series). */
  summed(row: MirrorRow): boolean {
    return row.host !== undefined && row.summed;
  }

  /** The host instrument a member's instrument adds to (undefined: it cannot, see accepts()). */
  instrumentFor(r: InstrumentRecord): HostInstrument | undefined {
    return this._instrumentFor(r);
  }

  private _instrumentFor(r: InstrumentRecord): HostInstrument | undefined {
    let hi = this._compatible.get(r);
    if (hi !== undefined) return hi ?? undefined;
    const key = `${r.kind}|${r.name}`;
    hi = this._instruments.get(key);
    if (hi === undefined) {
      hi = new HostInstrument(r, this._options.warn);
      this._instruments.set(key, hi);
      this.store.adopt((hi.stored ?? hi.observed)!);
    } else if (!hi.accepts(r)) {
      // Workers of two versions (a rolling restart with other buckets): the older one's shape wins.
      this._options.warn.warn(`cluster-shape:${key}`, () => `cluster: a worker's ${r.name} differs from another's (kind or buckets); its series are left out of the host's sums`);
      this._compatible.set(r, null);
      return undefined;
    }
    this._compatible.set(r, hi);
    return hi;
  }

  private _sum(hi: HostInstrument, now: number): void {
    const observedKind = hi.record.observedKind;
    const live = hi.observed !== undefined && observedKind !== 'counter';
    for (const [key, hs] of hi.series) {
      if (!hs.dirty && now <= hs.until) continue;
      hs.dirty = false;
      hi.changed = true;
      for (const r of hs.rows) r.summed = false;
      if (live) {
        hs.until = Infinity;
        hs.point = this._live(hs, observedKind === 'gauge');
        if (hs.point === undefined && hs.rows.size === 0) hi.series.delete(key);
        continue;
      }
      const stretch = current(hs.rows, now);
      if (stretch === undefined) {
        // Nothing current: gone from the host until a row changes (time alone cannot bring it back).
        hs.until = Infinity;
        hs.point = undefined;
        if (hs.cell !== undefined) {
          hs.cell.release();
          hs.cell = undefined;
        }
        if (hs.rows.size === 0) hi.series.delete(key);
        continue;
      }
      hs.until = stretch.until;
      for (const r of stretch.rows) r.summed = true;
      const stored = hi.stored;
      if (stored instanceof HistogramInstrument) this._histogram(stored, hs, stretch.rows);
      else if (stored instanceof SumInstrument) this._counter(stored, hs, stretch.rows);
      else {
        let value = 0;
        let start = Infinity;
        for (const r of stretch.rows) {
          value += r.numbers?.[0] ?? 0;
          if (r.start < start) start = r.start;
        }
        hs.point = { attributes: hs.attributes, value, start };
      }
    }
    if (hi.observed !== undefined && hi.changed) {
      const points: Point[] = [];
      for (const hs of hi.series.values()) if (hs.point !== undefined) points.push(hs.point);
      hi.points = points;
    }
    hi.changed = false;
  }

  private _histogram(h: HistogramInstrument, hs: HostSeries, rows: readonly MirrorRow[]): void {
    const cell = (hs.cell ??= h.cell(hs.attributes, undefined)) as HistogramSeries;
    const d = h.rows.block(cell.row);
    const o = h.rows.offset(cell.row);
    d.fill(0, o, o + h.MIN);
    let min = Infinity;
    let max = -Infinity;
    let start = Infinity;
    let exponential: ExponentialCell | undefined;
    for (const r of rows) {
      if (r.start < start) start = r.start;
      const n = r.numbers;
      if (n === undefined || n.length !== h.START) continue;
      for (let i = 0; i < h.MIN; i++) d[o + i] += n[i]!;
      if (n[h.MIN]! < min) min = n[h.MIN]!;
      if (n[h.MAX]! > max) max = n[h.MAX]!;
      if (h.exponential !== undefined && r.exponential !== undefined) {
        const e = ExponentialCell.fromValue(unflattenExponential(r.exponential) as never);
        if (exponential === undefined) exponential = e;
        else exponential.merge(e);
      }
    }
    d[o + h.MIN] = min;
    d[o + h.MAX] = max;
    d[o + h.START] = start === Infinity ? d[o + h.START]! : start;
    if (h.exponential !== undefined) {
      h.exponential[cell.row] = exponential ?? new ExponentialCell(h.exponentialOptions!.maxSize, h.exponentialOptions!.recordMinMax);
    }
  }

  private _counter(c: SumInstrument, hs: HostSeries, rows: readonly MirrorRow[]): void {
    const cell = (hs.cell ??= c.cell(hs.attributes, undefined)) as SumSeries;
    const d = c.rows.block(cell.row);
    const o = c.rows.offset(cell.row);
    let value = 0;
    let start = Infinity;
    for (const r of rows) {
      value += r.numbers?.[0] ?? 0;
      if (r.start < start) start = r.start;
    }
    d[o] = value;
    if (start !== Infinity) d[o + 1] = start;
  }

  /** In-flight counts (summed) and node up (the lowest), over live members' current points. */
  private _live(hs: HostSeries, lowest: boolean): Point | undefined {
    let value: number | undefined;
    let start = Infinity;
    for (const r of hs.rows) {
      if (r.ended || !r.member.alive || r.numbers === undefined) continue;
      r.summed = true;
      const v = r.numbers[0]!;
      value = value === undefined ? v : lowest ? Math.min(value, v) : value + v;
      if (r.start < start) start = r.start;
    }
    return value === undefined ? undefined : { attributes: hs.attributes, value, start };
  }

  private _attrs(key: string, make: () => Attributes): Attributes {
    let a = this._pointAttrs.get(key);
    if (a === undefined) {
      a = Object.freeze(make());
      this._pointAttrs.set(key, a);
    }
    return a;
  }

  private _summarizeWorkers(members: MemberMirror[], adopted: ReadonlyMap<string, number>): void {
    const w = this._workers;
    w.up = [];
    w.memory = [];
    w.eld = [];
    let running = 0;
    let unresponsive = 0;
    let exited = 0;
    const perWorker: WorkerStats[] = [];
    const silent: string[] = [];
    for (const m of members) {
      // An adopted member's exit and those it counted are counted by its adopter.
      if (adopted.has(m.key)) continue;
      exited += m.adoptedExits;
      const h = m.header;
      if (h === undefined) continue;
      if (!m.alive) {
        exited++;
        continue;
      }
      const attrs = this._attrs(`w:${h.worker}`, () => ({ [ATTR_WORKER]: h.worker }));
      if (m.responsive) running++;
      else {
        unresponsive++;
        silent.push(h.worker);
      }
      w.up.push({ attributes: attrs, value: m.responsive ? 1 : 0, start: h.joined });
      if (m.beat !== undefined) {
        w.memory.push({ attributes: attrs, value: m.beat.rss, start: h.joined });
        w.eld.push({ attributes: attrs, value: m.beat.eldP99, start: h.joined });
      }
      perWorker.push({
        worker: h.worker,
        pid: h.pid,
        responding: m.responsive,
        rssBytes: m.beat?.rss ?? null,
        eventLoopDelayP99Seconds: m.beat?.eldP99 ?? null,
      });
    }
    const state = (s: string) => this._attrs(`s:${s}`, () => ({ [ATTR_WORKER_STATE]: s }));
    w.count = [
      { attributes: state(WORKER_RUNNING), value: running, start: this._firstJoined },
      { attributes: state(WORKER_UNRESPONSIVE), value: unresponsive, start: this._firstJoined },
    ];
    w.restarts = [{ attributes: this._attrs('r', () => ({})), value: exited, start: this._firstJoined }];
    this._cluster = { workers: running + unresponsive, responding: running, unresponsive: silent, exited, perWorker };
  }

  /** Node entries as the stats view reads them: in flight and up from the host's points. */
  private _nodesView(): Map<string, NodeEntry> {
    const nodes = new Map<string, NodeEntry>();
    const entry = (name: string): NodeEntry => {
      let e = nodes.get(name);
      if (e === undefined) nodes.set(name, (e = new NodeEntry(name, 0)));
      return e;
    };
    for (const hi of this._instruments.values()) {
      const name = hi.record.name;
      if (hi.observed !== undefined) {
        const active = name === withPrefix(this._options.prefix, METRIC_REQUESTS_ACTIVE);
        const up = name === withPrefix(this._options.prefix, METRIC_NODE_UP);
        for (const p of hi.points) {
          const node = p.attributes[ATTR_NODE];
          if (typeof node !== 'string') continue;
          const e = entry(node);
          if (up) e.up = p.value === 1;
          const transport = p.attributes[ATTR_TRANSPORT];
          if (active && typeof transport === 'string') {
            let s = e.series(transport);
            if (s === undefined) e.transports = e.transports.concat((s = new Series(e, transport)));
            s.active = p.value;
          }
        }
        continue;
      }
      for (const hs of hi.series.values()) {
        const node = hs.attributes[ATTR_NODE];
        if (hs.cell !== undefined && typeof node === 'string') entry(node);
      }
    }
    return nodes;
  }

  /** The node state the stats view reads from a GatewayMetrics, here from the host's sums. */
  get statsNodes(): StatsNodes {
    const nodes = (this._nodes ??= this._nodesView());
    return {
      prefix: this._options.prefix,
      isLiveNode: (node: string) => nodes.has(node),
      nodeEntries: () => [...nodes.values()].filter(e => e.name !== NODE_OTHER).values(),
      otherEntry: nodes.get(NODE_OTHER),
    };
  }

  /** The stats view's data with the cluster's part. */
  withCluster(stats: GatewayStats): GatewayStats {
    return { ...stats, cluster: this._cluster };
  }
}

/**
 * The rows of a series' current stretch: sorted by when they began, the
 * union of their intervals [began, until] is cut where it has a gap; the last
 * piece is current if it reaches `now`. Rows before a gap are of an earlier
 * life of the series (forgotten by the whole host since).
 */
function current(rows: ReadonlySet<MirrorRow>, now: number): { rows: MirrorRow[]; until: number } | undefined {
  if (rows.size === 0) return undefined;
  if (rows.size === 1) {
    const only = rows.values().next().value!;
    const until = only.until;
    return until >= now ? { rows: [only], until } : undefined;
  }
  // Mostly every row reaches now (its worker active on it): then every interval holds now, and all are current.
  const all: MirrorRow[] = [];
  let lowest = Infinity;
  let highest = -Infinity;
  for (const r of rows) {
    const until = r.until;
    if (until < lowest) lowest = until;
    if (until > highest) highest = until;
    all.push(r);
  }
  if (lowest >= now) return { rows: all, until: highest };
  const sorted = all.sort((a, b) => a.began - b.began);
  let from = 0;
  let end = sorted[0]!.until;
  for (let i = 1; i < sorted.length; i++) {
    const r = sorted[i]!;
    const until = r.until;
    if (r.began > end) {
      from = i;
      end = until;
    } else if (until > end) end = until;
  }
  return end >= now ? { rows: sorted.slice(from), until: end } : undefined;
}
