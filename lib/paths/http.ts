/**
 * Automatic HTTP path: outbound calls through `http`/`https` and global
 * `fetch` / undici, recorded with `transport="http"`.
 *
 * Built on Node's diagnostics channels rather than
 * @opentelemetry/instrumentation-http: that one does not see fetch, cannot add
 * a node attribute, and costs 30–35% of a proxy's throughput on this machine
 * (BENCHMARKS.md). Subscribing patches no module. Per call, on the call's own
 * objects only: `push` of a response whose length is not declared or that a
 * protocol reader reads (to count its bytes or hand them on, without a 'data'
 * listener), and `write`/`end` of a request a protocol reader claimed (to hand
 * it the body). Each wrapper passes its arguments and result through unchanged.
 *
 * Protocols (protocols/): each exchange's request head is shown to the
 * protocol readers; those that claim it get its request body, response head
 * and response body, and the end. A reader may make the exchange its own
 * calls (MCP: one per JSON-RPC request), or no call at all.
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
 * (MCP Streamable HTTP, an LLM stream) ends with its answer, so it stays a
 * call timed to the end of its body.
 */
import * as dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { RateLimitedWarner, describe } from '../core/diag';
import type { ResolvedHttpPath } from '../config/resolve';
import { errorTypeOf } from '../core/error-type';
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { Series } from '../core/series-registry';
import type { AutomaticPath } from './path';
import { disableScope, enableScope } from '../core/scope';
import { TRANSPORT_HTTP } from '../core/semconv';
import { SKIP, asChunk, statusClassOf, type Exchange, type ExchangeEnd, type HttpReader, type Protocol, type RequestHead } from '../protocols/protocol';
import { NodeRequestHead, NodeResponseHead, UndiciHead, byteLength, contentLength, isEventStream, undiciHeader } from './http-wire';
import { HttpNodes, type ClientRequestInternals, type OwnEndpoint } from './http-node';

export { connectPort, hostHeaderKey, keyHost, type OwnEndpoint } from './http-node';

interface Attempt extends Exchange {
  series: Series;
  t0: number;
  done: boolean;
  statusCode: number | undefined;
  requestBytes: number | undefined;
  responseBytes: number | undefined;
  /** The request's own timeout fired ('timeout' event): a destroy that follows is a timeout. */
  timedOut: boolean;
  /** The protocol readers that claimed the exchange and still read it. */
  readers: HttpReader[] | undefined;
  /** The reader whose calls the exchange is (its verdict was `own`): it records them, the exchange records nothing. */
  owner: HttpReader | undefined;
  /** The readers were told the request body is complete. */
  bodyDone: boolean;
  bodySeen: boolean;
  /** node:http: the response body's bytes are counted as they pass (its length was not declared). */
  countBody: boolean;
  /** undici: the request has a body, and how many of its chunks were published (bodyChunkSent). */
  hasBody: boolean;
  bodyChunks: number;
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
type WriteTagged = { [key: symbol]: unknown };
type PushTagged = { [key: symbol]: IncomingMessage['push'] | undefined };
/** A node:http request between its creation and its start: the readers that claimed it (SKIP: no call at all). */
type Claimed = { [key: symbol]: HttpReader[] | typeof SKIP | undefined };

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

const CHANNELS = {
  // Protocol readers: made before the body is written (start comes after end()).
  httpCreated: 'http.client.request.created',
  httpStart: 'http.client.request.start',
  httpResponse: 'http.client.response.finish',
  httpError: 'http.client.request.error',
  undiciCreate: 'undici:request:create',
  undiciHeaders: 'undici:request:headers',
  undiciTrailers: 'undici:request:trailers',
  undiciError: 'undici:request:error',
  // Protocol readers: request and response body chunks (undici 7, also bundled with Node 24).
  undiciBodyChunkSent: 'undici:request:bodyChunkSent',
  undiciBodySent: 'undici:request:bodySent',
  undiciBodyChunkReceived: 'undici:request:bodyChunkReceived',
} as const;

/**
 * Every OTLP/HTTP exporter of OpenTelemetry JS sends this User-Agent
 * (otlp-exporter-base, also after a user-supplied prefix): telemetry export,
 * ours or the app's own SDK's, is never a gateway call.
 */
const OTLP_EXPORTER_AGENT = 'OTel-OTLP-Exporter-JavaScript/';

export class HttpPath implements AutomaticPath {
  /** The property under which a call's objects keep its attempt (see Tagged). */
  private readonly _key: symbol = Symbol('otel-gateway-metrics.http-attempt');
  /** The properties under which a claimed node:http request keeps its own write and end (see _onHttpCreated). */
  private readonly _writeKey: symbol = Symbol('otel-gateway-metrics.http-write');
  private readonly _endKey: symbol = Symbol('otel-gateway-metrics.http-end');
  /** The property under which a tapped response keeps its own push (see _tapBody). */
  private readonly _pushKey: symbol = Symbol('otel-gateway-metrics.http-push');
  /** The property under which a node:http request keeps its claiming readers until it starts (see Claimed). */
  private readonly _claimKey: symbol = Symbol('otel-gateway-metrics.http-readers');
  private readonly _warn = new RateLimitedWarner();
  private _enabled = false;
  private readonly _nodes: HttpNodes;
  /** The protocols that read HTTP exchanges. */
  private readonly _protocols: Protocol[];
  private readonly _nodeHead = new NodeRequestHead();
  private readonly _nodeResponseHead = new NodeResponseHead();
  private readonly _undiciHead = new UndiciHead();
  /** What readers are told at an exchange's end: one object, filled for each (readers keep nothing of it). */
  private readonly _end: { -readonly [K in keyof ExchangeEnd]: ExchangeEnd[K] } = {
    seconds: 0, now: 0, failed: false, errorType: undefined, statusCode: undefined, requestBytes: undefined, responseBytes: undefined,
  };

  constructor(
    private readonly _metrics: GatewayMetrics,
    private readonly _config: ResolvedHttpPath,
    /** The protocol readers (protocols/index.ts); none: each exchange is one call. */
    protocols: readonly Protocol[] = [],
  ) {
    this._protocols = protocols.filter(p => p.http !== undefined);
    this._nodes = new HttpNodes(_config, this._warn);
  }

  /** Requests to this destination are the package's own (scrapes of its endpoint): never recorded. */
  setOwnEndpoint(own: OwnEndpoint | undefined): void {
    this._nodes.setOwnEndpoint(own);
  }

  /** A channel handler that never throws into the publisher (the app's request): an internal error is a rate-limited warning. */
  private _guarded(handler: (message: unknown) => void): (message: unknown) => void {
    return message => {
      try {
        handler(message);
      } catch (err) {
        this._internal(err);
      }
    };
  }

  private _internal(err: unknown): void {
    this._warn.warn('internal', () => `http path: ${describe(err)}`);
  }

  /**
   * Channel → handler, subscribed and unsubscribed in one loop
   * (instrumentation-undici's ListenerRecord list). The body channels only
   * matter to protocol readers.
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
    if (this._protocols.length > 0) {
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

  private _begin(key: object, node: string | undefined, requestBytes: number | undefined): Attempt | undefined {
    if (node === undefined) return undefined;
    const series = this._metrics.autoSeries(node, TRANSPORT_HTTP);
    if (series === undefined) return undefined;
    const trace = this._metrics.autoStart(series);
    const attempt: Attempt = {
      series,
      trace,
      t0: performance.now(),
      done: false,
      statusCode: undefined,
      requestBytes,
      responseBytes: undefined,
      timedOut: false,
      readers: undefined,
      owner: undefined,
      bodyDone: false,
      bodySeen: true,
      countBody: false,
      hasBody: false,
      bodyChunks: 0,
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
    // Readers that never learnt the body was complete (the exchange failed first) have nothing to end.
    if (attempt.readers !== undefined && attempt.bodyDone) {
      const end = this._end;
      end.seconds = seconds;
      end.now = now;
      end.failed = error !== undefined || clientAborted;
      end.errorType = errorType;
      end.statusCode = code;
      end.requestBytes = attempt.requestBytes;
      end.responseBytes = attempt.responseBytes;
      for (const reader of attempt.readers) {
        try {
          reader.end(end);
        } catch (err) {
          this._internal(err);
        }
      }
      if (attempt.owner !== undefined) return;
      errorType = end.errorType;
    }
    const statusClass = code !== undefined && errorType !== undefined ? statusClassOf(code) : undefined;
    this._metrics.autoEnd(attempt.series, seconds, errorType, statusClass, attempt.requestBytes, attempt.responseBytes, now, attempt.trace);
  }

  // ---- protocol readers ------------------------------------------------------

  /**
   * The readers that claim an exchange from its request head; SKIP when one
   * says it is no call at all. Never throws (the shared head objects are
   * reset right after, without a finally).
   */
  private _claim(head: RequestHead): HttpReader[] | typeof SKIP | undefined {
    let readers: HttpReader[] | undefined;
    for (const protocol of this._protocols) {
      let reader: HttpReader | typeof SKIP | undefined;
      try {
        reader = protocol.http!(head);
      } catch (err) {
        this._internal(err);
        continue;
      }
      if (reader === undefined) continue;
      if (reader === SKIP) return SKIP;
      (readers ??= []).push(reader);
    }
    return readers;
  }

  /**
   * The request body is complete: each reader gives its verdict (see
   * protocols/protocol.ts, Verdict). Only those that read on stay.
   */
  private _requestEnd(attempt: Attempt): void {
    const readers = attempt.readers;
    if (readers === undefined || attempt.bodyDone || attempt.done) return;
    attempt.bodyDone = true;
    // Those that read on are kept in place, in order.
    let kept = 0;
    for (let i = 0; i < readers.length; i++) {
      const reader = readers[i]!;
      let verdict;
      try {
        verdict = reader.requestEnd(attempt);
      } catch (err) {
        this._internal(err);
        continue;
      }
      if (verdict === 'pass') continue;
      if (verdict === 'drop') {
        // Notifications or responses only: not a routed call.
        attempt.done = true;
        attempt.readers = undefined;
        this._metrics.autoDrop(attempt.series);
        return;
      }
      readers[kept++] = reader;
      if (verdict === 'own') {
        attempt.owner = reader;
        break;
      }
    }
    readers.length = kept;
    attempt.readers = kept === 0 ? undefined : readers;
  }

  private _requestChunk(readers: HttpReader[], chunk: unknown, encoding: unknown): void {
    if (chunk == null || typeof chunk === 'function') return;
    const c = asChunk(chunk, encoding);
    for (const reader of readers) {
      try {
        reader.requestChunk(c);
      } catch (err) {
        this._internal(err);
      }
    }
  }

  private _responseChunk(readers: HttpReader[], chunk: unknown, encoding: unknown): void {
    const c = asChunk(chunk, encoding);
    for (const reader of readers) {
      try {
        reader.responseChunk(c);
      } catch (err) {
        this._internal(err);
      }
    }
  }

  private _responseHead(readers: HttpReader[], head: NodeResponseHead | UndiciHead): void {
    for (const reader of readers) {
      try {
        reader.responseHead(head);
      } catch (err) {
        this._internal(err);
      }
    }
  }

  /**
   * A node:http request is made: the readers that claim it get its body
   * through the request's own write()/end() (the caller's arguments and
   * results untouched). Installed now: Node publishes
   * `http.client.request.start` only from the request's _finish(), after end().
   */
  private readonly _onHttpCreated = this._guarded((message: unknown): void => {
    const request = (message as { request: ClientRequest }).request;
    const head = this._nodeHead;
    head.request = request;
    const claimed = this._claim(head);
    head.request = undefined;
    if (claimed === undefined) return;
    (request as unknown as Claimed)[this._claimKey] = claimed;
    if (claimed === SKIP) return;
    // One pair of wrappers for every request (the readers are the request's
    // tagged property), the request's own write/end kept beside them.
    const own = request as unknown as WriteTagged;
    own[this._writeKey] = request.write;
    own[this._endKey] = request.end;
    request.write = this._writeWrapper as ClientRequest['write'];
    request.end = this._endWrapper as unknown as ClientRequest['end'];
  });

  private readonly _writeWrapper = this._bodyWrapper(() => this._writeKey);
  private readonly _endWrapper = this._bodyWrapper(() => this._endKey);

  /** A wrapper of write() or end() that hands the chunk to the request's readers, then calls the request's own method. */
  private _bodyWrapper(key: () => symbol): (this: ClientRequest, chunk: unknown, encoding: unknown) => unknown {
    const path = this;
    const claimKey = this._claimKey;
    return function (this: ClientRequest, chunk: unknown, encoding: unknown): unknown {
      const readers = (this as unknown as Claimed)[claimKey];
      if (readers !== undefined && readers !== SKIP) path._requestChunk(readers, chunk, encoding);
      return ((this as unknown as WriteTagged)[key()] as (...a: unknown[]) => unknown).apply(this, arguments as unknown as unknown[]);
    };
  }

  private readonly _onUndiciBodyChunkSent = this._guarded((message: unknown): void => {
    const { request, chunk } = message as { request: object; chunk: unknown };
    const attempt = (request as Tagged)[this._key];
    if (attempt?.readers === undefined || attempt.bodyDone) return;
    attempt.bodyChunks++;
    this._requestChunk(attempt.readers, chunk, undefined);
  });

  private readonly _onUndiciBodySent = this._guarded((message: unknown): void => {
    const attempt = ((message as { request: object }).request as Tagged)[this._key];
    if (attempt?.readers === undefined) return;
    // undici 6 (Node 22's fetch) publishes bodySent but no bodyChunkSent or
    // bodyChunkReceived: the readers are told the body went unseen.
    attempt.bodySeen = !(attempt.hasBody && attempt.bodyChunks === 0);
    this._requestEnd(attempt);
  });

  private readonly _onUndiciBodyChunkReceived = this._guarded((message: unknown): void => {
    const { request, chunk } = message as { request: object; chunk: unknown };
    const readers = (request as Tagged)[this._key]?.readers;
    if (readers !== undefined && chunk != null) this._responseChunk(readers, chunk, undefined);
  });

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
    const claimed = (request as unknown as Claimed)[this._claimKey];
    if (claimed === SKIP) return;
    const node = this._nodes.ofRequest(request);
    const requestBytes = this._config.sizes
      ? contentLength(request.getHeader('content-length')) ?? contentLength((request as unknown as { _contentLength?: unknown })._contentLength)
      : undefined;
    const attempt = this._begin(request, node, requestBytes);
    if (attempt === undefined) return;
    if (claimed !== undefined) {
      // The body is complete by now (start is published after end()).
      attempt.readers = claimed;
      this._requestEnd(attempt);
      if (attempt.done) return;
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
    let count = false;
    if (this._config.sizes) {
      const declared = contentLength(response.headers['content-length']);
      if (declared !== undefined) attempt.responseBytes = declared;
      else count = true;
    }
    const readers = attempt.readers;
    if (readers !== undefined) {
      const head = this._nodeResponseHead;
      head.response = response;
      this._responseHead(readers, head);
      head.response = undefined;
    }
    (response as unknown as Tagged)[this._key] = attempt;
    if (count || readers !== undefined) this._tapBody(response, attempt, count);
    response.on('close', this._onResponseClose);
  });

  /**
   * Read the body as it is pushed into the stream, without a 'data' listener
   * (which would change how the host reads it): count its bytes when its
   * length is not declared, and hand it to the readers that read on.
   */
  private _tapBody(response: IncomingMessage, attempt: Attempt, count: boolean): void {
    if (count) attempt.responseBytes = 0;
    attempt.countBody = count;
    // One wrapper for every response (the attempt is the response's tagged
    // property), the response's own push kept beside it: no closure per call.
    (response as unknown as PushTagged)[this._pushKey] = response.push;
    response.push = this._push;
  }

  private readonly _push = ((path: HttpPath) => {
    const key = path._key;
    const pushKey = path._pushKey;
    return function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding): boolean {
      const attempt = (this as unknown as Tagged)[key];
      if (attempt !== undefined && chunk !== null && chunk !== undefined) {
        if (attempt.countBody) attempt.responseBytes! += typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : (chunk as Uint8Array).byteLength ?? 0;
        const readers = attempt.readers;
        if (readers !== undefined) path._responseChunk(readers, chunk, encoding);
      }
      return (this as unknown as PushTagged)[pushKey]!.call(this, chunk, encoding);
    };
  })(this);

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
    const node = this._nodes.ofOrigin(origin, path);
    if (node === undefined) return;
    const claimed = this._protocols.length > 0 ? this._claimUndici(request, path) : undefined;
    if (claimed === SKIP) return;
    const attempt = this._begin(request as object, node, this._config.sizes ? byteLength(request.body) ?? contentLength(request.contentLength) : undefined);
    if (attempt !== undefined && claimed !== undefined) {
      attempt.readers = claimed;
      attempt.hasBody = request.body !== undefined && request.body !== null;
    }
  });

  private _claimUndici(request: UndiciRequest, path: string): HttpReader[] | typeof SKIP | undefined {
    const head = this._undiciHead;
    head.method = typeof request.method === 'string' ? request.method : 'GET';
    head.path = path;
    head.headers = request.headers;
    const claimed = this._claim(head);
    head.headers = undefined;
    return claimed;
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
    if (attempt.readers === undefined) return;
    // An answer before the whole body was sent: the readers decide on what they saw.
    if (!attempt.bodyDone) this._requestEnd(attempt);
    const readers = attempt.readers;
    if (readers === undefined || attempt.done) return;
    const head = this._undiciHead;
    head.status = attempt.statusCode ?? 0;
    head.headers = response.headers;
    this._responseHead(readers, head);
    head.headers = undefined;
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
