#!/usr/bin/env node
// Experiment (not part of npm run bench): CPU the automatic HTTP path adds per
// routed call under register()'s defaults (our series store, no SDK call per
// call), in one process: a keep-alive client and its loopback server, so the
// difference between variants is the path alone. Process CPU per call
// (process.cpuUsage), variants interleaved in a rotated order each round, each
// reported minus `none` of the same round and kind (median, IQR).
//
//   node bench/profile/routed-call-cost.js [--rounds 15] [--calls 2000] [--kinds plain,jsonrpc,mcp-sse] [--mode loopback|handlers]
//   BENCH_BEFORE_DIST=<another build's dist/> adds that build's variants (before*).
//   --variants defaults runs only those (and none): for `node --cpu-prof`, then
//   `node bench/profile/summarize.js <file>.cpuprofile --per <calls>`.
//
// Kinds of call:
//   plain    node:http POST of 5 bytes, answered `ok` with a content-length
//   jsonrpc  node:http POST of a JSON-RPC tools/call as the example gateway
//            writes it, answered in JSON as bench/lib/fast-agent.js does
//            (the throughput bench's call): with MCP on, an MCP-over-HTTP call
//   mcp-sse  fetch POST of a tools/call in the MCP SDK's shape, answered as
//            the SDK's Streamable HTTP server does (an SSE event)
// --mode handlers: no network. Each call's real ClientRequest and
//   IncomingMessage are made and their events published as Node does
//   (created, the body written through the request's own end(), start,
//   response, the body pushed, the two 'close' events), with
//   ClientRequest.prototype.write/end made no-ops for the run, so what is timed
//   is the objects plus the path's own work: far less noise than loopback
//   (which also times Node's HTTP client and server), for judging pieces.
//   Kinds plain and jsonrpc only.
// Variants:
//   none      no HTTP path
//   http      the HTTP path, MCP off (`mcp: false`): the plain proxied call
//   defaults  the HTTP path with register()'s protocols (MCP on)
'use strict';
const http = require('node:http');
const path = require('node:path');
const { arg, num, writeResult, meta } = require('../lib/common');
const { summary, rotate, sig } = require('../lib/stats');
const { storeMetrics } = require('../lib/store-metrics');
const { mcpArg } = require('../lib/mcp-observe');

const ROOT = path.join(__dirname, '..', '..');
const rounds = num('rounds', 15);
const calls = num('calls', 2000);
const kinds = arg('kinds', 'plain,jsonrpc,mcp-sse').split(',');

function build(dist, protocols) {
  const { metrics } = storeMetrics(dist);
  const { resolveConfig } = require(path.join(dist, 'config', 'resolve.js'));
  const { HttpPath } = require(path.join(dist, 'paths', 'http.js'));
  return new HttpPath(metrics, resolveConfig({}, {}).http, protocols ? mcpArg(dist, metrics) : undefined);
}

const RESULT = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { node: 'node-a', via: 'http', method: 'tools/call' } });

async function main() {
  if (arg('mode', 'loopback') === 'handlers') return handlers();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/rpc') res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RESULT) }).end(RESULT);
      else if (req.url === '/mcp') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(`event: message\ndata: {"result":{"content":[{"type":"text","text":"ok"}]},"jsonrpc":"2.0","id":${req.headers['x-id']}}\n\n`);
      } else res.writeHead(200, { 'content-length': '2' }).end('ok');
    });
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  const { before, variants } = variantsOf();

  let id = 0;
  const nodeCall = (p, body) => () => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent, path: p, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, res => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
  const one = {
    plain: nodeCall('/', 'hello'),
    jsonrpc: () => nodeCall('/rpc', JSON.stringify({ jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { node: 'node-a' } }))(),
    'mcp-sse': async () => {
      const n = ++id;
      const r = await fetch(`http://127.0.0.1:${port}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-id': String(n) },
        body: `{"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}},"jsonrpc":"2.0","id":${n}}`,
      });
      await r.text();
    },
  };
  const batch = async kind => {
    for (let i = 0; i < calls; i += 8) await Promise.all(Array.from({ length: 8 }, one[kind]));
  };

  const res = {};
  for (const kind of kinds) for (const v of Object.keys(variants)) res[`${kind}/${v}`] = [];
  for (let r = 0; r < rounds + 1; r++) {
    for (const kind of kinds) {
      for (const name of rotate(Object.keys(variants), r)) {
        const p = variants[name];
        p?.enable();
        const c0 = process.cpuUsage();
        await batch(kind);
        const c = process.cpuUsage(c0);
        p?.disable();
        if (r > 0) res[`${kind}/${name}`].push((c.user + c.system) / calls);
      }
    }
  }
  agent.destroy();
  server.close();
  const out = {};
  for (const kind of kinds) {
    const none = res[`${kind}/none`];
    console.log(`${kind}: none ${sig(summary(none).median)} µs CPU/call (${sig(summary(none).min)}–${sig(summary(none).max)})`);
    for (const v of Object.keys(variants)) {
      if (v === 'none') continue;
      const xs = res[`${kind}/${v}`];
      const added = summary(xs.map((x, i) => x - none[i]));
      out[`${kind}/${v}`] = { cpuUsPerCall: summary(xs), addedUsPerCall: added };
      console.log(`  ${v.padEnd(15)} +${sig(added.median)} µs (IQR ${sig(added.q1)} to ${sig(added.q3)})`);
    }
  }
  writeResult('routed-call-cost', { ...meta(`node bench/profile/routed-call-cost.js ${process.argv.slice(2).join(' ')}`.trim()), before: before ?? null, rounds, calls, out });
}

function variantsOf() {
  const current = path.join(ROOT, 'dist');
  const before = process.env.BENCH_BEFORE_DIST ? path.resolve(process.env.BENCH_BEFORE_DIST) : undefined;
  const all = {
    none: undefined,
    http: build(current, false),
    defaults: build(current, true),
    ...(before ? { beforeHttp: build(before, false), beforeDefaults: build(before, true) } : {}),
  };
  const only = arg('variants', undefined)?.split(',');
  return { before, variants: only === undefined ? all : Object.fromEntries(Object.entries(all).filter(([k]) => k === 'none' || only.includes(k))) };
}

async function handlers() {
  const dc = require('node:diagnostics_channel');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': '2' }).end('ok'));
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  // A real connected keep-alive socket, as the agent hands it to a request.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const warm = http.request({ host: '127.0.0.1', port, agent });
  const socket = await new Promise((resolve, reject) => {
    warm.on('error', reject);
    warm.on('response', res => { res.resume(); res.on('end', () => resolve(warm.socket)); });
    warm.end();
  });
  await new Promise(r => setImmediate(r));
  const { before, variants } = variantsOf();
  const start = dc.channel('http.client.request.start');
  const response = dc.channel('http.client.response.finish');
  const never = () => undefined;
  const proto = http.ClientRequest.prototype;
  const { write, end } = proto;
  const bodies = {
    plain: () => 'hello',
    jsonrpc: i => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { node: 'node-a' } }),
  };
  const answers = {
    plain: { headers: { 'content-length': '2' }, body: Buffer.from('ok') },
    jsonrpc: { headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(RESULT)) }, body: Buffer.from(RESULT) },
  };
  const one = (kind, i) => {
    const req = new http.ClientRequest({ host: '127.0.0.1', port, method: 'POST', path: '/rpc', headers: { 'content-type': 'application/json' }, createConnection: never });
    req.end(bodies[kind](i));
    req.socket = socket;
    if (start.hasSubscribers) start.publish({ request: req });
    const res = new http.IncomingMessage(socket);
    res.statusCode = 200;
    res.headers = answers[kind].headers;
    req.res = res;
    if (response.hasSubscribers) response.publish({ request: req, response: res });
    res.push(answers[kind].body);
    res.push(null);
    res.complete = true;
    res.emit('close');
    req.emit('close');
  };
  const res = {};
  const kindsHere = kinds.filter(k => k in bodies);
  for (const kind of kindsHere) for (const v of Object.keys(variants)) res[`${kind}/${v}`] = [];
  proto.write = function () { return true; };
  proto.end = function () { return this; };
  try {
    for (let r = 0; r < rounds + 1; r++) {
      for (const kind of kindsHere) {
        for (const name of rotate(Object.keys(variants), r)) {
          const p = variants[name];
          p?.enable();
          if (global.gc) global.gc();
          const c0 = process.cpuUsage();
          for (let i = 0; i < calls; i++) one(kind, i);
          const c = process.cpuUsage(c0);
          p?.disable();
          if (r > 0) res[`${kind}/${name}`].push((c.user + c.system) / calls);
        }
      }
    }
  } finally {
    proto.write = write;
    proto.end = end;
  }
  agent.destroy();
  server.close();
  const out = {};
  for (const kind of kindsHere) {
    const none = res[`${kind}/none`];
    console.log(`${kind} (handlers): none ${sig(summary(none).median)} µs CPU/call (${sig(summary(none).min)}–${sig(summary(none).max)})`);
    for (const v of Object.keys(variants)) {
      if (v === 'none') continue;
      const xs = res[`${kind}/${v}`];
      const added = summary(xs.map((x, i) => x - none[i]));
      out[`${kind}/${v}`] = { cpuUsPerCall: summary(xs), addedUsPerCall: added };
      console.log(`  ${v.padEnd(15)} +${sig(added.median)} µs (IQR ${sig(added.q1)} to ${sig(added.q3)})`);
    }
  }
  writeResult('routed-call-cost-handlers', { ...meta(`node bench/profile/routed-call-cost.js ${process.argv.slice(2).join(' ')}`.trim()), before: before ?? null, rounds, calls, out });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
