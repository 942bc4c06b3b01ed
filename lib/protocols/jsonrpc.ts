/**
 * JSON-RPC 2.0 framing and message reading for the MCP observation (protocols/mcp.ts):
 * newline-delimited messages (MCP's stdio transport, SSE `data:` lines) and
 * whole-body documents (a Streamable HTTP POST and its JSON answer).
 *
 * Bounds. A line is kept whole only up to `HEAD_BYTES` (64 KiB): that is
 * read whole (in the MCP SDK's shape by readSdkRequest() / readSdkResponse(),
 * any other with JSON.parse). Past it, the line is "long": we keep its first
 * `HEAD_BYTES` (already held) and its last `TAIL_BYTES` (4 KiB), copy nothing
 * else, and read the few fields we need from those two ends with anchored
 * patterns (see readLong()). A 10 MB response line therefore costs one scan
 * for its newline and the decoding of 8 KiB, never a copy of the 10 MB. Per
 * observed stream, views of at most HEAD_BYTES + TAIL_BYTES are held (keeping
 * the chunks they sit in alive until the line ends).
 *
 * Why both ends: the MCP SDK writes `{ result, jsonrpc, id }` and
 * `{ method, params, jsonrpc, id }` (JSON.stringify of objects built in that
 * order), so its `id` is the last key of the line, and a CallToolResult's
 * `isError` follows its `content`; other implementations put `id` first.
 */

/** A line up to this many bytes (or string characters) is parsed whole. */
export const HEAD_BYTES = 64 * 1024;
/** Of a longer line, this many of its last bytes are kept too. */
export const TAIL_BYTES = 4 * 1024;
/**
 * Of a longer line, this many of its first bytes are read (the anchored
 * patterns need the first keys only): decoding and scanning all 64 KiB of
 * every long line took most of the 0.3 ms per MB the framing cost.
 */
export const LONG_HEAD_BYTES = 4 * 1024;
/** Longest method / tool / prompt name we keep; longer ones are cut (labels are bounded). */
export const MAX_NAME_LENGTH = 256;

export type Chunk = string | Uint8Array;

const NL = 10;

export function chunkLength(c: Chunk): number {
  return typeof c === 'string' ? c.length : c.byteLength;
}

function indexOfNewline(c: Chunk, from: number): number {
  return typeof c === 'string' ? c.indexOf('\n', from) : (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength)).indexOf(NL, from);
}

export function slice(c: Chunk, start: number, end: number): Chunk {
  return typeof c === 'string' ? c.slice(start, end) : c.subarray(start, end);
}

/**
 * `c[start, end)` as a string, without the view and array decode() needs: the
 * whole-line-in-one-chunk case runs once per JSON-RPC message.
 */
function decodeRange(c: Chunk, start: number, end: number): string {
  if (typeof c === 'string') return start === 0 && end === c.length ? c : c.slice(start, end);
  return (Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength)).toString('utf8', start, end);
}

export function decode(parts: Chunk[]): string {
  if (parts.length === 1) {
    const p = parts[0]!;
    return typeof p === 'string' ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('utf8');
  }
  if (parts.every(p => typeof p === 'string')) return (parts as string[]).join('');
  return Buffer.concat(parts.map(p => (typeof p === 'string' ? Buffer.from(p) : p))).toString('utf8');
}

/** A line as the framer hands it over: whole, or its two ends. */
export type Line = { text: string; long: false } | { head: string; tail: string; long: true; length: number };

/**
 * Splits a stream into lines ('\n', a trailing '\r' dropped by JSON.parse's
 * whitespace rules), holding at most HEAD_BYTES + TAIL_BYTES.
 */
export class LineFramer {
  private _parts: Chunk[] = [];
  private _held = 0;
  private _long = false;
  private _length = 0;
  private _tail: Chunk[] = [];
  private _tailHeld = 0;

  constructor(private readonly _onLine: (line: Line) => void) {}

  /** Whether part of a line is held (the stream stopped mid-line). */
  get pending(): boolean {
    return this._length > 0;
  }

  push(chunk: Chunk): void {
    const n = chunkLength(chunk);
    let start = 0;
    while (start < n) {
      const nl = indexOfNewline(chunk, start);
      if (nl === -1) {
        this._add(chunk, start, n);
        return;
      }
      if (this._length === 0 && nl - start <= HEAD_BYTES) {
        // The common case: a whole line inside one chunk, decoded straight from it.
        // Blank lines are handed on too: they end SSE events.
        this._onLine({ text: nl > start ? decodeRange(chunk, start, nl) : '', long: false });
      } else {
        this._add(chunk, start, nl);
        if (this._length === 0) this._onLine({ text: '', long: false });
        else this.flush();
      }
      start = nl + 1;
    }
  }

  /** Hand over what is held as a line (end of a document or of the stream). */
  flush(): void {
    if (this._length === 0) return;
    const line: Line = this._long
      ? { head: decode(firstBytes(this._parts, LONG_HEAD_BYTES)), tail: decode(this._tail), long: true, length: this._length }
      : { text: decode(this._parts), long: false };
    this.reset();
    this._onLine(line);
  }

  /** Add a chunk to the current line without looking for newlines (whole-body documents). */
  append(chunk: Chunk): void {
    this._add(chunk, 0, chunkLength(chunk));
  }

  /** Drop what is held. */
  reset(): void {
    this._parts = [];
    this._held = 0;
    this._long = false;
    this._length = 0;
    this._tail = [];
    this._tailHeld = 0;
  }

  private _add(chunk: Chunk, start: number, end: number): void {
    if (end <= start) return;
    const n = end - start;
    this._length += n;
    if (!this._long) {
      const room = HEAD_BYTES - this._held;
      // Views, not copies: a pipe hands each read its own buffer, and a
      // written chunk must not be changed by the app while it is queued.
      if (n <= room) {
        this._parts.push(slice(chunk, start, end));
        this._held += n;
        return;
      }
      if (room > 0) this._parts.push(slice(chunk, start, start + room));
      this._held = HEAD_BYTES;
      this._long = true;
    }
    // Long line: keep views of its last TAIL_BYTES (at most the last two chunks
    // stay referenced); they are copied once, when the line ends.
    const from = Math.max(start, end - TAIL_BYTES);
    this._tail.push(slice(chunk, from, end));
    this._tailHeld += end - from;
    while (this._tail.length > 1 && this._tailHeld - chunkLength(this._tail[0]!) >= TAIL_BYTES) {
      this._tailHeld -= chunkLength(this._tail.shift()!);
    }
  }
}

export function firstBytes(parts: Chunk[], n: number): Chunk[] {
  const out: Chunk[] = [];
  let left = n;
  for (const p of parts) {
    if (left <= 0) break;
    const len = chunkLength(p);
    out.push(len <= left ? p : slice(p, 0, left));
    left -= len;
  }
  return out;
}


/** What the observation needs of one JSON-RPC message. */
export interface Message {
  /** Request or response id (number or string); undefined for notifications. */
  id: string | number | null | undefined;
  /** Set on requests and notifications. */
  method: string | undefined;
  /** `params.name` of `tools/call` / `prompts/get`. */
  name: string | undefined;
  /** A response (has `result` or `error`). */
  response: boolean;
  /** `error.code` of an error response (NaN when the code is missing or not an integer). */
  errorCode: number | undefined;
  /** `result.isError === true`. */
  isError: boolean;
  /** `params.requestId` of `notifications/cancelled`. */
  requestId?: string | number;
}

/** Result of reading a line or document. */
export type Read =
  | { ok: true; messages: Message[] }
  | { ok: false; reason: 'not-json' | 'not-jsonrpc' };

export const NOT_JSON: Read = { ok: false, reason: 'not-json' };
export const NOT_JSONRPC: Read = { ok: false, reason: 'not-jsonrpc' };

export function boundedName(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return v.length > MAX_NAME_LENGTH ? v.slice(0, MAX_NAME_LENGTH) : v;
}

function fromObject(o: unknown): Message | undefined {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const m = o as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return undefined;
  const id = m.id;
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') return undefined;
  const method = typeof m.method === 'string' ? m.method : undefined;
  const hasResult = 'result' in m;
  const error = m.error;
  const response = method === undefined && (hasResult || error !== undefined);
  if (method === undefined && !response) return undefined;
  let name: string | undefined;
  if (method === 'tools/call' || method === 'prompts/get') {
    const params = m.params;
    if (typeof params === 'object' && params !== null) name = boundedName((params as Record<string, unknown>).name);
  }
  let errorCode: number | undefined;
  if (response && error !== undefined) {
    const code = typeof error === 'object' && error !== null ? (error as Record<string, unknown>).code : undefined;
    errorCode = typeof code === 'number' && Number.isInteger(code) ? code : NaN;
  }
  let isError = false;
  if (response && hasResult) {
    const r = m.result;
    isError = typeof r === 'object' && r !== null && (r as Record<string, unknown>).isError === true;
  }
  const out: Message = { id, method: method === undefined ? undefined : boundedName(method), name, response, errorCode, isError };
  if (method === 'notifications/cancelled') {
    const params = m.params;
    const rid = typeof params === 'object' && params !== null ? (params as Record<string, unknown>).requestId : undefined;
    if (typeof rid === 'string' || typeof rid === 'number') out.requestId = rid;
  }
  return out;
}

/** A whole line or document: one message, or a batch (array). */
export function readText(text: string): Read {
  let first = 0;
  while (first < text.length && (text.charCodeAt(first) <= 32)) first++;
  const c = text.charCodeAt(first);
  // `{` or `[`: anything else is not JSON-RPC, and JSON.parse would only throw.
  if (c !== 123 && c !== 91) return first === text.length ? { ok: true, messages: [] } : NOT_JSON;
  // Every JSON-RPC 2.0 message names its version: a JSON body of some other
  // API (a POST the HTTP path sees) is not parsed at all.
  if (!text.includes('"jsonrpc"')) return NOT_JSONRPC;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
  if (Array.isArray(value)) {
    const messages: Message[] = [];
    for (const v of value) {
      const m = fromObject(v);
      if (m !== undefined) messages.push(m);
    }
    return messages.length === 0 && value.length > 0 ? NOT_JSONRPC : { ok: true, messages };
  }
  const m = fromObject(value);
  return m === undefined ? NOT_JSONRPC : { ok: true, messages: [m] };
}

const STRING = '"((?:[^"\\\\]|\\\\.){0,512})"';
const ID = `(-?[0-9]+|${STRING})`;
// The id as the first key (or after "jsonrpc"), or as the last key of the line.
const HEAD_ID = new RegExp(`^\\s*\\{\\s*(?:"jsonrpc"\\s*:\\s*"2\\.0"\\s*,\\s*)?"id"\\s*:\\s*${ID}`);
const TAIL_ID = new RegExp(`"id"\\s*:\\s*${ID}\\s*\\}\\s*$`);
const HEAD_METHOD = new RegExp(`^\\s*\\{\\s*(?:"(?:jsonrpc|id)"\\s*:\\s*(?:"[^"]{0,512}"|-?[0-9]+)\\s*,\\s*){0,2}"method"\\s*:\\s*${STRING}`);
const HEAD_NAME = new RegExp(`"params"\\s*:\\s*\\{\\s*"name"\\s*:\\s*${STRING}`);
const HEAD_RESULT = /^\s*\{\s*(?:"(?:jsonrpc|id)"\s*:\s*(?:"[^"]{0,512}"|-?[0-9]+)\s*,\s*){0,2}"result"\s*:/;
const HEAD_ERROR = /^\s*\{\s*(?:"(?:jsonrpc|id)"\s*:\s*(?:"[^"]{0,512}"|-?[0-9]+)\s*,\s*){0,2}"error"\s*:\s*\{\s*"code"\s*:\s*(-?[0-9]+)/;
// `"isError":true` closing the result object, just before the line's own keys or its end.
const TAIL_IS_ERROR = /"isError"\s*:\s*true\s*(?:,\s*"_meta"\s*:\s*\{[^{}]*\}\s*)?\}\s*(?:,\s*"(?:jsonrpc|id)"\s*:\s*(?:"[^"]{0,512}"|-?[0-9]+)\s*){0,2}\}\s*$/;

function idOf(m: RegExpExecArray | null): string | number | undefined {
  if (m === null) return undefined;
  if (m[2] !== undefined) {
    try {
      return JSON.parse(`"${m[2]}"`) as string;
    } catch {
      return undefined;
    }
  }
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

function unquote(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  try {
    return boundedName(JSON.parse(`"${s}"`));
  } catch {
    return undefined;
  }
}

/**
 * A line too long to parse: the id, method, tool name and outcome read from
 * its first 64 KiB and last 4 KiB with anchored patterns. A single message
 * only (a batch this long is not read). Heuristic by nature: an `isError`
 * that is not the last key of the result is not seen (the call then counts
 * as a success); documented in docs/mcp.md (Bounds).
 */
export function readLong(head: string, tail: string): Read {
  if (!/^\s*\{/.test(head)) return /^\s*\[/.test(head) ? NOT_JSONRPC : NOT_JSON;
  if (!/"jsonrpc"\s*:\s*"2\.0"/.test(head) && !/"jsonrpc"\s*:\s*"2\.0"/.test(tail)) return NOT_JSONRPC;
  const id = idOf(HEAD_ID.exec(head)) ?? idOf(TAIL_ID.exec(tail));
  const method = HEAD_METHOD.exec(head);
  if (method !== null) {
    const name = unquote(method[1]);
    let toolOrPrompt: string | undefined;
    if (name === 'tools/call' || name === 'prompts/get') toolOrPrompt = unquote(HEAD_NAME.exec(head)?.[1]);
    return { ok: true, messages: [{ id, method: name, name: toolOrPrompt, response: false, errorCode: undefined, isError: false }] };
  }
  const error = HEAD_ERROR.exec(head);
  if (error !== null) {
    return { ok: true, messages: [{ id, method: undefined, name: undefined, response: true, errorCode: Number(error[1]), isError: false }] };
  }
  if (HEAD_RESULT.test(head) || id !== undefined) {
    return { ok: true, messages: [{ id, method: undefined, name: undefined, response: true, errorCode: undefined, isError: TAIL_IS_ERROR.test(tail) }] };
  }
  return NOT_JSONRPC;
}

export function readLine(line: Line): Read {
  return line.long ? readLong(line.head, line.tail) : readText(line.text);
}

/*
 * The compact forms (JSON.stringify's, no whitespace, a numeric id: what the
 * MCP SDK writes) are read with startsWith/endsWith and a backward digit scan,
 * which allocate nothing; the patterns below take every other spacing and
 * string ids. Per stdio call the reads run once each, after the event loop,
 * the streams and the peer have run: there they run cold, and reading both
 * lines measured several times what a second read of the same lines costs
 * (bench/NOTES.md, "MCP stdio per call"), so the common case does as little
 * as it can.
 */
const COMPACT_RESULT = '{"result":';
const COMPACT_METHOD = '{"method":"';
const COMPACT_PARAMS_NAME = ',"params":{"name":"';
const COMPACT_TAIL = ',"jsonrpc":"2.0","id":';
const METHOD_TOOLS_CALL = 'tools/call';
const METHOD_PROMPTS_GET = 'prompts/get';

/**
 * The id closing a compact line, `…,"jsonrpc":"2.0","id":123}` (an optional
 * '\r' after it), read backwards; undefined for any other ending (a string
 * id, spacing, more than 15 digits, a sign or a leading zero).
 */
export function compactTailId(text: string): number | undefined {
  let end = text.length;
  if (end > 0 && text.charCodeAt(end - 1) === 13) end--;
  if (end < 2 || text.charCodeAt(end - 1) !== 125) return undefined;
  let i = end - 2;
  let id = 0;
  let scale = 1;
  for (; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    id += (c - 48) * scale;
    scale *= 10;
  }
  const digits = end - 2 - i;
  if (digits === 0 || digits > 15 || (digits > 1 && text.charCodeAt(i + 1) === 48)) return undefined;
  return text.endsWith(COMPACT_TAIL, i + 1) ? id : undefined;
}

/** End of a JSON string's body starting at `from`: its closing quote, or -1 for an escape or a body longer than MAX_NAME_LENGTH * 2. */
export function plainStringEnd(text: string, from: number): number {
  const limit = Math.min(text.length, from + 2 * MAX_NAME_LENGTH);
  for (let i = from; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) return i;
    if (c === 92) return -1;
  }
  return -1;
}

/** readSdkRequest() for the compact form; undefined sends the line to the patterns. */
function readCompactRequest(text: string): Read | undefined {
  const m = readCompactRequestEnds(text, text);
  return m === undefined ? undefined : { ok: true, messages: [m] };
}

/**
 * The compact request forms from the two ends of a document (`head` its first
 * bytes, `tail` its last; both the whole text when it is short): the MCP SDK's
 * `{"method":"m","params":{"name":"n",…},…,"jsonrpc":"2.0","id":1}` (id last)
 * and the JSON-RPC-first `{"jsonrpc":"2.0","id":1,"method":"m","params":{"name":"n",…}}`
 * (what JSON.stringify makes of an object written in the specification's
 * order, and what most other clients send). `hasName`: the document holds
 * `"name"` somewhere (false: a tools/call or prompts/get without a name is
 * read as such). undefined for any other shape.
 */
export function readCompactRequestEnds(head: string, tail: string, hasName = true): Message | undefined {
  let id: string | number | undefined;
  let from: number;
  if (head.startsWith(COMPACT_METHOD)) {
    id = compactTailId(tail);
    from = COMPACT_METHOD.length;
  } else if (head.startsWith(COMPACT_JSONRPC_ID)) {
    const at = compactIdAt(head, COMPACT_JSONRPC_ID.length);
    if (at === -1 || compactId === null || !head.startsWith(COMPACT_THEN_METHOD, at)) return undefined;
    id = compactId;
    from = at + COMPACT_THEN_METHOD.length;
    // The document is one object that ends where it should.
    if (!endsWithBrace(tail)) return undefined;
  } else return undefined;
  if (id === undefined) return undefined;
  const q = plainStringEnd(head, from);
  if (q === -1) return undefined;
  // The two named methods without slicing a new string per line.
  const method = head.startsWith(METHOD_TOOLS_CALL, from) && q === from + METHOD_TOOLS_CALL.length
    ? METHOD_TOOLS_CALL
    : head.startsWith(METHOD_PROMPTS_GET, from) && q === from + METHOD_PROMPTS_GET.length
      ? METHOD_PROMPTS_GET
      : boundedName(head.slice(from, q));
  if (method === undefined) return undefined;
  let name: string | undefined;
  if (method === METHOD_TOOLS_CALL || method === METHOD_PROMPTS_GET) {
    // No `"name"` anywhere in the document: the call has no name (params hold none).
    if (!hasName) return { id, method, name: undefined, response: false, errorCode: undefined, isError: false };
    if (!head.startsWith(COMPACT_PARAMS_NAME, q + 1)) return undefined;
    const at = q + 1 + COMPACT_PARAMS_NAME.length;
    const e = plainStringEnd(head, at);
    if (e === -1) return undefined;
    name = boundedName(head.slice(at, e));
    if (name === undefined) return undefined;
  }
  return { id, method, name, response: false, errorCode: undefined, isError: false };
}

const COMPACT_JSONRPC_ID = '{"jsonrpc":"2.0","id":';
const COMPACT_THEN_METHOD = ',"method":"';
const COMPACT_THEN_RESULT = ',"result":';
const COMPACT_THEN_ERROR_CODE = ',"error":{"code":';

/** The id compactIdAt() read last (a module slot: reading it allocates no result pair). */
let compactId: string | number | null = null;

/**
 * A compact id at `from`: an integer (no sign, no leading zero, at most 15
 * digits), a string without escapes, or null. Returns the index after it
 * (the id in `compactId`), or -1.
 */
function compactIdAt(text: string, from: number): number {
  const c = text.charCodeAt(from);
  if (c === 34) {
    const e = plainStringEnd(text, from + 1);
    if (e === -1) return -1;
    compactId = text.slice(from + 1, e);
    return e + 1;
  }
  if (c === 110 && text.startsWith('null', from)) {
    compactId = null;
    return from + 4;
  }
  let i = from;
  let id = 0;
  for (; i < text.length && i - from < 16; i++) {
    const d = text.charCodeAt(i);
    if (d < 48 || d > 57) break;
    id = id * 10 + (d - 48);
  }
  const digits = i - from;
  if (digits === 0 || digits > 15 || (digits > 1 && c === 48)) return -1;
  compactId = id;
  return i;
}

function endsWithBrace(text: string): boolean {
  let end = text.length;
  while (end > 0) {
    const c = text.charCodeAt(end - 1);
    if (c !== 10 && c !== 13 && c !== 32 && c !== 9) break;
    end--;
  }
  return end > 0 && text.charCodeAt(end - 1) === 125;
}

/**
 * The outcome of a compact answer from its two ends, when the document says
 * it without being parsed: `{"jsonrpc":"2.0","id":…,"error":{"code":N` (an
 * error, decided by its head), or a result, id first or (the MCP SDK's shape)
 * last, when `hasIsError` says the document holds no `"isError"` anywhere (a
 * result is then a success whatever else it holds). undefined for any other
 * shape, or a result that may carry isError.
 */
export function readCompactAnswerEnds(head: string, tail: string, hasIsError: boolean): Message | undefined {
  let id: string | number | null | undefined;
  if (head.startsWith(COMPACT_RESULT)) {
    if (hasIsError) return undefined;
    id = compactTailId(tail);
    if (id === undefined) return undefined;
  } else if (head.startsWith(COMPACT_JSONRPC_ID)) {
    const at = compactIdAt(head, COMPACT_JSONRPC_ID.length);
    if (at === -1) return undefined;
    id = compactId;
    if (!endsWithBrace(tail)) return undefined;
    if (head.startsWith(COMPACT_THEN_ERROR_CODE, at)) {
      let i = at + COMPACT_THEN_ERROR_CODE.length;
      const negative = head.charCodeAt(i) === 45;
      if (negative) i++;
      const from = i;
      let code = 0;
      for (; i < head.length && i - from < 10; i++) {
        const d = head.charCodeAt(i);
        if (d < 48 || d > 57) break;
        code = code * 10 + (d - 48);
      }
      if (i === from || i - from >= 10) return undefined;
      return { id, method: undefined, name: undefined, response: true, errorCode: negative ? -code : code, isError: false };
    }
    if (!head.startsWith(COMPACT_THEN_RESULT, at) || hasIsError) return undefined;
  } else return undefined;
  return { id, method: undefined, name: undefined, response: true, errorCode: undefined, isError: false };
}

// `"jsonrpc":"2.0","id":<id>}` closing the line: with the `}` last, both are keys of the line's own object.
const SDK_TAIL = new RegExp(`,\\s*"jsonrpc"\\s*:\\s*"2\\.0"\\s*,\\s*"id"\\s*:\\s*${ID}\\s*\\}\\s*$`);

/**
 * A response in the MCP SDK's shape, `{"result":…,"jsonrpc":"2.0","id":…}`,
 * read without JSON.parse: a JSON.parse of a 50 KB tool result costs about
 * ten times the decoding it needs, and the outcome is in the first and last
 * bytes. `"isError"` outside a string can only be a key, so when the text
 * holds it anywhere but as the closing key of the result, or the shape is
 * anything else, undefined sends the line to readText().
 */
export function readSdkResponse(text: string): Read | undefined {
  if (text.startsWith(COMPACT_RESULT) && !text.includes('"isError"')) {
    const id = compactTailId(text);
    if (id !== undefined) return { ok: true, messages: [{ id, method: undefined, name: undefined, response: true, errorCode: undefined, isError: false }] };
  }
  if (!HEAD_RESULT.test(text)) return undefined;
  const tail = text.length > TAIL_BYTES ? text.slice(-TAIL_BYTES) : text;
  // One unanchored scan of the tail for both closing keys, where there were two.
  const id = idOf(SDK_TAIL.exec(tail));
  if (id === undefined) return undefined;
  let isError = false;
  if (text.includes('"isError"')) {
    if (!TAIL_IS_ERROR.test(tail)) return undefined;
    isError = true;
  }
  return { ok: true, messages: [{ id, method: undefined, name: undefined, response: true, errorCode: undefined, isError }] };
}

const REQUEST_HEAD = new RegExp(`^\\s*\\{\\s*"method"\\s*:\\s*${STRING}`);
// Continues where REQUEST_HEAD stopped (sticky): `params` as the second key, `name` as its first.
const REQUEST_PARAMS_NAME = new RegExp(`\\s*,\\s*"params"\\s*:\\s*\\{\\s*"name"\\s*:\\s*${STRING}`, 'y');

/** A captured JSON string body, unescaped only when it holds an escape. */
function unescapeName(s: string): string | undefined {
  return s.includes('\\') ? unquote(s) : boundedName(s);
}

/**
 * A request in the MCP SDK's shape, `{"method":…,"params":{"name":…,…},"jsonrpc":"2.0","id":…}`
 * (JSON.stringify of the object its Protocol.request() builds), read without
 * JSON.parse: parsing every request line the client had just serialized
 * showed in CPU profiles of the gateway per stdio call, and allocated the
 * whole message (bench/NOTES.md, "MCP stdio per call").
 * Anchored at both ends: the method is the line's first key, `params` its
 * second with `name` first, and `"jsonrpc":"2.0","id":<id>}` its last keys
 * (with the closing brace last, they are keys of the line's own object). Any
 * other shape, a notification (no id) or an escape-heavy value gives
 * undefined, and the line goes to readText(). Unlike JSON.parse this does not
 * check the middle of the line; it is the client's own JSON.stringify output,
 * and the first line of a stream (which decides whether it is JSON-RPC at all)
 * is always parsed whole.
 */
export function readSdkRequest(text: string): Read | undefined {
  const compact = readCompactRequest(text);
  if (compact !== undefined) return compact;
  const head = REQUEST_HEAD.exec(text);
  if (head === null) return undefined;
  const tail = SDK_TAIL.exec(text.length > TAIL_BYTES ? text.slice(-TAIL_BYTES) : text);
  if (tail === null) return undefined;
  const id = idOf(tail);
  const method = unescapeName(head[1]!);
  if (id === undefined || method === undefined) return undefined;
  let name: string | undefined;
  if (method === 'tools/call' || method === 'prompts/get') {
    REQUEST_PARAMS_NAME.lastIndex = head[0].length;
    const n = REQUEST_PARAMS_NAME.exec(text);
    if (n === null) return undefined;
    name = unescapeName(n[1]!);
    if (name === undefined) return undefined;
  }
  return { ok: true, messages: [{ id, method, name, response: false, errorCode: undefined, isError: false }] };
}

/** A line expected to hold requests (what a client writes to a server's stdin). */
export function readRequest(line: Line): Read {
  if (line.long) return readLong(line.head, line.tail);
  return readSdkRequest(line.text) ?? readText(line.text);
}

/** A line expected to hold responses (a server's stdout, an HTTP answer). */
export function readAnswer(line: Line): Read {
  if (line.long) return readLong(line.head, line.tail);
  return readSdkResponse(line.text) ?? readText(line.text);
}

/**
 * Server-Sent Events: lines in, the `data` of each event out (data lines
 * joined with '\n', per the SSE parsing rules). A long data line is handed on
 * as a long line.
 */
export class SseReader {
  private _data: Line[] = [];
  readonly framer: LineFramer;

  constructor(private readonly _onEvent: (data: Line) => void) {
    this.framer = new LineFramer(line => this._line(line));
  }

  private _line(line: Line): void {
    if (line.long) {
      if (line.head.startsWith('data:')) this._data.push({ head: line.head.slice(line.head.startsWith('data: ') ? 6 : 5), tail: line.tail, long: true, length: line.length });
      return;
    }
    let text = line.text;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text === '') {
      this.dispatch();
      return;
    }
    if (text.startsWith('data:')) this._data.push({ text: text.slice(text.startsWith('data: ') ? 6 : 5), long: false });
  }

  /** End of an event (blank line) or of the stream. */
  dispatch(): void {
    const data = this._data;
    if (data.length === 0) return;
    this._data = [];
    if (data.length === 1) this._onEvent(data[0]!);
    else if (data.every(d => !d.long)) this._onEvent({ text: data.map(d => (d as { text: string }).text).join('\n'), long: false });
    else this._onEvent(data.find(d => d.long)!);
  }

  end(): void {
    this.framer.flush();
    this.dispatch();
  }
}
