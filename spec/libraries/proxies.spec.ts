/**
 * Proxy gateways built on the libraries people use, as real dependencies:
 * http-proxy and http-proxy-middleware on express (with and without
 * changeOrigin), fastify with @fastify/reply-from. The only config is a node
 * map keyed by the agents' host:port; without changeOrigin the proxies forward
 * the caller's Host header (the gateway's own), so this checks that the node is
 * the real destination. The fixed plan (helpers/plan.ts) runs through the
 * gateway; the client-side timeout is the proxy's own (proxyTimeout, timeout).
 */
import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveConfig } from '../../lib/config/resolve';
import { HttpPath } from '../../lib/paths/http';
import { CLIENT_TIMEOUT_MS, refusedPort, startAgent, type Agent } from '../helpers/agents';
import { harness, type Harness } from '../helpers/metrics';
import { nodesOf, recordedSum, runPlan, seriesOf, type Call } from '../helpers/plan';

/** The test's own client, calling the gateway (not mapped, so not recorded). */
const viaGateway: Call = async url => {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
};

function gatewayUrls(base: string): Parameters<typeof runPlan>[1] {
  return {
    ok: `${base}/a/ok`,
    e503: `${base}/a/503`,
    slow: `${base}/a/slow`,
    stream: `${base}/a/stream`,
    // The route whose proxy has a timeout of CLIENT_TIMEOUT_MS.
    hang: `${base}/t/hang`,
    refused: `${base}/down/ok`,
  };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>(r => server.close(() => r()));
}

describe('proxy gateways (a node map is the only config)', () => {
  let h: Harness;
  let path: HttpPath;
  let agent: Agent;
  let refused: number;
  let unmapped: Agent;
  let unmappedRefused: number;

  /**
   * One call through the gateway to an agent the map leaves out (not
   * recorded): the gateway's first request pays for lazy loading, which the
   * client waits for but the attempt to the node does not include.
   */
  async function warmUp(base: string): Promise<void> {
    expect((await viaGateway(`${base}/warm/ok`, {})).status).to.equal(200);
    // The proxy's error path too (its first run loads and warns, e.g. http-proxy's util._extend deprecation).
    expect((await viaGateway(`${base}/warm-down/ok`, {})).status).to.be.at.least(500);
  }

  beforeEach(async () => {
    h = harness();
    unmapped = await startAgent();
    unmappedRefused = await refusedPort();
    agent = await startAgent();
    refused = await refusedPort();
    path = new HttpPath(h.metrics, resolveConfig({ http: { nodeFor: { [agent.hostPort]: 'agent', [`127.0.0.1:${refused}`]: 'down' } } }, {}).http!);
    path.enable();
  });
  afterEach(async () => {
    path.disable();
    await unmapped.close();
    await agent.close();
    await h.shutdown();
  });

  /** What every proxy must leave: per node, exact counts and types (runPlan checked each call's duration). */
  async function expectRecorded(opts: { http5xxAttempts: number; timeoutType: string }): Promise<void> {
    expect(await nodesOf(h)).to.deep.equal(['agent', 'down']);
    const s = await seriesOf(h, 'agent');
    expect({ success: s.success.count, error: s.error.count, errors: s.errors, active: s.active }).to.deep.equal({
      success: 5,
      error: opts.http5xxAttempts + 1,
      errors: { http_5xx: opts.http5xxAttempts, [opts.timeoutType]: 1 },
      active: 0,
    });
    expect(s.success.sum).to.be.at.least(0.3 + 0.2);
    const d = await seriesOf(h, 'down');
    expect({ success: d.success.count, error: d.error.count, errors: d.errors, active: d.active }).to.deep.equal({
      success: 0, error: 1, errors: { connection_refused: 1 }, active: 0,
    });
  }

  for (const changeOrigin of [false, true]) {
    it(`http-proxy on express, changeOrigin: ${changeOrigin} (proxyTimeout is a timeout)`, async () => {
      const { default: express } = await import('express');
      const { default: httpProxy } = await import('http-proxy');
      const proxy = httpProxy.createProxyServer({});
      proxy.on('error', (_err, _req, res) => {
        const r = res as http.ServerResponse;
        if (!r.headersSent) r.writeHead(502);
        r.end();
      });
      const hostHeaders: (string | undefined)[] = [];
      proxy.on('proxyReq', proxyReq => hostHeaders.push(proxyReq.getHeader('host') as string | undefined));
      const app = express();
      app.use('/warm', (req, res) => proxy.web(req, res, { target: unmapped.base, changeOrigin }));
      app.use('/warm-down', (req, res) => proxy.web(req, res, { target: `http://127.0.0.1:${unmappedRefused}`, changeOrigin }));
      app.use('/a', (req, res) => proxy.web(req, res, { target: agent.base, changeOrigin }));
      app.use('/t', (req, res) => proxy.web(req, res, { target: agent.base, changeOrigin, proxyTimeout: CLIENT_TIMEOUT_MS }));
      app.use('/down', (req, res) => proxy.web(req, res, { target: `http://127.0.0.1:${refused}`, changeOrigin }));
      const server = http.createServer(app);
      const base = await listen(server);
      try {
        await warmUp(base);
        const waited = await runPlan(viaGateway, gatewayUrls(base), CLIENT_TIMEOUT_MS, { recorded: recordedSum(h) });
        expect(waited.timeoutError).to.equal(502);
        // Without changeOrigin the agent got the gateway's own Host header (the last call went to the agent).
        expect(hostHeaders.at(-1)).to.equal(changeOrigin ? agent.hostPort : new URL(base).host);
        await expectRecorded({ http5xxAttempts: 2, timeoutType: 'timeout' });
      } finally {
        proxy.close();
        await close(server);
      }
    });

    it(`http-proxy-middleware on express, changeOrigin: ${changeOrigin}`, async () => {
      const { default: express } = await import('express');
      const { createProxyMiddleware } = await import('http-proxy-middleware');
      const app = express();
      app.use('/warm', createProxyMiddleware({ target: unmapped.base, changeOrigin }));
      app.use('/warm-down', createProxyMiddleware({ target: `http://127.0.0.1:${unmappedRefused}`, changeOrigin }));
      app.use('/a', createProxyMiddleware({ target: agent.base, changeOrigin }));
      app.use('/t', createProxyMiddleware({ target: agent.base, changeOrigin, proxyTimeout: CLIENT_TIMEOUT_MS }));
      app.use('/down', createProxyMiddleware({ target: `http://127.0.0.1:${refused}`, changeOrigin }));
      const server = http.createServer(app);
      const base = await listen(server);
      try {
        await warmUp(base);
        const waited = await runPlan(viaGateway, gatewayUrls(base), CLIENT_TIMEOUT_MS, { recorded: recordedSum(h) });
        // Its default error handler answers 504 to both (ECONNRESET, ECONNREFUSED).
        expect([waited.timeoutError, waited.refusedError]).to.deep.equal([504, 504]);
        await expectRecorded({ http5xxAttempts: 2, timeoutType: 'timeout' });
      } finally {
        await close(server);
      }
    });
  }

  it('fastify with @fastify/reply-from (undici; one sample per retried attempt)', async () => {
    const { default: Fastify } = await import('fastify');
    const { default: replyFrom } = await import('@fastify/reply-from');
    const app = Fastify();
    await app.register(replyFrom);
    app.get('/warm/*', (req, reply) => reply.from(`${unmapped.base}${req.url.slice(5)}`));
    app.get('/warm-down/*', (req, reply) => reply.from(`http://127.0.0.1:${unmappedRefused}${req.url.slice(10)}`));
    app.get('/a/*', (req, reply) => reply.from(`${agent.base}${req.url.slice(2)}`));
    app.get('/t/*', (req, reply) => reply.from(`${agent.base}${req.url.slice(2)}`, { timeout: CLIENT_TIMEOUT_MS }));
    app.get('/down/*', (req, reply) => reply.from(`http://127.0.0.1:${refused}${req.url.slice(5)}`));
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      await warmUp(base);
      const waited = await runPlan(viaGateway, gatewayUrls(base), CLIENT_TIMEOUT_MS, { recorded: recordedSum(h), retries503: true });
      expect(waited.timeoutError).to.equal(504);
      // reply-from retries a GET answered 503 up to 10 times (maxRetriesOn503):
      // 11 attempts per call, each its own sample.
      expect(agent.hits.get('/503')).to.equal(22);
      await expectRecorded({ http5xxAttempts: 22, timeoutType: 'timeout' });
    } finally {
      await app.close();
    }
  });
});
