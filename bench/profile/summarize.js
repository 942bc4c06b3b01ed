'use strict';
// Self time per function from a V8 .cpuprofile, grouped by where the code lives.
const fs = require('node:fs');

function where(url, splitOurs) {
  if (!url) return 'native/V8';
  // Dependencies first: sdk-metrics 3.x ships its code under its own dist/.
  if (url.includes('/node_modules/')) {
    if (url.includes('@opentelemetry/sdk-metrics')) return 'sdk-metrics';
    if (url.includes('@opentelemetry/exporter-prometheus')) return 'exporter-prometheus';
    if (url.includes('@opentelemetry/')) return 'other @opentelemetry';
    if (url.includes('prom-client')) return 'prom-client';
    return 'other';
  }
  if (url.includes('/dist/') || url.includes('-dist/')) return splitOurs ? `ours: ${url.replace(/^.*[/-]dist\//, '')}` : 'ours (dist/)';
  if (url.startsWith('node:')) return 'node core';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.includes('/examples/')) return 'example gateway';
  return 'other';
}

/** { totalMs, byArea: [[area, ms]], top: [{ fn, where, ms, pct }] } */
function summarize(file, { top = 20, filter, splitOurs = false } = {}) {
  const p = typeof file === 'string' ? JSON.parse(fs.readFileSync(file, 'utf8')) : file;
  const byId = new Map(p.nodes.map(n => [n.id, n]));
  const self = new Map();
  const dt = p.timeDeltas;
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i];
    const d = (dt[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) || 0) + d);
  }
  const fns = new Map();
  const areas = new Map();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)' && false) continue;
    if (filter && !filter(cf)) continue;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url ? `${cf.url.replace(/^.*?\/(node_modules\/|dist\/|bench\/|examples\/)/, '$1')}:${cf.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) || 0) + ms);
    const a = cf.functionName === '(garbage collector)' ? 'GC' : where(cf.url, splitOurs);
    areas.set(a, (areas.get(a) || 0) + ms);
    total += ms;
  }
  const topList = [...fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, ms]) => ({ fn, ms: Math.round(ms), pct: Math.round((1000 * ms) / total) / 10 }));
  return { totalMs: Math.round(total), byArea: [...areas].sort((a, b) => b[1] - a[1]).map(([a, ms]) => [a, Math.round(ms), Math.round((1000 * ms) / total) / 10]), top: topList };
}

module.exports = { summarize };

if (require.main === module && process.argv[3] === '--per') {
  // Self time per unit of work: `summarize.js <file> --per <calls>` → µs per call by area.
  const s = summarize(process.argv[2], { top: 0 });
  const calls = Number(process.argv[4]);
  console.log(JSON.stringify(Object.fromEntries(s.byArea.map(([a, ms]) => [a, Math.round((ms * 1000 * 100) / calls) / 100]))));
} else if (require.main === module) {
  const s = summarize(process.argv[2], { top: Number(process.argv[3] || 25) });
  console.log(`total ${s.totalMs} ms`);
  for (const [a, ms, pct] of s.byArea) console.log(`  ${a.padEnd(24)} ${String(ms).padStart(7)} ms ${pct}%`);
  for (const t of s.top) console.log(`  ${String(t.ms).padStart(7)} ms ${String(t.pct).padStart(5)}%  ${t.fn}`);
}
