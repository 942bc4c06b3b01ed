import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { register, type GatewayOtel } from '../lib';
import { captureDiag, type Captured } from './helpers/diag';
import { cleanEnv } from './helpers/env';
import { tools } from './helpers/tools';

function promtoolCheck(text: string): { status: number | null; out: string } {
  const r = spawnSync(tools().promtool, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('promtool check metrics (real promtool)', function () {
  this.timeout(5 * 60_000);
  let otel: GatewayOtel | undefined;
  let diag: Captured;
  let restoreEnv: () => void;
  before(() => tools());
  beforeEach(() => {
    restoreEnv = cleanEnv();
    diag = captureDiag();
  });
  afterEach(async () => {
    await otel?.shutdown();
    diag.restore();
    restoreEnv();
  });

  it('passes on a full /metrics: gateway, runtime and process metrics, prefix and odd label values', async () => {
    otel = register({ serviceName: 'mcp-gateway', prefix: 'mcp', prometheus: { host: '127.0.0.1', port: 0 } });
    await otel.ready;
    const m = otel.metrics;
    m.record({ node: 'ip-10-0-1-123', transport: 'http', status: 'success', durationSeconds: 0.02, requestBytes: 100, responseBytes: 2e6 });
    m.record({ node: 'we"ird\\node\nname', transport: 'exec', status: 'error', durationSeconds: 2.3, errorType: 'timeout' });
    m.recordFallback({ node: 'ip-10-0-1-123', from: 'http', to: 'exec' });
    m.setNodeUp('ip-10-0-1-123', true);
    await m.measureHealthCheck('ip-10-0-1-123', async () => true);
    const text = await (await fetch(otel.prometheusUrl!)).text();
    expect(text).to.include('mcp_gateway_request_duration_seconds_bucket');
    expect(text).to.include('process_start_time_seconds');
    const r = promtoolCheck(text);
    expect(r.out).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('fails on a broken exposition (the check itself can fail)', () => {
    const r = promtoolCheck('# TYPE x counter\nx{a="1"} 1\n# TYPE x counter\nx{a="2"} 2\n');
    expect(r.status).to.not.equal(0);
  });
});
