import { diag } from '@opentelemetry/api';

/** Our messages go through the OTel diag logger, under our own namespace. */
export const logger = diag.createComponentLogger({ namespace: 'otel-gateway-metrics' });

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
