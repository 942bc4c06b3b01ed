import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_DURATION_BUCKETS, semconv } from '../lib';
import { MAX_ERROR_TYPES } from '../lib/core/limits';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, histogram, point, points, total, type Harness } from './helpers/metrics';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const F = semconv.METRIC_FALLBACKS;
const U = semconv.METRIC_NODE_UP;

/** Expected per-bucket (non-cumulative) counts of `values` for `bounds`, computed independently. */
function expectedCounts(values: number[], bounds: readonly number[]): number[] {
  const counts = new Array(bounds.length + 1).fill(0);
  for (const v of values) {
    let i = bounds.findIndex(b => v <= b);
    if (i === -1) i = bounds.length;
    counts[i]++;
  }
  return counts;
}

describe('GatewayMetrics', () => {
  let h: Harness;
  let diag: Captured;
  beforeEach(() => {
    diag = captureDiag();
    h = harness();
  });
  afterEach(async () => {
    await h.shutdown();
    diag.restore();
  });

  describe('record()', () => {
    it('puts known durations in the right default buckets, with the exact sum', async () => {
      const values = [0.001, 0.005, 0.0051, 0.2, 0.25, 0.9, 2, 29.9, 60, 61, 3600];
      for (const v of values) h.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: v });
      const hist = histogram(await h.collect(), D, { node: 'n1', transport: 'http', status: 'success' });
      expect(hist.buckets.boundaries).to.deep.equal([...DEFAULT_DURATION_BUCKETS]);
      expect(hist.buckets.counts).to.deep.equal(expectedCounts(values, DEFAULT_DURATION_BUCKETS));
      expect(hist.buckets.counts).to.deep.equal([2, 1, 0, 0, 0, 2, 0, 1, 1, 0, 0, 1, 1, 2]);
      expect(hist.count).to.equal(values.length);
      expect(hist.sum).to.be.closeTo(values.reduce((a, b) => a + b, 0), 1e-9);
    });

    it('records exactly node, transport, status on the histogram and node, transport, error.type on errors', async () => {
      h.metrics.record({ node: 'n1', transport: 'exec', status: 'error', durationSeconds: 2.3, errorType: 'timeout' });
      const rm = await h.collect();
      expect(point(rm, D, {}).attributes).to.deep.equal({ node: 'n1', transport: 'exec', status: 'error' });
      expect(point(rm, E, {}).attributes).to.deep.equal({ node: 'n1', transport: 'exec', 'error.type': 'timeout' });
      expect(point(rm, E, {}).value).to.equal(1);
      expect(histogram(rm, D, {}).sum).to.equal(2.3);
    });

    it('derives error.type from an error when no errorType is given', async () => {
      const err = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
      h.metrics.record({ node: 'n1', transport: 'http', status: 'error', durationSeconds: 0.1, error: err });
      h.metrics.record({ node: 'n1', transport: 'http', status: 'error', durationSeconds: 0.1 });
      const rm = await h.collect();
      expect(point(rm, E, { 'error.type': 'connection_refused' }).value).to.equal(1);
      expect(point(rm, E, { 'error.type': '_OTHER' }).value).to.equal(1);
    });

    it('keeps user error types, bounded in length and in number', async () => {
      for (const t of ['rate_limited', 'circuit_open', 'denied']) {
        h.metrics.record({ node: 'n', transport: 'http', status: 'error', durationSeconds: 0, errorType: t });
      }
      h.metrics.record({ node: 'n', transport: 'http', status: 'error', durationSeconds: 0, errorType: 'x'.repeat(300) });
      for (let i = 0; i < MAX_ERROR_TYPES + 10; i++) {
        h.metrics.record({ node: 'n', transport: 'http', status: 'error', durationSeconds: 0, errorType: `custom_${i}` });
      }
      const rm = await h.collect();
      for (const t of ['rate_limited', 'circuit_open', 'denied', 'custom_0']) expect(point(rm, E, { 'error.type': t }).value).to.equal(1);
      const types = new Set(points(rm, E).map(p => p.attributes['error.type']));
      expect(types.size).to.equal(MAX_ERROR_TYPES + 1); // 64 user types + _OTHER
      expect(point(rm, E, { 'error.type': '_OTHER' }).value).to.equal(1 + 10 + 3);
      expect(total(rm, E)).to.equal(3 + 1 + MAX_ERROR_TYPES + 10);
    });

    it('drops invalid observations with one rate-limited warning each', async () => {
      const bad: unknown[] = [
        { node: 'n', transport: 'http', status: 'success', durationSeconds: NaN },
        { node: 'n', transport: 'http', status: 'success', durationSeconds: -1 },
        { node: 'n', transport: 'http', status: 'success', durationSeconds: Infinity },
        { node: 'n', transport: 'http', status: 'success', durationSeconds: -1 },
      ];
      for (const b of bad) h.metrics.record(b as never);
      expect(points(await h.collect(), D)).to.have.length(0);
      expect(diag.warn).to.have.length(1);
      expect(diag.warn[0]).to.include('durationSeconds');
    });

    it('adds request and response bytes to gateway.network.io, with no size histogram (no SDK record) by default', async () => {
      h.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.1, requestBytes: 300, responseBytes: 5000 });
      h.metrics.record({ node: 'n', transport: 'http', status: 'error', durationSeconds: 0.1, errorType: 'timeout', requestBytes: 20 });
      h.metrics.record({ node: 'm', transport: 'exec', status: 'success', durationSeconds: 0.1 });
      const rm = await h.collect();
      const io = points(rm, semconv.METRIC_NETWORK_IO).map(p => [p.attributes, p.value]);
      expect(io).to.deep.equal([
        [{ node: 'n', transport: 'http', 'network.io.direction': 'transmit' }, 320],
        [{ node: 'n', transport: 'http', 'network.io.direction': 'receive' }, 5000],
      ]);
      expect(points(rm, semconv.METRIC_REQUEST_SIZE)).to.deep.equal([]);
      expect(points(rm, semconv.METRIC_RESPONSE_SIZE)).to.deep.equal([]);
    });

    it('records request and response sizes in the size histograms too with sizeHistograms', async () => {
      await h.shutdown();
      h = harness({ sizeHistograms: true });
      h.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: 0.1, requestBytes: 300, responseBytes: 5000 });
      const rm = await h.collect();
      expect(points(rm, semconv.METRIC_NETWORK_IO).map(p => p.value)).to.deep.equal([300, 5000]);
      const req = histogram(rm, semconv.METRIC_REQUEST_SIZE, { node: 'n', transport: 'http' });
      const res = histogram(rm, semconv.METRIC_RESPONSE_SIZE, { node: 'n', transport: 'http' });
      expect(req.sum).to.equal(300);
      expect(req.buckets.counts.slice(0, 3)).to.deep.equal([0, 1, 0]);
      expect(res.sum).to.equal(5000);
      expect(res.buckets.boundaries.at(-1)).to.equal(16 * 1024 * 1024);
    });
  });

  describe('measure()', () => {
    it('returns the same promise object and records its duration as success', async () => {
      let resolveIt!: (v: string) => void;
      const p = new Promise<string>(r => (resolveIt = r));
      const t0 = performance.now();
      const returned = h.metrics.measure({ node: 'n1', transport: 'http' }, () => p);
      expect(returned).to.equal(p);
      expect(point(await h.collect(), A, { node: 'n1', transport: 'http' }).value).to.equal(1);
      await sleep(30);
      resolveIt('ok');
      expect(await returned).to.equal('ok');
      const waited = (performance.now() - t0) / 1000;
      await Promise.resolve();
      const rm = await h.collect();
      const hist = histogram(rm, D, { node: 'n1', transport: 'http', status: 'success' });
      expect(hist.count).to.equal(1);
      // At least the 30 ms the promise was held, at most what the caller waited (no tolerance a loaded machine could pass).
      expect(hist.sum).to.be.at.least(0.029).and.at.most(waited);
      expect(point(rm, A, { node: 'n1', transport: 'http' }).value).to.equal(0);
    });

    it('rethrows exactly what an async function rejects with, and records an error', async () => {
      const err = Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
      let caught: unknown;
      try {
        await h.metrics.measure({ node: 'n1', transport: 'exec' }, async () => {
          throw err;
        });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.equal(err);
      const rm = await h.collect();
      expect(histogram(rm, D, { status: 'error' }).count).to.equal(1);
      expect(point(rm, E, {}).attributes).to.deep.equal({ node: 'n1', transport: 'exec', 'error.type': 'timeout' });
      expect(point(rm, A, {}).value).to.equal(0);
    });

    it('returns sync results and rethrows sync throws unchanged', async () => {
      const obj = { a: 1 };
      expect(h.metrics.measure({ node: 'n', transport: 'http' }, () => obj)).to.equal(obj);
      const thrown = 'a string, not an Error';
      expect(() => h.metrics.measure({ node: 'n', transport: 'http' }, () => {
        throw thrown;
      })).to.throw(thrown);
      const rm = await h.collect();
      expect(histogram(rm, D, { status: 'success' }).count).to.equal(1);
      expect(histogram(rm, D, { status: 'error' }).count).to.equal(1);
      expect(point(rm, E, {}).attributes['error.type']).to.equal('_OTHER');
      expect(point(rm, A, {}).value).to.equal(0);
    });

    it('handles rejections with undefined and null, and non-native thenables', async () => {
      for (const reason of [undefined, null]) {
        let caught: unknown = 'not caught';
        try {
          await h.metrics.measure({ node: 'n', transport: 'http' }, () => Promise.reject(reason));
        } catch (e) {
          caught = e;
        }
        expect(caught).to.equal(reason);
      }
      const thenable = { then: (ok: (v: number) => void) => ok(7) };
      expect(await h.metrics.measure({ node: 'n', transport: 'http' }, () => thenable)).to.equal(7);
      const rm = await h.collect();
      expect(histogram(rm, D, { status: 'error' }).count).to.equal(2);
      expect(histogram(rm, D, { status: 'success' }).count).to.equal(1);
      expect(point(rm, A, {}).value).to.equal(0);
    });

    it('never calls then() on a thenable that is not a native Promise (it may be lazy)', async () => {
      let thens = 0;
      const lazy = { then: (ok: (v: number) => void) => { thens++; ok(1); } };
      const out = h.metrics.measure({ node: 'n', transport: 'exec' }, () => lazy);
      expect(out).to.equal(lazy);
      expect(thens).to.equal(0);
      const rm = await h.collect();
      expect(histogram(rm, D, { status: 'success' }).count).to.equal(1);
      expect(point(rm, A, {}).value).to.equal(0);
      expect(diag.warn.filter(w => w.includes('not a native Promise'))).to.have.length(1);
    });

    it('still calls the function when the labels are invalid, and records nothing', async () => {
      for (const node of [undefined, 42, {}, '', 'x'.repeat(10_000)]) {
        expect(h.metrics.measure({ node: node as string, transport: 'http' }, () => 'ran')).to.equal('ran');
      }
      expect(h.metrics.measure(undefined as never, () => 'ran')).to.equal('ran');
      expect(points(await h.collect(), D)).to.have.length(0);
    });
  });

  describe('startTimer()', () => {
    it('returns the elapsed seconds and records once', async () => {
      const end = h.metrics.startTimer({ node: 'n', transport: 'http' });
      expect(point(await h.collect(), A, {}).value).to.equal(1);
      await sleep(20);
      const s = end({ error: new Error('x') });
      expect(s).to.be.at.least(0.019);
      expect(end()).to.equal(s);
      const rm = await h.collect();
      const hist = histogram(rm, D, { status: 'error' });
      expect(hist.count).to.equal(1);
      expect(hist.sum).to.equal(s);
      expect(points(rm, D, { status: 'success' })).to.have.length(0);
      expect(point(rm, A, {}).value).to.equal(0);
    });

    it('treats end({ error: undefined }) as success and honours an explicit status', async () => {
      h.metrics.startTimer({ node: 'n', transport: 'http' })({ error: undefined });
      h.metrics.startTimer({ node: 'n', transport: 'http' })({ status: 'error', errorType: 'denied' });
      const rm = await h.collect();
      expect(histogram(rm, D, { status: 'success' }).count).to.equal(1);
      expect(point(rm, E, {}).attributes['error.type']).to.equal('denied');
    });
  });

  describe('wrap()', () => {
    class Router {
      calls: unknown[][] = [];
      constructor(readonly name: string) {}
      async routeViaHTTP(node: string, payload: unknown): Promise<string> {
        this.calls.push([node, payload]);
        if (payload === 'fail') throw new Error('boom');
        return `${this.name}:${node}`;
      }
    }

    it('keeps this, arguments, result and thrown error; times each call', async () => {
      const router = new Router('r1');
      router.routeViaHTTP = h.metrics.wrap(router.routeViaHTTP, { transport: 'http', node: (node: string) => node });
      expect(router.routeViaHTTP.name).to.equal('routeViaHTTP');
      expect(router.routeViaHTTP.length).to.equal(2);
      expect(await router.routeViaHTTP('a', { x: 1 })).to.equal('r1:a');
      const err = await router.routeViaHTTP('b', 'fail').catch((e: unknown) => e);
      expect((err as Error).message).to.equal('boom');
      expect(router.calls).to.deep.equal([['a', { x: 1 }], ['b', 'fail']]);
      const rm = await h.collect();
      expect(histogram(rm, D, { node: 'a', transport: 'http', status: 'success' }).count).to.equal(1);
      expect(histogram(rm, D, { node: 'b', transport: 'http', status: 'error' }).count).to.equal(1);
    });

    it('survives a node function that throws', async () => {
      const f = h.metrics.wrap((x: number) => x * 2, {
        transport: 'exec',
        node: () => {
          throw new Error('no node');
        },
      });
      expect(f(21)).to.equal(42);
      expect(points(await h.collect(), D)).to.have.length(0);
    });
  });

  it('keeps reporting every in-flight count, changed or not, to every reader', async () => {
    const { TestReader } = await import('./helpers/metrics');
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    const { createGatewayMetrics } = await import('../lib');
    const r1 = new TestReader();
    const r2 = new TestReader();
    const provider = new MeterProvider({ readers: [r1, r2] });
    const m = createGatewayMetrics({ meterProvider: provider });
    const read = async (r: InstanceType<typeof TestReader>) => {
      const { resourceMetrics } = await r.collect();
      return Object.fromEntries(points(resourceMetrics, A).map(p => [`${p.attributes.node}/${p.attributes.transport}`, p.value]));
    };
    const endA = m.startTimer({ node: 'a', transport: 'http' });
    m.startTimer({ node: 'b', transport: 'exec' });
    expect(await read(r1)).to.deep.equal({ 'a/http': 1, 'b/exec': 1 });
    endA();
    expect(await read(r1)).to.deep.equal({ 'a/http': 0, 'b/exec': 1 });
    // r2 collects for the first time after both changes; then nothing changes.
    expect(await read(r2)).to.deep.equal({ 'a/http': 0, 'b/exec': 1 });
    expect(await read(r1)).to.deep.equal({ 'a/http': 0, 'b/exec': 1 });
    expect(await read(r2)).to.deep.equal({ 'a/http': 0, 'b/exec': 1 });
    m.startTimer({ node: 'a', transport: 'http' });
    expect(await read(r2)).to.deep.equal({ 'a/http': 1, 'b/exec': 1 });
    expect(await read(r1)).to.deep.equal({ 'a/http': 1, 'b/exec': 1 });
    m.dispose();
    await provider.shutdown();
  });

  it('counts fallbacks with node, from_transport, to_transport', async () => {
    h.metrics.recordFallback({ node: 'n', from: 'http', to: 'exec' });
    h.metrics.recordFallback({ node: 'n', from: 'http', to: 'exec' });
    const p = point(await h.collect(), F, {});
    expect(p.attributes).to.deep.equal({ node: 'n', from_transport: 'http', to_transport: 'exec' });
    expect(p.value).to.equal(2);
  });

  it('reports setNodeUp() through the node up gauge', async () => {
    h.metrics.setNodeUp('a', true);
    h.metrics.setNodeUp('b', false);
    h.metrics.setNodeUp('c', 'yes' as never);
    const rm = await h.collect();
    expect(point(rm, U, { node: 'a' }).value).to.equal(1);
    expect(point(rm, U, { node: 'b' }).value).to.equal(0);
    expect(points(rm, U, { node: 'c' })).to.have.length(0);
    expect(point(rm, U, { node: 'a' }).attributes).to.deep.equal({ node: 'a' });
  });

  it('is not relabelled when the caller mutates its labels object afterwards', async () => {
    const labels = { node: 'first', transport: 'http' };
    h.metrics.record({ ...labels, status: 'success', durationSeconds: 1 });
    await h.metrics.measure(labels, async () => 1);
    labels.node = 'second';
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'first' }).count).to.equal(2);
    expect(points(rm, D, { node: 'second' })).to.have.length(0);
  });

  it('derives node health from consecutive errors when downAfterErrors is set', async () => {
    await h.shutdown();
    h = harness({ downAfterErrors: 3 });
    const fail = () => h.metrics.record({ node: 'n', transport: 'http', status: 'error', durationSeconds: 0 });
    fail();
    fail();
    expect(point(await h.collect(), U, { node: 'n' }).value).to.equal(1);
    fail();
    expect(point(await h.collect(), U, { node: 'n' }).value).to.equal(0);
    h.metrics.record({ node: 'n', transport: 'exec', status: 'success', durationSeconds: 0 });
    expect(point(await h.collect(), U, { node: 'n' }).value).to.equal(1);
  });

  it('records nodes beyond maxNodes as node="_other", with one warning', async () => {
    await h.shutdown();
    h = harness({ maxNodes: 3 });
    for (let i = 0; i < 10; i++) h.metrics.record({ node: `n${i}`, transport: 'http', status: 'success', durationSeconds: 0.01 });
    const rm = await h.collect();
    expect(points(rm, D).map(p => p.attributes.node).sort()).to.deep.equal(['_other', 'n0', 'n1', 'n2']);
    expect(histogram(rm, D, { node: '_other' }).count).to.equal(7);
    expect(total(rm, D)).to.equal(10);
    expect(diag.warn.filter(w => w.includes('maxNodes'))).to.have.length(1);
  });

  it('forgets nodes idle longer than nodeIdleTtl (node up gauge and maxNodes accounting)', async () => {
    await h.shutdown();
    h = harness({ maxNodes: 2, nodeIdleTtl: 50 });
    h.metrics.setNodeUp('old', true);
    h.metrics.record({ node: 'old', transport: 'http', status: 'success', durationSeconds: 0.01 });
    expect(point(await h.collect(), U, { node: 'old' }).value).to.equal(1);
    // Past the TTL: a lower bound on the idle time, which a slow machine only lengthens.
    await sleep(80);
    h.metrics.sweep();
    expect(h.metrics.isLiveNode('old')).to.equal(false);
    // new1 and new2 stay live however long the collection takes: a call in flight keeps its node.
    const held = ['new1', 'new2'].map(node => h.metrics.startTimer({ node, transport: 'exec' }));
    h.metrics.record({ node: 'new1', transport: 'http', status: 'success', durationSeconds: 0.01 });
    h.metrics.record({ node: 'new2', transport: 'http', status: 'success', durationSeconds: 0.01 });
    // The SDK keeps reporting an observable series' last value to a cumulative
    // reader (sdk-metrics 2.12); our endpoint filters forgotten nodes out (see
    // endpoint.spec.ts). Here: maxNodes accounting has room again.
    const rm = await h.collect();
    expect(points(rm, D, { node: '_other' })).to.have.length(0);
    expect(histogram(rm, D, { node: 'new2' }).count).to.equal(1);
    expect(h.metrics.isLiveNode('new1') && h.metrics.isLiveNode('new2')).to.equal(true);
    for (const end of held) end();
  });

  it('times health checks and updates node up from them', async () => {
    expect(await h.metrics.measureHealthCheck('n', async () => true)).to.equal(true);
    expect(await h.metrics.measureHealthCheck('n', () => false)).to.equal(false);
    expect(await h.metrics.measureHealthCheck('n', () => {
      throw new Error('down');
    })).to.equal(false);
    const rm = await h.collect();
    expect(histogram(rm, semconv.METRIC_HEALTH_CHECK_DURATION, { node: 'n', status: 'success' }).count).to.equal(1);
    expect(histogram(rm, semconv.METRIC_HEALTH_CHECK_DURATION, { node: 'n', status: 'error' }).count).to.equal(2);
    expect(histogram(rm, semconv.METRIC_HEALTH_CHECK_DURATION, { node: 'n', status: 'error' }).buckets.boundaries[0]).to.equal(0.001);
    expect(point(rm, semconv.METRIC_HEALTH_CHECK_FAILURES, { node: 'n' }).value).to.equal(2);
    expect(point(rm, U, { node: 'n' }).value).to.equal(0);
  });

  it('prefixes every instrument name', async () => {
    await h.shutdown();
    h = harness({ prefix: 'mcp' });
    h.metrics.record({ node: 'n', transport: 'http', status: 'error', durationSeconds: 1 });
    h.metrics.recordFallback({ node: 'n', from: 'http', to: 'exec' });
    h.metrics.setNodeUp('n', true);
    const rm = await h.collect();
    const names = rm.scopeMetrics.flatMap(s => s.metrics.map(m => m.descriptor.name)).sort();
    expect(names).to.deep.equal([
      'mcp.gateway.fallbacks', 'mcp.gateway.node.up', 'mcp.gateway.request.duration',
      'mcp.gateway.request.errors', 'mcp.gateway.requests.active',
    ]);
  });

  it('bounds transports: beyond 8 distinct values they are recorded as _other', async () => {
    for (let i = 0; i < 10; i++) h.metrics.record({ node: 'n', transport: `t${i}`, status: 'success', durationSeconds: 0 });
    const rm = await h.collect();
    expect(points(rm, D).map(p => p.attributes.transport).sort()).to.deep.equal(['_other', 't0', 't1', 't2', 't3', 't4', 't5', 't6', 't7']);
    expect(total(rm, D)).to.equal(10);
  });
});
