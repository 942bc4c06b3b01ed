/**
 * The per-host view in one process: members (workers) writing their state
 * files into a real temporary directory, read back and summed by a HostView
 * as any worker answering a scrape would, then serialized by our serializer
 * and parsed by the independent parser. The processes themselves (node:cluster,
 * PM2, SIGKILL, SIGSTOP) are in cluster-processes.spec.ts and cluster-pm2.spec.ts.
 */
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregationTemporality, AggregationType } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { GatewayMetrics } from '../lib';
import { RateLimitedWarner } from '../lib/core/diag';
import { SeriesStore } from '../lib/store/store';
import { PrometheusSerializer } from '../lib/export/exposition';
import { Member } from '../lib/cluster/member';
import { GroupReader } from '../lib/cluster/reader';
import { HostView } from '../lib/cluster/host';
import { maintain } from '../lib/cluster/maintenance';
import { Encoder, parseRecords, readSlot, slotBuffer, slotSize, writeSlot, T_HEADER, T_INSTRUMENT, T_ROW, T_END, type InstrumentRecord } from '../lib/cluster/journal';
import { pm2Cwd, pm2Env } from '../lib/cluster/identity';
import { resolveConfig, ConfigError } from '../lib/config/resolve';
import { computeStats } from '../lib/export/stats';
import { parseExposition, find, type Parsed } from './helpers/prom';

const SCOPE = { name: 'otel-gateway-metrics', version: 'test' };
const CUMULATIVE = { temporality: () => AggregationTemporality.CUMULATIVE, aggregation: () => ({ type: AggregationType.DEFAULT }) };
const tick = () => new Promise<void>(r => setImmediate(r));

describe('cluster: the per-host view of the workers\' state files', () => {
  let dir: string;
  const members: Member[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ogm-cluster-'));
  });
  afterEach(() => {
    for (const m of members.splice(0)) m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function worker(label: string, ttl = 600_000) {
    const store = new SeriesStore({ scope: SCOPE, readers: [CUMULATIVE], views: [], warn: new RateLimitedWarner() });
    const member = new Member({ dir, worker: label, procStart: undefined, ttl, beatMs: 0 });
    members.push(member);
    const metrics = new GatewayMetrics(member.recorders(store), { nodeIdleTtl: ttl });
    return { store, member, metrics };
  }

  function host() {
    const reader = new GroupReader(dir);
    return { reader, view: new HostView({ scope: SCOPE, prefix: '', reader, warn: new RateLimitedWarner() }) };
  }

  function scrape(view: HostView, now?: number): Parsed {
    view.refresh(now);
    return parseExposition(new PrometheusSerializer({ scopeLabels: false }).serialize({ resource: resourceFromAttributes({}), scopeMetrics: [] }, view.store));
  }

  const gatewayOnly = (p: Parsed) => p.samples.filter(x => x.name.startsWith('gateway_') && !x.name.startsWith('gateway_cluster_')).map(x => `${x.name}${JSON.stringify(x.labels)} ${x.value}`).sort();

  const value = (p: Parsed, name: string, labels: Record<string, string> = {}) => {
    const s = find(p, name, labels);
    return s.length === 1 ? s[0]!.value : s.length === 0 ? undefined : NaN;
  };

  // Durations in 1/1024 s: every sum is exact in binary floating point, in any order.
  const s = (k: number) => k / 1024;

  it('sums every worker\'s counts, buckets and sums exactly; a worker that leaves keeps its counts and its in-flight drops to 0', async () => {
    const a = worker('1');
    const b = worker('2');
    const n = { node: 'n1', transport: 'http' };
    for (const k of [4, 200]) a.metrics.record({ ...n, status: 'success', durationSeconds: s(k) });
    a.metrics.record({ ...n, status: 'error', durationSeconds: s(7168), errorType: 'timeout' });
    for (const k of [5, 20]) b.metrics.record({ ...n, status: 'success', durationSeconds: s(k) });
    a.metrics.startTimer(n);
    a.metrics.startTimer(n);
    b.metrics.startTimer(n);
    await tick();
    a.member.snapshot();
    b.member.snapshot();
    const { view } = host();
    const p = scrape(view);
    const ok = { node: 'n1', transport: 'http', status: 'success' };
    expect(value(p, 'gateway_request_duration_seconds_count', ok)).to.equal(4);
    expect(value(p, 'gateway_request_duration_seconds_sum', ok)).to.equal(s(4 + 200 + 5 + 20));
    // le 0.005: 4/1024 and 5/1024; 0.01: same; 0.025: + 20/1024; 0.25: + 200/1024.
    const buckets = Object.fromEntries(find(p, 'gateway_request_duration_seconds_bucket', ok).map(x => [x.labels.le, x.value]));
    expect(buckets).to.include({ '0.005': 2, '0.01': 2, '0.025': 3, '0.05': 3, '0.1': 3, '0.25': 4, '+Inf': 4 });
    expect(value(p, 'gateway_request_duration_seconds_count', { ...n, status: 'error' })).to.equal(1);
    expect(value(p, 'gateway_request_errors_total', { ...n, error_type: 'timeout' })).to.equal(1);
    expect(value(p, 'gateway_requests_active', n)).to.equal(3);
    expect(value(p, 'gateway_cluster_workers', { state: 'running' })).to.equal(2);

    b.member.close();
    const q = scrape(view);
    expect(value(q, 'gateway_request_duration_seconds_count', ok)).to.equal(4);
    expect(value(q, 'gateway_requests_active', n)).to.equal(2);
    expect(value(q, 'gateway_cluster_workers', { state: 'running' })).to.equal(1);
    expect(value(q, 'gateway_cluster_worker_restarts_total')).to.equal(1);
    expect(find(q, 'gateway_cluster_worker_up').map(x => x.labels.worker)).to.deep.equal(['1']);
  });

  it('writes a call\'s body bytes with its record, on the next tick (no beat needed)', async () => {
    const a = worker('1');
    a.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(3), requestBytes: 100, responseBytes: 2500 });
    await tick();
    const { view } = host();
    const p = scrape(view);
    expect(value(p, 'gateway_network_io_bytes_total', { node: 'n1', transport: 'http', network_io_direction: 'transmit' })).to.equal(100);
    expect(value(p, 'gateway_network_io_bytes_total', { node: 'n1', transport: 'http', network_io_direction: 'receive' })).to.equal(2500);
    a.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(3), requestBytes: 1, responseBytes: 2 });
    await tick();
    expect(value(scrape(view), 'gateway_network_io_bytes_total', { node: 'n1', transport: 'http', network_io_direction: 'receive' })).to.equal(2502);
  });

  it('node up is the lowest among live workers; a worker that left has none', async () => {
    const a = worker('1');
    const b = worker('2');
    a.metrics.setNodeUp('n1', true);
    b.metrics.setNodeUp('n1', false);
    a.metrics.setNodeUp('n2', true);
    a.member.snapshot();
    b.member.snapshot();
    const { view } = host();
    let p = scrape(view);
    expect(value(p, 'gateway_node_up', { node: 'n1' })).to.equal(0);
    expect(value(p, 'gateway_node_up', { node: 'n2' })).to.equal(1);
    b.member.close();
    p = scrape(view);
    expect(value(p, 'gateway_node_up', { node: 'n1' })).to.equal(1);
  });

  it('the stats view of the host: the same sums, in-flight and up from the host\'s points, and the workers it covers', async () => {
    const a = worker('1');
    const b = worker('2');
    a.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(4) });
    b.metrics.record({ node: 'n1', transport: 'http', status: 'error', durationSeconds: s(4) });
    b.metrics.startTimer({ node: 'n1', transport: 'http' });
    b.metrics.setNodeUp('n1', true);
    await tick();
    b.member.snapshot();
    const { view } = host();
    view.refresh();
    const stats = view.withCluster(await computeStats(view.statsNodes, async () => ({ scopeMetrics: [await view.store.collect(0)] }), view.startedAt));
    expect(stats.totals).to.include({ requests: 2, errors: 1, inFlight: 1, nodes: 1, nodesUp: 1 });
    expect(stats.series.map(x => [x.node, x.transport, x.requests, x.errors, x.inFlight, x.up])).to.deep.equal([['n1', 'http', 2, 1, 1, true]]);
    expect(stats.cluster).to.include({ workers: 2, responding: 2, exited: 0 });
    expect(stats.cluster!.perWorker.map(w => w.worker).sort()).to.deep.equal(['1', '2']);
  });

  describe('which rows add up (written by hand, at chosen times)', () => {
    const T0 = Date.now() - 1_000_000;
    const HIST: InstrumentRecord = { id: 1, kind: 'histogram', name: 'gateway.request.duration', description: 'd', unit: 's', valueType: 1, type: 'HISTOGRAM', boundaries: [1], recordMinMax: true };

    /** A member file: rows [began, lastWrite, count, ended?]; `beat` and `bye` as given. */
    function memberFile(key: string, pid: number, ttl: number, rows: [number, number, number, boolean][], beatAt?: number, byeAt?: number) {
      const enc = new Encoder();
      enc.json(T_HEADER, { v: 1, member: key, pid, procStart: undefined, worker: key, joined: T0, ttl, gen: 1 });
      enc.json(T_INSTRUMENT, HIST);
      rows.forEach(([began, lastWrite, count, ended], i) => {
        enc.json(T_ROW, { r: i + 1, i: 1, a: { node: 'x' }, s: T0, w: T0 + began, o: 0 });
        // buckets [≤1, +Inf], sum, min, max
        enc.data(i + 1, T0 + lastWrite, [count, 0, count * 0.5, 0.5, 0.5], 0, 5, undefined, 0, undefined);
        if (ended) enc.idTime(T_END, i + 1, T0 + lastWrite + ttl);
      });
      if (beatAt !== undefined) enc.beat({ time: T0 + beatAt, rss: 1e8, heapUsed: 5e7, eldP99: 0.01, eldMax: 0.02 });
      if (byeAt !== undefined) enc.bye(T0 + byeAt);
      writeFileSync(join(dir, `m-${key}.1.log`), enc.bytes());
    }

    it('a series is summed over the rows of its current stretch: rows from before a gap longer than the ttl are an earlier life', () => {
      // ttl 5 s. A: [0, 10+5] ended; B: [12, 100+5]; C: [200, 200+5].
      memberFile('a', process.pid, 5_000, [[0, 10_000, 3, true]]);
      memberFile('b', process.pid, 5_000, [[12_000, 100_000, 4, false]]);
      const { view } = host();
      expect(value(scrape(view, T0 + 50_000), 'gateway_request_duration_seconds_count', { node: 'x' })).to.equal(7);
      expect(value(scrape(view, T0 + 104_000), 'gateway_request_duration_seconds_count', { node: 'x' })).to.equal(7);
      // Idle everywhere for longer than the ttl: forgotten by the host.
      expect(value(scrape(view, T0 + 150_000), 'gateway_request_duration_seconds_count', { node: 'x' })).to.equal(undefined);
      memberFile('c', process.pid, 5_000, [[200_000, 200_000, 2, false]]);
      // Back: from zero (A's and B's rows are of its earlier life).
      expect(value(scrape(view, T0 + 201_000), 'gateway_request_duration_seconds_count', { node: 'x' })).to.equal(2);
    });

    it('a worker without a beat for a few seconds is unresponsive (its state still summed); one that said goodbye or whose process is gone has exited', () => {
      const now = T0 + 100_000;
      memberFile('a', process.pid, 0, [[0, 1_000, 3, false]], 99_500);
      memberFile('b', process.pid, 0, [[0, 1_000, 4, false]], 90_000);
      memberFile('c', process.pid, 0, [[0, 1_000, 5, false]], 1_000, 2_000);
      // A pid that is not running (beyond pid_max).
      memberFile('d', 2 ** 22 + 1, 0, [[0, 1_000, 6, false]], 1_000);
      const { view } = host();
      const p = scrape(view, now);
      expect(value(p, 'gateway_request_duration_seconds_count', { node: 'x' })).to.equal(18);
      expect(value(p, 'gateway_cluster_workers', { state: 'running' })).to.equal(1);
      expect(value(p, 'gateway_cluster_workers', { state: 'unresponsive' })).to.equal(1);
      expect(value(p, 'gateway_cluster_worker_up', { worker: 'a' })).to.equal(1);
      expect(value(p, 'gateway_cluster_worker_up', { worker: 'b' })).to.equal(0);
      expect(value(p, 'gateway_cluster_worker_memory_bytes', { worker: 'a' })).to.equal(1e8);
      expect(value(p, 'gateway_cluster_worker_event_loop_delay_seconds', { worker: 'b' })).to.equal(0.01);
      expect(value(p, 'gateway_cluster_worker_restarts_total')).to.equal(2);
      expect(view.cluster).to.deep.include({ workers: 2, responding: 1, unresponsive: ['b'], exited: 2 });
    });
  });

  it('a call on a node idle for longer than the ttl starts new rows: the host does not bring back what it forgot', async () => {
    const ttl = 60_000;
    const a = worker('1', ttl);
    a.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(4) });
    a.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(4) });
    await tick();
    const { view } = host();
    const later = Date.now() + ttl + 1_000;
    expect(value(scrape(view, later), 'gateway_request_duration_seconds_count', { node: 'n1', status: 'success' })).to.equal(undefined);
    // The worker's clock moves past the ttl before its sweep forgot the node: the next call starts over.
    a.member.clock = later;
    a.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(4) });
    await tick();
    expect(value(scrape(view, later + 1_000), 'gateway_request_duration_seconds_count', { node: 'n1', status: 'success' })).to.equal(1);
    // Its own store (what its OTLP export reads) keeps the three.
    const own = await a.store.collect(0);
    const duration = own.metrics.find(m => m.descriptor.name === 'gateway.request.duration')!;
    expect((duration.dataPoints[0]!.value as { count: number }).count).to.equal(3);
  });

  it('maintenance: a live worker takes over the rows of one that ended (sums unchanged, its file removed), and drops what the host forgot', async () => {
    const a = worker('1');
    const b = worker('2');
    a.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(4), requestBytes: 10 });
    b.metrics.record({ node: 'n1', transport: 'http', status: 'success', durationSeconds: s(20), requestBytes: 5 });
    b.metrics.record({ node: 'n2', transport: 'exec', status: 'error', durationSeconds: s(20), errorType: 'exit_nonzero' });
    await tick();
    a.member.snapshot();
    b.member.close();
    const { reader, view } = host();
    const before = scrape(view);
    const series = (p: Parsed) => p.samples.filter(x => x.name.startsWith('gateway_') && !x.name.startsWith('gateway_cluster_worker_up') && !x.name.startsWith('gateway_cluster_worker_memory') && !x.name.startsWith('gateway_cluster_worker_event'));
    maintain(a.member, view, reader, { graceMs: 60_000 });
    expect(series(scrape(view))).to.deep.equal(series(before));
    expect(value(scrape(view), 'gateway_cluster_worker_restarts_total')).to.equal(1);
    // After the grace, the adopted file is removed; the sums stay.
    maintain(a.member, view, reader, { graceMs: 0, now: Date.now() + 1 });
    expect(readdirSync(dir).filter(f => f.startsWith('m-')).sort()).to.deep.equal([`m-${a.member.key}.${a.member.generation}.dat`, `m-${a.member.key}.${a.member.generation}.log`]);
    expect(series(scrape(view))).to.deep.equal(series(before));
    expect(value(scrape(view), 'gateway_request_duration_seconds_count', { node: 'n1', transport: 'http', status: 'success' })).to.equal(2);
    expect(value(scrape(view), 'gateway_network_io_bytes_total', { node: 'n1', transport: 'http', network_io_direction: 'transmit' })).to.equal(15);

    // A rewrite long after every node went idle keeps nothing of them (the host forgot them).
    a.metrics.sweep(performance.now() + 700_000);
    maintain(a.member, view, reader, { force: true, now: Date.now() + 700_000 });
    expect(value(scrape(view, Date.now() + 700_000), 'gateway_request_duration_seconds_count', { node: 'n1', transport: 'http', status: 'success' })).to.equal(undefined);
    const mirror = reader.members.get(a.member.key)!;
    expect([...mirror.rows.values()].filter(r => r.instrument.kind !== 'observed').length).to.equal(0);
    expect(value(scrape(view, Date.now() + 700_000), 'gateway_cluster_worker_restarts_total')).to.equal(1);
  });

  it('a worker\'s file rewritten from its state (as when it grows large) holds the same sums: live series, and the rows of a node it forgot that another worker still has', async () => {
    const a = worker('1');
    const b = worker('2');
    const ok = { node: 'n1', transport: 'http', status: 'success' };
    a.metrics.record({ ...ok, durationSeconds: s(4), requestBytes: 7 } as never);
    a.metrics.record({ node: 'n2', transport: 'exec', status: 'success', durationSeconds: s(40) });
    b.metrics.record({ ...ok, durationSeconds: s(8) } as never);
    await tick();
    // A forgets n1 (idle past its ttl in its own registry); B still has it.
    a.metrics.sweep(performance.now() + 700_000);
    await tick();
    a.member.snapshot();
    b.member.snapshot();
    const { view } = host();
    const before = gatewayOnly(scrape(view));
    expect(value(scrape(view), 'gateway_request_duration_seconds_count', ok)).to.equal(2);
    const size = a.member.fileSize;
    for (let i = 0; i < 50; i++) a.metrics.record({ node: 'n3', transport: 'http', status: 'success', durationSeconds: s(1) });
    await tick();
    a.member.rewrite();
    expect(a.member.generation).to.equal(2);
    const after = gatewayOnly(scrape(view));
    expect(value(scrape(view), 'gateway_request_duration_seconds_count', ok)).to.equal(2);
    expect(value(scrape(view), 'gateway_network_io_bytes_total', { node: 'n1', transport: 'http', network_io_direction: 'transmit' })).to.equal(7);
    expect(after.filter(x => !x.includes('n3'))).to.deep.equal(before);
    expect(a.member.fileSize).to.be.lessThan(size + 50 * 200);
  });

  it('a reader takes a slot only when it is whole and of its row: a slot caught mid-write (ends differ) or still of the row before is read next time', () => {
    const { buf, f64, u32 } = slotBuffer(slotSize(2, 0));
    const numbers = new Float64Array(2);
    const none = () => new Float64Array(0);
    writeSlot(f64, u32, 0, 5, 7, 1000, [3, 4], 2, undefined, 0);
    expect(readSlot(f64, u32, buf.length, 0, 7, 2, 0, 4, numbers, none)).to.deep.include({ seq: 5, time: 1000 });
    expect([...numbers]).to.deep.equal([3, 4]);
    // Unchanged since the last read.
    expect(readSlot(f64, u32, buf.length, 0, 7, 2, 0, 5, numbers, none)).to.equal(undefined);
    // The slot still holds row 6 (the row before, restarted as 7).
    expect(readSlot(f64, u32, buf.length, 0, 8, 2, 0, 0, numbers, none)).to.equal(undefined);
    // The front of the next write is in, its end not yet.
    u32[0] = 6;
    f64[3] = 99;
    expect(readSlot(f64, u32, buf.length, 0, 7, 2, 0, 5, numbers, none)).to.equal(undefined);
    expect([...numbers].slice(1)).to.deep.equal([4]);
  });

  it('a reader parses complete records only; a record still being written is read next time', () => {
    const enc = new Encoder();
    enc.json(T_HEADER, { v: 1 });
    enc.bye(42);
    const bytes = Buffer.from(enc.bytes());
    const seen: number[] = [];
    const cut = bytes.length - 3;
    expect(parseRecords(bytes, 0, cut, r => seen.push(r.type))).to.be.lessThan(cut);
    expect(seen).to.deep.equal([T_HEADER]);
    const file = join(dir, 'm-x.1.log');
    writeFileSync(file, bytes.subarray(0, cut));
    const reader = new GroupReader(dir);
    reader.refresh();
    expect(reader.members.get('x')!.bye).to.equal(undefined);
    appendFileSync(file, bytes.subarray(cut));
    reader.refresh();
    expect(reader.members.get('x')!.bye).to.equal(42);
  });

  it('configuration: cluster on by default, `false` and GATEWAY_METRICS_CLUSTER=false turn it off, `dir` from option or env; a bad value fails naming it', () => {
    expect(resolveConfig({}, {}).cluster).to.deep.equal({ dir: undefined });
    expect(resolveConfig({ cluster: false }, {}).cluster).to.equal(undefined);
    expect(resolveConfig({}, { GATEWAY_METRICS_CLUSTER: 'false' }).cluster).to.equal(undefined);
    expect(resolveConfig({}, { GATEWAY_METRICS_CLUSTER_DIR: '/run/x' }).cluster).to.deep.equal({ dir: '/run/x' });
    expect(resolveConfig({ cluster: { dir: '/run/y' } }, { GATEWAY_METRICS_CLUSTER_DIR: '/run/x' }).cluster).to.deep.equal({ dir: '/run/y' });
    expect(() => resolveConfig({ cluster: 5 as never }, {})).to.throw(ConfigError, /"cluster"/);
    expect(() => resolveConfig({ cluster: { dri: 'x' } as never }, {})).to.throw(ConfigError, /cluster\.dri/);
  });

  it('under PM2, the ecosystem file\'s env is read from pm2_env before PM2 copies it into process.env', () => {
    const pm2 = JSON.stringify({ name: 'gw', pm_id: 3, NODE_APP_INSTANCE: 1, pm_cwd: '/srv/gw', GATEWAY_METRICS_PREFIX: 'edge', env: { nested: 1 } });
    const env = pm2Env({ pm2_env: pm2, PATH: '/bin' });
    expect(env).to.include({ GATEWAY_METRICS_PREFIX: 'edge', pm_id: '3', NODE_APP_INSTANCE: '1', PATH: '/bin' });
    expect(env.env).to.equal(undefined);
    expect(resolveConfig({}, env).prefix).to.equal('edge');
    expect(pm2Cwd({ pm2_env: pm2 })).to.equal('/srv/gw');
    expect(pm2Env({ PATH: '/bin' })).to.deep.equal({ PATH: '/bin' });
  });
});
