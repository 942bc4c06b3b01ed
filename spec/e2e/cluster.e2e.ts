/**
 * A 2-worker node:cluster gateway scraped by the real Prometheus (the one
 * scripts/e2e-setup.sh installs) every second: each scrape goes to the next
 * worker, one worker is killed (SIGKILL) and replaced midway, and yet the
 * counter Prometheus stores has no reset, and `increase()` over the run is
 * exactly the number of calls the workers made.
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend, getFresh, startCluster, type Cluster } from '../helpers/cluster';
import { freePort, removeOnExit, startProcess, stopAll, waitFor, waitForHttp200 } from '../helpers/procs';
import { PromApi, type MatrixSample } from '../helpers/promapi';
import { tools } from '../helpers/tools';

const COUNT = 'gateway_request_duration_seconds_count';

describe('e2e: a node:cluster gateway scraped by Prometheus', function () {
  this.timeout(240_000);
  let backend: Backend;
  let cluster: Cluster;
  let prom: PromApi;

  before(async () => {
    const t = tools();
    backend = await new Backend().start();
    cluster = await startCluster(backend, { workers: 2, inPrimary: false, lifetimeMs: 200_000 });
    const tmp = removeOnExit(mkdtempSync(join(tmpdir(), 'ogm-e2e-cluster-')));
    const target = new URL(cluster.metricsUrl).host;
    writeFileSync(join(tmp, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: gateway-cluster',
      `    static_configs: [{ targets: ['${target}'] }]`,
      '',
    ].join('\n'));
    const port = await freePort();
    const prometheus = startProcess('prometheus', t.prometheus, [
      `--config.file=${join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { lifetimeMs: 200_000 });
    prom = new PromApi(`http://127.0.0.1:${port}`);
    await waitForHttp200('Prometheus ready', `${prom.base}/-/ready`, 60_000, prometheus);
  });

  after(async () => {
    backend.release();
    await stopAll(3000);
    await backend.stop();
  });

  const calls = async (slot: number, n: number) => (JSON.parse((await getFresh(cluster.control(slot, `/calls?n=${n}`), 60_000)).body) as { ok: number }).ok;
  const stored = async () => {
    const r = await prom.query(`sum(${COUNT})`);
    return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
  };

  it('increase() over the run equals the calls made, with no counter reset, through a worker\'s death and replacement', async () => {
    // Every series exists and has been scraped before the run.
    expect(await calls(0, 1)).to.equal(1);
    expect(await calls(1, 1)).to.equal(1);
    await waitFor('the warm-up in Prometheus', async () => ((await stored()) === 2 ? true : undefined), 30_000);
    // Two scrapes at least at the warm-up value (one per worker, round robin).
    await waitFor('two more scrapes', async () => {
      const m = await prom.query(`count_over_time(${COUNT}[30s])`);
      return m.length === 1 && Number(m[0]!.value[1]) >= 4 ? true : undefined;
    }, 30_000);

    let made = 0;
    for (let round = 0; round < 6; round++) {
      made += await calls(0, 10);
      made += await calls(1, 20);
      if (round === 2) {
        process.kill(cluster.pids.get(0)!, 'SIGKILL');
        await cluster.ready(0, 2);
      }
      await new Promise(r => setTimeout(r, 700));
    }
    expect(made).to.equal(180);
    const total = 2 + made;
    await waitFor('the run in Prometheus', async () => ((await stored()) === total ? true : undefined), 30_000);
    // One more scrape after it, so that the last value is not the only one.
    await new Promise(r => setTimeout(r, 2500));

    // The raw samples: the last one at the warm-up value before the run, the first one at the final value.
    const matrix = await rangeSamples(prom, `${COUNT}[3m]`);
    expect(matrix).to.have.length(1);
    const values = matrix[0]!.values.map(([t, v]) => [Number(t), Number(v)] as const);
    for (let i = 1; i < values.length; i++) expect(values[i]![1], 'no sample lower than the one before it').to.be.at.least(values[i - 1]![1]);
    const startAt = values.filter(([, v]) => v === 2).pop()![0];
    const endAt = values.find(([, v]) => v === total)![0];
    const windowMs = Math.round((endAt - startAt) * 1000);
    // A window from exactly one sample to exactly another: increase() extrapolates nothing.
    const inc = await prom.query(`increase(${COUNT}[${windowMs}ms])`, endAt);
    expect(inc.map(s => Number(s.value[1]))).to.deep.equal([made]);
    const resets = await prom.query(`resets(${COUNT}[3m])`);
    expect(resets.map(s => Number(s.value[1]))).to.deep.equal([0]);
    const restarts = await prom.query('gateway_cluster_worker_restarts_total');
    expect(restarts.map(s => Number(s.value[1]))).to.deep.equal([1]);
  });
});

/** A range selector's raw samples, as an instant query returns them (a matrix). */
async function rangeSamples(prom: PromApi, expr: string): Promise<MatrixSample[]> {
  const res = await fetch(`${prom.base}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { status: string; data: { resultType: string; result: MatrixSample[] } };
  if (body.status !== 'success' || body.data.resultType !== 'matrix') throw new Error(`${expr}: ${JSON.stringify(body)}`);
  return body.data.result;
}
