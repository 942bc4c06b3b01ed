/**
 * MCP / JSON-RPC calls as routed calls.
 *
 * A routed call is one JSON-RPC request and its response, matched by `id`,
 * over any transport. Each one is recorded twice: on the gateway's own
 * `gateway.request.duration` (status, error type), and on the semantic
 * conventions' `mcp.client.operation.duration` with `mcp.method.name`,
 * `gen_ai.tool.name` / `gen_ai.prompt.name`, `error.type`,
 * `rpc.response.status_code`, `network.transport`, plus our `node` and
 * `transport`. Notifications (no `id`) are not calls.
 *
 * - stdio (StdioObserver): the requests written to a child's stdin, timed to
 *   the response with the same id on its stdout. Streams are observed by
 *   wrapping `stdin.write/end` and `stdout.push` on the child's own objects:
 *   no 'data' listener, so a paused stdout stays paused.
 * - Streamable HTTP (HttpExchange): the JSON-RPC requests of a POST body,
 *   answered in its JSON or SSE response.
 *
 * Outcomes: a JSON-RPC `error` → error type = its code as a string;
 * a `tools/call` result with `isError: true` → `tool_error`; the transport
 * failing first → the transport's type (`child_exit` for a stdio request
 * still open when its child exits, `timeout` past `requestTimeoutMs`,
 * `aborted` when the client cancels it with `notifications/cancelled`).
 *
 * Cost per call: two cell records (the gateway duration and the convention
 * metric); the rest is Map and counter arithmetic on per-series state that
 * is dropped with its node.
 */
import { ValueType, type Attributes } from '@opentelemetry/api';
import { RateLimitedWarner, describe } from '../core/diag';
import { LineFramer, SseReader, readAnswer, readLine, readRequest, type Line, type Message, type Read } from './jsonrpc';
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { Series } from '../core/series-registry';
import type { TraceRef } from '../core/trace';
import type { HistogramCell, HistogramRecorder, Recorders } from '../core/recorder';
import { MAX_MCP_METHODS } from '../core/limits';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROMPT_NAME,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_MCP_METHOD_NAME,
  ATTR_NETWORK_TRANSPORT,
  ATTR_NODE,
  ATTR_RPC_RESPONSE_STATUS_CODE,
  ATTR_TRANSPORT,
  ERROR_TYPE_OTHER,
  METRIC_MCP_CLIENT_OPERATION_DURATION,
  MCP_DURATION_BUCKETS,
  MCP_INSTRUMENT,
  NODE_OTHER,
  TRANSPORT_EXEC,
} from '../core/semconv';

export { DEFAULT_MAX_TOOLS, DEFAULT_MCP_REQUEST_TIMEOUT_MS } from '../config/options';
export { MCP_DURATION_BUCKETS, MAX_MCP_METHODS };
/** Error types of the MCP observation beyond the derived ones. */
export const ERROR_TYPE_TOOL = 'tool_error';
export const ERROR_TYPE_CHILD_EXIT = 'child_exit';

const METHOD_TOOLS_CALL = 'tools/call';
const METHOD_PROMPTS_GET = 'prompts/get';

/** One (method, tool or prompt) of a series: its cells and calls in flight. */
export class McpOp {
  inFlight = 0;
  readonly ok: HistogramCell;
  private _errors: Map<string, HistogramCell> | undefined;
  constructor(
    readonly method: string,
    readonly name: string | undefined,
    private readonly _base: Attributes,
    private readonly _recorder: HistogramRecorder,
    private readonly _series: Series,
  ) {
    this.ok = _recorder.cell(_base, _series.nodeEntry);
  }
  errorCell(type: string, code: number | undefined): HistogramCell {
    const key = code === undefined ? type : `${type}\u0000${code}`;
    this._errors ??= new Map();
    let cell = this._errors.get(key);
    if (cell === undefined) {
      const a: Attributes = { ...this._base, [ATTR_ERROR_TYPE]: type };
      if (code !== undefined) a[ATTR_RPC_RESPONSE_STATUS_CODE] = String(code);
      cell = this._recorder.cell(Object.freeze(a), this._series.nodeEntry);
      this._errors.set(key, cell);
    }
    return cell;
  }
}

/** MCP bookkeeping of one series (node × transport); lives on the Series, so it goes with the node. */
export class McpSeries {
  readonly ops = new Map<string, McpOp>();
  readonly names = new Set<string>();
  readonly methods = new Set<string>();
}

/** The convention instrument and the bounds on its labels. */
export class McpMetrics {
  private readonly _duration: HistogramRecorder;
  private readonly _warn = new RateLimitedWarner();

  constructor(recorders: Recorders, readonly maxTools: number) {
    // Not prefixed: a convention name is the same in every deployment.
    this._duration = recorders.histogram(METRIC_MCP_CLIENT_OPERATION_DURATION, {
      description: MCP_INSTRUMENT.description,
      unit: MCP_INSTRUMENT.unit,
      valueType: ValueType.DOUBLE,
      boundaries: MCP_DURATION_BUCKETS,
    });
  }

  op(series: Series, rawMethod: string, rawName: string | undefined): McpOp {
    const state = ((series.mcp as McpSeries | undefined) ??= new McpSeries());
    const named = rawMethod === METHOD_TOOLS_CALL || rawMethod === METHOD_PROMPTS_GET;
    const name = named ? rawName ?? '' : undefined;
    const key = name === undefined ? rawMethod : `${rawMethod}\u0000${name}`;
    const known = state.ops.get(key);
    if (known !== undefined) return known;
    let method = rawMethod;
    if (!state.methods.has(method)) {
      if (state.methods.size >= MAX_MCP_METHODS) {
        this._warn.warn('mcp-methods', () => `more than ${MAX_MCP_METHODS} JSON-RPC methods on node ${describe(series.nodeEntry.name)}; ${describe(method)} recorded as ${ERROR_TYPE_OTHER}`);
        method = ERROR_TYPE_OTHER;
      } else state.methods.add(method);
    }
    let label = name;
    if (label !== undefined && !state.names.has(label)) {
      if (state.names.size >= this.maxTools) {
        this._warn.warn('maxTools', () => `more than maxTools=${this.maxTools} tool and prompt names on node ${describe(series.nodeEntry.name)}; ${describe(label)} and further new names are recorded as "${NODE_OTHER}"`);
        label = NODE_OTHER;
      } else state.names.add(label);
    }
    const bounded = name === undefined ? method : `${method}\u0000${label}`;
    let op = state.ops.get(bounded);
    if (op === undefined) {
      const a: Attributes = {
        [ATTR_NODE]: series.nodeEntry.name,
        [ATTR_TRANSPORT]: series.transport,
        [ATTR_MCP_METHOD_NAME]: method,
        [ATTR_NETWORK_TRANSPORT]: series.transport === TRANSPORT_EXEC ? 'pipe' : 'tcp',
      };
      if (rawMethod === METHOD_TOOLS_CALL) {
        a[ATTR_GEN_AI_TOOL_NAME] = label!;
        a[ATTR_GEN_AI_OPERATION_NAME] = 'execute_tool';
      } else if (rawMethod === METHOD_PROMPTS_GET) a[ATTR_GEN_AI_PROMPT_NAME] = label!;
      op = new McpOp(method, label, Object.freeze(a), this._duration, series);
      state.ops.set(bounded, op);
    }
    if (bounded !== key) state.ops.set(key, op);
    return op;
  }

  record(op: McpOp, seconds: number, errorType: string | undefined, code: number | undefined, trace?: TraceRef): void {
    (errorType === undefined ? op.ok : op.errorCell(errorType, code)).record(seconds, trace);
  }
}

/** One JSON-RPC request in flight. */
export interface McpCall {
  readonly series: Series;
  readonly op: McpOp;
  readonly t0: number;
  /** The sampled span the request was sent in (exemplars). */
  readonly trace: TraceRef | undefined;
}

/** Outcome of a call: undefined error type is a success. */
function outcomeOf(m: Message): { errorType: string | undefined; code: number | undefined } {
  if (m.errorCode !== undefined) {
    return Number.isNaN(m.errorCode) ? { errorType: ERROR_TYPE_OTHER, code: undefined } : { errorType: String(m.errorCode), code: m.errorCode };
  }
  return { errorType: m.isError ? ERROR_TYPE_TOOL : undefined, code: undefined };
}

/** Starts and ends calls on behalf of the stdio and HTTP paths. */
export class McpTracker {
  readonly warn = new RateLimitedWarner();
  /** The convention instrument, one per GatewayMetrics however many trackers use it. */
  readonly mcp: McpMetrics;
  constructor(readonly metrics: GatewayMetrics, readonly requestTimeoutMs: number) {
    this.mcp = metrics.shared('mcp', recorders => new McpMetrics(recorders, metrics.maxTools));
  }

  /**
   * A request seen on its way to `node`: counted in flight. `series` given
   * when the caller has one already (HTTP: the exchange's, already in flight),
   * and `trace`, the span the exchange was started in.
   */
  begin(series: Series, m: Message, alreadyInFlight: boolean, t0 = performance.now(), trace?: TraceRef): McpCall {
    const op = this.mcp.op(series, m.method!, m.name);
    const started = alreadyInFlight ? undefined : this.metrics.autoStart(series);
    op.inFlight++;
    return { series, op, t0, trace: trace ?? started };
  }

  end(call: McpCall, errorType: string | undefined, code: number | undefined, statusClass?: string, requestBytes?: number, responseBytes?: number): void {
    try {
      const seconds = (performance.now() - call.t0) / 1000;
      call.op.inFlight--;
      const type = errorType === undefined ? undefined : this.metrics.boundedErrorType(errorType);
      this.metrics.autoEnd(call.series, seconds, type, statusClass, requestBytes, responseBytes, undefined, call.trace);
      this.mcp.record(call.op, seconds, type, code, call.trace);
    } catch (err) {
      this.warn.warn('internal', () => `mcp: ${describe(err)}`);
    }
  }

  endWith(call: McpCall, response: Message): void {
    if (response.errorCode === undefined && !response.isError) {
      // A success, the common case: no outcome object.
      this.end(call, undefined, undefined);
      return;
    }
    const { errorType, code } = outcomeOf(response);
    this.end(call, errorType, code);
  }
}

type AnyFn = (...args: unknown[]) => unknown;

/** The parts of a ChildProcess the stdio observer touches. */
export interface ObservedChild {
  stdin: { write: AnyFn; end: AnyFn } | null;
  stdout: { push: AnyFn } | null;
}

/**
 * One child process on stdio. Undecided until the first complete line written
 * to its stdin: a JSON-RPC message turns the observation on (the child's
 * lifetime is then no sample), anything else turns it off for good (the child
 * keeps per-process timing and nothing more is parsed).
 */
export class StdioObserver {
  state: 'undecided' | 'on' | 'off' = 'undecided';
  private readonly _open = new Map<string | number, McpCall>();
  private readonly _in: LineFramer;
  private _out: LineFramer | undefined;
  /** stdout stopped mid-line when the observation turned on: the first line is a fragment. */
  private _skipFirst = false;
  private _lastOutByte = 10;
  private _timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly _tracker: McpTracker,
    private readonly _node: string,
    private readonly _onActivate: () => void,
  ) {
    this._in = new LineFramer(line => this._stdinLine(line));
  }

  /** Wrap the child's stdin and stdout; returns false when it has no pipes. */
  attach(child: ObservedChild): boolean {
    const stdin = child.stdin;
    const stdout = child.stdout;
    if (stdin == null || stdout == null || typeof stdin.write !== 'function' || typeof stdout.push !== 'function') return false;
    const observer = this;
    const write = stdin.write;
    const end = stdin.end;
    // `arguments` handed on as is (V8 does not materialize it for apply), where
    // a rest parameter would allocate an array on every write and read.
    stdin.write = function (this: unknown, chunk: unknown, encoding: unknown): unknown {
      observer._written(chunk, encoding);
      return write.apply(this, arguments as unknown as unknown[]);
    };
    stdin.end = function (this: unknown, chunk: unknown, encoding: unknown): unknown {
      if (typeof chunk !== 'function') observer._written(chunk, encoding);
      return end.apply(this, arguments as unknown as unknown[]);
    };
    const push = stdout.push;
    stdout.push = function (this: unknown, chunk: unknown, encoding: unknown): unknown {
      observer._read(chunk, encoding);
      return push.apply(this, arguments as unknown as unknown[]);
    };
    return true;
  }

  private _written(chunk: unknown, encoding: unknown): void {
    if (this.state === 'off' || chunk == null) return;
    try {
      this._in.push(asChunk(chunk, encoding));
    } catch (err) {
      this._tracker.warn.warn('internal', () => `mcp stdio: ${describe(err)}`);
    }
  }

  private _read(chunk: unknown, encoding: unknown): void {
    if (chunk == null) return;
    try {
      if (this._out === undefined) {
        // Not on yet: only remember whether stdout stands at a line start.
        if (this.state === 'undecided') {
          const c = asChunk(chunk, encoding);
          const n = typeof c === 'string' ? c.length : c.byteLength;
          if (n > 0) this._lastOutByte = typeof c === 'string' ? c.charCodeAt(n - 1) : c[n - 1]!;
        }
        return;
      }
      this._out.push(asChunk(chunk, encoding));
    } catch (err) {
      this._tracker.warn.warn('internal', () => `mcp stdio: ${describe(err)}`);
    }
  }

  private _stdinLine(line: Line): void {
    if (this.state === 'off') return;
    // The first line decides, so it is parsed whole; later ones in the SDK's shape are not.
    const read = this.state === 'on' ? readRequest(line) : readLine(line);
    if (this.state === 'undecided') {
      if (!line.long && line.text.trim() === '') return;
      if (!read.ok || read.messages.length === 0) {
        this.state = 'off';
        this._in.reset();
        return;
      }
      this.state = 'on';
      this._skipFirst = this._lastOutByte !== 10;
      this._out = new LineFramer(l => this._stdoutLine(l));
      this._onActivate();
    }
    if (!read.ok) {
      this._badLine('stdin', read, line);
      return;
    }
    for (const m of read.messages) {
      if (m.method !== undefined && m.id !== undefined && m.id !== null) this._request(m);
      else if (m.requestId !== undefined) {
        // The client gave up on a request (the MCP SDK does on its own timeout or an abort).
        const call = this._open.get(m.requestId);
        if (call !== undefined) {
          this._open.delete(m.requestId);
          this._tracker.end(call, 'aborted', undefined);
        }
      }
    }
  }

  private _request(m: Message): void {
    const id = m.id as string | number;
    if (this._open.has(id)) {
      this._tracker.warn.warn('mcp-duplicate', () => `mcp stdio: request id ${describe(id)} written to node ${describe(this._node)} while one with that id is open; the second is not timed`);
      return;
    }
    const series = this._tracker.metrics.autoSeries(this._node, TRANSPORT_EXEC);
    if (series === undefined) return;
    this._open.set(id, this._tracker.begin(series, m, false));
    this._armTimer();
  }

  private _stdoutLine(line: Line): void {
    if (this._skipFirst) {
      this._skipFirst = false;
      return;
    }
    if (!line.long && line.text.trim() === '') return;
    const read = readAnswer(line);
    if (!read.ok) {
      this._badLine('stdout', read, line);
      return;
    }
    for (const m of read.messages) {
      if (!m.response) continue;
      if (m.id === undefined || m.id === null) {
        this._tracker.warn.warn('mcp-null-id', () => `mcp stdio: node ${describe(this._node)} answered with an error without an id (code ${m.errorCode}); not matched to a call`);
        continue;
      }
      const call = this._open.get(m.id);
      if (call === undefined) {
        this._tracker.warn.warn('mcp-unknown-id', () => `mcp stdio: node ${describe(this._node)} answered id ${describe(m.id)}, which no open request has (answered already, timed out, or never sent); ignored`);
        continue;
      }
      this._open.delete(m.id);
      this._tracker.endWith(call, m);
    }
  }

  private _badLine(stream: string, read: Read & { ok: false }, line: Line): void {
    const what = read.reason === 'not-json' ? 'a line that is not JSON' : 'JSON that is not JSON-RPC 2.0';
    const sample = line.long ? `${line.length} bytes` : describe(line.text);
    this._tracker.warn.warn(`mcp-bad-${stream}`, () => `mcp stdio: ${what} on the ${stream} of node ${describe(this._node)} (${sample}); ignored`);
  }

  /** One timer per child, for its oldest open request (Map order is start order). */
  private _armTimer(): void {
    if (this._timer !== undefined || this._open.size === 0) return;
    const oldest = this._open.values().next().value as McpCall;
    const wait = Math.max(0, oldest.t0 + this._tracker.requestTimeoutMs - performance.now());
    this._timer = setTimeout(() => {
      this._timer = undefined;
      const now = performance.now();
      for (const [id, call] of this._open) {
        if (now - call.t0 < this._tracker.requestTimeoutMs) break;
        this._open.delete(id);
        this._tracker.end(call, 'timeout', undefined);
      }
      this._armTimer();
    }, wait);
    this._timer.unref();
  }

  /** The child closed: every open request is an error of `errorType`. */
  close(errorType: string): void {
    if (this._timer !== undefined) clearTimeout(this._timer);
    this._timer = undefined;
    if (this.state !== 'on') return;
    if (this._out?.pending === true) {
      this._tracker.warn.warn('mcp-partial', () => `mcp stdio: node ${describe(this._node)} exited in the middle of a line on its stdout; the partial line is ignored`);
    }
    this._out?.reset();
    this._in.reset();
    for (const call of this._open.values()) this._tracker.end(call, errorType, undefined);
    this._open.clear();
    // Writes after the exit (they fail with EPIPE) start no call.
    this.state = 'off';
  }
}

function asChunk(chunk: unknown, encoding: unknown): string | Uint8Array {
  if (typeof chunk === 'string') {
    // A string in another encoding than UTF-8 is decoded to what the child reads.
    return typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8' && Buffer.isEncoding(encoding)
      ? Buffer.from(chunk, encoding)
      : chunk;
  }
  if (chunk instanceof Uint8Array) return chunk;
  return String(chunk);
}

/**
 * The JSON-RPC side of one HTTP exchange: the requests of its body (read up
 * to HEAD_BYTES, see paths/jsonrpc.ts) and the responses found in its JSON or
 * SSE answer.
 */
export class HttpExchange {
  /** Undecided until the body ends; then requests, or 'none' (not a routed call), or 'other' (not JSON-RPC). */
  kind: 'undecided' | 'requests' | 'none' | 'other' = 'undecided';
  requests: Message[] = [];
  private readonly _body = new LineFramer(line => this._bodyDone(line));
  private _answered = new Map<string | number, Message>();
  private _nullError: Message | undefined;
  private _response: { json: LineFramer } | { sse: SseReader } | undefined;

  /** A chunk of the request body. */
  body(chunk: unknown, encoding?: unknown): void {
    if (this.kind !== 'undecided' || chunk == null) return;
    const c = asChunk(chunk, encoding);
    // The first byte decides: a JSON-RPC body starts with `{` or `[`.
    if (!this._body.pending) {
      const first = firstNonSpace(c);
      if (first === -1) return;
      if (first !== 123 && first !== 91) {
        this.kind = 'other';
        return;
      }
    }
    this._body.append(c);
  }

  /** The request body is complete. */
  bodyEnd(): void {
    if (this.kind !== 'undecided') return;
    this._body.flush();
    if (this.kind === 'undecided') this.kind = 'other';
  }

  private _bodyDone(line: Line): void {
    const read = readRequest(line);
    if (!read.ok) {
      this.kind = 'other';
      return;
    }
    for (const m of read.messages) {
      if (m.method !== undefined && m.id !== undefined && m.id !== null && !m.response) this.requests.push(m);
    }
    this.kind = this.requests.length > 0 ? 'requests' : 'none';
  }

  /** Response headers: how to read the answer. */
  responseType(contentType: string | undefined): void {
    if (this.kind !== 'requests' || contentType === undefined) return;
    const ct = contentType.trimStart().toLowerCase();
    if (ct.startsWith('text/event-stream')) this._response = { sse: new SseReader(line => this._answer(line)) };
    else if (ct.startsWith('application/json') || ct.includes('+json')) this._response = { json: new LineFramer(line => this._answer(line)) };
  }

  responseChunk(chunk: unknown, encoding?: unknown): void {
    const r = this._response;
    if (r === undefined || chunk == null) return;
    const c = asChunk(chunk, encoding);
    if ('json' in r) r.json.append(c);
    else r.sse.framer.push(c);
  }

  responseEnd(): void {
    const r = this._response;
    if (r === undefined) return;
    this._response = undefined;
    if ('json' in r) r.json.flush();
    else r.sse.end();
  }

  private _answer(line: Line): void {
    if (!line.long && line.text.trim() === '') return;
    const read = readAnswer(line);
    if (!read.ok) return;
    for (const m of read.messages) {
      if (!m.response) continue;
      if (m.id === undefined || m.id === null) {
        if (m.errorCode !== undefined) this._nullError ??= m;
      } else this._answered.set(m.id, m);
    }
  }

  /** The response to request `m` found in the answer, if any (an id-less error answers every request). */
  responseTo(m: Message): Message | undefined {
    return this._answered.get(m.id as string | number) ?? this._nullError;
  }
}

function firstNonSpace(c: string | Uint8Array): number {
  const n = typeof c === 'string' ? c.length : c.byteLength;
  for (let i = 0; i < n; i++) {
    const b = typeof c === 'string' ? c.charCodeAt(i) : c[i]!;
    if (b !== 32 && b !== 9 && b !== 10 && b !== 13) return b;
  }
  return -1;
}

export { outcomeOf };
