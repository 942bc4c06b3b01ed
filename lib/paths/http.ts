/**
 * Automatic HTTP path: outbound calls through `http`/`https` and global
 * `fetch` / undici, recorded with `transport="http"`.
 *
 * Built on Node's diagnostics channels rather than
 * @opentelemetry/instrumentation-http: that one does not see fetch, cannot add
 * a node attribute, and costs 30–35% of a proxy's throughput on this machine
 * (BENCHMARKS.md). Subscribing patches no module. Per call, on the call's own
 * objects only: `push` of a response whose length is not declared (to count
 * its bytes, or read a JSON-RPC answer, without a 'data' listener), and
 * `write`/`end` of a POST's request (to read the JSON-RPC method). Each
 * wrapper passes its arguments and result through unchanged.
 *
 * The node is the real destination: the `host:port` the request connects to
 * (default port filled in, IPv6 as `[addr]:port`), the same key for node:http
 * and undici. Proxies such as http-proxy forward the caller's `Host` header
 * unchanged, so the header only serves as a second key for maps written that way.
 *
 * Duration runs from the request's start to the end of the response body. We
 * never add 'error' or 'data' listeners to the host's request/response objects:
 * the first would swallow errors the host would otherwise see, the second
 * would switch the body to flowing mode.
 *
 * A long-lived stream is not a call: a GET answered with `text/event-stream`,
 * an upgraded connection (101) and a CONNECT tunnel leave in-flight at their
 * response headers and count in `gateway.streams.opened` /
 * `gateway.stream.open.duration` instead. A POST answered with an event stream
 * (MCP Streamable HTTP) ends with its answer, so it stays a call timed to the
 * end of its body.
 */
import * as dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { RateLimitedWarner, describe } from '../core/diag';
import type { ResolvedHttpPath } from '../config/resolve';
import { errorTypeOf } from '../core/error-type';
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { Series } from '../core/series-registry';
import type { TraceRef } from '../core/trace';
import type { AutomaticPath } from './path';
import { disableScope, enableScope } from '../core/scope';
import { TRANSPORT_HTTP } from '../core/semconv';
// MCP Streamable HTTP (issue #13): the JSON-RPC requests of a POST are the routed calls.
import { HttpExchange, outcomeOf, type McpCall, type McpTracker } from './mcp';

interface Attempt {
  series: Series;
  t0: number;
  done: boolean;
  statusCode: number | undefined;
  requestBytes: number | undefined;
  responseBytes: number | undefined;
  /** The request's own timeout fired ('timeout' event): a destroy that follows is a timeout. */
  timedOut: boolean;
  /** JSON-RPC in the body of a POST (MCP observation on), and the calls it carries. */
  mcp: HttpExchange | undefined;
  calls: McpCall[] | undefined;
  /** undici: the request has a body, and how many of its chunks were published (bodyChunkSent). */
  hasBody: boolean;
  bodyChunks: number;
  /** The sampled span the request was made in (exemplars), read when it began. */
  trace: TraceRef | undefined;
}

/**
 * A request (node:http's ClientRequest, undici's request) or node:http
 * response carrying its attempt under the path's own symbol. A property of the
 * call's own object, not a WeakMap entry: a WeakMap set and two reads with a
 * new key per call cost 1.3–3.7 µs here, GC included (42 ns with reused keys),
 * the property under 0.13 µs (bench/profile/http-pieces.js). A symbol is not
 * seen by Object.keys, for…in or JSON.stringify, and one per HttpPath keeps two
 * paths (two registrations, the CJS and ESM copies) apart.
 */
type Tagged = { [key: symbol]: Attempt | undefined };

/**
 * The node of the calls on one socket (zero config and host:port maps, where
 * it depends on the destination alone): a keep-alive socket carries call
 * after call to the same `host:port`, so it is worked out once per socket
 * instead of once per call (the port lookup, keyHost, the key string and the
 * map lookup: bench/profile/http-pieces.js).
 */
interface SocketNode {
  /** What the node was worked out from: the request's host and protocol. */
  readonly host: string;
  readonly protocol: string;
  /** The Host header it also depended on (a map's second key; undefined: none), or null when it did not. */
  readonly hostHeader: string | undefined | null;
  readonly node: string | undefined;
  /** setOwnEndpoint() generation it was made in. */
  readonly generation: number;
}
type SocketTagged = { [key: symbol]: SocketNode | undefined };

/** Minimal shape of undici's request object in its diagnostics messages. */
interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  method?: unknown;
  body?: unknown;
  headers?: unknown;
  upgrade?: unknown;
  /** Set by fetch from the extracted body (its body itself is an async generator). */
  contentLength?: unknown;
}
interface UndiciResponse {
  statusCode?: unknown;
  headers?: unknown;
}

/** What node:http's ClientRequest holds that the typings leave out. */
interface ClientRequestInternals {
  timeoutCb?: unknown;
  timeout?: unknown;
  upgradeOrConnect?: unknown;
  res?: IncomingMessage | null;
  agent?: { sockets?: Record<string, unknown[] | undefined>; requests?: Record<string, unknown[] | undefined>; options?: { timeout?: unknown } } | false;
}

const CHANNELS = {
  // MCP observation: made before the body is written (start comes after end()).
  httpCreated: 'http.client.request.created',
  httpStart: 'http.client.request.start',
  httpResponse: 'http.client.response.finish',
  httpError: 'http.client.request.error',
  undiciCreate: 'undici:request:create',
  undiciHeaders: 'undici:request:headers',
  undiciTrailers: 'undici:request:trailers',
  undiciError: 'undici:request:error',
  // MCP observation: request and response body chunks (undici 7, also bundled with Node 24).
  undiciBodyChunkSent: 'undici:request:bodyChunkSent',
  undiciBodySent: 'undici:request:bodySent',
  undiciBodyChunkReceived: 'undici:request:bodyChunkReceived',
} as const;

/** The Streamable HTTP session header: a DELETE carrying it ends a session, not a routed call. */
const MCP_SESSION_HEADER = 'mcp-session-id';

/** Bound on the origin → node cache (host:port maps stay small; URLs with many hosts must not grow it). */
const ORIGIN_CACHE_MAX = 1024;

/**
 * Every OTLP/HTTP exporter of OpenTelemetry JS sends this User-Agent
 * (otlp-exporter-base, also after a user-supplied prefix): telemetry export,
 * ours or the app's own SDK's, is never a gateway call.
 */
const OTLP_EXPORTER_AGENT = 'OTel-OTLP-Exporter-JavaScript/';

const EVENT_STREAM = 'text/event-stream';

function defaultPort(protocol: string): string {
  return protocol === 'https:' || protocol === 'wss:' ? '443' : '80';
}

function statusClassOf(code: number): string {
  return `${Math.floor(code / 100)}xx`;
}

function byteLength(body: unknown): number | undefined {
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  return undefined;
}

function contentLength(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** A header from undici's raw header list ([k, v, k, v, …] of Buffers or strings). */
function undiciHeader(headers: unknown, name: string): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1]);
  }
  return undefined;
}

function isEventStream(contentType: unknown): boolean {
  return typeof contentType === 'string' && contentType.trimStart().toLowerCase().startsWith(EVENT_STREAM);
}

/** A host as it appears in a `host:port` key: lowercase, IPv6 in brackets. */
export function keyHost(host: string): string {
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h;
  return h.includes(':') ? `[${h}]` : h;
}

/** `Host: name[:port]` → `name:port` (default port of `protocol` filled in), or undefined. */
export function hostHeaderKey(header: string, protocol: string): string | undefined {
  const h = header.trim().toLowerCase();
  if (h === '') return undefined;
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    if (close === -1) return undefined;
    const rest = h.slice(close + 1);
    return rest === '' ? `${h.slice(0, close + 1)}:${defaultPort(protocol)}` : rest.startsWith(':') ? h : undefined;
  }
  const colon = h.lastIndexOf(':');
  if (colon === -1) return `${h}:${defaultPort(protocol)}`;
  return h.indexOf(':') === colon ? h : undefined;
}

/**
 * The port a node:http request connects to. ClientRequest keeps no port of its
 * own (only in a default `Host` header, which proxies replace), so it comes
 * from the agent's key for the request or its socket (`host:port:…`, what the
 * agent actually connects to), then from the connected socket, then from a
 * `Host` header naming the same host, then the protocol's default.
 */
export function connectPort(request: ClientRequest, host: string, protocol: string, hostHeader: unknown): string {
  const socket = request.socket;
  // A socket's destination never changes, and keep-alive reuses it: look it up once per socket.
  if (socket != null) {
    const known = socketPorts.get(socket);
    if (known !== undefined) return known;
  }
  const port = knownConnectPort(request, socket, host);
  if (port !== undefined) {
    if (socket != null) socketPorts.set(socket, port);
    return port;
  }
  if (typeof hostHeader === 'string') {
    const key = hostHeaderKey(hostHeader, protocol);
    const kh = keyHost(host);
    if (key !== undefined && key.startsWith(`${kh}:`)) return key.slice(kh.length + 1);
  }
  return defaultPort(protocol);
}

/** Destination port per socket, when the agent or the connected socket said it (see connectPort). */
const socketPorts = new WeakMap<object, string>();

/** The port from the agent's key for the request or its socket, else from the connected socket. */
function knownConnectPort(request: ClientRequest, socket: ClientRequest['socket'], host: string): string | undefined {
  const agent = (request as unknown as ClientRequestInternals).agent;
  if (typeof agent === 'object' && agent !== null) {
    const prefix = `${host}:`;
    const lists = socket != null ? agent.sockets : agent.requests;
    const item: unknown = socket ?? request;
    if (lists != null) {
      for (const name in lists) {
        if (!name.startsWith(prefix)) continue;
        const list = lists[name];
        if (list !== undefined && list.includes(item)) {
          const end = name.indexOf(':', prefix.length);
          const port = end === -1 ? name.slice(prefix.length) : name.slice(prefix.length, end);
          if (/^[0-9]+$/.test(port)) return port;
        }
      }
    }
  }
  const remotePort = socket?.remotePort;
  return typeof remotePort === 'number' ? String(remotePort) : undefined;
}

/** Says whether a destination is this process's own metrics endpoint. */
export type OwnEndpoint = (host: string, port: string) => boolean;

export class HttpPath implements AutomaticPath {
  /** The property under which a call's objects keep its attempt (see Tagged). */
  private readonly _key: symbol = Symbol('otel-gateway-metrics.http-attempt');
  /** node:http POST bodies seen since the request was created (MCP observation). */
  private readonly _bodies = new WeakMap<object, HttpExchange>();
  private readonly _originNodes = new Map<string, string | null>();
  /** The property under which a socket keeps its SocketNode. */
  private readonly _socketKey: symbol = Symbol('otel-gateway-metrics.http-socket-node');
  /** Bumped by setOwnEndpoint(): older SocketNodes are stale. */
  private _generation = 0;
  private readonly _warn = new RateLimitedWarner();
  private _enabled = false;
  private _own: OwnEndpoint | undefined;

  constructor(
    private readonly _metrics: GatewayMetrics,
    private readonly _config: ResolvedHttpPath,
    /** The JSON-RPC observation, or undefined when it is off (each exchange is one call). */
    private readonly _mcp?: McpTracker,
  ) {}

  /** Requests to this destination are the package's own (scrapes of its endpoint): never recorded. */
  setOwnEndpoint(own: OwnEndpoint | undefined): void {
    this._own = own;
    this._originNodes.clear();
    this._generation++;
  }

  /** A channel handler that never throws into the publisher (the app's request): an internal error is a rate-limited warning. */
  private _guarded(handler: (message: unknown) => void): (message: unknown) => void {
    return message => {
      try {
        handler(message);
      } catch (err) {
        this._warn.warn('internal', () => `http path: ${describe(err)}`);
      }
    };
  }

  /**
   * Channel → handler, subscribed and unsubscribed in one loop
   * (instrumentation-undici's ListenerRecord list). The body channels only
   * matter to the JSON-RPC observation.
   */
  private _listeners(): readonly (readonly [string, (message: unknown) => void])[] {
    const listeners: [string, (message: unknown) => void][] = [
      [CHANNELS.httpStart, this._onHttpStart],
      [CHANNELS.httpResponse, this._onHttpResponse],
      [CHANNELS.httpError, this._onHttpError],
      [CHANNELS.undiciCreate, this._onUndiciCreate],
      [CHANNELS.undiciHeaders, this._onUndiciHeaders],
      [CHANNELS.undiciTrailers, this._onUndiciTrailers],
      [CHANNELS.undiciError, this._onUndiciError],
    ];
    if (this._mcp !== undefined) {
      listeners.push(
        [CHANNELS.httpCreated, this._onHttpCreated],
        [CHANNELS.undiciBodyChunkSent, this._onUndiciBodyChunkSent],
        [CHANNELS.undiciBodySent, this._onUndiciBodySent],
        [CHANNELS.undiciBodyChunkReceived, this._onUndiciBodyChunkReceived],
      );
    }
    return listeners;
  }

  enable(): void {
    if (this._enabled) return;
    this._enabled = true;
    enableScope();
    for (const [channel, handler] of this._listeners()) dc.subscribe(channel, handler);
  }

  disable(): void {
    if (!this._enabled) return;
    this._enabled = false;
    disableScope();
    for (const [channel, handler] of this._listeners()) dc.unsubscribe(channel, handler);
  }

  // ---- node resolution --------------------------------------------------

  /**
   * Node of a call to `host:port` (host already as keyHost() writes it);
   * undefined when it is not a gateway call. `hostHeader` is the second key of
   * a map; `path` only matters to a nodeFor function.
   */
  private _nodeFor(protocol: string, host: string, port: string, path: string, hostHeader: string | undefined): string | undefined {
    if (this._own !== undefined && this._own(host, port)) return undefined;
    const key = `${host}:${port}`;
    const config = this._config;
    if (config.mode === 'zero-config') return key;
    const map = config.hostPortMap;
    if (map !== undefined) {
      const node = map.get(key);
      if (node !== undefined || hostHeader === undefined) return node;
      const second = hostHeaderKey(hostHeader, protocol);
      return second === undefined ? undefined : map.get(second);
    }
    const nodeFor = config.nodeFor;
    if (nodeFor === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(`${protocol}//${key}${path.startsWith('/') ? path : `/${path}`}`);
    } catch {
      this._warn.warn('url', () => `http path: cannot parse ${describe(`${protocol}//${key}${path}`)}; call not recorded`);
      return undefined;
    }
    try {
      const node = nodeFor(url, key);
      return typeof node === 'string' ? node : undefined;
    } catch (err) {
      this._warn.warn('nodeFor', () => `http.nodeFor threw ${describe(err)}; call not recorded`);
      return undefined;
    }
  }

  private _begin(key: object, node: string | undefined, requestBytes: number | undefined): Attempt | undefined {
    if (node === undefined) return undefined;
    const series = this._metrics.autoSeries(node, TRANSPORT_HTTP);
    if (series === undefined) return undefined;
    const trace = this._metrics.autoStart(series);
    const attempt: Attempt = {
      series,
      t0: performance.now(),
      done: false,
      statusCode: undefined,
      requestBytes,
      responseBytes: undefined,
      timedOut: false,
      mcp: undefined,
      calls: undefined,
      hasBody: false,
      bodyChunks: 0,
      trace,
    };
    (key as Tagged)[this._key] = attempt;
    return attempt;
  }

  /**
   * @param clientAborted the client itself ended the exchange (its own
   *   destroy/abort): a connection reset that follows is `aborted`, or
   *   `timeout` when the request's timeout had fired.
   */
  private _finish(attempt: Attempt, error: unknown, clientAborted = false): void {
    if (attempt.done) return;
    attempt.done = true;
    const now = performance.now();
    const seconds = (now - attempt.t0) / 1000;
    const code = attempt.statusCode;
    let errorType: string | undefined;
    if (error !== undefined) {
      errorType = errorTypeOf(error);
      // A fired timeout alone decides nothing (the global agent arms a 5 s one
      // that nobody acts on); a client destroy after it is a client timeout.
      if (clientAborted && (errorType === 'connection_reset' || errorType === 'aborted')) {
        errorType = attempt.timedOut ? 'timeout' : 'aborted';
      }
    } else if (clientAborted) errorType = attempt.timedOut ? 'timeout' : 'aborted';
    else if (code !== undefined && this._isError(code)) errorType = `http_${statusClassOf(code)}`;
    const statusClass = code !== undefined && errorType !== undefined ? statusClassOf(code) : undefined;
    if (attempt.calls !== undefined) {
      this._finishCalls(attempt, attempt.calls, error !== undefined || clientAborted, errorType, code);
      return;
    }
    this._metrics.autoEnd(attempt.series, seconds, errorType, statusClass, attempt.requestBytes, attempt.responseBytes, now, attempt.trace);
  }

  // ---- MCP Streamable HTTP (issue #13) ----------------------------------------

  /**
   * Each JSON-RPC request of the body is one call, ended with the exchange:
   * a transport failure first gives its type to every call; otherwise the
   * response with the call's id decides (error code, tool_error), and without
   * one the HTTP status does, as for any exchange.
   */
  private _finishCalls(attempt: Attempt, calls: McpCall[], failed: boolean, exchangeType: string | undefined, code: number | undefined): void {
    const exchange = attempt.mcp!;
    exchange.responseEnd();
    calls.forEach((call, i) => {
      let type = exchangeType;
      let rpcCode: number | undefined;
      const response = failed ? undefined : exchange.responseTo(exchange.requests[i]!);
      if (response !== undefined) ({ errorType: type, code: rpcCode } = outcomeOf(response));
      const statusClass = code !== undefined && type !== undefined ? statusClassOf(code) : undefined;
      // Bytes belong to the exchange: counted once, with its first call.
      this._mcp!.end(call, type, rpcCode, statusClass, i === 0 ? attempt.requestBytes : undefined, i === 0 ? attempt.responseBytes : undefined);
    });
  }

  /** The request body is complete: its JSON-RPC requests become the calls, or the exchange is none. */
  private _classify(attempt: Attempt): void {
    const exchange = attempt.mcp;
    if (exchange === undefined || attempt.done || attempt.calls !== undefined) return;
    exchange.bodyEnd();
    if (exchange.kind === 'none') {
      // Notifications or responses only: not a routed call.
      attempt.done = true;
      this._metrics.autoDrop(attempt.series);
    } else if (exchange.kind === 'requests') {
      // The exchange's own in-flight count becomes the first call's.
      attempt.calls = exchange.requests.map((m, i) => this._mcp!.begin(attempt.series, m, i === 0, attempt.t0, attempt.trace));
    }
  }

  /**
   * Observe a node:http POST body through the request's own write()/end()
   * (the caller's arguments and results untouched). Installed when the request
   * is created: Node publishes `http.client.request.start` only from the
   * request's _finish(), after end().
   */
  private readonly _onHttpCreated = this._guarded((message: unknown): void => {
    const request = (message as { request: ClientRequest }).request;
    if (request.method !== 'POST') return;
    const exchange = new HttpExchange();
    this._bodies.set(request, exchange);
    const path = this;
    const write = request.write;
    const end = request.end;
    request.write = function (this: ClientRequest, ...args: unknown[]) {
      try {
        if (typeof args[0] !== 'function') exchange.body(args[0], typeof args[1] === 'string' ? args[1] : undefined);
      } catch (err) {
        path._warn.warn('internal', () => `http path: ${describe(err)}`);
      }
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as ClientRequest['write'];
    request.end = function (this: ClientRequest, ...args: unknown[]) {
      try {
        if (typeof args[0] !== 'function') exchange.body(args[0], typeof args[1] === 'string' ? args[1] : undefined);
        exchange.bodyEnd();
      } catch (err) {
        path._warn.warn('internal', () => `http path: ${describe(err)}`);
      }
      return (end as (...a: unknown[]) => ClientRequest).apply(this, args);
    } as ClientRequest['end'];
  });

  /** Feed a node:http response body to the exchange, through push() like _countBody. */
  private _tapResponseBody(response: IncomingMessage, exchange: HttpExchange): void {
    exchange.responseType(typeof response.headers['content-type'] === 'string' ? response.headers['content-type'] : undefined);
    const push = response.push;
    const warn = this._warn;
    response.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
      try {
        exchange.responseChunk(chunk, encoding);
      } catch (err) {
        warn.warn('internal', () => `http path: ${describe(err)}`);
      }
      return push.call(this, chunk, encoding);
    };
  }

  private readonly _onUndiciBodyChunkSent = this._guarded((message: unknown): void => {
    const { request, chunk } = message as { request: object; chunk: unknown };
    const attempt = (request as Tagged)[this._key];
    if (attempt?.mcp === undefined) return;
    attempt.bodyChunks++;
    attempt.mcp.body(chunk);
  });

  private readonly _onUndiciBodySent = this._guarded((message: unknown): void => {
    const attempt = ((message as { request: object }).request as Tagged)[this._key];
    if (attempt === undefined) return;
    // undici 6 (Node 22's fetch) publishes bodySent but no bodyChunkSent or
    // bodyChunkReceived: a body we never saw is not "no JSON-RPC request".
    // The exchange stays one plain HTTP call, as with the observation off.
    if (attempt.mcp !== undefined && attempt.hasBody && attempt.bodyChunks === 0) {
      attempt.mcp = undefined;
      return;
    }
    this._classify(attempt);
  });

  private readonly _onUndiciBodyChunkReceived = this._guarded((message: unknown): void => {
    const { request, chunk } = message as { request: object; chunk: unknown };
    const attempt = (request as Tagged)[this._key];
    if (attempt?.calls !== undefined) attempt.mcp!.responseChunk(chunk);
  });

  /** Node of a node:http call (undefined: not a gateway call), once per socket where it can be (SocketNode). */
  private _nodeOfRequest(request: ClientRequest): string | undefined {
    const protocol = request.protocol ?? 'http:';
    const rawHost = typeof request.host === 'string' && request.host !== '' ? request.host : 'localhost';
    const socket = request.socket as (ClientRequest['socket'] & SocketTagged) | null;
    const cacheable = socket != null && this._config.mode !== 'nodeFor';
    if (cacheable) {
      const known = socket[this._socketKey];
      if (
        known !== undefined && known.host === rawHost && known.protocol === protocol && known.generation === this._generation &&
        (known.hostHeader === null || known.hostHeader === request.getHeader('host'))
      ) {
        return known.node;
      }
    }
    const rawHeader = request.getHeader('host');
    const hostHeader = typeof rawHeader === 'string' ? rawHeader : undefined;
    const host = keyHost(rawHost);
    const port = connectPort(request, rawHost, protocol, hostHeader);
    const node = this._nodeFor(protocol, host, port, request.path ?? '/', hostHeader);
    // Only once the port is the socket's own (the agent's key or the connected
    // socket said it, see connectPort), not a guess from a header or the protocol.
    if (cacheable && socketPorts.get(socket) === port) {
      // A map's second key (the Host header, or its absence) only counts when the first one missed.
      const headerMatters = this._config.mode === 'map' && !this._config.hostPortMap!.has(`${host}:${port}`);
      const entry: SocketNode = { host: rawHost, protocol, hostHeader: headerMatters ? hostHeader : null, node, generation: this._generation };
      socket[this._socketKey] = entry;
    }
    return node;
  }

  /** The attempt is a long-lived stream: not a call (see the top of this file). */
  private _stream(attempt: Attempt): void {
    if (attempt.done) return;
    attempt.done = true;
    this._metrics.autoStream(attempt.series, (performance.now() - attempt.t0) / 1000, attempt.trace);
  }

  private _isError(code: number): boolean {
    try {
      return this._config.isError(code) === true;
    } catch (err) {
      this._warn.warn('isError', () => `http.isError threw ${describe(err)}; treating ${code} as ${code >= 500 ? 'an error' : 'a success'}`);
      return code >= 500;
    }
  }

  // ---- http / https ----------------------------------------------------------

  private readonly _onHttpStart = this._guarded((message: unknown): void => {
    const request = (message as { request: ClientRequest }).request;
    const userAgent = request.getHeader('user-agent');
    if (typeof userAgent === 'string' && userAgent.includes(OTLP_EXPORTER_AGENT)) return;
    const node = this._nodeOfRequest(request);
    const requestBytes = this._config.sizes
      ? contentLength(request.getHeader('content-length')) ?? contentLength((request as unknown as { _contentLength?: unknown })._contentLength)
      : undefined;
    if (this._mcp !== undefined && request.method === 'DELETE' && request.getHeader(MCP_SESSION_HEADER) !== undefined) return;
    // The body is complete by now: a POST of JSON-RPC notifications only is no call at all.
    const exchange = this._mcp === undefined ? undefined : this._bodies.get(request);
    if (exchange !== undefined) exchange.bodyEnd();
    if (exchange?.kind === 'none') return;
    const attempt = this._begin(request, node, requestBytes);
    if (attempt === undefined) return;
    if (exchange !== undefined) {
      attempt.mcp = exchange;
      this._classify(attempt);
    }
    const r = request as unknown as ClientRequestInternals;
    // A timeout is armed (option, setTimeout(), or the agent's): learn whether
    // it fired, since the destroy that usually follows reads as a reset.
    // A 'timeout' listener changes nothing for the request (Node only emits
    // the event; whoever armed the timeout decides what to do).
    if (r.timeoutCb != null || r.timeout !== undefined || (typeof r.agent === 'object' && r.agent?.options?.timeout !== undefined)) {
      request.on('timeout', this._onRequestTimeout);
    }
    // 'close' always comes, also after errors and aborts: the safety net that
    // keeps the in-flight count right if no other event finished the attempt.
    // (`on`, not `once`: the object is done after 'close', and once() costs a wrapper per call.)
    request.on('close', this._onRequestClose);
  });

  // The listeners on a call's request and response are one function each for
  // every call, not a closure per call: the emitter is `this`, the attempt is
  // its tagged property.

  /** The request's own timeout fired: a destroy that follows is a timeout. */
  private readonly _onRequestTimeout = this._listener<ClientRequest>(attempt => {
    attempt.timedOut = true;
  });

  /**
   * The request closed. An upgrade or CONNECT ends here (no response event is
   * published): the connection is handed to the caller, a stream.
   */
  private readonly _onRequestClose = this._listener<ClientRequest>((attempt, request) => {
    const r = request as unknown as ClientRequestInternals;
    if (r.upgradeOrConnect === true) {
      const code = r.res?.statusCode;
      if (typeof code === 'number') attempt.statusCode = code;
      this._stream(attempt);
    } else if (attempt.statusCode === undefined) this._finish(attempt, undefined, true);
  });

  /**
   * The response closed. One listener: 'close' follows 'end' at once
   * (autoDestroy), and also comes when the body is cut short; `complete`
   * tells the two apart. A body cut short after the client's own destroy:
   * ClientRequest.destroy() dumps the response first (`_dumped`), then the
   * socket's close reports an ECONNRESET "aborted" exactly as a reset by the
   * peer would.
   */
  private readonly _onResponseClose = this._listener<IncomingMessage>((attempt, response) => {
    const errored = (response as { errored?: unknown }).errored;
    if (response.complete && errored == null) this._finish(attempt, undefined);
    else if (errored == null) this._finish(attempt, undefined, true);
    else this._finish(attempt, errored, (response as { _dumped?: unknown })._dumped === true);
  });

  /** An event listener for a tagged object: `fn` runs with the object's attempt while it is not done. */
  private _listener<T extends object>(fn: (attempt: Attempt, emitter: T) => void): (this: T) => void {
    const key = this._key;
    return function (this: T): void {
      const attempt = (this as unknown as Tagged)[key];
      if (attempt !== undefined && !attempt.done) fn(attempt, this);
    };
  }

  private readonly _onHttpResponse = this._guarded((message: unknown): void => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const attempt = (request as unknown as Tagged)[this._key];
    if (attempt === undefined || attempt.done) return;
    attempt.statusCode = response.statusCode;
    if (request.method === 'GET' && isEventStream(response.headers['content-type'])) {
      this._stream(attempt);
      return;
    }
    if (this._config.sizes) {
      const declared = contentLength(response.headers['content-length']);
      if (declared !== undefined) attempt.responseBytes = declared;
      else this._countBody(response, attempt);
    }
    if (attempt.calls !== undefined) this._tapResponseBody(response, attempt.mcp!);
    (response as unknown as Tagged)[this._key] = attempt;
    response.on('close', this._onResponseClose);
  });

  /**
   * Count a body of unknown length as it is pushed into the stream, without a
   * 'data' listener (which would change how the host reads it).
   */
  private _countBody(response: IncomingMessage, attempt: Attempt): void {
    const push = response.push;
    attempt.responseBytes = 0;
    response.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
      if (chunk !== null && chunk !== undefined) {
        attempt.responseBytes! += typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : (chunk as Uint8Array).byteLength ?? 0;
      }
      return push.call(this, chunk, encoding);
    };
  }

  private readonly _onHttpError = this._guarded((message: unknown): void => {
    const { request, error } = message as { request: ClientRequest; error: unknown };
    const attempt = (request as unknown as Tagged)[this._key];
    // After the client's own destroy()/abort() Node publishes "socket hang up"
    // (ECONNRESET) with `destroyed` already true; a reset by the peer
    // publishes it with `destroyed` still false.
    if (attempt !== undefined) this._finish(attempt, error ?? new Error('request failed'), request.destroyed === true);
  });

  // ---- fetch (undici) --------------------------------------------------------

  private readonly _onUndiciCreate = this._guarded((message: unknown): void => {
    const request = (message as { request: UndiciRequest }).request;
    // An upgrade (WebSocket) or CONNECT ends in a handed-over socket, which
    // undici publishes nothing about: not a call, and no stream we could time.
    if (request.method === 'CONNECT' || (request.upgrade !== undefined && request.upgrade !== null && request.upgrade !== false)) return;
    const origin = String(request.origin ?? '');
    const path = typeof request.path === 'string' ? request.path : '/';
    let node: string | undefined;
    if (this._config.mode !== 'nodeFor') {
      node = this._nodeForOrigin(origin);
    } else {
      const [protocol, host, port] = splitOrigin(origin);
      node = protocol === undefined ? undefined : this._nodeFor(protocol, host!, port!, path, undefined);
    }
    if (this._mcp !== undefined && request.method === 'DELETE' && undiciHeader(request.headers, MCP_SESSION_HEADER) !== undefined) return;
    const attempt = this._begin(request as object, node, this._config.sizes ? byteLength(request.body) ?? contentLength(request.contentLength) : undefined);
    if (attempt !== undefined && this._mcp !== undefined && request.method === 'POST') {
      attempt.mcp = new HttpExchange();
      attempt.hasBody = request.body !== undefined && request.body !== null;
    }
  });

  /** Zero config and host:port maps: the node depends on the origin alone, so cache it. */
  private _nodeForOrigin(origin: string): string | undefined {
    const cached = this._originNodes.get(origin);
    if (cached !== undefined) return cached ?? undefined;
    const [protocol, host, port] = splitOrigin(origin);
    const node = protocol === undefined ? undefined : this._nodeFor(protocol, host!, port!, '/', undefined);
    if (this._originNodes.size >= ORIGIN_CACHE_MAX) this._originNodes.clear();
    this._originNodes.set(origin, node ?? null);
    return node;
  }

  private readonly _onUndiciHeaders = this._guarded((message: unknown): void => {
    const { request, response } = message as { request: UndiciRequest; response: UndiciResponse };
    const attempt = (request as Tagged)[this._key];
    if (attempt === undefined || attempt.done) return;
    if (typeof response.statusCode === 'number') attempt.statusCode = response.statusCode;
    if (request.method === 'GET' && isEventStream(undiciHeader(response.headers, 'content-type'))) {
      this._stream(attempt);
      return;
    }
    if (this._config.sizes) attempt.responseBytes = contentLength(undiciHeader(response.headers, 'content-length'));
    if (attempt.calls !== undefined) attempt.mcp!.responseType(undiciHeader(response.headers, 'content-type'));
  });

  // A subscriber that throws surfaces as an uncaught exception in the host
  // (diagnostics_channel rethrows it on the next tick): every handler catches.
  private readonly _onUndiciTrailers = this._guarded((message: unknown): void => {
    const attempt = ((message as { request: object }).request as Tagged)[this._key];
    if (attempt !== undefined) this._finish(attempt, undefined);
  });

  private readonly _onUndiciError = this._guarded((message: unknown): void => {
    const { request, error } = message as { request: object; error: unknown };
    const attempt = (request as Tagged)[this._key];
    if (attempt !== undefined) this._finish(attempt, error ?? new Error('request failed'));
  });
}

/**
 * 'http://host:port' → ['http:', 'host', 'port'] with the host as keyHost()
 * writes it and the default port filled in.
 */
function splitOrigin(origin: string): [string | undefined, string | undefined, string | undefined] {
  const at = origin.indexOf('//');
  if (at <= 0) return [undefined, undefined, undefined];
  const protocol = origin.slice(0, at);
  let hostPort = origin.slice(at + 2);
  const slash = hostPort.indexOf('/');
  if (slash !== -1) hostPort = hostPort.slice(0, slash);
  const key = hostHeaderKey(hostPort, protocol);
  if (key === undefined) return [undefined, undefined, undefined];
  const colon = key.lastIndexOf(':');
  return [protocol, key.slice(0, colon), key.slice(colon + 1)];
}
