#!/usr/bin/env node
// npm run demo: an MCP gateway. Four agent nodes (real MCP servers, the
// example gateway/mcp-agent.js), the example gateway with otel-gateway-metrics,
// and a bounded load of tools/call requests. Prints the status page URL first,
// then the /metrics URL, then every few seconds a per-node table read from the
// scraped gateway_request_duration_seconds and a per-node, per-tool table read
// from mcp_client_operation_duration_seconds. Stops on Ctrl-C or after --duration.
//
//   node examples/demo.js [--duration 30] [--rate 20] [--metrics-port 9464] [--json]
//
// Every node serves the tools search, fetch_doc and summarize; each node's calls
// take them in turn. The gateway routes each call over Streamable HTTP (one MCP
// session per node) to the node's agent. node-a and node-b are fast (node-b's
// tools fail on every 10th call with isError), node-c's summarize is slow
// (about 1.2 s; its other tools are fast), and node-d's HTTP agent is down, so
// its calls fall back to `kubectl exec -i … -- mcp-agent --stdio`: one
// persistent child process per node speaking MCP on stdio.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const { existsSync, statSync, readdirSync } = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const DURATION_S = arg('duration') === undefined ? Infinity : Number(arg('duration'));
const RATE = Number(arg('rate', '20'));
const JSON_OUT = process.argv.includes('--json');
const REPORT_EVERY_MS = Number(arg('report-every', '5000'));
const log = (...a) => { if (!JSON_OUT) console.log(...a); };

const NODES = [
  { name: 'node-a', pod: 'agent-a', delayMs: 5, weight: 30 },
  { name: 'node-b', pod: 'agent-b', delayMs: 10, weight: 30, failEvery: 10 },
  { name: 'node-c', pod: 'agent-c', delayMs: 5, slow: { summarize: 1200 }, weight: 8 },
  { name: 'node-d', pod: 'agent-d', delayMs: 5, weight: 15, httpDown: true },
];
const TOOLS = ['search', 'fetch_doc', 'summarize'];
const slowArg = n => Object.entries(n.slow ?? {}).map(([tool, ms]) => `${tool}=${ms}`).join(',');

function ensureBuilt() {
  const dist = path.join(ROOT, 'dist', 'index.js');
  const newest = dir => Math.max(...readdirSync(dir, { withFileTypes: true }).map(e =>
    e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs));
  if (!existsSync(dist) || statSync(dist).mtimeMs < newest(path.join(ROOT, 'lib'))) {
    log('building otel-gateway-metrics …');
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: JSON_OUT ? 'ignore' : 'inherit' });
  }
}

function startProcess(args, env = {}) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', d => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(buf.slice(0, nl)));
    });
    child.on('exit', code => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  return { child, firstLine };
}

async function freePort() {
  const s = net.createServer();
  await new Promise(r => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise(r => s.close(r));
  return port;
}

// ---- reading the scrape -----------------------------------------------------
function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    out.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

function summarize(samples, bucketQuantile) {
  const rows = new Map();
  const row = (node, transport) => {
    const k = `${node}\u0000${transport}`;
    if (!rows.has(k)) rows.set(k, { node, transport, success: 0, error: 0, buckets: new Map() });
    return rows.get(k);
  };
  const fallbacks = {};
  const up = {};
  // Per node and tool: tools/call requests on the MCP convention metric, all transports.
  const toolRows = new Map();
  const toolRow = (node, tool) => {
    const k = `${node}\u0000${tool}`;
    if (!toolRows.has(k)) toolRows.set(k, { node, tool, transports: new Set(), requests: 0, errors: 0, buckets: new Map() });
    return toolRows.get(k);
  };
  for (const s of samples) {
    if (s.name.startsWith('mcp_client_operation_duration_seconds_') && s.labels.mcp_method_name === 'tools/call') {
      const r = toolRow(s.labels.node, s.labels.gen_ai_tool_name);
      r.transports.add(s.labels.transport);
      if (s.name.endsWith('_count')) {
        r.requests += s.value;
        if (s.labels.error_type !== undefined) r.errors += s.value;
      } else if (s.name.endsWith('_bucket')) {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        r.buckets.set(le, (r.buckets.get(le) ?? 0) + s.value);
      }
    } else if (s.name === 'gateway_request_duration_seconds_count') row(s.labels.node, s.labels.transport)[s.labels.status] += s.value;
    else if (s.name === 'gateway_request_duration_seconds_bucket') {
      const b = row(s.labels.node, s.labels.transport).buckets;
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      b.set(le, (b.get(le) ?? 0) + s.value);
    } else if (s.name === 'gateway_fallbacks_total') fallbacks[s.labels.node] = (fallbacks[s.labels.node] ?? 0) + s.value;
    else if (s.name === 'gateway_node_up') up[s.labels.node] = s.value;
  }
  // Per node (all transports): the quantiles the PromQL `sum by (le, node)` gives.
  const byNode = new Map();
  for (const r of rows.values()) {
    const n = byNode.get(r.node) ?? new Map();
    for (const [le, c] of r.buckets) n.set(le, (n.get(le) ?? 0) + c);
    byNode.set(r.node, n);
  }
  const q = (buckets, p) => {
    const les = [...buckets.keys()].sort((a, b) => a - b);
    const v = bucketQuantile(p, les.slice(0, -1), les.map(le => buckets.get(le)));
    return Number.isFinite(v) ? v : null;
  };
  return {
    rows: [...rows.values()].sort((a, b) => a.node.localeCompare(b.node) || a.transport.localeCompare(b.transport))
      .map(r => ({ node: r.node, transport: r.transport, requests: r.success + r.error, errors: r.error, p50: q(r.buckets, 0.5), p95: q(r.buckets, 0.95) })),
    p95ByNode: Object.fromEntries([...byNode].map(([node, b]) => [node, q(b, 0.95)])),
    tools: [...toolRows.values()].sort((a, b) => a.node.localeCompare(b.node) || a.tool.localeCompare(b.tool))
      .map(r => ({ node: r.node, tool: r.tool, transports: [...r.transports].sort(), requests: r.requests, errors: r.errors,
        p50: q(r.buckets, 0.5), p95: q(r.buckets, 0.95), p99: q(r.buckets, 0.99) })),
    fallbacks,
    up,
  };
}

const columns = lines => {
  const widths = lines[0].map((_, i) => Math.max(...lines.map(l => l[i].length)));
  return lines.map(l => l.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
};

function table(summary) {
  const fmt = v => (v === null ? '-' : v < 1 ? `${(v * 1000).toFixed(0)} ms` : `${v.toFixed(2)} s`);
  const pct = (errors, requests) => (requests ? `${((100 * errors) / requests).toFixed(1)}` : '-');
  const lines = [['node', 'transport', 'requests', 'errors', 'error %', 'p50', 'p95', 'fallbacks', 'up']];
  for (const r of summary.rows) {
    lines.push([r.node, r.transport, String(r.requests), String(r.errors),
      pct(r.errors, r.requests), fmt(r.p50), fmt(r.p95),
      r.transport === 'http' ? String(summary.fallbacks[r.node] ?? 0) : '',
      summary.up[r.node] === undefined ? '-' : String(summary.up[r.node])]);
  }
  // Per node and tool (tools/call on mcp_client_operation_duration_seconds), by node, then tool name.
  const tools = [['node', 'tool', 'via', 'requests', 'errors', 'error %', 'p50', 'p95', 'p99']];
  for (const r of summary.tools) {
    tools.push([r.node, r.tool, r.transports.join('+'), String(r.requests), String(r.errors), pct(r.errors, r.requests), fmt(r.p50), fmt(r.p95), fmt(r.p99)]);
  }
  const perTool = summary.tools.length > 0 ? columns(tools)
    : '(no mcp_client_operation_duration_seconds in the scrape: this build of otel-gateway-metrics does not time MCP requests per tool)';
  return `${columns(lines)}\n\nper tool (tools/call):\n${perTool}`;
}

async function main() {
  ensureBuilt();
  // Prometheus's histogram_quantile interpolation, as the stats view computes it (an internal of the package).
  const { bucketQuantile } = require(path.join(ROOT, 'dist', 'export', 'stats.js'));
  const { sendCalls, weightedPlan } = require('./gateway/loadgen');

  const children = [];
  const stopAll = () => { for (const c of children) c.kill('SIGTERM'); };
  process.once('exit', stopAll);

  const nodes = [];
  for (const n of NODES) {
    let http = null;
    if (n.httpDown) http = `127.0.0.1:${await freePort()}`; // nothing listens there
    else {
      const a = startProcess([path.join(__dirname, 'gateway', 'mcp-agent.js'), '--http', '--port', '0', '--name', n.name, '--delay', String(n.delayMs),
        ...(n.slow ? ['--slow', slowArg(n)] : [])]);
      children.push(a.child);
      http = `127.0.0.1:${(await a.firstLine).port}`;
    }
    nodes.push({ name: n.name, http, pod: n.pod, mcp: true });
  }
  const pods = Object.fromEntries(NODES.map(n => [n.pod, { name: n.name, delayMs: n.delayMs, ...(n.slow ? { slow: n.slow } : {}) }]));
  const gw = startProcess([path.join(__dirname, 'gateway', 'gateway.js'), '--nodes', JSON.stringify(nodes), '--port', '0',
    ...(arg('metrics-port') !== undefined ? ['--metrics-port', arg('metrics-port')] : [])], { DEMO_PODS: JSON.stringify(pods) });
  children.push(gw.child);
  const { gateway, metrics } = await gw.firstLine;
  // The live status page sits at / on the same listener. A browser cannot open
  // 0.0.0.0 (the default bind address), so the URL names the loopback address.
  const status = new URL('/', metrics);
  if (status.hostname === '0.0.0.0' || status.hostname === '[::]') status.hostname = '127.0.0.1';
  log(`status:  ${status.href}   (live status page: open it in a browser)`);
  log(`gateway: ${gateway}`);
  log(`metrics: ${metrics}   (try: curl -s ${metrics} | grep gateway_)`);
  log(`nodes:   ${NODES.map(n => `${n.name}${n.httpDown ? ' (HTTP down → exec)' : n.slow ? ` (slow ${Object.keys(n.slow).join(', ')})` : ''}`).join(', ')}`);
  log(`tools:   ${TOOLS.join(', ')} (MCP tools/call over Streamable HTTP; stdio via kubectl exec when HTTP is down)`);

  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
    log('\nstopping after the calls in flight …');
  });

  const weights = Object.fromEntries(NODES.map(n => [n.name, n.weight]));
  const failEvery = Object.fromEntries(NODES.filter(n => n.failEvery).map(n => [n.name, n.failEvery]));
  const sent = {};
  const report = async () => {
    const s = summarize(parse(await (await fetch(metrics)).text()), bucketQuantile);
    log(`\n${new Date().toISOString()}\n${table(s)}`);
    return s;
  };
  const t0 = Date.now();
  let lastReport = Date.now();
  while (!stopping && Date.now() - t0 < DURATION_S * 1000) {
    const sliceMs = Math.min(REPORT_EVERY_MS, DURATION_S * 1000 - (Date.now() - t0));
    const stats = await sendCalls(gateway, weightedPlan(weights, RATE, sliceMs, failEvery, TOOLS), { concurrency: 8, rate: RATE });
    const add = (acc, s) => {
      acc.sent += s.sent;
      acc.ok += s.ok;
      acc.failed += s.failed;
    };
    for (const [node, s] of Object.entries(stats)) {
      const acc = (sent[node] ??= { sent: 0, ok: 0, failed: 0, tools: {} });
      add(acc, s);
      for (const [tool, t] of Object.entries(s.tools ?? {})) add((acc.tools[tool] ??= { sent: 0, ok: 0, failed: 0 }), t);
    }
    if (Date.now() - lastReport >= REPORT_EVERY_MS - 50) {
      lastReport = Date.now();
      if (!stopping && Date.now() - t0 < DURATION_S * 1000) await report();
    }
  }
  const final = await report();
  if (JSON_OUT) process.stdout.write(`${JSON.stringify({ status: status.href, gateway, metrics, sent, ...final })}\n`);
  gw.child.kill('SIGTERM');
  await new Promise(r => gw.child.once('exit', r));
  stopAll();
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
