// A bounded load generator for the example gateway: JSON-RPC POSTs over
// loopback, keep-alive, a fixed concurrency; every run ends, and it reports
// exactly what it sent to each node.
'use strict';
const http = require('node:http');

/**
 * One request plan entry per call: { node, tool?, fail? }. fail makes the agent
 * fail it (the plain agent answers 500; the MCP agent's tool answers isError).
 * tool: the MCP tool the call runs (params.name, with TOOL_ARGS[tool] as its
 * arguments); calls with a tool are also counted per tool.
 * @typedef {{ node: string, tool?: string, fail?: boolean }} Call
 */

/** Arguments for the example MCP agent's tools (mcp-agent.js). */
const TOOL_ARGS = {
  search: { query: 'gateway latency' },
  fetch_doc: { id: 'doc-2' },
  summarize: { text: 'Per-node, per-transport and per-tool latency of an MCP gateway.' },
};

function post(agent, url, body) {
  return new Promise(resolve => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/**
 * Send every call of `calls` (in order, `concurrency` at a time); resolves when
 * all have answered. Returns per node: { sent, ok, failed }, and for nodes that
 * got calls with a tool also `tools: { [tool]: { sent, ok, failed } }`.
 */
async function sendCalls(url, calls, { concurrency = 8, rate = 0 } = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const stats = {};
  let next = 0;
  let id = 0;
  const interval = rate > 0 ? 1000 / rate : 0;
  const t0 = Date.now();
  async function worker() {
    while (next < calls.length) {
      const i = next++;
      const call = calls[i];
      if (interval > 0) {
        const due = t0 + i * interval;
        if (due > Date.now()) await new Promise(r => setTimeout(r, due - Date.now()));
      }
      const s = (stats[call.node] ??= { sent: 0, ok: 0, failed: 0 });
      const counters = [s];
      const params = { node: call.node, fail: call.fail === true };
      if (call.tool !== undefined) {
        counters.push(((s.tools ??= {})[call.tool] ??= { sent: 0, ok: 0, failed: 0 }));
        params.name = call.tool;
        params.arguments = { ...TOOL_ARGS[call.tool], ...(call.fail === true ? { fail: true } : {}) };
      }
      for (const c of counters) c.sent++;
      const body = JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'tools/call', params });
      const status = await post(agent, url, body);
      for (const c of counters) {
        if (status === 200) c.ok++;
        else c.failed++;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, calls.length) }, worker));
  agent.destroy();
  return stats;
}

/** `counts[node]` calls per node, interleaved; `failEvery[node] = k` makes every k-th call to it fail. */
function plan(counts, failEvery = {}) {
  const queues = Object.entries(counts).map(([node, n]) =>
    Array.from({ length: n }, (_, i) => ({ node, fail: failEvery[node] > 0 && (i + 1) % failEvery[node] === 0 })));
  const calls = [];
  for (let round = 0; queues.some(q => q.length > 0); round++) {
    for (const q of queues) if (q.length > 0) calls.push(q.shift());
  }
  return calls;
}

/**
 * Random calls by weight for `durationMs` at `rate` per second (the demo's
 * open-ended load). `tools`: each node's calls take these tools in turn.
 */
function weightedPlan(weights, rate, durationMs, failEvery = {}, tools = []) {
  const nodes = Object.keys(weights);
  const total = nodes.reduce((a, n) => a + weights[n], 0);
  const seen = {};
  const calls = [];
  const n = Math.max(1, Math.round((rate * durationMs) / 1000));
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648; // deterministic, so runs compare
    let r = (x / 2147483648) * total;
    const node = nodes.find(k => (r -= weights[k]) < 0) ?? nodes[nodes.length - 1];
    seen[node] = (seen[node] ?? 0) + 1;
    const call = { node, fail: failEvery[node] > 0 && seen[node] % failEvery[node] === 0 };
    if (tools.length > 0) call.tool = tools[(seen[node] - 1) % tools.length];
    calls.push(call);
  }
  return calls;
}

module.exports = { sendCalls, plan, weightedPlan, TOOL_ARGS };
