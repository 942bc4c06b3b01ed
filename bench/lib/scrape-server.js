#!/usr/bin/env node
// Child process for bench/scrape.js: serves the same N histogram series three
// ways, each on its own loopback port, and reports after every request (over
// IPC) the longest event-loop block seen while that request was in flight.
//
//   ours     our MetricsEndpoint (collect through the stock exporter's reader, our serializer, chunked + yielding)
//   register the same endpoint as register() builds it: our series store read directly by the serializer
//   stock    the stock PrometheusExporter's own request handler (collect + its serializer, one res.end)
//   prom     a prom-client registry.metrics() handler (as examples/gateway/gateway.js serves it)
//   collect  our reader's collect() alone (no body): the part of a scrape that is the SDK's
//
// Longest block: a setImmediate probe runs while a request is in flight and keeps
// the largest gap between two of its turns; monitorEventLoopDelay (1 ms
// resolution) is reported alongside as a cross-check.
'use strict';
const http = require('node:http');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { otelSetup, registerSetup, promSetup, populate } = require('./fixtures');
const { MetricsEndpoint } = require('../../dist/export/endpoint');
const gzip = require('node:util').promisify(require('node:zlib').gzip);

const series = Number(process.argv[process.argv.indexOf('--series') + 1]);
const impl = process.argv[process.argv.indexOf('--impl') + 1];

// One implementation per process, so no scrape pays for another one's garbage.
const ours = impl === 'ours' ? otelSetup(series) : undefined;
const stock = impl === 'stock' ? otelSetup(series) : undefined;
const reg = impl === 'register' ? registerSetup(series) : undefined;
const prom = impl === 'prom' ? promSetup(series) : undefined;
const data = { otel: [ours, stock, reg].filter(Boolean), prom: [prom].filter(Boolean) };
populate(data, series, 3);

const served = ours || reg;
const endpoint = served && new MetricsEndpoint({ reader: served.reader, store: served.store, serializer: served.serializer, auth: undefined });

const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();

let probe = null;
function startProbe() {
  const p = { last: performance.now(), maxGap: 0, running: true, turns: 0 };
  const tick = () => {
    if (!p.running) return;
    const now = performance.now();
    if (now - p.last > p.maxGap) p.maxGap = now - p.last;
    p.last = now;
    p.turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return p;
}

function instrumented(name, handler) {
  return (req, res) => {
    eld.reset();
    const t0 = performance.now();
    probe = startProbe();
    const p = probe;
    let reported = false;
    const report = () => {
      if (reported) return;
      reported = true;
      const now = performance.now();
      p.running = false;
      if (now - p.last > p.maxGap) p.maxGap = now - p.last;
      process.send({ type: 'scrape', name, serverMs: now - t0, maxBlockMs: p.maxGap, eldMaxMs: eld.max / 1e6, probeTurns: p.turns });
    };
    res.once('finish', report);
    res.once('close', report);
    handler(req, res);
  };
}

const handlers = {
  ours: ours && { ours: endpoint.metricsHandler, collect: async (req, res) => {
    await ours.reader.collect();
    res.end();
  } },
  register: reg && { ours: endpoint.metricsHandler, collect: async (req, res) => {
    await reg.reader.collect();
    await reg.store.collect(0);
    res.end();
  } },
  stock: stock && { stock: (req, res) => stock.reader.getMetricsRequestHandler(req, res) },
  prom: prom && { prom: async (req, res) => {
    const body = await prom.registry.metrics();
    // Compressed when asked, as express `compression` would (zlib's default level).
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] || ''))) {
      const zipped = await gzip(body);
      res.writeHead(200, { 'content-type': prom.registry.contentType, 'content-encoding': 'gzip', vary: 'Accept-Encoding' }).end(zipped);
      return;
    }
    res.writeHead(200, { 'content-type': prom.registry.contentType }).end(body);
  } },
}[impl];

let profiler;

async function main() {
  const ports = {};
  for (const [name, handler] of Object.entries(handlers)) {
    const server = http.createServer(instrumented(name, handler));
    server.keepAliveTimeout = 60_000;
    await new Promise(r => server.listen(0, '127.0.0.1', r));
    ports[name] = server.address().port;
  }
  process.on('message', msg => {
    if (msg && msg.type === 'touch') {
      // One more observation in every series (in all three), as between two scrapes of a busy gateway.
      populate(data, series, 1, msg.seed);
      process.send({ type: 'touched' });
    } else if (msg && msg.type === 'prof-start') {
      // bench/profile/scrape-path.js: a CPU profile of one scrape at a time.
      profiler ??= new (require('node:inspector').Session)();
      profiler.connect();
      profiler.post('Profiler.enable', () => profiler.post('Profiler.setSamplingInterval', { interval: 100 }, () =>
        profiler.post('Profiler.start', () => process.send({ type: 'prof-started' }))));
    } else if (msg && msg.type === 'prof-stop') {
      profiler.post('Profiler.stop', (err, res) => {
        require('node:fs').writeFileSync(msg.file, JSON.stringify(res.profile));
        profiler.disconnect();
        process.send({ type: 'prof-stopped' });
      });
    } else if (msg && msg.type === 'exit') {
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ series, impl, ports, pid: process.pid })}\n`);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
