import { expect } from 'chai';
import * as cp from 'node:child_process';
import { promisify } from 'node:util';
import { kubectlExecNodeFor, semconv } from '../lib';
import { ExecPath, parseKubectlExec, shellWords } from '../lib/paths/exec';
import { captureDiag, type Captured } from './helpers/diag';
import { harness, histogram, point, points, total, type Harness } from './helpers/metrics';
import { runNode } from './helpers/child';

const D = semconv.METRIC_REQUEST_DURATION;
const E = semconv.METRIC_REQUEST_ERRORS;
const A = semconv.METRIC_REQUESTS_ACTIVE;
const NODE = process.execPath;

/** Every child of `node` is node "agent-1"; anything else is not a gateway call. */
const nodeFor = (file: string) => (file === NODE || file === 'node' ? 'agent-1' : file === 'missing-binary-xyz' ? 'ghost' : undefined);

function execFileP(file: string, args: string[], options: cp.ExecFileOptions = {}): Promise<{ err: cp.ExecFileException | null; stdout: string }> {
  return new Promise(resolve => {
    cp.execFile(file, args, options, (err, stdout) => resolve({ err, stdout: String(stdout) }));
  });
}

describe('automatic exec path (child_process, InstrumentationBase)', () => {
  let h: Harness;
  let exec: ExecPath;
  let diag: Captured;
  /** The undocumented method every asynchronous spawn goes through (what the exec path hooks). */
const proto = () => (cp.ChildProcess.prototype as unknown as { spawn: unknown }).spawn;
const originals = { spawn: cp.spawn, execFile: cp.execFile, exec: cp.exec, protoSpawn: proto() };

  beforeEach(() => {
    diag = captureDiag();
    h = harness();
    exec = new ExecPath(h.metrics, { nodeFor });
    exec.enable();
  });
  afterEach(async () => {
    exec.disable();
    await h.shutdown();
    diag.restore();
  });

  it('records execFile of a real node script: exit 0 → success, exit 3 → exit_nonzero', async () => {
    const ok = await execFileP(NODE, ['-e', 'process.stdout.write("hi")']);
    expect(ok.err).to.equal(null);
    expect(ok.stdout).to.equal('hi');
    const bad = await execFileP(NODE, ['-e', 'process.exit(3)']);
    expect(bad.err?.code).to.equal(3);
    const rm = await h.collect();
    expect(point(rm, D, { status: 'success' }).attributes).to.deep.equal({ node: 'agent-1', transport: 'exec', status: 'success' });
    expect(histogram(rm, D, { status: 'success' }).count).to.equal(1);
    expect(point(rm, E, {}).attributes).to.deep.equal({ node: 'agent-1', transport: 'exec', 'error.type': 'exit_nonzero' });
    expect(point(rm, A, {}).value).to.equal(0);
  });

  it('records a killed child as signal and a missing binary as spawn_error', async () => {
    const child = cp.execFile(NODE, ['-e', 'process.stdout.write("up"); setTimeout(() => {}, 10000)'], () => {});
    // Killed once it runs (its first output), not at an arbitrary time.
    await new Promise(r => child.stdout!.once('data', r));
    child.kill('SIGKILL');
    await new Promise(r => child.on('close', r));
    let missingErr: NodeJS.ErrnoException | null = null;
    const missing = cp.execFile('missing-binary-xyz', [], err => (missingErr = err as NodeJS.ErrnoException | null));
    // The callback comes with the 'error' event; the attempt ends at 'close', just after.
    await new Promise(r => missing.on('close', r));
    expect(missingErr!.code).to.equal('ENOENT');
    const rm = await h.collect();
    expect(point(rm, E, { 'error.type': 'signal' }).attributes.node).to.equal('agent-1');
    expect(point(rm, E, { 'error.type': 'spawn_error' }).attributes.node).to.equal('ghost');
    expect(histogram(rm, D, { node: 'ghost', status: 'error' }).count).to.equal(1);
  });

  it('records the timeout option as timeout', async () => {
    const r = await execFileP(NODE, ['-e', 'setTimeout(() => {}, 10000)'], { timeout: 200 });
    expect(r.err?.killed).to.equal(true);
    const rm = await h.collect();
    expect(point(rm, E, {}).attributes['error.type']).to.equal('timeout');
    expect(histogram(rm, D, { status: 'error' }).sum).to.be.at.least(0.19);
  });

  it('times from spawn to close', async () => {
    const r = await execFileP(NODE, ['-e', 'setTimeout(() => {}, 300)']);
    expect(r.err).to.equal(null);
    expect(histogram(await h.collect(), D, {}).sum).to.be.at.least(0.29);
  });

  it('covers spawn, exec (a shell line) and the promisified forms, once each', async () => {
    await new Promise(r => cp.spawn(NODE, ['-e', '0']).on('close', r));
    await new Promise(r => cp.exec(`"${NODE}" -e 0`, r));
    const { stdout } = await promisify(cp.execFile)(NODE, ['-e', 'process.stdout.write("p")']);
    expect(stdout).to.equal('p');
    const viaExec = await promisify(cp.exec)('node -e "process.stdout.write(String(1+1))"');
    expect(viaExec.stdout).to.equal('2');
    const failed = await promisify(cp.execFile)(NODE, ['-e', 'process.exit(2)']).catch((e: cp.ExecFileException & { stdout: string }) => e);
    expect((failed as cp.ExecFileException).code).to.equal(2);
    const rm = await h.collect();
    expect(histogram(rm, D, { status: 'success' }).count).to.equal(4);
    expect(histogram(rm, D, { status: 'error' }).count).to.equal(1);
  });

  it('does not record commands nodeFor does not map', async () => {
    await new Promise(r => cp.execFile('true', [], r));
    await new Promise(r => cp.exec('echo hi', r));
    expect(points(await h.collect(), D)).to.have.length(0);
  });

  it('adds no error listener: a spawn failure reaches the host exactly as before', async () => {
    const child = cp.spawn('missing-binary-xyz');
    expect(child.listenerCount('error')).to.equal(0);
    const err = await new Promise<NodeJS.ErrnoException>(r => child.on('error', r));
    expect(err.code).to.equal('ENOENT');
  });

  it('does not count again a process started inside measure()', async () => {
    await h.metrics.measure({ node: 'agent-1', transport: 'exec' }, () => execFileP(NODE, ['-e', '0']));
    expect(total(await h.collect(), D)).to.equal(1);
  });

  it('restores the original functions on disable()', () => {
    expect(cp.execFile).to.not.equal(originals.execFile);
    expect(cp.spawn).to.not.equal(originals.spawn);
    expect(proto()).to.not.equal(originals.protoSpawn);
    expect(cp.exec).to.equal(originals.exec);
    exec.disable();
    expect(cp.execFile).to.equal(originals.execFile);
    expect(cp.spawn).to.equal(originals.spawn);
    expect(proto()).to.equal(originals.protoSpawn);
  });

  it('records processes started through functions taken before enable() (destructured early) and fork()', async () => {
    const { execFile: early } = { execFile: originals.execFile };
    await new Promise(r => early(NODE, ['-e', '0'], r));
    await new Promise(r => cp.fork('-e', ['0'], { execArgv: ['-e', '0'], stdio: 'ignore' }).on('close', r));
    expect(histogram(await h.collect(), D, { status: 'success' }).count).to.equal(2);
  });

  it('keeps util.promisify(execFile) resolving { stdout, stderr }, with .child', async () => {
    const p = promisify(cp.execFile)(NODE, ['-e', 'process.stdout.write("o"); process.stderr.write("e")']) as Promise<{ stdout: string; stderr: string }> & { child?: cp.ChildProcess };
    expect(p.child).to.be.instanceOf(cp.ChildProcess);
    expect(await p).to.deep.equal({ stdout: 'o', stderr: 'e' });
  });

  it('survives a nodeFor that throws: the process runs, nothing is recorded', async () => {
    exec.disable();
    exec = new ExecPath(h.metrics, { nodeFor: () => { throw new Error('mapper broke'); } });
    exec.enable();
    const r = await execFileP(NODE, ['-e', 'process.stdout.write("still")']);
    expect(r.stdout).to.equal('still');
    expect(points(await h.collect(), D)).to.have.length(0);
    expect(diag.warn.some(w => w.includes('mapper broke'))).to.equal(true);
  });
});

describe('exec path under --import (ESM named imports of node:child_process)', () => {
  it('records execFile imported by name in an ESM app', async () => {
    const r = await runNode(['--import', 'otel-gateway-metrics/register', 'spec/fixtures/exec-app.mjs'], {
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      GATEWAY_METRICS_CONFIG: 'spec/fixtures/exec-config.mjs',
      GATEWAY_METRICS_RUNTIME_METRICS: 'false', GATEWAY_METRICS_PROCESS_METRICS: 'false',
    });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/gateway_request_duration_seconds_count\{node="pod-node",status="success",transport="exec",[^}]*\} 2\n/);
    expect(r.stdout).to.match(/gateway_request_errors_total\{error_type="exit_nonzero",node="pod-node",transport="exec",[^}]*\} 1\n/);
  });

  it('records them with no configuration at all, on the zero-config node ("node" for inline code)', async () => {
    const r = await runNode(['--import', 'otel-gateway-metrics/register', 'spec/fixtures/exec-app.mjs'], {
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      GATEWAY_METRICS_RUNTIME_METRICS: 'false', GATEWAY_METRICS_PROCESS_METRICS: 'false',
    });
    expect(r.code, r.stderr).to.equal(0);
    const counts = r.stdout.split('\n').filter(l => l.startsWith('gateway_request_duration_seconds_count{'));
    expect(counts.map(l => l.replace(/,otel_scope_[^}]*/, '')).sort()).to.deep.equal([
      'gateway_request_duration_seconds_count{node="node",status="error",transport="exec"} 1',
      'gateway_request_duration_seconds_count{node="node",status="success",transport="exec"} 2',
    ]);
  });
});

describe('kubectl exec matcher', () => {
  it('parses pods and namespaces', () => {
    expect(parseKubectlExec('kubectl', ['exec', 'agent-0', '--', 'agent'])).to.deep.equal({ pod: 'agent-0' });
    expect(parseKubectlExec('/usr/local/bin/kubectl', ['exec', '-n', 'prod', '-i', 'pod/agent-1', '-c', 'main', '--', 'agent', '--stdio'])).to.deep.equal({ pod: 'agent-1', namespace: 'prod' });
    expect(parseKubectlExec('kubectl', ['--context', 'c1', '--namespace=ns', 'exec', '-it', 'a-2', '--', 'sh'])).to.deep.equal({ pod: 'a-2', namespace: 'ns' });
    expect(parseKubectlExec('kubectl', ['get', 'pods'])).to.equal(undefined);
    expect(parseKubectlExec('kubectl', ['exec', '--', 'x'])).to.equal(undefined);
    expect(parseKubectlExec('docker', ['exec', 'c', 'sh'])).to.equal(undefined);
  });

  it('maps pods to nodes through a map or a function', () => {
    const byMap = kubectlExecNodeFor({ 'agent-0': 'ip-10-0-1-5' });
    expect(byMap('kubectl', ['exec', 'agent-0', '--', 'agent'])).to.equal('ip-10-0-1-5');
    expect(byMap('kubectl', ['exec', 'other', '--', 'agent'])).to.equal(undefined);
    expect(byMap('kubectl', ['exec', 'toString', '--', 'agent'])).to.equal(undefined);
    const byFn = kubectlExecNodeFor((pod, ns) => `${ns ?? 'default'}/${pod}`);
    expect(byFn('kubectl', ['exec', '-n', 'x', 'p', '--', 'a'])).to.equal('x/p');
    const byM = kubectlExecNodeFor(new Map([['p', 'n']]));
    expect(byM('kubectl', ['exec', 'p'])).to.equal('n');
  });

  it('splits shell lines like a shell would (quotes, escapes, no expansion)', () => {
    expect(shellWords(`kubectl exec -n "my ns" 'pod x' -- echo a\\ b $HOME`)).to.deep.equal(['kubectl', 'exec', '-n', 'my ns', 'pod x', '--', 'echo', 'a b', '$HOME']);
  });
});
