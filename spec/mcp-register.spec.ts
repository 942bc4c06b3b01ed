/**
 * MCP calls through register() (issue #13): the Prometheus names and labels of
 * mcp.client.operation.duration, maxTools, the per-tool /stats view, the MCP
 * series following the live nodes (nodeIdleTtl), `mcp: false`, and measure()
 * scopes. A hand-written JSON-RPC peer (spec/fixtures/jsonrpc-raw.cjs) answers
 * every request with an empty result.
 */
import { expect } from 'chai';
import * as cp from 'node:child_process';
import { resolve } from 'node:path';
import type { GatewayMetricsOptions } from '../lib';
import { ROOT } from './helpers/child';
import { find, scrape, type Parsed } from './helpers/prom';
import { useRegistrations } from './helpers/registration';
import { holdLive } from './helpers/metrics';

const NODE = process.execPath;
const RAW = resolve(ROOT, 'spec/fixtures/jsonrpc-raw.cjs');
const exec = { nodeFor: (_f: string, args: readonly string[]) => (args.includes(RAW) ? 'agent-1' : undefined) };

/** Run the peer, send `requests` (each a [method, tool]) one at a time, each awaited, then end its stdin. */
async function run(requests: [string, string | undefined][], between?: () => Promise<void>): Promise<void> {
  const child = cp.spawn(NODE, [RAW], { stdio: ['pipe', 'pipe', 'ignore'] });
  let buffered = '';
  const answered: string[] = [];
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      answered.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      waiters.splice(0).forEach(w => w());
    }
  });
  let id = 0;
  for (const [method, name] of requests) {
    const want = ++id;
    child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: want, method, ...(name !== undefined ? { params: { name } } : {}) }) + '\n');
    while (answered.length < want) await new Promise<void>(r => waiters.push(r));
    if (between !== undefined) await between();
  }
  child.stdin.end();
  await new Promise(r => child.on('close', r));
}

function mcpCounts(p: Parsed): string[] {
  return find(p, 'mcp_client_operation_duration_seconds_count')
    .map(s => `${s.labels.node} ${s.labels.mcp_method_name} ${s.labels.gen_ai_tool_name ?? '-'} ${s.value}`)
    .sort();
}

describe('MCP calls through register()', function () {
  this.timeout(20_000);
  const regs = useRegistrations();
  const start = (options: GatewayMetricsOptions = {}) => regs.ready({ exec, ...options });

  it('serves mcp_client_operation_duration_seconds with the convention\'s labels and buckets, unprefixed', async () => {
    const otel = await start({ prefix: 'gw' });
    await run([['tools/call', 'search'], ['tools/list', undefined]]);
    const { parsed, text } = await scrape(otel.prometheusUrl!);
    expect(parsed.types.get('mcp_client_operation_duration_seconds')).to.equal('histogram');
    const count = find(parsed, 'mcp_client_operation_duration_seconds_count');
    expect(count.map(s => s.labels).sort((a, b) => (a.mcp_method_name! < b.mcp_method_name! ? -1 : 1))).to.deep.equal([
      {
        node: 'agent-1', transport: 'exec', mcp_method_name: 'tools/call', gen_ai_tool_name: 'search',
        gen_ai_operation_name: 'execute_tool', network_transport: 'pipe', otel_scope_name: 'otel-gateway-metrics', otel_scope_version: count[0]!.labels.otel_scope_version,
      },
      {
        node: 'agent-1', transport: 'exec', mcp_method_name: 'tools/list', network_transport: 'pipe',
        otel_scope_name: 'otel-gateway-metrics', otel_scope_version: count[0]!.labels.otel_scope_version,
      },
    ]);
    const le = find(parsed, 'mcp_client_operation_duration_seconds_bucket', { mcp_method_name: 'tools/list' }).map(s => s.labels.le);
    expect(le).to.deep.equal(['0.01', '0.02', '0.05', '0.1', '0.2', '0.5', '1', '2', '5', '10', '30', '60', '120', '300', '+Inf']);
    // The gateway's own metric carries the prefix; the convention metric does not.
    expect(find(parsed, 'gw_gateway_request_duration_seconds_count', { node: 'agent-1' }).reduce((a, s) => a + s.value, 0)).to.equal(2);
    expect(text).to.not.include('gw_mcp_client');
  });

  it('maxTools: new tool names beyond it are _other, with one warning; /stats lists the tools by name', async () => {
    const otel = await start({ maxTools: 2 });
    await run([['tools/call', 'b'], ['tools/call', 'a'], ['tools/call', 'c'], ['tools/call', 'd'], ['tools/call', 'a'], ['prompts/get', 'p']]);
    const { parsed } = await scrape(otel.prometheusUrl!);
    expect(mcpCounts(parsed)).to.deep.equal([
      'agent-1 prompts/get - 1',
      'agent-1 tools/call _other 2',
      'agent-1 tools/call a 2',
      'agent-1 tools/call b 1',
    ]);
    // The prompt name counted against the same bound: it is _other too.
    expect(find(parsed, 'mcp_client_operation_duration_seconds_count', { mcp_method_name: 'prompts/get' })[0]!.labels.gen_ai_prompt_name).to.equal('_other');
    expect(regs.diag.warn.filter(w => w.includes('maxTools=2'))).to.have.length(1);
    const stats = await otel.stats();
    const series = stats.series.find(s => s.node === 'agent-1' && s.transport === 'exec')!;
    expect(series.requests).to.equal(6);
    expect(series.tools!.map(t => [t.tool, t.requests, t.errors, t.errorRate, t.inFlight])).to.deep.equal([
      ['_other', 2, 0, 0, 0],
      ['a', 2, 0, 0, 0],
      ['b', 1, 0, 0, 0],
    ]);
    expect(Object.keys(series.tools![0]!).sort()).to.deep.equal(['errorRate', 'errors', 'inFlight', 'latency', 'requests', 'tool']);
    expect(series.tools![0]!.latency.p50).to.be.a('number');
  });

  it('the MCP series and the tool bookkeeping go with the node after nodeIdleTtl', async () => {
    const otel = await start({ nodeIdleTtl: 300, maxTools: 1 });
    // A call in flight keeps the node live however slow the scrape; the wait past the TTL is a lower bound.
    let hold = await holdLive(otel.metrics, 'agent-1');
    await run([['tools/call', 'first']]);
    let { parsed } = await scrape(otel.prometheusUrl!);
    expect(mcpCounts(parsed)).to.deep.equal(['agent-1 tools/call first 1']);
    hold();
    await new Promise(r => setTimeout(r, 500));
    ({ parsed } = await scrape(otel.prometheusUrl!));
    expect(mcpCounts(parsed)).to.deep.equal([]);
    // The node came back with no memory of its tools: a new name fits in maxTools=1 again.
    hold = await holdLive(otel.metrics, 'agent-1');
    await run([['tools/call', 'second']]);
    ({ parsed } = await scrape(otel.prometheusUrl!));
    hold();
    expect(mcpCounts(parsed)).to.deep.equal(['agent-1 tools/call second 1']);
    expect(regs.diag.warn.filter(w => w.includes('maxTools'))).to.deep.equal([]);
  });

  it('mcp: false keeps per-process timing and records no convention metric', async () => {
    const otel = await start({ mcp: false });
    await run([['tools/call', 'a'], ['tools/call', 'b']]);
    const { parsed } = await scrape(otel.prometheusUrl!);
    expect(find(parsed, 'mcp_client_operation_duration_seconds_count')).to.deep.equal([]);
    expect(find(parsed, 'gateway_request_duration_seconds_count', { node: 'agent-1' }).map(s => `${s.labels.status} ${s.value}`)).to.deep.equal(['success 1']);
  });

  it('requests written inside measure() are not recorded again', async () => {
    const otel = await start();
    const child = cp.spawn(NODE, [RAW], { stdio: ['pipe', 'pipe', 'ignore'] });
    const answered = new Promise<void>(r => child.stdout.once('data', () => r()));
    await otel.metrics.measure({ node: 'explicit', transport: 'exec' }, async () => {
      child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}\n');
      await answered;
    });
    child.stdin.end();
    await new Promise(r => child.on('close', r));
    const { parsed } = await scrape(otel.prometheusUrl!);
    expect(find(parsed, 'mcp_client_operation_duration_seconds_count')).to.deep.equal([]);
    expect(find(parsed, 'gateway_request_duration_seconds_count').map(s => `${s.labels.node} ${s.value}`).sort()).to.deep.equal(['explicit 1']);
  });
});
