/**
 * MCP over stdio (issue #13): the MCP SDK's StdioClientTransport spawning a
 * real MCP server (spec/fixtures/mcp-server.cjs) through the exec path. Each
 * JSON-RPC request is one routed call timed to its response; the child's
 * lifetime is no sample; in-flight is 0 between calls. Also a hand-written
 * peer (spec/fixtures/jsonrpc-raw.cjs) for the bad-input cases.
 */
import { expect } from 'chai';
import * as cp from 'node:child_process';
import { resolve } from 'node:path';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { semconv } from '../lib';
import { ExecPath } from '../lib/paths/exec';
import { MCP_DURATION_BUCKETS, McpProtocol, McpTracker } from '../lib/protocols/mcp';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, histogram, point, points, total, type Harness } from './helpers/metrics';
import { eventually } from './helpers/eventually';
import { ROOT } from './helpers/child';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const M = semconv.METRIC_MCP_CLIENT_OPERATION_DURATION;
const NODE = process.execPath;
const SERVER = resolve(ROOT, 'spec/fixtures/mcp-server.cjs');
const RAW = resolve(ROOT, 'spec/fixtures/jsonrpc-raw.cjs');

/** Children running our fixtures are node "agent-1"; nothing else is a gateway call. */
const nodeFor = (_file: string, args: readonly string[]) => (args.some(a => a === SERVER || a === RAW) ? 'agent-1' : undefined);
const node = { node: 'agent-1', transport: 'exec' };

async function client() {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const transport = new StdioClientTransport({ command: NODE, args: [SERVER], stderr: 'ignore' });
  const c = new Client({ name: 'spec', version: '1.0.0' });
  await c.connect(transport);
  return c;
}

/** The bucket counts of `h` minus those of `before` (the calls made in between). */
function delta(h: Histogram, before: Histogram | undefined): number[] {
  return h.buckets.counts.map((c, i) => c - (before?.buckets.counts[i] ?? 0));
}

/** A harness with the exec path and the JSON-RPC observation on, and the diag captured. */
function observedExec(): { h: Harness; exec: ExecPath; diag: Captured } {
  const diag = captureDiag();
  const h = harness();
  const exec = new ExecPath(h.metrics, { nodeFor }, [new McpProtocol(new McpTracker(h.metrics, 60_000))]);
  exec.enable();
  return { h, exec, diag };
}

async function stopObserved(o: { h: Harness; exec: ExecPath; diag: Captured }): Promise<void> {
  o.exec.disable();
  await o.h.shutdown();
  o.diag.restore();
}

describe('MCP over stdio: the MCP SDK stdio client and a real MCP server', function () {
  this.timeout(30_000);
  let h: Harness;
  let exec: ExecPath;
  let diag: Captured;

  beforeEach(() => ({ h, exec, diag } = observedExec()));
  afterEach(() => stopObserved({ h, exec, diag }));

  it('times every request to its response: exact counts per method and tool, against the server\'s own', async () => {
    const c = await client();
    await c.listTools();
    for (const text of ['a', 'b']) expect((await c.callTool({ name: 'echo', arguments: { text } })).content).to.deep.equal([{ type: 'text', text }]);
    expect((await c.callTool({ name: 'fail' })).isError).to.equal(true);
    await c.getPrompt({ name: 'greet' });
    const missing = await c.callTool({ name: 'missing' }).then(() => undefined, (e: { code?: number }) => e);
    expect(missing?.code).to.equal(-32602);
    const counted = JSON.parse((((await c.callTool({ name: 'counts' })).content) as { text: string }[])[0]!.text) as Record<string, number>;
    expect(counted).to.deep.equal({
      'tools/list': 1, 'tools/call echo': 2, 'tools/call fail': 1, 'prompts/get greet': 1, 'tools/call missing': 1, 'tools/call counts': 1,
    });

    // Idle session: nothing in flight, the child alive.
    let rm = await h.collect();
    expect(point(rm, A, node).value).to.equal(0);
    await c.close();
    // The child's end reaches the exec path on its own schedule: wait for every call's record, nothing in flight.
    rm = await eventually(async () => {
      const r = await h.collect();
      expect(total(r, M)).to.equal(8);
      expect(point(r, A, node).value).to.equal(0);
      return r;
    });

    // The convention metric, one point per method / tool / outcome, as the server counted.
    const mcp = (want: Record<string, string>) => histogram(rm, M, { ...node, ...want }).count;
    for (const [key, n] of Object.entries(counted)) {
      const [method, name] = key.split(' ');
      const want: Record<string, string> = { 'mcp.method.name': method! };
      if (method === 'tools/call') want['gen_ai.tool.name'] = name!;
      if (method === 'prompts/get') want['gen_ai.prompt.name'] = name!;
      expect(total(rm, M, { ...node, ...want }), key).to.equal(n);
    }
    // initialize is the SDK's handshake (handled inside the server SDK, so not in its counts); the
    // notifications/initialized that follows it is no call.
    expect(mcp({ 'mcp.method.name': 'initialize' })).to.equal(1);
    expect(points(rm, M).map(p => String(p.attributes['mcp.method.name'])).filter(m => m.startsWith('notifications/'))).to.deep.equal([]);
    expect(total(rm, M)).to.equal(8);

    // Exact label sets of the outcomes.
    expect(point(rm, M, { 'gen_ai.tool.name': 'echo' }).attributes).to.deep.equal({
      node: 'agent-1', transport: 'exec', 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool', 'network.transport': 'pipe',
    });
    expect(point(rm, M, { 'gen_ai.tool.name': 'fail' }).attributes).to.deep.equal({
      node: 'agent-1', transport: 'exec', 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'fail',
      'gen_ai.operation.name': 'execute_tool', 'network.transport': 'pipe', 'error.type': 'tool_error',
    });
    expect(point(rm, M, { 'gen_ai.tool.name': 'missing' }).attributes).to.deep.equal({
      node: 'agent-1', transport: 'exec', 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'missing',
      'gen_ai.operation.name': 'execute_tool', 'network.transport': 'pipe', 'error.type': '-32602', 'rpc.response.status_code': '-32602',
    });
    expect(point(rm, M, { 'mcp.method.name': 'prompts/get' }).attributes).to.deep.equal({
      node: 'agent-1', transport: 'exec', 'mcp.method.name': 'prompts/get', 'gen_ai.prompt.name': 'greet', 'network.transport': 'pipe',
    });

    // The gateway metric: one sample per request, none for the child's lifetime, no error from close().
    expect(histogram(rm, D, { ...node, status: 'success' }).count).to.equal(6);
    expect(histogram(rm, D, { ...node, status: 'error' }).count).to.equal(2);
    expect(points(rm, E).map(p => `${p.attributes['error.type']} ${p.value}`).sort()).to.deep.equal(['-32602 1', 'tool_error 1']);
    expect(point(rm, A, node).value).to.equal(0);
    expect(diag.warn).to.deep.equal([]);
  });

  it('a 200 ms tool lands in the 0.1-0.25 s bucket of the gateway metric and the 0.2-0.5 s bucket of the convention metric', async () => {
    const c = await client();
    await c.callTool({ name: 'echo', arguments: { text: 'warm' } });
    const before = await h.collect();
    const gatewayBefore = histogram(before, D, { ...node, status: 'success' });
    const t0 = performance.now();
    const r = await c.callTool({ name: 'slow', arguments: { ms: 200 } });
    const waited = (performance.now() - t0) / 1000;
    expect(r.content).to.deep.equal([{ type: 'text', text: 'slept' }]);
    const rm = await h.collect();
    await c.close();
    // The call lasted at least the tool's 200 ms and at most what the client waited: on an idle machine that is
    // index 5 of both bucket sets, and a loaded one may only stretch it into a later bucket the wait covers.
    const bucketOf = (bounds: readonly number[], counts: number[]) => {
      expect(counts.filter(n => n !== 0), `counts ${counts}`).to.deep.equal([1]);
      const at = counts.indexOf(1);
      const hi = bounds.findIndex(b => b >= waited);
      expect(at).to.be.within(bounds.findIndex(b => b >= 0.2), hi === -1 ? bounds.length : hi);
      return at;
    };
    // Gateway buckets: 0.005 … 0.1, 0.25, …: the 200 ms call is in (0.1, 0.25], index 5.
    const gateway = histogram(rm, D, { ...node, status: 'success' });
    const gatewayAt = bucketOf(gateway.buckets.boundaries, delta(gateway, gatewayBefore));
    if (waited <= 0.25) expect(gatewayAt).to.equal(5);
    // Convention buckets: 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, …: (0.2, 0.5], index 5.
    const slow = histogram(rm, M, { ...node, 'gen_ai.tool.name': 'slow' });
    expect(slow.buckets.boundaries).to.deep.equal([...MCP_DURATION_BUCKETS]);
    const mcpAt = bucketOf(slow.buckets.boundaries, slow.buckets.counts);
    if (waited <= 0.5) expect(mcpAt).to.equal(5);
  });

  it('a child that exits mid-call: the open request is child_exit, the process no sample', async () => {
    const c = await client();
    const crashed = await c.callTool({ name: 'crash' }).then(() => 'answered', (e: Error) => e.message);
    expect(crashed).to.match(/closed/i);
    // The client may see the pipe close before the exec path has ended the open request: wait for that record.
    const rm = await eventually(async () => {
      const r = await h.collect();
      expect(point(r, E, node).value).to.equal(1);
      return r;
    });
    expect(histogram(rm, M, { ...node, 'gen_ai.tool.name': 'crash' }).count).to.equal(1);
    expect(point(rm, M, { ...node, 'gen_ai.tool.name': 'crash' }).attributes['error.type']).to.equal('child_exit');
    expect(point(rm, E, node).attributes['error.type']).to.equal('child_exit');
    expect(point(rm, E, node).value).to.equal(1);
    // initialize + crash: two calls, no sample for the process (which exited 3).
    expect(total(rm, D, node)).to.equal(2);
    expect(point(rm, A, node).value).to.equal(0);
  });

  it('never switches stdout to flowing: a child nobody reads still gets its calls timed', async () => {
    const child = cp.spawn(NODE, [RAW], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"ok"}\n');
    // Timed from the answer alone, with nobody reading: wait for that record.
    let rm = await eventually(async () => {
      const r = await h.collect();
      expect(histogram(r, D, { ...node, status: 'success' }).count).to.equal(1);
      return r;
    });
    expect(child.stdout.readableFlowing).to.equal(null);
    expect(point(rm, A, node).value).to.equal(0);
    // The app reads it afterwards: the response is all there, unchanged.
    const chunks: Buffer[] = [];
    child.stdout.on('data', d => chunks.push(d));
    child.stdin.end();
    await new Promise(r => child.on('close', r));
    expect(Buffer.concat(chunks).toString()).to.equal('{"jsonrpc":"2.0","id":1,"result":{}}\n');
    rm = await h.collect();
    expect(total(rm, D, node)).to.equal(1);
  });

  it('a child that never speaks JSON-RPC keeps per-process timing', async () => {
    const child = cp.spawn(NODE, [RAW, 'plain'], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout.resume();
    child.stdin.end('hello, not json\n');
    // The fixture parses JSON: a plain line makes it throw and exit 1.
    await new Promise(r => child.on('close', r));
    const rm = await h.collect();
    expect(histogram(rm, D, { ...node, status: 'error' }).count).to.equal(1);
    expect(point(rm, E, node).attributes['error.type']).to.equal('exit_nonzero');
    expect(points(rm, M)).to.deep.equal([]);
  });
});

describe('MCP over stdio: @modelcontextprotocol/server-everything (third-party server), zero config', function () {
  this.timeout(30_000);
  let h: Harness;
  let exec: ExecPath;

  beforeEach(() => {
    h = harness();
    exec = new ExecPath(h.metrics, {}, [new McpProtocol(new McpTracker(h.metrics, 60_000))]);
    exec.enable();
  });
  afterEach(async () => {
    exec.disable();
    await h.shutdown();
  });

  it('each request on the package\'s node; an unknown tool is what the server really answers', async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    const transport = new StdioClientTransport({
      command: NODE, args: [resolve(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'], stderr: 'ignore',
    });
    const c = new Client({ name: 'spec', version: '1.0.0' });
    await c.connect(transport);
    await c.listTools();
    for (const message of ['a', 'b', 'c']) await c.callTool({ name: 'echo', arguments: { message } });
    // The server's answer, as the client sees it: a JSON-RPC error code or a result with isError.
    const unknown = await c.callTool({ name: 'no-such-tool' }).then(
      r => (r.isError === true ? 'tool_error' : 'success'),
      (e: { code?: unknown }) => (typeof e.code === 'number' ? String(e.code) : 'no code'),
    );
    await c.close();
    const node = { node: '@modelcontextprotocol/server-everything', transport: 'exec' };
    // Every call recorded and none in flight, once the child's end has reached the exec path.
    const rm = await eventually(async () => {
      const r = await h.collect();
      expect(total(r, D, node)).to.equal(6);
      expect(point(r, A, node).value).to.equal(0);
      return r;
    });
    expect(points<Histogram>(rm, M).map(p => `${p.attributes.node} ${p.attributes['mcp.method.name']} ${p.attributes['gen_ai.tool.name'] ?? '-'} ${p.attributes['error.type'] ?? 'ok'} ${p.value.count}`).sort()).to.deep.equal([
      `${node.node} initialize - ok 1`,
      `${node.node} tools/call echo ok 3`,
      `${node.node} tools/call no-such-tool ${unknown} 1`,
      `${node.node} tools/list - ok 1`,
    ]);
    expect(unknown).to.match(/^-?[0-9]+$|^tool_error$/);
    expect(total(rm, D, node)).to.equal(6);
    expect(point(rm, A, node).value).to.equal(0);
  });
});

describe('MCP over stdio: bad input (hand-written peer)', function () {
  this.timeout(30_000);
  let h: Harness;
  let exec: ExecPath;
  let diag: Captured;

  beforeEach(() => ({ h, exec, diag } = observedExec()));
  afterEach(() => stopObserved({ h, exec, diag }));

  /** Spawn the raw peer, write `lines` (split across writes at odd places), read stdout as the app would. */
  async function session(requests: object[], { end = true, waitMs = 400 } = {}) {
    const child = cp.spawn(NODE, [RAW], { stdio: ['pipe', 'pipe', 'ignore'] });
    const out: Buffer[] = [];
    child.stdout.on('data', d => out.push(d));
    const text = requests.map(r => JSON.stringify(r) + '\n').join('');
    // Lines split across writes, and writes holding several lines.
    const cut = [0, 7, Math.floor(text.length / 2), text.length - 3, text.length].filter((v, i, a) => i === 0 || v > a[i - 1]!);
    for (let i = 1; i < cut.length; i++) child.stdin.write(text.slice(cut[i - 1], cut[i]));
    await new Promise(r => setTimeout(r, waitMs));
    if (end) child.stdin.end();
    const closed = await new Promise<number | null>(r => child.on('close', code => r(code)));
    return { closed, out: Buffer.concat(out) };
  }

  it('non-JSON lines and an answer to an unknown id: a warning each, the calls still timed', async () => {
    const { out } = await session([
      { jsonrpc: '2.0', id: 1, method: 'nonjson' },
      { jsonrpc: '2.0', id: 'two', method: 'unknown-id' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
    ]);
    expect(out.toString()).to.include('this is a log line');
    const rm = await h.collect();
    expect(histogram(rm, D, { ...node, status: 'success' }).count).to.equal(2);
    expect(total(rm, M)).to.equal(2);
    expect(diag.warn.filter(w => w.includes('not JSON on the stdout of node "agent-1"'))).to.have.length(1);
    expect(diag.warn.filter(w => w.includes('answered id "nobody"'))).to.have.length(1);
    expect(point(rm, A, node).value).to.equal(0);
  });

  it('5 MB lines: timed to their end, outcome read from their ends (isError, error code), nothing parsed whole', async () => {
    const { out } = await session([
      { jsonrpc: '2.0', id: 1, method: 'big' },
      { jsonrpc: '2.0', id: 2, method: 'big', params: { isError: true } },
      { jsonrpc: '2.0', id: 3, method: 'big-error' },
      { jsonrpc: '2.0', id: 4, method: 'ok' },
    ], { waitMs: 1500 });
    expect(out.length).to.be.greaterThan(15 * 1024 * 1024);
    const rm = await h.collect();
    const byOutcome = points<Histogram>(rm, M).map(p => `${p.attributes['mcp.method.name']} ${p.attributes['error.type'] ?? 'ok'} ${p.value.count}`).sort();
    expect(byOutcome).to.deep.equal(['big ok 1', 'big tool_error 1', 'big-error -32000 1', 'ok ok 1']);
    expect(diag.warn).to.deep.equal([]);
  });

  it('a child that writes half a line and exits: a warning, the open request is child_exit', async () => {
    const { closed } = await session([{ jsonrpc: '2.0', id: 1, method: 'half' }], { end: false, waitMs: 0 });
    expect(closed).to.equal(0);
    const rm = await h.collect();
    expect(point(rm, M, node).attributes['error.type']).to.equal('child_exit');
    expect(point(rm, E, node).value).to.equal(1);
    expect(total(rm, D, node)).to.equal(1);
    expect(diag.warn.filter(w => w.includes('exited in the middle of a line'))).to.have.length(1);
  });

  it('a response that never comes ends as timeout after requestTimeoutMs; cancellation ends a call as aborted', async () => {
    exec.disable();
    exec = new ExecPath(h.metrics, { nodeFor }, [new McpProtocol(new McpTracker(h.metrics, 300))]);
    exec.enable();
    await session([
      { jsonrpc: '2.0', id: 1, method: 'never' },
      { jsonrpc: '2.0', id: 2, method: 'never' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2 } },
    ], { waitMs: 1500 });
    const rm = await h.collect();
    expect(points(rm, E).map(p => `${p.attributes['error.type']} ${p.value}`).sort()).to.deep.equal(['aborted 1', 'timeout 1']);
    // Not before the timeout; the upper bound only says it fired before the child ended (stdin closed at 1.5 s).
    expect(histogram(rm, M, { ...node, 'error.type': 'timeout' }).sum).to.be.within(0.3, 1.5);
    expect(point(rm, A, node).value).to.equal(0);
  });
});
