/**
 * The MCP SDK's Streamable HTTP client as a real dependency (zero config): its
 * POSTs are calls timed to the end of their answers, the GET event stream it
 * keeps open for the session is one opened stream (not a session-long call, not
 * in flight), and close() — which aborts that stream — records no error.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { semconv } from '../../lib';
import { resolveConfig } from '../../lib/config/resolve';
import { HttpPath } from '../../lib/paths/http';
import { eventually } from '../helpers/eventually';
import { harness, histogram, point, points, total, type Harness } from '../helpers/metrics';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const S = semconv.METRIC_STREAMS_OPENED;

describe('MCP SDK Streamable HTTP client (zero config)', () => {
  let h: Harness;
  let path: HttpPath;
  let server: http.Server;
  let base: string;
  const received: string[] = [];

  beforeEach(async () => {
    received.length = 0;
    const { default: express } = await import('express');
    const { Server } = await import('@modelcontextprotocol/sdk/server/index.js');
    const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
    const { CallToolRequestSchema, ListToolsRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const mcp = new Server({ name: 'echo', version: '1.0.0' }, { capabilities: { tools: {} } });
    mcp.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } }],
    }));
    mcp.setRequestHandler(CallToolRequestSchema, async req => {
      await sleep(50);
      return { content: [{ type: 'text', text: String(req.params.arguments?.text) }] };
    });
    // Stateful: the client then opens its GET event stream for the session.
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID() });
    await mcp.connect(transport);
    const app = express();
    app.use(express.json());
    app.all('/mcp', (req, res) => {
      received.push(req.method);
      void transport.handleRequest(req, res, req.body);
    });
    server = http.createServer(app);
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    h = harness();
    path = new HttpPath(h.metrics, resolveConfig({}, {}).http!);
    path.enable();
  });
  afterEach(async () => {
    path.disable();
    server.closeAllConnections();
    await new Promise<void>(r => server.close(() => r()));
    await h.shutdown();
  });

  it('POSTs are calls, the session GET stream is one opened stream, close() is not an error', async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 'spec', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
    await client.connect(transport);
    for (const text of ['a', 'b']) {
      const r = await client.callTool({ name: 'echo', arguments: { text } });
      expect(r.content).to.deep.equal([{ type: 'text', text }]);
    }
    const node = `127.0.0.1:${new URL(base).port}`;
    // Wait until the client's GET stream has opened (the server saw it, and the HTTP path recorded its open).
    let rm = await eventually(async () => {
      expect(received).to.include('GET');
      const r = await h.collect();
      expect(point(r, S, { node }).value).to.equal(1);
      return r;
    });
    // The session stream is open now, and holds nothing in flight.
    expect(point(rm, A, { node }).value).to.equal(0);
    await client.close();
    const posts = received.filter(m => m === 'POST').length;
    // The stream's abort reaches the HTTP path on its own schedule: wait until every POST is recorded, none in flight.
    rm = await eventually(async () => {
      const r = await h.collect();
      expect(total(r, D)).to.equal(posts);
      expect(point(r, A, { node }).value).to.equal(0);
      return r;
    });
    expect(received.filter(m => m === 'GET')).to.have.length(1);
    expect(posts).to.be.at.least(4); // initialize, notifications/initialized, two tools/call
    // Every POST is one call, a success; the GET stream is no call; nothing is an error.
    expect(histogram(rm, D, { node, status: 'success' }).count).to.equal(posts);
    expect(total(rm, D)).to.equal(posts);
    expect(points(rm, E)).to.deep.equal([]);
    expect(point(rm, S, { node }).value).to.equal(1);
    expect(point(rm, A, { node }).value).to.equal(0);
    // The two tool calls answered after 50 ms each: timed to the end of their answers.
    expect(histogram(rm, D, { node }).sum).to.be.at.least(0.1);
  });
});
