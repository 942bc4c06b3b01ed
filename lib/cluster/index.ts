/**
 * Multi-process gateways (node:cluster, PM2 cluster mode): what register()
 * hooks in.
 *
 * - In a worker: its store is written through to the group's directory
 *   (member.ts), and its endpoint serves the per-host view (host.ts) built
 *   from every member's file, so whichever worker the primary hands a scrape
 *   to answers the same sums.
 * - In a primary that runs our code too (NODE_OPTIONS=--require …): its
 *   listener gives the port up when it forks its first worker, so that the
 *   workers can share it.
 */
import type * as http from 'node:http';
import { basename } from 'node:path';
import { hostname } from 'node:os';
import type { Attributes } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { InstrumentationScope } from '@opentelemetry/core';
import { describe, logger, RateLimitedWarner } from '../core/diag';
import type { Recorders } from '../core/recorder';
import type { SeriesStore } from '../store/store';
import { computeStats, type GatewayStats } from '../export/stats';
import { GroupReader } from './reader';
import { HostView } from './host';
import { Member } from './member';
import { maintain, MAINTAIN_MS } from './maintenance';
import { baseDir, isClusterWorker, prepareGroup, procStat, workerGroup, workerLabel } from './identity';

export { pm2Env, pm2Cwd } from './identity';

export interface ClusterSettings {
  readonly dir: string | undefined;
  readonly host: string;
  readonly port: number | false;
  readonly nodeIdleTtl: number;
  readonly prefix: string;
  readonly scope: InstrumentationScope;
}

export interface HostExposition {
  readonly resourceMetrics: ResourceMetrics;
  readonly store: SeriesStore;
}

/** This process as a worker of a multi-process gateway. */
export class ClusterWorker {
  /** The `worker` label (PM2's pm_id, node:cluster's worker id). */
  readonly worker: string;
  /** The group's directory. */
  readonly dir: string;
  readonly member: Member;
  readonly host: HostView;
  private _resource: Resource | undefined;
  private readonly _reader: GroupReader;
  private readonly _maintenance: NodeJS.Timeout;
  private readonly _warn = new RateLimitedWarner();
  private readonly _onExit = () => this.member.close();

  constructor(settings: ClusterSettings, env: Readonly<Record<string, string | undefined>>) {
    this.worker = workerLabel(env);
    const group = workerGroup(baseDir(settings.dir), env, settings.host, settings.port);
    prepareGroup(group);
    this.dir = group.dir;
    this.member = new Member({ dir: this.dir, worker: this.worker, procStart: procStat(process.pid)?.start, ttl: settings.nodeIdleTtl });
    this._reader = new GroupReader(this.dir);
    this.host = new HostView({ scope: settings.scope, prefix: settings.prefix, reader: this._reader, warn: new RateLimitedWarner() });
    this._maintenance = setInterval(() => this.maintain(), MAINTAIN_MS);
    this._maintenance.unref();
    // Between rounds, a busy worker's file is rewritten from its state alone (no reading of the others).
    this.member.onLarge = () => this.member.rewrite();
    // A worker that exits (even by process.exit()) leaves at once: its in-flight counts drop now, not when its pid is seen gone.
    process.on('exit', this._onExit);
    logger.info(`cluster: worker ${this.worker}; the endpoint serves the sums of every worker of this host (state in ${this.dir})`);
  }

  /**
   * The resource attributes of this worker's own exports (OTLP): no two
   * workers may export the same series under one resource, so a
   * `service.instance.id` set by the user gets the worker's id appended;
   * unset, each process has a random one already. `host.name` lets the
   * workers of one host be summed after a Collector.
   */
  workerAttributes(attrs: Attributes): void {
    const id = attrs['service.instance.id'];
    if (id !== undefined) attrs['service.instance.id'] = `${String(id)}-worker-${this.worker}`;
    attrs['host.name'] ??= safeHostname();
  }

  /** The resource of the per-host exposition (`target_info`): the same in every worker. */
  hostAttributes(attrs: Attributes): Attributes {
    return { ...attrs, 'service.instance.id': attrs['service.instance.id'] ?? basename(this.dir), 'host.name': attrs['host.name'] ?? safeHostname() };
  }

  setHostResource(resource: Resource): void {
    this._resource = resource;
  }

  recorders(store: SeriesStore): Recorders {
    return this.member.recorders(store);
  }

  /** Re-read the group: this worker's own in-flight counts written first, so they are exact. */
  refresh(): void {
    this.member.snapshot();
    this.host.refresh();
  }

  /** The per-host exposition (the endpoint's source instead of the worker's own). */
  view = async (): Promise<HostExposition> => {
    this.refresh();
    return { resourceMetrics: { resource: this._resource!, scopeMetrics: [] }, store: this.host.store };
  };

  /** The stats view of the host: the same sums, and how many workers they cover. */
  async stats(): Promise<GatewayStats> {
    this.refresh();
    const stats = await computeStats(this.host.statsNodes, async () => ({ scopeMetrics: [await this.host.store.collect(0)] }), this.host.startedAt);
    return this.host.withCluster(stats);
  }

  /** Rewrite this worker's file when due, take over the state of workers that ended, clean the directory (maintenance.ts). */
  maintain(force = false): void {
    try {
      maintain(this.member, this.host, this._reader, { force });
    } catch (err) {
      this._warn.warn('cluster-maintain', () => `cluster: maintenance of ${this.dir} failed (${describe(err)})`);
    }
  }

  close(): void {
    clearInterval(this._maintenance);
    process.removeListener('exit', this._onExit);
    this.member.close();
  }
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return 'localhost';
  }
}

/**
 * The cluster role of this process under register(): a ClusterWorker in a
 * node:cluster worker, undefined otherwise. A failure to set up the group
 * (no writable directory) is a warning: the worker then serves its own
 * numbers, as without cluster support.
 */
export function joinCluster(settings: ClusterSettings, env: Readonly<Record<string, string | undefined>>): ClusterWorker | undefined {
  if (!isClusterWorker()) return undefined;
  try {
    return new ClusterWorker(settings, env);
  } catch (err) {
    logger.warn(`cluster: cannot join this host's group (${describe(err)}); this worker's endpoint serves its own numbers only`);
    return undefined;
  }
}

/**
 * In a process that may become a node:cluster primary: when it forks its
 * first worker, `server` (our listener) gives its port up, so that the
 * workers share it (a primary holding the port makes every worker's listen
 * fail with EADDRINUSE). Returns the function that stops watching.
 */
export function yieldPortToWorkers(server: http.Server): () => void {
  if (isClusterWorker()) return () => {};
  const cluster = require('node:cluster') as NodeJS.EventEmitter;
  const onFork = (): void => {
    cluster.removeListener('fork', onFork);
    const close = () => {
      server.close();
      logger.info('cluster: this process forks workers; its metrics port is left to them (they serve the sums of every worker)');
    };
    if (server.listening) close();
    else server.once('listening', close);
  };
  cluster.on('fork', onFork);
  return () => cluster.removeListener('fork', onFork);
}
