#!/usr/bin/env node
// Experiment (not part of npm run bench): ways of turning one ResourceMetrics
// into exposition bytes. Same ResourceMetrics, same output bytes (checked).
//
//   node --expose-gc bench/profile/serializer-variants.js [--sizes 2000,20000] [--rounds 7] [--no-gc]
//
// A full GC runs before each timed variant unless --no-gc (right after a major
// GC the byte writer measured slower: see bench/NOTES.md).
//
// Variants:
//   current      the real PrometheusSerializer.byteChunks(): text written straight
//                into Buffers, a histogram series' line head encoded once and copied
//                for its other buckets (copyWithin), counts as ASCII digits
//   strings      the design before it (0.2.0 up to this change): each chunk built
//                as a string with `+=` and template literals, then Buffer.from()
//   join         as strings, but pieces pushed to an array and Array.join('') once
//                per chunk (a flat string, no rope to flatten)
//   cachedOpen   as strings, but each series' `name_bucket{labels,scope,le="` and
//                `{labels,scope}` cached per attribute object, and `le="x"} ` per
//                boundary shared
//   joinCached   both
'use strict';
const { DataPointType } = require('@opentelemetry/sdk-metrics');
const { arg, num, flag, gc } = require('../lib/common');
const { otelSetup, populate } = require('../lib/fixtures');
const { summary, rotate, sig, fmtBytes } = require('../lib/stats');
const { formatValue, formatGoFloat } = require('../../dist/export/naming');

const SIZES = (arg('sizes') || '2000,20000').split(',').map(Number);
const ROUNDS = num('rounds', 7);

function join(a, b) {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}

/** The chunks() loop with pluggable histogram/number writers. */
function* chunksWith(ser, rm, mode) {
  const useArray = mode === 'join' || mode === 'joinCached';
  const cached = mode === 'cachedOpen' || mode === 'joinCached';
  let parts = [];
  let out = ser._targetInfo ? ser._targetInfoText(rm.resource.attributes) : '';
  if (useArray) {
    parts.push(out);
    out = '';
  }
  let points = 0;
  const flush = () => {
    if (useArray) {
      const s = parts.join('');
      parts = [];
      return s;
    }
    const s = out;
    out = '';
    return s;
  };
  for (const family of ser._families(rm)) {
    if (useArray) parts.push(family.header);
    else out += family.header;
    for (const { metric, scopeLabels, scope } of family.metrics) {
      const keep = ser._keep;
      const isHist = metric.dataPointType === DataPointType.HISTOGRAM;
      for (const dp of metric.dataPoints) {
        if (keep !== undefined && !keep(scope, dp.attributes)) continue;
        if (isHist) {
          const les = lesOf(dp.value.buckets.boundaries);
          let open;
          let braces;
          let leSuffix;
          if (cached) {
            let c = cache.get(dp.attributes);
            if (c === undefined || c.name !== family.name || c.scopeLabels !== scopeLabels) {
              const all = join(ser._labelsOf(dp.attributes), scopeLabels);
              c = { name: family.name, scopeLabels, open: `${family.name}_bucket{${all === '' ? '' : `${all},`}le="`, braces: all === '' ? '' : `{${all}}` };
              c.sum = `${family.name}_sum${c.braces} `;
              c.count = `${family.name}_count${c.braces} `;
              cache.set(dp.attributes, c);
            }
            open = c.open;
            braces = c;
            leSuffix = leSuffixOf(les);
          } else {
            const all = join(ser._labelsOf(dp.attributes), scopeLabels);
            open = `${family.name}_bucket{${all === '' ? '' : `${all},`}le="`;
            const b = all === '' ? '' : `{${all}}`;
            braces = { sum: `${family.name}_sum${b} `, count: `${family.name}_count${b} ` };
          }
          const h = dp.value;
          const counts = h.buckets.counts;
          let cumulative = 0;
          if (useArray) {
            for (let i = 0; i < counts.length; i++) {
              cumulative += counts[i];
              if (cached) parts.push(open, leSuffix[i], `${cumulative}\n`);
              else parts.push(`${open}${les[i]}"} ${cumulative}\n`);
            }
            parts.push(braces.sum, `${formatValue(h.sum ?? 0)}\n`, braces.count, `${h.count}\n`);
          } else {
            for (let i = 0; i < counts.length; i++) {
              cumulative += counts[i];
              if (cached) out += `${open}${leSuffix[i]}${cumulative}\n`;
              else out += `${open}${les[i]}"} ${cumulative}\n`;
            }
            out += `${braces.sum}${formatValue(h.sum ?? 0)}\n${braces.count}${h.count}\n`;
          }
        } else {
          const labels = join(ser._labelsOf(dp.attributes), scopeLabels);
          const line = `${family.name}${labels === '' ? '' : `{${labels}}`} ${formatValue(dp.value)}\n`;
          if (useArray) parts.push(line);
          else out += line;
        }
        if (++points >= ser._chunkPoints) {
          yield flush();
          points = 0;
        }
      }
    }
  }
  const last = flush();
  if (last !== '') yield last;
}

const cache = new WeakMap();

/** The `le` values as strings (the real serializer now caches them as bytes). */
const lesStrings = new WeakMap();
function lesOf(boundaries) {
  let les = lesStrings.get(boundaries);
  if (les === undefined) {
    les = [...boundaries.map(formatGoFloat), '+Inf'];
    lesStrings.set(boundaries, les);
  }
  return les;
}

const leSuffixes = new WeakMap();
function leSuffixOf(les) {
  let s = leSuffixes.get(les);
  if (s === undefined) {
    s = les.map(le => `${le}"} `);
    leSuffixes.set(les, s);
  }
  return s;
}

function bytesOf(iter, encoding = 'utf8') {
  const bufs = [];
  for (const s of iter) bufs.push(Buffer.from(s, encoding));
  return bufs;
}

async function main() {
  for (const n of SIZES) {
    const o = otelSetup(n);
    populate({ otel: [o] }, n, 3);
    const variants = {
      current: rm => [...o.serializer.byteChunks(rm)],
      strings: rm => bytesOf(chunksWith(o.serializer, rm, 'strings')),
      join: rm => bytesOf(chunksWith(o.serializer, rm, 'join')),
      cachedOpen: rm => bytesOf(chunksWith(o.serializer, rm, 'cachedOpen')),
      joinCached: rm => bytesOf(chunksWith(o.serializer, rm, 'joinCached')),
    };
    const t = Object.fromEntries(Object.keys(variants).map(k => [k, []]));
    const size = {};
    for (let r = 0; r < ROUNDS + 2; r++) {
      populate({ otel: [o] }, n, 1, 300 + r);
      const { resourceMetrics: rm } = await o.reader.collect();
      for (const name of rotate(Object.keys(variants), r)) {
        if (!flag('no-gc')) gc();
        const t0 = performance.now();
        const bufs = variants[name](rm);
        const ms = performance.now() - t0;
        if (r >= 2) t[name].push(ms);
        size[name] = bufs.reduce((a, b) => a + b.length, 0);
      }
    }
    // Same bytes as the real serializer, on one ResourceMetrics.
    const { resourceMetrics: rm } = await o.reader.collect();
    const reference = Buffer.concat(variants.current(rm));
    for (const name of ['strings', 'join', 'cachedOpen', 'joinCached']) {
      if (!Buffer.concat(variants[name](rm)).equals(reference)) throw new Error(`${name} output differs from current`);
    }
    console.log(`\n${n} series (${ROUNDS} rounds), ms to bytes, median (range):`);
    const base = summary(t.current).median;
    for (const [name, v] of Object.entries(t)) {
      const s = summary(v);
      console.log(`  ${name.padEnd(11)} ${sig(s.median).padStart(7)} ms (${sig(s.min)}–${sig(s.max)})  ×${sig(base / s.median)} faster  ${fmtBytes(size[name])}`);
    }
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
