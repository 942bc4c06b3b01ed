/**
 * Validators and env parsers shared by every place that takes an option:
 * register(), createGatewayMetrics() and gatewayViews() hold a value to the
 * same check, so one option has one set of limits. Each returns the value or
 * a reason; the caller decides whether a failure throws (code) or warns (env).
 */
import { describe } from '../core/diag';
import type { ExporterName, HistogramMode, OtlpProtocol, PrometheusAuth, TemporalityPreference } from '../types';

export type Check<T> = { ok: true; value: T } | { ok: false; reason: string };
export const ok = <T>(value: T): Check<T> => ({ ok: true, value });
export const bad = <T>(reason: string): Check<T> => ({ ok: false, reason });

export function checkBuckets(value: unknown): Check<readonly number[]> {
  if (!Array.isArray(value)) return bad('must be an array of numbers');
  if (value.length === 0) return bad('must not be empty');
  const copy: number[] = [];
  for (const b of value) {
    if (typeof b !== 'number' || !Number.isFinite(b)) return bad('every boundary must be a finite number');
    if (b < 0) return bad('boundaries must not be negative');
    if (copy.length > 0 && b <= copy[copy.length - 1]!) {
      return bad(b === copy[copy.length - 1] ? 'boundaries must not repeat' : 'boundaries must be sorted ascending');
    }
    copy.push(b);
  }
  return ok(Object.freeze(copy));
}

export function parseBucketList(raw: string): Check<readonly number[]> {
  const parts = raw.split(',').map(s => s.trim());
  if (parts.some(p => p === '' || !/^[0-9eE.+-]+$/.test(p))) return bad('must be a comma list of numbers');
  return checkBuckets(parts.map(Number));
}

/** Prometheus metric name characters; a prefix must also start with a letter or `_`. */
export const NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function checkPrefix(value: unknown): Check<string> {
  if (typeof value !== 'string') return bad('must be a string');
  if (value === '') return ok('');
  if (!NAME_RE.test(value)) return bad('must match ^[a-zA-Z_][a-zA-Z0-9_]*$');
  return ok(value);
}

/** What a Collector would produce from the same string: invalid characters become `_`. */
export function sanitizeName(value: string): string {
  let s = value.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(s)) s = `_${s}`;
  return s;
}

export function checkPort(value: unknown): Check<number | false> {
  if (value === false) return ok(false);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    return bad('must be an integer 0-65535 (0 = ephemeral) or false (no listener)');
  }
  return ok(value);
}

export function checkHost(value: unknown): Check<string> {
  if (typeof value !== 'string' || value === '' || /[\s/?#@]/.test(value)) return bad('must be a host name or IP address');
  return ok(value);
}

export function checkPath(value: unknown): Check<string> {
  if (typeof value !== 'string' || !/^\/[^\s?#]*$/.test(value)) return bad('must be a path starting with "/"');
  return ok(value);
}

/**
 * A same-origin URL reference (path, optionally with a query): no scheme, no
 * `//host`, and no backslash, which browsers read as `/` (`/\\host` is `//host`).
 */
export function checkSameOriginRef(value: unknown): Check<string> {
  if (typeof value !== 'string' || value === '' || /[\s\\#]/.test(value) || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value) || value.startsWith('//')) {
    return bad('must be a relative or absolute path on the same origin (no scheme, no //host, no whitespace)');
  }
  return ok(value);
}

export function checkThreshold(max: number) {
  return (value: unknown): Check<number> =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= max
      ? ok(value)
      : bad(`must be a number between 0 and ${max}`);
}

export function parseEnvNumber(check: (v: unknown) => Check<number>): (raw: string) => Check<number> {
  return raw => {
    const v = raw.trim();
    return /^[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?$/.test(v) ? check(Number(v)) : bad('must be a non-negative number');
  };
}

export function checkNonNegInt(value: unknown, max = Number.MAX_SAFE_INTEGER): Check<number> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    return bad(`must be an integer between 0 and ${max}`);
  }
  return ok(value);
}

export function checkPositiveInt(value: unknown, max = Number.MAX_SAFE_INTEGER): Check<number> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    return bad(`must be an integer between 1 and ${max}`);
  }
  return ok(value);
}

export function checkBool(value: unknown): Check<boolean> {
  return typeof value === 'boolean' ? ok(value) : bad('must be true or false');
}

export function checkOneOf<T extends string>(allowed: readonly T[]) {
  return (value: unknown): Check<T> =>
    typeof value === 'string' && (allowed as readonly string[]).includes(value)
      ? ok(value as T)
      : bad(`must be one of ${allowed.join(', ')}`);
}

export const EXPORTERS: readonly ExporterName[] = ['prometheus', 'otlp', 'console', 'none'];
export const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];
export const HISTOGRAMS: readonly HistogramMode[] = ['explicit', 'exponential', 'native'];
export const TEMPORALITIES: readonly TemporalityPreference[] = ['cumulative', 'delta', 'lowmemory'];

export function checkExporters(value: unknown): Check<readonly ExporterName[]> {
  if (!Array.isArray(value)) return bad(`must be an array of ${EXPORTERS.join(', ')}`);
  const out: ExporterName[] = [];
  for (const v of value) {
    if (!EXPORTERS.includes(v)) return bad(`unknown exporter ${describe(v)}; allowed: ${EXPORTERS.join(', ')}`);
    if (!out.includes(v)) out.push(v);
  }
  return ok(Object.freeze(out.includes('none') ? [] : out));
}

export function checkAuth(value: unknown): Check<PrometheusAuth | undefined> {
  if (value === undefined) return ok(undefined);
  if (typeof value !== 'object' || value === null) return bad('must be { token } or { username, password }');
  const v = value as Record<string, unknown>;
  if ('token' in v) {
    if (typeof v.token !== 'string' || !/^\S+$/.test(v.token)) return bad('token must be a non-empty string without whitespace');
    return ok(Object.freeze({ token: v.token }));
  }
  if (typeof v.username !== 'string' || v.username === '' || v.username.includes(':')) {
    return bad('username must be a non-empty string without ":"');
  }
  if (typeof v.password !== 'string' || v.password === '') return bad('password must be a non-empty string');
  return ok(Object.freeze({ username: v.username, password: v.password }));
}

/** Never echo credentials: the error names the option, not the secret. */
export function redact(option: string, value: unknown): unknown {
  return option.startsWith('prometheus.auth') && value !== undefined ? '[redacted]' : value;
}

// ---------------------------------------------------------------------------
// Env parsing

export function parseEnvBool(raw: string): Check<boolean> {
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1') return ok(true);
  if (v === 'false' || v === '0') return ok(false);
  return bad('must be true or false');
}

export function parseEnvInt(raw: string): Check<number> {
  const v = raw.trim();
  return /^[0-9]+$/.test(v) ? ok(Number(v)) : bad('must be a non-negative integer');
}

/** An integer env var held to the same check as its option. */
export function intEnv(check: (v: unknown) => Check<number>): (raw: string) => Check<number> {
  return raw => {
    const c = parseEnvInt(raw);
    return c.ok ? check(c.value) : c;
  };
}

/** `host:port`, or `[v6 address]:port`. */
export const HOST_PORT_RE = /^(?:[^\s:[\]]+|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$/;

/** `host:port=node,host:port=node` */
export function parseHostPortNodes(raw: string): Check<ReadonlyMap<string, string>> {
  const map = new Map<string, string>();
  for (const entry of raw.split(',')) {
    const e = entry.trim();
    if (e === '') continue;
    const eq = e.lastIndexOf('=');
    const key = e.slice(0, eq).trim().toLowerCase();
    const node = e.slice(eq + 1).trim();
    if (eq <= 0 || node === '' || !HOST_PORT_RE.test(key)) {
      return bad(`entry ${describe(e)} must look like host:port=node`);
    }
    map.set(key, node);
  }
  if (map.size === 0) return bad('must list at least one host:port=node');
  return ok(map);
}

/** OTEL_RESOURCE_ATTRIBUTES, per the OTel spec (percent-decoded `k=v` pairs). */
export function parseResourceAttributes(raw: string): Check<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of raw.split(',')) {
    if (entry.trim() === '') continue;
    const kv = entry.split('=');
    if (kv.length !== 2 || kv[0]!.trim() === '') return bad(`entry ${describe(entry)} must look like key=value`);
    try {
      out[decodeURIComponent(kv[0]!.trim())] = decodeURIComponent(kv[1]!.trim());
    } catch {
      return bad(`entry ${describe(entry)} is not valid percent-encoding`);
    }
  }
  return ok(out);
}

