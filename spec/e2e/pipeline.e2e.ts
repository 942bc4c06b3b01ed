/**
 * Issue #4: the real pipeline, end to end (npm run test:e2e).
 *
 *   load generator → example gateway + otel-gateway-metrics ─┬─ /metrics ───────────────────────────── Prometheus
 *   (loopback, bounded)   (agents over HTTP, kubectl exec)    └─ OTLP/HTTP → OpenTelemetry Collector ─ :8889 ─┘
 *   MCP client ──/mcp──↗  (MCP agents: Streamable HTTP,                       (otel-collector.yaml)
 *                          persistent stdio via kubectl exec)
 *
 * MCP: a real MCP client (@modelcontextprotocol/sdk) calls tools on the
 * gateway's /mcp; the gateway routes each tools/call to the MCP agent of the
 * node named in it: mcp-e over Streamable HTTP (its summarize is slow), mcp-f
 * over the persistent stdio agent (its HTTP agent is down). Each JSON-RPC
 * request is one attempt, and one sample of mcp_client_operation_duration_seconds.
 *
 * Every server is real, on 127.0.0.1 with free ports, in its own process group
 * with a bounded lifetime, and stopped (group-wide) after. Prometheus runs
 * examples/prometheus.yml (targets and intervals substituted) with
 * examples/alerts.yml, and the assertions are the operator's PromQL through its
 * HTTP API, and every query of examples/grafana-dashboard.json.
 *
 * Telling the two paths apart: the direct scrape's series carry the scrape
 * job's name (job="otel-gateway-metrics"); the collector path's series, scraped
 * with honor_labels: true, carry the job the collector derives from the
 * gateway's service.name (job="example-gateway"). The suite first checks that
 * every gateway series falls in exactly one of these two jobs, each from its own
 * scrape target (instance), so the per-path selectors below are disjoint and
 * cover everything.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, childEnv } from '../helpers/child';
import { addStats, loadgen, plannedStats, spreadPlan, type Call, type NodeStats } from '../helpers/load';
import { freePort, freePorts, removeOnExit, startProcess, stopAll, waitFor, waitForHttp200, type Proc } from '../helpers/procs';
import { byLabel, PromApi, type VectorSample } from '../helpers/promapi';
import { tools, type Tools } from '../helpers/tools';

// ---- topology and load --------------------------------------------------------
interface NodeSpec {
  name: string;
  pod: string;
  delayMs: number;
  /** Nobody listens on its HTTP address: every request falls back to exec. */
  httpDown?: boolean;
  /** An MCP agent (examples/gateway/mcp-agent.js), called by the MCP client through the gateway's /mcp. */
  mcp?: boolean;
  /** MCP: per-tool delays (ms). */
  slow?: Record<string, number>;
}

const NODES: NodeSpec[] = [
  { name: 'node-a', pod: 'agent-a', delayMs: 5 },
  { name: 'node-b', pod: 'agent-b', delayMs: 10 }, // fails every FAIL_EVERY-th call (HTTP 500)
  { name: 'node-c', pod: 'agent-c', delayMs: 1500 }, // the slow node
  { name: 'node-d', pod: 'agent-d', delayMs: 5, httpDown: true }, // HTTP down → kubectl exec
  { name: 'mcp-e', pod: 'agent-e', delayMs: 5, mcp: true, slow: { summarize: 1200 } }, // MCP over Streamable HTTP; one slow tool
  { name: 'mcp-f', pod: 'agent-f', delayMs: 5, mcp: true, httpDown: true }, // MCP, HTTP down → persistent stdio agent
];
const NODE_NAMES = NODES.map(n => n.name).sort();
const SLOW_NODE = 'node-c';
const FAIL_EVERY = { 'node-b': 10 };
/**
 * The measured load, spread evenly over LOAD_SECONDS. node-c's 6 slow calls are
 * 0.4% of the ~1460 HTTP attempts, so they cannot reach the HTTP p99, while
 * all of node-c's own attempts are slow (p95 > 1 s). node-d's exec attempts
 * (a kubectl child process each, ~50–250 ms) are the only exec attempts.
 */
const MAIN_COUNTS: Record<string, number> = { 'node-a': 900, 'node-b': 500, 'node-c': 6, 'node-d': 50 };
const LOAD_SECONDS = 25;
const CONCURRENCY = 16;
/**
 * Before the measured load: one call of each kind, so that every series exists
 * and has been scraped at least once through both paths before the load starts;
 * rate() then sees all of the load's increases (a series' first sample has no
 * predecessor to increase from).
 */
const WARMUP: Call[] = [{ node: 'node-a' }, { node: 'node-b', fail: true }, { node: 'node-b' }, { node: 'node-c' }, { node: 'node-d' }];
/**
 * The MCP client's tools/call requests, spread over the same LOAD_SECONDS.
 * mcp-e: summarize (1.2 s) is 3 of its 104 calls (2.9%), so the tool's p95 is
 * above 1 s (SlowGatewayTool) and the node's is not (only node-c's p95 is
 * above 1 s). mcp-f: one tool error (isError) in 46 calls, 2.2% of its exec
 * attempts, under HighGatewayErrorRate's 5%.
 */
const MCP_MAIN: Call[] = spreadCalls([
  ...repeat(50, { node: 'mcp-e', tool: 'search' }), ...repeat(51, { node: 'mcp-e', tool: 'fetch_doc' }), ...repeat(3, { node: 'mcp-e', tool: 'summarize' }),
  ...repeat(20, { node: 'mcp-f', tool: 'search' }), ...repeat(20, { node: 'mcp-f', tool: 'fetch_doc' }), { node: 'mcp-f', tool: 'fetch_doc', fail: true },
  ...repeat(5, { node: 'mcp-f', tool: 'summarize' }),
]);
/** Every MCP series exists before the load (the error one too), as for WARMUP. */
const MCP_WARMUP: Call[] = [
  { node: 'mcp-e', tool: 'search' }, { node: 'mcp-e', tool: 'fetch_doc' }, { node: 'mcp-e', tool: 'summarize' },
  { node: 'mcp-f', tool: 'search' }, { node: 'mcp-f', tool: 'fetch_doc' }, { node: 'mcp-f', tool: 'fetch_doc', fail: true }, { node: 'mcp-f', tool: 'summarize' },
];
const MCP_CONCURRENCY = 4;

function repeat(n: number, call: Call): Call[] {
  return Array.from({ length: n }, () => ({ ...call }));
}

/** Each (node, tool, fail) group's calls spread evenly over the run, as spreadPlan does per node. */
function spreadCalls(calls: Call[]): Call[] {
  const groups = new Map<string, Call[]>();
  for (const c of calls) {
    const k = `${c.node} ${c.tool} ${c.fail === true}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const keyed = [...groups.values()].flatMap((g, order) => g.map((call, j) => ({ at: (j + 0.5) / g.length, order, call })));
  return keyed.sort((a, b) => a.at - b.at || a.order - b.order).map(x => x.call);
}

/**
 * A real MCP client (Streamable HTTP) on the gateway's /mcp: every call is a
 * tools/call with the node in its arguments, `concurrency` at a time, paced
 * evenly over `seconds`. Per node and tool: sent, ok (a result), failed (a
 * result with isError, or an error).
 */
async function mcpCalls(url: string, calls: Call[], concurrency: number, seconds = 0): Promise<Record<string, NodeStats>> {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const client = new Client({ name: 'e2e-mcp-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const out: Record<string, NodeStats> = {};
  const args = loadgen.TOOL_ARGS;
  const interval = seconds > 0 ? (seconds * 1000) / calls.length : 0;
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < calls.length) {
      const i = next++;
      const call = calls[i]!;
      const due = t0 + i * interval;
      if (due > Date.now()) await new Promise(r => setTimeout(r, due - Date.now()));
      let ok = false;
      try {
        const result = await client.callTool({ name: call.tool!, arguments: { node: call.node, ...args[call.tool!], ...(call.fail ? { fail: true } : {}) } });
        ok = result.isError !== true;
      } catch {
        ok = false;
      }
      const s = (out[call.node] ??= { sent: 0, ok: 0, failed: 0 });
      for (const c of [s, ((s.tools ??= {})[call.tool!] ??= { sent: 0, ok: 0, failed: 0 })]) {
        c.sent++;
        if (ok) c.ok++;
        else c.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, calls.length) }, worker));
  await client.close();
  return out;
}

const DIRECT_JOB = 'otel-gateway-metrics'; // scrape job of examples/prometheus.yml
const COLLECTOR_SCRAPE_JOB = 'otel-collector'; // scrape job of examples/prometheus.yml
const SERVICE_NAME = 'example-gateway'; // the example gateway's service.name → job via the collector
const PATHS = { direct: `job="${DIRECT_JOB}"`, collector: `job="${SERVICE_NAME}"` } as const;
type PathName = keyof typeof PATHS;
const PATH_NAMES = Object.keys(PATHS) as PathName[];

const LIFETIME_MS = 8 * 60_000; // hard limit for every server of the suite
const RANGE = '1m';

// ---- expected values from what the load generator saw -----------------------
type Counts = Record<string, number>;

/** gateway_request_duration_seconds_count per "node transport status": one sample per attempt. */
function expectedAttempts(stats: Record<string, NodeStats>): Counts {
  const out: Counts = {};
  const add = (key: string, n: number) => {
    if (n > 0) out[key] = (out[key] ?? 0) + n;
  };
  for (const n of NODES) {
    const s = stats[n.name] ?? { sent: 0, ok: 0, failed: 0 };
    if (n.mcp) {
      // One JSON-RPC request per attempt: each tools/call, plus the
      // initialize of each session the gateway opens (over HTTP at its start;
      // over stdio when the first call falls back). A down HTTP agent refuses
      // the start-up session and every call's own session.
      if (n.httpDown) {
        add(`${n.name} http error`, s.sent + 1);
        add(`${n.name} exec success`, s.ok + 1);
        add(`${n.name} exec error`, s.failed);
      } else {
        add(`${n.name} http success`, s.ok + 1);
        add(`${n.name} http error`, s.failed);
      }
    } else if (n.httpDown) {
      add(`${n.name} http error`, s.sent); // refused, then…
      add(`${n.name} exec success`, s.ok); // …exec
      add(`${n.name} exec error`, s.failed);
    } else {
      add(`${n.name} http success`, s.ok);
      add(`${n.name} http error`, s.failed);
    }
  }
  return out;
}

/** gateway_request_errors_total per "node transport error_type". */
function expectedErrors(stats: Record<string, NodeStats>): Counts {
  const out: Counts = {};
  for (const n of NODES) {
    const s = stats[n.name]!;
    if (n.mcp) {
      if (n.httpDown) out[`${n.name} http connection_refused`] = s.sent + 1;
      if (s.failed > 0) out[`${n.name} ${n.httpDown ? 'exec' : 'http'} tool_error`] = s.failed; // a result with isError
    } else if (n.httpDown) out[`${n.name} http connection_refused`] = s.sent;
    // The plain agent's failure is HTTP 500 with a JSON-RPC error body: the
    // gateway's call is a JSON-RPC request, so its error type is the code.
    else if (s.failed > 0) out[`${n.name} http -32000`] = s.failed;
  }
  return out;
}

/** gateway_fallbacks_total per "node from_transport to_transport". */
function expectedFallbacks(stats: Record<string, NodeStats>): Counts {
  return Object.fromEntries(NODES.filter(n => n.httpDown).map(n => [`${n.name} http exec`, stats[n.name]!.sent]));
}

/**
 * mcp_client_operation_duration_seconds_count per "node transport
 * network_transport mcp_method_name gen_ai_tool_name error_type" ("-" for a
 * label a series does not have).
 */
function expectedMcp(stats: Record<string, NodeStats>): Counts {
  const out: Counts = {};
  for (const n of NODES.filter(x => x.mcp)) {
    const s = stats[n.name]!;
    const [transport, network] = n.httpDown ? ['exec', 'pipe'] : ['http', 'tcp'];
    out[`${n.name} ${transport} ${network} initialize - -`] = 1;
    for (const [tool, t] of Object.entries(s.tools ?? {})) {
      if (t.ok > 0) out[`${n.name} ${transport} ${network} tools/call ${tool} -`] = t.ok;
      if (t.failed > 0) out[`${n.name} ${transport} ${network} tools/call ${tool} tool_error`] = t.failed;
    }
  }
  return out;
}
const MCP_LABELS = ['node', 'transport', 'network_transport', 'mcp_method_name', 'gen_ai_tool_name', 'error_type'];

function keyed(samples: VectorSample[], labels: string[]): Counts {
  const out: Counts = {};
  for (const s of samples) {
    const key = labels.map(l => s.metric[l] ?? '-').join(' ');
    if (key in out) throw new Error(`two series for ${key}: ${JSON.stringify(samples.map(x => x.metric))}`);
    out[key] = Number(s.value[1]);
  }
  return out;
}

const sorted = (c: Counts): Counts => Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));

// ---- the operator's prometheus.yml, on loopback -------------------------------
function substituteOnce(text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`examples/prometheus.yml: expected "${from}" exactly once, found it ${n} times`);
  return text.replace(from, to);
}

function operatorPrometheusConfig(direct: string, collector: string): string {
  let cfg = readFileSync(join(ROOT, 'examples', 'prometheus.yml'), 'utf8');
  cfg = substituteOnce(cfg, 'scrape_interval: 15s', 'scrape_interval: 1s');
  cfg = substituteOnce(cfg, 'evaluation_interval: 15s', 'evaluation_interval: 1s');
  cfg = substituteOnce(cfg, "'gateway-1:9464'", `'${direct}'`);
  cfg = substituteOnce(cfg, "'otel-collector:8889'", `'${collector}'`);
  // The job names the suite selects by (see the header comment).
  for (const job of [DIRECT_JOB, COLLECTOR_SCRAPE_JOB]) substituteOnce(cfg, `job_name: ${job}\n`, `job_name: ${job}\n`);
  return cfg;
}

// ---- Grafana dashboard --------------------------------------------------------
interface Panel {
  id: number;
  title: string;
  type: string;
  targets?: { refId: string; expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

function dashboardTargets(d: Dashboard): { panel: string; refId: string; expr: string }[] {
  const flat = (ps: Panel[]): Panel[] => ps.flatMap(p => [p, ...flat(p.panels ?? [])]);
  return flat(d.panels).flatMap(p => (p.targets ?? []).map(t => ({ panel: `${p.id} ${p.title}`, refId: t.refId, expr: t.expr })));
}

/** Grafana's template variables, as the e2e evaluates them: one job, all nodes, 1m rate window. */
function substitute(expr: string, vars: Record<string, string>): string {
  let out = expr.replace(/\$__rate_interval|\$\{__rate_interval\}/g, RANGE);
  for (const [name, value] of Object.entries(vars)) out = out.replace(new RegExp(`\\$\\{${name}\\}|\\$${name}\\b`, 'g'), value);
  if (out.includes('$')) throw new Error(`unsubstituted template variable in: ${out}`);
  return out;
}

const leNum = (le: string) => (le === '+Inf' ? Infinity : Number(le));
const finite = (samples: VectorSample[]) => samples.filter(s => Number.isFinite(Number(s.value[1])));

// ---------------------------------------------------------------------------------
describe('e2e: gateway → /metrics and → OTLP → Collector (otel-collector.yaml) → Prometheus; PromQL, dashboard, alerts', function () {
  this.timeout(60_000);
  this.slow(30_000);

  let t: Tools;
  let tmp: string;
  let prom: PromApi;
  let collector: Proc;
  let gateway: Proc;
  let prometheus: Proc;
  const procs: Proc[] = [];
  let directTarget: string; // host:port of the gateway's /metrics
  let collectorTarget: string; // host:port of the collector's prometheus exporter
  let metricsUrl: string;
  let mcpUrl: string; // the gateway's own MCP endpoint
  let metricsText: string;
  let stats: Record<string, NodeStats>;
  let planned: Record<string, NodeStats>;
  let loadStart: number; // s since the epoch
  let evalTime: number; // every query is evaluated at this instant
  const timings: Record<string, number> = {};
  const results: Record<string, unknown> = {};

  const counts = async (expr: string, path: PathName, labels: string[], time: number) =>
    sorted(keyed(await prom.query(`${expr}{${PATHS[path]}}`, time), labels));
  const attempts = (path: PathName, time: number) => counts('gateway_request_duration_seconds_count', path, ['node', 'transport', 'status'], time);

  /** Poll until both paths show exactly `expected` attempts; returns the query time that did. */
  async function waitForAttempts(what: string, expected: Counts, timeoutMs: number): Promise<number> {
    const want = JSON.stringify(sorted(expected));
    return waitFor(what, async () => {
      const at = Date.now() / 1000;
      const seen = await Promise.all(PATH_NAMES.map(p => attempts(p, at)));
      const mismatch = PATH_NAMES.map((p, i) => [p, seen[i]] as const).filter(([, c]) => JSON.stringify(c) !== want);
      if (mismatch.length > 0) throw new Error(`want ${want}; ${mismatch.map(([p, c]) => `${p}: ${JSON.stringify(c)}`).join('; ')}`);
      return at;
    }, timeoutMs, 250);
  }

  const tails = () => procs.map(p => `---- ${p.name} (last 3000 chars)\n${p.output().slice(-3000)}`).join('\n');

  before(async function () {
    // On a fresh machine tools() first builds the collector (bounded at 15 min
    // in helpers/tools.ts); with a warm cache everything here takes ~40 s.
    this.timeout(20 * 60_000);
    const t0 = Date.now();
    try {
      t = tools({ collector: true });
      timings.toolsMs = Date.now() - t0;
      tmp = removeOnExit(mkdtempSync(join(tmpdir(), 'otel-gateway-metrics-e2e-')));
      const [otlpGrpc, otlpHttp, collectorProm, collectorHealth, promPort] = await freePorts(5);
      collectorTarget = `127.0.0.1:${collectorProm}`;

      // 1. The collector, with the file users copy; only the addresses are overridden, through its env vars.
      collector = startProcess('otelcol', t.otelcol, ['--config=otel-collector.yaml', '--config=yaml:service::telemetry::metrics::level: none'], {
        env: {
          ...childEnv({}),
          OTELCOL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${otlpGrpc}`,
          OTELCOL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${otlpHttp}`,
          OTELCOL_PROMETHEUS_ENDPOINT: collectorTarget,
          OTELCOL_HEALTH_ENDPOINT: `127.0.0.1:${collectorHealth}`,
        },
        lifetimeMs: LIFETIME_MS,
      });
      procs.push(collector);
      await waitForHttp200('the collector health_check', `http://127.0.0.1:${collectorHealth}/`, 60_000, collector);
      timings.collectorReadyMs = Date.now() - t0;

      // 2. Agents (node-d gets an address nobody listens on), then the gateway.
      const nodes: { name: string; http: string; pod: string; mcp?: boolean }[] = [];
      const slowArg = (n: NodeSpec) => Object.entries(n.slow ?? {}).map(([tool, ms]) => `${tool}=${ms}`).join(',');
      for (const n of NODES) {
        const mcp = n.mcp ? { mcp: true } : {};
        if (n.httpDown) {
          nodes.push({ name: n.name, http: `127.0.0.1:${await freePort()}`, pod: n.pod, ...mcp });
          continue;
        }
        const agentArgs = n.mcp
          ? ['examples/gateway/mcp-agent.js', '--http', '--port', '0', '--name', n.name, '--delay', String(n.delayMs), ...(n.slow ? ['--slow', slowArg(n)] : [])]
          : ['examples/gateway/agent.js', '--http', '--port', '0', '--name', n.name, '--delay', String(n.delayMs)];
        const agent = startProcess(`agent ${n.name}`, process.execPath, agentArgs, { env: childEnv({}), lifetimeMs: LIFETIME_MS });
        procs.push(agent);
        const { port } = JSON.parse(await agent.line(/"port"/)) as { port: number };
        nodes.push({ name: n.name, http: `127.0.0.1:${port}`, pod: n.pod, ...mcp });
      }
      const pods = Object.fromEntries(NODES.map(n => [n.pod, { name: n.name, delayMs: n.delayMs, ...(n.slow ? { slow: n.slow } : {}) }]));
      gateway = startProcess('gateway', process.execPath, ['examples/gateway/gateway.js', '--nodes', JSON.stringify(nodes), '--port', '0', '--metrics-port', '0'], {
        env: childEnv({
          DEMO_PODS: JSON.stringify(pods),
          OTEL_METRICS_EXPORTER: 'prometheus,otlp',
          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf',
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${otlpHttp}/v1/metrics`,
          OTEL_METRIC_EXPORT_INTERVAL: '1000',
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
        }),
        lifetimeMs: LIFETIME_MS,
      });
      procs.push(gateway);
      const ready = JSON.parse(await gateway.line(/"gateway"/, 30_000)) as { gateway: string; metrics: string | null };
      if (ready.metrics === null) throw new Error(`the gateway has no Prometheus endpoint: ${JSON.stringify(ready)}`);
      metricsUrl = ready.metrics;
      directTarget = new URL(metricsUrl).host;
      expect(new URL(metricsUrl).hostname).to.equal('127.0.0.1');

      // 3. Prometheus with the operator's prometheus.yml and alerts.yml.
      writeFileSync(join(tmp, 'prometheus.yml'), operatorPrometheusConfig(directTarget, collectorTarget));
      copyFileSync(join(ROOT, 'examples', 'alerts.yml'), join(tmp, 'alerts.yml'));
      prometheus = startProcess('prometheus', t.prometheus, [
        `--config.file=${join(tmp, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(tmp, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        '--log.level=warn',
      ], { cwd: tmp, env: childEnv({}), lifetimeMs: LIFETIME_MS });
      procs.push(prometheus);
      const base = `http://127.0.0.1:${promPort}`;
      await waitForHttp200('Prometheus /-/ready', `${base}/-/ready`, 60_000, prometheus);
      prom = new PromApi(base);
      await waitFor('both scrape targets up', async () => {
        const up = byLabel(await prom.query('up'), 'job');
        return up[DIRECT_JOB] === 1 && up[COLLECTOR_SCRAPE_JOB] === 1 ? up : undefined;
      }, 30_000);
      timings.stackReadyMs = Date.now() - t0;

      // 4. Warm-up: every series exists and is scraped through both paths.
      const gatewayUrl = ready.gateway;
      mcpUrl = new URL('/mcp', gatewayUrl).href;
      const warm = addStats(
        await loadgen.sendCalls(gatewayUrl, WARMUP, { concurrency: WARMUP.length }),
        await mcpCalls(mcpUrl, MCP_WARMUP, 1),
      );
      await waitForAttempts('the warm-up attempts through both paths', expectedAttempts(warm), 30_000);

      // 5. The measured load: bounded in calls and time, paced evenly.
      const main = spreadPlan(MAIN_COUNTS, FAIL_EVERY);
      loadStart = Date.now() / 1000;
      const [mainStats, mcpStats] = await Promise.all([
        loadgen.sendCalls(gatewayUrl, main, { concurrency: CONCURRENCY, rate: main.length / LOAD_SECONDS }),
        mcpCalls(mcpUrl, MCP_MAIN, MCP_CONCURRENCY, LOAD_SECONDS),
      ]);
      timings.loadMs = Math.round((Date.now() / 1000 - loadStart) * 1000);
      stats = addStats(warm, mainStats, mcpStats);
      planned = addStats(plannedStats(WARMUP), plannedStats(MCP_WARMUP), plannedStats(main), plannedStats(MCP_MAIN));

      // 6. Until the final counts are in Prometheus through both paths (bounded), then fix the evaluation time.
      evalTime = await waitForAttempts('the final attempts through both paths', expectedAttempts(stats), 30_000);
      timings.visibleAfterLoadMs = Math.round((evalTime - loadStart) * 1000) - timings.loadMs;
      // The [1m] windows at evalTime must reach back before the load (to the warm-up samples).
      if (evalTime - loadStart > 55) throw new Error(`the load and its propagation took ${Math.round(evalTime - loadStart)} s: too long for rate(...[1m]) to cover it`);

      // For the record (and for diagnosing a failure): the attempts' latency distribution.
      const buckets = await prom.query(`sum by (node, transport, le) (gateway_request_duration_seconds_bucket{${PATHS.direct}})`, evalTime);
      const dist: Record<string, string[]> = {}; // "node transport" → ["le=count", …], cumulative
      for (const b of buckets.sort((x, y) => leNum(x.metric.le!) - leNum(y.metric.le!))) (dist[`${b.metric.node} ${b.metric.transport}`] ??= []).push(`${b.metric.le}=${b.value[1]}`);
      results.bucketsDirect = dist;

      const res = await fetch(metricsUrl);
      expect(res.status).to.equal(200);
      metricsText = await res.text();
      timings.beforeMs = Date.now() - t0;
    } catch (err) {
      if (err instanceof Error) err.message += `\n${tails()}`;
      throw err;
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(tails());
  });

  after(async function () {
    this.timeout(60_000);
    await stopAll(10_000);
    const alive = procs.filter(p => p.groupAlive()).map(p => `${p.name} (pgid ${p.pgid})`);
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    if (process.env.E2E_RESULTS !== undefined) writeFileSync(process.env.E2E_RESULTS, `${JSON.stringify({ timings, stats, results }, null, 2)}\n`);
    console.log(`      e2e timings: ${JSON.stringify(timings)}`);
    expect(alive, 'process groups still alive after teardown').to.deep.equal([]);
  });

  it('the load went as planned (every call answered as designed)', () => {
    expect(stats).to.deep.equal(planned);
    expect(stats['node-b']!.failed).to.equal(1 + Math.floor(MAIN_COUNTS['node-b']! / FAIL_EVERY['node-b']));
  });

  it('tells the two paths apart: each gateway series is in exactly one job, each job from its own source', async () => {
    // Direct: the scrape target's address. Collector (honor_labels): the
    // instance it derives from the gateway's service.instance.id, which the
    // plugin sets per process (seen on the direct path's target_info).
    const info = await prom.query(`target_info{${PATHS.direct}}`, evalTime);
    expect(info).to.have.length(1);
    const instanceId = info[0]!.metric.service_instance_id;
    expect(instanceId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const groups = await prom.query('count by (job, instance) ({__name__=~"gateway_.+"})', evalTime);
    const pairs = groups.map(g => `${g.metric.job} ${g.metric.instance}`).sort();
    expect(pairs).to.deep.equal([`${SERVICE_NAME} ${instanceId}`, `${DIRECT_JOB} ${directTarget}`].sort());
    results.pathSeries = Object.fromEntries(groups.map(g => [g.metric.job, Number(g.value[1])]));
  });

  it('(1) histogram_quantile(0.99, … by (le, transport)): HTTP p99 < exec p99, both paths together and each alone', async () => {
    const q = (sel: string) => `histogram_quantile(0.99, sum by (le, transport) (rate(gateway_request_duration_seconds_bucket${sel}[${RANGE}])))`;
    const out: Record<string, Record<string, number>> = {};
    for (const [name, sel] of [['both', ''], ['direct', `{${PATHS.direct}}`], ['collector', `{${PATHS.collector}}`]] as const) {
      const p99 = byLabel(await prom.query(q(sel), evalTime), 'transport');
      out[name] = p99;
      expect(Object.keys(p99).sort(), name).to.deep.equal(['exec', 'http']);
      expect(p99.http, `${name}: http p99`).to.be.a('number').and.satisfy(Number.isFinite);
      expect(p99.exec, `${name}: exec p99`).to.be.a('number').and.satisfy(Number.isFinite);
      expect(p99.http!, `${name}: http p99 < exec p99; attempts by latency bucket: ${JSON.stringify(results.bucketsDirect)}`).to.be.below(p99.exec!);
    }
    // The same attempts through both paths give the same quantiles (up to rate()'s
    // extrapolation, which depends on each target's own scrape timestamps).
    for (const tr of ['http', 'exec']) expect(out.collector![tr]!, tr).to.be.closeTo(out.direct![tr]!, 0.05 * out.direct![tr]!);
    results.p99ByTransport = out;
  });

  it('(2) histogram_quantile(0.95, … by (le, node)) > 1 returns exactly the slow node', async () => {
    const q = (sel: string) => `histogram_quantile(0.95, sum by (le, node) (rate(gateway_request_duration_seconds_bucket${sel}[${RANGE}])))`;
    const out: Record<string, unknown> = {};
    for (const [name, sel] of [['both', ''], ['direct', `{${PATHS.direct}}`], ['collector', `{${PATHS.collector}}`]] as const) {
      const slow = await prom.query(`${q(sel)} > 1`, evalTime);
      expect(slow.map(s => s.metric.node), `${name}; attempts by latency bucket: ${JSON.stringify(results.bucketsDirect)}`).to.deep.equal([SLOW_NODE]);
      const all = byLabel(await prom.query(q(sel), evalTime), 'node');
      expect(Object.keys(all).sort(), name).to.deep.equal(NODE_NAMES);
      out[name] = all;
    }
    results.p95ByNode = out;
  });

  it('(3) error rate by node is non-zero exactly for the failing nodes (node-b: 1 call in 10; node-d and mcp-f: every HTTP attempt)', async () => {
    // The dashboard's "Error rate by node": failed attempts / attempts, 0 for nodes without errors.
    const q = (sel: string) =>
      `(sum by (node) (rate(gateway_request_errors_total${sel}[${RANGE}])) or 0 * sum by (node) (rate(gateway_request_duration_seconds_count${sel}[${RANGE}])))` +
      ` / sum by (node) (rate(gateway_request_duration_seconds_count${sel}[${RANGE}]))`;
    const out: Record<string, Record<string, number>> = {};
    for (const [name, sel] of [['both', ''], ['direct', `{${PATHS.direct}}`], ['collector', `{${PATHS.collector}}`]] as const) {
      const rate = byLabel(await prom.query(q(sel), evalTime), 'node');
      out[name] = rate;
      expect(Object.keys(rate).sort(), name).to.deep.equal(NODE_NAMES);
      expect(Object.keys(rate).filter(n => rate[n]! > 0).sort(), `${name}: nodes with errors`).to.deep.equal(['mcp-f', 'node-b', 'node-d']);
      expect(rate['node-a'], name).to.equal(0);
      expect(rate['node-c'], name).to.equal(0);
      expect(rate['mcp-e'], name).to.equal(0);
      // mcp-f, per call: one refused HTTP attempt and one exec attempt; one of its exec calls is a tool error.
      // mcp-f's HTTP series exists from the gateway's start (its refused
      // start-up session), before the warm-up, so the window sees the
      // warm-up's refused attempts too; its exec series start with the
      // warm-up, so only the main load's: (4 + 46 + 1) / (4 + 46 + 46).
      const w = plannedStats(MCP_WARMUP)['mcp-f']!;
      const f = plannedStats(MCP_MAIN)['mcp-f']!;
      expect(rate['mcp-f']!, name).to.be.closeTo((w.sent + f.sent + f.failed) / (w.sent + 2 * f.sent), 0.01);
      expect(rate['node-b']!, name).to.be.closeTo(1 / FAIL_EVERY['node-b'], 0.01); // 50 of 500 in the window
      expect(rate['node-d']!, name).to.be.closeTo(0.5, 0.01); // one failed http + one exec attempt per request
    }
    results.errorRateByNode = out;
  });

  for (const path of PATH_NAMES) {
    it(`(4) fidelity, ${path === 'direct' ? 'direct scrape of /metrics' : 'through the collector'}: attempts per node/transport/status, errors and fallbacks equal what the load generator sent`, async () => {
      expect(await attempts(path, evalTime)).to.deep.equal(sorted(expectedAttempts(stats)));
      expect(await counts('gateway_request_errors_total', path, ['node', 'transport', 'error_type'], evalTime)).to.deep.equal(sorted(expectedErrors(stats)));
      expect(await counts('gateway_fallbacks_total', path, ['node', 'from_transport', 'to_transport'], evalTime)).to.deep.equal(sorted(expectedFallbacks(stats)));
      // In flight 0: also mcp-e's Streamable HTTP session (its event stream is open) and mcp-f's idle stdio agent.
      expect(await counts('gateway_requests_active', path, ['node', 'transport'], evalTime)).to.deep.equal({
        'mcp-e http': 0, 'mcp-f exec': 0, 'mcp-f http': 0, 'node-a http': 0, 'node-b http': 0, 'node-c http': 0, 'node-d exec': 0, 'node-d http': 0,
      });
      // The example gateway health-checks each HTTP agent: node-d's and mcp-f's never answer.
      expect(await counts('gateway_node_up', path, ['node'], evalTime)).to.deep.equal({ 'mcp-e': 1, 'mcp-f': 0, 'node-a': 1, 'node-b': 1, 'node-c': 1, 'node-d': 0 });
      // The +Inf bucket is the count, bucket by bucket.
      const inf = await counts('gateway_request_duration_seconds_bucket', path, ['node', 'transport', 'status', 'le'], evalTime);
      const infOnly = Object.fromEntries(Object.entries(inf).filter(([k]) => k.endsWith(' +Inf')).map(([k, v]) => [k.slice(0, -' +Inf'.length), v]));
      expect(sorted(infOnly)).to.deep.equal(sorted(expectedAttempts(stats)));
      results[`attempts ${path}`] = await attempts(path, evalTime);
    });
  }

  it('byte totals (gateway_network_io_bytes_total) are identical through the direct scrape and through the collector', async () => {
    const io = (path: PathName) => counts('gateway_network_io_bytes_total', path, ['node', 'transport', 'network_io_direction'], evalTime);
    const direct = await io('direct');
    expect(await io('collector')).to.deep.equal(direct);
    // Every node whose HTTP agent answered received response bodies over HTTP.
    for (const node of ['node-a', 'node-b', 'node-c', 'mcp-e']) expect(direct[`${node} http receive`], node).to.be.above(0);
    results.networkIo = direct;
  });

  it('MCP: mcp_client_operation_duration_seconds is identical through the direct scrape and through the collector (series, counts, sums, buckets), and counts what the MCP client sent', async () => {
    const mcp = (suffix: string, labels: string[]) => (path: PathName) =>
      counts(`mcp_client_operation_duration_seconds_${suffix}`, path, labels, evalTime);
    const count = mcp('count', MCP_LABELS);
    const sum = mcp('sum', MCP_LABELS);
    const bucket = mcp('bucket', [...MCP_LABELS, 'le']);
    const direct = { count: await count('direct'), sum: await sum('direct'), bucket: await bucket('direct') };
    const viaCollector = { count: await count('collector'), sum: await sum('collector'), bucket: await bucket('collector') };
    results.mcpDirect = direct;
    results.mcpCollector = viaCollector;
    expect(Object.keys(direct.count).filter(k => k.startsWith('mcp-')), 'MCP series').to.not.be.empty;
    expect(viaCollector.count, 'counts').to.deep.equal(direct.count);
    expect(viaCollector.bucket, 'buckets').to.deep.equal(direct.bucket);
    // Sums: the same series, equal to 1e-12 relative. A run measured them
    // 1–2 ulps apart on some series (e.g. 1.468786786999994 direct,
    // 1.4687867869999938 through the collector): the two paths do not add
    // the same doubles in the same order.
    expect(Object.keys(viaCollector.sum), 'sum series').to.deep.equal(Object.keys(direct.sum));
    for (const [k, v] of Object.entries(direct.sum)) expect(viaCollector.sum[k]!, `sum ${k}`).to.be.closeTo(v, 1e-12 * Math.max(1, Math.abs(v)));
    // One sample per JSON-RPC request: every tools/call per tool and outcome,
    // and each session's initialize. (The plain nodes' JSON-RPC calls are on
    // this metric too, without a tool name: their params carry none.)
    // mcp-f's refused HTTP sessions are left out: fetch (the SDK's HTTP
    // client) had not sent the initialize body when the connection was
    // refused, so its method is not known to the gateway side (a run recorded
    // no MCP sample for them; node:http, which buffers the body before the
    // connect fails, gives one, as node-d's tools/call shows).
    const mcpNodes = Object.fromEntries(Object.entries(direct.count).filter(([k]) => k.startsWith('mcp-') && !k.startsWith('mcp-f http ')));
    expect(mcpNodes).to.deep.equal(sorted(expectedMcp(stats)));
    // The slow tool: mcp-e's summarize calls (1.2 s) are all in the (1, 2] bucket of the convention's buckets.
    const summarize = (le: string) => direct.bucket[`mcp-e http tcp tools/call summarize - ${le}`];
    const n = stats['mcp-e']!.tools!.summarize!.sent;
    expect([summarize('1'), summarize('2'), summarize('+Inf')]).to.deep.equal([0, n, n]);
    results.mcpCount = direct.count;
  });

  it('(5) same metric names, label keys, bucket bounds, types and help through both paths (job/instance aside)', async () => {
    const shape = async (path: PathName) => {
      const series = await prom.series(`{__name__=~"gateway_.+|mcp_client_.+", ${PATHS[path]}}`, loadStart - 30, evalTime);
      const names: Record<string, Set<string>> = {};
      for (const s of series) {
        const keys = (names[s.__name__!] ??= new Set());
        for (const k of Object.keys(s)) if (!['__name__', 'job', 'instance'].includes(k)) keys.add(k);
      }
      return Object.fromEntries(Object.entries(names).sort(([a], [b]) => a.localeCompare(b)).map(([n, ks]) => [n, [...ks].sort()]));
    };
    const direct = await shape('direct');
    const viaCollector = await shape('collector');
    expect(viaCollector).to.deep.equal(direct);
    const scope = ['otel_scope_name', 'otel_scope_version'];
    expect(direct).to.deep.include({
      gateway_request_duration_seconds_bucket: ['le', 'node', ...scope, 'status', 'transport'],
      gateway_request_duration_seconds_count: ['node', ...scope, 'status', 'transport'],
      gateway_request_duration_seconds_sum: ['node', ...scope, 'status', 'transport'],
      gateway_request_errors_total: ['error_type', 'http_response_status_code_class', 'node', ...scope, 'transport'],
      gateway_requests_active: ['node', ...scope, 'transport'],
      gateway_fallbacks_total: ['from_transport', 'node', ...scope, 'to_transport'],
      gateway_node_up: ['node', ...scope],
      gateway_network_io_bytes_total: ['network_io_direction', 'node', ...scope, 'transport'],
    });
    for (const suffix of ['bucket', 'count', 'sum']) {
      expect(direct[`mcp_client_operation_duration_seconds_${suffix}`], suffix).to.include.members([
        'error_type', 'gen_ai_tool_name', 'mcp_method_name', 'network_transport', 'node', ...scope, 'transport', ...(suffix === 'bucket' ? ['le'] : []),
      ]);
    }
    const les = async (path: PathName) =>
      (await prom.labelValues('le', `gateway_request_duration_seconds_bucket{${PATHS[path]}}`)).sort((a, b) => leNum(a) - leNum(b));
    const directLe = await les('direct');
    expect(await les('collector')).to.deep.equal(directLe);
    expect(directLe).to.deep.equal(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '+Inf']);
    // Metadata is kept per family: OpenMetrics (which Prometheus negotiates
    // from our endpoint) names a counter family without `_total`, the text
    // format (the Collector's exporter) with it; the samples are the same.
    const meta = async (scrapeJob: string) =>
      Object.fromEntries(
        (await prom.targetMetadata(`{job="${scrapeJob}"}`))
          .filter(m => m.metric.startsWith('gateway_'))
          .map(m => [m.type === 'counter' ? m.metric.replace(/_total$/, '') : m.metric, { type: m.type, help: m.help, unit: m.unit }] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
    const directMeta = await meta(DIRECT_JOB);
    expect(await meta(COLLECTOR_SCRAPE_JOB)).to.deep.equal(directMeta);
    expect(directMeta).to.deep.include({
      gateway_request_duration_seconds: { type: 'histogram', help: 'Duration of each attempt to reach a backend node over one transport.', unit: '' },
    });
    expect(Object.keys(directMeta)).to.include.members(['gateway_request_errors', 'gateway_requests_active', 'gateway_fallbacks', 'gateway_node_up']);
    results.names = Object.keys(direct);
  });

  it('(6) promtool check metrics passes on the plugin\'s /metrics after the load', () => {
    expect(metricsText).to.include(`gateway_request_duration_seconds_bucket{node="${SLOW_NODE}"`);
    const r = spawnSync(t.promtool, ['check', 'metrics'], { input: metricsText, encoding: 'utf8', timeout: 30_000 });
    expect(`${r.stdout}${r.stderr}`).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('every query of examples/grafana-dashboard.json (panels and variables) executes and returns data, for each job', async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'examples', 'grafana-dashboard.json'), 'utf8')) as Dashboard;
    // Variables: label_values(<selector>, <label>) is Grafana's, run as Prometheus' label values API.
    const vars = Object.fromEntries(dashboard.templating.list.filter(v => v.type === 'query').map(v => {
      const q = typeof v.query === 'string' ? v.query : v.query.query;
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
      if (m === null) throw new Error(`variable ${v.name}: unsupported query ${q}`);
      return [v.name, { selector: m[1]!, label: m[2]! }];
    }));
    expect(Object.keys(vars).sort()).to.deep.equal(['job', 'node']);
    const jobs = await prom.labelValues(vars.job!.label, substitute(vars.job!.selector, {}));
    expect(jobs.sort()).to.deep.equal([DIRECT_JOB, SERVICE_NAME].sort());

    const targets = dashboardTargets(dashboard);
    expect(targets.length).to.be.at.least(8);
    const seen: Record<string, number> = {};
    for (const job of jobs) {
      const nodes = await prom.labelValues(vars.node!.label, substitute(vars.node!.selector, { job }));
      expect(nodes.sort(), `node variable for job ${job}`).to.deep.equal(NODE_NAMES);
      for (const target of targets) {
        const expr = substitute(target.expr, { job, node: '.*', datasource: '' });
        const where = `${target.panel} [${target.refId}] job=${job}: ${expr}`;
        const instant = await prom.query(expr, evalTime);
        expect(finite(instant), `${where} (instant)`).to.not.be.empty;
        const range = await prom.queryRange(expr, loadStart, evalTime, 5);
        expect(range.some(s => s.values.some(([, v]) => Number.isFinite(Number(v)))), `${where} (range)`).to.equal(true);
        seen[`${target.panel} ${target.refId}`] = (seen[`${target.panel} ${target.refId}`] ?? 0) + instant.length;
      }
    }
    results.dashboardSeries = seen;
  });

  it('examples/alerts.yml runs healthy on the real series: exactly the expected alerts are active, for both jobs', async () => {
    const rules = await prom.rules();
    expect(rules.map(r => r.name).sort()).to.deep.equal(['GatewayExecFallbackSpike', 'GatewayNodeDown', 'HighGatewayErrorRate', 'SlowGatewayNode', 'SlowGatewayTool']);
    for (const r of rules) {
      expect(r.type, r.name).to.equal('alerting');
      expect(r.lastError ?? '', r.name).to.equal('');
    }
    // Every alert has a `for`; within this suite they are pending (or, on a slow run, firing already).
    const want = [SERVICE_NAME, DIRECT_JOB].flatMap(job => [
      `GatewayExecFallbackSpike job=${job} node=node-d`,
      // The example gateway health-checks each HTTP agent; node-d's does not answer.
      `GatewayNodeDown job=${job} node=node-d`,
      `HighGatewayErrorRate job=${job} node=node-b transport=http`,
      `HighGatewayErrorRate job=${job} node=node-d transport=http`,
      `SlowGatewayNode job=${job} node=${SLOW_NODE}`,
      // mcp-f: its HTTP agent is down, like node-d's.
      `GatewayExecFallbackSpike job=${job} node=mcp-f`,
      `GatewayNodeDown job=${job} node=mcp-f`,
      `HighGatewayErrorRate job=${job} node=mcp-f transport=http`,
      // mcp-e's summarize (p95 above 1 s), while mcp-e's own p95 is not.
      `SlowGatewayTool job=${job} node=mcp-e gen_ai_tool_name=summarize`,
    ]).sort();
    const describeAlert = (a: { labels: Record<string, string> }) =>
      [a.labels.alertname, ...['job', 'node', 'transport', 'gen_ai_tool_name'].filter(k => a.labels[k] !== undefined).map(k => `${k}=${a.labels[k]}`)].join(' ');
    const active = await waitFor('the expected alerts', async () => {
      const alerts = (await prom.alerts()).filter(a => a.state === 'pending' || a.state === 'firing');
      const got = alerts.map(describeAlert).sort();
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`active alerts: ${JSON.stringify(got)}`);
      return alerts;
    }, 20_000, 500);
    expect((await prom.rules()).every(r => r.health === 'ok'), JSON.stringify(await prom.rules())).to.equal(true);
    results.alerts = active.map(a => `${describeAlert(a)} ${a.state} value=${Number(a.value).toPrecision(4)}`).sort();
  });
});
