/**
 * Reads the group's state files (member.ts writes them) into a mirror per
 * member, incrementally: each refresh parses only what was appended since
 * the last one, and starts over when a member rewrote its file (a new
 * generation).
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { describe, RateLimitedWarner } from '../core/diag';
import { processAlive } from './identity';
import { attributesKey, parseRecords, readSlot, slotBuffer, supersededData, T_ADOPT, T_BEAT, T_BYE, T_DATA, T_END, T_HEADER, T_INSTRUMENT, T_ROW, T_TOUCH, type BeatRecord, type HeaderRecord, type InstrumentRecord, type Parsed } from './journal';
import { BEAT_MS, dataPath } from './member';

/** A member whose last beat is older than this is not responding (stopped, or its event loop blocked). */
export const UNRESPONSIVE_AFTER_MS = 3 * BEAT_MS;

export const FILE_RE = /^m-(.+)\.(\d+)\.log$/;
const READ_CHUNK = 1024 * 1024;

/** What a row adds to (a host series): told when the row changes. */
export interface RowSink {
  dirty: boolean;
}

/** One series of one member, as last written. */
export class MirrorRow {
  numbers: Float64Array | undefined = undefined;
  exponential: Float64Array | undefined = undefined;
  /** ms since the epoch of the last DATA. */
  lastWrite: number;
  ended = false;
  /** Set by the host view: the host series this row adds to; whether its last sum included this row. */
  host: RowSink | undefined = undefined;
  summed = false;
  /** Its slot in the data file (-1: none), its size, and the sequence number last read there. */
  slot = -1;
  n = 0;
  room = 0;
  seq = 0;
  constructor(
    readonly member: MemberMirror,
    readonly id: number,
    readonly instrument: InstrumentRecord,
    readonly attributes: Readonly<Record<string, unknown>>,
    /** Canonical key of the attributes. */
    readonly key: string,
    /** The store's start time of the series, ms since the epoch. */
    readonly start: number,
    /** When the row began, ms since the epoch. */
    readonly began: number,
    readonly owner: number,
  ) {
    this.lastWrite = began;
  }

  /** When the row's series was last active in its member (its node's activity, when it has one). */
  get active(): number {
    const touched = this.owner === 0 ? undefined : this.member.owners.get(this.owner);
    return touched === undefined || touched < this.lastWrite ? this.lastWrite : touched;
  }

  /** The end of the row's interval: `ttl` after its last activity (never, with a ttl of 0). */
  get until(): number {
    const ttl = this.member.header?.ttl ?? 0;
    return ttl === 0 ? Infinity : this.active + ttl;
  }
}

export class MemberMirror {
  header: HeaderRecord | undefined = undefined;
  gen = 0;
  file = '';
  /** Bytes parsed so far. */
  offset = 0;
  readonly instruments = new Map<number, InstrumentRecord>();
  readonly rows = new Map<number, MirrorRow>();
  /** Owner (node) id → its last activity, ms since the epoch. */
  readonly owners = new Map<number, number>();
  beat: BeatRecord | undefined = undefined;
  /** Rows defined since the host view last took them. */
  fresh: MirrorRow[] = [];
  /** Liveness as the host view last summed it. */
  summedAlive: boolean | undefined = undefined;
  bye: number | undefined = undefined;
  /** Members whose state this one took over (key → when), and the exits they counted. */
  readonly adopted = new Map<string, number>();
  adoptedExits = 0;
  damaged = false;
  /** The rows of each owner (node) id. */
  readonly ownerRows = new Map<number, MirrorRow[]>();
  /** Live rows whose numbers are in the data file. */
  readonly slotRows = new Set<MirrorRow>();

  /** Take the slots written since the last read (`size` bytes of the whole data file, in the memory `f64`/`u32` view). */
  readSlots(f64: Float64Array, u32: Uint32Array, size: number): void {
    for (const row of this.slotRows) {
      // Most slots did not change since the last read: one comparison each.
      const at = row.slot;
      if (at + 24 <= size && u32[at >>> 2] === row.seq) continue;
      if (row.numbers === undefined || row.numbers.length !== row.n) row.numbers = new Float64Array(row.n);
      const read = readSlot(f64, u32, size, row.slot, row.id, row.n, row.room, row.seq, row.numbers, m => (row.exponential = new Float64Array(m)));
      if (read === undefined) continue;
      row.seq = read.seq;
      if (read.m === 0) row.exponential = undefined;
      if (read.time > row.lastWrite) row.lastWrite = read.time;
      if (row.owner !== 0 && (this.owners.get(row.owner) ?? 0) < read.time) this.owners.set(row.owner, read.time);
      if (row.host !== undefined) row.host.dirty = true;
    }
  }
  /** Computed by each refresh. */
  alive = false;
  responsive = false;

  constructor(readonly key: string) {}

  apply(r: Parsed): void {
    switch (r.type) {
      case T_HEADER:
        this.header = r.header;
        break;
      case T_INSTRUMENT:
        this.instruments.set(r.instrument.id, r.instrument);
        break;
      case T_ROW: {
        const instrument = this.instruments.get(r.row.i);
        if (instrument === undefined) return;
        const attributes = Object.freeze({ ...r.row.a });
        const row = new MirrorRow(this, r.row.r, instrument, attributes, attributesKey(attributes), r.row.s, r.row.w, r.row.o);
        if (r.row.d !== undefined && r.row.d >= 0) {
          row.slot = r.row.d;
          row.n = r.row.n ?? 0;
          row.room = r.row.m ?? 0;
          this.slotRows.add(row);
        }
        const replaced = this.rows.get(r.row.r);
        if (replaced?.host !== undefined) replaced.host.dirty = true;
        this.rows.set(r.row.r, row);
        this.fresh.push(row);
        if (row.owner !== 0) {
          const list = this.ownerRows.get(row.owner);
          if (list === undefined) this.ownerRows.set(row.owner, [row]);
          else list.push(row);
        }
        break;
      }
      case T_DATA: {
        const row = this.rows.get(r.data.row);
        if (row === undefined) return;
        const n = r.data.numbers;
        if (row.numbers === undefined || row.numbers.length !== n.length) row.numbers = Float64Array.from(n);
        else row.numbers.set(n);
        row.exponential = r.data.exponential;
        if (row.host !== undefined) row.host.dirty = true;
        if (r.data.time > row.lastWrite) row.lastWrite = r.data.time;
        if (row.owner !== 0 && (this.owners.get(row.owner) ?? 0) < r.data.time) this.owners.set(row.owner, r.data.time);
        break;
      }
      case T_END: {
        const row = this.rows.get(r.row);
        if (row !== undefined) {
          row.ended = true;
          this.slotRows.delete(row);
          if (r.numbers !== undefined) {
            row.numbers = Float64Array.from(r.numbers);
            row.exponential = r.exponential;
            if (r.time > row.lastWrite) row.lastWrite = r.time;
          }
          if (row.host !== undefined) row.host.dirty = true;
        }
        break;
      }
      case T_TOUCH:
        if ((this.owners.get(r.owner) ?? 0) < r.time) this.owners.set(r.owner, r.time);
        // The rows of that owner end later now: their series are summed again.
        for (const row of this.ownerRows.get(r.owner) ?? []) if (row.host !== undefined) row.host.dirty = true;
        break;
      case T_BEAT:
        this.beat = r.beat;
        break;
      case T_BYE:
        this.bye = r.time;
        break;
      case T_ADOPT:
        for (const [key, time] of r.adopt.members) this.adopted.set(key, time);
        this.adoptedExits = r.adopt.exits;
        break;
    }
  }
}

export class GroupReader {
  /** Members by key, oldest first after each refresh. */
  members = new Map<string, MemberMirror>();
  private readonly _warn = new RateLimitedWarner();
  private _buf = Buffer.allocUnsafe(READ_CHUNK);
  private _data = slotBuffer(READ_CHUNK);

  constructor(readonly dir: string) {}

  /** Parse what was appended to every member's file since the last refresh; drop members whose files are gone. */
  refresh(now = Date.now()): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      this._warn.warn('cluster-readdir', () => `cluster: cannot read ${this.dir} (${describe(err)})`);
      names = [];
    }
    const latest = new Map<string, { gen: number; name: string }>();
    for (const name of names) {
      const m = FILE_RE.exec(name);
      if (m === null) continue;
      const gen = Number(m[2]);
      const prev = latest.get(m[1]!);
      if (prev === undefined || gen > prev.gen) latest.set(m[1]!, { gen, name });
    }
    const next = new Map<string, MemberMirror>();
    for (const key of [...latest.keys()].sort()) {
      const { gen, name } = latest.get(key)!;
      let mirror = this.members.get(key);
      if (mirror === undefined || mirror.gen !== gen) {
        mirror = new MemberMirror(key);
        mirror.gen = gen;
        mirror.file = join(this.dir, name);
      }
      if (!this._read(mirror) && mirror.header === undefined) continue;
      next.set(key, mirror);
    }
    this.members = next;
    for (const m of next.values()) {
      const h = m.header;
      m.alive = h !== undefined && m.bye === undefined && processAlive(h.pid, h.procStart);
      m.responsive = m.alive && m.beat !== undefined ? now - m.beat.time <= UNRESPONSIVE_AFTER_MS : m.alive && h !== undefined && now - h.joined <= UNRESPONSIVE_AFTER_MS;
    }
  }

  /** Read and parse the new bytes of one member's file; false when it could not be opened. */
  private _read(mirror: MemberMirror): boolean {
    if (mirror.damaged) return true;
    let fd: number;
    try {
      fd = openSync(mirror.file, 'r');
    } catch {
      // Gone between the listing and now (rewritten or removed): the next refresh sees what replaced it.
      return false;
    }
    try {
      const size = fstatSync(fd).size;
      while (mirror.offset < size) {
        const want = Math.min(size - mirror.offset, this._buf.length);
        const got = readSync(fd, this._buf, 0, want, mirror.offset);
        if (got <= 0) break;
        const used = parseRecords(this._buf, 0, got, r => mirror.apply(r), supersededData(this._buf, 0, got));
        if (used === 0) {
          // One record longer than the buffer: read it whole.
          if (got === want && want < size - mirror.offset) {
            this._buf = Buffer.allocUnsafe(this._buf.length * 2);
            continue;
          }
          break;
        }
        mirror.offset += used;
      }
    } catch (err) {
      mirror.damaged = true;
      this._warn.warn(`cluster-parse:${mirror.key}`, () => `cluster: the state file ${mirror.file} is damaged (${describe(err)}); its later records are ignored`);
    } finally {
      closeSync(fd);
    }
    if (mirror.slotRows.size > 0) this._readData(mirror);
    return true;
  }

  /** The member's data file, whole (it is a few hundred bytes per series), then its changed slots. */
  private _readData(mirror: MemberMirror): void {
    let fd: number;
    try {
      fd = openSync(dataPath(mirror.file), 'r');
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (this._data.buf.length < size) this._data = slotBuffer(Math.max(size, 2 * this._data.buf.length));
      const { buf, f64, u32 } = this._data;
      let got = 0;
      while (got < size) {
        const n = readSync(fd, buf, got, size - got, got);
        if (n <= 0) break;
        got += n;
      }
      mirror.readSlots(f64, u32, got);
    } catch (err) {
      this._warn.warn(`cluster-data:${mirror.key}`, () => `cluster: cannot read ${dataPath(mirror.file)} (${describe(err)})`);
    } finally {
      closeSync(fd);
    }
  }
}
