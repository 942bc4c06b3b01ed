#!/usr/bin/env node
// Case 3 — the example gateway under load.
//
//   node bench/throughput.js [--duration 6] [--rounds 5] [--connections 50] [--rate 1000]
//                            [--skip-throughput] [--skip-scraped] [--out NAME] [--variants oursNoMcp,…]
//
// Layout on this 2-core machine: the gateway (examples/gateway/gateway.js) alone
// on core 0; a fast local HTTP agent (bench/lib/fast-agent.js: the example
// agent's answer as a constant over raw sockets), autocannon and the /metrics
// scraper on core 1. With the example agent (~50 µs CPU per call) plus
// autocannon (~35 µs) core 1 saturated first and the gateway idled at ~70%;
// with the fast agent (~20 µs) and 50 connections the gateway is the bottleneck.
// The gateway's CPU per request is reported too: the plugin's cost, whatever
// the load generator manages.
//
// Part A, throughput: no plugin; our plugin (register() with the HTTP and exec
// automatic paths, as the example does); the prom-client equivalent; and, as an
// extra, our plugin with inbound HTTP metrics (@opentelemetry/instrumentation-http,
// GATEWAY_METRICS_INBOUND_HTTP=true). All gateways stay up; each round runs every
// variant once, in rotated order; every run is a fresh bounded autocannon run.
//
// Part B, scraped: the gateway holding 20,000 extra histogram series
// (--synthetic-series 20000), with and without its /metrics scraped every second
// during the run; for our plugin and for prom-client. Here the load is open-loop
// at a fixed rate (bench/lib/paced.js, --rate, default 1,000 req/s, about an
// eighth of the gateway's capacity: a gateway with headroom, as in production),
// each request timed from when it was due, so p99 shows the stalls rather than
// queueing at saturation, and a stall counts for every request due during it.
'use strict';
const path = require('node:path');
const { arg, flag, num, meta, writeResult, startNode, kill, sleep, TASKSET } = require('./lib/common');
const { summary, rotate, sig } = require('./lib/stats');

const GATEWAY = path.join(__dirname, '..', 'examples', 'gateway', 'gateway.js');
const AGENT = path.join(__dirname, 'lib', 'fast-agent.js');
const CANNON = path.join(__dirname, 'lib', 'cannon.js');
const PACED = path.join(__dirname, 'lib', 'paced.js');
const SCRAPER = path.join(__dirname, 'lib', 'scraper.js');

const DURATION = num('duration', 6);
const ROUNDS = num('rounds', 5);
const CONNECTIONS = num('connections', 50);
const RATE = num('rate', 1000);
const SYNTHETIC = num('synthetic-series', 20_000);
const WARMUP_S = num('warmup', 2);

async function startGateway(nodes, metrics, { env = {}, synthetic = 0, nodeArgs = [], args: extra = [] } = {}) {
  const args = ['--nodes', JSON.stringify(nodes), '--port', '0', '--metrics', metrics, '--metrics-port', '0', ...extra];
  if (synthetic > 0) args.push('--synthetic-series', String(synthetic));
  const { child, info } = await startNode(GATEWAY, args, {
    cpu: 0,
    nodeArgs,
    timeoutMs: 120_000,
    env: { OTEL_LOG_LEVEL: 'error', GATEWAY_METRICS_INBOUND_HTTP: 'false', ...env },
  });
  return { child, url: info.gateway, metricsUrl: info.metrics };
}

/** utime + stime of a process, in ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid) {
  try {
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ = 100
  } catch {
    return undefined;
  }
}

async function cannon(url, duration, gatewayPid, rate = 0) {
  const cpu0 = gatewayPid === undefined ? undefined : cpuMs(gatewayPid);
  const args = rate > 0
    ? [PACED, ['--url', url, '--duration', String(duration), '--rate', String(rate), '--node', 'node-a']]
    : [CANNON, ['--url', url, '--duration', String(duration), '--connections', String(CONNECTIONS), '--node', 'node-a']];
  const wall0 = performance.now();
  const { child, info } = await startNode(args[0], args[1], {
    cpu: 1,
    timeoutMs: (duration + 60) * 1000,
  });
  await new Promise(r => (child.exitCode !== null ? r() : child.once('exit', r)));
  if (info.errors > 0 || info.non2xx > 0) console.warn(`  warning: ${info.errors} errors, ${info.non2xx} non-2xx`);
  const cpu1 = gatewayPid === undefined ? undefined : cpuMs(gatewayPid);
  if (cpu0 !== undefined && cpu1 !== undefined) {
    // Gateway CPU per request (µs): the plugin's cost independent of how hard autocannon could push.
    info.gatewayCpuUsPerRequest = ((cpu1 - cpu0) * 1000) / info.requests;
    // Over the whole run, including the wait for the last answers and the load generator's start.
    info.gatewayCpuShare = (cpu1 - cpu0) / (performance.now() - wall0);
  }
  return info;
}

async function withScraper(metricsUrl, fn) {
  const { child } = await startNode(SCRAPER, ['--url', metricsUrl, '--interval', '1000'], { cpu: 1 });
  try {
    const out = await fn();
    const closed = new Promise(r => child.once('close', r));
    child.kill('SIGTERM');
    await closed;
    const scrape = JSON.parse(child.lines[child.lines.length - 1]);
    return { ...out, scrape };
  } finally {
    await kill(child);
  }
}

function summarize(runs, baselineRuns) {
  const rps = runs.map(r => r.rps);
  const p99 = runs.map(r => r.latencyMs.p99);
  const out = {
    rps: summary(rps),
    p50Ms: summary(runs.map(r => r.latencyMs.p50)),
    p99Ms: summary(p99),
    p999Ms: summary(runs.map(r => r.latencyMs.p999)),
    loadgenCpuUsPerRequest: summary(runs.map(r => r.loadgenCpuUsPerRequest)),
    cpuUsPerRequest: summary(runs.map(r => r.gatewayCpuUsPerRequest)),
    cpuShare: summary(runs.map(r => r.gatewayCpuShare)),
    requests: runs.reduce((a, r) => a + r.requests, 0),
    errors: runs.reduce((a, r) => a + r.errors + r.non2xx, 0),
  };
  if (baselineRuns) {
    out.rpsRatio = summary(rps.map((x, i) => x / baselineRuns[i].rps));
    out.p99Ratio = summary(p99.map((x, i) => x / baselineRuns[i].latencyMs.p99));
    out.cpuRatio = summary(runs.map((r, i) => r.gatewayCpuUsPerRequest / baselineRuns[i].gatewayCpuUsPerRequest));
    out.rpsRatioOfMedians = out.rps.median / summary(baselineRuns.map(r => r.rps)).median;
    out.p99RatioOfMedians = out.p99Ms.median / summary(baselineRuns.map(r => r.latencyMs.p99)).median;
  }
  return out;
}

async function main() {
  const command = `node bench/throughput.js${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const started = Date.now();
  const result = {
    case: 'throughput',
    meta: { ...meta(command), layout: TASKSET ? 'gateway on core 0; agent, autocannon and scraper on core 1' : 'unpinned (no taskset)' },
    config: { durationS: DURATION, rounds: ROUNDS, connections: CONNECTIONS, scrapedRate: RATE, syntheticSeries: SYNTHETIC, warmupS: WARMUP_S, agent: 'bench/lib/fast-agent.js' },
  };
  const { child: agent, info: agentInfo } = await startNode(AGENT, ['--http', '--port', '0', '--name', 'node-a', '--delay', '0'], { cpu: 1 });
  const nodes = [{ name: 'node-a', http: `127.0.0.1:${agentInfo.port}`, pod: 'agent-a' }];
  const gateways = [];
  try {
    // ---- Part A ----
    // "ours" is the plugin with the HTTP automatic path (health checks off: they
    // are a separate, explicit feature, and the first explicit measured call
    // turns on the AsyncLocalStorage that deduplicates it against the automatic
    // paths). The extras show what each optional piece costs on top.
    const allSpecs = flag('skip-throughput') ? {} : {
      none: ['none'],
      ours: ['otel', { args: ['--health-interval', '0'] }],
      promClient: ['prom-client'],
      oursNoSizes: ['otel', { args: ['--health-interval', '0'], env: { GATEWAY_METRICS_HTTP_SIZES: 'false' } }],
      // The example gateway routes JSON-RPC: with the MCP observation on (the
      // default) every call is also read as JSON-RPC and recorded on
      // mcp.client.operation.duration.
      oursNoMcp: ['otel', { args: ['--health-interval', '0'], env: { GATEWAY_METRICS_MCP: 'false' } }],
      oursHealthChecks: ['otel', { args: ['--health-interval', '1000'] }],
      oursInboundHttp: ['otel', { args: ['--health-interval', '0'], env: { GATEWAY_METRICS_INBOUND_HTTP: 'true' } }],
    };
    // --variants ours,promClient: only these (none, ours and promClient are always kept: the ratios need them).
    const only = arg('variants', undefined)?.split(',');
    const specs = only === undefined ? allSpecs : Object.fromEntries(Object.entries(allSpecs).filter(([k]) => ['none', 'ours', 'promClient', ...only].includes(k)));
    const gw = {};
    for (const [name, [mode, opts]] of Object.entries(specs)) {
      gw[name] = await startGateway(nodes, mode, opts);
      gateways.push(gw[name].child);
      await cannon(gw[name].url, WARMUP_S, gw[name].child.pid);
    }
    const runs = Object.fromEntries(Object.keys(specs).map(k => [k, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const name of rotate(Object.keys(specs), r)) {
        const res = await cannon(gw[name].url, DURATION, gw[name].child.pid);
        runs[name].push(res);
        console.log(`throughput round ${r + 1}/${ROUNDS} ${name}: ${sig(res.rps)} req/s, p99 ${sig(res.latencyMs.p99)} ms, gateway ${sig(res.gatewayCpuUsPerRequest)} µs CPU/req (${Math.round(100 * res.gatewayCpuShare)}% of core 0)`);
      }
    }
    for (const name of Object.keys(specs)) {
      await kill(gw[name].child);
    }
    if (Object.keys(specs).length > 0) result.throughput = { runs, summary: Object.fromEntries(Object.keys(specs).map(k => [k, summarize(runs[k], k === 'none' ? undefined : runs.none)])) };
    if (result.throughput) result.throughput.summary.ours.rpsRatioToPromClient = summary(runs.ours.map((x, i) => x.rps / runs.promClient[i].rps));

    // ---- Part B ----
    if (!flag('skip-scraped')) {
      const sgw = {
        ours: await startGateway(nodes, 'otel', { synthetic: SYNTHETIC, args: ['--health-interval', '0'] }),
        promClient: await startGateway(nodes, 'prom-client', { synthetic: SYNTHETIC }),
      };
      gateways.push(...Object.values(sgw).map(g => g.child));
      for (const g of Object.values(sgw)) {
        await cannon(g.url, WARMUP_S);
        await withScraper(g.metricsUrl, () => sleep(1500));
      }
      // The generator's own floor on this machine: straight to the agent, no gateway.
      const { child: fc, info: floor } = await startNode(PACED, ['--url', `http://127.0.0.1:${agentInfo.port}/rpc`, '--duration', String(DURATION), '--rate', String(RATE)], { cpu: 1, timeoutMs: (DURATION + 60) * 1000 });
      await new Promise(r => (fc.exitCode !== null ? r() : fc.once('exit', r)));
      console.log(`scraped: generator floor (no gateway) p50 ${sig(floor.latencyMs.p50)} ms, p99 ${sig(floor.latencyMs.p99)} ms`);
      const variants = ['ours:unscraped', 'ours:scraped', 'promClient:unscraped', 'promClient:scraped'];
      const sruns = Object.fromEntries(variants.map(v => [v, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const v of rotate(variants, r)) {
          const [impl, mode] = v.split(':');
          const g = sgw[impl];
          const res = mode === 'scraped' ? await withScraper(g.metricsUrl, () => cannon(g.url, DURATION, g.child.pid, RATE)) : await cannon(g.url, DURATION, g.child.pid, RATE);
          sruns[v].push(res);
          console.log(`scraped round ${r + 1}/${ROUNDS} ${v}: ${sig(res.rps)} req/s, p99 ${sig(res.latencyMs.p99)} ms, core 0 ${Math.round(100 * res.gatewayCpuShare)}%` +
            (res.scrape ? `, ${res.scrape.scrapes} scrapes of ${sig(res.scrape.bytes / 1e6)} MB, median ${sig(res.scrape.ttlbMs[Math.floor(res.scrape.ttlbMs.length / 2)])} ms` : ''));
        }
      }
      for (const g of Object.values(sgw)) await kill(g.child);
      const ssum = {};
      for (const impl of Object.keys(sgw)) {
        const un = sruns[`${impl}:unscraped`];
        const sc = sruns[`${impl}:scraped`];
        ssum[impl] = {
          unscraped: summarize(un),
          scraped: summarize(sc, un),
          scrapeTtlbMs: summary(sc.flatMap(r => r.scrape.ttlbMs)),
          scrapes: sc.reduce((a, r) => a + r.scrape.scrapes, 0),
          scrapeBytes: sc[sc.length - 1].scrape.bytes,
        };
      }
      result.scraped = { runs: sruns, summary: ssum, generatorFloor: floor };
    }
  } finally {
    for (const c of gateways) await kill(c);
    await kill(agent);
  }
  result.seconds = (Date.now() - started) / 1000;
  // --out NAME: write bench/results/NAME.json instead (experiments; BENCHMARKS.md reads throughput.json).
  const file = writeResult(arg('out', 'throughput'), result);
  console.log(`throughput: wrote ${path.relative(process.cwd(), file)} (${sig(result.seconds)} s)`);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
