#!/usr/bin/env node
// Experiment (not part of npm run bench): the automatic HTTP path's per-call
// CPU, piece by piece (issue 16). Process CPU (process.cpuUsage), variants
// interleaved in a rotated order each round, each reported minus the no-path
// variant of the same round (median and IQR over the rounds).
//
//   node --expose-gc --single-threaded-gc bench/profile/http-pieces.js [--part all|handlers|micro|e2e]
//        [--rounds 14] [--iterations 20000] [--calls 1500] [--isolated N] [--profile N]
//   BENCH_BEFORE_DIST=<another build's dist/> adds that build's path ("before") to every part;
//   keep that copy inside the worktree (e.g. .cache/, ignored by git) so its requires find node_modules.
//   --single-threaded-gc: GC work runs on the timed thread, not partly on helper
//   threads, so each variant's GC is charged to it alone.
//   --variants map,beforeMap runs only those (and none): for `node --cpu-prof`, then
//   `node bench/profile/summarize.js <file>.cpuprofile`.
//
// handlers: the path's own work for one call, without the network: a real
//   ClientRequest (built with a createConnection that never connects, its
//   `socket` set to a real connected keep-alive socket, as it is at
//   `http.client.request.start`) and a real IncomingMessage, published on
//   the real channels in the order Node publishes them, then the two 'close'
//   events Node emits. Steps, each a variant: the channels subscribed with
//   empty handlers (what publishing costs at all), then the path's pieces
//   added one at a time through its own methods (node + series, per-call
//   state, response handler, close listeners, the record), then the whole
//   path. Tight loop, low noise: the figure to judge pieces on.
// micro: single steps in a tight loop (--expose-gc, warmed up): the node
//   lookup, the series lookup, the per-call state, a 'close' listener.
// e2e: the whole thing over loopback (keep-alive http.request client and its
//   server in this process), as bench/profile/http-path-cost.js; noisier
//   (±20-30 µs per round on this VM), it checks the handlers figure adds up.
'use strict';
const dc = require('node:diagnostics_channel');
const http = require('node:http');
const path = require('node:path');
const { arg, num, writeResult, meta } = require('../lib/common');
const { summary, rotate, sig } = require('../lib/stats');

const ROOT = path.join(__dirname, '..', '..');
const part = arg('part', 'all');
const rounds = num('rounds', 14);
const iterations = num('iterations', 20_000);
const calls = num('calls', 1500);

function load(dist) {
  const { createGatewayMetrics } = require(path.join(dist, 'index.js'));
  const { resolveConfig } = require(path.join(dist, 'config', 'resolve.js'));
  const httpModule = require(path.join(dist, 'paths', 'http.js'));
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  const make = http => {
    const metrics = createGatewayMetrics({ meterProvider: new MeterProvider() });
    return { path: new httpModule.HttpPath(metrics, resolveConfig({ http }, {}).http), metrics };
  };
  return { make, module: httpModule };
}

const current = load(path.join(ROOT, 'dist'));
const before = process.env.BENCH_BEFORE_DIST ? load(path.resolve(process.env.BENCH_BEFORE_DIST)) : undefined;

const CHANNELS = [
  'http.client.request.start', 'http.client.response.finish', 'http.client.request.error',
  'undici:request:create', 'undici:request:headers', 'undici:request:trailers', 'undici:request:error',
];
const noop = () => {};
/** A variant made of plain subscribers: { enable, disable }. */
function subscribers(list) {
  return {
    enable: () => { for (const [c, f] of list) dc.subscribe(c, f); },
    disable: () => { for (const [c, f] of list) dc.unsubscribe(c, f); },
  };
}

/** Run `variants` ({ name: { enable, disable } | undefined }) for `rounds` (+1 warm-up), `measure()` → CPU µs per unit. */
async function interleaved(all, measure, units) {
  // --variants a,b: only these (and none), e.g. for a --cpu-prof run of one variant.
  const only = arg('variants', undefined)?.split(',');
  const variants = only === undefined ? all : Object.fromEntries(Object.entries(all).filter(([k]) => k === 'none' || only.includes(k)));
  const res = Object.fromEntries(Object.keys(variants).map(k => [k, []]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const name of rotate(Object.keys(variants), r)) {
      const v = variants[name];
      v?.enable();
      // measure() returns the CPU µs of its timed part, or nothing: then all of it is timed.
      if (global.gc) global.gc();
      const c0 = process.cpuUsage();
      const timed = await measure();
      const c = process.cpuUsage(c0);
      v?.disable();
      if (r > 0) res[name].push((typeof timed === 'number' ? timed : c.user + c.system) / units);
    }
  }
  const out = {};
  for (const [name, v] of Object.entries(res)) {
    const c = summary(v);
    const added = summary(v.map((x, i) => x - res.none[i]));
    out[name] = { cpuUsPerCall: c, addedUsPerCall: added };
    console.log(`  ${name.padEnd(22)} ${sig(c.median)} µs/call; vs none same round: +${sig(added.median)} µs (IQR ${sig(added.q1)}–${sig(added.q3)})`);
  }
  return { res, out };
}

/** Paired difference a − b round by round. */
function paired(res, a, b) {
  if (!res[a] || !res[b]) return undefined;
  const s = summary(res[a].map((x, i) => x - res[b][i]));
  console.log(`  ${a} − ${b}, same round: ${sig(s.median)} µs (IQR ${sig(s.q1)}–${sig(s.q3)})`);
  return s;
}

async function loopback() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': '2' }).end('ok'));
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  return { server, port: server.address().port };
}

// ---- handlers ----------------------------------------------------------------

async function handlers() {
  const { server, port } = await loopback();
  const hostPort = `127.0.0.1:${port}`;
  // A real connected keep-alive socket, as the agent hands it to a request.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const warm = http.request({ host: '127.0.0.1', port, agent });
  const socket = await new Promise((resolve, reject) => {
    warm.on('error', reject);
    warm.on('response', res => { res.resume(); res.on('end', () => resolve(warm.socket)); });
    warm.end();
  });
  await new Promise(r => setImmediate(r));
  const start = dc.channel('http.client.request.start');
  const response = dc.channel('http.client.response.finish');
  const never = () => undefined;
  const headers = { 'content-length': '5' };
  // Everything is timed, the objects' making too (6-8 µs a call here, the
  // same in every variant): made before the timed loop and collected outside
  // it, they left out the GC work a WeakMap entry costs (its key is young when
  // the call starts), which is most of that entry's cost.
  /** One call's objects and events, as Node makes and publishes them. */
  const one = () => {
    const req = new http.ClientRequest({ host: '127.0.0.1', port, method: 'POST', headers, createConnection: never });
    req.socket = socket;
    if (start.hasSubscribers) start.publish({ request: req });
    const res = new http.IncomingMessage(socket);
    res.statusCode = 200;
    res.complete = true;
    req.res = res;
    if (response.hasSubscribers) response.publish({ request: req, response: res });
    res.req = req;
    res.emit('close');
    req.emit('close');
  };
  const measure = () => { for (let i = 0; i < iterations; i++) one(); };

  const map = { nodeFor: { [hostPort]: 'node-a' }, sizes: false };
  const zero = { sizes: false };
  /**
   * The path's pieces, added one at a time (its own node lookup, series and
   * record through its methods), each piece in its old (`weakmap`, `closures`)
   * and new (`symbol`, `shared`) form. Levels: 1 node + series, 2 + per-call
   * state, 3 + response handler, 4 + 'close' listeners, 5 + the record.
   */
  const staged = (level, { lookup = 'socket', state = 'symbol', listeners = 'shared' } = {}) => {
    const { path: p } = current.make(map);
    const attempts = new WeakMap();
    const key = Symbol('attempt');
    const put = state === 'weakmap' ? (o, a) => attempts.set(o, a) : (o, a) => { o[key] = a; };
    const get = state === 'weakmap' ? o => attempts.get(o) : o => o[key];
    const end = attempt => {
      if (level >= 5) p._finish(attempt, undefined);
      else { attempt.done = true; p._metrics.autoDrop(attempt.series); }
    };
    const onRequestClose = function () {
      const attempt = get(this);
      if (attempt !== undefined && !attempt.done && attempt.statusCode === undefined) end(attempt);
    };
    const onResponseClose = function () {
      const attempt = get(this);
      if (attempt !== undefined && !attempt.done) end(attempt);
    };
    const nodeOf = lookup === 'socket' ? request => p._nodeOfRequest(request) : request => {
      const rawHost = request.host;
      const hostHeader = request.getHeader('host');
      const port = current.module.connectPort(request, rawHost, request.protocol, hostHeader);
      return p._nodeFor(request.protocol, current.module.keyHost(rawHost), port, request.path, hostHeader);
    };
    const onStart = m => {
      const request = m.request;
      const series = p._metrics.autoSeries(nodeOf(request), 'http');
      if (level < 2) return;
      p._metrics.autoStart(series);
      const attempt = { series, t0: performance.now(), done: false, statusCode: undefined, requestBytes: undefined, responseBytes: undefined, timedOut: false, mcp: undefined, calls: undefined, hasBody: false, bodyChunks: 0 };
      put(request, attempt);
      if (level < 4) return;
      if (listeners === 'closures') {
        request.on('close', () => {
          if (!attempt.done && attempt.statusCode === undefined) end(attempt);
        });
      } else request.on('close', onRequestClose);
    };
    const onResponse = m => {
      const attempt = get(m.request);
      if (attempt === undefined || attempt.done) return;
      attempt.statusCode = m.response.statusCode;
      if (level < 4) {
        end(attempt);
        return;
      }
      const response = m.response;
      if (listeners === 'closures') {
        response.on('close', () => {
          if (!attempt.done) end(attempt);
        });
      } else {
        put(response, attempt);
        response.on('close', onResponseClose);
      }
    };
    const list = CHANNELS.map(c => [c, noop]);
    list[0] = ['http.client.request.start', onStart];
    if (level >= 3) list[1] = ['http.client.response.finish', onResponse];
    return subscribers(list);
  };
  const old = { lookup: 'call', state: 'weakmap', listeners: 'closures' };
  const variants = {
    none: undefined,
    emptyChannels: subscribers(CHANNELS.map(c => [c, noop])),
    '1 node+series per call': staged(1, old),
    '1 node+series per socket': staged(1),
    '2 +state weakmap': staged(2, old),
    '2 +state symbol': staged(2),
    '3 +response weakmap': staged(3, old),
    '3 +response symbol': staged(3),
    '4 +close closures': staged(4, old),
    '4 +close shared': staged(4),
    '5 +record old': staged(5, old),
    '5 +record new': staged(5),
    zeroConfig: current.make(zero).path,
    map: current.make(map).path,
    ...(before ? { beforeZeroConfig: before.make(zero).path, beforeMap: before.make(map).path } : {}),
  };
  console.log(`handlers: ${iterations} calls per round, ${rounds} rounds`);
  const { res, out } = await interleaved(variants, measure, iterations);
  if (before) {
    out.zeroConfigMinusBefore = paired(res, 'zeroConfig', 'beforeZeroConfig');
    out.mapMinusBefore = paired(res, 'map', 'beforeMap');
  }
  agent.destroy();
  server.close();
  return out;
}

// ---- micro ---------------------------------------------------------------------

function timeLoop(n, fn) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn(i);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

/** `fns` ({ base, ...}) interleaved over `rounds` (+1 warm-up): ns per iteration, each minus `base` of the same round. */
function pairedLoops(fns, n, label) {
  const res = Object.fromEntries(Object.keys(fns).map(k => [k, []]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const name of rotate(Object.keys(fns), r)) {
      const x = timeLoop(n, fns[name]);
      if (r > 0) res[name].push(x);
    }
  }
  const out = { base: summary(res.base) };
  console.log(`  ${label}: base ${sig(out.base.median)} ns`);
  for (const name of Object.keys(fns).filter(k => k !== 'base')) {
    out[name] = summary(res[name].map((x, i) => x - res.base[i]));
    console.log(`    ${name.padEnd(36)} +${sig(out[name].median)} ns (IQR ${sig(out[name].q1)}–${sig(out[name].q3)})`);
  }
  return out;
}

async function micro() {
  const { server, port } = await loopback();
  const hostPort = `127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true });
  const req = http.request({ host: '127.0.0.1', port, agent, method: 'POST', headers: { 'content-length': '5' } });
  req.on('error', () => {}); // destroyed unsent below
  await new Promise(r => req.once('socket', r));
  await new Promise(r => req.socket.once('connect', r));
  const n = num('micro-n', 1_000_000);
  const out = {};
  console.log(`micro: ${rounds} rounds`);

  // Node + series of a call on a known keep-alive socket: worked out per call
  // (connectPort, keyHost, the key string, the map) or read from the socket.
  const lookups = { base: () => undefined };
  for (const [mode, cfg] of [['zeroConfig', { sizes: false }], ['map', { nodeFor: { [hostPort]: 'node-a' }, sizes: false }]]) {
    const { path: p } = current.make(cfg);
    lookups[`${mode} per call`] = () => {
      const rawHost = req.host;
      const hostHeader = req.getHeader('host');
      const port = current.module.connectPort(req, rawHost, req.protocol ?? 'http:', hostHeader);
      return p._metrics.autoSeries(p._nodeFor(req.protocol ?? 'http:', current.module.keyHost(rawHost), port, req.path ?? '/', hostHeader), 'http');
    };
    lookups[`${mode} per socket`] = () => p._metrics.autoSeries(p._nodeOfRequest(req), 'http');
  }
  out.nodeAndSeries = pairedLoops(lookups, n, `node + series (${n} calls)`);

  // The call's state on a fresh object (the key is young, as a request is at
  // its start): a WeakMap entry, or a symbol property; set once, read twice.
  const m = num('micro-objects', 100_000);
  const wm = new WeakMap();
  const holder = { key: Symbol('attempt') };
  const live = new Array(64);
  const state = make => ({
    base: i => { live[i & 63] = make(); },
    'WeakMap set + 2 get': i => { const o = make(); live[i & 63] = o; wm.set(o, { i }); wm.get(o); wm.get(o); },
    'symbol property set + 2 get': i => { const o = make(); live[i & 63] = o; o[holder.key] = { i }; o[holder.key]; o[holder.key]; },
  });
  out.stateOnResponse = pairedLoops(state(() => new http.IncomingMessage(null)), m, `state on a new IncomingMessage (${m} objects)`);
  const never = () => undefined;
  const headers = { 'content-length': '5' };
  const m2 = Math.round(m / 5);
  out.stateOnRequest = pairedLoops(state(() => new http.ClientRequest({ host: '127.0.0.1', port, method: 'POST', headers, createConnection: never })), m2, `state on a new ClientRequest (${m2} objects)`);

  // The same on 1,024 objects made once (keys long in the WeakMap): what a
  // WeakMap costs when its keys are not new.
  const kept = Array.from({ length: 1024 }, () => new http.IncomingMessage(null));
  out.stateReusedKeys = pairedLoops({
    base: i => { live[i & 63] = kept[i & 1023]; },
    'WeakMap set + 2 get': i => { const o = kept[i & 1023]; wm.set(o, { i }); wm.get(o); wm.get(o); },
    'symbol property set + 2 get': i => { const o = kept[i & 1023]; o[holder.key] = { i }; o[holder.key]; o[holder.key]; },
  }, n, `state on 1,024 reused IncomingMessages (${n} calls)`);

  // A 'close' listener: a closure over the call's state, or one shared function.
  const shared = function () { this[holder.key].done = true; };
  out.closeListener = pairedLoops({
    base: i => { const e = new http.IncomingMessage(null); e[holder.key] = { done: false, i }; live[i & 63] = e; },
    'closure per call': i => { const e = new http.IncomingMessage(null); const a = { done: false, i }; e[holder.key] = a; e.on('close', () => { a.done = true; }); live[i & 63] = e; },
    'shared function': i => { const e = new http.IncomingMessage(null); e[holder.key] = { done: false, i }; e.on('close', shared); live[i & 63] = e; },
  }, m, `'close' listener on a new IncomingMessage (${m} objects)`);

  out.clock = pairedLoops({ base: () => 0, 'performance.now()': () => performance.now() }, n, `clock (${n} calls)`);
  req.destroy();
  agent.destroy();
  server.close();
  return out;
}

// ---- e2e -----------------------------------------------------------------------

async function e2e() {
  const { server, port } = await loopback();
  const hostPort = `127.0.0.1:${port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const map = { nodeFor: { [hostPort]: 'node-a' }, sizes: false };
  const variants = {
    none: undefined,
    emptyChannels: subscribers(CHANNELS.map(c => [c, noop])),
    zeroConfig: current.make({ sizes: false }).path,
    map: current.make(map).path,
    ...(before ? { beforeZeroConfig: before.make({ sizes: false }).path, beforeMap: before.make(map).path } : {}),
  };
  const one = () => new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent, method: 'POST', headers: { 'content-length': '5' } }, res => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end('hello');
  });
  const batch = async () => {
    for (let i = 0; i < calls; i += 8) await Promise.all(Array.from({ length: 8 }, one));
  };
  console.log(`e2e: ${calls} calls per round, ${rounds} rounds`);
  const { res, out } = await interleaved(variants, batch, calls);
  if (before) {
    out.zeroConfigMinusBefore = paired(res, 'zeroConfig', 'beforeZeroConfig');
    out.mapMinusBefore = paired(res, 'map', 'beforeMap');
  }
  agent.destroy();
  server.close();
  return out;
}

/**
 * --isolated N: each full-path variant in a process of its own (with `none`),
 * N times in turn; the figure is the median of those processes' medians.
 * In one process the variants share Node's and our code, and each build
 * tags requests its own way: the ICs they share then see every variant's
 * objects, and a variant's cost depends on the others run beside it.
 */
async function isolated(times) {
  const { execFileSync } = require('node:child_process');
  const names = ['zeroConfig', 'map', ...(before ? ['beforeZeroConfig', 'beforeMap'] : [])];
  const per = Object.fromEntries(names.map(n => [n, []]));
  const argv = process.argv.slice(2).filter((a, i, all) => a !== '--isolated' && all[i - 1] !== '--isolated');
  for (let t = 0; t < times; t++) {
    for (const name of rotate(names, t)) {
      const text = execFileSync(process.execPath, [...process.execArgv, __filename, ...argv, '--part', 'handlers', '--variants', name, '--child'], { encoding: 'utf8', env: process.env });
      const line = text.split('\n').find(l => l.startsWith('RESULT '));
      per[name].push(JSON.parse(line.slice(7))[name].addedUsPerCall.median);
    }
  }
  const out = {};
  for (const [name, v] of Object.entries(per)) {
    out[name] = summary(v);
    console.log(`  ${name.padEnd(18)} +${sig(out[name].median)} µs/call (IQR ${sig(out[name].q1)}–${sig(out[name].q3)}; ${times} processes: ${v.map(x => sig(x)).join(' ')})`);
  }
  return out;
}

/**
 * --profile N: like --isolated, each variant's process under `--cpu-prof`
 * (100 µs samples), N times in turn: self time per path call by area
 * (summarize.js). Slower under the profiler, but the share of our own frames
 * does not depend on what else the machine runs.
 */
async function profiled(times) {
  const { execFileSync } = require('node:child_process');
  const fs = require('node:fs');
  const os = require('node:os');
  const { summarize } = require('./summarize');
  const names = ['zeroConfig', 'map', ...(before ? ['beforeZeroConfig', 'beforeMap'] : [])];
  const per = Object.fromEntries(names.map(n => [n, []]));
  const argv = process.argv.slice(2).filter((a, i, all) => a !== '--profile' && all[i - 1] !== '--profile');
  for (let t = 0; t < times; t++) {
    for (const name of rotate(names, t)) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-pieces-'));
      try {
        execFileSync(process.execPath, [...process.execArgv, '--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', '100', __filename, ...argv, '--part', 'handlers', '--variants', name, '--child'], { encoding: 'utf8', env: process.env });
        const file = path.join(dir, fs.readdirSync(dir).find(f => f.endsWith('.cpuprofile')));
        const areas = Object.fromEntries(summarize(file, { top: 0 }).byArea.map(([a, ms]) => [a, (ms * 1000) / ((rounds + 1) * iterations)]));
        per[name].push(areas);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const out = {};
  for (const [name, runs] of Object.entries(per)) {
    out[name] = {};
    for (const area of ['ours (dist/)', 'sdk-metrics', 'GC']) out[name][area] = summary(runs.map(r => r[area] ?? 0));
    console.log(`  ${name.padEnd(18)} µs per path call, self time: ours ${sig(out[name]['ours (dist/)'].median)} (${runs.map(r => sig(r['ours (dist/)'] ?? 0)).join(' ')}), sdk-metrics ${sig(out[name]['sdk-metrics'].median)}, GC (both variants) ${sig(out[name].GC.median)}`);
  }
  return out;
}

async function main() {
  const profiles = num('profile', 0);
  if (profiles > 0) {
    console.log(`profile: ${profiles} processes per variant`);
    const out = { profile: await profiled(profiles) };
    const command = `node ${process.execArgv.join(' ')} bench/profile/http-pieces.js ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim();
    writeResult(arg('result', 'http-pieces-profile'), { ...meta(command), before: process.env.BENCH_BEFORE_DIST ?? null, rounds, iterations, loadavg: require('node:os').loadavg(), out });
    return;
  }
  const times = num('isolated', 0);
  if (times > 0) {
    console.log(`isolated: ${times} processes per variant`);
    const out = { isolated: await isolated(times) };
    const command = `node ${process.execArgv.join(' ')} bench/profile/http-pieces.js ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim();
    writeResult(arg('result', 'http-pieces-isolated'), { ...meta(command), before: process.env.BENCH_BEFORE_DIST ?? null, rounds, iterations, loadavg: require('node:os').loadavg(), out });
    return;
  }
  const out = {};
  if (part === 'all' || part === 'handlers') out.handlers = await handlers();
  if (part === 'all' || part === 'micro') out.micro = await micro();
  if (part === 'all' || part === 'e2e') out.e2e = await e2e();
  if (process.argv.includes('--child')) {
    console.log(`RESULT ${JSON.stringify(out.handlers)}`);
    return;
  }
  const command = `node ${process.execArgv.join(' ')} bench/profile/http-pieces.js ${process.argv.slice(2).join(' ')}`.replace(/\s+/g, ' ').trim();
  const name = arg('result', 'http-pieces');
  writeResult(name, { ...meta(command), before: process.env.BENCH_BEFORE_DIST ?? null, rounds, iterations, calls, loadavg: require('node:os').loadavg(), out });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
