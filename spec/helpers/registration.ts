/**
 * register() in specs: a clean env (the outer OTEL_* / GATEWAY_METRICS_*
 * removed), captured diag output, quiet defaults (no runtime/process metrics,
 * /metrics on 127.0.0.1 with an ephemeral port), and every handle shut down
 * after each test. Call inside a describe().
 */
import { register, type GatewayMetricsOptions, type GatewayOtel } from '../../lib';
import { captureDiag, type Captured } from './diag';
import { cleanEnv } from './env';

export interface Registrations {
  /** register() with the quiet defaults under `options`. */
  start(options?: GatewayMetricsOptions): GatewayOtel;
  /** start(), then await ready. */
  ready(options?: GatewayMetricsOptions): Promise<GatewayOtel>;
  /** Shut this handle down after the test too (for handles made with register() directly). */
  track(otel: GatewayOtel): GatewayOtel;
  /** Run this test with these env vars (on top of the clean env). */
  env(vars: Record<string, string | undefined>): void;
  /** Shut down every handle now (e.g. before a receiver it exports to stops). */
  shutdownAll(): Promise<void>;
  /** diag output of the current test. */
  readonly diag: Captured;
}

export function useRegistrations(): Registrations {
  const handles: GatewayOtel[] = [];
  let restoreEnv: () => void = () => {};
  let diag: Captured | undefined;
  beforeEach(() => {
    restoreEnv = cleanEnv();
    diag = captureDiag();
  });
  const shutdownAll = async () => {
    for (const h of handles.splice(0)) await h.shutdown();
  };
  afterEach(async () => {
    await shutdownAll();
    diag?.restore();
    restoreEnv();
  });
  const track = (otel: GatewayOtel) => {
    handles.push(otel);
    return otel;
  };
  const start = (options: GatewayMetricsOptions = {}) =>
    track(register({ runtimeMetrics: false, processMetrics: false, ...options, prometheus: { host: '127.0.0.1', port: 0, ...options.prometheus } }));
  return {
    start,
    track,
    shutdownAll,
    async ready(options) {
      const otel = start(options);
      await otel.ready;
      return otel;
    },
    env(vars) {
      restoreEnv();
      restoreEnv = cleanEnv(vars);
    },
    get diag() {
      if (diag === undefined) throw new Error('diag is captured per test');
      return diag;
    },
  };
}
