/**
 * Automatic exec path: child processes started through `child_process`
 * (spawn, execFile, exec, and their promisified forms), recorded with
 * `transport="exec"` when `nodeFor(file, args)` maps them to a node.
 *
 * An InstrumentationBase, so that it hooks `child_process` under --require and
 * --import alike and `disable()` unpatches. Only `spawn` and `execFile` are
 * wrapped: Node's `exec` (and its promisified form) calls
 * `module.exports.execFile`, so wrapping it too would count each call twice.
 *
 * Outcome, read at 'close' (which Node emits in every case, also after a spawn
 * failure): no pid → spawn_error; our own timer for the `timeout` option fired
 * → timeout; killed by a signal → signal; non-zero exit → exit_nonzero.
 * No 'error' listener is added: it would swallow the spawn error a host
 * without one would otherwise see.
 */
import * as childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { promisify } from 'node:util';
import { InstrumentationBase, InstrumentationNodeModuleDefinition } from '@opentelemetry/instrumentation';
import { RateLimitedWarner, describe } from './diag';
import type { GatewayMetrics, Series } from './metrics';
import { disableScope, enableScope } from './scope';
import { TRANSPORT_EXEC } from './semconv';
import type { ExecPathOptions } from './types';
import { VERSION } from './version';

type AnyFn = (...args: unknown[]) => unknown;

interface SpawnCall {
  file: string;
  args: readonly string[];
  timeout: number;
}

/** Split a shell command line into words: quotes and backslashes, no expansion. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The (file, args, options) of a spawn/execFile call, normalized like Node does. */
function spawnCall(argv: unknown[]): SpawnCall | undefined {
  const file = argv[0];
  if (typeof file !== 'string') return undefined;
  let args: readonly string[] = [];
  let options: Record<string, unknown> = {};
  if (Array.isArray(argv[1])) {
    args = argv[1].map(String);
    if (typeof argv[2] === 'object' && argv[2] !== null) options = argv[2] as Record<string, unknown>;
  } else if (typeof argv[1] === 'object' && argv[1] !== null) {
    options = argv[1] as Record<string, unknown>;
  }
  const timeout = typeof options.timeout === 'number' && options.timeout > 0 ? options.timeout : 0;
  if (options.shell !== undefined && options.shell !== false) {
    // exec() and shell:true run a command line; match on its words.
    const words = shellWords([file, ...args].join(' '));
    if (words.length === 0) return undefined;
    return { file: words[0]!, args: words.slice(1), timeout };
  }
  return { file, args, timeout };
}

const PATCHED = ['spawn', 'execFile'] as const;

export class ExecInstrumentation extends InstrumentationBase {
  private _metrics!: GatewayMetrics;
  private _nodeFor!: ExecPathOptions['nodeFor'];
  private readonly _warn = new RateLimitedWarner();
  private _patchedExports: typeof childProcess | undefined;

  constructor(metrics: GatewayMetrics, options: ExecPathOptions) {
    super('otel-gateway-metrics/exec', VERSION, { enabled: false });
    this._metrics = metrics;
    this._nodeFor = options.nodeFor;
  }

  protected init() {
    return new InstrumentationNodeModuleDefinition(
      'child_process',
      ['*'],
      (exports: typeof childProcess) => this._patch(exports),
      (exports: typeof childProcess) => this._unpatch(exports),
    );
  }

  override enable(): void {
    if (this.isEnabled()) return;
    enableScope();
    super.enable();
    // Hook fires on the next require: make it happen now, so ESM apps (which
    // never require child_process) are covered too.
    const loaded = require('node:child_process') as typeof childProcess;
    if (this._patchedExports !== loaded) this._patch(loaded);
  }

  override disable(): void {
    if (!this.isEnabled()) return;
    super.disable();
    if (this._patchedExports !== undefined) this._unpatch(this._patchedExports);
    disableScope();
  }

  private _patch(exports: typeof childProcess): typeof childProcess {
    if (this._patchedExports === exports) return exports;
    const target = exports as unknown as Record<(typeof PATCHED)[number], AnyFn>;
    for (const name of PATCHED) {
      this._wrap(target, name, (original: AnyFn) => this._wrapSpawnLike(original, name === 'execFile'));
    }
    this._patchedExports = exports;
    // ESM named imports of builtins are live bindings synced from the CJS exports.
    syncBuiltinESMExports();
    return exports;
  }

  private _unpatch(exports: typeof childProcess): void {
    const target = exports as unknown as Record<(typeof PATCHED)[number], AnyFn>;
    for (const name of PATCHED) this._unwrap(target, name);
    if (this._patchedExports === exports) this._patchedExports = undefined;
    syncBuiltinESMExports();
  }

  private _wrapSpawnLike(original: AnyFn, withPromisify: boolean): AnyFn {
    const instrumentation = this;
    const wrapped = function (this: unknown, ...argv: unknown[]): unknown {
      const tracked = instrumentation._start(argv);
      if (tracked === undefined) return original.apply(this, argv);
      const { series, t0, timeout } = tracked;
      let child: childProcess.ChildProcess;
      try {
        child = original.apply(this, argv) as childProcess.ChildProcess;
      } catch (err) {
        instrumentation._end(series, t0, 'spawn_error');
        throw err;
      }
      instrumentation._track(child, series, t0, timeout);
      return child;
    };
    if (withPromisify) {
      // Node's own promisified execFile calls the unwrapped function, so give
      // ours the same contract: a promise of { stdout, stderr } with .child.
      Object.defineProperty(wrapped, promisify.custom, {
        value: (...args: unknown[]) => {
          let resolve!: (v: unknown) => void;
          let reject!: (e: unknown) => void;
          const promise = new Promise((res, rej) => {
            resolve = res;
            reject = rej;
          }) as Promise<unknown> & { child?: unknown };
          promise.child = wrapped(...args, (err: (Error & { stdout?: unknown; stderr?: unknown }) | null, stdout: unknown, stderr: unknown) => {
            if (err !== null) {
              err.stdout = stdout;
              err.stderr = stderr;
              reject(err);
            } else {
              resolve({ stdout, stderr });
            }
          });
          return promise;
        },
      });
    }
    return wrapped;
  }

  private _start(argv: unknown[]): { series: Series; t0: number; timeout: number } | undefined {
    try {
      const call = spawnCall(argv);
      if (call === undefined) return undefined;
      let node: unknown;
      try {
        node = this._nodeFor(call.file, call.args);
      } catch (err) {
        this._warn.warn('nodeFor', () => `exec.nodeFor threw ${describe(err)}; process not recorded`);
        return undefined;
      }
      if (node === undefined || node === null) return undefined;
      const series = this._metrics.autoSeries(node, TRANSPORT_EXEC);
      if (series === undefined) return undefined;
      this._metrics.autoStart(series);
      return { series, t0: performance.now(), timeout: call.timeout };
    } catch (err) {
      this._warn.warn('internal', () => `exec path: ${describe(err)}`);
      return undefined;
    }
  }

  private _track(child: childProcess.ChildProcess, series: Series, t0: number, timeout: number): void {
    try {
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      if (timeout > 0) {
        // Created after Node's own timeout timer for the same delay, so it
        // fires after Node has killed the child and before 'close'.
        timer = setTimeout(() => (timedOut = true), timeout);
        timer.unref();
      }
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (timer !== undefined) clearTimeout(timer);
        let errorType: string | undefined;
        if (child.pid === undefined) errorType = 'spawn_error';
        else if (timedOut && (signal !== null || code !== 0)) errorType = 'timeout';
        else if (signal !== null) errorType = 'signal';
        else if (code !== 0) errorType = 'exit_nonzero';
        this._end(series, t0, errorType);
      });
    } catch (err) {
      this._end(series, t0, undefined);
      this._warn.warn('internal', () => `exec path: ${describe(err)}`);
    }
  }

  private _end(series: Series, t0: number, errorType: string | undefined): void {
    this._metrics.autoEnd(series, (performance.now() - t0) / 1000, errorType, undefined);
  }
}

/** Pod → node, as a map or a function of (pod, namespace). */
export type PodNodeMap =
  | Readonly<Record<string, string>>
  | ReadonlyMap<string, string>
  | ((pod: string, namespace: string | undefined) => string | undefined);

const KUBECTL_VALUE_FLAGS = new Set([
  '-n', '--namespace', '-c', '--container', '--context', '--kubeconfig', '--cluster', '--user',
  '-s', '--server', '--token', '--request-timeout', '-f', '--filename', '--pod-running-timeout',
  '--as', '--as-group', '--as-uid', '--certificate-authority', '--client-certificate', '--client-key',
  '--tls-server-name', '--cache-dir', '-v', '--v',
]);

/** Parse `kubectl [global flags] exec [-n ns] <pod> [-c c] -- …` into pod and namespace. */
export function parseKubectlExec(file: string, args: readonly string[]): { pod: string; namespace?: string } | undefined {
  const base = file.split(/[\\/]/).pop()!.replace(/\.exe$/i, '');
  if (base !== 'kubectl' && base !== 'oc') return undefined;
  let namespace: string | undefined;
  let sawExec = false;
  let pod: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a.startsWith('--') && a.includes('=')) {
      const [flag, value] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
      if (flag === '--namespace') namespace = value;
      continue;
    }
    if (KUBECTL_VALUE_FLAGS.has(a)) {
      if (a === '-n' || a === '--namespace') namespace = args[i + 1];
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    if (!sawExec) {
      if (a !== 'exec') return undefined;
      sawExec = true;
      continue;
    }
    pod ??= a;
  }
  if (!sawExec || pod === undefined) return undefined;
  return { pod: pod.replace(/^(pod|pods|po)\//, ''), ...(namespace !== undefined ? { namespace } : {}) };
}

/**
 * A ready-made `exec.nodeFor` for `kubectl exec` command lines: the pod is
 * mapped to a node through `pods` (a map, or a function of pod and namespace).
 */
export function kubectlExecNodeFor(pods: PodNodeMap): ExecPathOptions['nodeFor'] {
  return (file, args) => {
    const parsed = parseKubectlExec(file, args);
    if (parsed === undefined) return undefined;
    if (typeof pods === 'function') return pods(parsed.pod, parsed.namespace);
    if (pods instanceof Map) return pods.get(parsed.pod);
    return Object.prototype.hasOwnProperty.call(pods, parsed.pod) ? (pods as Record<string, string>)[parsed.pod] : undefined;
  };
}
