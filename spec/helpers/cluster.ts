/**
 * Multi-process gateways for the specs: a loopback backend the workers call
 * (counting the responses it finished, and holding some when asked), a
 * node:cluster primary of spec/fixtures/cluster-worker.cjs workers, and
 * requests on fresh connections (so that node:cluster's round robin hands
 * each scrape to the next worker).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './child';
import { freePorts, removeOnExit, startProcess, waitFor, type Proc } from './procs';
import { parseExposition, type Parsed } from './prom';

export class Backend {
  /** Responses fully handed to the kernel, by path. */
  readonly finished = new Map<string, number>();
  /** Requests held (answered by release()). */
  readonly held: http.ServerResponse[] = [];
  /** The next request to /gate is held. */
  holdNextGate = false;
  private readonly _server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    res.on('finish', () => this.finished.set(path, (this.finished.get(path) ?? 0) + 1));
    if (path === '/hold' || (path === '/gate' && this.holdNextGate)) {
      if (path === '/gate') this.holdNextGate = false;
      this.held.push(res);
      return;
    }
    res.end('ok');
  });

  async start(): Promise<this> {
    this._server.keepAliveTimeout = 60_000;
    await new Promise<void>(r => this._server.listen(0, '127.0.0.1', r));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this._server.address() as AddressInfo).port}`;
  }

  total(): number {
    let n = 0;
    for (const v of this.finished.values()) n += v;
    return n;
  }

  release(): void {
    for (const res of this.held.splice(0)) res.end('ok');
  }

  async stop(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    this._server.closeAllConnections();
    await new Promise<void>(r => this._server.close(() => r()));
  }
}

/** GET on a connection of its own (closed after), bounded by `timeoutMs`. */
export function getFresh(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', d => (body += d));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export async function scrape(url: string, timeoutMs?: number): Promise<Parsed> {
  const r = await getFresh(url, timeoutMs);
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.body}`);
  return parseExposition(r.body);
}

/** The gateway's own series (gateway_*, less the per-worker gauges that move by themselves). */
export function gatewaySamples(p: Parsed): string[] {
  return p.samples
    .filter(s => s.name.startsWith('gateway_') && !/^gateway_cluster_worker_(memory|event_loop)/.test(s.name))
    .map(s => `${s.name}${JSON.stringify(s.labels)} ${s.value}`)
    .sort();
}

export const REGISTER_ENTRY = resolve(ROOT, 'dist/register-entry.js');

export interface Cluster {
  readonly proc: Proc;
  readonly metricsUrl: string;
  readonly statsUrl: string;
  readonly dir: string;
  /** Control URL of the worker in `slot`. */
  control(slot: number, pathAndQuery: string): string;
  /** Pids of the workers by slot (the latest ready). */
  readonly pids: Map<number, number>;
  /** Resolves once the worker in `slot` has been ready `count` times (1: started, 2: replaced once, …). */
  ready(slot: number, count: number, timeoutMs?: number): Promise<number>;
}

/**
 * A node:cluster primary with `workers` workers of cluster-worker.cjs.
 * `inPrimary`: our entry in NODE_OPTIONS (the primary loads it too);
 * otherwise only the workers get `--require` (the primary runs none of our code).
 */
export async function startCluster(backend: Backend, options: { workers: number; inPrimary: boolean; env?: Record<string, string>; lifetimeMs?: number }): Promise<Cluster> {
  const [metricsPort, ...controlPorts] = await freePorts(options.workers + 1);
  const dir = removeOnExit(mkdtempSync(join(tmpdir(), 'ogm-cluster-')));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && !k.startsWith('GATEWAY_METRICS_') && k !== 'NODE_OPTIONS') env[k] = v;
  Object.assign(env, {
    WORKERS: String(options.workers),
    BACKEND_URL: backend.url,
    CONTROL_PORTS: controlPorts!.join(','),
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
    GATEWAY_METRICS_CLUSTER_DIR: dir,
    GATEWAY_METRICS_RUNTIME_METRICS: 'false',
    GATEWAY_METRICS_PROCESS_METRICS: 'false',
    ...(options.inPrimary
      ? { NODE_OPTIONS: `--require ${REGISTER_ENTRY}` }
      : { WORKER_ARGS: JSON.stringify(['--require', REGISTER_ENTRY]) }),
    ...options.env,
  });
  const proc = startProcess('cluster', process.execPath, [resolve(ROOT, 'spec/fixtures/cluster-primary.cjs')], { env, lifetimeMs: options.lifetimeMs ?? 120_000 });
  const pids = new Map<number, number>();
  const readyLines = (slot: number) => proc.output().split('\n').filter(l => l.startsWith('{') && l.includes('"ready"')).map(l => JSON.parse(l) as { slot: number; pid: number }).filter(r => r.slot === slot);
  const cluster: Cluster = {
    proc,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    statsUrl: `http://127.0.0.1:${metricsPort}/stats`,
    dir,
    pids,
    control: (slot, pathAndQuery) => `http://127.0.0.1:${controlPorts![slot]}${pathAndQuery}`,
    ready: (slot, count, timeoutMs = 30_000) => waitFor(`worker ${slot} ready ×${count}`, async () => {
      const lines = readyLines(slot);
      if (lines.length < count) return undefined;
      pids.set(slot, lines[count - 1]!.pid);
      return lines[count - 1]!.pid;
    }, timeoutMs, 50),
  };
  for (let slot = 0; slot < options.workers; slot++) await cluster.ready(slot, 1);
  return cluster;
}
