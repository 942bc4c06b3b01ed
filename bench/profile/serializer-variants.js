#!/usr/bin/env node
// Experiment (not part of npm run bench): how much faster could our serializer
// be? Same ResourceMetrics, same output bytes (checked), different ways of
// building them. Each variant replicates PrometheusSerializer.chunks() for the
// histogram and number paths using the instance's own caches, so only the
// string building differs.
//
//   node --expose-gc bench/profile/serializer-variants.js [--sizes 2000,20000] [--rounds 7]
//
// Variants:
//   current      the real PrometheusSerializer.chunks(), each chunk → Buffer.from
//   join         same concatenations per line, but pieces pushed to an array and
//                Array.join('') once per chunk (a flat string, no rope to flatten)
//   cachedOpen   `+=` as now, but each series' `name_bucket{labels,scope,le="` and
//                `{labels,scope}` cached per attribute object (no per-scrape join /
//                template of the label part), and `le="x"} ` per boundary shared
//   joinCached   both
//   latin1       the real chunks(), each chunk → Buffer.from(chunk, 'latin1'): the same
//                bytes when the text is ASCII (label values checked once when cached),
//                without Node 20's slow UTF-8 encoder
//   buffer       bytes written straight into a Buffer per chunk: each series' label
//                part (`labels,scope`) encoded to bytes once and cached per attribute
//                object; metric-name and `le` pieces encoded once per family/boundary;
//                bucket counts written as ASCII digits; no strings built per scrape
//   noScope      the real serializer with scopeLabels: false (smaller output; not the
//                compliant form, shown for its byte count)
'use strict';
const { DataPointType } = require('@opentelemetry/sdk-metrics');
const { arg, num, gc } = require('../lib/common');
const { otelSetup, populate } = require('../lib/fixtures');
const { summary, rotate, sig, fmtBytes } = require('../lib/stats');
const { formatValue } = require('../../dist/export/naming');
const { PrometheusSerializer } = require('../../dist/export/exposition');

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
          const les = ser._lesOf(dp.value.buckets.boundaries);
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

// ---- the "buffer" variant ------------------------------------------------------
class Writer {
  constructor(size) {
    this.buf = Buffer.allocUnsafe(size);
    this.pos = 0;
  }
  room(n) {
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }
  bytes(b) {
    this.room(b.length);
    const buf = this.buf;
    let p = this.pos;
    if (b.length < 64) for (let i = 0; i < b.length; i++) buf[p++] = b[i];
    else {
      buf.set(b, p);
      p += b.length;
    }
    this.pos = p;
  }
  ascii(s) {
    this.room(s.length);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }
  uint(n) {
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER && Math.floor(n) === n)) return this.ascii(String(n));
    this.room(17);
    const buf = this.buf;
    if (n === 0) {
      buf[this.pos++] = 48;
      return;
    }
    let digits = 0;
    for (let m = n; m >= 1; m = Math.floor(m / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    for (let m = n; m >= 1; m = Math.floor(m / 10)) buf[--p] = 48 + (m % 10);
  }
  take() {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.pos = 0;
    return out;
  }
}

const enc = s => Buffer.from(s, 'utf8');
const familyBytes = new Map();
const labelBytes = new WeakMap();
const leBytes = new WeakMap();
const NL = 10;

function* chunksBuffer(ser, rm) {
  const w = new Writer(1 << 20);
  if (ser._targetInfo) w.bytes(enc(ser._targetInfoText(rm.resource.attributes)));
  let points = 0;
  for (const family of ser._families(rm)) {
    let f = familyBytes.get(family.name);
    if (f === undefined) {
      f = {
        header: enc(family.header),
        bucketOpen: enc(`${family.name}_bucket{`),
        sumOpen: enc(`${family.name}_sum`),
        countOpen: enc(`${family.name}_count`),
        plain: enc(family.name),
      };
      familyBytes.set(family.name, f);
    }
    w.bytes(enc(family.header));
    for (const { metric, scopeLabels, scope } of family.metrics) {
      const keep = ser._keep;
      const isHist = metric.dataPointType === DataPointType.HISTOGRAM;
      for (const dp of metric.dataPoints) {
        if (keep !== undefined && !keep(scope, dp.attributes)) continue;
        let lb = labelBytes.get(dp.attributes);
        if (lb === undefined || lb.scopeLabels !== scopeLabels) {
          const all = join(ser._labelsOf(dp.attributes), scopeLabels);
          lb = { scopeLabels, empty: all === '', withComma: enc(all === '' ? '' : `${all},`), braced: enc(all === '' ? '' : `{${all}}`) };
          labelBytes.set(dp.attributes, lb);
        }
        if (isHist) {
          const h = dp.value;
          const les = ser._lesOf(h.buckets.boundaries);
          let le = leBytes.get(les);
          if (le === undefined) {
            le = les.map(x => enc(`le="${x}"} `));
            leBytes.set(les, le);
          }
          const counts = h.buckets.counts;
          let cumulative = 0;
          for (let i = 0; i < counts.length; i++) {
            cumulative += counts[i];
            w.bytes(f.bucketOpen);
            w.bytes(lb.withComma);
            w.bytes(le[i]);
            w.uint(cumulative);
            w.room(1);
            w.buf[w.pos++] = NL;
          }
          w.bytes(f.sumOpen);
          w.bytes(lb.braced);
          w.ascii(` ${formatValue(h.sum ?? 0)}\n`);
          w.bytes(f.countOpen);
          w.bytes(lb.braced);
          w.ascii(' ');
          w.uint(h.count);
          w.room(1);
          w.buf[w.pos++] = NL;
        } else {
          w.bytes(f.plain);
          w.bytes(lb.braced);
          w.ascii(` ${formatValue(dp.value)}\n`);
        }
        if (++points >= ser._chunkPoints) {
          yield w.take();
          points = 0;
        }
      }
    }
  }
  if (w.pos > 0) yield w.take();
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
    const noScope = new PrometheusSerializer({ scopeLabels: false, keep: o.serializer._keep });
    const variants = {
      current: rm => bytesOf(o.serializer.chunks(rm)),
      join: rm => bytesOf(chunksWith(o.serializer, rm, 'join')),
      cachedOpen: rm => bytesOf(chunksWith(o.serializer, rm, 'cachedOpen')),
      joinCached: rm => bytesOf(chunksWith(o.serializer, rm, 'joinCached')),
      latin1: rm => bytesOf(o.serializer.chunks(rm), 'latin1'),
      buffer: rm => [...chunksBuffer(o.serializer, rm)],
      noScope: rm => bytesOf(noScope.chunks(rm)),
    };
    const t = Object.fromEntries(Object.keys(variants).map(k => [k, []]));
    const size = {};
    for (let r = 0; r < ROUNDS + 2; r++) {
      populate({ otel: [o] }, n, 1, 300 + r);
      const { resourceMetrics: rm } = await o.reader.collect();
      for (const name of rotate(Object.keys(variants), r)) {
        gc();
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
    for (const name of ['join', 'cachedOpen', 'joinCached', 'latin1', 'buffer']) {
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
