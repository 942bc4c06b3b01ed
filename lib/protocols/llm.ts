/**
 * LLM API calls as routed calls, zero config: an HTTP POST to an
 * OpenAI-compatible (`…/chat/completions`, `…/completions`, `…/embeddings`,
 * `…/responses`), Anthropic (`…/v1/messages`) or Ollama (`/api/chat`,
 * `/api/generate`, `/api/embed`) endpoint is read for its model, its stream
 * flag, the answer's model and the usage the provider reported, into the
 * GenAI semantic conventions' client metrics (never prefixed, each with our
 * `node` and `transport`): gen_ai.client.operation.duration,
 * gen_ai.client.token.usage (only when the provider reported usage, never an
 * estimate), and for streams gen_ai.client.operation.time_to_first_chunk
 * (request to the first body bytes, never to the headers: a gateway in front
 * may hold them until its first chunk) and time_per_output_chunk.
 *
 * The exchange stays one plain call on the gateway's own metric, with one
 * exception: a stream is complete at its end marker (`data: [DONE]`,
 * `response.completed`, `message_stop`, Ollama's `"done": true`). The openai
 * SDK stops reading at `[DONE]` and cancels the body if the server has not
 * ended it yet; the client got everything, so a cancel after the marker is a
 * success, on every metric. A cancel before it stays `aborted`.
 *
 * Bounds: a JSON body is parsed whole up to BODY_PARSE_BYTES; past that only
 * its first and last bytes are read (the model leads, the usage trails). A
 * stream is framed line by line; an event is parsed only when it is the first
 * (the model), carries usage or ends the stream, so a content chunk costs a
 * line split and a counter. Compressed answers are not read (the call keeps
 * its duration, without tokens).
 */
import { StringDecoder } from 'node:string_decoder';
import { ValueType, type Attributes } from '@opentelemetry/api';
import { RateLimitedWarner, describe } from '../core/diag';
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { HistogramCell, HistogramRecorder, Recorders } from '../core/recorder';
import type { Series } from '../core/series-registry';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  ATTR_NODE,
  ATTR_TRANSPORT,
  ERROR_TYPE_OTHER,
  GEN_AI_DURATION_BUCKETS,
  GEN_AI_INSTRUMENTS,
  GEN_AI_TOKEN_BUCKETS,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK,
  METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
} from '../core/semconv';
import { Doc } from './jsonrpc-body';
import type { Chunk } from './jsonrpc';
import type { Exchange, ExchangeEnd, HttpReader, Protocol, ProtocolFactory, RequestHead, ResponseHead, Verdict } from './protocol';

/** A JSON body up to this many bytes is parsed whole; past it, its two ends are read. */
const BODY_PARSE_BYTES = 16 * 1024;
/** A stream line longer than this is not parsed (its bytes are still counted as a chunk). */
const LINE_MAX = 64 * 1024;
const MAX_MODEL_LENGTH = 256;

type Provider = 'openai' | 'anthropic' | 'ollama';
type Operation = 'chat' | 'text_completion' | 'embeddings';
interface Api {
  readonly provider: Provider;
  readonly operation: Operation;
  /** OpenAI's Responses API: events named `response.*`. */
  readonly responses?: boolean;
}

const OPENAI_CHAT: Api = { provider: 'openai', operation: 'chat' };
const OPENAI_COMPLETIONS: Api = { provider: 'openai', operation: 'text_completion' };
const OPENAI_EMBEDDINGS: Api = { provider: 'openai', operation: 'embeddings' };
const OPENAI_RESPONSES: Api = { provider: 'openai', operation: 'chat', responses: true };
const ANTHROPIC_MESSAGES: Api = { provider: 'anthropic', operation: 'chat' };
const OLLAMA_CHAT: Api = { provider: 'ollama', operation: 'chat' };
const OLLAMA_GENERATE: Api = { provider: 'ollama', operation: 'text_completion' };
const OLLAMA_EMBED: Api = { provider: 'ollama', operation: 'embeddings' };

/** The API a POST's path names, or undefined. */
export function apiOf(rawPath: string): Api | undefined {
  const q = rawPath.indexOf('?');
  let path = q === -1 ? rawPath : rawPath.slice(0, q);
  if (path.endsWith('/')) path = path.slice(0, -1);
  if (path === '/api/chat') return OLLAMA_CHAT;
  if (path === '/api/generate') return OLLAMA_GENERATE;
  if (path === '/api/embed' || path === '/api/embeddings') return OLLAMA_EMBED;
  if (path.endsWith('/chat/completions')) return OPENAI_CHAT;
  if (path.endsWith('/completions')) return OPENAI_COMPLETIONS;
  if (path.endsWith('/embeddings')) return OPENAI_EMBEDDINGS;
  if (path.endsWith('/responses')) return OPENAI_RESPONSES;
  if (path.endsWith('/v1/messages')) return ANTHROPIC_MESSAGES;
  return undefined;
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function model(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  return v.length > MAX_MODEL_LENGTH ? v.slice(0, MAX_MODEL_LENGTH) : v;
}

/** What one answer (a JSON body, or one stream event) says. */
interface Said {
  model?: string;
  input?: number;
  output?: number;
  errorType?: string;
}

/** The model, usage and error a provider's JSON (an answer or a stream event) carries, wherever its API puts them. */
function readAnswer(j: Json): Said {
  const said: Said = {};
  // Anthropic's message_start and OpenAI Responses' response.* events nest the message.
  const inner = obj(j.message) ?? obj(j.response);
  said.model = model(j.model) ?? model(inner?.model);
  const usage = obj(j.usage) ?? obj(inner?.usage);
  if (usage !== undefined) {
    said.input = count(usage.prompt_tokens) ?? count(usage.input_tokens);
    said.output = count(usage.completion_tokens) ?? count(usage.output_tokens);
    // Embeddings report prompt tokens only.
  }
  // Ollama's final object.
  said.input ??= count(j.prompt_eval_count);
  said.output ??= count(j.eval_count);
  const error = j.error;
  if (typeof error === 'string' && error !== '') said.errorType = ERROR_TYPE_OTHER;
  else {
    const e = obj(error);
    if (e !== undefined) {
      const code = typeof e.code === 'string' && e.code !== '' ? e.code : typeof e.type === 'string' && e.type !== '' ? e.type : undefined;
      said.errorType = code ?? ERROR_TYPE_OTHER;
    }
  }
  return said;
}

const MODEL_HEAD = /"model"\s*:\s*"((?:[^"\\]|\\.){1,512})"/;
const USAGE_NUMBER = (name: string) => new RegExp(`"${name}"\\s*:\\s*([0-9]{1,12})`);
const PROMPT = USAGE_NUMBER('prompt_tokens');
const COMPLETION = USAGE_NUMBER('completion_tokens');
const INPUT = USAGE_NUMBER('input_tokens');
const OUTPUT = USAGE_NUMBER('output_tokens');
const PROMPT_EVAL = USAGE_NUMBER('prompt_eval_count');
const EVAL = USAGE_NUMBER('eval_count');

/** A body too long to parse: the model from its head, the usage from its tail (a heuristic; documented). */
function readEnds(head: string, tail: string): Said {
  const said: Said = {};
  const m = MODEL_HEAD.exec(head);
  if (m !== null) {
    try {
      said.model = model(JSON.parse(`"${m[1]}"`));
    } catch {
      // not a plain string
    }
  }
  const at = tail.lastIndexOf('"usage"');
  const usage = at === -1 ? undefined : tail.slice(at);
  const n = (re: RegExp, text: string | undefined) => {
    const r = text === undefined ? null : re.exec(text);
    return r === null ? undefined : Number(r[1]);
  };
  said.input = n(PROMPT, usage) ?? n(INPUT, usage) ?? n(PROMPT_EVAL, tail);
  said.output = n(COMPLETION, usage) ?? n(OUTPUT, usage) ?? n(EVAL, tail);
  return said;
}

/** The request body as JSON: its model and whether it asks for a stream. */
function readRequestDoc(doc: Doc, text: (d: Doc) => { whole?: string; head: string; tail: string }): { model?: string; stream: boolean } {
  const t = text(doc);
  if (t.whole !== undefined) {
    try {
      const j = obj(JSON.parse(t.whole));
      if (j !== undefined) return { model: model(j.model), stream: j.stream === true };
    } catch {
      return { stream: false };
    }
    return { stream: false };
  }
  const m = MODEL_HEAD.exec(t.head);
  let name: string | undefined;
  try {
    name = m === null ? undefined : model(JSON.parse(`"${m[1]}"`));
  } catch {
    name = undefined;
  }
  return { model: name, stream: /"stream"\s*:\s*true/.test(t.head) || /"stream"\s*:\s*true/.test(t.tail) };
}

/** The instruments, made once per registration; the per-node cells live on the Series. */
class LlmMetrics {
  readonly duration: HistogramRecorder;
  readonly tokens: HistogramRecorder;
  readonly ttfc: HistogramRecorder;
  readonly tpoc: HistogramRecorder;
  readonly warn = new RateLimitedWarner();

  constructor(recorders: Recorders, readonly maxModels: number, readonly boundedErrorType: (raw: string) => string) {
    const h = (name: keyof typeof GEN_AI_INSTRUMENTS, boundaries: readonly number[], valueType: ValueType) =>
      recorders.histogram(name, { ...GEN_AI_INSTRUMENTS[name], valueType, boundaries });
    this.duration = h(METRIC_GEN_AI_CLIENT_OPERATION_DURATION, GEN_AI_DURATION_BUCKETS, ValueType.DOUBLE);
    this.tokens = h(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, GEN_AI_TOKEN_BUCKETS, ValueType.INT);
    this.ttfc = h(METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, GEN_AI_DURATION_BUCKETS, ValueType.DOUBLE);
    this.tpoc = h(METRIC_GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK, GEN_AI_DURATION_BUCKETS, ValueType.DOUBLE);
  }

  /** The bounded model names of a series: maxModels distinct, then `_OTHER` (one warning). */
  model(series: Series, state: LlmSeries, raw: string | undefined): string | undefined {
    if (raw === undefined) return undefined;
    if (state.models.has(raw)) return raw;
    if (state.models.size >= this.maxModels) {
      this.warn.warn('maxModels', () => `more than maxModels=${this.maxModels} model names on node ${describe(series.nodeEntry.name)}; ${describe(raw)} and further new names are recorded as "${ERROR_TYPE_OTHER}"`);
      return ERROR_TYPE_OTHER;
    }
    state.models.add(raw);
    return raw;
  }

  /** The cells of one label set (made on first use, released with the node). */
  cells(series: Series, state: LlmSeries, api: Api, requestModel: string | undefined, responseModel: string | undefined, errorType: string | undefined): LlmCells {
    const key = `${api.provider}\u0000${api.operation}\u0000${requestModel ?? ''}\u0000${responseModel ?? ''}\u0000${errorType ?? ''}`;
    let cells = state.cells.get(key);
    if (cells === undefined) {
      const a: Attributes = {
        [ATTR_NODE]: series.nodeEntry.name,
        [ATTR_TRANSPORT]: series.transport,
        [ATTR_GEN_AI_OPERATION_NAME]: api.operation,
        [ATTR_GEN_AI_PROVIDER_NAME]: api.provider,
      };
      if (requestModel !== undefined) a[ATTR_GEN_AI_REQUEST_MODEL] = requestModel;
      if (responseModel !== undefined) a[ATTR_GEN_AI_RESPONSE_MODEL] = responseModel;
      const base = Object.freeze({ ...a });
      if (errorType !== undefined) a[ATTR_ERROR_TYPE] = errorType;
      const owner = series.nodeEntry;
      cells = {
        duration: this.duration.cell(Object.freeze(a), owner),
        input: this.tokens.cell(Object.freeze({ ...base, [ATTR_GEN_AI_TOKEN_TYPE]: 'input' }), owner),
        output: this.tokens.cell(Object.freeze({ ...base, [ATTR_GEN_AI_TOKEN_TYPE]: 'output' }), owner),
        ttfc: this.ttfc.cell(base, owner),
        tpoc: this.tpoc.cell(base, owner),
      };
      // Released with the node: a protocol reader tracks the cells it makes.
      for (const cell of Object.values(cells)) owner.track(cell);
      state.cells.set(key, cells);
    }
    return cells;
  }
}

interface LlmCells {
  duration: HistogramCell;
  input: HistogramCell;
  output: HistogramCell;
  ttfc: HistogramCell;
  tpoc: HistogramCell;
}

/** LLM bookkeeping of one series (node × transport): its models and cells, dropped with the node. */
export class LlmSeries {
  readonly models = new Set<string>();
  readonly cells = new Map<string, LlmCells>();
}

const SERIES_STATE = new WeakMap<Series, LlmSeries>();

/** One LLM API exchange. */
export class LlmHttpReader implements HttpReader {
  private _body: Doc | undefined = new Doc(false);
  private _series: Series | undefined;
  private _t0 = 0;
  private _requestModel: string | undefined;
  private _stream = false;
  private _status = 0;
  private _mode: 'none' | 'json' | 'sse' | 'ndjson' = 'none';
  private _json: Doc | undefined;
  private _said: Said = {};
  /** Stream state: the line being assembled (decoded text), the last event name, timing. */
  private _line = '';
  private _event = '';
  /** When the first body bytes came (the time to first chunk), and the last output chunk. */
  private _firstBytes = 0;
  private _lastChunk = 0;
  private _chunks = 0;
  /** The stream's cells once its models are known (its first event): per-chunk records find them here. */
  private _streamCells: LlmCells | undefined;
  private _complete = false;
  private _decoder: StringDecoder | undefined;

  constructor(private readonly _metrics: LlmMetrics, private readonly _api: Api) {}

  requestChunk(c: Chunk): void {
    this._body?.append(c);
  }

  requestEnd(exchange: Exchange): Verdict {
    const body = this._body;
    this._body = undefined;
    // A body the transport could not show (Node 22's fetch): its answer is not shown either.
    if (!exchange.bodySeen) return 'pass';
    this._series = exchange.series;
    this._t0 = exchange.t0;
    if (body !== undefined && body.length > 0) {
      const read = readRequestDoc(body, d => (d.length <= BODY_PARSE_BYTES ? { whole: d.text(), head: '', tail: '' } : d.ends(4096)));
      this._requestModel = read.model;
      this._stream = read.stream;
    }
    return 'read';
  }

  responseHead(head: ResponseHead): void {
    this._status = head.status;
    // Compressed answers are not read (see the top of this file).
    const encoding = head.header('content-encoding');
    if (encoding !== undefined && encoding !== '' && encoding.toLowerCase() !== 'identity') return;
    const type = (head.header('content-type') ?? '').trimStart().toLowerCase();
    if (type.startsWith('text/event-stream')) this._mode = 'sse';
    else if (type.startsWith('application/x-ndjson') || (this._api.provider === 'ollama' && this._stream)) this._mode = 'ndjson';
    else if (type.startsWith('application/json') || type.includes('+json')) this._mode = 'json';
    if (this._mode === 'sse' || this._mode === 'ndjson') this._decoder = new StringDecoder('utf8');
    else if (this._mode === 'json') this._json = new Doc(false);
  }

  responseChunk(c: Chunk): void {
    const mode = this._mode;
    if (mode === 'json') {
      this._json!.append(c);
      return;
    }
    if (mode === 'none') return;
    const now = performance.now();
    if (this._firstBytes === 0) this._firstBytes = now;
    const text = typeof c === 'string' ? c : this._decoder!.write(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) {
        if (this._line.length < LINE_MAX) this._line += text.slice(start);
        return;
      }
      const piece = text.slice(start, nl);
      const line = this._line === '' ? piece : this._line + piece;
      this._line = '';
      start = nl + 1;
      if (mode === 'sse') this._sseLine(line.endsWith('\r') ? line.slice(0, -1) : line, now);
      else this._ndjsonLine(line, now);
    }
  }

  /** One output chunk arrived at `now`: from the second on, its time since the previous one. */
  private _chunk(now: number): void {
    if (this._chunks++ > 0) this._cellsOfStream()?.tpoc.record((now - this._lastChunk) / 1000);
    this._lastChunk = now;
  }

  private _cellsOfStream(): LlmCells | undefined {
    if (this._streamCells !== undefined || this._series === undefined) return this._streamCells;
    this._streamCells = this._cells(this._series, undefined);
    return this._streamCells;
  }

  private _cells(series: Series, errorType: string | undefined): LlmCells {
    const m = this._metrics;
    let state = SERIES_STATE.get(series);
    if (state === undefined) {
      state = new LlmSeries();
      SERIES_STATE.set(series, state);
    }
    return m.cells(series, state, this._api, m.model(series, state, this._requestModel), m.model(series, state, this._said.model), errorType);
  }

  private _sseLine(line: string, now: number): void {
    if (line === '') {
      this._event = '';
      return;
    }
    if (line.startsWith('event:')) {
      this._event = line.slice(line.startsWith('event: ') ? 7 : 6);
      return;
    }
    if (!line.startsWith('data:')) return;
    const data = line.slice(line.startsWith('data: ') ? 6 : 5);
    if (data === '[DONE]') {
      this._complete = true;
      return;
    }
    const event = this._event;
    // Which events are parsed: the first (the model), any that carries usage or an error, and the end events.
    const ends = event === 'message_stop' || event === 'response.completed' || event === 'response.incomplete' || event === 'response.failed';
    const content = event === '' ? this._api.provider === 'openai' && !this._api.responses : event === 'content_block_delta' || event.endsWith('.delta');
    if (ends) this._complete = true;
    if (this._said.model === undefined || ends || event === 'message_start' || event === 'message_delta' || event === 'error' || data.includes('"usage":{') || data.includes('"error"')) {
      this._parse(data);
    }
    if (content) this._chunk(now);
  }

  private _ndjsonLine(line: string, now: number): void {
    if (line.trim() === '') return;
    const done = line.includes('"done":true');
    if (done || this._said.model === undefined || line.includes('"error"')) {
      this._parse(line);
      if (done) this._complete = true;
    }
    if (!done) this._chunk(now);
  }

  private _parse(text: string): void {
    if (text.length > LINE_MAX) return;
    let j: Json | undefined;
    try {
      j = obj(JSON.parse(text));
    } catch {
      this._metrics.warn.warn('llm-bad-json', () => `llm: a stream event that is not JSON (${describe(text.slice(0, 80))}); ignored`);
      return;
    }
    if (j === undefined) return;
    const said = readAnswer(j);
    const into = this._said;
    into.model ??= said.model;
    if (said.input !== undefined) into.input = said.input;
    if (said.output !== undefined) into.output = said.output;
    if (said.errorType !== undefined) into.errorType ??= said.errorType;
  }

  end(e: ExchangeEnd): void {
    const series = this._series;
    if (series === undefined) return;
    if (this._mode === 'json') {
      const doc = this._json!;
      if (!e.failed && doc.length > 0) {
        if (doc.length <= BODY_PARSE_BYTES) this._parse(doc.text());
        else {
          const ends = doc.ends(4096);
          const said = readEnds(ends.head, ends.tail);
          Object.assign(this._said, said);
        }
        this._complete = true;
      }
    } else if (this._mode !== 'none') {
      // A last line the stream did not end with a newline.
      const rest = this._line + (this._decoder?.end() ?? '');
      this._line = '';
      if (rest.trim() !== '') {
        if (this._mode === 'sse') this._sseLine(rest, e.now);
        else this._ndjsonLine(rest, e.now);
      }
    }
    // The client cancelled after the end marker: it got the whole answer.
    if (e.failed && this._complete && (e.errorType === 'aborted' || e.errorType === 'connection_reset')) e.errorType = undefined;
    let errorType = e.errorType;
    // A provider's error answer: its own error code or type, else the status.
    if (errorType === undefined && this._status >= 400) errorType = this._said.errorType ?? String(this._status);
    else if (errorType === undefined && this._said.errorType !== undefined && !this._complete) errorType = this._said.errorType;
    if (errorType !== undefined) errorType = this._boundedError(errorType);
    const cells = this._cells(series, errorType);
    cells.duration.record(e.seconds);
    if (this._said.input !== undefined) cells.input.record(this._said.input);
    if (this._said.output !== undefined) cells.output.record(this._said.output);
    if (this._firstBytes > 0 && (this._mode === 'sse' || this._mode === 'ndjson')) {
      (this._streamCells ?? this._cells(series, undefined)).ttfc.record((this._firstBytes - this._t0) / 1000);
    }
  }

  private _boundedError(raw: string): string {
    return this._metrics.boundedErrorType(raw);
  }
}

/** LLM APIs: POSTs whose path names one. */
export class LlmProtocol implements Protocol {
  readonly name = 'llm';
  constructor(private readonly _metrics: LlmMetrics) {}

  http(head: RequestHead): HttpReader | undefined {
    if (head.method !== 'POST') return undefined;
    const api = apiOf(head.path);
    return api === undefined ? undefined : new LlmHttpReader(this._metrics, api);
  }
}

/** The registration's LLM protocol, or undefined when `llm: false`. */
export const llmProtocol: ProtocolFactory = (metrics: GatewayMetrics, config) =>
  config.llm === false ? undefined : new LlmProtocol(metrics.shared('llm', recorders => new LlmMetrics(recorders, metrics.maxModels, raw => metrics.boundedErrorType(raw))));

