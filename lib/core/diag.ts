import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';

const NAMESPACE = 'otel-gateway-metrics';
const viaGlobal = diag.createComponentLogger({ namespace: NAMESPACE });

// Where @opentelemetry/api keeps its registered globals (internal/global-utils).
const API_GLOBAL_KEY = Symbol.for('opentelemetry.js.api.1');

const LEVELS: Readonly<Record<string, DiagLogLevel>> = Object.assign(Object.create(null), {
  none: DiagLogLevel.NONE, error: DiagLogLevel.ERROR, warn: DiagLogLevel.WARN, info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG, verbose: DiagLogLevel.VERBOSE, all: DiagLogLevel.ALL,
});

let levelFor: { raw: string | undefined; level: DiagLogLevel } | undefined;

/** `OTEL_LOG_LEVEL` as the OTel SDKs read it; WARN when unset or unknown. */
function consoleLevel(): DiagLogLevel {
  const raw = process.env.OTEL_LOG_LEVEL;
  if (levelFor === undefined || levelFor.raw !== raw) {
    levelFor = { raw, level: LEVELS[(raw ?? '').trim().toLowerCase()] ?? DiagLogLevel.WARN };
  }
  return levelFor.level;
}

function hasGlobalDiagLogger(): boolean {
  const api = (globalThis as Record<symbol, { diag?: unknown } | undefined>)[API_GLOBAL_KEY];
  return api?.diag !== undefined;
}

function emit(level: DiagLogLevel, method: 'error' | 'warn' | 'info' | 'debug', message: string, args: unknown[]): void {
  if (hasGlobalDiagLogger()) {
    viaGlobal[method](message, ...args);
    return;
  }
  if (consoleLevel() < level) return;
  // console.debug does not exist everywhere console is replaced; log is safe.
  (method === 'debug' ? console.log : console[method])(NAMESPACE, message, ...args);
}

/**
 * Our messages: through the app's diag logger when one is registered, and
 * otherwise straight to the console at OTEL_LOG_LEVEL (default WARN).
 *
 * We never call diag.setLogger() ourselves. An app whose NodeSDK starts after
 * us sets its own logger from OTEL_LOG_LEVEL, and the API then prints "Current
 * logger will be overwritten" through the logger we would have set: noise in
 * the app's output caused only by loading this package. Setting no global
 * logger keeps the app's diag exactly as it would be without us, while our own
 * warnings (bad env var, port taken) are still seen.
 */
export const logger: DiagLogger = {
  error: (message, ...args) => emit(DiagLogLevel.ERROR, 'error', message, args),
  warn: (message, ...args) => emit(DiagLogLevel.WARN, 'warn', message, args),
  info: (message, ...args) => emit(DiagLogLevel.INFO, 'info', message, args),
  debug: (message, ...args) => emit(DiagLogLevel.DEBUG, 'debug', message, args),
  verbose: (message, ...args) => emit(DiagLogLevel.VERBOSE, 'debug', message, args),
};

const WARN_INTERVAL_MS = 60_000;

interface Limited {
  last: number;
  suppressed: number;
}

/**
 * At most one warning per key per minute. The request path calls this for
 * every bad observation, so it must be cheap when it says nothing, and it
 * must not flood the host's logs.
 */
export class RateLimitedWarner {
  private readonly _keys = new Map<string, Limited>();

  constructor(private readonly _intervalMs = WARN_INTERVAL_MS) {}

  warn(key: string, message: () => string): void {
    const now = Date.now();
    const entry = this._keys.get(key);
    if (entry !== undefined && now - entry.last < this._intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this._keys.set(key, { last: now, suppressed: 0 });
    try {
      logger.warn(
        message() + (suppressed > 0 ? ` (${suppressed} similar warnings suppressed)` : ''),
      );
    } catch {
      // A logger that throws must not reach the request path.
    }
  }
}

/** Shorten an arbitrary value for a log line without ever throwing. */
export function describe(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'string' || Array.isArray(value) || (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype)
      ? JSON.stringify(value) ?? String(value)
      : String(value);
  } catch {
    s = Object.prototype.toString.call(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
