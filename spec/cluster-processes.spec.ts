/**
 * Real node:cluster gateways: a primary (with or without our code) and
 * workers loaded with `--require otel-gateway-metrics/register`, making real
 * HTTP calls to a loopback backend; the metrics port is shared by the
 * workers through the primary, so each scrape on a fresh connection goes to
 * the next worker, and each must answer the host's exact sums. Worker death
 * (SIGKILL) and a hung worker (SIGSTOP) included; OTLP from the workers to a
 * loopback receiver.
 */
import { expect } from 'chai';
import { Backend, gatewaySamples, getFresh, scrape, startCluster, type Cluster } from './helpers/cluster';
import { find, type Parsed } from './helpers/prom';
import { stopAll, waitFor } from './helpers/procs';
import { OtlpReceiver, type ExportRequest } from './helpers/otlp';

const count = (p: Parsed, labels: Record<string, string> = {}) =>
  find(p, 'gateway_request_duration_seconds_count', labels).reduce((n, s) => n + s.value, 0);

async function calls(c: Cluster, slot: number, n: number, path = '/call'): Promise<number> {
  const r = await getFresh(c.control(slot, `/calls?n=${n}&path=${path}`), 60_000);
  return (JSON.parse(r.body) as { ok: number }).ok;
}

interface StatsBody {
  totals: { requests: number; inFlight: number };
  cluster: { workers: number; responding: number; unresponsive: string[]; exited: number; perWorker: { worker: string; pid: number }[] };
}

async function stats(c: Cluster, timeoutMs?: number): Promise<StatsBody> {
  const r = await getFresh(c.statsUrl, timeoutMs);
  expect(r.status).to.equal(200);
  return JSON.parse(r.body) as StatsBody;
}

describe('cluster: node:cluster workers, one exact view per host', function () {
  this.timeout(120_000);
  let backend: Backend;
  beforeEach(async () => {
    backend = await new Backend().start();
  });
  afterEach(async () => {
    backend.release();
    await stopAll(3000);
    await backend.stop();
  });

  /** 8 scrapes and 8 /stats on fresh connections: the same gateway series every time, with `total` calls. */
  async function exactOnEveryScrape(c: Cluster, total: number): Promise<void> {
    const seen: string[][] = [];
    for (let i = 0; i < 8; i++) {
      const p = await scrape(c.metricsUrl);
      expect(count(p), `scrape ${i}`).to.equal(total);
      seen.push(gatewaySamples(p));
      const s = await stats(c);
      expect(s.totals.requests, `stats ${i}`).to.equal(total);
    }
    for (const s of seen) expect(s).to.deep.equal(seen[0]);
  }

  it('2 workers, zero config, the primary running none of our code: 10 + 30 calls are 40 on 8 consecutive scrapes and in /stats', async () => {
    const c = await startCluster(backend, { workers: 2, inPrimary: false });
    expect(await calls(c, 0, 10)).to.equal(10);
    expect(await calls(c, 1, 30)).to.equal(30);
    await exactOnEveryScrape(c, 40);
    const p = await scrape(c.metricsUrl);
    expect(find(p, 'gateway_cluster_workers', { state: 'running' })[0]!.value).to.equal(2);
    expect(find(p, 'gateway_cluster_worker_up').map(s => s.value)).to.deep.equal([1, 1]);
    expect(find(p, 'gateway_cluster_worker_memory_bytes').length).to.equal(2);
    const s = await stats(c);
    expect(s.cluster).to.include({ workers: 2, responding: 2, exited: 0 });
    expect(s.cluster.perWorker.map(w => w.pid).sort()).to.deep.equal([...c.pids.values()].sort());
  });

  it('4 workers with NODE_OPTIONS loading us in the primary too: the primary gives its port up, and 5 + 10 + 15 + 20 calls are 50 everywhere', async () => {
    const c = await startCluster(backend, { workers: 4, inPrimary: true });
    for (let slot = 0; slot < 4; slot++) expect(await calls(c, slot, 5 * (slot + 1))).to.equal(5 * (slot + 1));
    await exactOnEveryScrape(c, 50);
    expect(c.proc.output()).not.to.match(/address already in use/i);
  });

  it('a worker killed (SIGKILL) mid-traffic and replaced: totals never go down, and at the end equal every call made, the dead worker\'s included', async () => {
    const c = await startCluster(backend, { workers: 2, inPrimary: false });
    let stop = false;
    // Worker 1: steady traffic in batches while everything else happens.
    let made1 = 0;
    const traffic = (async () => {
      while (!stop) made1 += await calls(c, 1, 5);
    })();
    // Worker 0: calls one after another until it dies; the backend holds one of them, and the worker is killed waiting for it.
    const doomed = getFresh(c.control(0, '/calls?n=1000000&path=/gate'), 60_000).catch(() => undefined);
    const totals: number[] = [];
    const watch = async () => totals.push(count(await scrape(c.metricsUrl)));
    await waitFor('worker 0 calls', async () => ((backend.finished.get('/gate') ?? 0) >= 50 ? true : undefined), 30_000, 20);
    for (let i = 0; i < 3; i++) await watch();
    backend.holdNextGate = true;
    await waitFor('a held call', async () => (backend.held.length > 0 ? true : undefined), 10_000, 10);
    process.kill(c.pids.get(0)!, 'SIGKILL');
    await doomed;
    backend.release(); // to a dead socket: not a finished response
    for (let i = 0; i < 3; i++) await watch();
    await c.ready(0, 2);
    expect(await calls(c, 0, 7)).to.equal(7);
    for (let i = 0; i < 3; i++) await watch();
    stop = true;
    await traffic;
    await watch();
    for (let i = 1; i < totals.length; i++) expect(totals[i], `scrape ${i}: ${totals.join(', ')}`).to.be.at.least(totals[i - 1]!);
    const made = backend.total();
    expect(made).to.equal((backend.finished.get('/gate') ?? 0) + made1 + 7);
    await exactOnEveryScrape(c, made);
    const p = await scrape(c.metricsUrl);
    expect(find(p, 'gateway_cluster_worker_restarts_total')[0]!.value).to.equal(1);
    expect(find(p, 'gateway_cluster_workers', { state: 'running' })[0]!.value).to.equal(2);
    expect(find(p, 'gateway_requests_active').reduce((n, s) => n + s.value, 0)).to.equal(0);
  });

  it('a hung worker (SIGSTOP): scrapes answered by the others within the timeout, with its last state and a marker; back after SIGCONT', async () => {
    const c = await startCluster(backend, { workers: 2, inPrimary: false });
    expect(await calls(c, 0, 10)).to.equal(10);
    expect(await calls(c, 1, 30)).to.equal(30);
    await getFresh(c.control(1, '/hold?n=2'));
    await waitFor('2 calls held', async () => (backend.held.length === 2 ? true : undefined), 10_000, 20);
    const stopped = c.pids.get(1)!;
    await waitFor('the held calls in flight on the host', async () => {
      const p = await scrape(c.metricsUrl, 5000);
      return find(p, 'gateway_requests_active').reduce((n, s) => n + s.value, 0) === 2 ? true : undefined;
    }, 15_000);
    process.kill(stopped, 'SIGSTOP');
    try {
      // The primary may hand the stopped worker one connection (the next after
      // it stopped) before it knows; every scrape after that goes to the other.
      let unanswered = 0;
      const answered: Parsed[] = [];
      for (let i = 0; i < 6; i++) {
        try {
          answered.push(await scrape(c.metricsUrl, 5000));
        } catch {
          unanswered++;
        }
      }
      expect(unanswered).to.be.at.most(1);
      for (const p of answered) {
        expect(count(p)).to.equal(40);
        expect(find(p, 'gateway_requests_active').reduce((n, s) => n + s.value, 0)).to.equal(2);
      }
      const marked = await waitFor('the stopped worker marked unresponsive', async () => {
        const p = await scrape(c.metricsUrl, 5000);
        const silent = find(p, 'gateway_cluster_worker_up').filter(s => s.value === 0);
        return silent.length === 1 ? p : undefined;
      }, 20_000);
      expect(find(marked, 'gateway_cluster_workers', { state: 'unresponsive' })[0]!.value).to.equal(1);
      expect(find(marked, 'gateway_cluster_workers', { state: 'running' })[0]!.value).to.equal(1);
      expect(count(marked)).to.equal(40);
      const s = await stats(c, 5000);
      expect(s.cluster.unresponsive).to.have.length(1);
      expect(s.cluster.responding).to.equal(1);
      expect(s.totals.requests).to.equal(40);
    } finally {
      process.kill(stopped, 'SIGCONT');
    }
    await waitFor('the worker back', async () => {
      const p = await scrape(c.metricsUrl, 5000);
      return find(p, 'gateway_cluster_worker_up').every(x => x.value === 1) && find(p, 'gateway_cluster_worker_up').length === 2 ? true : undefined;
    }, 20_000);
    backend.release();
    await waitFor('the held calls done', async () => {
      const p = await scrape(c.metricsUrl, 5000);
      return count(p) === 42 && find(p, 'gateway_requests_active').reduce((n, x) => n + x.value, 0) === 0 ? true : undefined;
    }, 20_000);
  });

  it('OTLP from the workers: each exports its own series under its own service.instance.id (the user\'s id plus the worker\'s), never the same series under one resource', async () => {
    const receiver = await new OtlpReceiver().start();
    try {
      const c = await startCluster(backend, {
        workers: 2,
        inPrimary: false,
        env: {
          OTEL_METRICS_EXPORTER: 'prometheus,otlp',
          OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url,
          OTEL_METRIC_EXPORT_INTERVAL: '300',
          OTEL_METRIC_EXPORT_TIMEOUT: '300',
          OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=gw-host',
        },
      });
      expect(await calls(c, 0, 10)).to.equal(10);
      expect(await calls(c, 1, 30)).to.equal(30);
      const byInstance = (exports: ExportRequest[]) => {
        const out = new Map<string, number>();
        for (const e of exports) {
          const m = e.metrics.find(x => x.name === 'gateway.request.duration');
          if (m === undefined) continue;
          out.set(String(e.resource['service.instance.id']), m.points.reduce((n, p) => n + (p.count ?? 0), 0));
        }
        return out;
      };
      const latest = await waitFor('both workers\' exports with their calls', async () => {
        const m = byInstance(receiver.exports);
        return [...m.values()].sort((a, b) => a - b).join(',') === '10,30' ? m : undefined;
      }, 30_000, 100);
      const ids = [...latest.keys()].sort();
      expect(ids).to.have.length(2);
      for (const id of ids) expect(id).to.match(/^gw-host-worker-\d+$/);
      // Every export is one worker's: its resource's series are that worker's alone.
      const hosts = new Set(receiver.exports.map(e => String(e.resource['host.name'])));
      expect(hosts.size).to.equal(1);
      expect(count(await scrape(c.metricsUrl))).to.equal(40);
    } finally {
      await stopAll(3000);
      await receiver.stop();
    }
  });
});
