/**
 * Issue: nothing we do may break the host. Every public recording call takes
 * arbitrary input without throwing and without changing the caller's result
 * or error (fast-check properties over real instruments and a real reader).
 */
import { expect } from 'chai';
import * as fc from 'fast-check';
import { semconv } from '../lib';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, total, type Harness } from './helpers/metrics';
import { find, scrape } from './helpers/prom';
import { useRegistrations } from './helpers/registration';

const D = semconv.METRIC_REQUEST_DURATION;

/** Anything a caller could pass: primitives, odd objects, huge strings, proxies that throw. */
const anything = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.anything(),
    fc.constantFrom(undefined, null, NaN, -1, Infinity, -Infinity, 0, '', 'x'.repeat(10_000), Symbol('s'), () => 1),
    fc.constant(Object.create(null)),
    fc.constant(new Proxy({}, { get() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); } })),
    fc.record({ node: fc.oneof(fc.string(), fc.anything()), transport: fc.oneof(fc.constantFrom('http', 'exec'), fc.anything()) }),
  );

const validLabels = fc.record({ node: fc.string({ minLength: 1, maxLength: 40 }), transport: fc.constantFrom('http', 'exec') });

describe('bad input on the request path (property tests)', () => {
  let h: Harness;
  let diag: Captured;
  beforeEach(() => {
    diag = captureDiag();
    h = harness({ maxNodes: 100_000 });
  });
  afterEach(async () => {
    await h.shutdown();
    diag.restore();
  });

  it('record(), recordFallback(), setNodeUp() never throw, whatever they get', () => {
    fc.assert(
      fc.property(anything(), anything(), anything(), (a, b, c) => {
        h.metrics.record(a as never);
        h.metrics.record({ node: a, transport: b, status: c, durationSeconds: a, errorType: b } as never);
        h.metrics.recordFallback(a as never);
        h.metrics.recordFallback({ node: a, from: b, to: c } as never);
        h.metrics.setNodeUp(a as never, b as never);
      }),
      { numRuns: 500 },
    );
  });

  it('measure() returns exactly what a sync function returns, or rethrows exactly what it throws', () => {
    fc.assert(
      fc.property(anything(), anything(), fc.boolean(), (labels, value, throws) => {
        const fn = () => {
          if (throws) throw value;
          return value;
        };
        let out: unknown;
        let caught: unknown = 'nothing thrown';
        try {
          out = h.metrics.measure(labels as never, fn);
        } catch (e) {
          caught = e;
        }
        if (throws) {
          expect(Object.is(caught, value)).to.equal(true);
        } else {
          expect(caught).to.equal('nothing thrown');
          expect(Object.is(out, value)).to.equal(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('measure() returns the same promise, settling with exactly the function’s value or reason', async () => {
    await fc.assert(
      // (values that are not thenables themselves: Promise.resolve() would adopt those)
      fc.asyncProperty(anything(), fc.anything(), fc.boolean(), async (labels, value, rejects) => {
        const p = rejects ? Promise.reject(value) : Promise.resolve(value);
        const out = h.metrics.measure(labels as never, () => p);
        expect(out).to.equal(p);
        const settled = await out.then(v => ({ ok: true, v }), (e: unknown) => ({ ok: false, v: e }));
        expect(settled.ok).to.equal(!rejects);
        expect(Object.is(settled.v, value)).to.equal(true);
      }),
      { numRuns: 300 },
    );
  });

  it('startTimer()/end() never throw and always return a non-negative number of seconds', () => {
    fc.assert(
      fc.property(anything(), anything(), (labels, endArg) => {
        const end = h.metrics.startTimer(labels as never);
        const s = end(endArg as never);
        expect(s).to.be.a('number').and.at.least(0);
        expect(end(endArg as never)).to.equal(s);
      }),
      { numRuns: 500 },
    );
  });

  it('wrap() keeps results and errors for any node function, even one that throws', () => {
    fc.assert(
      fc.property(anything(), anything(), fc.boolean(), fc.boolean(), (nodeOut, value, nodeThrows, fnThrows) => {
        const wrapped = h.metrics.wrap(function (this: unknown, x: unknown) {
          if (fnThrows) throw value;
          return [this, x, value];
        }, {
          transport: 'http',
          node: () => {
            if (nodeThrows) throw new Error('node fn');
            return nodeOut as string;
          },
        });
        const self = { me: 1 };
        let out: unknown;
        let caught: unknown = 'none';
        try {
          out = wrapped.call(self, 42);
        } catch (e) {
          caught = e;
        }
        if (fnThrows) expect(Object.is(caught, value)).to.equal(true);
        else expect(out).to.deep.equal([self, 42, value]);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the in-flight gauge at 0 after every settled call, and counts every valid call once', async () => {
    let calls = 0;
    await fc.assert(
      fc.asyncProperty(validLabels, fc.boolean(), fc.boolean(), async (labels, async, fails) => {
        calls++;
        const fn = () => {
          if (async) return fails ? Promise.reject(undefined) : Promise.resolve(1);
          if (fails) throw null;
          return 1;
        };
        try {
          await h.metrics.measure(labels, fn);
        } catch {
          // expected for failing calls
        }
      }),
      { numRuns: 300 },
    );
    const rm = await h.collect();
    expect(total(rm, D)).to.equal(calls);
    const active = rm.scopeMetrics.flatMap(s => s.metrics).find(m => m.descriptor.name === semconv.METRIC_REQUESTS_ACTIVE)!;
    expect(active.dataPoints.every(p => p.value === 0)).to.equal(true);
  });

  it('drops invalid observations with a single rate-limited warning per kind', () => {
    for (let i = 0; i < 1000; i++) {
      h.metrics.record({ node: 'n', transport: 'http', status: 'success', durationSeconds: NaN });
      h.metrics.record({ node: undefined as never, transport: 'http', status: 'success', durationSeconds: 1 });
    }
    expect(diag.warn.filter(w => w.includes('durationSeconds'))).to.have.length(1);
    expect(diag.warn.filter(w => w.includes('node must be'))).to.have.length(1);
  });
});

describe('measure() with something that is not a function', () => {
  it('never throws: hands the value back as is, records nothing, warns once', async () => {
    const diag = captureDiag();
    const h = harness();
    try {
      const labels = { node: 'n', transport: 'http' };
      expect(h.metrics.measure(labels, undefined as never)).to.equal(undefined);
      expect(h.metrics.measure(labels, 42 as never)).to.equal(42);
      // The common slip: a promise instead of a function returning one. The caller awaits the same promise.
      const p = Promise.resolve('answer');
      expect(h.metrics.measure(labels, p as never)).to.equal(p);
      expect(await (h.metrics.measure(labels, p as never) as unknown as Promise<string>)).to.equal('answer');
      expect(total(await h.collect(), D)).to.equal(0);
      const rm = await h.collect();
      expect(rm.scopeMetrics.flatMap(sm => sm.metrics).find(m => m.descriptor.name === semconv.METRIC_REQUESTS_ACTIVE)?.dataPoints ?? []).to.deep.equal([]);
      expect(diag.warn.filter(w => w.includes('measure(): fn must be a function'))).to.have.length(1);
    } finally {
      await h.shutdown();
      diag.restore();
    }
  });
});

describe('node names that differ only in lone surrogates', () => {
  const reg = useRegistrations();

  it('are one node (made well-formed), not duplicate series with identical labels in /metrics', async () => {
    const o = await reg.ready({ http: false });
    for (const node of ['agent\uD800', 'agent\uD801', 'agent\uDC00', 'agent\uFFFD']) {
      o.metrics.record({ node, transport: 'http\uD800', status: 'error', durationSeconds: 0.1, errorType: 'e\uDBFF' });
    }
    const { text, parsed } = await scrape(o.prometheusUrl!);
    const counts = find(parsed, 'gateway_request_duration_seconds_count');
    expect(counts.map(s => [s.labels.node, s.labels.transport, s.value])).to.deep.equal([['agent\uFFFD', 'http\uFFFD', 4]]);
    expect(find(parsed, 'gateway_request_errors_total').map(s => [s.labels.error_type, s.value])).to.deep.equal([['e\uFFFD', 4]]);
    // No two lines of the exposition carry the same series.
    const series = text.split('\n').filter(l => l !== '' && !l.startsWith('#')).map(l => l.slice(0, l.lastIndexOf(' ')));
    expect(new Set(series).size).to.equal(series.length);
  });
});

describe('bad input on the automatic paths', () => {
  it('HTTP path: any nodeFor result (objects, numbers, huge strings, throws) never breaks the call', async () => {
    const http = await import('node:http');
    const { resolveConfig } = await import('../lib/config/resolve');
    const { HttpPath } = await import('../lib/paths/http');
    const diag = captureDiag();
    const h = harness();
    const server = http.createServer((_q, r) => r.end('ok'));
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as import('node:net').AddressInfo).port;
    let next: unknown;
    const path = new HttpPath(h.metrics, resolveConfig({ http: { nodeFor: () => {
      if (next instanceof Error) throw next;
      return next as string;
    } } }, {}).http!);
    path.enable();
    try {
      await fc.assert(
        fc.asyncProperty(anything(), async value => {
          next = value;
          expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).to.equal('ok');
        }),
        { numRuns: 60 },
      );
    } finally {
      path.disable();
      server.closeAllConnections();
      server.close();
      await h.shutdown();
      diag.restore();
    }
  });
});
