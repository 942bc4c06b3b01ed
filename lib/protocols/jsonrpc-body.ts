/**
 * JSON-RPC in HTTP bodies (MCP Streamable HTTP), read from the bytes: a POST
 * body, a JSON answer, or the `data` of each event of an event-stream answer
 * is one document (`Doc`), held as views of the chunks that carried it (its
 * first HEAD_BYTES and last TAIL_BYTES, as the line framer holds a line).
 *
 * What decides a call's outcome is its id, `error` (and its code) and
 * `result.isError`; in the compact shapes clients and servers write (see
 * readCompactRequestEnds / readCompactAnswerEnds) those sit in the first and
 * last bytes, so a document is read from its two ends, decoding a few hundred
 * bytes, never copying or decoding the rest. Whether an answer holds
 * `"isError"` at all is a native byte search of each chunk as it passes (no
 * copy, no decode): without it, a result is a success. Any other shape, or a
 * result that may carry isError, is read as before: parsed whole up to
 * HEAD_BYTES, from its ends past that (jsonrpc.ts).
 */
import {
  HEAD_BYTES,
  LONG_HEAD_BYTES,
  TAIL_BYTES,
  chunkLength,
  decode,
  firstBytes,
  readAnswer,
  readCompactAnswerEnds,
  readCompactRequestEnds,
  readLong,
  readRequest,
  slice,
  type Chunk,
  type Message,
  type Read,
} from './jsonrpc';

/** How much of each end the compact readers decode. */
const END_BYTES = 256;

const IS_ERROR = Buffer.from('"isError"');
const IS_ERROR_TEXT = '"isError"';
const NAME = Buffer.from('"name"');
const NAME_TEXT = '"name"';

function asBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/** The last `n` units (bytes or string characters) of `parts`, as views. */
function lastUnits(parts: Chunk[], n: number): Chunk[] {
  const out: Chunk[] = [];
  let left = n;
  for (let i = parts.length - 1; i >= 0 && left > 0; i--) {
    const p = parts[i]!;
    const len = chunkLength(p);
    out.unshift(len <= left ? p : slice(p, len - left, len));
    left -= len;
  }
  return out;
}

/** One JSON document of a body, held as views of its chunks. */
export class Doc {
  /** Its length in units (bytes; string characters for written strings). */
  length = 0;
  /** Its only chunk while there is one (the common case: no array). */
  private _one: Chunk | undefined = undefined;
  /** Its first HEAD_BYTES as views, once it has more than one chunk. */
  private _parts: Chunk[] | undefined = undefined;
  private _long = false;
  private _tail: Chunk[] | undefined = undefined;
  private _tailHeld = 0;
  /** A long answer: `"isError"` seen in what passed (the middle is not kept to search at the end). */
  private _isError = false;

  /** @param _trackIsError an answer, whose `"isError"` matters (searched for as chunks pass once it is long). */
  constructor(private readonly _trackIsError: boolean) {}

  append(c: Chunk, start = 0, end = chunkLength(c)): void {
    if (end <= start) return;
    const n = end - start;
    const held = this._long ? HEAD_BYTES : this.length;
    this.length += n;
    if (!this._long) {
      const room = HEAD_BYTES - held;
      // Views, not copies: each chunk is its own buffer, and a written one
      // must not be changed by the app while it is queued.
      if (n <= room) {
        const view = start === 0 && end === chunkLength(c) ? c : slice(c, start, end);
        if (held === 0) this._one = view;
        else {
          this._parts ??= [this._one!];
          this._parts.push(view);
        }
        return;
      }
      const parts = (this._parts ??= held === 0 ? [] : [this._one!]);
      if (room > 0) parts.push(slice(c, start, start + room));
      this._long = true;
      // From here on the middle is not kept: what passes is searched as it passes.
      if (this._trackIsError) this._isError = partsInclude(parts, IS_ERROR, IS_ERROR_TEXT);
      start += room;
    }
    const tail = (this._tail ??= []);
    if (this._trackIsError && !this._isError) {
      const before = tail.length > 0 ? tail[tail.length - 1]! : this._parts![this._parts!.length - 1]!;
      this._isError = partsInclude([before, slice(c, start, end)], IS_ERROR, IS_ERROR_TEXT);
    }
    const from = Math.max(start, end - TAIL_BYTES);
    tail.push(slice(c, from, end));
    this._tailHeld += end - from;
    while (tail.length > 1 && this._tailHeld - chunkLength(tail[0]!) >= TAIL_BYTES) {
      this._tailHeld -= chunkLength(tail.shift()!);
    }
  }

  /** The held views (an array of the one chunk if it is alone). */
  private _held(): Chunk[] {
    return this._parts ?? (this._one === undefined ? [] : [this._one]);
  }

  /** The whole text of a document held in one chunk of at most END_BYTES, else undefined. */
  private _shortText(): string | undefined {
    const one = this._one;
    if (this._parts !== undefined || one === undefined || this.length > END_BYTES) return undefined;
    return typeof one === 'string' ? one : decode1(one);
  }

  /** The held text (the whole document when it is at most HEAD_BYTES long). */
  text(): string {
    return decode(this._held());
  }

  /** The document's first and last `n` units as text. */
  ends(n: number): { head: string; tail: string } {
    const parts = this._held();
    return { head: decode(firstBytes(parts, n)), tail: decode(lastUnits(this._long ? this._tail! : parts, n)) };
  }

  /** A request in one of the compact shapes, read from the ends; undefined: read it with requests(). */
  request(): Message | undefined {
    if (this._long) return undefined;
    const text = this._shortText();
    if (text !== undefined) return readCompactRequestEnds(text, text, text.includes(NAME_TEXT));
    const parts = this._held();
    return readCompactRequestEnds(decode(firstBytes(parts, END_BYTES)), decode(lastUnits(parts, END_BYTES)), partsInclude(parts, NAME, NAME_TEXT));
  }

  /** The document as requests (a POST body), parsed whole up to HEAD_BYTES, from its ends past that. */
  requests(): Read {
    if (this._long) return readLong(decode(firstBytes(this._parts!, LONG_HEAD_BYTES)), decode(this._tail!));
    return readRequest({ text: decode(this._held()), long: false });
  }

  /** An answer in one of the compact shapes, read from the ends; undefined: read it with answers(). */
  answer(): Message | undefined {
    const text = this._shortText();
    if (text !== undefined) return readCompactAnswerEnds(text, text, text.includes(IS_ERROR_TEXT));
    const long = this._long;
    const parts = this._held();
    const head = decode(firstBytes(parts, END_BYTES));
    const tail = decode(lastUnits(long ? this._tail! : parts, END_BYTES));
    // A held document is searched part by part; a long one was searched as it passed.
    return readCompactAnswerEnds(head, tail, long ? this._isError : partsInclude(parts, IS_ERROR, IS_ERROR_TEXT));
  }

  /** The document as answers (a JSON answer, an event's data), parsed whole up to HEAD_BYTES, from its ends past that. */
  answers(): Read {
    const fast = this.answer();
    if (fast !== undefined) return { ok: true, messages: [fast] };
    if (this._long) return readLong(decode(firstBytes(this._parts!, LONG_HEAD_BYTES)), decode(this._tail!));
    return readAnswer({ text: decode(this._held()), long: false });
  }
}

function decode1(c: Uint8Array): string {
  return asBuffer(c).toString('utf8');
}

/**
 * Whether `needle` (`text` as a string) occurs in the consecutive views
 * `parts`: a native search of each, and of each junction's few bytes (no copy
 * of anything else).
 */
function partsInclude(parts: Chunk[], needle: Buffer, text: string): boolean {
  const keep = needle.length - 1;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (typeof p === 'string' ? p.includes(text) : asBuffer(p).indexOf(needle) !== -1) return true;
    if (i > 0) {
      const prev = parts[i - 1]!;
      const a = chunkLength(prev);
      const joint = decode([slice(prev, Math.max(0, a - keep), a), slice(p, 0, Math.min(keep, chunkLength(p)))]);
      if (joint.includes(text)) return true;
    }
  }
  return false;
}

const DATA = 'data:';

/**
 * Server-Sent Events on bytes: the `data` of each event as one Doc (data
 * lines joined with '\n', per the SSE parsing rules), every other field
 * skipped. Lines are found with a native byte search; only a line's first
 * five bytes are looked at to know its field.
 */
export class SseDocs {
  private _doc: Doc | undefined;
  /** The current line: its first bytes (up to `data:`), then whether it is data or skipped. */
  private _prefix = '';
  private _state: 'start' | 'data' | 'skip' = 'start';
  /** A `data:` line seen in this event (the next one is joined with '\n'). */
  private _lines = 0;
  /** At the first byte of a data value (a space there is dropped). */
  private _space = false;

  constructor(private readonly _onEvent: (doc: Doc) => void) {}

  push(c: Chunk): void {
    const n = chunkLength(c);
    let i = 0;
    while (i < n) {
      if (this._state === 'start') {
        // Up to five bytes, one at a time, to learn the field.
        const u = typeof c === 'string' ? c.charCodeAt(i) : c[i]!;
        i++;
        if (u === 10) {
          if (this._prefix === '' || this._prefix === '\r') this._dispatch();
          this._prefix = '';
          continue;
        }
        this._prefix += String.fromCharCode(u);
        if (this._prefix === DATA) {
          this._dataLine();
          this._state = 'data';
          this._space = true;
        } else if (!DATA.startsWith(this._prefix) && this._prefix !== '\r') this._state = 'skip';
        continue;
      }
      const nl = typeof c === 'string' ? c.indexOf('\n', i) : asBuffer(c).indexOf(10, i);
      const end = nl === -1 ? n : nl;
      if (this._state === 'data') {
        // One space after the colon is not part of the value.
        if (this._space && i < end) {
          this._space = false;
          if ((typeof c === 'string' ? c.charCodeAt(i) : c[i]!) === 32) i++;
        }
        // A '\r' before the '\n' ends the line (JSON ignores one left at a chunk's end).
        const stop = nl !== -1 && end > i && (typeof c === 'string' ? c.charCodeAt(end - 1) : c[end - 1]!) === 13 ? end - 1 : end;
        this._doc!.append(c, i, stop);
      }
      if (nl === -1) return;
      i = nl + 1;
      this._state = 'start';
      this._prefix = '';
      this._space = false;
    }
  }

  private _dataLine(): void {
    this._doc ??= new Doc(true);
    if (this._lines++ > 0) this._doc.append('\n');
  }

  private _dispatch(): void {
    const doc = this._doc;
    this._doc = undefined;
    this._lines = 0;
    if (doc !== undefined) this._onEvent(doc);
  }

  /** The stream ended: an event not closed by a blank line still counts. */
  end(): void {
    this._state = 'start';
    this._prefix = '';
    this._dispatch();
  }
}
