/**
 * The exec path with zero configuration against real child processes, started
 * through the libraries apps use: execa, and child_process (spawn, execFile,
 * exec, and the promisified forms). Every runner goes through the same fixed
 * plan and must leave exactly the same record: what its caller saw.
 */
import { expect } from 'chai';
import * as cp from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { semconv } from '../lib';
import { ExecPath } from '../lib/paths/exec';
import { captureDiag, type Captured } from './helpers/diag';
import { eventually } from './helpers/eventually';
import { harness, histogram, point, points, type Harness } from './helpers/metrics';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const NODE = process.execPath;
const AGENT = resolve(__dirname, 'fixtures', 'exec-agent.cjs');
/** Zero-config name of `node …/exec-agent.cjs`: the script's file name. */
const AGENT_NODE = 'exec-agent.cjs';
const MISSING = 'missing-binary-xyz';
const SLOW_MS = 400;
const TIMEOUT_MS = 300;

/** What the caller saw. */
interface Seen {
  ok: boolean;
  /** Exit code, signal, timedOut flag or error code, as the library reported them. */
  detail: Record<string, unknown>;
  /** When the caller's promise settled, if the runner waited for more (the child's 'close') after it. */
  settledAt?: number;
}

interface Runner {
  name: string;
  /** Run the agent with `args`, with a caller-side timeout when given. */
  agent(args: string[], timeoutMs?: number): Promise<Seen>;
  missing(): Promise<Seen>;
  /** A missing binary through a shell is a shell that exits 127, not a spawn error. */
  missingErrorType: string;
}

/** execa is ESM only, and so are its dependencies (exports with an `import` condition only). */
let execa: typeof import('execa').execa;

const q = (s: string) => `"${s}"`;

/**
 * The caller's view can settle before the child's 'close', where the exec path
 * ends the attempt (execFile calls back on a spawn error's 'error' event; execa's
 * promise can settle a moment before 'close'). The caller's wait ends when its
 * callback or promise settles (`settledAt`); the spec reads the metrics only
 * after 'close'.
 */
async function untilClose(child: cp.ChildProcess, seen: Promise<Seen>): Promise<Seen> {
  const closed = new Promise(r => child.once('close', r));
  const s = await seen;
  const settledAt = performance.now();
  await closed;
  return { ...s, settledAt };
}

function viaCallback(start: (cb: (err: Error | null) => void) => cp.ChildProcess): Promise<Seen> {
  let child!: cp.ChildProcess;
  const seen = new Promise<Seen>(res => {
    child = start(err => {
      const e = err as (Error & Record<string, unknown>) | null;
      res(e === null ? { ok: true, detail: {} } : { ok: false, detail: { code: e.code, signal: e.signal, killed: e.killed } });
    });
  });
  return untilClose(child, seen);
}

function viaPromise(p: Promise<unknown>): Promise<Seen> {
  return p.then(
    () => ({ ok: true, detail: {} }),
    (err: Record<string, unknown>) => ({
      ok: false,
      detail: { code: err.code, exitCode: err.exitCode, signal: err.signal, timedOut: err.timedOut, killed: err.killed },
    }),
  );
}

/** util.promisify(execFile / exec) puts the ChildProcess on the promise as `.child`. */
function viaPromisified(p: Promise<unknown>): Promise<Seen> {
  return untilClose((p as Promise<unknown> & { child: cp.ChildProcess }).child, viaPromise(p));
}

/** execa 10 returns a promise; the ChildProcess is its `nodeChildProcess`. */
function viaExeca(sub: ReturnType<typeof execa>): Promise<Seen> {
  return untilClose((sub as unknown as { nodeChildProcess: cp.ChildProcess }).nodeChildProcess, viaPromise(sub));
}

function viaSpawn(child: cp.ChildProcess): Promise<Seen> {
  return new Promise(res => {
    let error: NodeJS.ErrnoException | undefined;
    child.on('error', err => (error = err));
    child.on('close', (code, signal) =>
      res(error !== undefined ? { ok: false, detail: { code: error.code } } : { ok: code === 0, detail: { code, signal } }),
    );
  });
}

const RUNNERS: Runner[] = [
  {
    name: 'execa',
    agent: (args, timeout) => viaExeca(execa(NODE, [AGENT, ...args], timeout !== undefined ? { timeout } : {})),
    missing: () => viaExeca(execa(MISSING, [])),
    missingErrorType: 'spawn_error',
  },
  {
    name: 'child_process.spawn (its own timeout option)',
    agent: (args, timeout) => viaSpawn(cp.spawn(NODE, [AGENT, ...args], timeout !== undefined ? { timeout } : {})),
    missing: () => viaSpawn(cp.spawn(MISSING)),
    missingErrorType: 'spawn_error',
  },
  {
    name: 'child_process.execFile (callback)',
    agent: (args, timeout) => viaCallback(cb => cp.execFile(NODE, [AGENT, ...args], { timeout: timeout ?? 0 }, cb)),
    missing: () => viaCallback(cb => cp.execFile(MISSING, [], cb)),
    missingErrorType: 'spawn_error',
  },
  {
    name: 'util.promisify(execFile)',
    agent: (args, timeout) => viaPromisified(promisify(cp.execFile)(NODE, [AGENT, ...args], { timeout: timeout ?? 0 })),
    missing: () => viaPromisified(promisify(cp.execFile)(MISSING, [])),
    missingErrorType: 'spawn_error',
  },
  {
    name: 'child_process.exec (a shell line, callback)',
    // `exec` in the line: dash does not replace itself with a lone command, so
    // without it the timeout's SIGTERM reaches the shell, and the node
    // grandchild keeps the pipes open for its whole 10 s.
    agent: (args, timeout) => viaCallback(cb => cp.exec(`exec ${q(NODE)} ${q(AGENT)} ${args.join(' ')}`, { timeout: timeout ?? 0 }, cb)),
    missing: () => viaCallback(cb => cp.exec(`${MISSING} --flag`, cb)),
    missingErrorType: 'exit_nonzero',
  },
  {
    name: 'util.promisify(exec)',
    agent: (args, timeout) => viaPromisified(promisify(cp.exec)(`exec ${q(NODE)} ${q(AGENT)} ${args.join(' ')}`, { timeout: timeout ?? 0 })),
    missing: () => viaPromisified(promisify(cp.exec)(`${MISSING} --flag`)),
    missingErrorType: 'exit_nonzero',
  },
];

async function timed(run: () => Promise<Seen>): Promise<Seen & { waited: number }> {
  const t0 = performance.now();
  const seen = await run();
  return { ...seen, waited: ((seen.settledAt ?? performance.now()) - t0) / 1000 };
}


describe('exec path, zero config, real libraries and real child processes', function () {
  this.timeout(30_000);
  before(async () => ({ execa } = await import('execa')));
  let h: Harness;
  let exec: ExecPath;
  let diag: Captured;

  beforeEach(() => {
    diag = captureDiag();
    h = harness();
    exec = new ExecPath(h.metrics, {});
    exec.enable();
  });
  /** Sum and count of one duration series so far (0 before its first sample). */
  const sumAndCount = async (node: string, status: string) => {
    const p = points<Histogram>(await h.collect(), D, { node, status });
    return p.length === 0 ? { sum: 0, count: 0 } : { sum: p[0]!.value.sum!, count: p[0]!.value.count };
  };
  afterEach(async () => {
    exec.disable();
    await h.shutdown();
    diag.restore();
  });

  for (const runner of RUNNERS) {
    it(`${runner.name}: 3 successes, 2 exit 3, a missing binary, a slow child, a timeout`, async () => {
      /**
       * One call, timed by the caller, and the duration the exec path recorded
       * for it: the growth of its series' histogram sum across the call (the
       * spec reads after the child's 'close', where the attempt ends).
       */
      const step = async (node: string, status: string, run: () => Promise<Seen>) => {
        const before = await sumAndCount(node, status);
        const seen = await timed(run);
        const after = await sumAndCount(node, status);
        expect(after.count - before.count, `${runner.name}: one sample on ${node}/${status}`).to.equal(1);
        return { ...seen, recorded: after.sum - before.sum };
      };
      const successes = [];
      for (let i = 0; i < 3; i++) successes.push(await step(AGENT_NODE, 'success', () => runner.agent(['ok'])));
      const failures = [];
      for (let i = 0; i < 2; i++) failures.push(await step(AGENT_NODE, 'error', () => runner.agent(['exit', '3'])));
      const missing = await step(MISSING, 'error', () => runner.missing());
      const slow = await step(AGENT_NODE, 'success', () => runner.agent(['sleep', String(SLOW_MS)]));
      const timeout = await step(AGENT_NODE, 'error', () => runner.agent(['sleep', '10000'], TIMEOUT_MS));

      // What the caller saw (the library's own report), so the record below is checked against it.
      for (const s of [...successes, slow]) expect(s.ok, JSON.stringify(s.detail)).to.equal(true);
      for (const f of failures) {
        expect(f.ok).to.equal(false);
        expect(f.detail.exitCode ?? f.detail.code).to.equal(3);
      }
      expect(missing.ok).to.equal(false);
      if (runner.missingErrorType === 'spawn_error') expect(missing.detail.code).to.equal('ENOENT');
      else expect(missing.detail.code).to.equal(127);
      expect(timeout.ok).to.equal(false);
      if (runner.name === 'execa') expect(timeout.detail.timedOut).to.equal(true);
      else expect(timeout.detail.signal).to.equal('SIGTERM');
      expect(slow.waited).to.be.at.least(SLOW_MS / 1000);
      // Ended by the timeout, not by the child's own 10 s (whatever the load, that is far apart).
      expect(timeout.waited).to.be.at.least(TIMEOUT_MS / 1000).and.below(10);

      const rm = await h.collect();
      // Exactly these series, no other (node × transport × status).
      const series = points(rm, D).map(p => `${p.attributes.node}/${p.attributes.transport}/${p.attributes.status}=${(p.value as unknown as Histogram).count}`);
      expect(series.sort()).to.deep.equal([
        `${AGENT_NODE}/exec/error=3`,
        `${AGENT_NODE}/exec/success=4`,
        `${MISSING}/exec/error=1`,
      ]);
      const errors = points(rm, E).map(p => `${p.attributes.node}/${p.attributes.transport}/${p.attributes['error.type']}=${p.value}`);
      expect(errors.sort()).to.deep.equal([
        `${AGENT_NODE}/exec/exit_nonzero=2`,
        `${AGENT_NODE}/exec/timeout=1`,
        `${MISSING}/exec/${runner.missingErrorType}=1`,
      ]);

      // Each call's recorded duration matches what its caller waited (±0.1 s).
      for (const call of [...successes, ...failures, missing, slow, timeout]) {
        expect(call.recorded, JSON.stringify(call)).to.be.closeTo(call.waited, 0.1);
      }

      // In flight back to 0 on every series, and nothing to warn about.
      for (const p of points(rm, A)) expect(p.value, JSON.stringify(p.attributes)).to.equal(0);
      expect(point(rm, A, { node: AGENT_NODE }).value).to.equal(0);
      expect(diag.all()).to.deep.equal([]);
    });
  }

  it('execa: a child that traps SIGTERM and exits 0 after the timeout is still a timeout, as execa reports it', async () => {
    const script = 'process.on("SIGTERM", () => process.exit(0)); setTimeout(() => {}, 10000)';
    const seen = await timed(() => viaExeca(execa(NODE, ['-e', script], { timeout: TIMEOUT_MS })));
    expect(seen.detail.timedOut).to.equal(true);
    expect(seen.detail.exitCode).to.equal(0);
    const rm = await h.collect();
    expect(point(rm, E, { node: 'node' }).attributes['error.type']).to.equal('timeout');
    expect(histogram(rm, D, { node: 'node', status: 'error' }).sum).to.be.closeTo(seen.waited, 0.1);
  });

  it('execFile: a child that traps SIGTERM and exits 0 after the timeout is a success, as execFile reports it', async () => {
    const script = 'process.on("SIGTERM", () => process.exit(0)); setTimeout(() => {}, 10000)';
    const seen = await timed(() => viaCallback(cb => cp.execFile(NODE, ['-e', script], { timeout: TIMEOUT_MS }, cb)));
    expect(seen.ok).to.equal(true);
    const rm = await h.collect();
    expect(histogram(rm, D, { node: 'node', status: 'success' }).count).to.equal(1);
    expect(points(rm, E)).to.have.length(0);
  });

  it('execa without a timeout: a child killed by the app is signal, not timeout', async () => {
    const sub = execa(NODE, [AGENT, 'sleep', '10000']);
    // Killed once the exec path has the child in flight, not at an arbitrary time.
    await eventually(async () => expect(point(await h.collect(), A, { node: AGENT_NODE }).value).to.equal(1));
    sub.kill();
    const seen = await viaExeca(sub);
    expect(seen.detail.signal).to.equal('SIGTERM');
    expect(seen.detail.timedOut).to.equal(false);
    const rm = await h.collect();
    expect(point(rm, E, { node: AGENT_NODE }).attributes['error.type']).to.equal('signal');
  });
});
