/**
 * register() beside the app's own OpenTelemetry NodeSDK (3.x), in both orders,
 * in real child processes: the app's instruments must keep going to the app's
 * exporter, the gateway metrics to ours, and nothing is printed about a
 * duplicate registration or an overwritten logger.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { ROOT, runNode } from './helpers/child';
import { parseExposition, find } from './helpers/prom';

const APP = join(ROOT, 'spec', 'fixtures', 'coexist-app.cjs');
const ENTRY = join(ROOT, 'dist', 'register-entry.js');

interface AppReport {
  order: string;
  appMetrics: { scope: string; name: string; values: number[] }[];
  body: string;
  globalIsApps: boolean;
}

const runs: [string, string[], Record<string, string>][] = [
  ['the --require entry first, then the app starts its NodeSDK', ['--require', ENTRY, APP, 'entry-first'],
    { OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1' }],
  ['the app starts its NodeSDK first, then calls register()', [APP, 'sdk-first'], {}],
];

describe('beside the app’s own NodeSDK', function () {
  this.timeout(30_000);
  for (const [title, args, env] of runs) {
    it(`${title}: the app keeps its metrics, we keep ours, no duplicate registration`, async () => {
      // OTEL_LOG_LEVEL makes NodeSDK set its own diag logger: any overwrite or
      // duplicate-registration message would be printed.
      const r = await runNode(args, {
        ...env,
        OTEL_LOG_LEVEL: 'info',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_METRICS_EXPORTER: 'prometheus',
      });
      expect(r.code, r.stderr).to.equal(0);
      const out = `${r.stdout}\n${r.stderr}`;
      expect(out).to.not.match(/duplicate registration/i);
      expect(out).to.not.match(/will be overwritten/i);
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as AppReport;
      expect(report.globalIsApps).to.equal(true);

      // The app's exporter: its counter with its value, and none of ours.
      const orders = report.appMetrics.filter(m => m.name === 'app.orders');
      expect(orders).to.deep.equal([{ scope: 'coexist-app', name: 'app.orders', values: [3] }]);
      expect(report.appMetrics.filter(m => m.scope === 'otel-gateway-metrics')).to.deep.equal([]);

      // Our endpoint: the gateway call, and not the app's counter.
      const parsed = parseExposition(report.body);
      const count = find(parsed, 'gateway_request_duration_seconds_count');
      expect(count.map(s => [s.labels.node, s.labels.transport, s.labels.status, s.value])).to.deep.equal([['n1', 'http', 'success', 1]]);
      expect(report.body).to.not.match(/app_orders/);
    });
  }

  it('with globalMeterProvider: true and no app SDK, the app’s own instruments are served by our endpoint', async () => {
    const r = await runNode(['-e', `
      const { metrics } = require('@opentelemetry/api');
      const gm = require('otel-gateway-metrics');
      (async () => {
        const otel = gm.register({ globalMeterProvider: true, prometheus: { port: 0, host: '127.0.0.1' } });
        await otel.ready;
        metrics.getMeter('app').createCounter('app.orders').add(5);
        process.stdout.write(await (await fetch(otel.prometheusUrl)).text());
        await otel.shutdown();
      })();
    `]);
    expect(r.code, r.stderr).to.equal(0);
    const orders = find(parseExposition(r.stdout), 'app_orders_total');
    expect(orders.map(s => s.value)).to.deep.equal([5]);
  });

  it('without it and without an app SDK, the app’s instruments stay no-ops, as with OpenTelemetry alone', async () => {
    const r = await runNode(['-e', `
      const { metrics } = require('@opentelemetry/api');
      const gm = require('otel-gateway-metrics');
      (async () => {
        const otel = gm.register({ prometheus: { port: 0, host: '127.0.0.1' } });
        await otel.ready;
        metrics.getMeter('app').createCounter('app.orders').add(5);
        gm.getGatewayMetrics().record({ node: 'n1', transport: 'exec', status: 'success', durationSeconds: 0.1 });
        process.stdout.write(await (await fetch(otel.prometheusUrl)).text());
        await otel.shutdown();
      })();
    `]);
    expect(r.code, r.stderr).to.equal(0);
    const parsed = parseExposition(r.stdout);
    expect(find(parsed, 'app_orders_total')).to.deep.equal([]);
    expect(find(parsed, 'gateway_request_duration_seconds_count').map(s => s.value)).to.deep.equal([1]);
  });
});
