/**
 * The record format of a worker's state file: what the worker appends, and
 * what every other process of the host parses back.
 *
 * A file is a sequence of records `[u32 length][u8 type][payload]` (little
 * endian; `length` counts the type byte and the payload). Definitions
 * (header, instruments, series) are JSON, written once each; the numbers a
 * call changes are binary (DATA: a series' whole row, so a record replaces
 * the last one and a reader may start anywhere after the definitions). A
 * record is appended with one write(2) of whole records, so a reader only
 * ever sees a complete record or the beginning of the last one, which it
 * parses on its next read.
 */

export const T_HEADER = 1;
export const T_INSTRUMENT = 2;
export const T_ROW = 3;
export const T_DATA = 4;
export const T_END = 5;
export const T_BEAT = 6;
export const T_BYE = 7;
export const T_TOUCH = 8;
export const T_ADOPT = 9;

/** The first record of every file. */
export interface HeaderRecord {
  /** Format version. */
  readonly v: 1;
  /** The member's key (also in the file name): unique per process on the host. */
  readonly member: string;
  readonly pid: number;
  /** The process's start time as the kernel counts it (/proc/<pid>/stat), to tell a reused pid apart; undefined where unreadable. */
  readonly procStart: number | undefined;
  /** The `worker` label: PM2's pm_id, node:cluster's worker id. */
  readonly worker: string;
  /** ms since the epoch when the member joined. */
  readonly joined: number;
  /** The member's nodeIdleTtl (ms, 0 = never): how long a series outlives its last activity. */
  readonly ttl: number;
  /** This file's generation (a member rewrites its file from time to time). */
  readonly gen: number;
}

export type InstrumentKind = 'histogram' | 'sum' | 'observed';

export interface InstrumentRecord {
  readonly id: number;
  readonly kind: InstrumentKind;
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly valueType: number;
  /** sdk-metrics InstrumentType (what a reader's selectors are asked about). */
  readonly type: string;
  readonly monotonic?: boolean;
  readonly boundaries?: readonly number[];
  readonly recordMinMax?: boolean;
  readonly exponential?: { readonly maxSize: number; readonly recordMinMax: boolean };
  readonly observedKind?: 'upDownCounter' | 'counter' | 'gauge';
}

export interface RowRecord {
  /** Row id, unique within the member. */
  readonly r: number;
  /** Instrument id. */
  readonly i: number;
  /** Attributes. */
  readonly a: Record<string, unknown>;
  /** The series' start time in the store (ms since the epoch): the exposition's start time. */
  readonly s: number;
  /** ms since the epoch when the row began (its interval's start). */
  readonly w: number;
  /** The owner (node) id whose activity keeps the row current (0: none). */
  readonly o: number;
  /** The offset of its slot in the data file (-1 or absent: none, its numbers are in the log). */
  readonly d?: number;
  /** Numbers in the slot, and room for a flattened exponential histogram. */
  readonly n?: number;
  readonly m?: number;
}

export interface DataRecord {
  readonly row: number;
  /** ms since the epoch of the write. */
  readonly time: number;
  /** Valid during the callback only (a scratch array): copy what you keep. */
  readonly numbers: Float64Array;
  /** An exponential histogram flattened by flattenExponential(), or undefined. */
  readonly exponential: Float64Array | undefined;
}

export interface BeatRecord {
  readonly time: number;
  readonly rss: number;
  /** Not written yet (NaN): room for the heap in use. */
  readonly heapUsed: number;
  /** Event loop delay over the last beat interval, seconds. */
  readonly eldP99: number;
  readonly eldMax: number;
}

/** Members (dead ones) whose rows this one took over: their files are not read any more. */
export interface AdoptRecord {
  /** [member key, ms since the epoch of the adoption]. */
  readonly members: readonly (readonly [string, number])[];
  /** Exits this member counted so far: the members it adopted, and those they had adopted. */
  readonly exits: number;
}

export type Parsed =
  | { type: typeof T_HEADER; header: HeaderRecord }
  | { type: typeof T_INSTRUMENT; instrument: InstrumentRecord }
  | { type: typeof T_ROW; row: RowRecord }
  | { type: typeof T_DATA; data: DataRecord }
  | { type: typeof T_END; row: number; time: number; numbers: Float64Array | undefined; exponential: Float64Array | undefined }
  | { type: typeof T_BEAT; beat: BeatRecord }
  | { type: typeof T_BYE; time: number }
  | { type: typeof T_TOUCH; owner: number; time: number }
  | { type: typeof T_ADOPT; adopt: AdoptRecord };

/** A growable buffer records are encoded into, then written in one call. */
export class Encoder {
  buf: Buffer;
  pos = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
    // A rare big flush (a rewrite) must not keep its buffer for good.
    if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024);
  }

  private _room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  json(type: number, value: unknown): void {
    const text = JSON.stringify(value);
    const bytes = Buffer.byteLength(text);
    this._room(5 + bytes);
    this.buf.writeUInt32LE(1 + bytes, this.pos);
    this.buf[this.pos + 4] = type;
    this.buf.write(text, this.pos + 5, 'utf8');
    this.pos += 5 + bytes;
  }

  /**
   * DATA: `numbers[from … to)`, less `base` where given (only indices below
   * `subtractBelow` are subtracted: counts and sums, not min and max).
   */
  data(row: number, time: number, numbers: ArrayLike<number>, from: number, to: number, base: ArrayLike<number> | undefined, subtractBelow: number, exponential: ArrayLike<number> | undefined): void {
    const n = to - from;
    const m = exponential?.length ?? 0;
    const length = 1 + 4 + 8 + 2 + 8 * n + 2 + 8 * m;
    this._room(4 + length);
    const b = this.buf;
    let p = this.pos;
    b.writeUInt32LE(length, p);
    b[p + 4] = T_DATA;
    b.writeUInt32LE(row, p + 5);
    b.writeDoubleLE(time, p + 9);
    b.writeUInt16LE(n, p + 17);
    p += 19;
    for (let i = 0; i < n; i++, p += 8) {
      const v = numbers[from + i]!;
      b.writeDoubleLE(base !== undefined && i < subtractBelow ? v - base[i]! : v, p);
    }
    b.writeUInt16LE(m, p);
    p += 2;
    for (let i = 0; i < m; i++, p += 8) b.writeDoubleLE(exponential![i]!, p);
    this.pos = p;
  }

  /** END: the row's last numbers (scratch-valid only, as DATA's) and its last activity; without numbers, just the end. */
  end(row: number, time: number, numbers: ArrayLike<number> | undefined, exponential: ArrayLike<number> | undefined): void {
    if (numbers === undefined) {
      this.idTime(T_END, row, time);
      return;
    }
    const at = this.pos;
    this.data(row, time, numbers, 0, numbers.length, undefined, 0, exponential);
    this.buf[at + 4] = T_END;
  }

  /** END (no numbers) and TOUCH: an id and a time. */
  idTime(type: typeof T_END | typeof T_TOUCH, id: number, time: number): void {
    this._room(17);
    this.buf.writeUInt32LE(13, this.pos);
    this.buf[this.pos + 4] = type;
    this.buf.writeUInt32LE(id, this.pos + 5);
    this.buf.writeDoubleLE(time, this.pos + 9);
    this.pos += 17;
  }

  beat(b: BeatRecord): void {
    this._room(45);
    this.buf.writeUInt32LE(41, this.pos);
    this.buf[this.pos + 4] = T_BEAT;
    let p = this.pos + 5;
    for (const v of [b.time, b.rss, b.heapUsed, b.eldP99, b.eldMax]) {
      this.buf.writeDoubleLE(v, p);
      p += 8;
    }
    this.pos = p;
  }

  bye(time: number): void {
    this._room(13);
    this.buf.writeUInt32LE(9, this.pos);
    this.buf[this.pos + 4] = T_BYE;
    this.buf.writeDoubleLE(time, this.pos + 5);
    this.pos += 13;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

let scratch = new Float64Array(64);

/**
 * The offsets of the DATA records of `buf[start … end)` that a later DATA of
 * the same row replaces: a reader need not decode them (a busy worker writes
 * a row once per call, a reader wants its last value).
 */
export function supersededData(buf: Buffer, start: number, end: number): Set<number> {
  const last = new Map<number, number>();
  const superseded = new Set<number>();
  let p = start;
  while (p + 4 <= end) {
    const length = buf.readUInt32LE(p);
    if (length < 1 || p + 4 + length > end) break;
    if (buf[p + 4] === T_DATA && length >= 5) {
      const row = buf.readUInt32LE(p + 5);
      const before = last.get(row);
      if (before !== undefined) superseded.add(before);
      last.set(row, p);
    }
    p += 4 + length;
  }
  return superseded;
}

/** Records longer than this are corrupt (a DATA record of the largest histogram is a few kB). */
const MAX_RECORD = 64 * 1024 * 1024;

/**
 * Parses the complete records of `buf[start … end)`, calling `on` for each;
 * returns the offset after the last complete one. Throws on a record that
 * cannot be right (the file is not ours, or was damaged).
 */
export function parseRecords(buf: Buffer, start: number, end: number, on: (record: Parsed) => void, skip?: ReadonlySet<number>): number {
  let p = start;
  while (p + 4 <= end) {
    const length = buf.readUInt32LE(p);
    if (length < 1 || length > MAX_RECORD) throw new Error(`bad record length ${length} at ${p}`);
    if (p + 4 + length > end) break;
    const type = buf[p + 4]!;
    const body = p + 5;
    const bodyEnd = p + 4 + length;
    switch (type) {
      case T_HEADER:
        on({ type, header: JSON.parse(buf.toString('utf8', body, bodyEnd)) as HeaderRecord });
        break;
      case T_INSTRUMENT:
        on({ type, instrument: JSON.parse(buf.toString('utf8', body, bodyEnd)) as InstrumentRecord });
        break;
      case T_ROW:
        on({ type, row: JSON.parse(buf.toString('utf8', body, bodyEnd)) as RowRecord });
        break;
      case T_ADOPT:
        on({ type, adopt: JSON.parse(buf.toString('utf8', body, bodyEnd)) as AdoptRecord });
        break;
      case T_DATA:
      case T_END: {
        if (type === T_END && length === 13) {
          on({ type, row: buf.readUInt32LE(body), time: buf.readDoubleLE(body + 4), numbers: undefined, exponential: undefined });
          break;
        }
        if (skip !== undefined && skip.has(p)) break;
        const row = buf.readUInt32LE(body);
        const time = buf.readDoubleLE(body + 4);
        const n = buf.readUInt16LE(body + 12);
        let q = body + 14;
        // A scratch array, reused from record to record: the consumer copies what it keeps.
        if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
        const numbers = scratch.subarray(0, n);
        for (let i = 0; i < n; i++, q += 8) numbers[i] = buf.readDoubleLE(q);
        const m = buf.readUInt16LE(q);
        q += 2;
        let exponential: Float64Array | undefined;
        if (m > 0) {
          exponential = new Float64Array(m);
          for (let i = 0; i < m; i++, q += 8) exponential[i] = buf.readDoubleLE(q);
        }
        if (q !== bodyEnd) throw new Error(`bad DATA record at ${p}`);
        on(type === T_DATA ? { type, data: { row, time, numbers, exponential } } : { type, row, time, numbers, exponential });
        break;
      }
      case T_TOUCH: {
        if (length !== 13) throw new Error(`bad record at ${p}`);
        on({ type, owner: buf.readUInt32LE(body), time: buf.readDoubleLE(body + 4) });
        break;
      }
      case T_BEAT: {
        if (length !== 41) throw new Error(`bad BEAT record at ${p}`);
        on({
          type,
          beat: {
            time: buf.readDoubleLE(body),
            rss: buf.readDoubleLE(body + 8),
            heapUsed: buf.readDoubleLE(body + 16),
            eldP99: buf.readDoubleLE(body + 24),
            eldMax: buf.readDoubleLE(body + 32),
          },
        });
        break;
      }
      case T_BYE:
        if (length !== 9) throw new Error(`bad BYE record at ${p}`);
        on({ type, time: buf.readDoubleLE(body) });
        break;
      default:
        throw new Error(`unknown record type ${type} at ${p}`);
    }
    p = bodyEnd;
  }
  return p;
}

/** The value of an exponential histogram, as sdk-metrics' ExponentialHistogram point carries it. */
export interface ExponentialShape {
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  scale: number;
  zeroCount: number;
  positive: { offset: number; bucketCounts: number[] };
  negative: { offset: number; bucketCounts: number[] };
}

/** [count, sum, min, max, scale, zeroCount, posOffset, posLength, …pos, negOffset, negLength, …neg] (NaN for an absent sum/min/max). */
export function flattenExponential(v: ExponentialShape): Float64Array {
  const pos = v.positive.bucketCounts;
  const neg = v.negative.bucketCounts;
  const out = new Float64Array(10 + pos.length + neg.length);
  out[0] = v.count;
  out[1] = v.sum ?? NaN;
  out[2] = v.min ?? NaN;
  out[3] = v.max ?? NaN;
  out[4] = v.scale;
  out[5] = v.zeroCount;
  out[6] = v.positive.offset;
  out[7] = pos.length;
  let p = 8;
  for (const c of pos) out[p++] = c;
  out[p++] = v.negative.offset;
  out[p++] = neg.length;
  for (const c of neg) out[p++] = c;
  return out;
}

export function unflattenExponential(f: Float64Array): ExponentialShape {
  const posLength = f[7]!;
  const pos = Array.from(f.subarray(8, 8 + posLength));
  const negAt = 8 + posLength;
  const negLength = f[negAt + 1]!;
  const neg = Array.from(f.subarray(negAt + 2, negAt + 2 + negLength));
  const opt = (x: number) => (Number.isNaN(x) ? undefined : x);
  return {
    count: f[0]!,
    sum: opt(f[1]!),
    min: opt(f[2]!),
    max: opt(f[3]!),
    scale: f[4]!,
    zeroCount: f[5]!,
    positive: { offset: f[6]!, bucketCounts: pos },
    negative: { offset: f[negAt]!, bucketCounts: neg },
  };
}

/** A canonical key of an attribute set: the same set in any key order gives the same key. */
export function attributesKey(a: Record<string, unknown>): string {
  const keys = Object.keys(a).sort();
  let out = '';
  for (const k of keys) out += `${JSON.stringify(k)}:${JSON.stringify(a[k])},`;
  return out;
}

/**
 * A slot of the data file: `[u32 seq][u32 row][u16 n][u16 m][u32 0][f64
 * time][n numbers][room for the exponential histogram][u32 seq][u32 0]`.
 * The sequence number at both ends tells a slot read while it was being
 * written (they differ: the reader keeps the value before, and takes the new
 * one next time); the row id, a slot whose new row has not been written yet
 * (it still holds the row before). A slot never crosses a page.
 */
export function slotSize(n: number, room: number): number {
  return 24 + 8 * n + 8 * room + 8;
}

/**
 * Writes a slot at byte `at` (a multiple of 8) of the memory that `f64` and
 * `u32` view from its start: slots are 8-byte aligned in the file and in the
 * buffers they are built in, so the numbers are array stores, no call each.
 */
export function writeSlot(f64: Float64Array, u32: Uint32Array, at: number, seq: number, row: number, time: number, numbers: ArrayLike<number>, n: number, exponential: ArrayLike<number> | undefined, room: number): void {
  const m = exponential === undefined ? 0 : Math.min(exponential.length, room);
  const w = at >>> 3;
  const last = w + slotSize(n, room) / 8 - 1;
  u32[2 * w] = seq;
  u32[2 * w + 1] = row;
  u32[2 * w + 2] = n | (m << 16);
  u32[2 * w + 3] = 0;
  f64[w + 2] = time;
  for (let i = 0; i < n; i++) f64[w + 3 + i] = numbers[i]!;
  for (let i = 0; i < m; i++) f64[w + 3 + n + i] = exponential![i]!;
  u32[2 * last] = seq;
  u32[2 * last + 1] = 0;
}

/** A zeroed buffer with its own memory (so offset 0 is 8-byte aligned), and the views writeSlot takes. */
export function slotBuffer(bytes: number): { buf: Buffer; f64: Float64Array; u32: Uint32Array } {
  const ab = new ArrayBuffer(Math.ceil(bytes / 8) * 8);
  return { buf: Buffer.from(ab, 0, bytes), f64: new Float64Array(ab), u32: new Uint32Array(ab) };
}

export interface SlotRead {
  seq: number;
  time: number;
  /** How many exponential numbers follow the row's numbers. */
  m: number;
}

/**
 * Reads the slot of `row` at byte `at` (a multiple of 8) of the memory
 * `f64`/`u32` view, of which `size` bytes were read, when it holds a write
 * newer than `seq` (numbers into `numbers`, the exponential ones into what
 * `exponential` returns); undefined when unchanged, not written yet, or
 * caught mid-write.
 */
export function readSlot(f64: Float64Array, u32: Uint32Array, size: number, at: number, row: number, n: number, room: number, seq: number, numbers: Float64Array, exponential: (m: number) => Float64Array): SlotRead | undefined {
  const bytes = slotSize(n, room);
  if (at < 0 || (at & 7) !== 0 || at + bytes > size) return undefined;
  const w = at >>> 3;
  const seqA = u32[2 * w]!;
  if (seqA === seq || seqA === 0 || u32[2 * w + 1] !== row || (u32[2 * w + 2]! & 0xffff) !== n) return undefined;
  if (u32[2 * (w + bytes / 8 - 1)] !== seqA) return undefined;
  const m = u32[2 * w + 2]! >>> 16;
  for (let i = 0; i < n; i++) numbers[i] = f64[w + 3 + i]!;
  if (m > 0) {
    const e = exponential(m);
    for (let i = 0; i < m; i++) e[i] = f64[w + 3 + n + i]!;
  }
  return { seq: seqA, time: f64[w + 2]!, m };
}
