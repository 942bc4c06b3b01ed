/**
 * OTel → Prometheus naming, per the OpenTelemetry "Prometheus and OpenMetrics
 * compatibility" spec, as the Collector's prometheus exporter applies it
 * (github.com/prometheus/otlptranslator, with metric suffixes on):
 * - invalid characters become `_`, runs of `_` collapse;
 * - the unit becomes a suffix (`s` → `_seconds`, `By` → `_bytes`, `1` on a
 *   gauge → `_ratio`, `{annotations}` are dropped, `a/b` → `_a_per_b`);
 * - monotonic sums end in `_total`;
 * - label keys are sanitized the same way (`error.type` → `error_type`).
 * The stock @opentelemetry/exporter-prometheus does none of the unit part, so a
 * direct scrape and a Collector path would otherwise disagree on names.
 */

const UNIT_NAMES: Readonly<Record<string, string>> = {
  // time
  d: 'days', h: 'hours', min: 'minutes', s: 'seconds', ms: 'milliseconds', us: 'microseconds', ns: 'nanoseconds',
  // bytes
  By: 'bytes', KiBy: 'kibibytes', MiBy: 'mebibytes', GiBy: 'gibibytes', TiBy: 'tibibytes',
  KBy: 'kilobytes', MBy: 'megabytes', GBy: 'gigabytes', TBy: 'terabytes',
  // SI
  m: 'meters', V: 'volts', A: 'amperes', J: 'joules', W: 'watts', g: 'grams',
  // misc
  Cel: 'celsius', Hz: 'hertz', '%': 'percent',
};

const PER_UNIT_NAMES: Readonly<Record<string, string>> = {
  s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year',
};

export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown';

function tokens(s: string): string[] {
  return s.split(/[^a-zA-Z0-9:]+|_+/).filter(t => t !== '');
}

function unitToken(unit: string, table: Readonly<Record<string, string>>): string {
  const u = unit.trim();
  if (u === '' || u === '1' || u.includes('{') || u.includes('}')) return '';
  return tokens(Object.hasOwn(table, u) ? table[u]! : u).join('_');
}

function moveToEnd(parts: string[], word: string): string[] {
  return [...parts.filter(p => p !== word), word];
}

/**
 * Prometheus name of an OTel metric.
 * @param type the Prometheus type the data point maps to
 * @param monotonicSum true for a monotonic Sum (counter)
 */
export function prometheusMetricName(name: string, unit: string | undefined, type: PromType, monotonicSum: boolean): string {
  let parts = tokens(name);
  const u = (unit ?? '').trim();
  const slash = u.indexOf('/');
  const main = unitToken(slash === -1 ? u : u.slice(0, slash), UNIT_NAMES);
  const per = slash === -1 ? '' : unitToken(u.slice(slash + 1), PER_UNIT_NAMES);
  if (main !== '' && !parts.includes(main)) parts.push(main);
  // The Collector (v0.161) appends the per-unit whatever the name holds:
  // `x.second` with unit `1/s` is `x_second_per_second` there too.
  if (per !== '') parts.push('per', per);
  if (monotonicSum) parts = moveToEnd(parts, 'total');
  if (type === 'gauge' && u === '1') parts = moveToEnd(parts, 'ratio');
  let out = parts.join('_');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out;
}

/**
 * Prometheus label name of an attribute key, as the Collector (v0.161,
 * checked against the built one) writes it: invalid characters become `_`,
 * runs of `_` collapse to one, and a key starting with a digit or `_` gets a
 * `key` prefix (`9x` → `key_9x`, `_x` and `__x` → `key_x`).
 */
export function prometheusLabelName(key: string): string {
  if (key === '') return '';
  let s = key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
  if (/^[0-9]/.test(s)) s = `key_${s}`;
  else if (s.startsWith('_')) s = `key${s}`;
  return s;
}

/** Escape a label value for the text format. */
export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

/** Escape HELP text for the text format. */
export function escapeHelp(v: string): string {
  return /[\\\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : v;
}

/**
 * A float the way Go's strconv.FormatFloat(f, 'g', -1, 64) writes it, which is
 * how the Collector (client_golang's expfmt) writes `le`. Using the same string
 * keeps `le` label values identical between a direct scrape and the Collector
 * path (Prometheus 2.x does not normalise them).
 */
export function formatGoFloat(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const e = v.toExponential();
  const at = e.indexOf('e');
  const exp = Number(e.slice(at + 1));
  if (exp < -4 || exp >= 6) {
    const mantissa = e.slice(0, at);
    const sign = exp < 0 ? '-' : '+';
    const abs = Math.abs(exp);
    return `${mantissa}e${sign}${abs < 10 ? '0' : ''}${abs}`;
  }
  return String(v);
}

/** A sample value: Prometheus accepts any float spelling, so use the fast one. */
export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Attribute value as a label value string (OTel spec: non-strings are JSON-encoded). */
export function attributeValueString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}
