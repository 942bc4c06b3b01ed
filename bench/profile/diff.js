#!/usr/bin/env node
// Per-request difference between two gateway CPU profiles, by area and by function.
//
//   node bench/profile/diff.js base.cpuprofile baseRequests other.cpuprofile otherRequests [top]
// (request counts are printed by bench/profile/run.js in summary.md)
'use strict';
const fs = require('node:fs');

function load(file) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map(n => [n.id, n]));
  const fns = new Map();
  const areas = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i]).callFrame;
    if (cf.functionName === '(idle)') continue;
    const ms = (p.timeDeltas[i + 1] || 0) / 1000;
    const url = cf.url || '';
    const area = cf.functionName === '(garbage collector)' ? 'GC'
      : url.includes('/dist/') ? 'ours (dist/)'
      : url.includes('sdk-metrics') ? 'sdk-metrics'
      : url.includes('@opentelemetry/') ? 'other @opentelemetry'
      : /async_hooks/.test(url) ? 'node async_hooks'
      : url.startsWith('node:') ? 'node core (other)'
      : url.includes('/examples/') ? 'example gateway'
      : url === '' ? 'native/V8' : 'other';
    const key = `${cf.functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|examples)\//, '$1/')}:${cf.lineNumber + 1}`;
    fns.set(key, (fns.get(key) || 0) + ms);
    areas.set(area, (areas.get(area) || 0) + ms);
  }
  return { fns, areas };
}

const [fa, na, fb, nb, top = '20'] = process.argv.slice(2);
const a = load(fa);
const b = load(fb);
const per = (m, k, n) => ((m.get(k) || 0) * 1000) / Number(n);
const diff = (ka, kb) => [...new Set([...ka.keys(), ...kb.keys()])];
console.log('µs per request: base, other, difference');
let ta = 0;
let tb = 0;
for (const k of diff(a.areas, b.areas).sort((x, y) => per(b.areas, y, nb) - per(a.areas, y, na) - (per(b.areas, x, nb) - per(a.areas, x, na)))) {
  const x = per(a.areas, k, na);
  const y = per(b.areas, k, nb);
  ta += x;
  tb += y;
  console.log(`  ${k.padEnd(22)} ${x.toFixed(1).padStart(6)} ${y.toFixed(1).padStart(6)} ${(y - x >= 0 ? '+' : '') + (y - x).toFixed(1)}`);
}
console.log(`  ${'total'.padEnd(22)} ${ta.toFixed(1).padStart(6)} ${tb.toFixed(1).padStart(6)} +${(tb - ta).toFixed(1)}`);
console.log('largest differences by function:');
for (const k of diff(a.fns, b.fns).map(k => [k, per(b.fns, k, nb) - per(a.fns, k, na)]).sort((x, y) => y[1] - x[1]).slice(0, Number(top))) {
  console.log(`  ${(k[1] >= 0 ? '+' : '') + k[1].toFixed(2)}  ${k[0]}`);
}
