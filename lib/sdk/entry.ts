/**
 * The `otel-gateway-metrics/register` entries (`node --require` / `--import`).
 *
 * They configure everything from the environment: `GATEWAY_METRICS_CONFIG`
 * names a .js/.cjs/.mjs/.json module whose default export is the options
 * object (so `nodeFor` functions and maps need no code change in the app),
 * and the other env vars fill what it leaves out. Signal handling is on by
 * default here. A broken config file never stops the app: it is reported and
 * the entry registers from env alone.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { logger, describe } from '../core/diag';
import { register, type GatewayOtel } from './register';
import { pm2Cwd, pm2Env } from '../cluster/identity';
import type { GatewayMetricsOptions } from '../types';

function unwrapDefault(mod: unknown): GatewayMetricsOptions {
  const m = mod as { default?: unknown; __esModule?: boolean } | undefined;
  const options = m !== null && typeof m === 'object' && 'default' in m && m.default !== undefined ? m.default : m;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`its default export must be an options object, got ${describe(options)}`);
  }
  return options as GatewayMetricsOptions;
}

/**
 * Where the entries read their variables: under PM2, the ecosystem file's
 * env is only copied into process.env after preloads ran, and the app's
 * directory (relative paths) is PM2's `cwd`, not ours yet.
 */
function entryEnv(): { env: Readonly<Record<string, string | undefined>>; cwd: string } {
  return { env: pm2Env(process.env), cwd: pm2Cwd(process.env) ?? process.cwd() };
}

/** Load GATEWAY_METRICS_CONFIG synchronously (JSON, CJS, and ESM where require(esm) works). */
export function loadConfigModule(path: string, cwd = process.cwd()): GatewayMetricsOptions {
  const file = resolve(cwd, path);
  if (file.endsWith('.json')) return unwrapDefault(JSON.parse(readFileSync(file, 'utf8')));
  return unwrapDefault(require(file));
}

async function loadConfigModuleAsync(path: string, cwd: string): Promise<GatewayMetricsOptions> {
  const file = resolve(cwd, path);
  if (file.endsWith('.json')) return unwrapDefault(JSON.parse(readFileSync(file, 'utf8')));
  return unwrapDefault(await import(pathToFileURL(file).href));
}

function registerWith(options: GatewayMetricsOptions | undefined, path: string | undefined): GatewayOtel {
  const withSignals = (o: GatewayMetricsOptions): GatewayMetricsOptions =>
    o.handleSignals === undefined && entryEnv().env.GATEWAY_METRICS_HANDLE_SIGNALS === undefined ? { ...o, handleSignals: true } : o;
  if (options !== undefined) {
    try {
      return register(withSignals(options));
    } catch (err) {
      logger.error(`GATEWAY_METRICS_CONFIG=${path}: ${err instanceof Error ? err.message : describe(err)}; registering from env alone`);
    }
  }
  return register(withSignals({}));
}

/** What `--require otel-gateway-metrics/register` runs. */
export function registerFromEnv(): GatewayOtel {
  const { env, cwd } = entryEnv();
  const path = env.GATEWAY_METRICS_CONFIG?.trim();
  let options: GatewayMetricsOptions | undefined;
  if (path) {
    try {
      options = loadConfigModule(path, cwd);
    } catch (err) {
      logger.error(`cannot load GATEWAY_METRICS_CONFIG=${path}: ${err instanceof Error ? err.message : describe(err)}; registering from env alone`);
    }
  }
  return registerWith(options, path);
}

/** What `--import otel-gateway-metrics/register` runs: may load an ESM config with import(). */
export async function registerFromEnvAsync(): Promise<GatewayOtel> {
  const { env, cwd } = entryEnv();
  const path = env.GATEWAY_METRICS_CONFIG?.trim();
  let options: GatewayMetricsOptions | undefined;
  if (path) {
    try {
      options = await loadConfigModuleAsync(path, cwd);
    } catch (err) {
      logger.error(`cannot load GATEWAY_METRICS_CONFIG=${path}: ${err instanceof Error ? err.message : describe(err)}; registering from env alone`);
    }
  }
  return registerWith(options, path);
}
