// A bounded load generator for the example gateway: JSON-RPC POSTs over
// loopback, keep-alive, a fixed concurrency; every run ends, and it reports
// exactly what it sent to each node.
'use strict';
const http = require('node:http');

/**
 * One request plan entry per call: { node, fail } (fail makes the agent answer 500).
 * @typedef {{ node: string, fail?: boolean }} Call
 */

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
 * all have answered. Returns per node: { sent, ok, failed }.
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
      s.sent++;
      const body = JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { node: call.node, fail: call.fail === true } });
      const status = await post(agent, url, body);
      if (status === 200) s.ok++;
      else s.failed++;
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

/** Random calls by weight for `durationMs` at `rate` per second (the demo's open-ended load). */
function weightedPlan(weights, rate, durationMs, failEvery = {}) {
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
    calls.push({ node, fail: failEvery[node] > 0 && seen[node] % failEvery[node] === 0 });
  }
  return calls;
}

module.exports = { sendCalls, plan, weightedPlan };
