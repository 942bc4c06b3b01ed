/**
 * Fleet churn: a node idle longer than nodeIdleTtl is gone from /metrics, from
 * every OTLP export and from our stores; when it comes back its series start
 * from zero with a new start time; maxNodes counts live nodes only.
 */
import { expect } from 'chai';
import { OtlpReceiver } from './helpers/otlp';
import { find, scrape } from './helpers/prom';
import { useRegistrations } from './helpers/registration';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('fleet churn: memory and exports follow the live nodes', () => {
  const reg = useRegistrations();
  let receiver: OtlpReceiver;
  beforeEach(async () => (receiver = await new OtlpReceiver().start()));
  afterEach(async () => {
    await reg.shutdownAll();
    await receiver.stop();
  });

  const durationNodes = (text: Awaited<ReturnType<typeof scrape>>) =>
    find(text.parsed, 'gateway_request_duration_seconds_count').map(s => [s.labels.node, s.value]).sort();

  it('forgets an idle node on /metrics and over OTLP, and restarts its series from zero when it returns', async () => {
    const o = await reg.ready({
      exporters: ['prometheus', 'otlp'],
      nodeIdleTtl: 300,
      otlp: { protocol: 'http/json', endpoint: receiver.url, exportIntervalMillis: 600_000 },
    });
    const rec = (node: string, n: number) => {
      for (let i = 0; i < n; i++) o.metrics.record({ node, transport: 'http', status: 'success', durationSeconds: 0.02, requestBytes: 10 });
    };
    // A node is asserted present only while a call of its own is in flight (in flight is live, however slow the
    // scrape or export); each wait past the TTL is a lower bound, which a loaded machine only lengthens.
    const hold = (node: string) => o.metrics.startTimer({ node, transport: 'http' });
    const held = [hold('n1'), hold('n2')];
    rec('n1', 2);
    rec('n2', 1);
    o.metrics.setNodeUp('n2', true);
    expect(durationNodes(await scrape(o.prometheusUrl!))).to.deep.equal([['n1', 2], ['n2', 1]]);
    await o.forceFlush();
    for (const end of held.splice(0)) end({ status: 'success' });
    const first = receiver.exports[receiver.exports.length - 1]!;
    const firstDur = first.metrics.find(m => m.name === 'gateway.request.duration')!;
    expect(firstDur.temporality).to.equal(2); // cumulative, as the backend asked
    expect(firstDur.points.map(p => [p.attributes.node, p.count]).sort()).to.deep.equal([['n1', 2], ['n2', 1]]);
    const n1Start = firstDur.points.find(p => p.attributes.node === 'n1')!.startMs!;

    await sleep(400);
    held.push(hold('n3'));
    rec('n3', 1);
    const later = await scrape(o.prometheusUrl!);
    expect(durationNodes(later)).to.deep.equal([['n3', 1]]);
    expect(find(later.parsed, 'gateway_requests_active').map(s => s.labels.node)).to.deep.equal(['n3']);
    expect(find(later.parsed, 'gateway_node_up')).to.deep.equal([]);
    expect(find(later.parsed, 'gateway_network_io_bytes_total').map(s => [s.labels.node, s.labels.network_io_direction, s.value])).to.deep.equal([
      ['n3', 'transmit', 10], ['n3', 'receive', 0],
    ]);
    await o.forceFlush();
    const second = receiver.exports[receiver.exports.length - 1]!;
    const nodesIn = (name: string) => [...new Set(second.metrics.find(m => m.name === name)?.points.map(p => p.attributes.node))];
    expect(nodesIn('gateway.request.duration')).to.deep.equal(['n3']);
    expect(nodesIn('gateway.requests.active')).to.deep.equal(['n3']);
    expect(nodesIn('gateway.node.up')).to.deep.equal([]);
    expect(nodesIn('gateway.network.io')).to.deep.equal(['n3']);

    // n1 comes back: a new series, counted from zero, with a later start time.
    rec('n1', 1);
    expect(durationNodes(await scrape(o.prometheusUrl!))).to.deep.equal([['n1', 1], ['n3', 1]]);
    await o.forceFlush();
    const third = receiver.exports[receiver.exports.length - 1]!;
    const back = third.metrics.find(m => m.name === 'gateway.request.duration')!.points.find(p => p.attributes.node === 'n1')!;
    expect(back.count).to.equal(1);
    expect(back.startMs!).to.be.above(n1Start + 300);
    for (const end of held) end();
  });

  it('keeps counting exactly across scrapes and exports (deltas added up, nothing lost or counted twice)', async () => {
    const o = await reg.ready({
      exporters: ['prometheus', 'otlp'],
      otlp: { protocol: 'http/protobuf', endpoint: receiver.url, exportIntervalMillis: 600_000 },
    });
    let total = 0;
    for (let round = 1; round <= 5; round++) {
      for (let i = 0; i < round; i++) o.metrics.record({ node: 'n1', transport: 'exec', status: 'error', durationSeconds: 0.2 * round, errorType: 'timeout' });
      total += round;
      const s = await scrape(o.prometheusUrl!);
      expect(find(s.parsed, 'gateway_request_duration_seconds_count').map(x => x.value)).to.deep.equal([total]);
      expect(find(s.parsed, 'gateway_request_errors_total').map(x => x.value)).to.deep.equal([total]);
      if (round % 2 === 1) {
        await o.forceFlush();
        const last = receiver.exports[receiver.exports.length - 1]!;
        expect(last.metrics.find(m => m.name === 'gateway.request.duration')!.points.map(p => p.count)).to.deep.equal([total]);
        expect(last.metrics.find(m => m.name === 'gateway.request.errors')!.points.map(p => p.value)).to.deep.equal([total]);
      }
    }
    // Bucket counts add up too: 1×0.2, 2×0.4, 3×0.6, 4×0.8, 5×1.0 against the default buckets.
    const s = await scrape(o.prometheusUrl!);
    const le = Object.fromEntries(find(s.parsed, 'gateway_request_duration_seconds_bucket').map(x => [x.labels.le, x.value]));
    expect([le['0.25'], le['0.5'], le['1'], le['+Inf']]).to.deep.equal([1, 3, 15, 15]);
    expect(find(s.parsed, 'gateway_request_duration_seconds_sum')[0]!.value).to.be.closeTo(0.2 * 1 + 0.4 * 2 + 0.6 * 3 + 0.8 * 4 + 1 * 5, 1e-9);
  });

  it('maxNodes counts live nodes only: expired nodes give their place up before any sweep', async () => {
    const o = await reg.ready({ maxNodes: 3, nodeIdleTtl: 200 });
    // Calls in flight keep their nodes live across a scrape, however slow it is.
    const hold = (nodes: string[]) => nodes.map(node => o.metrics.startTimer({ node, transport: 'exec' }));
    let held = hold(['a', 'b', 'c']);
    for (const n of ['a', 'b', 'c']) o.metrics.record({ node: n, transport: 'http', status: 'success', durationSeconds: 0.01 });
    // Sweeps run only when something collects (a scrape, an export): this one is the last before d, e, f arrive.
    expect(durationNodes(await scrape(o.prometheusUrl!))).to.deep.equal([['a', 1], ['b', 1], ['c', 1]]);
    for (const end of held) end({ status: 'error', errorType: 'killed' });
    // Past the TTL (a lower bound): a, b and c have expired, and nothing has swept them.
    await sleep(250);
    held = hold(['d', 'e', 'f']);
    for (const n of ['d', 'e', 'f']) o.metrics.record({ node: n, transport: 'http', status: 'success', durationSeconds: 0.01 });
    // d, e, f are live and fill maxNodes: a fourth live name goes to _other.
    o.metrics.record({ node: 'g', transport: 'http', status: 'success', durationSeconds: 0.01 });
    const s = await scrape(o.prometheusUrl!);
    for (const end of held) end({ status: 'error', errorType: 'killed' });
    expect(durationNodes(s)).to.deep.equal([['_other', 1], ['d', 1], ['e', 1], ['f', 1]]);
    expect(reg.diag.warn.filter(w => w.includes('maxNodes=3 live nodes'))).to.have.length(1);
  });

  it('a node in flight is live however long its call takes', async () => {
    const o = await reg.ready({ maxNodes: 1, nodeIdleTtl: 100 });
    const end = o.metrics.startTimer({ node: 'slow', transport: 'exec' });
    // Longer than the TTL (a lower bound): only the call in flight keeps 'slow' live, so 'other' finds no room.
    await sleep(250);
    o.metrics.record({ node: 'other', transport: 'http', status: 'success', durationSeconds: 0.01 });
    const s = await scrape(o.prometheusUrl!);
    expect(o.metrics.isLiveNode('slow')).to.equal(true);
    expect(end()).to.be.at.least(0.25);
    expect(durationNodes(s)).to.deep.equal([['_other', 1]]);
    expect(find(s.parsed, 'gateway_requests_active').filter(x => x.value !== 0).map(x => [x.labels.node, x.labels.transport, x.value])).to.deep.equal([['slow', 'exec', 1]]);
  });
});
