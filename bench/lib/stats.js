'use strict';
// Small statistics and formatting helpers shared by the benchmark scripts.

function sorted(xs) {
  return [...xs].filter(x => Number.isFinite(x)).sort((a, b) => a - b);
}

/** Linear-interpolated quantile (q in [0, 1]) of a sample. */
function quantile(xs, q) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** { n, median, min, max, q1, q3 } of a sample. */
function summary(xs) {
  const s = sorted(xs);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0],
    max: s[s.length - 1],
    q1: quantile(s, 0.25),
    q3: quantile(s, 0.75),
  };
}

/** Rotate `items` by `round` so every variant takes every position across rounds. */
function rotate(items, round) {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** A number with `digits` significant digits, as text (no exponent for ordinary sizes). */
function sig(x, digits = 3) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 10 ** digits) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}

/** "median (q1–q3; min–max)" with a unit. */
function fmtSummary(s, unit = '', digits = 3) {
  if (!s || s.n === 0) return 'n/a';
  return `${sig(s.median, digits)}${unit} (IQR ${sig(s.q1, digits)}–${sig(s.q3, digits)}, range ${sig(s.min, digits)}–${sig(s.max, digits)})`;
}

function fmtBytes(n) {
  if (!Number.isFinite(n)) return 'n/a';
  if (n >= 1e6) return `${sig(n / 1e6)} MB`;
  if (n >= 1e3) return `${sig(n / 1e3)} kB`;
  return `${n} B`;
}

module.exports = { quantile, summary, rotate, sig, fmtSummary, fmtBytes };
