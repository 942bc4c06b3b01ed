/**
 * Issue #16: what an MCP call costs in SDK calls. Every synchronous SDK
 * instrument call (Histogram.record, Counter.add, UpDownCounter.add,
 * Gauge.record) goes through SyncInstrument#_record; the spec wraps that one
 * method (calling through to it) and lists the instruments hit while one
 * request is answered, with the MCP SDK's clients against a real MCP server
 * (spec/fixtures/mcp-server.cjs): over stdio through the exec path, and over
 * Streamable HTTP through the HTTP path. A success costs the two durations
 * (the gateway's and the convention's), nothing else; an error adds its
 * error count.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { semconv } from '../lib';
import { resolveConfig } from '../lib/config/resolve';
import { ExecPath } from '../lib/paths/exec';
import { HttpPath } from '../lib/paths/http';
import { McpProtocol, McpTracker } from '../lib/protocols/mcp';
import { FETCH_BODIES } from './helpers/capabilities';
import { captureDiag, type Captured } from './helpers/diag';
import { eventually } from './helpers/eventually';
import { harness, type Harness } from './helpers/metrics';
import { ROOT } from './helpers/child';
import { removeOnExit, startProcess, stopAll, waitFor } from './helpers/procs';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const M = semconv.METRIC_MCP_CLIENT_OPERATION_DURATION;
const SERVER = resolve(ROOT, 'spec/fixtures/mcp-server.cjs');

type RecordFn = (this: { _descriptor: { name: string } }, ...args: unknown[]) => unknown;

/** Wrap SyncInstrument#_record of the harness's SDK: `calls` lists the instrument of each call. */
function countSdkCalls(h: Harness): { calls: string[]; restore(): void } {
  const probe = h.provider.getMeter('sdk-calls-probe').createHistogram('probe');
  const proto = Object.getPrototypeOf(Object.getPrototypeOf(probe)) as { _record: RecordFn };
  expect(Object.prototype.hasOwnProperty.call(proto, '_record')).to.equal(true);
  const original = proto._record;
  const calls: string[] = [];
  proto._record = function (this: { _descriptor: { name: string } }, ...args: unknown[]) {
    calls.push(this._descriptor.name);
    return original.apply(this, args);
  };
  return { calls, restore: () => void (proto._record = original) };
}

describe('MCP calls: SDK calls per call (issue 16)', function () {
  this.timeout(40_000);
  let h: Harness;
  let diag: Captured;
  let counter: { calls: string[]; restore(): void } | undefined;

  beforeEach(() => {
    diag = captureDiag();
    h = harness();
  });
  afterEach(async () => {
    counter?.restore();
    counter = undefined;
    await h.shutdown();
    diag.restore();
  });
  after(() => stopAll(2000));

  it('stdio: a success is the two durations, a tool error adds its error count, nothing else', async () => {
    const nodeFor = (_file: string, args: readonly string[]) => (args.includes(SERVER) ? 'agent-1' : undefined);
    const exec = new ExecPath(h.metrics, { nodeFor }, [new McpProtocol(new McpTracker(h.metrics, 60_000))]);
    exec.enable();
    try {
      const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
      const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
      const c = new Client({ name: 'spec', version: '1.0.0' });
      await c.connect(new StdioClientTransport({ command: process.execPath, args: [SERVER], stderr: 'ignore' }));
      await c.callTool({ name: 'echo', arguments: { text: 'warm' } });
      counter = countSdkCalls(h);
      await c.callTool({ name: 'echo', arguments: { text: 'a' } });
      expect(counter.calls).to.deep.equal([D, M]);
      counter.calls.length = 0;
      expect((await c.callTool({ name: 'fail' })).isError).to.equal(true);
      expect(counter.calls).to.deep.equal([D, E, M]);
      counter.restore();
      await c.close();
    } finally {
      exec.disable();
    }
    expect(diag.warn).to.deep.equal([]);
  });

  it('Streamable HTTP: a success is the two durations (one plain duration where fetch bodies are not visible)', async () => {
    const dir = removeOnExit(mkdtempSync(join(tmpdir(), 'mcp-sdk-calls-')));
    const file = join(dir, 'port');
    startProcess('mcp-server-sdk-calls', process.execPath, [SERVER, 'http', file, 'sse'], { lifetimeMs: 60_000 });
    const port = await waitFor('the MCP server port', async () => (existsSync(file) ? Number(readFileSync(file, 'utf8')) || undefined : undefined), 15_000, 50);
    const path = new HttpPath(h.metrics, resolveConfig({}, {}).http!, [new McpProtocol(new McpTracker(h.metrics, 60_000))]);
    path.enable();
    try {
      const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
      const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
      const methods: string[] = [];
      const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), {
        fetch: (url, init) => {
          methods.push(init?.method ?? 'GET');
          return fetch(url, init);
        },
      });
      const c = new Client({ name: 'spec', version: '1.0.0' });
      await c.connect(transport);
      // The session's GET event stream records its own open (once per session): wait for it first.
      await waitFor('the GET stream', async () => (methods.includes('GET') ? true : undefined), 5000, 20);
      // The HTTP path records when the response body ends, which the client may see first: wait for a call's last
      // record (the warm one's, then the counted one's) rather than for a fixed time.
      const expected = FETCH_BODIES ? [D, M] : [D];
      counter = countSdkCalls(h);
      await c.callTool({ name: 'echo', arguments: { text: 'warm' } });
      await eventually(() => expect(counter!.calls.slice(-expected.length)).to.deep.equal(expected));
      counter.calls.length = 0;
      await c.callTool({ name: 'echo', arguments: { text: 'a' } });
      await eventually(() => expect(counter!.calls).to.have.length(expected.length));
      expect(counter.calls).to.deep.equal(expected);
      counter.restore();
      await transport.terminateSession();
      await c.close();
    } finally {
      path.disable();
    }
    expect(diag.warn).to.deep.equal([]);
  });
});
