'use strict';
// Shared plumbing: where results go, run metadata, child processes pinned to
// a core, and the package under test (the built dist/).
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}
const flag = name => process.argv.includes(`--${name}`);
/** `--name N` or env BENCH_NAME, as a number. */
function num(name, fallback) {
  const v = arg(name, process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`]);
  return v === undefined ? fallback : Number(v);
}

function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return os.cpus().length >= 2;
  } catch {
    return false;
  }
}
const TASKSET = hasTaskset();

function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+lib-modified` : head;
  } catch {
    return 'unknown';
  }
}

function distStamp() {
  try {
    return fs.statSync(path.join(ROOT, 'dist', 'export', 'exposition.js')).mtime.toISOString();
  } catch {
    return 'missing';
  }
}

/**
 * A dependency's version from its package.json on disk: the OTel 3.x packages'
 * exports maps do not export './package.json', so require() cannot load it.
 */
function pkgVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function meta(command) {
  const cpus = os.cpus();
  let affinity = 'all';
  try {
    affinity = execFileSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' }).split(':').pop().trim();
  } catch { /* no taskset */ }
  return {
    command,
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus.length} × ${cpus[0] ? cpus[0].model.trim() : 'unknown'}`,
    affinity,
    commit: gitCommit(),
    distBuilt: distStamp(),
    versions: {
      'sdk-metrics': pkgVersion('@opentelemetry/sdk-metrics'),
      'exporter-prometheus': pkgVersion('@opentelemetry/exporter-prometheus'),
      'prom-client': pkgVersion('prom-client'),
      autocannon: pkgVersion('autocannon'),
    },
  };
}

function writeResult(name, data) {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

function readResult(name) {
  const file = path.join(RESULTS, `${name}.json`);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
}

// ---- child processes ------------------------------------------------------

const children = new Set();

/** argv prefixed with `taskset -c cpu` when pinning is possible. */
function pinned(cpu, cmd, args) {
  if (cpu === undefined || !TASKSET) return [cmd, args];
  return ['taskset', ['-c', String(cpu), cmd, ...args]];
}

/**
 * Start `node script args` (pinned to `cpu`), resolve with { child, info } once
 * it prints its first JSON line on stdout. stderr is passed through.
 */
function startNode(script, args = [], { cpu, env, nodeArgs = [], ipc = false, timeoutMs = 60_000 } = {}) {
  const [cmd, argv] = pinned(cpu, process.execPath, [...nodeArgs, script, ...args]);
  const child = spawn(cmd, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ipc ? ['ignore', 'pipe', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
  installCleanup();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let buf = '';
    let ready = false;
    child.lines = [];
    const timer = setTimeout(() => {
      kill(child);
      reject(new Error(`${path.basename(script)} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = d => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (ready || !line.startsWith('{')) {
          child.lines.push(line);
          child.emit('line', line);
          continue;
        }
        ready = true;
        clearTimeout(timer);
        try {
          resolve({ child, info: JSON.parse(line) });
        } catch (err) {
          kill(child);
          reject(new Error(`${path.basename(script)} printed ${JSON.stringify(line)}: ${err.message}`));
        }
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} exited with ${code} before it was ready`));
    });
  });
}

/** Run `node script args` to completion; resolves with its exit code. */
function runNode(script, args = [], { cpu, env, nodeArgs = [] } = {}) {
  const [cmd, argv] = pinned(cpu, process.execPath, [...nodeArgs, script, ...args]);
  const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'inherit' });
  installCleanup();
  children.add(child);
  return new Promise(resolve => child.once('exit', code => {
    children.delete(child);
    resolve(code);
  }));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
function kill(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise(resolve => {
    const t = setTimeout(() => {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try { child.kill('SIGTERM'); } catch { clearTimeout(t); resolve(); }
  });
}

function killAll() {
  return Promise.all([...children].map(c => kill(c, 1000)));
}

let cleanupInstalled = false;
/** Kill our children when we are interrupted or exit (installed once we have any). */
function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      for (const c of children) {
        try { c.kill('SIGKILL'); } catch { /* gone */ }
      }
      process.exit(130);
    });
  }
  process.once('exit', () => {
    for (const c of children) {
      try { c.kill('SIGKILL'); } catch { /* gone */ }
    }
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

/** Full GC (needs --expose-gc), twice so weak structures settle. */
function gc() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  global.gc();
  global.gc();
}

module.exports = {
  ROOT, RESULTS, TASKSET, arg, flag, num, meta, writeResult, readResult,
  startNode, runNode, kill, killAll, sleep, gc,
};
