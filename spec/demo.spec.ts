import { expect } from 'chai';
import { runNode } from './helpers/child';

interface Row { node: string; transport: string; requests: number; errors: number; p50: number | null; p95: number | null }
interface DemoReport {
  status: string;
  metrics: string;
  sent: Record<string, { sent: number; ok: number; failed: number }>;
  rows: Row[];
  p95ByNode: Record<string, number | null>;
  fallbacks: Record<string, number>;
}

describe('npm run demo (example gateway, real agents and exec children)', function () {
  this.timeout(120_000);
  let report: DemoReport;

  before(async () => {
    const r = await runNode(['examples/demo.js', '--duration', '6', '--rate', '25', '--metrics-port', '0', '--json'], {
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    }, 90_000);
    expect(r.code, r.stderr).to.equal(0);
    report = JSON.parse(r.stdout.trim().split('\n').pop()!) as DemoReport;
  });

  it('reports the status page URL: / on the metrics listener', () => {
    expect(report.status).to.equal(new URL('/', report.metrics).href);
    expect(report.status).to.match(/^http:\/\/127\.0\.0\.1:[0-9]+\/$/);
  });

  const row = (node: string, transport: string) => report.rows.find(r => r.node === node && r.transport === transport);

  it('counts, per node and transport, exactly the attempts the load generator caused', () => {
    for (const node of ['node-a', 'node-b', 'node-c']) {
      const sent = report.sent[node]!;
      expect(sent.sent, node).to.be.above(0);
      expect(row(node, 'http')!.requests, node).to.equal(sent.sent);
      expect(row(node, 'http')!.errors, node).to.equal(sent.failed);
      expect(row(node, 'exec'), node).to.equal(undefined);
    }
    // node-b fails every 10th call on purpose (HTTP 500 → status="error").
    expect(report.sent['node-b']!.failed).to.equal(Math.floor(report.sent['node-b']!.sent / 10));
    // node-d: HTTP refused, then exec: one sample per attempt.
    const d = report.sent['node-d']!;
    expect(d.sent).to.be.above(0);
    expect(d.ok).to.equal(d.sent);
    expect(row('node-d', 'http')).to.deep.include({ requests: d.sent, errors: d.sent });
    expect(row('node-d', 'exec')).to.deep.include({ requests: d.sent, errors: 0 });
  });

  it('counts one fallback per request to the node whose HTTP agent is down', () => {
    expect(report.fallbacks).to.deep.equal({ 'node-d': report.sent['node-d']!.sent });
  });

  it('shows the slow node with the highest p95, above 1 s', () => {
    const p95 = report.p95ByNode;
    expect(p95['node-c']).to.be.above(1);
    for (const n of ['node-a', 'node-b', 'node-d']) expect(p95[n]!, n).to.be.below(p95['node-c']!);
  });
});
