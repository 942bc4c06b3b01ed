import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { childEnv, startNode } from './helpers/child';
import { freePort, startProcess, stopAll, type Proc } from './helpers/procs';
import { one, scrape } from './helpers/prom';

describe('examples/mount (each runs as a real process and serves /metrics on its own port)', function () {
  this.timeout(30_000);
  for (const [file, path] of [['http-server.js', '/internal/metrics'], ['express.js', '/ops/metrics'], ['fastify.js', '/metrics']] as const) {
    it(`examples/mount/${file}`, async () => {
      const app = startNode([`examples/mount/${file}`], { PORT: '0', GATEWAY_METRICS_RUNTIME_METRICS: 'false' });
      try {
        const url = (await app.line(/^http:\/\//)).trim().replace('localhost', '127.0.0.1').replace('[::1]', '127.0.0.1');
        expect(new URL(url).pathname).to.equal(path);
        const { status, headers, parsed } = await scrape(url);
        expect(status).to.equal(200);
        expect(headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
        expect(one(parsed, 'target_info').labels.service_name).to.match(/^mounted-/);
        expect(parsed.types.get('process_start_time_seconds')).to.equal('gauge');
        if (file === 'express.js') {
          const page = await fetch(url.replace('/ops/metrics', '/ops/status'));
          expect(page.status).to.equal(200);
          expect(page.headers.get('content-type')).to.equal('text/html; charset=utf-8');
          expect(await page.text()).to.include('"statsUrl":"stats"');
          expect((await fetch(url.replace('/ops/metrics', '/ops/stats'))).status).to.equal(200);
        }
      } finally {
        app.child.kill('SIGTERM');
        await app.exited;
      }
    });
  }
});

describe('examples/gateway as an MCP gateway (real MCP client → the gateway\'s /mcp → MCP agents over Streamable HTTP and kubectl-exec stdio)', function () {
  this.timeout(60_000);
  let procs: Proc[] = [];
  let mcpUrl: string;

  before(async function () {
    this.timeout(60_000);
    const agent = startProcess('mcp-agent', process.execPath, ['examples/gateway/mcp-agent.js', '--http', '--port', '0', '--name', 'node-m', '--slow', 'summarize=150'], { env: childEnv({}), lifetimeMs: 60_000 });
    procs.push(agent);
    const { port } = JSON.parse(await agent.line(/"port"/)) as { port: number };
    const nodes = [
      { name: 'node-m', http: `127.0.0.1:${port}`, pod: 'agent-m', mcp: true },
      { name: 'node-n', http: `127.0.0.1:${await freePort()}`, pod: 'agent-n', mcp: true }, // HTTP down → stdio
    ];
    // The gateway without metrics: this checks the example's routing, whatever the package records.
    const gateway = startProcess('gateway', process.execPath, ['examples/gateway/gateway.js', '--nodes', JSON.stringify(nodes), '--port', '0', '--metrics', 'none'], {
      env: childEnv({ DEMO_PODS: JSON.stringify({ 'agent-m': { name: 'node-m' }, 'agent-n': { name: 'node-n', slow: { search: 50 } } }) }),
      lifetimeMs: 60_000,
    });
    procs.push(gateway);
    const ready = JSON.parse(await gateway.line(/"gateway"/, 30_000)) as { gateway: string };
    mcpUrl = new URL('/mcp', ready.gateway).href;
  });

  after(async () => {
    await stopAll();
    expect(procs.filter(p => p.groupAlive()).map(p => p.name)).to.deep.equal([]);
    procs = [];
  });

  it('lists the agents\' tools, routes each tools/call to the named node (HTTP, or the stdio agent when HTTP is down), passes tool errors through, and refuses an unknown node', async () => {
    const client = new Client({ name: 'examples-spec', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl)));
    try {
      expect((await client.listTools()).tools.map(t => t.name)).to.deep.equal(['search', 'fetch_doc', 'summarize']);
      const text = (r: Awaited<ReturnType<typeof client.callTool>>) => (r.content as { type: string; text: string }[]).map(c => c.text).join('');
      const t0 = Date.now();
      const slow = await client.callTool({ name: 'summarize', arguments: { node: 'node-m', text: 'abcd' } });
      expect(Date.now() - t0).to.be.at.least(150);
      expect(slow.isError).to.equal(undefined);
      expect(text(slow)).to.equal('node-m: summary of 4 characters (http)');
      // node-n's HTTP agent is down: the persistent stdio agent answers, the same child for every call.
      for (let i = 0; i < 3; i++) expect(text(await client.callTool({ name: 'search', arguments: { node: 'node-n', query: 'q' } }))).to.equal('node-n: 3 documents match "q": doc-1, doc-2, doc-3 (exec)');
      const failed = await client.callTool({ name: 'fetch_doc', arguments: { node: 'node-m', id: 'doc-1', fail: true } });
      expect(failed.isError).to.equal(true);
      expect(text(failed)).to.equal('node-m (http): fetch_doc failed on purpose');
      const err = await client.callTool({ name: 'search', arguments: { node: 'node-x', query: 'q' } }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(Error);
      expect((err as { code?: number }).code).to.equal(-32603);
      expect((err as Error).message).to.include('node-x: unknown node node-x');
    } finally {
      await client.close();
    }
    // One kubectl stdio child for node-n's three calls (kept: MCP hosts keep their stdio servers).
    const pgid = procs.find(p => p.name === 'gateway')!.pgid;
    const group = execFileSync('ps', ['-e', '-o', 'pgid=,args='], { encoding: 'utf8' }).split('\n').filter(l => Number(l.trim().split(' ')[0]) === pgid);
    expect(group.filter(c => / exec -n demo -i agent-n -- mcp-agent --stdio$/.test(c)), group.join('\n')).to.have.length(1);
  });
});
