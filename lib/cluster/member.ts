/**
 * A worker's side of the per-host view: everything its store records is
 * written through to its state files in the group's directory, where the
 * process that answers a scrape reads them (reader.ts) and sums them with the
 * other workers' (host.ts).
 *
 * Why files per worker and not IPC: PM2's daemon is the node:cluster
 * primary and runs none of our code, so nothing can gather the workers'
 * state in the primary; a worker killed with SIGKILL cannot hand its state
 * over, but what it wrote stays readable; and a worker that hangs
 * (SIGSTOP) is read without asking it anything.
 *
 * Two files per worker:
 * - `m-<key>.<gen>.log`, appended: the definitions (instruments, one record
 *   per series with the place of its numbers), ends of series with their
 *   last numbers, beats. It grows with new series, not with calls;
 * - `m-<key>.<gen>.dat`: the numbers, one fixed slot per series, rewritten
 *   in place. A node's slots sit together, so what one call changed (its
 *   duration row, its bytes) is one write(2). A slot carries a sequence
 *   number at both ends: a reader that finds them different read it while it
 *   was being written, and takes it next time.
 * A scrape thus reads the workers' state, whatever the number of calls.
 *
 * When: the store's cells are wrapped here. A record marks its cell dirty
 * and the dirty slots are written on the next tick (process.nextTick),
 * before any timer, I/O callback or promise job that follows the record: on
 * the automatic HTTP path the record is made on the upstream response's
 * 'close', and the gateway's own answer to its client comes after that (in
 * the promise job or 'end' handler the gateway runs later), so a call is on
 * file before its answer leaves the worker. No IPC per call: one write(2)
 * per node written in a tick.
 *
 * Forgetting: a series stays current while its node is active (each write,
 * and each beat while the node has calls in flight); a reader treats it as
 * ending `ttl` (nodeIdleTtl) after that. A call on a node that was idle
 * longer than that starts new rows (the old ones keep what was counted
 * before), so a node the host forgot starts again from zero, as in one
 * process.
 */
import { closeSync, fstatSync, mkdirSync, openSync, ftruncateSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Attributes } from '@opentelemetry/api';
import { withAttribute, type CellOwner, type Disposable, type HistogramCell, type HistogramInfo, type HistogramRecorder, type InstrumentInfo, type ObservedKind, type Recorders, type Releasable, type SumCell, type SumRecorder, type Walk } from '../core/recorder';
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
  slotBuffer,
  slotSize,
  writeSlot,
  T_HEADER,
  T_INSTRUMENT,
  T_ROW,
  T_TOUCH,
  T_ADOPT,
  type AdoptRecord,
  type ExponentialShape,
  type HeaderRecord,
  type InstrumentRecord,
  type RowRecord,
} from './journal';

/** A worker writes a beat (memory, event loop delay, in-flight counts) this often. */
export const BEAT_MS = 1000;

/** The log is rewritten once it grows past this, or 4× its size after the last rewrite (and the data file likewise, when its dead slots pass it). */
export const REWRITE_AT_BYTES = 4 * 1024 * 1024;

/** Slots of one node are taken from runs of this many bytes (a run never crosses a page). */
const RUN_BYTES = 1024;
const PAGE = 4096;
/** The flattened exponential histogram: 10 numbers and the buckets of both signs. */
const exponentialRoom = (maxSize: number) => 10 + 2 * maxSize;

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

/** A run of slots in the data file (one node's, or shared by series of no node). */
class Run {
  readonly holders: Slotted[] = [];
  next: number;
  dirtyFrom = Infinity;
  dirtyTo = -Infinity;
  constructor(readonly start: number, readonly end: number) {
    this.next = start;
  }
}

/** The state of one owner (a node): its cells and points, and when it was last active. */
class Owner {
  readonly cells = new Set<JournalCell>();
  readonly points = new Set<Point>();
  run: Run | undefined = undefined;
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

/** Something with a slot in the data file: a stored series, or an observed point. */
abstract class Slotted {
  id = 0;
  slot = -1;
  n = 0;
  room = 0;
  run: Run | undefined = undefined;
  seq = 0;
  time = 0;
  dirty = false;
  ended = false;
  /** When its row began, ms since the epoch. */
  began = 0;
  /** Writes the numbers now into `out` (n of them); returns the flattened exponential histogram, if any. */
  abstract numbersInto(out: Float64Array): Float64Array | undefined;
}

/** A stored series (histogram or sum row), written through. */
abstract class JournalCell extends Slotted implements Releasable {
  /** The numbers written before the last restart of this series (see Member.rotate). */
  base: Float64Array | undefined = undefined;
  baseExponential: ExponentialCell | undefined = undefined;
  constructor(
    readonly member: Member,
    readonly instrumentId: number,
    readonly attributes: Attributes,
    readonly owner: Owner,
  ) {
    super();
  }
  /** The store's start time of the series (ms since the epoch). */
  abstract get start(): number;
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
    const h = inner.instrument;
    this.n = h.START;
    this.room = h.exponentialOptions === undefined ? 0 : exponentialRoom(h.exponentialOptions.maxSize);
  }

  record(value: number): void {
    const m = this.member;
    if (m.ttl > 0 && this.owner.touched !== 0 && m.clock - this.owner.touched > m.ttl) m.rotate(this.owner);
    this.inner.record(value);
    if (!this.dirty) m.mark(this);
  }

  get start(): number {
    const h = this.inner.instrument;
    return h.rows.block(this.inner.row)[h.rows.offset(this.inner.row) + h.START]!;
  }

  numbersInto(out: Float64Array): Float64Array | undefined {
    const h = this.inner.instrument;
    const row = this.inner.row;
    const d = h.rows.block(row);
    const o = h.rows.offset(row);
    // counts…, sum, min, max: min and max are not subtracted.
    for (let i = 0; i < h.START; i++) out[i] = d[o + i]! - (this.base !== undefined && i < h.MIN ? this.base[i]! : 0);
    const cell = row === 0 ? undefined : h.exponential?.[row];
    if (cell === undefined) return undefined;
    return flattenExponential((this.baseExponential !== undefined ? cell.diff(this.baseExponential) : cell).value() as unknown as ExponentialShape);
  }

  snapshotBase(): void {
    const h = this.inner.instrument;
    const o = h.rows.offset(this.inner.row);
    this.base = h.rows.block(this.inner.row).slice(o, o + h.START);
    this.baseExponential = h.exponential?.[this.inner.row]?.clone();
  }

  releaseInner(): void {
    this.inner.release();
  }
}

class JournalSumCell extends JournalCell implements SumCell {
  constructor(member: Member, instrumentId: number, readonly inner: SumSeries, attributes: Attributes, owner: Owner) {
    super(member, instrumentId, attributes, owner);
    this.n = 1;
  }

  add(value: number): void {
    const m = this.member;
    if (m.ttl > 0 && this.owner.touched !== 0 && m.clock - this.owner.touched > m.ttl) m.rotate(this.owner);
    this.inner.add(value);
    if (!this.dirty) m.mark(this);
  }

  get start(): number {
    const rows = this.inner.instrument.rows;
    return rows.block(this.inner.row)[rows.offset(this.inner.row) + SUM_START]!;
  }

  numbersInto(out: Float64Array): undefined {
    const rows = this.inner.instrument.rows;
    out[0] = rows.block(this.inner.row)[rows.offset(this.inner.row)]! - (this.base?.[0] ?? 0);
    return undefined;
  }

  snapshotBase(): void {
    const rows = this.inner.instrument.rows;
    const o = rows.offset(this.inner.row);
    this.base = rows.block(this.inner.row).slice(o, o + 1);
  }

  releaseInner(): void {
    this.inner.release();
  }
}

/** One observed point (in-flight, node up, bytes) as last written. */
class Point extends Slotted {
  seen = 0;
  /** The value written before the last restart of a counter point. */
  base = 0;
  constructor(
    readonly instrumentId: number,
    readonly attributes: Attributes,
    public value: number,
    public owner: Owner | undefined,
    /** The start time of the point, ms since the epoch. */
    readonly start: number,
  ) {
    super();
    this.n = 1;
  }

  numbersInto(out: Float64Array): undefined {
    out[0] = this.value - this.base;
    return undefined;
  }
}

interface ObservedMirror {
  readonly id: number;
  readonly kind: ObservedKind;
  readonly walk: Walk;
  readonly points: Map<Attributes, Point>;
  generation: number;
}

export class Member {
  /** Unique per process on the host; in the file names. */
  readonly key: string;
  readonly dir: string;
  readonly ttl: number;
  /** ms since the epoch, updated on every write and beat (a coarse clock for the record path). */
  clock = Date.now();
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
  /** Log size at which it is due for a rewrite (see REWRITE_AT_BYTES). */
  rewriteAt = REWRITE_AT_BYTES;
  /** Called once when the files pass their sizes for a rewrite (the cluster worker then rewrites them). */
  onLarge: (() => void) | undefined = undefined;

  private readonly _worker: string;
  private readonly _procStart: number | undefined;
  private readonly _joined: number;
  private _fd = -1;
  private _dataFd = -1;
  private _gen = 0;
  private _size = 0;
  private _dataEnd = 0;
  /** Bytes of the data file in runs whose node is gone. */
  private _dataDead = 0;
  private _path = '';
  private readonly _enc = new Encoder();
  private _slots = slotBuffer(64 * 1024);
  /** The series whose bytes a flush wrote (reused). */
  private readonly _seen = new Set<Series>();
  private _numbers = new Float64Array(64);
  private _nextRow = 1;
  private _nextInstrument = 1;
  private _nextOwner = 1;
  private readonly _dirty: Slotted[] = [];
  private readonly _dirtyRuns: Run[] = [];
  private _scheduled = false;
  private readonly _instruments: { record: InstrumentRecord }[] = [];
  private readonly _observed: ObservedMirror[] = [];
  private readonly _owners = new Map<object, Owner>();
  /** The run of series of no node. */
  private _loose: Run | undefined;
  /** The one observed counter (body bytes), updated from the cells a flush writes. */
  private _bytes: ObservedMirror | undefined;
  private readonly _beat: NodeJS.Timeout | undefined;
  private readonly _eld: IntervalHistogram | undefined;
  private _closed = false;
  private _broken = false;
  private _largeSignalled = false;
  private readonly _warn = new RateLimitedWarner();
  private readonly _flushNT = () => this.flush();

  constructor(options: MemberOptions) {
    this.dir = options.dir;
    this.ttl = options.ttl;
    this._worker = options.worker;
    this._procStart = options.procStart;
    this._joined = Date.now();
    // Sorting keys sorts members by age; the counter tells apart two registrations of one process in the same ms.
    this.key = `${String(this._joined).padStart(14, '0')}-${process.pid}-${joinedInProcess++}`;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this._gen = 1;
    this._path = join(this.dir, `m-${this.key}.1.log`);
    this._dataFd = openSync(dataPath(this._path), 'w+', 0o600);
    this._fd = openSync(this._path, 'a', 0o600);
    this._enc.json(T_HEADER, this._header(1));
    this._write();
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

  /** The current log file. */
  get path(): string {
    return this._path;
  }

  /** Bytes of the log. */
  get fileSize(): number {
    return this._size;
  }

  /** Bytes of the data file. */
  get dataSize(): number {
    return this._dataEnd;
  }

  /** The files' generation. */
  get generation(): number {
    return this._gen;
  }

  nextRowId(): number {
    return this._nextRow++;
  }

  private _header(gen: number): HeaderRecord {
    return { v: 1, member: this.key, pid: process.pid, procStart: this._procStart, worker: this._worker, joined: this._joined, ttl: this.ttl, gen };
  }

  // ---- Recorders --------------------------------------------------------------

  /** The store's recorders, written through to the files. */
  recorders(store: SeriesStore): Recorders {
    return {
      histogram: (name: string, info: HistogramInfo): HistogramRecorder => {
        const inner = store.histogram(name, info);
        if (!(inner instanceof HistogramInstrument)) return inner;
        const id = this._instrument({
          kind: 'histogram',
          ...descriptor(inner.stream),
          boundaries: [...inner.boundaries],
          recordMinMax: inner.recordMinMax,
          ...(inner.exponentialOptions !== undefined ? { exponential: { ...inner.exponentialOptions } } : {}),
        });
        const cell = (attributes: Attributes, owner: CellOwner | undefined) =>
          this._cell(new JournalHistogramCell(this, id, inner.cell(attributes, undefined), attributes, this._ownerOf(owner)), owner);
        return { cell, cellWith: (base, key, value, owner) => cell(withAttribute(base, key, value), owner) };
      },
      counter: (name: string, info: InstrumentInfo): SumRecorder => {
        const inner = store.counter(name, info);
        if (!(inner instanceof SumInstrument)) return inner;
        const id = this._instrument({ kind: 'sum', ...descriptor(inner.stream), monotonic: inner.monotonic });
        const cell = (attributes: Attributes, owner: CellOwner | undefined) =>
          this._cell(new JournalSumCell(this, id, inner.cell(attributes, undefined), attributes, this._ownerOf(owner)), owner);
        return { cell, cellWith: (base, key, value, owner) => cell(withAttribute(base, key, value), owner) };
      },
      observed: (name: string, info: InstrumentInfo, kind: ObservedKind, walk: Walk): Disposable => {
        const inner = store.observed(name, info, kind, walk);
        if (!(inner instanceof ObservedInstrument)) return inner;
        const id = this._instrument({ kind: 'observed', ...descriptor(inner.stream), observedKind: kind });
        const mirror: ObservedMirror = { id, kind, walk, points: new Map(), generation: 0 };
        this._observed.push(mirror);
        const counters = this._observed.filter(o => o.kind === 'counter');
        this._bytes = counters.length === 1 ? counters[0] : undefined;
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

  /** A new cell: its row's definition and slot; the node's list gets the wrapper, so forgetting the node ends the row. */
  private _cell<C extends JournalCell>(cell: C, owner: CellOwner | undefined): C {
    cell.owner.cells.add(cell);
    this._place(cell, cell.owner);
    this._define(cell, cell.instrumentId, cell.attributes, cell.start, cell.owner.id);
    return cell;
  }

  /** A new row for `s` (a new id, its slot kept), defined in the log. */
  private _define(s: Slotted, instrumentId: number, attributes: Attributes, start: number, owner: number): void {
    s.id = this.nextRowId();
    s.began = this.clock;
    s.seq = 0;
    const row: RowRecord = { r: s.id, i: instrumentId, a: attributes as Record<string, unknown>, s: start, w: s.began, o: owner, d: s.slot, n: s.n, m: s.room };
    this._enc.json(T_ROW, row);
    this.mark(s);
  }

  /** A slot for `s`: in its node's run (so that one write covers a call), else in the run of series of no node. */
  private _place(s: Slotted, owner: Owner | undefined): void {
    const size = slotSize(s.n, s.room);
    let run = owner === undefined ? this._loose : owner.run;
    if (run === undefined || run.next + size > run.end) {
      let start = this._dataEnd;
      const length = Math.max(RUN_BYTES, size);
      if (length <= PAGE && Math.floor(start / PAGE) !== Math.floor((start + length - 1) / PAGE)) start = Math.ceil(start / PAGE) * PAGE;
      run = new Run(start, start + length);
      this._dataEnd = run.end;
      if (owner === undefined) this._loose = run;
      else owner.run = run;
    }
    s.slot = run.next;
    s.run = run;
    run.next += size;
    run.holders.push(s);
  }

  // ---- The record path ---------------------------------------------------------

  /** A slot changed: write it on the next tick. */
  mark(s: Slotted): void {
    if (s.dirty) return;
    s.dirty = true;
    this._dirty.push(s);
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
      this._endRow(cell, cell.instrumentId, cell.attributes, cell.start, last);
      cell.snapshotBase();
      this._define(cell, cell.instrumentId, cell.attributes, cell.start, owner.id);
    }
    const bytes = this._bytes;
    if (bytes !== undefined) {
      for (const p of owner.points) {
        this._endRow(p, bytes.id, p.attributes, p.start, Math.max(last, p.time));
        p.base = p.value;
        this._define(p, bytes.id, p.attributes, p.start, owner.id);
      }
    }
    this._schedule();
  }

  /** The row of `s` ends with its numbers now (written with the end, kept in `retained` for rewrites). */
  private _endRow(s: Slotted, instrumentId: number, attributes: Attributes, start: number, lastActive: number): void {
    if (this._numbers.length < s.n) this._numbers = new Float64Array(s.n * 2);
    const exponential = s.numbersInto(this._numbers);
    const numbers = this._numbers.slice(0, s.n);
    const active = lastActive === 0 ? this.clock : lastActive;
    this._enc.end(s.id, active, numbers, exponential);
    this.retained.set(s.id, {
      id: s.id, instrumentId, attributes: attributes as Record<string, unknown>, start, began: s.began,
      owner: 0, numbers, exponential, lastWrite: active, ended: true,
    });
  }

  /** The node was forgotten (or the cell released): the row ends with what it holds. */
  ended(cell: JournalCell): void {
    const owner = cell.owner;
    if (cell.dirty) owner.touched = this.clock;
    this._endRow(cell, cell.instrumentId, cell.attributes, cell.start, owner.touched);
    cell.ended = true;
    this._unplace(cell);
    owner.cells.delete(cell);
    this._forgetOwner(owner);
    this._schedule();
  }

  private _unplace(s: Slotted): void {
    const run = s.run;
    if (run === undefined) return;
    const i = run.holders.indexOf(s);
    if (i >= 0) run.holders.splice(i, 1);
    if (run.holders.length === 0) this._dataDead += run.end - run.start;
    s.run = undefined;
  }

  private _forgetOwner(owner: Owner): void {
    if (owner.cells.size === 0 && owner.points.size === 0) this._owners.delete(owner.object);
  }

  /** Write what changed: the log's new records, then each run's changed slots in one write. */
  flush(): void {
    this._scheduled = false;
    try {
      const now = Date.now();
      this.clock = now;
      const dirty = this._dirty;
      const seen = this._seen;
      // A cell's call carried body bytes, added after its record: write them with it.
      for (let k = 0; k < dirty.length; k++) {
        const s = dirty[k]!;
        if (s instanceof JournalCell && !s.ended) {
          s.owner.touched = now;
          if (this._bytes !== undefined) {
            const series = seriesOf(s);
            if (series !== undefined) {
              if (!seen.has(series)) {
                seen.add(series);
                const io = ioAttrsOf(series);
                if (io !== undefined) {
                  this._point(this._bytes, io[0], series.txBytes, series.nodeEntry.startMs, s.owner, now);
                  this._point(this._bytes, io[1], series.rxBytes, series.nodeEntry.startMs, s.owner, now);
                }
              }
            }
          }
        }
      }
      for (let k = 0; k < dirty.length; k++) {
        const s = dirty[k]!;
        s.dirty = false;
        if (s.ended || s.run === undefined) continue;
        s.seq++;
        s.time = now;
        const run = s.run;
        if (run.dirtyFrom === Infinity) this._dirtyRuns.push(run);
        if (s.slot < run.dirtyFrom) run.dirtyFrom = s.slot;
        const end = s.slot + slotSize(s.n, s.room);
        if (end > run.dirtyTo) run.dirtyTo = end;
      }
      dirty.length = 0;
      seen.clear();
      // Definitions first: a reader never meets numbers of a row it does not know.
      this._write();
      this._writeSlots();
    } catch (err) {
      this._failed(err);
    }
  }

  private _writeSlots(): void {
    for (const run of this._dirtyRuns) {
      const from = run.dirtyFrom;
      const to = run.dirtyTo;
      run.dirtyFrom = Infinity;
      run.dirtyTo = -Infinity;
      if (this._broken) continue;
      const length = to - from;
      if (this._slots.buf.length < length) this._slots = slotBuffer(Math.max(length, 2 * this._slots.buf.length));
      const { buf, f64, u32 } = this._slots;
      buf.fill(0, 0, length);
      // The unchanged slots between are written as they are (same numbers, same sequence).
      for (const s of run.holders) {
        if (s.slot < from || s.slot >= to) continue;
        if (this._numbers.length < s.n) this._numbers = new Float64Array(s.n * 2);
        const exponential = s.numbersInto(this._numbers);
        writeSlot(f64, u32, s.slot - from, s.seq, s.id, s.time, this._numbers, s.n, exponential, s.room);
      }
      const written = writeSync(this._dataFd, buf, 0, length, from);
      if (written !== length) throw new Error(`short write (${written} of ${length} bytes)`);
    }
    this._dirtyRuns.length = 0;
    this._checkLarge();
  }

  /** An observed point's value: written when it changed (a new point gets its row and slot first). */
  private _point(mirror: ObservedMirror, attributes: Attributes, value: number, startMs: number, owner: Owner | undefined, now: number): Point {
    let p = mirror.points.get(attributes);
    if (p === undefined) {
      p = new Point(mirror.id, attributes, value, owner, startMs);
      if (owner !== undefined) owner.points.add(p);
      mirror.points.set(attributes, p);
      this._place(p, owner);
      this._define(p, mirror.id, attributes, startMs, owner?.id ?? 0);
      return p;
    }
    if (p.owner === undefined && owner !== undefined) {
      p.owner = owner;
      owner.points.add(p);
    }
    if (p.value !== value) {
      // A counter point of no node idle past the ttl restarts like a cell (see rotate()).
      if (mirror.kind === 'counter' && p.owner === undefined && this.ttl > 0 && p.time !== 0 && now - p.time > this.ttl) {
        this._endRow(p, mirror.id, attributes, p.start, p.time);
        p.base = p.value;
        this._define(p, mirror.id, attributes, p.start, 0);
      }
      p.value = value;
      this.mark(p);
    }
    return p;
  }

  private _endPoint(p: Point, mirror: ObservedMirror): void {
    if (mirror.kind === 'counter') this._endRow(p, mirror.id, p.attributes, p.start, p.owner?.touched ?? p.time);
    else this._enc.end(p.id, this.clock, undefined, undefined);
    p.ended = true;
    this._unplace(p);
    if (p.owner !== undefined) {
      p.owner.points.delete(p);
      this._forgetOwner(p.owner);
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
      this.flush();
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
    this._checkLarge();
  }

  private _checkLarge(): void {
    const large = this._size > this.rewriteAt || (this._dataDead > REWRITE_AT_BYTES && this._dataDead > this._dataEnd / 2);
    if (large && !this._largeSignalled && this.onLarge !== undefined) {
      this._largeSignalled = true;
      setImmediate(this.onLarge).unref();
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
   * Replace the files with a new generation holding this member's state
   * now: its live series (their slots laid out afresh), its observed points,
   * the rows it retains, and whom it took over. Both files are written whole
   * under temporary names; the log is renamed last, so a reader sees the old
   * generation or the new one, never a part. Row ids are kept.
   */
  rewrite(): void {
    if (this._closed || this._broken) return;
    this.flush();
    const gen = this._gen + 1;
    const enc = new Encoder(Math.max(64 * 1024, Math.min(this._size, 64 * 1024 * 1024)));
    const now = Date.now();
    enc.json(T_HEADER, this._header(gen));
    for (const i of this._instruments) enc.json(T_INSTRUMENT, i.record);
    // Lay the slots out again: each node's together, no dead runs.
    const live: { s: Slotted; instrumentId: number; attributes: Attributes; start: number; owner: number }[] = [];
    this._dataEnd = 0;
    this._dataDead = 0;
    this._loose = undefined;
    for (const owner of this._owners.values()) {
      owner.run = undefined;
      for (const cell of owner.cells) {
        this._place(cell, owner);
        live.push({ s: cell, instrumentId: cell.instrumentId, attributes: cell.attributes, start: cell.start, owner: owner.id });
      }
      for (const p of owner.points) {
        this._place(p, owner);
        live.push({ s: p, instrumentId: p.instrumentId, attributes: p.attributes, start: p.start, owner: owner.id });
      }
      if (owner.touched !== 0) enc.idTime(T_TOUCH, owner.id, owner.touched);
    }
    for (const mirror of this._observed) {
      for (const p of mirror.points.values()) {
        if (p.owner !== undefined) continue;
        this._place(p, undefined);
        live.push({ s: p, instrumentId: p.instrumentId, attributes: p.attributes, start: p.start, owner: 0 });
      }
    }
    const data = slotBuffer(this._dataEnd);
    for (const { s, instrumentId, attributes, start, owner } of live) {
      enc.json(T_ROW, { r: s.id, i: instrumentId, a: attributes as Record<string, unknown>, s: start, w: s.began, o: owner, d: s.slot, n: s.n, m: s.room } satisfies RowRecord);
      if (this._numbers.length < s.n) this._numbers = new Float64Array(s.n * 2);
      const exponential = s.numbersInto(this._numbers);
      s.seq = 1;
      if (s.time === 0) s.time = s.began;
      writeSlot(data.f64, data.u32, s.slot, s.seq, s.id, s.time, this._numbers, s.n, exponential, s.room);
    }
    for (const r of this.retained.values()) {
      enc.json(T_ROW, { r: r.id, i: r.instrumentId, a: r.attributes as Record<string, unknown>, s: r.start, w: r.began, o: r.owner, d: -1, n: 0, m: 0 } satisfies RowRecord);
      enc.end(r.id, r.lastWrite, r.numbers, r.exponential);
    }
    const adopt: AdoptRecord = { members: [...this.adopted], exits: this.exits };
    if (adopt.members.length > 0 || adopt.exits > 0) enc.json(T_ADOPT, adopt);
    enc.beat({ time: now, rss: process.memoryUsage.rss(), heapUsed: NaN, eldP99: 0, eldMax: 0 });
    const final = join(this.dir, `m-${this.key}.${gen}.log`);
    const temporary = join(this.dir, `.m-${this.key}.${gen}.tmp`);
    try {
      writeFileSync(dataPath(final), data.buf, { mode: 0o600 });
      writeFileSync(temporary, enc.bytes(), { mode: 0o600 });
      renameSync(temporary, final);
    } catch (err) {
      for (const f of [temporary, dataPath(final)]) {
        try {
          unlinkSync(f);
        } catch {
          // Not made.
        }
      }
      this._failed(err);
      this._broken = true;
      return;
    }
    const oldLog = this._path;
    const oldFd = this._fd;
    const oldDataFd = this._dataFd;
    this._gen = gen;
    this._path = final;
    this._fd = openSync(final, 'a', 0o600);
    this._dataFd = openSync(dataPath(final), 'r+');
    this._size = fstatSync(this._fd).size;
    this.rewriteAt = Math.max(REWRITE_AT_BYTES, 4 * this._size);
    this._largeSignalled = false;
    try {
      closeSync(oldFd);
      closeSync(oldDataFd);
      unlinkSync(oldLog);
      unlinkSync(dataPath(oldLog));
    } catch (err) {
      logger.debug(`cluster: rewrite: ${describe(err)}`);
    }
  }

  /**
   * Leave the group: write what is pending and a goodbye (readers then count
   * this worker as gone: its in-flight counts drop, its totals stay). Safe to
   * call from an 'exit' handler (synchronous).
   */
  close(): void {
    if (this._closed) return;
    try {
      this.snapshot();
      this._enc.bye(Date.now());
      this._write();
    } catch (err) {
      this._failed(err);
    }
    this._closed = true;
    clearInterval(this._beat);
    this._eld?.disable();
    for (const fd of [this._fd, this._dataFd]) {
      if (fd < 0) continue;
      try {
        closeSync(fd);
      } catch (err) {
        logger.debug(`cluster: close: ${describe(err)}`);
      }
    }
    this._fd = -1;
    this._dataFd = -1;
  }
}

/** The data file of a log file. */
export function dataPath(logPath: string): string {
  return logPath.replace(/\.log$/, '.dat');
}

function descriptor(s: { name: string; description: string; unit: string; valueType: number; type: string }) {
  return { name: s.name, description: s.description, unit: s.unit, valueType: s.valueType, type: s.type };
}

/** The node × transport series a cell of the gateway's belongs to (the body bytes live there). */
function seriesOf(cell: JournalCell): Series | undefined {
  const node = cell.owner.object as { series?: (transport: unknown) => Series | undefined };
  if (typeof node.series !== 'function') return undefined;
  const s = node.series(cell.attributes[ATTR_TRANSPORT]);
  return s !== undefined && typeof s.txBytes === 'number' ? s : undefined;
}
