#!/usr/bin/env node
// Case 8 — footprint: what `npm install otel-gateway-metrics @opentelemetry/api`
// puts on disk, and what `require('otel-gateway-metrics')` costs, as a new
// user gets them.
//
//   node bench/footprint.js [--rounds 21] [--root <checkout>] [--out footprint] [--no-clean]
//
// 1. `npm pack` of the checkout (its dist/ must be built: `npm run build`),
//    installed into a fresh temporary project with `@opentelemetry/api` (no
//    lockfile: the newest versions our ranges admit, as a user gets them).
//    Reported: node_modules bytes (file sizes summed, and `du -sk` blocks), the
//    top-level packages and every installed package, the largest top-level
//    entries.
// 2. Two reference projects, installed the same way: the stock Prometheus path
//    alone (`@opentelemetry/sdk-metrics` + `@opentelemetry/exporter-prometheus`
//    + api, at the versions step 1 installed, so both load the same SDK), and
//    prom-client.
// 3. require() time in fresh processes, pinned to one core, interleaved and
//    rotated rounds: ours, the stock pair, prom-client. Each process times its
//    own require() (hrtime around it), so process start-up is not counted.
//    Quoted: medians, and the median of per-round ratios ours ÷ stock pair.
// 4. Where our require() time goes: one more process with a Module._load
//    hook, self time per package (a module's time less its children's).
//
// `--root` measures another checkout (e.g. an older commit, for the "before"
// figures); `--out` names the result file (bench/results/<out>.json).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, TASKSET, arg, flag, num, meta, writeResult } = require('./lib/common');
const { summary, rotate, sig, fmtBytes } = require('./lib/stats');


/** A Node that can load OpenTelemetry JS 3.x (>= 22.15): this one, or the `node` dev dependency. */
function nodeBinary() {
  const [maj, min] = process.versions.node.split('.').map(Number);
  if (maj > 22 || (maj === 22 && min >= 15)) return process.execPath;
  const dev = path.join(ROOT, 'node_modules', 'node', 'bin', 'node');
  if (fs.existsSync(dev)) return dev;
  throw new Error(`footprint: Node ${process.version} cannot load OpenTelemetry JS 3.x; run with Node >= 22.15 (npm run bench does)`);
}

// npm runs on the same Node as the measurements: npm picks, among the versions a
// range admits, the newest whose `engines` the running Node satisfies, and on
// Node 20 that would be OpenTelemetry JS 2.x for an unversioned name.
let NPM_ENV;
function npm(args, cwd) {
  NPM_ENV ??= {
    ...process.env,
    PATH: `${path.dirname(nodeBinary())}${path.delimiter}${process.env.PATH}`,
    npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false', npm_config_loglevel: 'error',
  };
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: NPM_ENV, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} (in ${cwd}) failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

function freshProject(dir, deps) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'footprint-consumer', version: '1.0.0', private: true }));
  npm(['install', '--no-package-lock', ...deps], dir);
}

/** Sum of file sizes under dir (symlinks not followed), and the number of files. */
function bytesUnder(dir) {
  let bytes = 0;
  let files = 0;
  const walk = d => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) {
        bytes += fs.statSync(full).size;
        files++;
      }
    }
  };
  walk(dir);
  return { bytes, files };
}

function duKiB(dir) {
  try {
    return Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]);
  } catch {
    return NaN;
  }
}

/** Every installed package (a directory with a package.json under a node_modules), at any depth. */
function installedPackages(modules) {
  const out = [];
  const walk = (dir, depth) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const full = path.join(dir, e.name);
      if (e.name.startsWith('@')) {
        for (const s of fs.readdirSync(full, { withFileTypes: true })) {
          if (s.isDirectory()) visit(path.join(full, s.name), `${e.name}/${s.name}`, depth);
        }
      } else {
        visit(full, e.name, depth);
      }
    }
  };
  const visit = (full, name, depth) => {
    const pj = path.join(full, 'package.json');
    if (!fs.existsSync(pj)) return;
    out.push({ name, version: JSON.parse(fs.readFileSync(pj, 'utf8')).version, dir: full, depth });
    walk(path.join(full, 'node_modules'), depth + 1);
  };
  walk(modules, 0);
  return out;
}

function measureInstall(dir) {
  const modules = path.join(dir, 'node_modules');
  const total = bytesUnder(modules);
  const packages = installedPackages(modules);
  const top = packages.filter(p => p.depth === 0);
  // Top-level entries (a scope counts as one), largest first.
  const entries = {};
  for (const e of fs.readdirSync(modules, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    entries[e.name] = { bytes: bytesUnder(path.join(modules, e.name)).bytes, duKiB: duKiB(path.join(modules, e.name)) };
  }
  const largest = Object.entries(entries).sort((a, b) => b[1].duKiB - a[1].duKiB).slice(0, 12).map(([name, v]) => ({ name, ...v }));
  const copies = {};
  for (const p of packages) (copies[p.name] ??= []).push(p.version);
  return {
    bytes: total.bytes,
    files: total.files,
    duKiB: duKiB(modules),
    topLevelPackages: top.length,
    allPackages: packages.length,
    largest,
    packages: top.map(p => `${p.name}@${p.version}`).sort(),
    nested: packages.filter(p => p.depth > 0).map(p => `${path.relative(modules, p.dir)}@${p.version}`).sort(),
    duplicated: Object.fromEntries(Object.entries(copies).filter(([, v]) => v.length > 1)),
  };
}

// ---- require() timing -----------------------------------------------------

const TIMER = `
const t0 = process.hrtime.bigint();
for (const m of JSON.parse(process.argv[1])) require(m);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
process.stdout.write(JSON.stringify({ ms, modules: Object.keys(require.cache).length }));
`;

function timeRequire(node, cwd, modules) {
  const cmd = TASKSET ? 'taskset' : node;
  const argv = [...(TASKSET ? ['-c', '1', node] : []), '-e', TIMER, JSON.stringify(modules)];
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', env: { PATH: process.env.PATH } });
  if (r.status !== 0) throw new Error(`require(${modules.join(', ')}) in ${cwd} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Self time per package of one require(), from a Module._load hook (timing skews it a little: for the split only). */
const SPLIT = `
const Module = require('node:module');
const load = Module._load;
const self = new Map();
const stack = [];
const seen = new Set();
Module._load = function (request, parent, isMain) {
  let file;
  try { file = Module._resolveFilename(request, parent, isMain); } catch { return load.apply(this, arguments); }
  if (seen.has(file) || !file.includes('/')) return load.apply(this, arguments);
  seen.add(file);
  const t0 = process.hrtime.bigint();
  stack.push(0n);
  try { return load.apply(this, arguments); } finally {
    const inclusive = process.hrtime.bigint() - t0;
    const children = stack.pop();
    if (stack.length) stack[stack.length - 1] += inclusive;
    const m = /.*node_modules\\/((?:@[^/]+\\/)?[^/]+)\\/(.*)$/.exec(file);
    const key = m ? m[1] + (m[1] === 'otel-gateway-metrics' ? '/' + m[2] : '') : file;
    self.set(key, (self.get(key) ?? 0n) + inclusive - children);
  }
};
const t0 = process.hrtime.bigint();
require(process.argv[1]);
const total = Number(process.hrtime.bigint() - t0) / 1e6;
const rows = [...self].map(([k, v]) => [k, Number(v) / 1e6]).sort((a, b) => b[1] - a[1]);
process.stdout.write(JSON.stringify({ total, rows }));
`;

function requireSplit(node, cwd, mod, runs) {
  // The median run by total, of a few: one run is noisy.
  const all = [];
  for (let i = 0; i < runs; i++) {
    const cmd = TASKSET ? 'taskset' : node;
    const argv = [...(TASKSET ? ['-c', '1', node] : []), '-e', SPLIT, mod];
    const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', env: { PATH: process.env.PATH } });
    if (r.status !== 0) throw new Error(`require split failed: ${r.stderr}`);
    all.push(JSON.parse(r.stdout));
  }
  all.sort((a, b) => a.total - b.total);
  const mid = all[Math.floor(all.length / 2)];
  const byPackage = {};
  for (const [k, v] of mid.rows) {
    const pkg = k.startsWith('otel-gateway-metrics/') ? 'otel-gateway-metrics' : k;
    byPackage[pkg] = (byPackage[pkg] ?? 0) + v;
  }
  return {
    totalMs: mid.total,
    byPackage: Object.entries(byPackage).sort((a, b) => b[1] - a[1]).filter(([, v]) => v >= 0.1).map(([name, ms]) => ({ name, ms })),
    ourModules: mid.rows.filter(([k]) => k.startsWith('otel-gateway-metrics/')).slice(0, 15).map(([name, ms]) => ({ name, ms })),
  };
}

async function main() {
  const root = path.resolve(arg('root', ROOT));
  const out = arg('out', 'footprint');
  const rounds = num('rounds', 21);
  const node = nodeBinary();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ogm-footprint-'));
  try {
    if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) throw new Error(`${root}/dist is not built: npm run build first`);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const packed = npm(['pack', '--ignore-scripts', '--silent', '--pack-destination', work, root], root).trim().split('\n').pop();
    const tarball = path.join(work, packed);
    const tarballBytes = fs.statSync(tarball).size;

    const oursDir = path.join(work, 'ours');
    console.log(`footprint: npm install ${packed} @opentelemetry/api`);
    freshProject(oursDir, [tarball, '@opentelemetry/api']);
    const ours = measureInstall(oursDir);
    const version = name => JSON.parse(fs.readFileSync(path.join(oursDir, 'node_modules', name, 'package.json'), 'utf8')).version;
    const apiVersion = version('@opentelemetry/api');
    // The stock pair: the exporter our install has (when it has one) or the newest, with
    // the sdk-metrics that exporter pins, so both sides load the same SDK code.
    const haveExporter = fs.existsSync(path.join(oursDir, 'node_modules', '@opentelemetry', 'exporter-prometheus', 'package.json'));
    const exporterSpec = `@opentelemetry/exporter-prometheus${haveExporter ? `@${version('@opentelemetry/exporter-prometheus')}` : ''}`;
    const stockDir = path.join(work, 'stock');
    console.log(`footprint: npm install ${exporterSpec} @opentelemetry/sdk-metrics @opentelemetry/api@${apiVersion}`);
    freshProject(stockDir, [exporterSpec, `@opentelemetry/api@${apiVersion}`]);
    const exporterPins = JSON.parse(fs.readFileSync(path.join(stockDir, 'node_modules', '@opentelemetry', 'exporter-prometheus', 'package.json'), 'utf8')).dependencies['@opentelemetry/sdk-metrics'];
    npm(['install', '--no-package-lock', `@opentelemetry/sdk-metrics@${exporterPins}`], stockDir);
    const stock = measureInstall(stockDir);
    const promDir = path.join(work, 'prom-client');
    console.log('footprint: npm install prom-client');
    freshProject(promDir, ['prom-client']);
    const prom = measureInstall(promDir);

    const variants = {
      ours: { cwd: oursDir, modules: ['otel-gateway-metrics'] },
      stock: { cwd: stockDir, modules: ['@opentelemetry/sdk-metrics', '@opentelemetry/exporter-prometheus'] },
      promClient: { cwd: promDir, modules: ['prom-client'] },
    };
    const names = Object.keys(variants);
    // Warm the file cache once per variant.
    for (const n of names) timeRequire(node, variants[n].cwd, variants[n].modules);
    const ms = Object.fromEntries(names.map(n => [n, []]));
    const modules = {};
    const ratio = [];
    const ratioProm = [];
    for (let r = 0; r < rounds; r++) {
      const got = {};
      for (const n of rotate(names, r)) {
        const t = timeRequire(node, variants[n].cwd, variants[n].modules);
        got[n] = t.ms;
        ms[n].push(t.ms);
        modules[n] = t.modules;
      }
      ratio.push(got.ours / got.stock);
      ratioProm.push(got.ours / got.promClient);
    }
    const split = requireSplit(node, oursDir, 'otel-gateway-metrics', 5);

    const result = {
      case: 'footprint',
      meta: { ...meta(`node bench/footprint.js${root !== ROOT ? ` --root ${root}` : ''}${out !== 'footprint' ? ` --out ${out}` : ''}`), node: execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() },
      package: `${pkg.name}@${pkg.version}`,
      // The checkout measured (with --root, not this one).
      measuredCommit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim(),
      tarballBytes,
      dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies,
      install: { ours, stock, promClient: prom },
      require: {
        rounds,
        ms: Object.fromEntries(names.map(n => [n, summary(ms[n])])),
        modulesLoaded: modules,
        ratioToStock: summary(ratio),
        ratioToPromClient: summary(ratioProm),
        split,
      },
      targets: { bytes: 25e6, ratioToStock: 1.2 },
    };
    writeResult(out, result);
    const mb = b => fmtBytes(b);
    const du = i => `${sig(i.duKiB / 1024)} MiB on disk (du), ${mb(i.bytes)} of files`;
    console.log(`footprint: ours ${du(ours)}, ${ours.topLevelPackages} top-level / ${ours.allPackages} packages; ` +
      `stock pair ${du(stock)}; prom-client ${du(prom)}`);
    console.log(`footprint: largest (du): ${ours.largest.slice(0, 8).map(e => `${e.name} ${sig(e.duKiB / 1024, 2)} MiB`).join(', ')}`);
    console.log(`footprint: require() ours ${sig(result.require.ms.ours.median)} ms, stock pair ${sig(result.require.ms.stock.median)} ms, prom-client ${sig(result.require.ms.promClient.median)} ms; ` +
      `ours ÷ stock ×${sig(result.require.ratioToStock.median)} (IQR ${sig(result.require.ratioToStock.q1)}–${sig(result.require.ratioToStock.q3)}), ${rounds} rounds`);
    console.log(`footprint: require split (one run, ${sig(split.totalMs)} ms): ${split.byPackage.slice(0, 8).map(e => `${e.name} ${sig(e.ms, 2)}`).join(', ')}`);
    if (Object.keys(ours.duplicated).length) console.log(`footprint: packages installed more than once: ${JSON.stringify(ours.duplicated)}`);
  } finally {
    if (!flag('no-clean')) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`footprint: kept ${work}`);
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
