import { expect } from 'chai';
import { OtlpReceiver, type ExportRequest } from './helpers/otlp';
import { parseExposition, one } from './helpers/prom';
import { runNode, startNode } from './helpers/child';

const LOCAL = { OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0', GATEWAY_METRICS_RUNTIME_METRICS: 'false', GATEWAY_METRICS_PROCESS_METRICS: 'false' };

interface AppReport {
  entry: string;
  prefix: string;
  handleSignals: boolean;
  url: string;
  body: string;
  sameModule?: boolean;
}

function report(stdout: string): AppReport {
  const line = stdout.split('\n').find(l => l.startsWith('{'));
  if (line === undefined) throw new Error(`no report in ${stdout}`);
  return JSON.parse(line) as AppReport;
}

function totalCount(exp: ExportRequest, name: string): number {
  const m = exp.metrics.find(x => x.name === name);
  return (m?.points ?? []).reduce((a, p) => a + (p.count ?? 0), 0);
}

describe('register entries (real child processes)', () => {
  it('node --require otel-gateway-metrics/register registers from env, with signal handling on', async () => {
    const r = await runNode(['--require', 'otel-gateway-metrics/register', 'spec/fixtures/app.cjs'], LOCAL);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const rep = report(r.stdout);
    expect(rep.handleSignals).to.equal(true);
    expect(rep.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const parsed = parseExposition(rep.body);
    expect(one(parsed, 'gateway_request_duration_seconds_count', { transport: 'http', status: 'success' }).value).to.equal(1);
    expect(one(parsed, 'gateway_request_errors_total').labels.error_type).to.equal('timeout');
  });

  it('node --import otel-gateway-metrics/register does the same for ESM, with one shared registration', async () => {
    const r = await runNode(['--import', 'otel-gateway-metrics/register', 'spec/fixtures/app.mjs'], LOCAL);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const rep = report(r.stdout);
    expect(rep.entry).to.equal('esm');
    expect(rep.sameModule).to.equal(true);
    expect(one(parseExposition(rep.body), 'gateway_request_duration_seconds_count', { transport: 'exec' }).value).to.equal(1);
  });

  for (const [file, flag, app, prefix] of [
    ['spec/fixtures/config.cjs', '--require', 'spec/fixtures/app.cjs', 'mcp'],
    ['spec/fixtures/config.json', '--require', 'spec/fixtures/app.cjs', 'jsoncfg'],
    ['spec/fixtures/config.mjs', '--import', 'spec/fixtures/app.mjs', 'esmcfg'],
    ['spec/fixtures/config.mjs', '--require', 'spec/fixtures/app.cjs', 'esmcfg'],
  ] as const) {
    it(`GATEWAY_METRICS_CONFIG=${file} with ${flag} configures the entry`, async () => {
      const r = await runNode([flag, 'otel-gateway-metrics/register', app], { ...LOCAL, GATEWAY_METRICS_CONFIG: file });
      expect(r.code, r.stderr).to.equal(0);
      const rep = report(r.stdout);
      expect(rep.prefix).to.equal(prefix);
      expect(one(parseExposition(rep.body), `${prefix}_gateway_request_duration_seconds_count`, { transport: 'http' }).value).to.equal(1);
    });
  }

  it('reports a broken config file and registers from env alone; the app still runs', async () => {
    const r = await runNode(['--require', 'otel-gateway-metrics/register', 'spec/fixtures/app.cjs'], { ...LOCAL, GATEWAY_METRICS_CONFIG: 'spec/fixtures/bad-config.cjs' });
    expect(r.code).to.equal(0);
    expect(r.stderr).to.include('invalid option "buckets"');
    expect(report(r.stdout).prefix).to.equal('');
    const missing = await runNode(['--require', 'otel-gateway-metrics/register', 'spec/fixtures/app.cjs'], { ...LOCAL, GATEWAY_METRICS_CONFIG: 'spec/fixtures/nope.cjs' });
    expect(missing.code).to.equal(0);
    expect(missing.stderr).to.include('cannot load GATEWAY_METRICS_CONFIG=spec/fixtures/nope.cjs');
  });

  describe('SIGTERM and exit', () => {
    let receiver: OtlpReceiver;
    beforeEach(async () => (receiver = await new OtlpReceiver().start()));
    afterEach(() => receiver.stop());
    const otlpEnv = () => ({
      ...LOCAL,
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '60000',
    });

    it('flushes on SIGTERM with calls in flight, then dies by SIGTERM as it would have without the plugin', async () => {
      const app = startNode(['--require', 'otel-gateway-metrics/register', 'spec/fixtures/traffic-app.cjs'], { ...otlpEnv(), APP_HOLD: '40,3' });
      await app.line(/^holding 40 3$/);
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      expect(exit.signal).to.equal('SIGTERM');
      expect(exit.code).to.equal(null);
      expect(receiver.exports).to.have.length(1);
      const exp = receiver.exports[0]!;
      expect(totalCount(exp, 'gateway.request.duration')).to.equal(40);
      const active = exp.metrics.find(x => x.name === 'gateway.requests.active')!;
      expect(active.points.find(p => p.attributes.node === 'held')!.value).to.equal(3);
    });

    it('flushes on SIGTERM under continuous traffic: every call completed before the signal is exported', async () => {
      const app = startNode(['--require', 'otel-gateway-metrics/register', 'spec/fixtures/traffic-app.cjs'], otlpEnv());
      await app.line(/^completed 50$/);
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      expect(exit.signal).to.equal('SIGTERM');
      const printed = exit.stdout.split('\n').filter(l => l.startsWith('completed ')).map(l => Number(l.slice(10)));
      const exported = totalCount(receiver.exports[0]!, 'gateway.request.duration');
      // The snapshot is taken in the signal's own tick; calls that complete while
      // the export is on the wire come after it.
      expect(exported).to.be.at.least(50).and.at.most(Math.max(...printed));
    });

    it('leaves the exit to the app’s own SIGTERM handler, and exports exactly what completed before the signal', async () => {
      const app = startNode(['--require', 'otel-gateway-metrics/register', 'spec/fixtures/traffic-app.cjs'], { ...otlpEnv(), APP_OWN_SIGTERM: '1' });
      await app.line(/^completed 20$/);
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      expect(exit.signal).to.equal(null);
      expect(exit.code).to.equal(7);
      const at = Number(/app handler after (\d+)/.exec(exit.stdout)![1]);
      expect(receiver.exports).to.have.length(1);
      expect(totalCount(receiver.exports[0]!, 'gateway.request.duration')).to.equal(at);
    });

    it('an app handler added with once() before register(): no kill, the plugin keeps serving while the app drains', async () => {
      const app = startNode(['spec/fixtures/own-handler-app.cjs'], { ...otlpEnv() });
      await app.line(/^ready$/);
      app.child.kill('SIGTERM');
      const exit = await app.exited;
      expect(exit.signal).to.equal(null);
      expect(exit.code).to.equal(0);
      expect(exit.stdout).to.include('draining');
      expect(exit.stdout).to.include('scrape while draining: ok');
      // The flush on the signal and the app's own shutdown() both exported.
      expect(receiver.exports.length).to.be.at.least(1);
      expect(totalCount(receiver.exports[receiver.exports.length - 1]!, 'gateway.request.duration')).to.equal(2);
    });

    it('exports once more before a short-lived script exits, keeping its exit code', async () => {
      const exit = await runNode(['--require', 'otel-gateway-metrics/register', 'spec/fixtures/traffic-app.cjs'], { ...otlpEnv(), APP_SHORT: '25' });
      expect(exit.code).to.equal(3);
      expect(receiver.exports).to.have.length(1);
      expect(totalCount(receiver.exports[0]!, 'gateway.request.duration')).to.equal(25);
    });
  });
});
