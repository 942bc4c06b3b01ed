/**
 * supergateway (stdio → Streamable HTTP) as a real process under the
 * `--require` entry with no configuration, @modelcontextprotocol/
 * server-everything as its stdio server, driven by the MCP SDK's Streamable
 * HTTP client. Its stdio children speak JSON-RPC, so each request supergateway
 * writes to a child is one call on a node named after the stdio server, timed
 * to the child's answer; the children's lifetimes are no samples.
 *
 * What to expect, from supergateway's stateless gateway
 * (dist/gateways/stdioToStatelessStreamableHttp.js): every POST to /mcp
 * spawns one child (`spawn(stdioCmd, { shell: true, detached: true })`) and
 * writes an `initialize` request to it before the forwarded message (unless
 * the message is the initialize itself), then `notifications/initialized`,
 * then the message. GET and DELETE answer 405 and spawn nothing. Each child is
 * ended once its POST is answered: SIGTERM to its process group after a
 * request's reply, stdin EOF after a notification. Neither is an error: no
 * request is open by then.
 *
 * The stateful gateway (`--stateful`) keeps one child per session, so the
 * session's requests are calls on one child and nothing is in flight between them.
 */
import { expect } from 'chai';
import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ROOT, childEnv } from './helpers/child';
import { childPids, freePorts, startProcess, stopAll, waitFor, waitForHttp200 } from './helpers/procs';
import { find, scrape, type Parsed } from './helpers/prom';

const NODE = process.execPath;
const SERVER = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const NODE_NAME = '@modelcontextprotocol/server-everything';

/**
 * supergateway (stdio → Streamable HTTP) over server-everything, with the
 * package loaded by --require and only the metrics endpoint's address set;
 * resolves once the endpoint and supergateway's health check answer.
 */
async function startSupergateway(name: string, extra: string[]): Promise<{ mcpPort: number; metricsUrl: string; pid: number }> {
  const [mcpPort, metricsPort] = await freePorts(2);
  const gateway = startProcess(name, NODE, [
    '--require', resolve(ROOT, 'dist/register-entry.js'),
    'node_modules/supergateway/dist/index.js',
    '--stdio', `"${NODE}" ${SERVER} stdio`,
    '--outputTransport', 'streamableHttp',
    ...extra,
    '--port', String(mcpPort!),
    '--healthEndpoint', '/healthz',
  ], {
    env: childEnv({ OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) }),
    lifetimeMs: 55_000,
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await waitForHttp200('the metrics endpoint', metricsUrl, 20_000, gateway);
  await waitForHttp200('supergateway', `http://127.0.0.1:${mcpPort}/healthz`, 20_000, gateway);
  // The supergateway process itself (started under `timeout` when there is one): the stdio servers are its children.
  return { mcpPort: mcpPort!, metricsUrl, pid: childPids(gateway.child.pid!)[0] ?? gateway.child.pid! };
}

describe('supergateway stateless stdio→Streamable HTTP under --require, no configuration', function () {
  this.timeout(60_000);
  after(() => stopAll(2000));

  it('times each request supergateway writes to a child, on the stdio server\'s package name; no sample per child', async () => {
    const { mcpPort, metricsUrl } = await startSupergateway('supergateway', []);

    // Count what the client sends, by method, through the transport's own fetch hook.
    const sent: Record<string, number> = {};
    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${mcpPort}/mcp`), {
      fetch: (url, init) => {
        const method = init?.method ?? 'GET';
        sent[method] = (sent[method] ?? 0) + 1;
        return fetch(url, init);
      },
    });
    const client = new Client({ name: 'spec', version: '1.0.0' });
    await client.connect(transport);
    const tools = await client.listTools();
    expect(tools.tools.map(t => t.name)).to.include('echo');
    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    expect(JSON.stringify(echoed.content)).to.include('hi');
    await client.close();

    // initialize, notifications/initialized, tools/list, tools/call: four POSTs.
    // The SDK also tries the GET event stream once (405 from a stateless gateway).
    expect(sent.POST).to.equal(4);

    // initialize (the client's), then one auto-initialize per later POST, tools/list, tools/call.
    const node = { node: NODE_NAME, transport: 'exec' };
    const parsed = await waitFor('every call recorded and none in flight', async () => {
      const { parsed: p } = await scrape(metricsUrl);
      const recorded = sumOf(p, 'gateway_request_duration_seconds_count', node);
      const active = sumOf(p, 'gateway_requests_active', node);
      return recorded === 6 && active === 0 ? p : undefined;
    }, 15_000, 200);
    expect(series(parsed, 'gateway_request_duration_seconds_count')).to.deep.equal([`${NODE_NAME}/exec/success 6`]);
    expect(find(parsed, 'gateway_request_errors_total')).to.deep.equal([]);
    expect(mcpCalls(parsed)).to.deep.equal([
      `${NODE_NAME} initialize - - 4`,
      `${NODE_NAME} tools/call echo - 1`,
      `${NODE_NAME} tools/list - - 1`,
    ]);
    expect(sumOf(parsed, 'gateway_requests_active', node)).to.equal(0);
    // No other node: supergateway starts nothing else, and the package's own endpoint is not a call.
    expect([...new Set(find(parsed, 'gateway_request_duration_seconds_count').map(s => s.labels.node))]).to.deep.equal([NODE_NAME]);
  });
});

describe('supergateway --stateful stdio→Streamable HTTP under --require, no configuration', function () {
  this.timeout(60_000);
  after(() => stopAll(2000));

  it('times each request of the session on its one child; nothing in flight while idle, the child\'s life no sample', async () => {
    const { mcpPort, metricsUrl, pid } = await startSupergateway('supergateway-stateful', ['--stateful']);

    const transport = new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${mcpPort}/mcp`));
    const client = new Client({ name: 'spec', version: '1.0.0' });
    await client.connect(transport);
    await client.listTools();
    for (const message of ['a', 'b']) await client.callTool({ name: 'echo', arguments: { message } });
    const unknown = await client.callTool({ name: 'no-such-tool' }).then(r => r, (e: { code?: number }) => e);

    const node = { node: NODE_NAME, transport: 'exec' };
    const idle = await waitFor('the session idle and its calls recorded', async () => {
      const { parsed: p } = await scrape(metricsUrl);
      return sumOf(p, 'gateway_request_duration_seconds_count', node) === 5 ? p : undefined;
    }, 15_000, 200);
    // The child lives on, and holds nothing in flight.
    expect(sumOf(idle, 'gateway_requests_active', node)).to.equal(0);
    const calls = mcpCalls(idle);
    expect(calls.filter(c => !c.includes('no-such-tool'))).to.deep.equal([
      `${NODE_NAME} initialize - - 1`,
      `${NODE_NAME} tools/call echo - 2`,
      `${NODE_NAME} tools/list - - 1`,
    ]);
    // What server-everything really answers for an unknown tool, as the client saw it.
    const seen = 'code' in (unknown as object) && typeof (unknown as { code?: unknown }).code === 'number'
      ? String((unknown as { code: number }).code)
      : (unknown as { isError?: boolean }).isError === true ? 'tool_error' : '-';
    expect(calls.filter(c => c.includes('no-such-tool'))).to.deep.equal([`${NODE_NAME} tools/call no-such-tool ${seen} 1`]);
    expect(seen).to.not.equal('-');

    expect(childPids(pid)).to.have.length.above(0);
    await transport.terminateSession();
    await client.close();
    // The session's end stops the child (supergateway reaps it: it leaves its process list); then still no sample for
    // its lifetime, no error.
    await waitFor('the session\'s child gone', async () => (childPids(pid).length === 0 ? true : undefined), 15_000, 20);
    const { parsed } = await scrape(metricsUrl);
    expect(sumOf(parsed, 'gateway_request_duration_seconds_count', node)).to.equal(5);
    expect(sumOf(parsed, 'gateway_requests_active', node)).to.equal(0);
    expect(find(parsed, 'gateway_request_errors_total').map(s => s.labels.error_type)).to.deep.equal(seen === '-' ? [] : [seen]);
  });
});

/** `node method tool error_type count` of mcp_client_operation_duration_seconds, sorted. */
function mcpCalls(p: Parsed): string[] {
  return find(p, 'mcp_client_operation_duration_seconds_count')
    .map(s => `${s.labels.node} ${s.labels.mcp_method_name} ${s.labels.gen_ai_tool_name ?? '-'} ${s.labels.error_type ?? '-'} ${s.value}`)
    .sort();
}

function sumOf(p: Parsed, name: string, labels: Record<string, string>): number {
  return find(p, name, labels).reduce((a, s) => a + s.value, 0);
}

/** `node/transport/<status or label> value`, sorted. */
function series(p: Parsed, name: string, label = 'status'): string[] {
  return find(p, name).map(s => `${s.labels.node}/${s.labels.transport}/${s.labels[label]} ${s.value}`).sort();
}
