/**
 * A worker's side of the per-host view: everything its store records is
 * written through to its state file in the group's directory, where the
 * process that answers a scrape reads it (reader.ts) and sums it with the
 * other workers' (host.ts).
 *
 * Why a file per worker and not IPC: PM2's daemon is the node:cluster
 * primary and runs none of our code, so nothing can gather the workers'
 * state in the primary; a worker killed with SIGKILL cannot hand its state
 * over, but what it wrote stays readable; and a worker that hangs
 * (SIGSTOP) is read without asking it anything.
 *
 * When: the store's cells are wrapped here. A record marks its cell dirty
 * and the dirty rows are appended in one write(2) on the next tick
 * (process.nextTick), before any timer, I/O callback or promise job that
 * follows the record: on the automatic HTTP path the record is made on the
 * upstream response's 'close', and the gateway's own answer to its client
 * comes after that (in the promise job or 'end' handler the gateway runs
 * later), so a call is on disk before its answer leaves the worker. No IPC
 * per call: one write(2) per tick in which something was recorded.
 *
 * Forgetting: a series' row in the file stays current while its node is
 * active (each write, and each beat while the node has calls in flight);
 * a reader treats it as ending `ttl` (nodeIdleTtl) after that. A call on a
 * node that was idle longer than that starts new rows (the old ones keep
 * what was counted before), so a node the host forgot starts again from
 * zero, as in one process.
 */
import { closeSync, fstatSync, mkdirSync, openSync, ftruncateSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Attributes } from '@opentelemetry/api';
import type { CellOwner, Disposable, HistogramCell, HistogramInfo, HistogramRecorder, InstrumentInfo, ObservedKind, Recorders, Releasable, SumCell, SumRecorder, Walk } from '../core/recorder';
import { describe, logger, RateLimitedWarner } from '../core/diag';
import { ATTR_TRANSPORT } from '../core/semconv';
import { ioAttrsOf, type Series } from '../core/series-registry';
import { HistogramInstrument, type HistogramSeries } from '../store/histogram';
import { START as SUM_START, SumInstrument, type SumSeries } from '../store/counter';
import { ObservedInstrument } from '../store/observed';
import type { SeriesStore } from '../store/store';
import type { ExponentialCell } from '../store/exponential';
import {
  Encoder,
  flattenExponential,
  T_HEADER,
  T_INSTRUMENT,
  T_ROW,
  T_TOUCH,
  T_END,
  T_ADOPT,
  type AdoptRecord,
  type ExponentialShape,
  type HeaderRecord,
  type InstrumentRecord,
  type RowRecord,
} from './journal';

/** A worker writes a beat (memory, event loop delay, in-flight counts) this often. */
export const BEAT_MS = 1000;

/** The file is rewritten (ended rows of forgotten series dropped) once it grows past this, or 4× its size after the last rewrite. */
export const REWRITE_AT_BYTES = 4 * 1024 * 1024;

/** A row as a rewrite writes it. */
export interface RewriteRow {
  readonly id: number;
  readonly instrumentId: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly start: number;
  readonly began: number;
  readonly owner: number;
  readonly numbers: Float64Array | undefined;
  readonly exponential: Float64Array | undefined;
  readonly lastWrite: number;
  readonly ended: boolean;
}

export interface MemberOptions {
  /** The group's directory. */
  readonly dir: string;
  readonly worker: string;
  readonly procStart: number | undefined;
  /** nodeIdleTtl, ms (0: never). */
  readonly ttl: number;
  /** @default BEAT_MS (0: no timer; tests call beat() themselves) */
  readonly beatMs?: number;
}

let joinedInProcess = 0;

/** The state of one owner (a node): its cells and points, and when it was last active. */
class Owner {
  /** Cells and observed points of this owner. */
  readonly cells = new Set<JournalCell>();
  readonly points = new Set<Point>();
  constructor(
    public id: number,
    readonly object: object,
    /** ms since the epoch of the last write for it (0: never). */
    public touched: number,
  ) {}
  /** In flight now (a NodeEntry counts its calls). */
  get active(): boolean {
    const a = (this.object as { active?: unknown }).active;
    return typeof a === 'number' && a > 0;
  }
}

/** A stored series (histogram or sum row), written through. */
abstract class JournalCell implements Releasable {
  id: number;
  dirty = false;
  ended = false;
  /** The numbers written before the last restart of this series in the file (see Member.rotate). */
  base: Float64Array | undefined = undefined;
  baseExponential: ExponentialCell | undefined = undefined;
  /** When its row began, ms since the epoch. */
  began = 0;
  constructor(
    readonly member: Member,
    readonly instrumentId: number,
    readonly attributes: Attributes,
    readonly owner: Owner,
  ) {
    this.id = member.nextRowId();
  }
  /** The store's start time of the series (ms since the epoch). */
  abstract get start(): number;
  abstract encode(enc: Encoder, time: number): void;
  /** The numbers its row holds now (less the base), and its exponential histogram flattened. */
  abstract image(): { numbers: Float64Array; exponential: Float64Array | undefined } | undefined;
  /** The numbers now, as the base of a restart. */
  abstract snapshotBase(): void;
  abstract releaseInner(): void;

  release(): void {
    if (this.ended) return;
    try {
      this.member.ended(this);
    } finally {
      this.releaseInner();
    }
  }
}

class JournalHistogramCell extends JournalCell implements HistogramCell {
  constructor(member: Member, instrumentId: number, readonly inner: HistogramSeries, attributes: Attributes, owner: Owner) {
    super(member, instrumentId, attributes, owner);
  }

  record(value: number): void {
    const m = this.member;
    if (m.ttl > 0 && this.owner.touched !== 0 && m.clock - this.owner.touched > m.ttl) m.rotate(this.owner);
    this.inner.record(value);
    if (!this.dirty) m.mark(this);
  }

  get start(): number {
    const h = this.inner.instrument;
    return h.rows.data[this.inner.row * h.rows.stride + h.START]!;
  }

  encode(enc: Encoder, time: number): void {
    const h = this.inner.instrument;
    const row = this.inner.row;
    if (row === 0) return;
    const o = row * h.rows.stride;
    // counts…, count, sum, min, max: min and max are not subtracted.
    enc.data(this.id, time, h.rows.data, o, o + h.START, this.base, h.MIN, this._exponential());
  }

  private _exponential(): Float64Array | undefined {
    const cell = this.inner.instrument.exponential?.[this.inner.row];
    if (cell === undefined) return undefined;
    return flattenExponential((this.baseExponential !== undefined ? cell.diff(this.baseExponential) : cell).value() as unknown as ExponentialShape);
  }

  image() {
    const h = this.inner.instrument;
    const row = this.inner.row;
    if (row === 0) return undefined;
    const o = row * h.rows.stride;
    const numbers = h.rows.data.slice(o, o + h.START);
    if (this.base !== undefined) for (let i = 0; i < h.MIN; i++) numbers[i]! -= this.base[i]!;
    return { numbers, exponential: this._exponential() };
  }

  snapshotBase(): void {
    const h = this.inner.instrument;
    const o = this.inner.row * h.rows.stride;
    this.base = h.rows.data.slice(o, o + h.START);
    this.baseExponential = h.exponential?.[this.inner.row]?.clone();
  }

  releaseInner(): void {
    this.inner.release();
  }
}

class JournalSumCell extends JournalCell implements SumCell {
  constructor(member: Member, instrumentId: number, readonly inner: SumSeries, attributes: Attributes, owner: Owner) {
    super(member, instrumentId, attributes, owner);
  }

  add(value: number): void {
    const m = this.member;
    if (m.ttl > 0 && this.owner.touched !== 0 && m.clock - this.owner.touched > m.ttl) m.rotate(this.owner);
    this.inner.add(value);
    if (!this.dirty) m.mark(this);
  }

  get start(): number {
    return this.inner.instrument.rows.data[this.inner.row * 2 + SUM_START]!;
  }

  encode(enc: Encoder, time: number): void {
    const row = this.inner.row;
    if (row === 0) return;
    enc.data(this.id, time, this.inner.instrument.rows.data, row * 2, row * 2 + 1, this.base, 1, undefined);
  }

  image() {
    const row = this.inner.row;
    if (row === 0) return undefined;
    return { numbers: Float64Array.of(this.inner.instrument.rows.data[row * 2]! - (this.base?.[0] ?? 0)), exponential: undefined };
  }

  snapshotBase(): void {
    const row = this.inner.row;
    this.base = this.inner.instrument.rows.data.slice(row * 2, row * 2 + 1);
  }

  releaseInner(): void {
    this.inner.release();
  }
}

/** One observed point (in-flight, node up, bytes) as last written. */
class Point {
  seen = 0;
  /** The value written before the last restart of a counter point. */
  base = 0;
  /** When its row began, ms since the epoch. */
  began = 0;
  start = 0;
  constructor(
    public id: number,
    readonly attributes: Attributes,
    public value: number,
    public owner: Owner | undefined,
    /** ms since the epoch of the last write. */
    public written: number,
  ) {}
}

interface ObservedMirror {
  readonly id: number;
  readonly kind: ObservedKind;
  readonly walk: Walk;
  readonly points: Map<Attributes, Point>;
  generation: number;
}

export class Member {
  /** Unique per process on the host; in the file name. */
  readonly key: string;
  readonly dir: string;
  readonly ttl: number;
  /** ms since the epoch, updated on every write and beat (a coarse clock for the record path). */
  clock = Date.now();

  private readonly _worker: string;
  private readonly _procStart: number | undefined;
  private readonly _joined: number;
  private _fd = -1;
  /** This file's generation. */
  get generation(): number {
    return this._gen;
  }
  private _gen = 0;
  private _size = 0;
  private _path = '';
  private readonly _enc = new Encoder();
  private _nextRow = 1;
  private _nextInstrument = 1;
  private _nextOwner = 1;
  private readonly _dirty: JournalCell[] = [];
  private _scheduled = false;
  private readonly _instruments: { record: InstrumentRecord }[] = [];
  private readonly _observed: ObservedMirror[] = [];
  private readonly _owners = new Map<object, Owner>();
  /**
   * Rows that ended and that the host may still sum (a forgotten node's, a
   * series restarted after a long idle, rows taken over from members that
   * ended), by row id: a rewrite writes them again. Maintenance drops those
   * the host no longer sums.
   */
  readonly retained = new Map<number, RewriteRow>();
  /** Members taken over (key → when) while their files remain, and the exits counted so far. */
  readonly adopted = new Map<string, number>();
  exits = 0;
  /** The one observed counter (body bytes), updated from the cells a flush writes. */
  private _bytes: ObservedMirror | undefined;
  private readonly _beat: NodeJS.Timeout | undefined;
  private readonly _eld: IntervalHistogram | undefined;
  private _closed = false;
  private _broken = false;
  private readonly _warn = new RateLimitedWarner();
  private readonly _flushNT = () => this.flush();
  /** Size at which the file is due for a rewrite (see REWRITE_AT_BYTES). */
  rewriteAt = REWRITE_AT_BYTES;
  /** Called once when the file passes rewriteAt (the cluster worker then maintains it). */
  onLarge: (() => void) | undefined = undefined;
  private _largeSignalled = false;

  constructor(options: MemberOptions) {
    this.dir = options.dir;
    this.ttl = options.ttl;
    this._worker = options.worker;
    this._procStart = options.procStart;
    this._joined = Date.now();
    // Sorting keys sorts members by age; the counter tells apart two registrations of one process in the same ms.
    this.key = `${String(this._joined).padStart(14, '0')}-${process.pid}-${joinedInProcess++}`;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this._open(1);
    try {
      this._eld = monitorEventLoopDelay({ resolution: 20 });
      this._eld.enable();
    } catch {
      this._eld = undefined;
    }
    const beatMs = options.beatMs ?? BEAT_MS;
    if (beatMs > 0) {
      this._beat = setInterval(() => this.beat(), beatMs);
      this._beat.unref();
    }
    this.beat();
  }

  /** The current file (tests and the reader's own-member shortcut). */
  get path(): string {
    return this._path;
  }

  get fileSize(): number {
    return this._size;
  }

  nextRowId(): number {
    return this._nextRow++;
  }

  private _header(gen: number): HeaderRecord {
    return { v: 1, member: this.key, pid: process.pid, procStart: this._procStart, worker: this._worker, joined: this._joined, ttl: this.ttl, gen };
  }

  private _open(gen: number): void {
    this._gen = gen;
    this._path = join(this.dir, `m-${this.key}.${gen}.log`);
    this._fd = openSync(this._path, 'a', 0o600);
    this._size = fstatSync(this._fd).size;
    this._enc.json(T_HEADER, this._header(gen));
    this._write();
  }

  // ---- Recorders --------------------------------------------------------------

  /** The store's recorders, written through to the file. */
  recorders(store: SeriesStore): Recorders {
    return {
      histogram: (name: string, info: HistogramInfo): HistogramRecorder => {
        const inner = store.histogram(name, info);
        if (!(inner instanceof HistogramInstrument)) return inner;
        const id = this._instrument({
          kind: 'histogram',
          ...this._descriptor(inner.stream),
          boundaries: [...inner.boundaries],
          recordMinMax: inner.recordMinMax,
          ...(inner.exponentialOptions !== undefined ? { exponential: { ...inner.exponentialOptions } } : {}),
        });
        return { cell: (attributes, owner) => this._adopt(new JournalHistogramCell(this, id, inner.cell(attributes, undefined), attributes, this._ownerOf(owner)), owner) };
      },
      counter: (name: string, info: InstrumentInfo): SumRecorder => {
        const inner = store.counter(name, info);
        if (!(inner instanceof SumInstrument)) return inner;
        const id = this._instrument({ kind: 'sum', ...this._descriptor(inner.stream), monotonic: inner.monotonic });
        return { cell: (attributes, owner) => this._adopt(new JournalSumCell(this, id, inner.cell(attributes, undefined), attributes, this._ownerOf(owner)), owner) };
      },
      observed: (name: string, info: InstrumentInfo, kind: ObservedKind, walk: Walk): Disposable => {
        const inner = store.observed(name, info, kind, walk);
        if (!(inner instanceof ObservedInstrument)) return inner;
        const id = this._instrument({ kind: 'observed', ...this._descriptor(inner.stream), observedKind: kind });
        const mirror: ObservedMirror = { id, kind, walk, points: new Map(), generation: 0 };
        this._observed.push(mirror);
        this._bytes = this._observed.filter(o => o.kind === 'counter').length === 1 ? this._observed.find(o => o.kind === 'counter') : undefined;
        return {
          dispose: () => {
            inner.dispose();
            const i = this._observed.indexOf(mirror);
            if (i >= 0) this._observed.splice(i, 1);
            for (const p of mirror.points.values()) this._endPoint(p, mirror);
            mirror.points.clear();
            if (this._bytes === mirror) this._bytes = undefined;
            this._schedule();
          },
        };
      },
    };
  }

  private _descriptor(s: { name: string; description: string; unit: string; valueType: number; type: string }) {
    return { name: s.name, description: s.description, unit: s.unit, valueType: s.valueType, type: s.type };
  }

  /** This member's instruments (a rewrite writes them again). */
  get instruments(): readonly InstrumentRecord[] {
    return this._instruments.map(i => i.record);
  }

  /** An instrument known only from an adopted member's rows (written by the next rewrite). */
  addInstrument(fields: Omit<InstrumentRecord, 'id'>): number {
    const record = { ...fields, id: this._nextInstrument++ } as InstrumentRecord;
    this._instruments.push({ record });
    return record.id;
  }

  private _instrument(fields: Omit<InstrumentRecord, 'id'>): number {
    const record = { id: this._nextInstrument++, ...fields } as InstrumentRecord;
    this._instruments.push({ record });
    this._enc.json(T_INSTRUMENT, record);
    this._schedule();
    return record.id;
  }

  private _ownerOf(object: CellOwner | undefined): Owner {
    const key: object = object ?? {};
    let owner = this._owners.get(key);
    if (owner === undefined) {
      owner = new Owner(this._nextOwner++, key, 0);
      this._owners.set(key, owner);
    }
    return owner;
  }

  /** A new cell: its row's definition goes out with the next write; the node's list gets the wrapper, so forgetting the node ends the row. */
  private _adopt<C extends JournalCell>(cell: C, owner: CellOwner | undefined): C {
    cell.owner.cells.add(cell);
    if (owner !== undefined) (owner.cells ??= []).push(cell);
    cell.began = this.clock;
    this._row(cell.id, cell.instrumentId, cell.attributes, cell.start, cell.owner.id);
    this._schedule();
    return cell;
  }

  private _row(r: number, i: number, a: Attributes, s: number, o: number): void {
    const row: RowRecord = { r, i, a: a as Record<string, unknown>, s, w: this.clock, o };
    this._enc.json(T_ROW, row);
  }

  // ---- The record path ---------------------------------------------------------

  /** A cell changed: write it on the next tick. */
  mark(cell: JournalCell): void {
    cell.dirty = true;
    this._dirty.push(cell);
    this._schedule();
  }

  private _schedule(): void {
    if (this._scheduled || this._closed) return;
    this._scheduled = true;
    process.nextTick(this._flushNT);
  }

  /**
   * A call on a node idle for longer than the ttl: the host may have
   * forgotten it, so its series start new rows (from the numbers now, which
   * the old rows keep), under a new owner id whose activity starts now.
   */
  rotate(owner: Owner): void {
    const last = owner.touched;
    owner.id = this._nextOwner++;
    owner.touched = this.clock;
    for (const cell of owner.cells) {
      this._retainCell(cell, last);
      this._enc.idTime(T_END, cell.id, this.clock);
      cell.snapshotBase();
      cell.id = this.nextRowId();
      cell.began = this.clock;
      this._row(cell.id, cell.instrumentId, cell.attributes, cell.start, owner.id);
      if (!cell.dirty) this.mark(cell);
    }
    for (const p of owner.points) {
      const mirror = this._bytes;
      if (mirror === undefined) continue;
      this._retainPoint(p, mirror.id, last);
      this._enc.idTime(T_END, p.id, this.clock);
      p.base = p.value;
      p.id = this.nextRowId();
      p.began = this.clock;
      this._row(p.id, mirror.id, p.attributes, p.start, owner.id);
    }
    this._schedule();
  }

  private _retainCell(cell: JournalCell, lastActive: number): void {
    const image = cell.image();
    if (image === undefined) return;
    this.retained.set(cell.id, {
      id: cell.id, instrumentId: cell.instrumentId, attributes: cell.attributes as Record<string, unknown>, start: cell.start, began: cell.began,
      owner: 0, numbers: image.numbers, exponential: image.exponential, lastWrite: lastActive === 0 ? this.clock : lastActive, ended: true,
    });
  }

  private _retainPoint(p: Point, instrumentId: number, lastActive: number): void {
    this.retained.set(p.id, {
      id: p.id, instrumentId, attributes: p.attributes as Record<string, unknown>, start: p.start, began: p.began,
      owner: 0, numbers: Float64Array.of(p.value - p.base), exponential: undefined, lastWrite: Math.max(lastActive, p.written), ended: true,
    });
  }

  /** The node was forgotten (or the cell released): the row ends with what it holds. */
  ended(cell: JournalCell): void {
    if (cell.dirty) {
      cell.encode(this._enc, this.clock);
      cell.owner.touched = this.clock;
    }
    this._retainCell(cell, cell.owner.touched);
    cell.ended = true;
    this._enc.idTime(T_END, cell.id, this.clock);
    const owner = cell.owner;
    owner.cells.delete(cell);
    if (owner.cells.size === 0 && owner.points.size === 0) this._owners.delete(owner.object);
    this._schedule();
  }

  /** Write what changed since the last write, in one write(2). */
  flush(): void {
    this._scheduled = false;
    try {
      const now = Date.now();
      this.clock = now;
      const enc = this._enc;
      const dirty = this._dirty;
      let seen: Set<Series> | undefined;
      for (let k = 0; k < dirty.length; k++) {
        const cell = dirty[k]!;
        cell.dirty = false;
        if (cell.ended) continue;
        cell.encode(enc, now);
        cell.owner.touched = now;
        // The call's body bytes were added after its record: write them with it.
        if (this._bytes !== undefined) {
          const series = seriesOf(cell);
          seen ??= new Set();
          if (series !== undefined && !seen.has(series)) {
            seen.add(series);
            const io = ioAttrsOf(series);
            if (io !== undefined) {
              this._point(this._bytes, io[0], series.txBytes, series.startMs, cell.owner, now);
              this._point(this._bytes, io[1], series.rxBytes, series.startMs, cell.owner, now);
            }
          }
        }
      }
      dirty.length = 0;
      this._write();
    } catch (err) {
      this._failed(err);
    }
  }

  /** An observed point's value: written when it changed (a new point gets its row first). */
  private _point(mirror: ObservedMirror, attributes: Attributes, value: number, startMs: number, owner: Owner | undefined, now: number): Point {
    let p = mirror.points.get(attributes);
    if (p === undefined) {
      p = new Point(this.nextRowId(), attributes, value, owner, now);
      p.began = now;
      p.start = startMs;
      if (owner !== undefined) owner.points.add(p);
      mirror.points.set(attributes, p);
      this._row(p.id, mirror.id, attributes, startMs, owner?.id ?? 0);
      this._enc.data(p.id, now, [value], 0, 1, undefined, 0, undefined);
      return p;
    }
    if (p.owner === undefined && owner !== undefined) {
      p.owner = owner;
      owner.points.add(p);
    }
    if (p.value !== value) {
      // A counter point of no node idle past the ttl restarts like a cell (see rotate()).
      if (mirror.kind === 'counter' && p.owner === undefined && this.ttl > 0 && now - p.written > this.ttl) {
        this._retainPoint(p, mirror.id, p.written);
        this._enc.idTime(T_END, p.id, now);
        p.base = p.value;
        p.id = this.nextRowId();
        p.began = now;
        this._row(p.id, mirror.id, attributes, p.start, 0);
      }
      p.value = value;
      p.written = now;
      this._enc.data(p.id, now, [value - p.base], 0, 1, undefined, 0, undefined);
    }
    return p;
  }

  private _endPoint(p: Point, mirror: ObservedMirror): void {
    if (mirror.kind === 'counter') this._retainPoint(p, mirror.id, p.owner?.touched ?? p.written);
    this._enc.idTime(T_END, p.id, this.clock);
    if (p.owner !== undefined) {
      p.owner.points.delete(p);
      if (p.owner.cells.size === 0 && p.owner.points.size === 0) this._owners.delete(p.owner.object);
    }
  }

  /**
   * The observed values now (in-flight counts, node up, body bytes), written
   * where they changed; points no longer observed end. Runs every beat, and
   * before this process reads the group (its own in-flight is then exact).
   */
  snapshot(): void {
    if (this._closed) return;
    try {
      const now = Date.now();
      this.clock = now;
      for (const mirror of this._observed) {
        const generation = ++mirror.generation;
        mirror.walk((attributes, value, startMs) => {
          this._point(mirror, attributes, value, startMs, undefined, now).seen = generation;
        }, false);
        for (const [attributes, p] of mirror.points) {
          if (p.seen === generation) continue;
          mirror.points.delete(attributes);
          this._endPoint(p, mirror);
        }
      }
      // A node with calls in flight is active however long they take.
      if (this.ttl > 0) {
        for (const owner of this._owners.values()) {
          if (owner.touched !== 0 && now - owner.touched > this.ttl / 4 && owner.active) {
            owner.touched = now;
            this._enc.idTime(T_TOUCH, owner.id, now);
          }
        }
      }
      this._write();
    } catch (err) {
      this._failed(err);
    }
  }

  /** Every beat: the observed values, then memory and event loop delay. */
  beat(): void {
    if (this._closed) return;
    this.snapshot();
    try {
      const eld = this._eld;
      const p99 = eld !== undefined && eld.count > 0 ? eld.percentile(99) / 1e9 : 0;
      const max = eld !== undefined && eld.count > 0 ? eld.max / 1e9 : 0;
      eld?.reset();
      this._enc.beat({ time: Date.now(), rss: process.memoryUsage.rss(), heapUsed: NaN, eldP99: p99, eldMax: max });
      this._write();
    } catch (err) {
      this._failed(err);
    }
  }

  private _write(): void {
    const enc = this._enc;
    if (enc.length === 0) return;
    if (this._broken || this._fd < 0) {
      enc.reset();
      return;
    }
    const bytes = enc.bytes();
    let written = 0;
    try {
      written = writeSync(this._fd, bytes, 0, bytes.length);
    } catch (err) {
      this._undoPartial();
      enc.reset();
      throw err;
    }
    enc.reset();
    if (written !== bytes.length) {
      this._undoPartial();
      throw new Error(`short write (${written} of ${bytes.length} bytes)`);
    }
    this._size += written;
    if (this._size > this.rewriteAt && !this._largeSignalled && this.onLarge !== undefined) {
      this._largeSignalled = true;
      const onLarge = this.onLarge;
      setImmediate(onLarge).unref();
    }
  }

  /**
   * Replace the file with a new generation holding this member's state now:
   * its live series, its observed points, the rows it retains, and whom it
   * took over. The new file is written whole under a temporary name and
   * renamed: a reader sees the old generation or the new one, never a part.
   * Row ids are kept, so the cells go on writing as before. What a reader
   * reads per scrape is then bounded by the state, not by the number of calls.
   */
  rewrite(): void {
    if (this._closed || this._broken) return;
    this.flush();
    const gen = this._gen + 1;
    const enc = new Encoder(Math.max(64 * 1024, Math.min(this._size, 64 * 1024 * 1024)));
    const now = Date.now();
    enc.json(T_HEADER, this._header(gen));
    for (const i of this._instruments) enc.json(T_INSTRUMENT, i.record);
    const write = (r: RewriteRow) => {
      const row: RowRecord = { r: r.id, i: r.instrumentId, a: r.attributes as Record<string, unknown>, s: r.start, w: r.began, o: r.owner };
      enc.json(T_ROW, row);
      if (r.numbers !== undefined) enc.data(r.id, r.lastWrite, r.numbers, 0, r.numbers.length, undefined, 0, r.exponential);
      if (r.ended) enc.idTime(T_END, r.id, now);
    };
    for (const owner of this._owners.values()) {
      for (const cell of owner.cells) {
        const image = cell.image();
        write({ id: cell.id, instrumentId: cell.instrumentId, attributes: cell.attributes as Record<string, unknown>, start: cell.start, began: cell.began, owner: owner.id, numbers: image?.numbers, exponential: image?.exponential, lastWrite: owner.touched === 0 ? cell.began : owner.touched, ended: false });
      }
      if (owner.touched !== 0) enc.idTime(T_TOUCH, owner.id, owner.touched);
    }
    for (const mirror of this._observed) {
      for (const p of mirror.points.values()) {
        write({ id: p.id, instrumentId: mirror.id, attributes: p.attributes as Record<string, unknown>, start: p.start, began: p.began, owner: p.owner?.id ?? 0, numbers: Float64Array.of(p.value - p.base), exponential: undefined, lastWrite: p.written, ended: false });
      }
    }
    for (const r of this.retained.values()) write(r);
    const adopt: AdoptRecord = { members: [...this.adopted], exits: this.exits };
    if (adopt.members.length > 0 || adopt.exits > 0) enc.json(T_ADOPT, adopt);
    enc.beat({ time: now, rss: process.memoryUsage.rss(), heapUsed: NaN, eldP99: 0, eldMax: 0 });
    const final = join(this.dir, `m-${this.key}.${gen}.log`);
    const temporary = join(this.dir, `.m-${this.key}.${gen}.tmp`);
    try {
      writeFileSync(temporary, enc.bytes(), { mode: 0o600 });
      renameSync(temporary, final);
    } catch (err) {
      try {
        unlinkSync(temporary);
      } catch {
        // Not made.
      }
      this._failed(err);
      return;
    }
    const old = this._path;
    const oldFd = this._fd;
    this._gen = gen;
    this._path = final;
    this._fd = openSync(final, 'a', 0o600);
    this._size = fstatSync(this._fd).size;
    this.rewriteAt = Math.max(REWRITE_AT_BYTES, 4 * this._size);
    this._largeSignalled = false;
    try {
      closeSync(oldFd);
      unlinkSync(old);
    } catch (err) {
      logger.debug(`cluster: rewrite: ${describe(err)}`);
    }
  }

  /** Cut a partly written record off, so that readers never parse past it. */
  private _undoPartial(): void {
    try {
      ftruncateSync(this._fd, this._size);
    } catch {
      this._broken = true;
    }
  }

  private _failed(err: unknown): void {
    this._warn.warn('cluster-write', () => `cluster: cannot write this worker's state to ${this._path} (${describe(err)}); the host's sums miss what it records until this is fixed`);
  }

  /**
   * Leave the group: write what is pending and a goodbye (readers then count
   * this worker as gone: its in-flight counts drop, its totals stay). Safe to
   * call from an 'exit' handler (synchronous).
   */
  close(): void {
    if (this._closed) return;
    try {
      this.flush();
      this.snapshot();
      this._enc.bye(Date.now());
      this._write();
    } catch (err) {
      this._failed(err);
    }
    this._closed = true;
    clearInterval(this._beat);
    this._eld?.disable();
    if (this._fd >= 0) {
      try {
        closeSync(this._fd);
      } catch (err) {
        logger.debug(`cluster: close: ${describe(err)}`);
      }
      this._fd = -1;
    }
  }
}

/** The node × transport series a cell of the gateway's belongs to (the body bytes live there). */
function seriesOf(cell: JournalCell): Series | undefined {
  const transports = (cell.owner.object as { transports?: unknown }).transports;
  if (!(transports instanceof Map)) return undefined;
  const s = transports.get(cell.attributes[ATTR_TRANSPORT]) as Series | undefined;
  return s !== undefined && typeof s.txBytes === 'number' ? s : undefined;
}
