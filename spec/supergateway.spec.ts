/**
 * supergateway (stdio → Streamable HTTP, stateless) as a real process under
 * the `--require` entry with no configuration, @modelcontextprotocol/
 * server-everything as its stdio server, driven by the MCP SDK's Streamable
 * HTTP client. Zero config must record each HTTP request on a node named
 * after the stdio server.
 *
 * What to expect, from supergateway's stateless gateway
 * (dist/gateways/stdioToStatelessStreamableHttp.js): every POST to /mcp
 * spawns one child (`spawn(stdioCmd, { shell: true, detached: true })`),
 * writes an `initialize` to it before the forwarded message (unless the
 * message is the initialize itself), and answers. GET and DELETE answer 405
 * and spawn nothing. The exec path records one sample per child process
 * (spawn to close), so one sample per POST: the auto-initialize and the
 * forwarded message share their child's sample. How each child ends decides
 * its status, and supergateway ends them two ways:
 * - after a request's reply (`initialize`, `tools/list`, `tools/call`) it
 *   sends SIGTERM to the child's process group (`release()` → `stop()`):
 *   `status="error"`, `error_type="signal"`, which is how the process ended;
 * - after a notification (`notifications/initialized`) it ends the child's
 *   stdin and lets it exit (`hasOneWayMessage` → `child.stdin.end()`): the
 *   server exits 0, `status="success"`.
 */
import { expect } from 'chai';
import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ROOT, childEnv } from './helpers/child';
import { freePorts, startProcess, stopAll, waitFor, waitForHttp200 } from './helpers/procs';
import { find, scrape, type Parsed } from './helpers/prom';

const NODE = process.execPath;
const SERVER = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const NODE_NAME = '@modelcontextprotocol/server-everything';

describe('supergateway stateless stdio→Streamable HTTP under --require, no configuration', function () {
  this.timeout(60_000);
  after(() => stopAll(2000));

  it('records one exec sample per POST on the stdio server\'s package name', async () => {
    const [mcpPort, metricsPort] = await freePorts(2);
    const gateway = startProcess('supergateway', NODE, [
      '--require', resolve(ROOT, 'dist/register-entry.js'),
      'node_modules/supergateway/dist/index.js',
      '--stdio', `"${NODE}" ${SERVER} stdio`,
      '--outputTransport', 'streamableHttp',
      '--port', String(mcpPort),
      '--healthEndpoint', '/healthz',
    ], {
      // Where the endpoint listens is all we set: no node map, no exec option.
      env: childEnv({ OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort) }),
      lifetimeMs: 55_000,
    });
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    await waitForHttp200('the metrics endpoint', metricsUrl, 20_000, gateway);
    await waitForHttp200('supergateway', `http://127.0.0.1:${mcpPort}/healthz`, 20_000, gateway);

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

    // Each child is recorded at its 'close', after supergateway's SIGTERM reached it.
    const node = { node: NODE_NAME, transport: 'exec' };
    const parsed = await waitFor('every child recorded and none in flight', async () => {
      const { parsed: p } = await scrape(metricsUrl);
      const recorded = sumOf(p, 'gateway_request_duration_seconds_count', node);
      const active = sumOf(p, 'gateway_requests_active', node);
      return recorded === sent.POST && active === 0 ? p : undefined;
    }, 15_000, 200);

    // 3 requests ended by SIGTERM, 1 notification ended by stdin EOF (see above).
    expect(series(parsed, 'gateway_request_duration_seconds_count')).to.deep.equal([
      `${NODE_NAME}/exec/error 3`,
      `${NODE_NAME}/exec/success 1`,
    ]);
    expect(series(parsed, 'gateway_request_errors_total', 'error_type')).to.deep.equal([
      `${NODE_NAME}/exec/signal 3`,
    ]);
    expect(sumOf(parsed, 'gateway_requests_active', node)).to.equal(0);
    // No other node: supergateway starts nothing else, and the package's own endpoint is not a call.
    expect([...new Set(find(parsed, 'gateway_request_duration_seconds_count').map(s => s.labels.node))]).to.deep.equal([NODE_NAME]);
  });
});

function sumOf(p: Parsed, name: string, labels: Record<string, string>): number {
  return find(p, name, labels).reduce((a, s) => a + s.value, 0);
}

/** `node/transport/<status or label> value`, sorted. */
function series(p: Parsed, name: string, label = 'status'): string[] {
  return find(p, name).map(s => `${s.labels.node}/${s.labels.transport}/${s.labels[label]} ${s.value}`).sort();
}
