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
 * - stdio (McpStdioReader): the requests written to a child's stdin, timed
 *   to the response with the same id on its stdout (the exec path hands over
 *   both streams' chunks; it reads them without a 'data' listener, so a
 *   paused stdout stays paused).
 * - Streamable HTTP (McpHttpReader): the JSON-RPC requests of a POST body,
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
import type { TraceRef } from '../core/trace';
import { ValueType, type Attributes } from '@opentelemetry/api';
import { RateLimitedWarner, describe } from '../core/diag';
import { LineFramer, readAnswer, readLine, readRequest, type Line, type Message, type Read } from './jsonrpc';
import { Doc, SseDocs } from './jsonrpc-body';
import {
  SKIP,
  statusClassOf,
  type Chunk,
  type Exchange,
  type ExchangeEnd,
  type HttpReader,
  type Protocol,
  type ProtocolFactory,
  type RequestHead,
  type ResponseHead,
  type StdioChild,
  type StdioReader,
  type Verdict,
} from './protocol';
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { Series } from '../core/series-registry';
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
    _series.nodeEntry.track(this.ok);
  }
  errorCell(type: string, code: number | undefined): HistogramCell {
    const key = code === undefined ? type : `${type}\u0000${code}`;
    this._errors ??= new Map();
    let cell = this._errors.get(key);
    if (cell === undefined) {
      const a: Attributes = { ...this._base, [ATTR_ERROR_TYPE]: type };
      if (code !== undefined) a[ATTR_RPC_RESPONSE_STATUS_CODE] = String(code);
      cell = this._recorder.cell(Object.freeze(a), this._series.nodeEntry);
      this._series.nodeEntry.track(cell);
      this._errors.set(key, cell);
    }
    return cell;
  }
}

/** MCP bookkeeping of one series (node × transport); lives on the Series, so it goes with the node. */
export class McpSeries {
  readonly ops = new Map<string, McpOp>();
  /** tools/call and prompts/get ops by their raw name: found without building a key per call. */
  readonly tools = new Map<string, McpOp>();
  readonly prompts = new Map<string, McpOp>();
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
    const named = rawMethod === METHOD_TOOLS_CALL ? state.tools : rawMethod === METHOD_PROMPTS_GET ? state.prompts : undefined;
    const name = named !== undefined ? rawName ?? '' : undefined;
    if (named !== undefined) {
      const hit = named.get(name!);
      if (hit !== undefined) return hit;
    }
    const key = name === undefined ? rawMethod : `${rawMethod}\u0000${name}`;
    const known = state.ops.get(key);
    if (known !== undefined) {
      named?.set(name!, known);
      return known;
    }
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
    named?.set(name!, op);
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
   * when the caller has one already (HTTP: the exchange's, already in flight).
   */
  begin(series: Series, m: Message, alreadyInFlight: boolean, t0 = performance.now(), trace?: TraceRef): McpCall {
    const op = this.mcp.op(series, m.method!, m.name);
    const started = alreadyInFlight ? undefined : this.metrics.autoStart(series);
    op.inFlight++;
    return { series, op, t0, trace: trace ?? started };
  }

  /** @param now the clock reading the end was seen at, when the caller has one (performance.now() costs 65–160 ns here). */
  end(call: McpCall, errorType: string | undefined, code: number | undefined, statusClass?: string, requestBytes?: number, responseBytes?: number, now = performance.now()): void {
    try {
      const seconds = (now - call.t0) / 1000;
      call.op.inFlight--;
      const type = errorType === undefined ? undefined : this.metrics.boundedErrorType(errorType);
      this.metrics.autoEnd(call.series, seconds, type, statusClass, requestBytes, responseBytes, now, call.trace);
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

/**
 * One child process on stdio. Undecided until the first complete line written
 * to its stdin: a JSON-RPC message turns the observation on (the child's
 * lifetime is then no sample), anything else turns it off for good (the child
 * keeps per-process timing and nothing more is parsed).
 */
export class McpStdioReader implements StdioReader {
  state: 'undecided' | 'on' | 'off' = 'undecided';
  private readonly _open = new Map<string | number, McpCall>();
  private readonly _in: LineFramer;
  private _out: LineFramer | undefined;
  private readonly _node: string;
  /** stdout stopped mid-line when the observation turned on: the first line is a fragment. */
  private _skipFirst = false;
  private _lastOutByte = 10;
  private _timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly _tracker: McpTracker,
    private readonly _child: StdioChild,
  ) {
    this._node = _child.series.nodeEntry.name;
    this._in = new LineFramer(line => this._stdinLine(line));
  }

  stdin(chunk: Chunk): void {
    if (this.state === 'off') return;
    try {
      this._in.push(chunk);
    } catch (err) {
      this._tracker.warn.warn('internal', () => `mcp stdio: ${describe(err)}`);
    }
  }

  stdout(chunk: Chunk): void {
    try {
      if (this._out === undefined) {
        // Not on yet: only remember whether stdout stands at a line start.
        if (this.state === 'undecided') {
          const n = typeof chunk === 'string' ? chunk.length : chunk.byteLength;
          if (n > 0) this._lastOutByte = typeof chunk === 'string' ? chunk.charCodeAt(n - 1) : chunk[n - 1]!;
        }
        return;
      }
      this._out.push(chunk);
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
      this._child.own();
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

  /**
   * The child closed: every open request is an error, of the process's type
   * when the child never really ran or was timed out, else `child_exit`.
   */
  close(processErrorType: string | undefined): boolean {
    if (this._timer !== undefined) clearTimeout(this._timer);
    this._timer = undefined;
    if (this.state !== 'on') return false;
    const errorType = processErrorType === 'spawn_error' || processErrorType === 'timeout' ? processErrorType : ERROR_TYPE_CHILD_EXIT;
    if (this._out?.pending === true) {
      this._tracker.warn.warn('mcp-partial', () => `mcp stdio: node ${describe(this._node)} exited in the middle of a line on its stdout; the partial line is ignored`);
    }
    this._out?.reset();
    this._in.reset();
    for (const call of this._open.values()) this._tracker.end(call, errorType, undefined);
    this._open.clear();
    // Writes after the exit (they fail with EPIPE) start no call.
    this.state = 'off';
    return true;
  }
}

/**
 * The JSON-RPC side of one HTTP exchange: the requests of its body (read up
 * to HEAD_BYTES, see protocols/jsonrpc.ts) and the responses found in its JSON
 * or SSE answer. With requests in the body the exchange is theirs (`own`):
 * each JSON-RPC request is one call, ended with the exchange.
 */
export class McpHttpReader implements HttpReader {
  /** Undecided until the body ends; then requests, or 'none' (not a routed call), or 'other' (not JSON-RPC). */
  kind: 'undecided' | 'requests' | 'none' | 'other' = 'undecided';
  requests: readonly Message[] = NO_MESSAGES;
  private _calls: McpCall[] | undefined;
  private _body: Doc | undefined;
  /** The answer to the first request, then the others by id (a batch). */
  private _first: Message | undefined;
  private _answered: Map<string | number, Message> | undefined;
  private _nullError: Message | undefined;
  private _json: Doc | undefined;
  private _sse: SseDocs | undefined;

  constructor(private readonly _tracker: McpTracker) {}

  requestChunk(c: Chunk): void {
    if (this.kind !== 'undecided') return;
    // The first byte decides: a JSON-RPC body starts with `{` or `[`.
    if (this._body === undefined) {
      const first = firstNonSpace(c);
      if (first === -1) return;
      if (first !== 123 && first !== 91) {
        this.kind = 'other';
        return;
      }
      this._body = new Doc(false);
    }
    this._body.append(c);
  }

  /** The request body is complete: its JSON-RPC requests become the calls, or the exchange is none. */
  requestEnd(exchange: Exchange): Verdict {
    // A body we never saw (Node 22's fetch) is not "no JSON-RPC request": the exchange stays one plain call.
    if (!exchange.bodySeen) return 'pass';
    this.bodyEnd();
    if (this.kind === 'none') return 'drop';
    if (this.kind !== 'requests') return 'pass';
    // The exchange's own in-flight count becomes the first call's.
    const requests = this.requests;
    this._calls = requests.length === 1
      ? [this._tracker.begin(exchange.series, requests[0]!, true, exchange.t0, exchange.trace)]
      : requests.map((m, i) => this._tracker.begin(exchange.series, m, i === 0, exchange.t0, exchange.trace));
    return 'own';
  }

  /** The request body is complete (decides `kind`). */
  bodyEnd(): void {
    if (this.kind !== 'undecided') return;
    const body = this._body;
    this._body = undefined;
    if (body === undefined) {
      this.kind = 'other';
      return;
    }
    // One request in a compact shape (the common case), else the body parsed.
    const one = body.request();
    if (one !== undefined) {
      this.requests = [one];
      this.kind = 'requests';
      return;
    }
    const read = body.requests();
    if (!read.ok) {
      this.kind = 'other';
      return;
    }
    const requests: Message[] = [];
    for (const m of read.messages) {
      if (m.method !== undefined && m.id !== undefined && m.id !== null && !m.response) requests.push(m);
    }
    this.requests = requests;
    this.kind = requests.length > 0 ? 'requests' : 'none';
  }

  /** Response headers: how to read the answer. */
  responseHead(head: ResponseHead): void {
    if (this.kind !== 'requests') return;
    const contentType = head.header('content-type');
    if (contentType === undefined) return;
    if (startsWithType(contentType, 'text/event-stream')) this._sse = new SseDocs(doc => this._answer(doc));
    else if (startsWithType(contentType, 'application/json') || contentType.toLowerCase().includes('+json')) this._json = new Doc(true);
  }

  responseChunk(c: Chunk): void {
    if (this._json !== undefined) this._json.append(c);
    else if (this._sse !== undefined) this._sse.push(c);
  }

  private _responseEnd(): void {
    const json = this._json;
    const sse = this._sse;
    this._json = this._sse = undefined;
    if (json !== undefined) {
      if (json.length > 0) this._answer(json);
    } else if (sse !== undefined) sse.end();
  }

  private _answer(doc: Doc): void {
    const one = doc.answer();
    if (one !== undefined) {
      this._response(one);
      return;
    }
    const read = doc.answers();
    if (read.ok) for (const m of read.messages) this._response(m);
  }

  private _response(m: Message): void {
    if (!m.response) return;
    if (m.id === undefined || m.id === null) {
      if (m.errorCode !== undefined) this._nullError ??= m;
    } else if (this._first === undefined) this._first = m;
    else (this._answered ??= new Map()).set(m.id, m);
  }

  /** The response to request `m` found in the answer, if any (an id-less error answers every request). */
  responseTo(m: Message): Message | undefined {
    const first = this._first;
    if (first !== undefined && first.id === m.id) return first;
    return this._answered?.get(m.id as string | number) ?? this._nullError;
  }

  /**
   * Each call ends with the exchange: a transport failure first gives its
   * type to every call; otherwise the response with the call's id decides
   * (error code, tool_error), and without one the HTTP status does, as for
   * any exchange.
   */
  end(e: ExchangeEnd): void {
    const calls = this._calls;
    if (calls === undefined) return;
    this._calls = undefined;
    this._responseEnd();
    const code = e.statusCode;
    for (let i = 0; i < calls.length; i++) {
      let type = e.errorType;
      let rpcCode: number | undefined;
      const response = e.failed ? undefined : this.responseTo(this.requests[i]!);
      if (response !== undefined) {
        if (response.errorCode === undefined && !response.isError) type = undefined;
        else ({ errorType: type, code: rpcCode } = outcomeOf(response));
      }
      const statusClass = code !== undefined && type !== undefined ? statusClassOf(code) : undefined;
      // Bytes belong to the exchange: counted once, with its first call.
      this._tracker.end(calls[i]!, type, rpcCode, statusClass, i === 0 ? e.requestBytes : undefined, i === 0 ? e.responseBytes : undefined, e.now);
    }
  }
}

/** Whether a Content-Type is `type` (any case, parameters after it). */
function startsWithType(contentType: string, type: string): boolean {
  let i = 0;
  while (i < contentType.length && contentType.charCodeAt(i) <= 32) i++;
  if (contentType.startsWith(type, i)) return true;
  return contentType.length - i >= type.length && contentType.slice(i, i + type.length).toLowerCase() === type;
}

const NO_MESSAGES: readonly Message[] = Object.freeze([]);

/** The Streamable HTTP session header: a DELETE carrying it ends a session, not a routed call. */
const MCP_SESSION_HEADER = 'mcp-session-id';

/** JSON-RPC / MCP: the requests of a POST body over HTTP, the lines of a child's stdio. */
export class McpProtocol implements Protocol {
  readonly name = 'mcp';
  constructor(readonly tracker: McpTracker) {}

  http(head: RequestHead): HttpReader | typeof SKIP | undefined {
    const method = head.method;
    if (method === 'POST') return new McpHttpReader(this.tracker);
    if (method === 'DELETE' && head.header(MCP_SESSION_HEADER) !== undefined) return SKIP;
    return undefined;
  }

  stdio(child: StdioChild): StdioReader {
    return new McpStdioReader(this.tracker, child);
  }
}

/** The registration's MCP protocol, or undefined when `mcp: false`. */
export const mcpProtocol: ProtocolFactory = (metrics, config) =>
  config.mcp === undefined ? undefined : new McpProtocol(new McpTracker(metrics, config.mcp.requestTimeoutMs));

function firstNonSpace(c: Chunk): number {
  const n = typeof c === 'string' ? c.length : c.byteLength;
  for (let i = 0; i < n; i++) {
    const b = typeof c === 'string' ? c.charCodeAt(i) : c[i]!;
    if (b !== 32 && b !== 9 && b !== 10 && b !== 13) return b;
  }
  return -1;
}

export { outcomeOf };
