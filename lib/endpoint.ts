/**
 * The scrape endpoint: a request handler (mountable on the app's own server)
 * and our own optional listener.
 *
 * - GET/HEAD only (405 otherwise), optional bearer/basic auth (401 with
 *   WWW-Authenticate, constant-time comparison, credentials never logged);
 * - one scrape serializes at a time; output is streamed in chunks and the
 *   handler yields to the event loop between them, so a 20,000-series scrape
 *   does not block the host's requests for its whole duration;
 * - collection failures answer 503 with a short reason; nothing here throws
 *   into the host.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGzip } from 'node:zlib';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { logger, describe } from './diag';
import { CONTENT_TYPE, type PrometheusSerializer } from './exposition';
import { relativePath, renderStatusPage, STATUS_PAGE_CSP } from './status-page';
import type { PrometheusAuth } from './types';

/** Longest time one chunk loop may hold the event loop before yielding. */
const YIELD_AFTER_MS = 10;
/** A scrape waiting longer than this for collect() gets 503. */
const COLLECT_TIMEOUT_MS = 10_000;
/** Scrapes allowed to queue behind the one in progress. */
const MAX_QUEUED_SCRAPES = 8;
/**
 * A scraper that stops reading holds the scrape lock; after this long without
 * a 'drain' its response is dropped, so the scrapes queued behind it go on.
 */
const DRAIN_TIMEOUT_MS = 10_000;

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
  serializer: PrometheusSerializer;
  auth: PrometheusAuth | undefined;
  /** JSON for `/stats`; undefined when there is nothing to report. */
  stats?: () => Promise<unknown>;
  /** Thresholds of the status page, and where `statusHandler`'s page reads the stats. */
  statusPage?: { statsUrl: string; slowP95Seconds: number; errorPercent: number };
  /** @default DRAIN_TIMEOUT_MS (tests shorten it) */
  drainTimeoutMs?: number;
}

export class MetricsEndpoint {
  private readonly _auth: Authenticator | undefined;
  private _busy: Promise<void> = Promise.resolve();
  private _queued = 0;
  /** Rendered pages by stats URL: the page is static, so serving it is one write. */
  private readonly _pages = new Map<string, Buffer>();

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

  private _collect() {
    return withTimeout(this._options.reader!.collect({ timeoutMillis: COLLECT_TIMEOUT_MS }), COLLECT_TIMEOUT_MS, 'collect()');
  }

  private async _serveMetrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const done = await this._exclusive(async () => {
      let collected;
      try {
        collected = await this._collect();
      } catch (err) {
        logger.warn(`metrics collection failed: ${describe(err)}`);
        plain(res, 503, `Metrics collection failed: ${err instanceof Error ? err.message : 'error'}\n`);
        return true;
      }
      if (collected.errors.length > 0) {
        logger.warn(`metrics collection reported ${collected.errors.length} error(s): ${describe(collected.errors[0])}`);
      }
      if (res.destroyed) return true;
      const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
      res.statusCode = 200;
      res.setHeader('Content-Type', CONTENT_TYPE);
      res.setHeader('Cache-Control', 'no-store');
      if (gzip) {
        res.setHeader('Content-Encoding', 'gzip');
        res.setHeader('Vary', 'Accept-Encoding');
      }
      if (req.method === 'HEAD') {
        res.end();
        return true;
      }
      const sink: NodeJS.WritableStream = gzip ? createGzip() : res;
      if (gzip) (sink as ReturnType<typeof createGzip>).pipe(res);
      // collect() was one synchronous block already: let the host's requests in
      // before serializing, then again after every slice. A 'drain' is no yield:
      // on loopback the write completes at once and 'drain' comes in a nextTick.
      await yieldToLoop();
      let sliceStart = performance.now();
      for (const chunk of this._options.serializer.chunks(collected.resourceMetrics)) {
        if (res.destroyed) return true;
        const drainMs = this._options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
        if (!sink.write(chunk) && !(await waitDrain(sink, res, drainMs))) {
          logger.warn(`metrics scrape: the client read nothing for ${drainMs} ms; response dropped`);
          res.destroy();
          return true;
        }
        if (performance.now() - sliceStart > YIELD_AFTER_MS) {
          await yieldToLoop();
          sliceStart = performance.now();
        }
      }
      sink.end();
      return true;
    });
    if (done === undefined) plain(res, 503, 'Too many concurrent scrapes\n', { 'Retry-After': '1' });
  }

  private async _serveStats(_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const stats = this._options.stats;
    if (stats === undefined) {
      plain(res, 404, 'No stats view\n');
      return;
    }
    const body = await this._exclusive(async () => JSON.stringify(await withTimeout(stats(), COLLECT_TIMEOUT_MS, 'the stats view'), null, 2));
    if (body === undefined) {
      plain(res, 503, 'Too many concurrent requests\n', { 'Retry-After': '1' });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(_req.method === 'HEAD' ? undefined : `${body}\n`);
  }
}

function yieldToLoop(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

/** Resolves true on 'drain' (or when the response closes), false after `ms`. */
function waitDrain(sink: NodeJS.WritableStream, res: http.ServerResponse, ms: number): Promise<boolean> {
  return new Promise(resolve => {
    const finish = (drained: boolean) => {
      clearTimeout(timer);
      sink.removeListener('drain', onDrain);
      res.removeListener('close', onDrain);
      resolve(drained);
    };
    const onDrain = () => finish(true);
    const timer = setTimeout(() => finish(false), ms);
    timer.unref();
    sink.once('drain', onDrain);
    res.once('close', onDrain);
  });
}

/** `promise`, or a rejection after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
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
