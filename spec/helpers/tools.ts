/**
 * Paths of the real Prometheus / promtool / Collector that scripts/e2e-setup.sh
 * installs into the user cache. A spec that needs promtool runs the setup
 * (--prometheus-only, idempotent, seconds) itself, so `npm test` works on a
 * fresh machine without a manual step.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './child';

export interface Tools {
  otelcol: string;
  prometheus: string;
  promtool: string;
  otelcolVersion: string;
  prometheusVersion: string;
  /** metrics.proto of prometheus/client_model: the protobuf exposition format. */
  metricsProto: string;
}

const TOOLS_JSON = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'otel-gateway-metrics', 'e2e-tools.json');

function read(): Tools | undefined {
  if (!existsSync(TOOLS_JSON)) return undefined;
  return JSON.parse(readFileSync(TOOLS_JSON, 'utf8')) as Tools;
}

export function tools(options: { collector?: boolean } = {}): Tools {
  let t = read();
  const ok = (x: Tools | undefined) =>
    x !== undefined && existsSync(x.promtool) && existsSync(x.prometheus) && typeof x.metricsProto === 'string' && existsSync(x.metricsProto) &&
    (!options.collector || (x.otelcol !== '' && existsSync(x.otelcol)));
  if (!ok(t)) {
    const args = [join(ROOT, 'scripts', 'e2e-setup.sh'), ...(options.collector ? [] : ['--prometheus-only'])];
    execFileSync('bash', args, { stdio: ['ignore', 'ignore', 'inherit'], timeout: 15 * 60_000 });
    t = read();
  }
  if (!ok(t)) throw new Error(`e2e tools missing after setup; see ${TOOLS_JSON}`);
  return t!;
}
