#!/usr/bin/env node
// npm run demo: four agent nodes, the example gateway with otel-gateway-metrics,
// and a bounded load. Prints the status page URL first, then the /metrics URL,
// then every few seconds a per-node table read from the scraped histogram.
// Stops on Ctrl-C or after --duration.
//
//   node examples/demo.js [--duration 30] [--rate 20] [--metrics-port 9464] [--json]
//
// Nodes: node-a and node-b are fast, node-c is slow (about 1.5 s), and node-d's
// HTTP agent is down, so its calls fall back to `kubectl exec` (a real child
// process speaking JSON-RPC on stdio).
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
  { name: 'node-c', pod: 'agent-c', delayMs: 1500, weight: 5 },
  { name: 'node-d', pod: 'agent-d', delayMs: 5, weight: 15, httpDown: true },
];

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
  for (const s of samples) {
    if (s.name === 'gateway_request_duration_seconds_count') row(s.labels.node, s.labels.transport)[s.labels.status] += s.value;
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
    fallbacks,
    up,
  };
}

function table(summary) {
  const fmt = v => (v === null ? '-' : v < 1 ? `${(v * 1000).toFixed(0)} ms` : `${v.toFixed(2)} s`);
  const lines = [['node', 'transport', 'requests', 'errors', 'error %', 'p50', 'p95', 'fallbacks', 'up']];
  for (const r of summary.rows) {
    lines.push([r.node, r.transport, String(r.requests), String(r.errors),
      r.requests ? `${((100 * r.errors) / r.requests).toFixed(1)}` : '-', fmt(r.p50), fmt(r.p95),
      r.transport === 'http' ? String(summary.fallbacks[r.node] ?? 0) : '',
      summary.up[r.node] === undefined ? '-' : String(summary.up[r.node])]);
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map(l => l[i].length)));
  return lines.map(l => l.map((c, i) => c.padEnd(widths[i])).join('  ')).join('\n');
}

async function main() {
  ensureBuilt();
  // Prometheus's histogram_quantile interpolation, as the stats view computes it (an internal of the package).
  const { bucketQuantile } = require(path.join(ROOT, 'dist', 'stats.js'));
  const { sendCalls, weightedPlan } = require('./gateway/loadgen');

  const children = [];
  const stopAll = () => { for (const c of children) c.kill('SIGTERM'); };
  process.once('exit', stopAll);

  const nodes = [];
  for (const n of NODES) {
    let http = null;
    if (n.httpDown) http = `127.0.0.1:${await freePort()}`; // nothing listens there
    else {
      const a = startProcess([path.join(__dirname, 'gateway', 'agent.js'), '--http', '--port', '0', '--name', n.name, '--delay', String(n.delayMs)]);
      children.push(a.child);
      http = `127.0.0.1:${(await a.firstLine).port}`;
    }
    nodes.push({ name: n.name, http, pod: n.pod });
  }
  const pods = Object.fromEntries(NODES.map(n => [n.pod, { name: n.name, delayMs: n.delayMs }]));
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
  log(`nodes:   ${NODES.map(n => `${n.name}${n.httpDown ? ' (HTTP down → exec)' : n.delayMs > 1000 ? ' (slow)' : ''}`).join(', ')}`);

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
    const stats = await sendCalls(gateway, weightedPlan(weights, RATE, sliceMs, failEvery), { concurrency: 8, rate: RATE });
    for (const [node, s] of Object.entries(stats)) {
      const acc = (sent[node] ??= { sent: 0, ok: 0, failed: 0 });
      acc.sent += s.sent;
      acc.ok += s.ok;
      acc.failed += s.failed;
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
