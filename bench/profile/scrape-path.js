#!/usr/bin/env node
// Experiment (not part of npm run bench): where a scrape's time goes on the
// path register() builds (the SDK collects in delta, our store adds the deltas
// up, our serializer and endpoint write the exposition), as CPU self time per
// area in the serving process, one profile per scrape, summed over the scrapes.
//
//   node bench/profile/scrape-path.js [--sizes 2000,20000] [--scrapes 12] [--modes changed,unchanged]
//
// changed:   every series gets one more observation before each scrape (all
//            series change between scrapes: the worst case, as in bench/scrape.js)
// unchanged: nothing is recorded between scrapes (a large fleet where few
//            series move, as in the p99-while-scraped case of bench/throughput.js)
// The recording between scrapes is outside the profiled window. The server is
// on core 0, this client on core 1, as in bench/scrape.js.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { arg, num, startNode, kill, writeResult, meta } = require('../lib/common');
const { summary, sig } = require('../lib/stats');
const { summarize } = require('./summarize');

const SIZES = (arg('sizes') || '2000,20000').split(',').map(Number);
const MODES = (arg('modes') || 'changed,unchanged').split(',');
const SCRAPES = num('scrapes', 12);

function get(port) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, res => {
      let bytes = 0;
      res.on('data', d => (bytes += d.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, bytes }));
    }).on('error', reject);
  });
}

function waitMsg(child, type) {
  return new Promise(resolve => {
    const on = m => {
      if (m.type === type) {
        child.removeListener('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
  });
}

/** Our own areas by what they do, everything else by where it lives. */
function area(name) {
  if (name.startsWith('ours: export/exposition')) return 'ours: serializer (exposition.js)';
  if (name.startsWith('ours: export/cumulative') || name.startsWith('ours: export/delta-readers')) return 'ours: cumulative store (merge, forget, toResourceMetrics)';
  if (name.startsWith('ours: export/endpoint')) return 'ours: endpoint (queue, slices, writes)';
  if (name.startsWith('ours: export/naming')) return 'ours: number formatting (naming.js)';
  if (name.startsWith('ours:')) return 'ours: other';
  if (name === 'native/V8') return 'native (Buffer allocation, encoding, socket writes, …)';
  return name;
}

async function profileSize(n, mode, tmp) {
  const { child, info } = await startNode(path.join(__dirname, '..', 'lib', 'scrape-server.js'), ['--series', String(n), '--impl', 'register'], { cpu: 0, ipc: true, timeoutMs: 180_000 });
  const areas = new Map();
  const fns = new Map();
  const ttlb = [];
  let totalMs = 0;
  let bytes = 0;
  try {
    for (let i = 0; i < SCRAPES + 1; i++) {
      if (mode === 'changed' || i === 0) {
        child.send({ type: 'touch', seed: 9000 + i });
        await waitMsg(child, 'touched');
      }
      const profiled = i > 0; // the first scrape fills the serializer's caches
      if (profiled) {
        child.send({ type: 'prof-start' });
        await waitMsg(child, 'prof-started');
      }
      const report = waitMsg(child, 'scrape');
      const res = await get(info.ports.ours);
      await report;
      bytes = res.bytes;
      if (!profiled) continue;
      ttlb.push(res.ms);
      const file = path.join(tmp, `scrape-${n}-${mode}-${i}.cpuprofile`);
      child.send({ type: 'prof-stop', file });
      await waitMsg(child, 'prof-stopped');
      const s = summarize(file, { top: 400, splitOurs: true });
      if (!process.env.KEEP_PROFILES) fs.rmSync(file);
      totalMs += s.totalMs;
      for (const [a, ms] of s.byArea) areas.set(area(a), (areas.get(area(a)) || 0) + ms);
      for (const t of s.top) fns.set(t.fn, (fns.get(t.fn) || 0) + t.ms);
    }
  } finally {
    child.send({ type: 'exit' });
    await kill(child);
  }
  const per = ms => ms / SCRAPES;
  return {
    series: n,
    mode,
    scrapes: SCRAPES,
    bytes,
    ttlbMs: summary(ttlb),
    cpuMsPerScrape: per(totalMs),
    areas: [...areas].sort((a, b) => b[1] - a[1]).map(([a, ms]) => ({ area: a, msPerScrape: per(ms), pct: (100 * ms) / totalMs })),
    top: [...fns].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([fn, ms]) => ({ fn, msPerScrape: per(ms), pct: (100 * ms) / totalMs })),
  };
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'scrape-path-'));
  const out = { case: 'scrape-path', meta: meta(`node bench/profile/scrape-path.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`), loadAverage: os.loadavg(), results: [] };
  try {
    for (const n of SIZES) {
      for (const mode of MODES) {
        const r = await profileSize(n, mode, tmp);
        out.results.push(r);
        console.log(`\n${n.toLocaleString('en-US')} series, ${mode}: ${sig(r.cpuMsPerScrape)} ms CPU sampled per scrape, request → last byte ${sig(r.ttlbMs.median)} ms (median), ${sig(r.bytes / 1e6)} MB`);
        for (const a of r.areas) console.log(`  ${a.area.padEnd(58)} ${sig(a.msPerScrape).padStart(7)} ms ${a.pct.toFixed(1).padStart(5)}%`);
        console.log('  top functions (self time):');
        for (const t of r.top.slice(0, 10)) console.log(`    ${sig(t.msPerScrape).padStart(7)} ms ${t.pct.toFixed(1).padStart(5)}%  ${t.fn}`);
      }
    }
  } finally {
    if (process.env.KEEP_PROFILES) console.log(`profiles kept in ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
  writeResult('scrape-path', out);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
