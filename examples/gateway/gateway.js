#!/usr/bin/env node
// The example gateway: ProxyHandler → Router → node agents (HTTP, exec fallback),
// with otel-gateway-metrics registered in code.
//
//   node examples/gateway/gateway.js --nodes '<json>' [--port 8080] [--metrics otel|prom-client|none]
//                                    [--metrics-port N] [--synthetic-series N] [--health-interval ms]
//
// --nodes: [{ "name": "node-a", "http": "127.0.0.1:7001", "pod": "agent-a", "mcp": true }, …]
//   mcp: the node runs the MCP agent (mcp-agent.js): tools/call goes through an
//   MCP client, Streamable HTTP first, a persistent stdio agent via kubectl
//   exec when HTTP is unreachable (router.js). Without it, plain JSON-RPC.
// Prints one JSON line when ready: { "gateway": url, "metrics": url }. The
// gateway takes JSON-RPC POSTs on /rpc (params.node names the node), and MCP
// clients on /mcp (arguments.node of each tools/call; proxy-handler.js).
// Plugin settings not given here come from the OTEL_* / GATEWAY_METRICS_* env.
//
// --synthetic-series N (benchmarks, bench/throughput.js): before serving,
// record one attempt into each of N extra request-duration histogram series
// (N/4 made-up nodes × http, exec × success, error), so that /metrics has a
// realistic size. In otel mode this also raises maxNodes to fit them and sets
// nodeIdleTtl to 0 (never forgotten), and the plugin keeps what it keeps for
// any such series (an in-flight gauge per node × transport, an error counter per
// erroring node × transport). In prom-client mode the same N series go into its
// histogram.
'use strict';
const http = require('node:http');
const { Router } = require('./router');
const { ProxyHandler } = require('./proxy-handler');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

async function main() {
  const nodes = JSON.parse(arg('nodes', process.env.DEMO_NODES || '[]'));
  const mode = arg('metrics', 'otel');
  const syntheticSeries = Number(arg('synthetic-series', '0'));
  let onFallback = () => {};
  let metricsUrl = null;
  let shutdownMetrics = async () => {};

  if (mode === 'otel') {
    const { register, kubectlExecNodeFor } = require('otel-gateway-metrics');
    const hostPortToNode = Object.fromEntries(nodes.filter(n => n.http).map(n => [n.http, n.name]));
    const podToNode = Object.fromEntries(nodes.map(n => [n.pod, n.name]));
    const metricsPort = arg('metrics-port', undefined);
    const otel = register({
      serviceName: 'example-gateway',
      http: { nodeFor: hostPortToNode },
      exec: { nodeFor: kubectlExecNodeFor(podToNode) },
      ...(metricsPort !== undefined ? { prometheus: { port: Number(metricsPort) } } : {}),
      ...(syntheticSeries > 0 ? { maxNodes: Math.max(1000, nodes.length + Math.ceil(syntheticSeries / 4)), nodeIdleTtl: 0 } : {}),
    });
    await otel.ready;
    // Node health from the HTTP agents' answers (exec-only nodes count as up).
    // Health checks are measured, so the automatic HTTP path does not count them
    // as gateway calls. --health-interval 0 turns them off.
    const healthInterval = Number(arg('health-interval', '5000'));
    for (const n of nodes) if (!n.http || healthInterval === 0) otel.metrics.setNodeUp(n.name, true);
    if (healthInterval > 0) {
      otel.startHealthChecks({
        nodes: nodes.filter(n => n.http).map(n => n.name),
        intervalMs: healthInterval,
        timeoutMs: 2000,
        check: name => healthCheck(nodes.find(n => n.name === name)),
      });
    }
    forEachSyntheticSeries(syntheticSeries, (node, transport, status, durationSeconds) =>
      otel.metrics.record({ node, transport, status, durationSeconds }));
    onFallback = (node, from, to) => otel.metrics.recordFallback({ node, from, to });
    metricsUrl = otel.prometheusUrl ?? null;
    shutdownMetrics = () => otel.shutdown();
  } else if (mode === 'prom-client') {
    ({ onFallback, metricsUrl, shutdownMetrics } = await promClientInstrumentation(nodes, Number(arg('metrics-port', '9464'))));
    forEachSyntheticSeries(syntheticSeries, (node, transport, status, durationSeconds) =>
      promHistogram.observe({ node, transport, status }, durationSeconds));
  }

  const router = new Router({ nodes, onFallback });
  await router.connectAll(); // MCP nodes: one Streamable HTTP session each, before the first call
  if (mode === 'prom-client') instrumentRouterWithPromClient(router);
  const handler = new ProxyHandler(router);
  const server = http.createServer(handler.handle);
  server.keepAliveTimeout = 30_000;
  await new Promise(r => server.listen(Number(arg('port', '8080')), arg('host', '127.0.0.1'), r));
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ gateway: `http://127.0.0.1:${port}/rpc`, metrics: metricsUrl })}\n`);

  const stop = async () => {
    server.close();
    server.closeIdleConnections();
    // Close the MCP sessions before the metrics flush, so that what they do on close is in it.
    await router.close();
    await shutdownMetrics();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** GET the agent's /healthz; anything but a 2xx answer is unhealthy. */
function healthCheck(node) {
  return new Promise(resolve => {
    const req = http.get(`http://${node.http}/healthz`, { timeout: 2000 }, res => {
      res.resume();
      resolve(res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** N synthetic series: synthetic-00000 … × http, exec × success, error, one attempt each. */
function forEachSyntheticSeries(n, record) {
  for (let i = 0; i * 4 < n; i++) {
    const node = `synthetic-${String(i).padStart(5, '0')}`;
    let k = 0;
    for (const transport of ['http', 'exec']) {
      for (const status of ['success', 'error']) {
        if (i * 4 + k++ < n) record(node, transport, status, 0.001 * (1 + ((i * 4 + k) % 5000)));
      }
    }
  }
}

// ---- the prom-client equivalent, for the throughput benchmark --------------
let promHistogram;
async function promClientInstrumentation(nodes, metricsPort) {
  const client = require('prom-client');
  const registry = new client.Registry();
  promHistogram = new client.Histogram({
    name: 'gateway_request_duration_seconds', help: 'Duration of each attempt to reach a backend node over one transport.',
    labelNames: ['node', 'transport', 'status'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
  });
  const fallbacks = new client.Counter({ name: 'gateway_fallbacks_total', help: 'Fallbacks.', labelNames: ['node', 'from_transport', 'to_transport'], registers: [registry] });
  const server = http.createServer(async (req, res) => {
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
  });
  await new Promise(r => server.listen(metricsPort, '127.0.0.1', r));
  return {
    onFallback: (node, from, to) => fallbacks.inc({ node, from_transport: from, to_transport: to }),
    metricsUrl: `http://127.0.0.1:${server.address().port}/metrics`,
    shutdownMetrics: async () => server.close(),
  };
}

function instrumentRouterWithPromClient(router) {
  for (const [method, transport] of [['routeViaHTTP', 'http'], ['routeViaExec', 'exec']]) {
    const original = router[method].bind(router);
    router[method] = async (node, rpc) => {
      const end = promHistogram.startTimer({ node: node.name, transport });
      try {
        const out = await original(node, rpc);
        end({ status: out.status >= 500 ? 'error' : 'success' });
        return out;
      } catch (err) {
        end({ status: 'error' });
        throw err;
      }
    };
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
