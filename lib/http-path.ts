/**
 * Automatic HTTP path: outbound calls through `http`/`https` and global
 * `fetch` (undici), recorded with `transport="http"` when `nodeFor` maps their
 * destination to a node.
 *
 * Built on Node's diagnostics channels rather than
 * @opentelemetry/instrumentation-http: that one does not see fetch, cannot add
 * a node attribute, and costs 30–35% of a proxy's throughput on this machine
 * (FACTS.md). Subscribing patches nothing, and unsubscribing undoes it all.
 *
 * Duration runs from the request's start to the end of the response body. We
 * never add 'error' or 'data' listeners to the host's request/response objects:
 * the first would swallow errors the host would otherwise see, the second
 * would switch the body to flowing mode.
 */
import * as dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { RateLimitedWarner, describe } from './diag';
import type { ResolvedHttpPath } from './config';
import { errorTypeOf } from './errors';
import type { GatewayMetrics, Series } from './metrics';
import { disableScope, enableScope } from './scope';
import { TRANSPORT_HTTP } from './semconv';

interface Attempt {
  series: Series;
  t0: number;
  done: boolean;
  statusCode: number | undefined;
  requestBytes: number | undefined;
  responseBytes: number | undefined;
}

/** Minimal shape of undici's request object in its diagnostics messages. */
interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
  body?: unknown;
  /** Set by fetch from the extracted body (its body itself is an async generator). */
  contentLength?: unknown;
}
interface UndiciResponse {
  statusCode?: unknown;
  headers?: unknown;
}

const CHANNELS = {
  httpStart: 'http.client.request.start',
  httpResponse: 'http.client.response.finish',
  httpError: 'http.client.request.error',
  undiciCreate: 'undici:request:create',
  undiciHeaders: 'undici:request:headers',
  undiciTrailers: 'undici:request:trailers',
  undiciError: 'undici:request:error',
} as const;

/** Bound on the origin → node cache (host:port maps stay small; URLs with many hosts must not grow it). */
const ORIGIN_CACHE_MAX = 1024;

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
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

/** content-length from undici's raw header list ([k, v, k, v, …] of Buffers or strings). */
function undiciContentLength(headers: unknown): number | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (String(headers[i]).toLowerCase() === 'content-length') return contentLength(String(headers[i + 1]));
  }
  return undefined;
}

export class HttpClientPath {
  private readonly _attempts = new WeakMap<object, Attempt>();
  private readonly _originNodes = new Map<string, string | null>();
  private readonly _warn = new RateLimitedWarner();
  private _enabled = false;

  constructor(
    private readonly _metrics: GatewayMetrics,
    private readonly _config: ResolvedHttpPath,
  ) {}

  enable(): void {
    if (this._enabled) return;
    this._enabled = true;
    enableScope();
    dc.subscribe(CHANNELS.httpStart, this._onHttpStart);
    dc.subscribe(CHANNELS.httpResponse, this._onHttpResponse);
    dc.subscribe(CHANNELS.httpError, this._onHttpError);
    dc.subscribe(CHANNELS.undiciCreate, this._onUndiciCreate);
    dc.subscribe(CHANNELS.undiciHeaders, this._onUndiciHeaders);
    dc.subscribe(CHANNELS.undiciTrailers, this._onUndiciTrailers);
    dc.subscribe(CHANNELS.undiciError, this._onUndiciError);
  }

  disable(): void {
    if (!this._enabled) return;
    this._enabled = false;
    disableScope();
    dc.unsubscribe(CHANNELS.httpStart, this._onHttpStart);
    dc.unsubscribe(CHANNELS.httpResponse, this._onHttpResponse);
    dc.unsubscribe(CHANNELS.httpError, this._onHttpError);
    dc.unsubscribe(CHANNELS.undiciCreate, this._onUndiciCreate);
    dc.unsubscribe(CHANNELS.undiciHeaders, this._onUndiciHeaders);
    dc.unsubscribe(CHANNELS.undiciTrailers, this._onUndiciTrailers);
    dc.unsubscribe(CHANNELS.undiciError, this._onUndiciError);
  }

  // ---- node resolution --------------------------------------------------

  /** Node for `protocol//hostPort` + `path`; undefined when not a gateway call. */
  private _nodeFor(protocol: string, hostPort: string, path: string): string | undefined {
    const map = this._config.hostPortMap;
    if (map !== undefined) {
      const key = hostPort.includes(':') && !hostPort.endsWith(']') ? hostPort : `${hostPort}:${defaultPort(protocol)}`;
      return map.get(key.toLowerCase());
    }
    const nodeFor = this._config.nodeFor;
    if (nodeFor === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(`${protocol}//${hostPort}${path.startsWith('/') ? path : `/${path}`}`);
    } catch {
      this._warn.warn('url', () => `http path: cannot parse ${describe(`${protocol}//${hostPort}${path}`)}; call not recorded`);
      return undefined;
    }
    try {
      const node = nodeFor(url);
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
    this._metrics.autoStart(series);
    const attempt: Attempt = {
      series,
      t0: performance.now(),
      done: false,
      statusCode: undefined,
      requestBytes,
      responseBytes: undefined,
    };
    this._attempts.set(key, attempt);
    return attempt;
  }

  private _finish(attempt: Attempt, error: unknown, aborted = false): void {
    if (attempt.done) return;
    attempt.done = true;
    const seconds = (performance.now() - attempt.t0) / 1000;
    const code = attempt.statusCode;
    let errorType: string | undefined;
    if (error !== undefined) errorType = errorTypeOf(error);
    else if (aborted) errorType = 'aborted';
    else if (code !== undefined && this._isError(code)) errorType = `http_${statusClassOf(code)}`;
    const statusClass = code !== undefined && errorType !== undefined ? statusClassOf(code) : undefined;
    this._metrics.autoEnd(attempt.series, seconds, errorType, statusClass, attempt.requestBytes, attempt.responseBytes);
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

  private readonly _onHttpStart = (message: unknown): void => {
    try {
      const request = (message as { request: ClientRequest }).request;
      const hostHeader = request.getHeader('host');
      const hostPort = typeof hostHeader === 'string' ? hostHeader : `${request.host}`;
      const node = this._nodeFor(request.protocol ?? 'http:', hostPort, request.path ?? '/');
      const requestBytes = this._config.sizes
        ? contentLength(request.getHeader('content-length')) ?? contentLength((request as unknown as { _contentLength?: unknown })._contentLength)
        : undefined;
      const attempt = this._begin(request, node, requestBytes);
      if (attempt === undefined) return;
      // 'close' always comes, also after errors and aborts: the safety net that
      // keeps the in-flight count right if no other event finished the attempt.
      // (`on`, not `once`: the object is done after 'close', and once() costs a wrapper per call.)
      request.on('close', () => {
        if (!attempt.done && attempt.statusCode === undefined) this._finish(attempt, undefined, true);
      });
    } catch (err) {
      this._warn.warn('internal', () => `http path: ${describe(err)}`);
    }
  };

  private readonly _onHttpResponse = (message: unknown): void => {
    try {
      const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
      const attempt = this._attempts.get(request);
      if (attempt === undefined || attempt.done) return;
      attempt.statusCode = response.statusCode;
      if (this._config.sizes) {
        const declared = contentLength(response.headers['content-length']);
        if (declared !== undefined) attempt.responseBytes = declared;
        else this._countBody(response, attempt);
      }
      // One listener: 'close' follows 'end' at once (autoDestroy), and also
      // comes when the body is cut short; `complete` tells the two apart.
      response.on('close', () => {
        if (attempt.done) return;
        const errored = (response as { errored?: unknown }).errored;
        if (response.complete && errored == null) this._finish(attempt, undefined);
        else this._finish(attempt, errored ?? undefined, errored == null);
      });
    } catch (err) {
      this._warn.warn('internal', () => `http path: ${describe(err)}`);
    }
  };

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

  private readonly _onHttpError = (message: unknown): void => {
    try {
      const { request, error } = message as { request: ClientRequest; error: unknown };
      const attempt = this._attempts.get(request);
      if (attempt !== undefined) this._finish(attempt, error ?? new Error('request failed'));
    } catch (err) {
      this._warn.warn('internal', () => `http path: ${describe(err)}`);
    }
  };

  // ---- fetch (undici) --------------------------------------------------------

  private readonly _onUndiciCreate = (message: unknown): void => {
    try {
      const request = (message as { request: UndiciRequest }).request;
      const origin = String(request.origin ?? '');
      const path = typeof request.path === 'string' ? request.path : '/';
      let node: string | undefined;
      if (this._config.hostPortMap !== undefined) {
        node = this._nodeForOrigin(origin);
      } else {
        const [protocol, hostPort] = splitOrigin(origin);
        node = protocol === undefined ? undefined : this._nodeFor(protocol, hostPort!, path);
      }
      this._begin(request as object, node, this._config.sizes ? byteLength(request.body) ?? contentLength(request.contentLength) : undefined);
    } catch (err) {
      this._warn.warn('internal', () => `http path: ${describe(err)}`);
    }
  };

  /** host:port maps only: the node depends on the origin alone, so cache it. */
  private _nodeForOrigin(origin: string): string | undefined {
    const cached = this._originNodes.get(origin);
    if (cached !== undefined) return cached ?? undefined;
    const [protocol, hostPort] = splitOrigin(origin);
    const node = protocol === undefined ? undefined : this._nodeFor(protocol, hostPort!, '/');
    if (this._originNodes.size >= ORIGIN_CACHE_MAX) this._originNodes.clear();
    this._originNodes.set(origin, node ?? null);
    return node;
  }

  private readonly _onUndiciHeaders = (message: unknown): void => {
    try {
      const { request, response } = message as { request: object; response: UndiciResponse };
      const attempt = this._attempts.get(request);
      if (attempt === undefined || attempt.done) return;
      if (typeof response.statusCode === 'number') attempt.statusCode = response.statusCode;
      if (this._config.sizes) attempt.responseBytes = undiciContentLength(response.headers);
    } catch (err) {
      this._warn.warn('internal', () => `http path: ${describe(err)}`);
    }
  };

  // A subscriber that throws surfaces as an uncaught exception in the host
  // (diagnostics_channel rethrows it on the next tick): every handler catches.
  private readonly _onUndiciTrailers = (message: unknown): void => {
    try {
      const attempt = this._attempts.get((message as { request: object }).request);
      if (attempt !== undefined) this._finish(attempt, undefined);
    } catch (err) {
      this._warn.warn('internal', () => `http path: ${describe(err)}`);
    }
  };

  private readonly _onUndiciError = (message: unknown): void => {
    try {
      const { request, error } = message as { request: object; error: unknown };
      const attempt = this._attempts.get(request);
      if (attempt !== undefined) this._finish(attempt, error ?? new Error('request failed'));
    } catch (err) {
      this._warn.warn('internal', () => `http path: ${describe(err)}`);
    }
  };
}

/** 'http://host:port' → ['http:', 'host:port'] (port kept as written; default filled later). */
function splitOrigin(origin: string): [string | undefined, string | undefined] {
  const at = origin.indexOf('//');
  if (at <= 0) return [undefined, undefined];
  const protocol = origin.slice(0, at);
  let hostPort = origin.slice(at + 2);
  const slash = hostPort.indexOf('/');
  if (slash !== -1) hostPort = hostPort.slice(0, slash);
  return [protocol, hostPort];
}
