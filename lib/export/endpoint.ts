/**
 * The scrape endpoint: a request handler (mountable on the app's own server)
 * and our own optional listener.
 *
 * - GET/HEAD only (405 otherwise), optional bearer/basic auth (401 with
 *   WWW-Authenticate, constant-time comparison, credentials never logged);
 * - the format follows the Accept header (negotiate.ts): the text format
 *   0.0.4, OpenMetrics 1.0.0 (exemplars) or protobuf (native histograms);
 * - one collection runs at a time, and the scrapes that arrive meanwhile share
 *   the next one of their format; serializing yields to the event loop between slices, so a
 *   20,000-series scrape does not block the host's requests for its whole
 *   duration;
 * - no client can stall the others: the lock covers collect() and
 *   serialization only, never a write to a client. Each response is written
 *   outside it from the shared bytes, and a client that reads nothing, reads
 *   too slowly, or goes away only loses its own response (see `_write`);
 * - collection failures answer 503 with a short reason; nothing here throws
 *   into the host.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGzip } from 'node:zlib';
import type { MetricReader, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { logger, describe, RateLimitedWarner } from '../core/diag';
import type { PrometheusSerializer } from './exposition';
import { CONTENT_TYPES, negotiate, type ExpositionFormat } from './negotiate';
import { relativePath, renderStatusPage, STATUS_PAGE_CSP } from './status-page';
import { callWithTimeout } from '../core/timeout';
import type { PrometheusAuth } from '../types';
import type { SeriesStore } from '../store/store';

/** Longest time one chunk loop may hold the event loop before yielding. */
const YIELD_AFTER_MS = 2;
/**
 * gzip level of the exposition. Measured on 2,000 histogram series (5.7 MB of
 * text, Node 24, our 2-core dev machine): level 1 took 4.7 ms and gave
 * 181 kB; the default level 6 took 15.6 ms for 143 kB, levels 2–3 gave the
 * same as 1, level 4 took 11.3 ms. The text repeats itself so much that the
 * fastest level already compresses it 31 times.
 */
const GZIP_LEVEL = 1;
/** zlib's output piece size: 1 MiB took 6 ms for 5.4 MB where the default 16 KiB took 7–17 ms (its pieces joined afterwards). */
const GZIP_CHUNK = 1 << 20;

/** A scrape waiting longer than this for collect() gets 503. */
const COLLECT_TIMEOUT_MS = 10_000;
/** Requests allowed to queue behind the one in progress (scrapes coalesce, so in practice /stats). */
const MAX_QUEUED_SCRAPES = 8;
/**
 * A response whose client reads nothing for this long is dropped (its
 * connection closed). Only that client waits for it: other scrapes go on.
 */
const DRAIN_TIMEOUT_MS = 10_000;
/**
 * A response not written in full after this long is dropped, however slowly
 * its client keeps reading: a trickling reader cannot pin an exposition for
 * good. Prometheus's scrape_timeout cannot exceed its scrape interval
 * (1 min by default), so no real scrape is cut short.
 */
const RESPONSE_TIMEOUT_MS = 60_000;
/**
 * Exposition bytes held for responses still being written, across all
 * clients. Past it the oldest exposition's readers (the slowest) are dropped,
 * but the newest KEEP_NEWEST expositions always stay: at 20,000 series one
 * exposition is ~56 MB, and two Prometheus replicas scraping at nearly the
 * same time must not drop each other. 64 MiB is about a dozen 2,000-series
 * expositions (2.8 kB a histogram series).
 */
const HELD_BYTES_LIMIT = 64 * 1024 * 1024;
const KEEP_NEWEST = 2;
/**
 * Scrapes in flight per HTTP/1 connection. Prometheus never pipelines; a
 * client that does gets 503 for the extras instead of one scrape each
 * (one 64 kB read holds thousands of pipelined requests).
 */
const MAX_SCRAPES_PER_CONNECTION = 1;

export type NodeRequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Fastify hands (request, reply); its raw Node objects live on `.raw`. */
interface FastifyLike {
  raw: http.IncomingMessage | http.ServerResponse;
  hijack?: () => void;
}

function unwrapFramework(
  req: http.IncomingMessage | FastifyLike,
  res: http.ServerResponse | FastifyLike,
): [http.IncomingMessage, http.ServerResponse] {
  if (!(req instanceof http.IncomingMessage) && (req as FastifyLike).raw instanceof http.IncomingMessage) {
    const reply = res as FastifyLike;
    reply.hijack?.();
    return [(req as FastifyLike).raw as http.IncomingMessage, reply.raw as http.ServerResponse];
  }
  return [req as http.IncomingMessage, res as http.ServerResponse];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class Authenticator {
  private readonly _expected: Buffer;
  readonly challenge: string;
  constructor(auth: PrometheusAuth) {
    if ('token' in auth) {
      this._expected = sha256(`bearer ${auth.token}`);
      this.challenge = 'Bearer realm="metrics"';
    } else {
      this._expected = sha256(`basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
      this.challenge = 'Basic realm="metrics", charset="UTF-8"';
    }
  }
  /** Compares digests, so the time taken does not depend on how much of the secret matched. */
  check(header: string | undefined): boolean {
    const m = typeof header === 'string' ? /^\s*(\S+)\s+(\S+)\s*$/.exec(header) : null;
    if (m === null) return false;
    return timingSafeEqual(sha256(`${m[1]!.toLowerCase()} ${m[2]}`), this._expected);
  }
}

export interface EndpointOptions {
  /** Undefined when Prometheus export is not enabled: the handlers answer 404. */
  reader: MetricReader | undefined;
  /** Our series store, serialized beside what the reader collects from the SDK. */
  store?: SeriesStore;
  serializer: PrometheusSerializer;
  auth: PrometheusAuth | undefined;
  /**
   * Where the exposition comes from instead of `reader` and `store`: a
   * multi-process gateway's per-host view (lib/cluster), the same for every
   * worker that answers.
   */
  view?: () => Promise<{ resourceMetrics: ResourceMetrics; store: SeriesStore }>;
  /** JSON for `/stats`; undefined when there is nothing to report. */
  stats?: () => Promise<unknown>;
  /** Thresholds of the status page, and where `statusHandler`'s page reads the stats. */
  statusPage?: { statsUrl: string; slowP95Seconds: number; errorPercent: number };
  /** @default DRAIN_TIMEOUT_MS (tests shorten it) */
  drainTimeoutMs?: number;
  /** @default RESPONSE_TIMEOUT_MS (tests shorten it) */
  responseTimeoutMs?: number;
  /** @default HELD_BYTES_LIMIT (tests lower it) */
  heldBytesLimit?: number;
  /** Told the warning key each time we drop a response (tests wait on it rather than on a delay). */
  onDrop?: (key: string) => void;
}

/** End one response early; a key (for the rate-limited warning) and a reason when it is our decision. */
type Drop = (key: string | undefined, reason: string | undefined) => void;

/** One collection, serialized in one format: shared by every scrape of that format that waited for it. */
interface Exposition {
  format: ExpositionFormat;
  chunks: Buffer[];
  bytes: number;
  /**
   * The same bytes gzipped, once for every scrape that asks (Prometheus always
   * does), in one job on libuv's thread pool: it costs the event loop a copy
   * of the bytes into one buffer, not the compression. (Fed chunk by chunk
   * while serializing, zlib took one event-loop turn per chunk: 36 ms instead
   * of 4–5 at 2,000 series on a loaded machine.)
   */
  gzip: Promise<{ chunks: Buffer[]; bytes: number }> | undefined;
  /** Responses still being written from it. */
  writers: Set<Drop>;
}

export class MetricsEndpoint {
  private readonly _auth: Authenticator | undefined;
  private _busy: Promise<void> = Promise.resolve();
  private _queued = 0;
  /** Rendered pages by stats URL: the page is static, so serving it is one write. */
  private readonly _pages = new Map<string, Buffer>();
  /**
   * Per format, the collection not started yet, which every scrape of that
   * format arriving now joins; `gzip`: a scrape that joined asked for gzip
   * (compress while serializing).
   */
  private readonly _next = new Map<ExpositionFormat, { exposition: Promise<Exposition | undefined>; gzip: boolean }>();
  /** Expositions with responses still being written, oldest first. */
  private readonly _held = new Set<Exposition>();
  private _heldBytes = 0;
  /** Scrapes in flight per HTTP/1 connection. */
  private readonly _perConnection = new WeakMap<object, number>();
  /** Abusive clients must not flood the host's logs either. */
  private readonly _warner = new RateLimitedWarner();

  constructor(private readonly _options: EndpointOptions) {
    this._auth = _options.auth === undefined ? undefined : new Authenticator(_options.auth);
  }

  /** `(req, res)` handler serving the exposition, for http.createServer, Express and Fastify. */
  readonly metricsHandler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this._guarded(req, res, (rq, rs) => this._serveMetrics(rq, rs));
  };

  /** `(req, res)` handler serving the JSON stats view. */
  readonly statsHandler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this._guarded(req, res, (rq, rs) => this._serveStats(rq, rs));
  };

  /**
   * `(req, res)` handler serving the live HTML status page. The page reads the
   * stats from `statusPage.statsUrl` (default `stats`, the sibling path).
   */
  readonly statusHandler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this._guarded(req, res, async (rq, rs) => this._servePage(rq, rs, this._options.statusPage?.statsUrl ?? 'stats'));
  };

  /** The status page for our own listener: served at `pagePath`, reading `statsPath`. */
  pageHandlerFor(pagePath: string, statsPath: string): NodeRequestHandler {
    const statsUrl = relativePath(pagePath, statsPath);
    return (req, res) => this._guarded(req, res, async (rq, rs) => this._servePage(rq, rs, statsUrl));
  }

  private _servePage(req: http.IncomingMessage, res: http.ServerResponse, statsUrl: string): void {
    const settings = this._options.statusPage;
    if (settings === undefined || this._options.stats === undefined) {
      plain(res, 404, 'No status page\n');
      return;
    }
    let body = this._pages.get(statsUrl);
    if (body === undefined) {
      body = Buffer.from(renderStatusPage({ ...settings, statsUrl }));
      this._pages.set(statsUrl, body);
    }
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
      'Content-Security-Policy': STATUS_PAGE_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private _guarded(
    reqIn: http.IncomingMessage,
    resIn: http.ServerResponse,
    serve: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>,
  ): void {
    let req: http.IncomingMessage;
    let res: http.ServerResponse;
    try {
      [req, res] = unwrapFramework(reqIn, resIn);
    } catch (err) {
      logger.warn(`metrics handler: unusable request/response objects (${describe(err)})`);
      return;
    }
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        plain(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD' });
        return;
      }
      if (this._auth !== undefined && !this._auth.check(req.headers.authorization)) {
        plain(res, 401, 'Unauthorized\n', { 'WWW-Authenticate': this._auth.challenge });
        return;
      }
      if (this._options.reader === undefined) {
        plain(res, 404, 'Prometheus export is not enabled (add "prometheus" to OTEL_METRICS_EXPORTER)\n');
        return;
      }
      serve(req, res).catch(err => {
        logger.warn(`metrics handler failed: ${describe(err)}`);
        if (!res.headersSent) plain(res, 503, 'Metrics collection failed\n');
        else res.destroy();
      });
    } catch (err) {
      logger.warn(`metrics handler failed: ${describe(err)}`);
      try {
        if (!res.headersSent) plain(res, 503, 'Metrics collection failed\n');
        else res.destroy();
      } catch {
        // Nothing more we can do for this response.
      }
    }
  }

  /** Run scrapes one after another; refuse when too many are waiting. */
  private async _exclusive<T>(fn: () => Promise<T>): Promise<T | undefined> {
    if (this._queued >= MAX_QUEUED_SCRAPES) return undefined;
    this._queued++;
    const previous = this._busy;
    let release!: () => void;
    this._busy = new Promise<void>(r => (release = r));
    try {
      await previous;
      return await fn();
    } finally {
      this._queued--;
      release();
    }
  }

  /** Bytes of exposition held for responses still being written (tests read it). */
  get heldBytes(): number {
    return this._heldBytes;
  }

  private _collect() {
    return callWithTimeout(this._options.reader!.collect({ timeoutMillis: COLLECT_TIMEOUT_MS }), COLLECT_TIMEOUT_MS, 'collect()');
  }

  /**
   * The next collection in `format`. Scrapes that arrive while one runs
   * share the one after it (each sees data collected after it asked), so N
   * scrapers of one format cost at most two collections, not N queued ones.
   */
  private _exposition(format: ExpositionFormat, gzip: boolean): Promise<Exposition | undefined> {
    const pending = this._next.get(format);
    if (pending !== undefined) {
      if (gzip) pending.gzip = true;
      return pending.exposition;
    }
    const entry = { exposition: undefined as unknown as Promise<Exposition | undefined>, gzip };
    const next: Promise<Exposition | undefined> = this._exclusive(() => {
      if (this._next.get(format) === entry) this._next.delete(format);
      return this._build(format, entry.gzip);
    });
    entry.exposition = next;
    this._next.set(format, entry);
    // Refused (queue full): let the next scrape try again.
    void next.then(e => {
      if (e === undefined && this._next.get(format) === entry) this._next.delete(format);
    }, () => {});
    return next;
  }

  /** collect() and serialize into bytes, under the lock; no client I/O here. */
  private async _build(format: ExpositionFormat, wantGzip: boolean): Promise<Exposition> {
    let store = this._options.store;
    let resourceMetrics: ResourceMetrics;
    if (this._options.view !== undefined) {
      ({ resourceMetrics, store } = await callWithTimeout(this._options.view(), COLLECT_TIMEOUT_MS, 'the host view'));
    } else {
      store?.prepare();
      const collected = await this._collect();
      if (collected.errors.length > 0) {
        logger.warn(`metrics collection reported ${collected.errors.length} error(s): ${describe(collected.errors[0])}`);
      }
      resourceMetrics = collected.resourceMetrics;
    }
    // collect() was one synchronous block already: let the host's requests in
    // before serializing, then again after every slice.
    await yieldToLoop();
    const chunks: Buffer[] = [];
    let bytes = 0;
    let sliceStart = performance.now();
    const serializer = this._options.serializer;
    // The protobuf serializer yields empty buffers too: points where it may pause.
    for (const buf of format === 'protobuf' ? serializer.protobufChunks(resourceMetrics, store) : serializer.byteChunks(resourceMetrics, store, format)) {
      if (buf.length > 0) {
        chunks.push(buf);
        bytes += buf.length;
      }
      if (performance.now() - sliceStart > YIELD_AFTER_MS) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    }
    const exposition: Exposition = { format, chunks, bytes, gzip: undefined, writers: new Set() };
    if (wantGzip) void this._gzipped(exposition).catch(() => {});
    return exposition;
  }

  /** The exposition gzipped: made once, by the first scrape that asks if the build did not. */
  private _gzipped(exposition: Exposition): Promise<{ chunks: Buffer[]; bytes: number }> {
    return (exposition.gzip ??= gzipChunks(exposition.chunks));
  }

  private async _serveMetrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // HTTP/2 streams share one socket legitimately; only HTTP/1 pipelines.
    const conn = req.httpVersionMajor === 1 ? (req.socket as object | null) : null;
    const inFlight = conn === null ? 0 : (this._perConnection.get(conn) ?? 0);
    if (inFlight >= MAX_SCRAPES_PER_CONNECTION) {
      plain(res, 503, 'One scrape at a time per connection\n', { 'Retry-After': '1' });
      return;
    }
    if (conn !== null) this._perConnection.set(conn, inFlight + 1);
    try {
      let exposition: Exposition | undefined;
      try {
        exposition = await this._exposition(negotiate(req.headers.accept), acceptsGzip(req));
      } catch (err) {
        logger.warn(`metrics collection failed: ${describe(err)}`);
        plain(res, 503, `Metrics collection failed: ${err instanceof Error ? err.message : 'error'}\n`);
        return;
      }
      if (exposition === undefined) {
        plain(res, 503, 'Too many concurrent scrapes\n', { 'Retry-After': '1' });
        return;
      }
      await this._write(req, res, exposition);
    } finally {
      if (conn !== null) {
        const n = (this._perConnection.get(conn) ?? 1) - 1;
        if (n > 0) this._perConnection.set(conn, n);
        else this._perConnection.delete(conn);
      }
    }
  }

  /**
   * Write one response from shared bytes, outside the lock. It ends when the
   * client has taken every byte or is dropped:
   * - its connection closed: a pipelined response still queued behind another
   *   gets no 'close' of its own on Node 22 (and only since Node 24 is it
   *   destroyed), so we watch the socket itself;
   * - it read nothing for `drainTimeoutMs` (10 s), or did not finish within
   *   `responseTimeoutMs` (60 s);
   * - the bytes held for unfinished responses passed `heldBytesLimit` and its
   *   exposition was the oldest held (never one of the two newest).
   * Measured before this design (2,200 histogram series, 6.2 MB exposition,
   * Node 24): with 9 clients that sent GET /metrics and read nothing, a normal
   * scrape was refused (queue full) or waited, and the first complete one
   * came 60 s later; one connection that pipelined 9 scrapes and stayed held
   * every scrape off for 10.4 s.
   */
  private async _write(req: http.IncomingMessage, res: http.ServerResponse, exposition: Exposition): Promise<void> {
    const socket = req.socket as (NodeJS.EventEmitter & { destroyed?: boolean }) | null;
    const gone = () => res.destroyed || socket?.destroyed === true;
    if (gone()) return;
    let body: { chunks: Buffer[]; bytes: number } = exposition;
    const gzip = acceptsGzip(req);
    if (gzip) {
      try {
        body = await this._gzipped(exposition);
      } catch (err) {
        logger.warn(`metrics scrape: gzip failed (${describe(err)}); answering uncompressed`);
      }
      if (gone()) return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', CONTENT_TYPES[exposition.format]);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Accept, Accept-Encoding');
    if (body !== exposition) res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', body.bytes);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const sink: NodeJS.WritableStream = res;

    let dropped = false;
    let wake: (() => void) | undefined;
    const drop: Drop = (key, reason) => {
      if (dropped) return;
      dropped = true;
      if (key !== undefined) {
        this._warner.warn(key, () => `metrics scrape: ${reason}; response dropped`);
        this._options.onDrop?.(key);
      }
      res.destroy();
      wake?.();
    };
    // 'close' after a complete response is no abort (Node emits it once the socket is detached).
    const onGone = () => {
      if (!res.writableFinished) drop(undefined, undefined);
    };
    const deadlineMs = this._options.responseTimeoutMs ?? RESPONSE_TIMEOUT_MS;
    const deadline = setTimeout(() => drop('response-timeout', `the client did not take the response within ${deadlineMs} ms`), deadlineMs);
    deadline.unref();
    socket?.once('close', onGone);
    res.once('close', onGone);
    this._hold(exposition, drop);
    try {
      const drainMs = this._options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
      // Resolves on `event`, or when dropped; false after drainMs without it.
      const waitFor = (emitter: NodeJS.EventEmitter, event: string) => new Promise<boolean>(resolve => {
        const finish = (ok: boolean) => {
          clearTimeout(timer);
          emitter.removeListener(event, onEvent);
          wake = undefined;
          resolve(ok);
        };
        const onEvent = () => finish(true);
        const timer = setTimeout(() => finish(false), drainMs);
        timer.unref();
        emitter.once(event, onEvent);
        wake = () => finish(true);
      });
      for (const chunk of body.chunks) {
        if (dropped) return;
        if (!sink.write(chunk) && !(await waitFor(sink, 'drain'))) drop('drain-timeout', `the client read nothing for ${drainMs} ms`);
      }
      if (dropped) return;
      sink.end();
      // The last chunks sit in the socket's buffer until the client takes
      // them: the response holds them (and its connection) until 'finish'.
      if (!res.writableFinished && !(await waitFor(res, 'finish'))) drop('drain-timeout', `the client read nothing for ${drainMs} ms`);
    } finally {
      clearTimeout(deadline);
      socket?.removeListener('close', onGone);
      res.removeListener('close', onGone);
      this._release(exposition, drop);
    }
  }

  /** Count `exposition` as held by one more response; over the limit, drop the oldest one's readers. */
  private _hold(exposition: Exposition, drop: Drop): void {
    if (!this._held.has(exposition)) {
      this._held.add(exposition);
      this._heldBytes += exposition.bytes;
    }
    exposition.writers.add(drop);
    const limit = this._options.heldBytesLimit ?? HELD_BYTES_LIMIT;
    for (const oldest of this._held) {
      if (this._heldBytes <= limit || this._held.size <= KEEP_NEWEST) break;
      for (const dropWriter of [...oldest.writers]) {
        dropWriter('held-bytes', `over ${limit} bytes held for unfinished responses, the oldest (slowest) reader`);
        this._release(oldest, dropWriter);
      }
    }
  }

  private _release(exposition: Exposition, drop: Drop): void {
    exposition.writers.delete(drop);
    if (exposition.writers.size === 0 && this._held.delete(exposition)) this._heldBytes -= exposition.bytes;
  }

  private async _serveStats(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const stats = this._options.stats;
    if (stats === undefined) {
      plain(res, 404, 'No stats view\n');
      return;
    }
    const body = await this._exclusive(async () => JSON.stringify(await callWithTimeout(stats(), COLLECT_TIMEOUT_MS, 'the stats view'), null, 2));
    if (body === undefined) {
      plain(res, 503, 'Too many concurrent requests\n', { 'Retry-After': '1' });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(_req.method === 'HEAD' ? undefined : `${body}\n`);
  }
}

/**
 * The chunks gzipped on libuv's thread pool, written to one zlib stream after
 * the serializer is done (while it runs, zlib would wait a turn of the busy
 * loop per chunk: 36 ms instead of 4–5 at 2,000 series), not joined into one
 * buffer first (at 20,000 series the copy of 54 MB held the loop ~20 ms).
 */
function gzipChunks(chunks: readonly Buffer[]): Promise<{ chunks: Buffer[]; bytes: number }> {
  return new Promise((resolve, reject) => {
    const z = createGzip({ level: GZIP_LEVEL, chunkSize: GZIP_CHUNK });
    const out: Buffer[] = [];
    let bytes = 0;
    z.on('data', (b: Buffer) => {
      out.push(b);
      bytes += b.length;
    });
    z.once('end', () => resolve({ chunks: out, bytes }));
    z.once('error', reject);
    for (const c of chunks) z.write(c);
    z.end();
  });
}

function acceptsGzip(req: http.IncomingMessage): boolean {
  return /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
}

function yieldToLoop(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

function plain(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export interface ListenOptions {
  host: string;
  port: number;
  path: string;
  statsPath: string | false;
  /** The status page reads `statsPath`: it is served only when both are set. */
  statusPath?: string | false;
}

/** Our own listener: `path` → metrics, `statsPath` → stats, `statusPath` → status page, anything else 404. */
export function createMetricsServer(endpoint: MetricsEndpoint, options: ListenOptions): http.Server {
  // Slow or oversized clients cannot tie the endpoint up: 8 kB of headers at
  // most (431 beyond), headers within 5 s and the whole request within 10 s,
  // checked every second (Node's default check runs every 30 s). No cap on
  // connections: a cap would let a few slow clients lock Prometheus out.
  const statusPath = options.statsPath !== false && options.statusPath !== undefined && options.statusPath !== false ? options.statusPath : undefined;
  const page = statusPath === undefined ? undefined : endpoint.pageHandlerFor(statusPath, options.statsPath as string);
  const server = http.createServer({ maxHeaderSize: 8192, connectionsCheckingInterval: 1000, headersTimeout: 5000, requestTimeout: 10_000 }, (req, res) => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      plain(res, 400, 'Bad Request\n');
      return;
    }
    if (pathname === options.path) endpoint.metricsHandler(req, res);
    else if (options.statsPath !== false && pathname === options.statsPath) endpoint.statsHandler(req, res);
    else if (page !== undefined && pathname === statusPath) page(req, res);
    else plain(res, 404, 'Not Found\n');
  });
  server.keepAliveTimeout = 5_000;
  server.timeout = 60_000;
  server.unref();
  return server;
}

/** Listen, resolving with the bound address; a port in use rejects with a clear error. */
export function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.removeListener('listening', onListening);
      const reason = err.code === 'EADDRINUSE' ? 'the address is already in use (another process, or a second plugin)' : err.message;
      reject(new Error(`otel-gateway-metrics: cannot listen on ${host}:${port}: ${reason}`, { cause: err }));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      server.on('error', err => logger.warn(`metrics server error: ${describe(err)}`));
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}
