/**
 * LLM API calls on the HTTP path (lib/protocols/llm.ts), zero config: the real
 * `openai` client against a loopback fake provider that answers with known
 * usage and known delays. Exact token sums and counts; durations and time to
 * first chunk bounded by the injected delays (one-sided where load can only
 * add time).
 */
import { FETCH_BODIES } from './helpers/capabilities';
import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { semconv } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { HttpPath } from '../lib/paths/http';
import { llmProtocol } from '../lib/protocols/llm';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, histogram, point, points, type Harness } from './helpers/metrics';
import { waitFor } from './helpers/procs';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const G = semconv.METRIC_GEN_AI_CLIENT_OPERATION_DURATION;
const T = semconv.METRIC_GEN_AI_CLIENT_TOKEN_USAGE;
const TTFC = semconv.METRIC_GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK;
const TPOC = semconv.METRIC_GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK;

/** Usage the fake provider reports: input 11 + the prompt's length, output 7. */
const usageOf = (prompt: string) => ({ prompt_tokens: 11 + prompt.length, completion_tokens: 7, total_tokens: 18 + prompt.length });
const FIRST_CHUNK_MS = 400;
const CHUNKS = 5;

/**
 * An OpenAI-compatible fake: chat JSON after 300 ms; streams send headers at
 * once, their first chunk after FIRST_CHUNK_MS, then CHUNKS-1 more 20 ms
 * apart, the usage chunk when asked for, `[DONE]`, and then hold the
 * connection open (as a real gateway in front may), so the client cancels it.
 * Model `limited` answers 429 with OpenAI's error body.
 */
async function fakeOpenAI(): Promise<{ port: number; close(): Promise<void> }> {
  const s = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', d => (body += d));
    req.on('end', () => {
      const r = JSON.parse(body) as { model: string; stream?: boolean; stream_options?: { include_usage?: boolean }; messages: { content: string }[] };
      const prompt = r.messages.map(m => m.content).join('');
      if (r.model === 'limited') {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }));
        return;
      }
      const model = `${r.model}-2024`;
      if (!r.stream) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage: usageOf(prompt) }));
        }, 300);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      const chunk = (i: number) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { content: `t${i}` } }] })}\n\n`;
      let i = 0;
      const next = () => {
        if (res.destroyed) return;
        if (i < CHUNKS) {
          res.write(chunk(i++));
          setTimeout(next, 20);
          return;
        }
        if (r.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [], usage: usageOf(prompt) })}\n\n`);
        res.write('data: [DONE]\n\n');
        // Held open: the client ends the exchange.
      };
      setTimeout(next, FIRST_CHUNK_MS);
    });
  });
  await new Promise<void>(r => s.listen(0, '127.0.0.1', r));
  return {
    port: (s.address() as AddressInfo).port,
    close: () => new Promise<void>(r => {
      s.closeAllConnections();
      s.close(() => r());
    }),
  };
}

describe('LLM API calls: the openai client against a fake provider, zero config', function () {
  this.timeout(30_000);
  let h: Harness;
  let diag: Captured;
  let srv: { port: number; close(): Promise<void> };
  let path: HttpPath;
  let client: OpenAI;
  let node: string;

  beforeEach(async () => {
    diag = captureDiag();
    h = harness();
    srv = await fakeOpenAI();
    node = `127.0.0.1:${srv.port}`;
    path = new HttpPath(h.metrics, resolveConfig({}, {}).http!, [llmProtocol(h.metrics, { mcp: undefined, llm: true })!]);
    path.enable();
    // Node 22's global fetch (undici 6) publishes no body chunks: there the
    // client is given the undici package's fetch (7.x), which does, as a Node
    // 22 user can (docs/llm.md).
    client = new OpenAI({ apiKey: 'test', baseURL: `http://${node}/v1`, maxRetries: 0, ...(FETCH_BODIES ? {} : { fetch: ownFetch as never }) });
  });

  // The undici package's fetch with an agent of its own: its first use would
  // otherwise install a 7.x agent as the process's global dispatcher, which
  // Node 22's own fetch then uses too (and publishes body chunks: later specs
  // that check what Node 22's fetch shows would see a different runtime).
  // Loading the package may install its agent as the global one, so it is
  // loaded here, with the global dispatcher saved first and put back after.
  const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');
  let undici: typeof import('undici');
  let agent: import('undici').Agent | undefined;
  let savedDispatcher: unknown;
  const ownFetch = (url: string, init?: object) => undici.fetch(url, { ...init, dispatcher: (agent ??= new undici.Agent()) } as never);
  before(async () => {
    savedDispatcher = (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER];
    undici = await import('undici');
  });
  after(async () => {
    await agent?.close();
    const g = globalThis as Record<symbol, unknown>;
    if (savedDispatcher === undefined) delete g[GLOBAL_DISPATCHER];
    else g[GLOBAL_DISPATCHER] = savedDispatcher;
  });

  afterEach(async () => {
    path.disable();
    await srv.close();
    await h.shutdown();
    diag.restore();
  });

  const labels = (model: string) => ({
    node, transport: 'http', 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': model, 'gen_ai.response.model': `${model}-2024`,
  });

  it('chat, not streamed: one call per model with its exact tokens; duration within 0.1 s of the wait; no stream metrics', async () => {
    const t0 = performance.now();
    const r = await client.chat.completions.create({ model: 'gpt-a', messages: [{ role: 'user', content: 'abc' }] });
    const waited = (performance.now() - t0) / 1000;
    expect(r.usage?.prompt_tokens).to.equal(14);
    await client.chat.completions.create({ model: 'gpt-a', messages: [{ role: 'user', content: 'abcdef' }] });
    await client.chat.completions.create({ model: 'gpt-b', messages: [{ role: 'user', content: '' }] });
    const rm = await h.collect();
    const a = histogram(rm, G, labels('gpt-a'));
    expect(a.count).to.equal(2);
    expect(histogram(rm, G, labels('gpt-b')).count).to.equal(1);
    expect(histogram(rm, T, { ...labels('gpt-a'), 'gen_ai.token.type': 'input' }).sum).to.equal(14 + 17);
    expect(histogram(rm, T, { ...labels('gpt-a'), 'gen_ai.token.type': 'output' }).sum).to.equal(14);
    expect(histogram(rm, T, { ...labels('gpt-b'), 'gen_ai.token.type': 'input' }).sum).to.equal(11);
    const first = points(rm, G, labels('gpt-a'));
    expect(first).to.have.length(1);
    // The first call: at least the server's 300 ms, at most what the client waited (plus 0.1 s).
    expect(a.min!).to.be.at.least(0.3);
    expect(a.min!).to.be.at.most(waited + 0.1);
    expect(points(rm, TTFC)).to.have.length(0);
    expect(points(rm, TPOC)).to.have.length(0);
    expect(histogram(rm, D, { node, status: 'success' }).count).to.equal(3);
  });

  it('chat, streamed with include_usage, cancelled by the client after [DONE]: a success with its tokens; time to first chunk from the backend\'s delay', async function () {
    const stream = await client.chat.completions.create({ model: 'gpt-s', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'xy' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text).to.equal('t0t1t2t3t4');
    // The SDK cancels the body the server holds open: wait until the exchange has ended.
    await waitFor('the exchange to end', async () => {
      const rm = await h.collect();
      return points(rm, A, { node })[0]?.value === 0 && points(rm, D, { node }).length > 0 ? true : undefined;
    }, 10_000, 20);
    const rm = await h.collect();
    expect(histogram(rm, D, { node, status: 'success' }).count).to.equal(1);
    expect(points(rm, E, { node })).to.have.length(0);
    expect(histogram(rm, G, labels('gpt-s')).count).to.equal(1);
    expect(histogram(rm, T, { ...labels('gpt-s'), 'gen_ai.token.type': 'input' }).sum).to.equal(13);
    expect(histogram(rm, T, { ...labels('gpt-s'), 'gen_ai.token.type': 'output' }).sum).to.equal(7);
    const ttfc = histogram(rm, TTFC, labels('gpt-s'));
    expect(ttfc.count).to.equal(1);
    expect(ttfc.sum).to.be.at.least(FIRST_CHUNK_MS / 1000);
    expect(ttfc.sum).to.be.below(FIRST_CHUNK_MS / 1000 + 0.1);
    // One time per output chunk after the first: the 5 content chunks and the usage chunk.
    expect(histogram(rm, TPOC, labels('gpt-s')).count).to.equal(CHUNKS);
  });

  it('streamed without include_usage: no token sample, never an estimate', async function () {
    const stream = await client.chat.completions.create({ model: 'gpt-n', stream: true, messages: [{ role: 'user', content: 'q' }] });
    for await (const c of stream) void c;
    await waitFor('the exchange to end', async () => (points(await h.collect(), G).length > 0 ? true : undefined), 10_000, 20);
    const rm = await h.collect();
    expect(histogram(rm, G, labels('gpt-n')).count).to.equal(1);
    expect(points(rm, T)).to.have.length(0);
  });

  it('a 429: error.type from the provider\'s error body; the gateway metric as for any 4xx', async () => {
    let status = 0;
    try {
      await client.chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'q' }] });
    } catch (err) {
      status = (err as { status: number }).status;
    }
    expect(status).to.equal(429);
    const rm = await h.collect();
    expect(point(rm, G, { node, 'gen_ai.request.model': 'limited' }).attributes['error.type']).to.equal('rate_limit_exceeded');
    expect(points(rm, T)).to.have.length(0);
    // 4xx is a success on the gateway's own metric by default (http.isError: status >= 500).
    expect(histogram(rm, D, { node, status: 'success' }).count).to.equal(1);
    expect(diag.warn).to.deep.equal([]);
  });
});
