/**
 * register() with no HTTP configuration: every outbound call is recorded with
 * node = host:port, never the package's own traffic (OTLP export to a real
 * receiver, scrapes of its own endpoint); maxNodes and nodeIdleTtl bound it;
 * a startup INFO line names the mode.
 */
import { expect } from 'chai';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { setTimeout as sleep } from 'node:timers/promises';
import { resolveConfig } from '../lib/config/resolve';
import { httpModeLine } from '../lib/sdk/register';
import { startAgent, type Agent } from './helpers/agents';
import { OtlpReceiver, latest } from './helpers/otlp';
import { find, scrape } from './helpers/prom';
import { useRegistrations } from './helpers/registration';
import { holdLive } from './helpers/metrics';

describe('zero-config HTTP path (register() with no http option)', () => {
  const reg = useRegistrations();
  let a: Agent;
  let b: Agent;
  let c: Agent;

  beforeEach(async () => {
    [a, b, c] = await Promise.all([startAgent(), startAgent(), startAgent()]);
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('records every outbound call as node=host:port; its own OTLP export and its own endpoint never', async () => {
    const receiver = await new OtlpReceiver().start();
    try {
      const o = await reg.ready({
        exporters: ['prometheus', 'otlp'],
        otlp: { protocol: 'http/protobuf', endpoint: receiver.url, exportIntervalMillis: 100, exportTimeoutMillis: 100 },
      });
      await (await fetch(`${a.base}/ok`)).text();
      await (await fetch(`${a.base}/503`)).text();
      // Several exports and scrapes go out while calls are recorded.
      await receiver.next();
      await scrape(o.prometheusUrl!);
      await scrape(o.prometheusUrl!.replace('127.0.0.1', 'localhost'));
      await receiver.next();
      await receiver.next();
      const { parsed } = await scrape(o.prometheusUrl!);
      const counts = find(parsed, 'gateway_request_duration_seconds_count');
      expect(counts.map(s => [s.labels.node, s.labels.status, s.value])).to.deep.equal([
        [a.hostPort, 'success', 1],
        [a.hostPort, 'error', 1],
      ]);
      // The OTLP path sees the same: only the agent's node, across every export.
      const exported = latest(receiver.exports, 'gateway.request.duration');
      expect(exported.map(p => p.attributes.node)).to.deep.equal([a.hostPort, a.hostPort]);
      expect(exported.reduce((n, p) => n + p.count!, 0)).to.equal(2);
      expect(receiver.exports.length).to.be.at.least(3);
    } finally {
      await reg.shutdownAll();
      await receiver.stop();
    }
  });

  it('maxNodes bounds the nodes zero config creates, and idle ones are forgotten after nodeIdleTtl', async () => {
    const o = await reg.ready({ maxNodes: 2, nodeIdleTtl: 300 });
    // Calls in flight (of another transport) keep the nodes asserted live however slow the fetches and scrapes; the
    // wait past the TTL is a lower bound.
    let held = [await holdLive(o.metrics, a.hostPort), await holdLive(o.metrics, b.hostPort)];
    for (const agent of [a, b, c]) await (await fetch(`${agent.base}/ok`)).text();
    const httpCounts = async () => find((await scrape(o.prometheusUrl!)).parsed, 'gateway_request_duration_seconds_count')
      .filter(s => s.labels.transport === 'http').map(s => [s.labels.node, s.value]);
    expect((await httpCounts()).sort()).to.deep.equal([[a.hostPort, 1], [b.hostPort, 1], ['_other', 1]].sort());
    expect(reg.diag.warn.filter(w => w.includes('maxNodes=2'))).to.have.length(1);
    for (const end of held) end();
    await sleep(450);
    // a and b idle past the TTL: forgotten, so c gets its own node now.
    held = [await holdLive(o.metrics, c.hostPort)];
    await (await fetch(`${c.base}/ok`)).text();
    // Series order in an exposition is not part of the format: compare sorted.
    expect((await httpCounts()).sort()).to.deep.equal([['_other', 1], [c.hostPort, 1]].sort());
    for (const end of held) end();
  });

  it('is off with http: false and with GATEWAY_METRICS_HTTP=false', async () => {
    const o = await reg.ready({ http: false });
    await (await fetch(`${a.base}/ok`)).text();
    expect(find((await scrape(o.prometheusUrl!)).parsed, 'gateway_request_duration_seconds_count')).to.deep.equal([]);
    await reg.shutdownAll();
    reg.env({ GATEWAY_METRICS_HTTP: 'false' });
    const o2 = await reg.ready({});
    await (await fetch(`${a.base}/ok`)).text();
    expect(find((await scrape(o2.prometheusUrl!)).parsed, 'gateway_request_duration_seconds_count')).to.deep.equal([]);
  });

  it('says at startup (diag INFO) which HTTP mode is active', async () => {
    const infos: string[] = [];
    diag.setLogger({
      error: () => {}, warn: () => {}, debug: () => {}, verbose: () => {},
      info: (...args: unknown[]) => void infos.push(args.map(String).join(' ')),
    }, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
    reg.start({});
    expect(infos.filter(l => l.includes('HTTP path:'))).to.deep.equal([
      'otel-gateway-metrics HTTP path: zero config, every outbound HTTP call is recorded with node="host:port" of its destination (http.nodeFor refines, http: false turns it off)',
    ]);
    expect(httpModeLine(resolveConfig({ http: false }, {}))).to.equal('HTTP path: off (http: false or GATEWAY_METRICS_HTTP=false)');
    expect(httpModeLine(resolveConfig({ http: { nodeFor: () => 'n' } }, {}))).to.match(/^HTTP path: http\.nodeFor names each call's node/);
    expect(httpModeLine(resolveConfig({}, { GATEWAY_METRICS_HTTP_NODES: 'a:1=n,b:2=m' }))).to.equal('HTTP path: a map of 2 host:port destination(s); unmapped calls are not recorded');
  });
});
