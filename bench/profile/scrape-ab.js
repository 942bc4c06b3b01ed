#!/usr/bin/env node
// Experiment (not part of npm run bench): the register() path's scrape over
// HTTP on two builds, scrapes alternating between them (each server in its own
// process on core 0, as in bench/scrape.js part 2b).
//
//   node bench/profile/scrape-ab.js <before root> [series 2000] [rounds 20] [touch]
//
// <before root>: another checkout of this repository with `npm run build` done
// (its bench/lib/scrape-server.js and dist/ are used); `touch` gives every
// series one more observation before each scrape (otherwise nothing changes).
'use strict';
const path = require('node:path');
const http = require('node:http');
const { startNode, kill } = require('../lib/common');
const BEFORE = process.argv[2];
const N = Number(process.argv[3] || 2000);
const R = Number(process.argv[4] || 20);
const touch = process.argv[5] === 'touch';
function get(port) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, res => { let b = 0; res.on('data', d => (b += d.length)); res.on('end', () => resolve({ ms: performance.now() - t0, b })); }).on('error', reject);
  });
}
const waitMsg = (child, type) => new Promise(r => { const on = m => { if (m.type === type) { child.removeListener('message', on); r(m); } }; child.on('message', on); });
(async () => {
  const s = {};
  for (const [k, dir] of [['old', path.join(BEFORE, 'bench', 'lib')], ['new', path.join(__dirname, '..', 'lib')]]) s[k] = await startNode(path.join(dir, 'scrape-server.js'), ['--series', String(N), '--impl', 'register'], { cpu: 0, ipc: true, timeoutMs: 120000 });
  const t = { old: { ttlb: [], block: [] }, new: { ttlb: [], block: [] } };
  for (let r = 0; r < R + 2; r++) {
    for (const k of r % 2 ? ['old', 'new'] : ['new', 'old']) {
      if (touch) { s[k].child.send({ type: 'touch', seed: r }); await waitMsg(s[k].child, 'touched'); }
      const rep = waitMsg(s[k].child, 'scrape');
      const res = await get(s[k].info.ports.ours);
      const m = await rep;
      if (r >= 2) { t[k].ttlb.push(res.ms); t[k].block.push(m.maxBlockMs); }
      await new Promise(r2 => setTimeout(r2, 50));
    }
  }
  const med = a => { a = [...a].sort((x, y) => x - y); return a[a.length >> 1].toFixed(1); };
  for (const k of ['old', 'new']) console.log(N, touch ? 'changed' : 'unchanged', k, 'ttlb median', med(t[k].ttlb), 'block median', med(t[k].block), 'worst', Math.max(...t[k].block).toFixed(1));
  for (const k of ['old', 'new']) { s[k].child.send({ type: 'exit' }); await kill(s[k].child); }
})();
