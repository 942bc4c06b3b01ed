/**
 * A protocol read from the bytes of a transport: the interface between the
 * transports (paths/http.ts, paths/exec.ts) and the protocol readers
 * (JSON-RPC/MCP, LLM APIs, …), after Envoy's filter chain: the transport
 * decodes its own framing (HTTP exchanges, a child's stdio) and hands each
 * piece to the readers that claimed it; a reader records what it understood
 * through the same cells as everything else. A new protocol is one file
 * implementing `Protocol` plus one line in protocols/index.ts.
 *
 * Rules for readers (the transports call them on the host's request path):
 * - they run inside the transport's guard, but must not throw anyway, and must
 *   never hold on to a head object past the call it was given to (the
 *   transport reuses it);
 * - chunks are views of the host's own buffers: read them, never keep or
 *   change more than the few bytes that decide an outcome;
 * - nothing here may change what the host sees.
 */
import type { TraceRef } from '../core/trace';
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { Series } from '../core/series-registry';
import type { ResolvedConfig } from '../config/resolve';

/** A body chunk as the transport saw it: a string (written as such) or bytes. */
export type Chunk = string | Uint8Array;

/** An HTTP request as made, before its body. Valid during the call only. */
export interface RequestHead {
  /** Upper-case method. */
  readonly method: string;
  /** The request target: path and query. */
  readonly path: string;
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
}

/** An HTTP response head. Valid during the call only. */
export interface ResponseHead {
  readonly status: number;
  /** A response header by its lower-case name. */
  header(name: string): string | undefined;
}

/** The exchange a reader's request body belonged to, once the transport has started it. */
export interface Exchange {
  /** Its node × transport (already counted in flight). */
  readonly series: Series;
  /** Its start (performance.now()). */
  readonly t0: number;
  /** false when the transport could not show the body's bytes (Node 22's fetch publishes none). */
  readonly bodySeen: boolean;
  /** The sampled span the exchange was started in (exemplars), read when it began. */
  readonly trace: TraceRef | undefined;
}

/**
 * What a reader makes of an exchange once the request body is complete:
 * - `read`: it reads on (response head and body), and is told the end;
 *   the exchange stays one plain call;
 * - `own`: the exchange is the reader's calls (MCP: one per JSON-RPC
 *   request), begun by the reader now; the reader records them at the end and
 *   the plain call is not recorded;
 * - `drop`: not a routed call at all (JSON-RPC notifications only): it leaves
 *   in-flight and records nothing;
 * - `pass`: not the reader's; it is told nothing more.
 * The first `own` or `drop` wins; readers after it are not asked.
 */
export type Verdict = 'read' | 'own' | 'drop' | 'pass';

/** The end of an HTTP exchange, as the transport saw it. Valid during the call only. */
export interface ExchangeEnd {
  /** Duration in seconds, and the clock reading it was taken at. */
  readonly seconds: number;
  readonly now: number;
  /** The transport failed or the client gave up before the end of the answer. */
  readonly failed: boolean;
  /**
   * The exchange's error type (undefined: success). A `read` reader that
   * knows better may change it: an LLM stream the client cancelled after its
   * end marker got its whole answer, so `aborted` becomes a success.
   */
  errorType: string | undefined;
  readonly statusCode: number | undefined;
  readonly requestBytes: number | undefined;
  readonly responseBytes: number | undefined;
}

/** A reader of one HTTP exchange. */
export interface HttpReader {
  /** A chunk of the request body, in the order written. */
  requestChunk(chunk: Chunk): void;
  /** The request body is complete (or, for a bodiless request, the exchange started). */
  requestEnd(exchange: Exchange): Verdict;
  /** The response head (only after `read` or `own`). */
  responseHead(head: ResponseHead): void;
  /** A chunk of the response body as it came off the wire (still compressed if it was). */
  responseChunk(chunk: Chunk): void;
  /** The exchange ended; an owner records its calls, others their own metrics. */
  end(end: ExchangeEnd): void;
}

/** Returned by `Protocol.http` for an exchange that is not a routed call at all (an MCP session DELETE). */
export const SKIP = 'skip' as const;

/** A child process the exec path started, as shown to a stdio reader. */
export interface StdioChild {
  /** Its node (exec transport), counted in flight as one process attempt. */
  readonly series: Series;
  /**
   * The reader found its protocol on the child's stdio: the child's requests
   * are the routed calls from now on, so the process attempt leaves in-flight
   * and records nothing.
   */
  own(): void;
}

/** A reader of one child's stdio. */
export interface StdioReader {
  /** A chunk the app wrote to the child's stdin. */
  stdin(chunk: Chunk): void;
  /** A chunk the child wrote to its stdout. */
  stdout(chunk: Chunk): void;
  /**
   * The child closed, with the process outcome (undefined: exit 0). Returns
   * true when the reader owned the child (see StdioChild.own): the process
   * then records no sample of its own.
   */
  close(errorType: string | undefined): boolean;
}

/** One protocol, made once per registration (its instruments come from GatewayMetrics.shared()). */
export interface Protocol {
  readonly name: string;
  /**
   * An HTTP request is being made (method, path and headers as given when it
   * was created): a reader for its exchange, SKIP, or undefined when the
   * request is none of this protocol's business. Called for every request:
   * decide from the head alone, cheaply.
   */
  http?(head: RequestHead): HttpReader | typeof SKIP | undefined;
  /** A child process with stdio pipes was started: a reader, or undefined. */
  stdio?(child: StdioChild): StdioReader | undefined;
}

/** Makes a protocol for a registration, or undefined when the configuration turns it off. */
export type ProtocolFactory = (metrics: GatewayMetrics, config: ProtocolConfig) => Protocol | undefined;

/** The part of the resolved configuration the protocols read. */
export type ProtocolConfig = Pick<ResolvedConfig, 'mcp' | 'llm'>;

/** A written or pushed chunk as the peer gets it: strings in another encoding than UTF-8 become their bytes. */
export function asChunk(chunk: unknown, encoding: unknown): Chunk {
  if (typeof chunk === 'string') {
    return typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8' && Buffer.isEncoding(encoding)
      ? Buffer.from(chunk, encoding)
      : chunk;
  }
  if (chunk instanceof Uint8Array) return chunk;
  return String(chunk);
}

/** `404` → `4xx`: the `http.response.status_code_class` of an error. */
export function statusClassOf(code: number): string {
  return `${Math.floor(code / 100)}xx`;
}
