/**
 * Label bounding and node state, behind the request-path API: the series of
 * each node × transport, the node entries (last seen, up, health), maxNodes
 * with `_other`, the bounded transports and error types, and the idle sweep.
 * Nothing here makes an SDK call; the automatic paths, the stats view and
 * register()'s node-state producer read it through GatewayMetrics.
 */
import type { Attributes } from '@opentelemetry/api';
import { describe, type RateLimitedWarner } from './diag';
import { MAX_ERROR_TYPES, MAX_LABEL_LENGTH, MAX_TRANSPORTS } from './limits';
import type { CellOwner, HistogramCell, Releasable, SumCell } from './recorder';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_STATUS_CLASS,
  ATTR_NETWORK_IO_DIRECTION,
  ATTR_NODE,
  ATTR_STATUS,
  ATTR_TRANSPORT,
  ERROR_TYPES,
  ERROR_TYPE_OTHER,
  NODE_OTHER,
  STATUS_ERROR,
  STATUS_SUCCESS,
} from './semconv';
import type { AttemptLabels } from '../types';

/** Milliseconds since the epoch (the start time of a series' observed points). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * One node × transport: its in-flight count, its frozen attribute sets and
 * the cells it records into (made on first use, released with its node).
 */
export class Series {
  active = 0;
  /** Body bytes sent to / received from the node (reported as gateway.network.io). */
  txBytes = 0;
  rxBytes = 0;
  /** [transmit, receive] attribute sets, made on the first bytes. */
  ioAttrs: [Attributes, Attributes] | undefined = undefined;
  /** The value last given to the in-flight observable on SDK instruments (−1: never; an integer, so no boxed number per series). */
  reported = -1;
  /** `{ node, transport }`; the duration series add `status` to it (core/recorder.ts cellWith). */
  readonly base: Attributes;
  /** gateway.request.duration, success and error. */
  okCell: HistogramCell | undefined = undefined;
  errCell: HistogramCell | undefined = undefined;
  /**
   * gateway.request.errors cells: the first error type's inline (most series
   * only ever see one), the others by `type\0statusClass` in a Map made on the
   * second (a Map is ~150 B a series).
   */
  errorKey: string | undefined = undefined;
  errorCell: SumCell | undefined = undefined;
  errorCells: Map<string, SumCell> | undefined = undefined;
  /** Streams opened and their time to headers; request and response sizes (opt-in). */
  streamCells: [SumCell, HistogramCell] | undefined = undefined;
  sizeCells: [HistogramCell, HistogramCell] | undefined = undefined;
  /**
   * Per-series state of the protocol readers (MCP: methods, tools and their
   * cells), made on the first call; dropped with the node. Typed by its
   * owner (paths/), which this layer does not import.
   */
  mcp: unknown = undefined;
  /** Releases the cells made for this series (its node is forgotten). */
  release(): void {
    this.okCell?.release();
    this.errCell?.release();
    this.errorCell?.release();
    if (this.errorCells !== undefined) for (const cell of this.errorCells.values()) cell.release();
    if (this.streamCells !== undefined) for (const cell of this.streamCells) cell.release();
    if (this.sizeCells !== undefined) for (const cell of this.sizeCells) cell.release();
  }
  constructor(readonly nodeEntry: NodeEntry, readonly transport: string) {
    const node = nodeEntry.name;
    this.base = Object.freeze({ [ATTR_NODE]: node, [ATTR_TRANSPORT]: transport });
  }
}

/** One node: last seen, up, health, its series per transport, and every cell recorded for it. */
export class NodeEntry implements CellOwner {
  lastSeen: number;
  /** Start time of this node's observed points (up, and its series' in-flight and bytes), ms since the epoch. */
  readonly startMs = nowMs();
  up: boolean | undefined = undefined;
  consecutiveErrors = 0;
  healthFailures = 0;
  /**
   * Its series, one per transport: an array searched in order, replaced by a
   * copy one longer when a transport is added (a node has one or two; a Map of
   * them cost ~200 B per node, and a pushed array keeps room for 17).
   */
  transports: readonly Series[] = [];
  readonly attrs: Attributes;
  /** Cells made for this node by protocol readers (MCP, LLM), tracked to be released when it is forgotten. */
  cells: Releasable[] | undefined = undefined;
  track(cell: Releasable): void {
    (this.cells ??= []).push(cell);
  }
  /** `from\0to` → fallback counter cell; made on first use: most nodes never fall back. */
  fallbackCells: Map<string, SumCell> | undefined = undefined;
  /** Health check duration (passed, failed) and failure count; made on the first check. */
  healthCells: [HistogramCell, HistogramCell, SumCell] | undefined = undefined;
  constructor(readonly name: string, now: number) {
    this.lastSeen = now;
    this.attrs = Object.freeze({ [ATTR_NODE]: name });
  }
  healthAttrs(passed: boolean): Attributes {
    return Object.freeze({ [ATTR_NODE]: this.name, [ATTR_STATUS]: passed ? STATUS_SUCCESS : STATUS_ERROR });
  }
  /** The series of `transport`, if the node has one. */
  series(transport: unknown): Series | undefined {
    const list = this.transports;
    for (let i = 0; i < list.length; i++) if (list[i]!.transport === transport) return list[i];
    return undefined;
  }
  get active(): number {
    let n = 0;
    for (const s of this.transports) n += s.active;
    return n;
  }
  /** The node is forgotten: its series leave every store and export. */
  release(): void {
    for (const series of this.transports) series.release();
    if (this.fallbackCells !== undefined) for (const cell of this.fallbackCells.values()) cell.release();
    if (this.healthCells !== undefined) for (const cell of this.healthCells) cell.release();
    const cells = this.cells;
    this.cells = undefined;
    if (cells !== undefined) for (const cell of cells) cell.release();
  }
}

/** The series' [transmit, receive] attributes once it has seen bytes, else undefined. */
export function ioAttrsOf(series: Series): [Attributes, Attributes] | undefined {
  if (series.ioAttrs === undefined) {
    if (series.txBytes === 0 && series.rxBytes === 0) return undefined;
    const node = series.nodeEntry.name;
    series.ioAttrs = [
      Object.freeze({ [ATTR_NODE]: node, [ATTR_TRANSPORT]: series.transport, [ATTR_NETWORK_IO_DIRECTION]: 'transmit' }),
      Object.freeze({ [ATTR_NODE]: node, [ATTR_TRANSPORT]: series.transport, [ATTR_NETWORK_IO_DIRECTION]: 'receive' }),
    ];
  }
  return series.ioAttrs;
}

export const DERIVED_ERROR_TYPES: ReadonlySet<string> = new Set(ERROR_TYPES);

interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/** Lone surrogates replaced by U+FFFD (ES2024 string methods, in Node >= 20; the build's lib is ES2022). */
function wellFormed(s: string): string {
  return (s as unknown as WellFormed).isWellFormed() ? s : (s as unknown as WellFormed).toWellFormed();
}

export class SeriesRegistry {
  private readonly _nodes = new Map<string, NodeEntry>();
  private _other: NodeEntry | undefined;
  private readonly _transports = new Set<string>();
  private readonly _errorTypes = new Set<string>(ERROR_TYPES);
  /** No live node can expire before this time (performance.now()): see _reclaim(). */
  private _noExpiryBefore = 0;

  constructor(
    readonly maxNodes: number,
    readonly nodeIdleTtl: number,
    private readonly _warn: RateLimitedWarner,
  ) {}

  seriesOf(labels: unknown, caller: string): Series | undefined {
    try {
      if (typeof labels !== 'object' || labels === null) {
        this._warn.warn(`${caller}-labels`, () => `${caller}(): expected { node, transport }, got ${describe(labels)}; not recorded`);
        return undefined;
      }
      const { node, transport } = labels as AttemptLabels;
      // Fast path: a known node and transport, two Map lookups.
      if (typeof node === 'string') {
        const series = this._nodes.get(node)?.series(transport);
        if (series !== undefined) return series;
      }
      const entry = this.nodeOf(node, caller);
      const t = this.transportOf(transport, caller);
      if (entry === undefined || t === undefined) return undefined;
      let series = entry.series(t);
      if (series === undefined) {
        series = new Series(entry, t);
        // concat() allocates the exact length; a spread or push keeps room for 17.
        entry.transports = entry.transports.concat(series);
      }
      return series;
    } catch (err) {
      this._internalError(err);
      return undefined;
    }
  }

  nodeOf(raw: unknown, caller: string): NodeEntry | undefined {
    if (typeof raw !== 'string' || raw === '' || raw.length > MAX_LABEL_LENGTH) {
      this._warn.warn('node', () => `${caller}(): node must be a non-empty string of at most ${MAX_LABEL_LENGTH} characters, got ${describe(raw)}; not recorded`);
      return undefined;
    }
    // Exporters write label values as UTF-8, where every lone surrogate becomes
    // U+FFFD: two names differing only there would be two entries with one
    // label value (duplicate series in /metrics). Make the name well-formed
    // first, so they are one node.
    const node = wellFormed(raw);
    const existing = this._nodes.get(node);
    if (existing !== undefined) return existing;
    if (node === NODE_OTHER) return this._otherNode();
    if (this._nodes.size >= this.maxNodes && !this._reclaim(performance.now())) {
      this._warn.warn('maxNodes', () => `more than maxNodes=${this.maxNodes} live nodes; ${describe(node)} and further new nodes are recorded as node="${NODE_OTHER}"`);
      return this._otherNode();
    }
    const entry = new NodeEntry(node, performance.now());
    this._nodes.set(node, entry);
    return entry;
  }

  transportOf(raw: unknown, caller: string): string | undefined {
    if (typeof raw !== 'string' || raw === '' || raw.length > MAX_LABEL_LENGTH) {
      this._warn.warn('transport', () => `${caller}(): transport must be a non-empty string such as "http" or "exec", got ${describe(raw)}; not recorded`);
      return undefined;
    }
    const transport = wellFormed(raw);
    if (this._transports.has(transport)) return transport;
    if (this._transports.size >= MAX_TRANSPORTS) {
      this._warn.warn('transports', () => `more than ${MAX_TRANSPORTS} distinct transports; ${describe(transport)} recorded as "${NODE_OTHER}"`);
      return NODE_OTHER;
    }
    this._transports.add(transport);
    return transport;
  }

  /** A user-supplied error type, kept if it is a bounded label value. */
  userErrorType(raw: unknown): string {
    if (typeof raw !== 'string' || raw === '' || raw.length > MAX_LABEL_LENGTH) {
      this._warn.warn('errorType', () => `errorType must be a non-empty string of at most ${MAX_LABEL_LENGTH} characters, got ${describe(raw)}; using ${ERROR_TYPE_OTHER}`);
      return ERROR_TYPE_OTHER;
    }
    const type = wellFormed(raw);
    if (this._errorTypes.has(type)) return type;
    if (this._errorTypes.size >= MAX_ERROR_TYPES + DERIVED_ERROR_TYPES.size) {
      this._warn.warn('errorTypes', () => `more than ${MAX_ERROR_TYPES} distinct error types; ${describe(type)} recorded as ${ERROR_TYPE_OTHER}`);
      return ERROR_TYPE_OTHER;
    }
    this._errorTypes.add(type);
    return type;
  }

  /** The attributes of an error of `type` on `series` (made once per cell, by the caller). */
  errorAttrs(series: Series, type: string, statusClass: string | undefined): Attributes {
    const a: Attributes = {
      [ATTR_NODE]: series.nodeEntry.name,
      [ATTR_TRANSPORT]: series.transport,
      [ATTR_ERROR_TYPE]: type,
    };
    if (statusClass !== undefined) a[ATTR_HTTP_STATUS_CLASS] = statusClass;
    return Object.freeze(a);
  }

  /**
   * Whether a `node` label value is live: called within `nodeIdleTtl`, or in
   * flight. An expired node is not live even before a sweep removes it.
   */
  isLive(node: string, now = performance.now()): boolean {
    if (node === NODE_OTHER) return true;
    const entry = this._nodes.get(node);
    return entry !== undefined && !this._expired(entry, now);
  }

  /** Forget nodes idle for longer than `nodeIdleTtl` (and not in flight). */
  sweep(now = performance.now()): void {
    if (this.nodeIdleTtl === 0) return;
    for (const [name, entry] of this._nodes) {
      if (this._expired(entry, now)) {
        this._nodes.delete(name);
        entry.release();
      }
    }
  }

  /** The named nodes (not `_other`), live or not yet swept. */
  entries(): IterableIterator<NodeEntry> {
    return this._nodes.values();
  }

  get other(): NodeEntry | undefined {
    return this._other;
  }

  *allEntries(): Generator<NodeEntry> {
    yield* this._nodes.values();
    if (this._other !== undefined) yield this._other;
  }

  private _expired(entry: NodeEntry, now: number): boolean {
    return this.nodeIdleTtl !== 0 && now - entry.lastSeen > this.nodeIdleTtl && entry.active === 0;
  }

  /**
   * Frees the place of one expired node, if there is one: maxNodes counts live
   * nodes only, swept or not. The map is scanned from its oldest end, and a
   * live node met on the way moves to the newest end, so under churn the
   * expired ones are found first. When every node is live, the earliest time
   * one could expire is kept, and until then a new name goes to _other in
   * O(1): a flood of new names does not rescan the map each time.
   */
  private _reclaim(now: number): boolean {
    if (this.nodeIdleTtl === 0 || now < this._noExpiryBefore) return false;
    let earliest = Infinity;
    let left = this._nodes.size;
    for (const [name, entry] of this._nodes) {
      if (left-- === 0) break;
      if (this._expired(entry, now)) {
        this._nodes.delete(name);
        entry.release();
        return true;
      }
      earliest = Math.min(earliest, entry.active > 0 ? now + this.nodeIdleTtl : entry.lastSeen + this.nodeIdleTtl);
      this._nodes.delete(name);
      this._nodes.set(name, entry);
    }
    this._noExpiryBefore = earliest;
    return false;
  }

  private _otherNode(): NodeEntry {
    return (this._other ??= new NodeEntry(NODE_OTHER, performance.now()));
  }

  private _internalError(err: unknown): void {
    this._warn.warn('internal', () => `internal error (ignored, the call went ahead): ${describe(err)}`);
  }
}
