/**
 * The operator artefacts in examples/: prometheus.yml, alerts.yml (+ its unit
 * tests alerts.test.yml) and grafana-dashboard.json, checked with the real
 * promtool, and their metric names and label keys checked against the
 * /metrics of the real example gateway. (The e2e suite runs them against a
 * real Prometheus, spec/e2e/pipeline.e2e.ts.)
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, childEnv } from './helpers/child';
import { loadgen } from './helpers/load';
import { parseExposition } from './helpers/prom';
import { freePort, startProcess, stopAll, type Proc } from './helpers/procs';
import { tools } from './helpers/tools';

const EXAMPLES = join(ROOT, 'examples');
const read = (name: string) => readFileSync(join(EXAMPLES, name), 'utf8');
const ALERTS = ['SlowGatewayNode', 'HighGatewayErrorRate', 'GatewayNodeDown', 'GatewayExecFallbackSpike', 'SlowGatewayTool'];

function promtool(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(tools().promtool, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** alerts.yml, split per alert: each rule's lines, its threshold line (last line of expr) and its `for:` line. */
function alertBlocks(text: string): Map<string, { start: number; end: number; threshold: number; for: number }> {
  const lines = text.split('\n');
  const starts = lines.flatMap((l, i) => (/^\s*- alert: /.test(l) ? [i] : []));
  const blocks = new Map<string, { start: number; end: number; threshold: number; for: number }>();
  starts.forEach((start, k) => {
    const end = k + 1 < starts.length ? starts[k + 1]! : lines.length;
    const name = lines[start]!.replace(/^\s*- alert: /, '').trim();
    const inBlock = (re: RegExp) => lines.slice(start, end).flatMap((l, j) => (re.test(l) ? [start + j] : []));
    const thresholds = inBlock(/^\s*(>|<|==|!=|>=|<=)\s*-?[\d.]+\s*$/);
    const fors = inBlock(/^\s*for: \S+\s*$/);
    if (thresholds.length !== 1 || fors.length !== 1) throw new Error(`alerts.yml ${name}: need exactly one threshold line and one for: line, got ${thresholds.length} and ${fors.length}`);
    blocks.set(name, { start, end, threshold: thresholds[0]!, for: fors[0]! });
  });
  return blocks;
}

/** A copy of alerts.yml with one alert's threshold line (and `for`) replaced. */
function mutant(text: string, alert: string, threshold: string, forValue?: string): string {
  const lines = text.split('\n');
  const b = alertBlocks(text).get(alert);
  if (b === undefined) throw new Error(`no alert ${alert}`);
  lines[b.threshold] = lines[b.threshold]!.replace(/\S.*$/, threshold);
  if (forValue !== undefined) lines[b.for] = lines[b.for]!.replace(/for: \S+/, `for: ${forValue}`);
  return lines.join('\n');
}

interface DashboardTarget {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}
interface DashboardVar {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: DashboardVar[] };
}

const dashboard = () => JSON.parse(read('grafana-dashboard.json')) as Dashboard;
const allPanels = (ps: DashboardPanel[]): DashboardPanel[] => ps.flatMap(p => [p, ...allPanels(p.panels ?? [])]);
const allTargets = (d: Dashboard) => allPanels(d.panels).flatMap(p => (p.targets ?? []).map(t => ({ panel: p, ...t })));
/** The variables as the e2e suite evaluates them: one job, all nodes, a 1m rate window. */
const substitute = (expr: string) =>
  expr.replace(/\$__rate_interval/g, '1m').replace(/\$\{?job\}?/g, 'example-gateway').replace(/\$\{?node\}?/g, '.*');

describe('operator artefacts in examples/ (real promtool)', function () {
  this.timeout(120_000);
  let tmp: string;

  before(function () {
    this.timeout(5 * 60_000); // a fresh machine downloads promtool first (helpers/tools.ts)
    tools();
    tmp = mkdtempSync(join(tmpdir(), 'otel-gateway-metrics-artefacts-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  describe('prometheus.yml and alerts.yml', () => {
    it('promtool check config passes on prometheus.yml (and the alerts.yml it loads)', () => {
      const r = promtool(['check', 'config', 'prometheus.yml'], EXAMPLES);
      expect(r.status, r.out).to.equal(0);
      expect(r.out).to.include('SUCCESS: 1 rule files found');
      expect(r.out).to.include('SUCCESS: 5 rules found');
    });

    it('prometheus.yml scrapes the plugin directly and the collector with honor_labels', () => {
      const cfg = read('prometheus.yml');
      const jobs = cfg.split(/\n\s*- job_name: /).slice(1);
      expect(jobs.map(j => j.split('\n')[0])).to.deep.equal(['otel-gateway-metrics', 'otel-collector']);
      expect(jobs[0]).to.match(/targets: \['gateway-1:9464'\]/);
      expect(jobs[0]).to.not.include('honor_labels');
      expect(jobs[1]).to.match(/\n\s*honor_labels: true\n/);
      expect(jobs[1]).to.match(/targets: \['otel-collector:8889'\]/);
    });

    it('promtool check rules passes on alerts.yml, which has the five alerts', () => {
      const r = promtool(['check', 'rules', 'alerts.yml'], EXAMPLES);
      expect(r.status, r.out).to.equal(0);
      expect(r.out).to.include('SUCCESS: 5 rules found');
      expect([...alertBlocks(read('alerts.yml')).keys()]).to.deep.equal(ALERTS);
    });

    it('promtool check rules fails on a broken copy (the check can fail)', () => {
      writeFileSync(join(tmp, 'alerts.yml'), read('alerts.yml').replace('histogram_quantile(0.95,', 'histogram_quantile(0.95,,'));
      const r = promtool(['check', 'rules', 'alerts.yml'], tmp);
      expect(r.status).to.not.equal(0);
      expect(r.out).to.include('SlowGatewayNode');
    });

    it('promtool test rules passes on alerts.test.yml', () => {
      const r = promtool(['test', 'rules', 'alerts.test.yml'], EXAMPLES);
      expect(r.status, r.out).to.equal(0);
      expect(r.out).to.include('SUCCESS');
    });

    for (const alert of ALERTS) {
      it(`alerts.test.yml has a firing and a silent case for ${alert}: the tests fail if it never fires, or fires on everything at once`, () => {
        const text = read('alerts.yml');
        copyFileSync(join(EXAMPLES, 'alerts.test.yml'), join(tmp, 'alerts.test.yml'));
        // Never fires: the firing case must notice.
        writeFileSync(join(tmp, 'alerts.yml'), mutant(text, alert, '< -1'));
        let r = promtool(['test', 'rules', 'alerts.test.yml'], tmp);
        expect(r.status, r.out).to.equal(1);
        expect(r.out).to.include(`alertname: ${alert}`);
        // Fires for every series with data, without waiting: a silent case (with data) must notice.
        writeFileSync(join(tmp, 'alerts.yml'), mutant(text, alert, '>= 0', '0s'));
        r = promtool(['test', 'rules', 'alerts.test.yml'], tmp);
        expect(r.status, r.out).to.equal(1);
        expect(r.out).to.include(`alertname: ${alert}`);
        expect(r.out).to.match(/exp:\s*\[\]/); // an expected-silent evaluation failed
      });
    }
  });

  describe('grafana-dashboard.json', () => {
    it('is a Grafana dashboard (schemaVersion 39) on a Prometheus data source variable', () => {
      const d = dashboard();
      expect(d.schemaVersion).to.equal(39);
      expect(d.uid).to.equal('otel-gateway-metrics');
      expect(d.title).to.be.a('string').and.not.empty;
      const vars = Object.fromEntries(d.templating.list.map(v => [v.name, v]));
      expect(vars.datasource).to.deep.include({ type: 'datasource', query: 'prometheus' });
      expect(vars.job?.type).to.equal('query');
      expect(vars.node?.type).to.equal('query');
      for (const v of [vars.job!, vars.node!]) expect(v.datasource, v.name).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
      const panels = allPanels(d.panels);
      expect(new Set(panels.map(p => p.id)).size, 'unique panel ids').to.equal(panels.length);
      for (const p of panels) {
        expect(p.gridPos, p.title).to.include.keys('h', 'w', 'x', 'y');
        expect(p.datasource, p.title).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets, p.title).to.be.an('array').and.not.empty;
        for (const t of p.targets!) expect(t.datasource, `${p.title} ${t.refId}`).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
        expect(new Set(p.targets!.map(t => t.refId)).size, `${p.title}: unique refIds`).to.equal(p.targets!.length);
      }
    });

    it('has the panels operators need: p50/p95/p99 by node, HTTP vs exec, error rate by node, in-flight, fallbacks, node up, slowest MCP tools, tool error rate', () => {
      const exprs = allTargets(dashboard()).map(t => t.expr.replace(/\s+/g, ' '));
      const has = (what: string, re: RegExp) => expect(exprs.some(e => re.test(e)), what).to.equal(true);
      for (const q of ['0.5', '0.95', '0.99']) has(`p${q} by node`, new RegExp(`^histogram_quantile\\(${q.replace('.', '\\.')}, sum by \\(le, node\\) \\(rate\\(gateway_request_duration_seconds_bucket\\{`));
      has('HTTP vs exec', /^histogram_quantile\(0\.99, sum by \(le, transport\) \(rate\(gateway_request_duration_seconds_bucket\{/);
      has('error rate by node', /sum by \(node\) \(rate\(gateway_request_errors_total\{.*\/ sum by \(node\) \(rate\(gateway_request_duration_seconds_count\{/);
      has('in-flight', /gateway_requests_active\{/);
      has('fallbacks', /rate\(gateway_fallbacks_total\{/);
      has('node up', /gateway_node_up\{/);
      // Per MCP tool (tools/call only): the slowest tools, the tool error rate and its types, HTTP vs exec per tool.
      const calls = String.raw`\{job=~"\$job", node=~"\$node", mcp_method_name="tools/call", gen_ai_tool_name!=""`;
      has('slowest tools', new RegExp(String.raw`^sort_desc\(topk\(10, histogram_quantile\(0\.95, sum by \(le, node, gen_ai_tool_name\) \(rate\(mcp_client_operation_duration_seconds_bucket${calls}\}`));
      has('tool error rate', new RegExp(String.raw`^\(sum by \(node, gen_ai_tool_name\) \(rate\(mcp_client_operation_duration_seconds_count${calls}, error_type!=""\}.* / sum by \(node, gen_ai_tool_name\) \(rate\(mcp_client_operation_duration_seconds_count${calls}\}`));
      has('tool errors by type', new RegExp(String.raw`^sum by \(node, gen_ai_tool_name, error_type\) \(rate\(mcp_client_operation_duration_seconds_count${calls}, error_type!=""\}`));
      has('HTTP vs exec per tool', new RegExp(String.raw`^histogram_quantile\(0\.95, sum by \(le, gen_ai_tool_name, transport\) \(rate\(mcp_client_operation_duration_seconds_bucket${calls}\}`));
      for (const e of exprs) expect(e, 'every query filters on the job and node variables').to.include('job=~"$job", node=~"$node"');
    });

    it('every panel query is valid PromQL (promtool check rules on them as recording rules)', () => {
      const targets = allTargets(dashboard());
      const rules = targets.map(t => `      - record: dashboard:panel_${t.panel.id}_${t.refId}\n        expr: ${JSON.stringify(substitute(t.expr))}`);
      writeFileSync(join(tmp, 'dashboard-rules.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);
      const r = promtool(['check', 'rules', 'dashboard-rules.yml'], tmp);
      expect(r.status, r.out).to.equal(0);
      expect(r.out).to.include(`SUCCESS: ${targets.length} rules found`);
      // …and the check does reject a broken query.
      writeFileSync(join(tmp, 'dashboard-rules.yml'), `groups:\n  - name: dashboard\n    rules:\n      - record: x\n        expr: ${JSON.stringify(`${substitute(targets[0]!.expr)})`)}\n`);
      expect(promtool(['check', 'rules', 'dashboard-rules.yml'], tmp).status).to.not.equal(0);
    });
  });

  describe('names and label keys are those of the real /metrics', () => {
    // The example gateway, one agent (one call answered 500) and a node whose
    // HTTP agent is down (exec fallback): every gateway metric and label key.
    // MCP: one MCP agent over Streamable HTTP (a tools/call answered, one
    // failing with isError) and an MCP node whose HTTP agent is down (its
    // tools/call over the persistent kubectl-exec stdio agent): the names and
    // keys of mcp_client_operation_duration_seconds.
    let names: Map<string, Set<string>>; // sample name → label keys
    let families: Set<string>; // metric family names (# TYPE), e.g. gateway_request_duration_seconds
    let histograms: Set<string>; // the histogram families among them: as native histograms, their own name is a series
    const ours = (name: string) => name.startsWith('gateway_') || name.startsWith('mcp_client_');
    let procs: Proc[] = [];

    before(async function () {
      this.timeout(60_000);
      try {
        const agent = startProcess('agent', process.execPath, ['examples/gateway/agent.js', '--http', '--port', '0', '--name', 'node-a'], { env: childEnv({}), lifetimeMs: 60_000 });
        procs.push(agent);
        const { port } = JSON.parse(await agent.line(/"port"/)) as { port: number };
        const mcpAgent = startProcess('mcp-agent', process.execPath, ['examples/gateway/mcp-agent.js', '--http', '--port', '0', '--name', 'node-m'], { env: childEnv({}), lifetimeMs: 60_000 });
        procs.push(mcpAgent);
        const mcpPort = (JSON.parse(await mcpAgent.line(/"port"/)) as { port: number }).port;
        const nodes = [
          { name: 'node-a', http: `127.0.0.1:${port}`, pod: 'agent-a' },
          { name: 'node-d', http: `127.0.0.1:${await freePort()}`, pod: 'agent-d' },
          { name: 'node-m', http: `127.0.0.1:${mcpPort}`, pod: 'agent-m', mcp: true },
          { name: 'node-n', http: `127.0.0.1:${await freePort()}`, pod: 'agent-n', mcp: true },
        ];
        const pods = { 'agent-a': { name: 'node-a' }, 'agent-d': { name: 'node-d' }, 'agent-m': { name: 'node-m' }, 'agent-n': { name: 'node-n' } };
        const gateway = startProcess('gateway', process.execPath, ['examples/gateway/gateway.js', '--nodes', JSON.stringify(nodes), '--port', '0', '--metrics-port', '0'], {
          env: childEnv({ DEMO_PODS: JSON.stringify(pods), OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1' }),
          lifetimeMs: 60_000,
        });
        procs.push(gateway);
        const ready = JSON.parse(await gateway.line(/"gateway"/, 30_000)) as { gateway: string; metrics: string };
        const calls = [{ node: 'node-a' }, { node: 'node-a', fail: true }, { node: 'node-d' },
          { node: 'node-m', tool: 'search' }, { node: 'node-m', tool: 'fetch_doc', fail: true }, { node: 'node-n', tool: 'summarize' }];
        const stats = await loadgen.sendCalls(ready.gateway, calls, { concurrency: 1 });
        expect(stats).to.deep.equal({
          'node-a': { sent: 2, ok: 1, failed: 1 },
          'node-d': { sent: 1, ok: 1, failed: 0 },
          'node-m': { sent: 2, ok: 1, failed: 1, tools: { search: { sent: 1, ok: 1, failed: 0 }, fetch_doc: { sent: 1, ok: 0, failed: 1 } } },
          'node-n': { sent: 1, ok: 1, failed: 0, tools: { summarize: { sent: 1, ok: 1, failed: 0 } } },
        });
        const text = await (await fetch(ready.metrics)).text();
        const parsed = parseExposition(text);
        families = new Set([...parsed.types.keys()].filter(ours));
        histograms = new Set([...families].filter(f => parsed.types.get(f) === 'histogram'));
        names = new Map();
        for (const s of parsed.samples) {
          if (!ours(s.name)) continue;
          const keys = names.get(s.name) ?? new Set<string>();
          for (const k of Object.keys(s.labels)) keys.add(k);
          names.set(s.name, keys);
        }
      } finally {
        await stopAll();
        expect(procs.filter(p => p.groupAlive()).map(p => p.name)).to.deep.equal([]);
        procs = [];
      }
    });

    /** Metric names with their label matchers / by-clauses, from PromQL or series selectors in a text. */
    function references(text: string): { name: string; keys: string[] }[] {
      const out: { name: string; keys: string[] }[] = [];
      for (const m of text.matchAll(/\b(gateway_[a-z_]+|mcp_client_[a-z_]+)(\{([^}]*)\})?/g)) {
        out.push({ name: m[1]!, keys: [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map(k => k[1]!) });
      }
      return out;
    }
    const byKeys = (text: string) => [...text.matchAll(/\bby \(([^)]*)\)/g)].flatMap(m => m[1]!.split(',').map(s => s.trim()));
    const TARGET_LABELS = ['job', 'instance']; // added by Prometheus (or the collector), not by the plugin

    for (const file of ['alerts.yml', 'alerts.test.yml', 'grafana-dashboard.json']) {
      it(`${file} uses only metric names and label keys that the plugin exposes`, () => {
        const text = read(file);
        const refs = references(text);
        expect(refs.length, file).to.be.above(3);
        for (const { name: ref, keys } of refs) {
          if (!names.has(ref) && families.has(ref) && keys.length === 0) continue; // a family named in prose
          // A native histogram (histogram: 'native') is one series named after its family, with the _count series' labels.
          const name = histograms.has(ref) ? `${ref}_count` : ref;
          expect([...names.keys()], `${file}: ${ref}`).to.include(name);
          for (const k of keys) expect([...names.get(name)!, ...TARGET_LABELS], `${file}: ${ref}{${k}}`).to.include(k);
        }
        const allKeys = new Set([...names.values()].flatMap(s => [...s]));
        for (const k of byKeys(text)) expect([...allKeys, ...TARGET_LABELS], `${file}: by (${k})`).to.include(k);
      });
    }
  });
});
