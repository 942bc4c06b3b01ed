/**
 * MCP over Streamable HTTP (issue #13): the MCP SDK's Streamable HTTP client
 * (fetch) and a hand-written node:http client against a real MCP server
 * process (spec/fixtures/mcp-server.cjs, stateful sessions). Each POST
 * carrying a JSON-RPC request is one routed call timed to the end of its SSE
 * or JSON answer; POSTs of notifications, the session's GET event stream and
 * its DELETE are not calls.
 */
import { expect } from 'chai';
import * as http from 'node:http';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { semconv } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { FETCH_BODIES } from './helpers/capabilities';
import { HttpPath } from '../lib/paths/http';
import { McpProtocol, McpTracker } from '../lib/protocols/mcp';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, histogram, point, points, total, type Harness } from './helpers/metrics';
import { eventually } from './helpers/eventually';
import { ROOT } from './helpers/child';
import { removeOnExit, startProcess, stopAll, waitFor, type Proc } from './helpers/procs';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const S = semconv.METRIC_STREAMS_OPENED;
const M = semconv.METRIC_MCP_CLIENT_OPERATION_DURATION;
const SERVER = resolve(ROOT, 'spec/fixtures/mcp-server.cjs');

async function startServer(answer: 'sse' | 'json'): Promise<{ port: number; proc: Proc }> {
  const dir = removeOnExit(mkdtempSync(join(tmpdir(), 'mcp-http-')));
  const file = join(dir, 'port');
  const proc = startProcess(`mcp-server-${answer}`, process.execPath, [SERVER, 'http', file, answer], { lifetimeMs: 60_000 });
  const port = await waitFor('the MCP server port', async () => (existsSync(file) ? Number(readFileSync(file, 'utf8')) || undefined : undefined), 15_000, 50);
  return { port, proc };
}

async function sdkClient(port: number, methods?: string[]) {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
    fetch: (url, init) => {
      methods?.push(init?.method ?? 'GET');
      return fetch(url, init);
    },
  });
  const c = new Client({ name: 'spec', version: '1.0.0' });
  await c.connect(transport);
  return { c, transport };
}

describe('MCP over Streamable HTTP: the MCP SDK client (fetch) and a real MCP server', function () {
  this.timeout(40_000);
  let h: Harness;
  let path: HttpPath;
  let diag: Captured;
  let port: number;

  before(async () => {
    ({ port } = await startServer('sse'));
  });
  after(() => stopAll(2000));
  beforeEach(() => {
    diag = captureDiag();
    h = harness();
  });
  afterEach(async () => {
    path.disable();
    await h.shutdown();
    diag.restore();
  });

  function enable(options: Parameters<typeof resolveConfig>[0] = {}) {
    path = new HttpPath(h.metrics, resolveConfig(options, {}).http!, [new McpProtocol(new McpTracker(h.metrics, 60_000))]);
    path.enable();
  }

  it('zero config: each JSON-RPC request is one call, counted per method and tool as the server counted', async () => {
    enable();
    const node = { node: `127.0.0.1:${port}`, transport: 'http' };
    const methods: string[] = [];
    const { c, transport } = await sdkClient(port, methods);
    await c.listTools();
    await c.callTool({ name: 'echo', arguments: { text: 'a' } });
    expect((await c.callTool({ name: 'fail' })).isError).to.equal(true);
    const missing = await c.callTool({ name: 'missing' }).then(() => undefined, (e: { code?: number }) => e);
    expect(missing?.code).to.equal(-32602);
    await c.getPrompt({ name: 'greet' });
    const counted = JSON.parse((((await c.callTool({ name: 'counts' })).content) as { text: string }[])[0]!.text) as Record<string, number>;
    // Wait for the session's GET event stream, then look at an idle session.
    await waitFor('the GET stream', async () => (methods.includes('GET') ? true : undefined), 5000, 20);
    let rm = await h.collect();
    expect(point(rm, A, node).value).to.equal(0);
    expect(point(rm, S, node).value).to.equal(1);
    // Ending the session sends a DELETE; close() aborts the GET stream.
    await transport.terminateSession();
    await c.close();
    // The stream's abort and the last exchanges reach the HTTP path on their own schedule: wait for every call's
    // record and nothing in flight.
    rm = await eventually(async () => {
      const r = await h.collect();
      expect(total(r, D, node)).to.equal(FETCH_BODIES ? 7 : 8);
      expect(point(r, A, node).value).to.equal(0);
      return r;
    });

    expect(methods.filter(m => m === 'POST')).to.have.length(8);
    expect(methods.filter(m => m === 'DELETE')).to.have.length(1);
    if (!FETCH_BODIES) {
      // undici 6: every POST is one plain call (the notification's too; the
      // tool error and the JSON-RPC error are 200s), the DELETE none.
      expect(points(rm, M)).to.deep.equal([]);
      expect(histogram(rm, D, { ...node, status: 'success' }).count).to.equal(8);
      expect(total(rm, D, node)).to.equal(8);
      expect(point(rm, A, node).value).to.equal(0);
      expect(diag.warn).to.deep.equal([]);
      return;
    }
    for (const [key, n] of Object.entries(counted)) {
      const [method, name] = key.split(' ');
      const want: Record<string, string> = { 'mcp.method.name': method! };
      if (method === 'tools/call') want['gen_ai.tool.name'] = name!;
      if (method === 'prompts/get') want['gen_ai.prompt.name'] = name!;
      expect(total(rm, M, { ...node, ...want }), key).to.equal(n);
    }
    expect(total(rm, M, { 'mcp.method.name': 'initialize' })).to.equal(1);
    expect(total(rm, M)).to.equal(Object.values(counted).reduce((a, b) => a + b, 0) + 1);
    // initialize, notifications/initialized, 6 requests: 8 POSTs; one GET stream; one DELETE at close.
    // The gateway metric: the 7 requests only (not the notification's POST, the GET, the DELETE).
    expect(total(rm, D, node)).to.equal(7);
    expect(histogram(rm, D, { ...node, status: 'error' }).count).to.equal(2);
    expect(points(rm, E).map(p => `${p.attributes['error.type']} ${p.attributes['http.response.status_code_class']} ${p.value}`).sort())
      .to.deep.equal(['-32602 2xx 1', 'tool_error 2xx 1']);
    expect(point(rm, M, { 'gen_ai.tool.name': 'missing' }).attributes).to.deep.equal({
      node: node.node, transport: 'http', 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'missing',
      'gen_ai.operation.name': 'execute_tool', 'network.transport': 'tcp', 'error.type': '-32602', 'rpc.response.status_code': '-32602',
    });
    expect(point(rm, M, { 'gen_ai.tool.name': 'fail' }).attributes['error.type']).to.equal('tool_error');
    expect(point(rm, A, node).value).to.equal(0);
    expect(diag.warn).to.deep.equal([]);
  });

  it('with a node map: the calls carry the mapped node; a 200 ms tool lands in the right bucket of both metrics', async () => {
    enable({ http: { nodeFor: { [`127.0.0.1:${port}`]: 'mcp-a' } } });
    const node = { node: 'mcp-a', transport: 'http' };
    const { c } = await sdkClient(port);
    await c.callTool({ name: 'echo', arguments: { text: 'warm' } });
    const before = histogram(await h.collect(), D, { ...node, status: 'success' });
    const t0 = performance.now();
    await c.callTool({ name: 'slow', arguments: { ms: 200 } });
    const waited = (performance.now() - t0) / 1000;
    const rm = await h.collect();
    await c.close();
    /**
     * The one bucket the call belongs in: it lasted at least the tool's 200 ms and at most what the client waited.
     * On an idle machine that is index 5 of both bucket sets ((0.1, 0.25] and (0.2, 0.5]); a loaded one may stretch the call into a
     * later bucket, which the client's own wait then covers (no fixed latency bound).
     */
    const oneIn = (bounds: readonly number[]) => {
      const lo = bounds.findIndex(b => b >= 0.2);
      const hi = bounds.findIndex(b => b >= waited);
      return (counts: number[]) => {
        const at = counts.findIndex(n => n === 1);
        expect(counts.filter(n => n !== 0), `counts ${counts}`).to.deep.equal([1]);
        expect(at, `bucket of a call of 0.2–${waited.toFixed(3)} s`).to.be.within(lo, hi === -1 ? bounds.length : hi);
        return at;
      };
    };
    const gateway = histogram(rm, D, { ...node, status: 'success' });
    const gatewayAt = oneIn(gateway.buckets.boundaries)(gateway.buckets.counts.map((n, i) => n - before.buckets.counts[i]!));
    if (waited <= 0.25) expect(gatewayAt).to.equal(5);
    if (!FETCH_BODIES) {
      expect(points(rm, M)).to.deep.equal([]);
      return;
    }
    const slow = histogram(rm, M, { ...node, 'gen_ai.tool.name': 'slow' });
    const mcpAt = oneIn(slow.buckets.boundaries)(slow.buckets.counts);
    if (waited <= 0.5) expect(mcpAt).to.equal(5);
    expect(points(rm, M).every(p => p.attributes.node === 'mcp-a')).to.equal(true);
  });

  it('a server that dies mid-call: the open call gets the transport\'s error type', async () => {
    // JSON answers: with an SSE answer cut short the SDK client waits to resume the stream.
    const { port: dying } = await startServer('json');
    enable();
    const node = { node: `127.0.0.1:${dying}`, transport: 'http' };
    const { c } = await sdkClient(dying);
    const r = await c.callTool({ name: 'crash' }).then(() => 'answered', () => 'failed');
    expect(r).to.equal('failed');
    // The reset reaches the HTTP path on its own schedule: wait for its record.
    const rm = await eventually(async () => {
      const got = await h.collect();
      expect(point(got, E, { ...node, 'error.type': 'connection_reset' }).value).to.equal(1);
      return got;
    });
    await c.close().catch(() => {});
    if (!FETCH_BODIES) {
      expect(points(rm, M)).to.deep.equal([]);
      expect(point(rm, E, { ...node, 'error.type': 'connection_reset' }).value).to.equal(1);
      expect(point(rm, A, node).value).to.equal(0);
      return;
    }
    const crash = point<Histogram>(rm, M, { ...node, 'gen_ai.tool.name': 'crash' });
    expect(crash.attributes['error.type']).to.equal('connection_reset');
    expect(crash.value.count).to.equal(1);
    expect(point(rm, E, { ...node, 'error.type': 'connection_reset' }).value).to.equal(1);
    expect(point(rm, A, node).value).to.equal(0);
  });
});

describe('MCP over Streamable HTTP: node:http client, JSON answers', function () {
  this.timeout(30_000);
  let h: Harness;
  let path: HttpPath;
  let port: number;

  before(async () => {
    ({ port } = await startServer('json'));
  });
  after(() => stopAll(2000));
  beforeEach(() => {
    h = harness();
    path = new HttpPath(h.metrics, resolveConfig({}, {}).http!, [new McpProtocol(new McpTracker(h.metrics, 60_000))]);
    path.enable();
  });
  afterEach(async () => {
    path.disable();
    await h.shutdown();
  });

  /** POST a JSON-RPC body with http.request, written in two write() calls and an end(). */
  function post(body: unknown, session?: string): Promise<{ status: number; session?: string; text: string }> {
    return new Promise((res, rej) => {
      const text = JSON.stringify(body);
      const req = http.request({
        host: '127.0.0.1', port, path: '/mcp', method: 'POST',
        headers: {
          'content-type': 'application/json', accept: 'application/json, text/event-stream',
          ...(session !== undefined ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : {}),
        },
      }, r => {
        let t = '';
        r.setEncoding('utf8');
        r.on('data', d => (t += d));
        r.on('end', () => res({ status: r.statusCode!, session: r.headers['mcp-session-id'] as string | undefined, text: t }));
      });
      req.on('error', rej);
      req.write(text.slice(0, 5));
      req.write(text.slice(5, 20));
      req.end(text.slice(20));
    });
  }

  it('reads method and tool from the written body and the outcome from the JSON answer', async () => {
    const node = { node: `127.0.0.1:${port}`, transport: 'http' };
    const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect(init.status).to.equal(200);
    const sid = init.session!;
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).status).to.equal(202);
    const echo = await post({ jsonrpc: '2.0', id: 'e1', method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }, sid);
    expect(JSON.parse(echo.text).result.content).to.deep.equal([{ type: 'text', text: 'x' }]);
    const missing = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'missing' } }, sid);
    expect(JSON.parse(missing.text).error.code).to.equal(-32602);
    const rm = await h.collect();
    expect(total(rm, D, node)).to.equal(3);
    expect(points<Histogram>(rm, M).map(p => `${p.attributes['mcp.method.name']} ${p.attributes['gen_ai.tool.name'] ?? '-'} ${p.attributes['error.type'] ?? 'ok'} ${p.value.count}`).sort())
      .to.deep.equal(['initialize - ok 1', 'tools/call echo ok 1', 'tools/call missing -32602 1']);
    expect(point(rm, A, node).value).to.equal(0);
  });
});

describe('MCP over Streamable HTTP: a batch POST (fetch) to a hand-written JSON-RPC server', () => {
  let h: Harness;
  let path: HttpPath;
  let server: http.Server;
  let port: number;

  beforeEach(async () => {
    // Answers a batch with a JSON array: a result for id 1, a JSON-RPC error for id "two".
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify([
          { jsonrpc: '2.0', id: 'two', error: { code: -32601, message: 'Method not found' } },
          { jsonrpc: '2.0', id: 1, result: { content: [] } },
        ]));
      });
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    h = harness();
    path = new HttpPath(h.metrics, resolveConfig({}, {}).http!, [new McpProtocol(new McpTracker(h.metrics, 60_000))]);
    path.enable();
  });
  afterEach(async () => {
    path.disable();
    await new Promise<void>(r => server.close(() => r()));
    await h.shutdown();
  });

  it('each request of the batch is one call with its own outcome; the notification in it is none', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a' } },
        { jsonrpc: '2.0', method: 'notifications/progress' },
        { jsonrpc: '2.0', id: 'two', method: 'tools/list' },
      ]),
    });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.have.length(2);
    const node = { node: `127.0.0.1:${port}`, transport: 'http' };
    // Recorded when the response body ends, which the client may see first: wait for the exchange's records.
    const rm = await eventually(async () => {
      const r = await h.collect();
      expect(total(r, D, node)).to.equal(FETCH_BODIES ? 2 : 1);
      return r;
    });
    if (!FETCH_BODIES) {
      // undici 6: the batch is one plain call (a 200 with a JSON body we cannot read).
      expect(points(rm, M)).to.deep.equal([]);
      expect(total(rm, D, node)).to.equal(1);
      expect(histogram(rm, D, { ...node, status: 'success' }).count).to.equal(1);
      expect(point(rm, A, node).value).to.equal(0);
      return;
    }
    expect(points<Histogram>(rm, M).map(p => `${p.attributes['mcp.method.name']} ${p.attributes['gen_ai.tool.name'] ?? '-'} ${p.attributes['error.type'] ?? 'ok'} ${p.value.count}`).sort())
      .to.deep.equal(['tools/call a ok 1', 'tools/list - -32601 1']);
    expect(histogram(rm, D, { ...node, status: 'success' }).count).to.equal(1);
    expect(histogram(rm, D, { ...node, status: 'error' }).count).to.equal(1);
    expect(point(rm, A, node).value).to.equal(0);
  });
});
