/**
 * startHealthChecks(): run `check(node)` for every node on an unref'd timer,
 * through measureHealthCheck(), so gateway.health_check.* and gateway.node.up
 * follow. A node whose previous check is still running is skipped that round;
 * a check slower than `timeoutMs` counts as failed (it is not cancelled).
 */
import { ConfigError } from '../config/resolve';
import { logger, describe } from '../core/diag';
import type { GatewayMetrics } from '../core/gateway-metrics';
import { callWithTimeout } from '../core/timeout';

export interface HealthCheckOptions {
  /** Nodes to check, or a function returning (or resolving to) the current set. */
  nodes: readonly string[] | (() => Iterable<string> | Promise<Iterable<string>>);
  /** Resolve (or return) anything but `false` for healthy; throw, reject or return `false` for unhealthy. */
  check: (node: string) => unknown;
  /** @default 10000 */
  intervalMs?: number;
  /** @default intervalMs */
  timeoutMs?: number;
}

export class HealthChecker {
  private _timer: NodeJS.Timeout | undefined;
  private readonly _running = new Set<string>();
  private readonly _intervalMs: number;
  private readonly _timeoutMs: number;

  constructor(
    private readonly _metrics: GatewayMetrics,
    private readonly _options: HealthCheckOptions,
  ) {
    if (typeof _options !== 'object' || _options === null) throw new ConfigError('startHealthChecks', _options, 'must be { nodes, check, intervalMs }');
    if (typeof _options.check !== 'function') throw new ConfigError('check', _options.check, 'must be a function (node) => healthy');
    if (!Array.isArray(_options.nodes) && typeof _options.nodes !== 'function') {
      throw new ConfigError('nodes', _options.nodes, 'must be an array of node names or a function returning them');
    }
    const interval = _options.intervalMs ?? 10_000;
    if (!Number.isInteger(interval) || interval < 10) throw new ConfigError('intervalMs', interval, 'must be an integer >= 10');
    const timeout = _options.timeoutMs ?? interval;
    if (!Number.isInteger(timeout) || timeout < 1) throw new ConfigError('timeoutMs', timeout, 'must be a positive integer');
    this._intervalMs = interval;
    this._timeoutMs = timeout;
  }

  start(): void {
    if (this._timer !== undefined) return;
    this._timer = setInterval(() => void this.runOnce(), this._intervalMs);
    this._timer.unref();
    void this.runOnce();
  }

  stop(): void {
    if (this._timer !== undefined) clearInterval(this._timer);
    this._timer = undefined;
  }

  /**
   * One round over every node; resolves when all its measured checks have
   * settled. Never rejects: it runs from a timer, where a rejection would be
   * unhandled.
   */
  async runOnce(): Promise<void> {
    let nodes: Iterable<string>;
    try {
      const listed = typeof this._options.nodes === 'function' ? await this._options.nodes() : this._options.nodes;
      if (listed === null || typeof (listed as Iterable<string>)[Symbol.iterator] !== 'function') {
        logger.warn(`health checks: nodes gave ${describe(listed)}, not a list of node names; round skipped`);
        return;
      }
      nodes = [...listed];
    } catch (err) {
      logger.warn(`health checks: nodes() threw ${describe(err)}; round skipped`);
      return;
    }
    const rounds: Promise<unknown>[] = [];
    for (const node of nodes) {
      if (this._running.has(node)) continue;
      // The node stays busy until its check really settles, even after the
      // timeout has counted it failed: a hung check is not started again.
      this._running.add(node);
      const done = () => void this._running.delete(node);
      rounds.push(this._metrics.measureHealthCheck(node, () => {
        // Started inside the measured call, so the automatic paths do not count its requests.
        const check = Promise.resolve().then(() => this._options.check(node));
        check.then(done, done);
        return callWithTimeout(check, this._timeoutMs, `health check of ${node}`);
      }));
    }
    await Promise.all(rounds);
  }
}
