/**
 * Native histograms and exemplars in a real Prometheus (npm run test:e2e).
 *
 *   spec/fixtures/native-app.cjs ── /metrics ─┬─ Prometheus 2.42, native-histograms + exemplar-storage (asks for protobuf)
 *   (NodeSDK tracing, histogram: 'native')    └─ Prometheus 2.42, exemplar-storage only (asks for OpenMetrics 1.0.0)
 *
 * Asserted through each Prometheus's HTTP API: the native series and
 * histogram_quantile on them within 2% of the exact p95 of a 29–145 ms mix
 * whose explicit-bucket p95 (from the OpenMetrics Prometheus's `_bucket`
 * series) is off by more than 30%; the exemplars of calls made inside the
 * app's spans, with those spans' ids, on the buckets their values belong to,
 * the latest call of each kind among them; none for calls outside spans.
 * (Over protobuf, 2.42 takes one exemplar per native histogram and scrape,
 * the lowest bucket's.)
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv } from '../helpers/child';
import { freePorts, removeOnExit, startProcess, stopAll, waitFor, waitForHttp200, type Proc } from '../helpers/procs';
import { PromApi } from '../helpers/promapi';
import { tools } from '../helpers/tools';
import { negotiate } from '../../lib/export/negotiate';

const LIFETIME_MS = 4 * 60_000;
/** 1,000 values evenly spread over 29–145 ms. */
const MIX = Array.from({ length: 1000 }, (_, i) => 0.029 + (0.116 * i) / 999);
/** p95 by nearest rank: the 950th smallest value. */
const EXACT_P95 = [...MIX].sort((a, b) => a - b)[Math.ceil(0.95 * MIX.length) - 1]!;
/** Backend delays (ms) of the calls made inside spans: 150 ms lands in (0.1, 0.25], 700 ms in (0.5, 1]. */
const TRACED = [150, 150, 150, 150, 150, 700, 700, 700];
const UNTRACED = [150, 150, 150, 700];

interface Exemplar {
  labels: Record<string, string>;
  value: string;
  timestamp: number;
}
interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Exemplar[];
}
interface CallIds {
  delay: number;
  traceId: string;
  spanId: string;
}

async function queryExemplars(base: string, query: string, start: number, end: number): Promise<ExemplarSeries[]> {
  const res = await fetch(`${base}/api/v1/query_exemplars`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query, start: String(start), end: String(end) }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { status: string; data: ExemplarSeries[] };
  if (body.status !== 'success') throw new Error(`query_exemplars ${query}: ${JSON.stringify(body)}`);
  return body.data;
}

describe('native histograms and exemplars in a real Prometheus 2.42', function () {
  this.timeout(LIFETIME_MS);
  let app: Proc;
  const proms: Record<'native' | 'openmetrics', { proc: Proc; api: PromApi; base: string }> = {} as never;
  let started = 0;
  let calls: CallIds[] = [];
  /** A second target that records the Accept header each Prometheus sends (by its User-Agent's scrape). */
  let recorder: http.Server;
  const accepts = new Map<string, string>();

  const command = async (cmd: string, args: object = {}): Promise<Record<string, unknown>> => {
    app.write(`${JSON.stringify({ cmd, ...args })}\n`);
    return JSON.parse(await app.line(new RegExp(`"done":"${cmd}"`), 60_000)) as Record<string, unknown>;
  };

  before(async () => {
    const t = tools();
    started = Date.now() / 1000;
    app = startProcess('native-app', process.execPath, ['spec/fixtures/native-app.cjs'], { env: childEnv({}), lifetimeMs: LIFETIME_MS, stdin: true });
    const ready = JSON.parse(await app.line(/"ready":true/, 30_000)) as { metrics: string };
    const target = new URL(ready.metrics).host;
    const tmp = removeOnExit(mkdtempSync(join(tmpdir(), 'native-e2e-')));
    const [p1, p2] = await freePorts(2);
    recorder = http.createServer((req, res) => {
      accepts.set(String(req.url), String(req.headers.accept));
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('recorder_up 1\n');
    });
    await new Promise<void>(r => recorder.listen(0, '127.0.0.1', r));
    const recorderTarget = `127.0.0.1:${(recorder.address() as AddressInfo).port}`;
    const config = (kind: string) => `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n` +
      `  - job_name: gateway\n    static_configs:\n      - targets: ['${target}']\n` +
      `  - job_name: recorder\n    metrics_path: /${kind}\n    static_configs:\n      - targets: ['${recorderTarget}']\n`;
    for (const [kind, port, features] of [['native', p1, 'native-histograms,exemplar-storage'], ['openmetrics', p2, 'exemplar-storage']] as const) {
      writeFileSync(join(tmp, `prometheus-${kind}.yml`), config(kind));
      const proc = startProcess(`prometheus ${kind}`, t.prometheus, [
        `--config.file=${join(tmp, `prometheus-${kind}.yml`)}`,
        `--storage.tsdb.path=${join(tmp, `data-${kind}`)}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--enable-feature=${features}`,
        '--log.level=warn',
      ], { lifetimeMs: LIFETIME_MS });
      const base = `http://127.0.0.1:${port}`;
      proms[kind] = { proc, api: new PromApi(base), base };
    }
    for (const { proc, base } of Object.values(proms)) await waitForHttp200(`${proc.name} ready`, `${base}/-/ready`, 60_000, proc);

    // Every series exists and has been scraped before the measured part, so rate() sees all of it.
    await command('warmup');
    await waitFor('the warm-up in both', async () => {
      const n = await proms.native.api.query('histogram_count(gateway_request_duration_seconds{node="mix"})');
      const o = await proms.openmetrics.api.query('gateway_request_duration_seconds_count{node="mix"}');
      return n.length === 1 && Number(n[0]!.value[1]) === 1 && o.length === 1 && Number(o[0]!.value[1]) === 1 ? true : undefined;
    }, 60_000);
    await command('mix', { values: MIX });
    calls = (await command('calls', { traced: TRACED, untraced: UNTRACED })).ids as CallIds[];
    const total = 1 + MIX.length;
    await waitFor('the mix and the calls in both', async () => {
      const n = await proms.native.api.query('histogram_count(gateway_request_duration_seconds{node=~"mix|traced|untraced"})');
      const o = await proms.openmetrics.api.query('gateway_request_duration_seconds_count{node=~"mix|traced|untraced"}');
      const byNode = (s: typeof n) => Object.fromEntries(s.map(x => [x.metric.node, Number(x.value[1])]));
      const want = { mix: total, traced: 1 + TRACED.length, untraced: 1 + UNTRACED.length };
      const same = (x: Record<string, number>) => JSON.stringify(Object.entries(x).sort()) === JSON.stringify(Object.entries(want).sort());
      return same(byNode(n)) && same(byNode(o)) ? true : undefined;
    }, 90_000);
  });

  after(async () => {
    await stopAll();
    recorder?.closeAllConnections();
    recorder?.close();
  });

  it('the Accept header each Prometheus sends negotiates protobuf (native histograms on) and OpenMetrics (off)', () => {
    expect(negotiate(accepts.get('/native')), accepts.get('/native')).to.equal('protobuf');
    expect(negotiate(accepts.get('/openmetrics')), accepts.get('/openmetrics')).to.equal('openmetrics');
  });

  it('both scrape the endpoint without errors, one in protobuf, one in OpenMetrics', async () => {
    for (const { api } of Object.values(proms)) {
      const up = await api.query('up{job="gateway"}');
      expect(up.map(s => s.value[1])).to.deep.equal(['1']);
    }
    // 2.42 stores a histogram that carries native and classic buckets as native only.
    expect(await proms.native.api.series('gateway_request_duration_seconds_bucket', started, Date.now() / 1000 + 60)).to.deep.equal([]);
    expect((await proms.openmetrics.api.series('gateway_request_duration_seconds_bucket{node="mix"}', started, Date.now() / 1000 + 60)).length).to.equal(14);
  });

  it('histogram_quantile on the native series is within 2% of the exact p95; the explicit buckets are off by more than 30%', async () => {
    const native = await proms.native.api.query('histogram_quantile(0.95, sum by (node) (rate(gateway_request_duration_seconds{node="mix"}[5m])))');
    expect(native).to.have.length(1);
    const p95 = Number(native[0]!.value[1]);
    expect(Math.abs(p95 - EXACT_P95) / EXACT_P95, `native p95 ${p95} vs exact ${EXACT_P95}`).to.be.below(0.02);
    const classic = await proms.openmetrics.api.query('histogram_quantile(0.95, sum by (le) (rate(gateway_request_duration_seconds_bucket{node="mix"}[5m])))');
    const explicitP95 = Number(classic[0]!.value[1]);
    expect(Math.abs(explicitP95 - EXACT_P95) / EXACT_P95, `explicit p95 ${explicitP95} vs exact ${EXACT_P95}`).to.be.above(0.3);
  });

  const checkExemplars = (series: ExemplarSeries[], withLe: boolean, latestOf: number[]) => {
    const byTrace = new Map(calls.map(c => [c.traceId, c]));
    const seen = new Set<string>();
    for (const s of series) {
      expect(s.seriesLabels.node).to.equal('traced');
      for (const e of s.exemplars) {
        const call = byTrace.get(e.labels.trace_id!);
        expect(call, `exemplar of an unknown trace: ${JSON.stringify(e)}`).to.not.equal(undefined);
        expect(e.labels).to.deep.equal({ trace_id: call!.traceId, span_id: call!.spanId });
        const value = Number(e.value);
        // At least the backend's delay, on the bucket the value belongs to.
        expect(value).to.be.at.least(call!.delay / 1000);
        if (withLe) {
          const bounds = [0, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, Infinity];
          const le = s.seriesLabels.le === '+Inf' ? Infinity : Number(s.seriesLabels.le);
          const i = bounds.indexOf(le);
          expect(i, `le ${s.seriesLabels.le}`).to.be.greaterThan(0);
          expect(value).to.be.greaterThan(bounds[i - 1]!).and.at.most(le);
        }
        seen.add(e.labels.trace_id!);
      }
    }
    // The latest call of each kind is the latest exemplar of its bucket.
    for (const delay of latestOf) {
      const last = calls.filter(c => c.delay === delay).at(-1)!;
      expect(seen.has(last.traceId), `latest ${delay} ms call ${last.traceId} among ${[...seen].join(', ')}`).to.equal(true);
    }
  };

  it('OpenMetrics: the spans\' trace and span ids on the _bucket series their values belong to; none outside spans', async () => {
    const end = Date.now() / 1000 + 60;
    const series = await waitFor('exemplars (OpenMetrics)', async () => {
      const s = await queryExemplars(proms.openmetrics.base, 'gateway_request_duration_seconds_bucket{node="traced"}', started, end);
      return s.length > 0 ? s : undefined;
    }, 30_000);
    checkExemplars(series, true, [150, 700]);
    expect(await queryExemplars(proms.openmetrics.base, 'gateway_request_duration_seconds_bucket{node=~"untraced|mix"}', started, end)).to.deep.equal([]);
  });

  // 2.42 reads a native histogram's exemplars from its classic buckets, and
  // only one per scrape: the lowest bucket's (3.x reads all of `exemplars`).
  it('protobuf: the native series carries the exemplar of its lowest bucket with one (what 2.42 reads); none outside spans', async () => {
    const end = Date.now() / 1000 + 60;
    const series = await waitFor('exemplars (protobuf)', async () => {
      const s = await queryExemplars(proms.native.base, 'gateway_request_duration_seconds{node="traced"}', started, end);
      return s.length > 0 ? s : undefined;
    }, 30_000);
    checkExemplars(series, false, [150]);
    expect(await queryExemplars(proms.native.base, 'gateway_request_duration_seconds{node=~"untraced|mix"}', started, end)).to.deep.equal([]);
  });
});
