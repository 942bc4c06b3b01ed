/**
 * PM2 (from npm) in cluster mode: its own daemon in a temporary PM2_HOME is
 * the node:cluster primary and runs none of our code; the workers load our
 * entry through the ecosystem file's node_args, and every setting (the
 * metrics port, a prefix, the state directory) comes from the ecosystem
 * file's env, which PM2 copies into process.env only after preloads ran.
 * The daemon is killed after (`pm2 kill`, then its pid if it is still there).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Backend, gatewaySamples, getFresh, REGISTER_ENTRY, scrape } from './helpers/cluster';
import { ROOT } from './helpers/child';
import { find, type Parsed } from './helpers/prom';
import { freePorts, waitFor } from './helpers/procs';

const PM2 = resolve(ROOT, 'node_modules/pm2/bin/pm2');
const COUNT = 'edge_gateway_request_duration_seconds_count';

const count = (p: Parsed) => find(p, COUNT).reduce((n, s) => n + s.value, 0);

describe('cluster: PM2 cluster mode (pm2 from npm, its own daemon)', function () {
  this.timeout(150_000);
  let home: string;
  let backend: Backend;
  let metricsUrl: string;
  let statsUrl: string;
  let controlPorts: number[];

  function pm2(args: string[]): string {
    const r = spawnSync(process.execPath, [PM2, ...args], {
      cwd: home,
      env: { ...cleanEnv(), PM2_HOME: home },
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`pm2 ${args.join(' ')}: ${r.status} ${r.stdout} ${r.stderr}`);
    return r.stdout;
  }

  function cleanEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && !k.startsWith('GATEWAY_METRICS_') && k !== 'NODE_OPTIONS' && !k.startsWith('PM2_')) env[k] = v;
    return env;
  }

  const control = (slot: number, path: string) => `http://127.0.0.1:${controlPorts[slot]}${path}`;
  const info = async (slot: number) => JSON.parse((await getFresh(control(slot, '/info'), 5000)).body) as { pid: number; prefix: string };
  const calls = async (slot: number, n: number, path = '/call') => (JSON.parse((await getFresh(control(slot, `/calls?n=${n}&path=${path}`), 60_000)).body) as { ok: number }).ok;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'ogm-pm2-'));
    backend = await new Backend().start();
    const [metricsPort, ...ports] = await freePorts(3);
    controlPorts = ports;
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    statsUrl = `http://127.0.0.1:${metricsPort}/stats`;
    const ecosystem = {
      apps: [{
        name: 'gateway',
        script: resolve(ROOT, 'spec/fixtures/cluster-worker.cjs'),
        instances: 2,
        exec_mode: 'cluster',
        node_args: ['--require', REGISTER_ENTRY],
        autorestart: true,
        kill_timeout: 2000,
        env: {
          BACKEND_URL: backend.url,
          CONTROL_PORTS: controlPorts.join(','),
          OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
          OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
          GATEWAY_METRICS_PREFIX: 'edge',
          GATEWAY_METRICS_CLUSTER_DIR: join(home, 'state'),
          GATEWAY_METRICS_RUNTIME_METRICS: 'false',
          GATEWAY_METRICS_PROCESS_METRICS: 'false',
        },
      }],
    };
    writeFileSync(join(home, 'ecosystem.config.js'), `module.exports = ${JSON.stringify(ecosystem, null, 2)};\n`);
    pm2(['start', 'ecosystem.config.js']);
    for (const slot of [0, 1]) await waitFor(`PM2 worker ${slot}`, async () => ((await info(slot)).pid > 0 ? true : undefined), 30_000, 100);
  });

  after(async () => {
    try {
      pm2(['kill']);
    } finally {
      // A daemon that did not go: its pid, from its own file.
      const pidFile = join(home, 'pm2.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
      backend.release();
      await backend.stop();
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('the ecosystem file\'s env reaches register() in the workers (port, prefix), and 10 + 30 calls are 40 on 8 consecutive scrapes and in /stats', async () => {
    expect((await info(0)).prefix).to.equal('edge');
    expect(await calls(0, 10)).to.equal(10);
    expect(await calls(1, 30)).to.equal(30);
    const seen: string[][] = [];
    for (let i = 0; i < 8; i++) {
      const p = await scrape(metricsUrl);
      expect(count(p), `scrape ${i}`).to.equal(40);
      seen.push(gatewaySamples(p));
      const stats = JSON.parse((await getFresh(statsUrl)).body) as { totals: { requests: number }; cluster: { workers: number } };
      expect(stats.totals.requests).to.equal(40);
      expect(stats.cluster.workers).to.equal(2);
    }
    for (const s of seen) expect(s).to.deep.equal(seen[0]);
    // The worker label is PM2's id.
    const ids = JSON.parse(pm2(['jlist'])) as { pm_id: number }[];
    const p = await scrape(metricsUrl);
    expect(find(p, 'edge_gateway_cluster_worker_up').map(s => s.labels.worker).sort()).to.deep.equal(ids.map(x => String(x.pm_id)).sort());
  });

  it('a worker killed (SIGKILL) mid-traffic and restarted by PM2: totals never go down, and at the end equal every call made', async () => {
    const start = backend.total();
    const base = count(await scrape(metricsUrl));
    expect(base).to.equal(start);
    const old = (await info(0)).pid;
    let stop = false;
    let made1 = 0;
    const traffic = (async () => {
      while (!stop) made1 += await calls(1, 5);
    })();
    const gateBefore = backend.finished.get('/gate') ?? 0;
    const doomed = getFresh(control(0, '/calls?n=1000000&path=/gate'), 60_000).catch(() => undefined);
    const totals: number[] = [];
    const watch = async () => totals.push(count(await scrape(metricsUrl)));
    await waitFor('worker 0 calls', async () => ((backend.finished.get('/gate') ?? 0) - gateBefore >= 50 ? true : undefined), 30_000, 20);
    for (let i = 0; i < 3; i++) await watch();
    backend.holdNextGate = true;
    await waitFor('a held call', async () => (backend.held.length > 0 ? true : undefined), 10_000, 10);
    process.kill(old, 'SIGKILL');
    await doomed;
    backend.release();
    for (let i = 0; i < 3; i++) await watch();
    await waitFor('PM2 restarted worker 0', async () => {
      const pid = (await info(0)).pid;
      return pid !== old ? pid : undefined;
    }, 30_000, 100);
    expect(await calls(0, 7)).to.equal(7);
    stop = true;
    await traffic;
    await watch();
    for (let i = 1; i < totals.length; i++) expect(totals[i], totals.join(', ')).to.be.at.least(totals[i - 1]!);
    const made = backend.total();
    expect(made - start).to.equal((backend.finished.get('/gate') ?? 0) - gateBefore + made1 + 7);
    for (let i = 0; i < 8; i++) expect(count(await scrape(metricsUrl)), `scrape ${i}`).to.equal(made);
    const p = await scrape(metricsUrl);
    expect(find(p, 'edge_gateway_cluster_worker_restarts_total')[0]!.value).to.equal(1);
  });
});
