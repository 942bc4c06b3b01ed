/**
 * Automatic exec path: child processes started through `child_process`
 * (spawn, execFile, exec, fork, and their promisified forms, and the libraries
 * built on them such as execa), recorded with `transport="exec"`. The node is
 * named from the command line (`execNodeName`, zero config), or by
 * `nodeFor(file, args, defaultNode)` when given; `undefined`/`null` from it
 * means "not a gateway call".
 *
 * An InstrumentationBase (its `_wrap`/`_unwrap`, `enable()`/`disable()`),
 * which patches the loaded `child_process` directly: that covers --require
 * and --import alike, and `disable()` unpatches. The hook is on
 * `ChildProcess.prototype.spawn`, which every asynchronous spawn goes through:
 * it sees each process exactly once, however the app got hold of the
 * function (`const { execFile } = require(...)` before register(), an ESM
 * named import, util.promisify), and Node's exec → execFile → spawn chain
 * cannot count twice. `spawn` and `execFile` themselves are wrapped only to
 * pass their `timeout` option down (execFile keeps it to itself).
 *
 * Outcome, read at 'close' (which Node emits in every case, also after a spawn
 * failure): no pid → spawn_error; the caller's timeout ran out → timeout;
 * killed by a signal → signal; non-zero exit → exit_nonzero. No 'error'
 * listener is added: it would swallow the spawn error a host without one would
 * otherwise see. The *Sync functions are not covered (they block the loop and
 * make no ChildProcess).
 */
import type { TraceRef } from '../core/trace';
import type * as childProcess from 'node:child_process';
import { basename } from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
import { promisify } from 'node:util';
import { InstrumentationBase } from '@opentelemetry/instrumentation';
import { RateLimitedWarner, describe } from '../core/diag';
import type { GatewayMetrics } from '../core/gateway-metrics';
import type { Series } from '../core/series-registry';
import type { AutomaticPath } from './path';
import { disableScope, enableScope } from '../core/scope';
import { execNodeName, shellWords } from './exec-node';
import { TRANSPORT_EXEC } from '../core/semconv';
import type { ExecPathOptions } from '../types';
import { VERSION } from '../core/version';
import { asChunk, type Protocol, type StdioChild, type StdioReader } from '../protocols/protocol';

export { parseKubectlExec, shellWords } from './exec-node';

type AnyFn = (...args: unknown[]) => unknown;

/** The parts of a ChildProcess the stdio readers are fed from. */
export interface StdioStreams {
  stdin: { write: AnyFn; end: AnyFn } | null;
  stdout: { push: AnyFn } | null;
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh', 'cmd.exe']);

/**
 * (file, args) as the app meant them, from the normalized spawn options:
 * `args` there starts with argv0, and shell commands arrive as `sh -c "line"`.
 */
function commandOf(options: { file?: unknown; args?: unknown }): { file: string; args: readonly string[] } | undefined {
  if (typeof options.file !== 'string') return undefined;
  const args = Array.isArray(options.args) ? options.args.slice(1).map(String) : [];
  if (SHELLS.has(basename(options.file)) && (args[0] === '-c' || args[0] === '/d') && args.length >= 2) {
    const words = shellWords(args[args.length - 1]!);
    // `FOO=1 exec cmd …`: the command is what runs, not the assignments.
    let i = 0;
    while (i < words.length - 1 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!)) i++;
    if (words[i] === 'exec' && i < words.length - 1) i++;
    if (i < words.length) return { file: words[i]!, args: words.slice(i + 1) };
  }
  return { file: options.file, args };
}

/** The `timeout` option of a spawn/execFile/exec call, wherever its options object sits. */
function timeoutOf(argv: unknown[]): number {
  for (let i = 1; i < argv.length && i < 3; i++) {
    const o = argv[i];
    if (typeof o === 'object' && o !== null && !Array.isArray(o)) {
      const t = (o as { timeout?: unknown }).timeout;
      return typeof t === 'number' && t > 0 ? t : 0;
    }
  }
  return 0;
}

/** The timeout of the spawn/execFile call on the stack, for the prototype hook below it. */
let pendingTimeout = 0;

interface CallerTimeout {
  ms: number;
  /**
   * execa's timer, not Node's. Node's execFile reports a child that exits 0
   * after the timeout's SIGTERM as a success; execa rejects with
   * `timedOut: true` whatever the exit, once it has killed the child.
   */
  byExeca: boolean;
}

/**
 * The timeout the caller set on this spawn, as seen by the prototype hook.
 *
 * - `timeout`: Node's own, on spawn() (kept in the normalized options).
 * - the execFile/exec `timeout`, which execFile keeps to itself: passed down
 *   by the wrapped exports (`pendingTimeout`).
 * - `timeoutDuration`: execa (checked against 10.2) runs its own timer and
 *   kills the child itself, so spawn never sees a `timeout`; it strips `timeout` from the
 *   options it passes to spawn and renames it `timeoutDuration`
 *   (lib/methods/main-async.js, handleAsyncOptions), and Node's spawn keeps
 *   unknown keys in the options it hands to ChildProcess#spawn. That is the
 *   caller's own setting, visible before the child exists: more robust than
 *   guessing from the kill signal and the elapsed time (a SIGTERM after a
 *   round number of seconds is also what a supervisor's kill looks like), and
 *   execa's `timedOut` on the rejected promise is out of reach here (the
 *   promise is execa's, made after spawn returns). If execa renames the key,
 *   the execa spec (a real execa with `timeout`) fails.
 */
function callerTimeout(options: { timeout?: unknown; timeoutDuration?: unknown }): CallerTimeout | undefined {
  if (typeof options.timeout === 'number' && options.timeout > 0) return { ms: options.timeout, byExeca: false };
  if (pendingTimeout > 0) return { ms: pendingTimeout, byExeca: false };
  const d = options.timeoutDuration;
  if (typeof d === 'number' && d > 0 && Number.isFinite(d)) return { ms: d, byExeca: true };
  return undefined;
}

export class ExecPath extends InstrumentationBase implements AutomaticPath {
  private _metrics!: GatewayMetrics;
  private _nodeFor!: ExecPathOptions['nodeFor'];
  private readonly _warn = new RateLimitedWarner();
  private _patchedExports: typeof childProcess | undefined;

  /** The protocols that read a child's stdio. */
  private _protocols!: Protocol[];

  /** @param protocols the protocol readers (protocols/index.ts); none: per-process timing only. */
  constructor(metrics: GatewayMetrics, options: ExecPathOptions, protocols: readonly Protocol[] = []) {
    super('otel-gateway-metrics/exec', VERSION, { enabled: false });
    this._metrics = metrics;
    this._nodeFor = options.nodeFor;
    this._protocols = protocols.filter(p => p.stdio !== undefined);
  }

  /**
   * No module definition, so InstrumentationBase installs no require/import
   * hook: `child_process` is a builtin whose one exports object enable()
   * patches directly (and `syncBuiltinESMExports()` carries that to ESM named
   * imports), so a hook would only patch the same object again. The hook is
   * not free either: @opentelemetry/instrumentation never removes it, and
   * under mocha (its `isMocha` check) every instance gets its own
   * require-in-the-middle hook, which resolves the file name of every later
   * require() (in a CPU profile of `npm test`, 45 s of require time went
   * through these hooks). With the exec path on by default every register()
   * would add one more.
   */
  protected init(): [] {
    return [];
  }

  override enable(): void {
    if (this.isEnabled()) return;
    enableScope();
    super.enable();
    this._patch(require('node:child_process') as typeof childProcess);
  }

  override disable(): void {
    if (!this.isEnabled()) return;
    super.disable();
    if (this._patchedExports !== undefined) this._unpatch(this._patchedExports);
    disableScope();
  }

  private _patch(exports: typeof childProcess): typeof childProcess {
    if (this._patchedExports === exports) return exports;
    const proto = exports.ChildProcess.prototype as unknown as Record<'spawn', AnyFn>;
    this._wrap(proto, 'spawn', (original: AnyFn) => this._wrapProtoSpawn(original));
    const fns = exports as unknown as Record<'spawn' | 'execFile', AnyFn>;
    this._wrap(fns, 'spawn', (original: AnyFn) => passTimeout(original));
    this._wrap(fns, 'execFile', (original: AnyFn) => passTimeout(original));
    this._patchedExports = exports;
    // ESM named imports of builtins are live bindings synced from the CJS exports.
    syncBuiltinESMExports();
    return exports;
  }

  private _unpatch(exports: typeof childProcess): void {
    this._unwrap(exports.ChildProcess.prototype as unknown as Record<'spawn', AnyFn>, 'spawn');
    const fns = exports as unknown as Record<'spawn' | 'execFile', AnyFn>;
    this._unwrap(fns, 'spawn');
    this._unwrap(fns, 'execFile');
    if (this._patchedExports === exports) this._patchedExports = undefined;
    syncBuiltinESMExports();
  }

  private _wrapProtoSpawn(original: AnyFn): AnyFn {
    const instrumentation = this;
    return function (this: childProcess.ChildProcess, ...argv: unknown[]): unknown {
      const options = (argv[0] ?? {}) as { file?: unknown; args?: unknown; timeout?: unknown; timeoutDuration?: unknown };
      const timeout = callerTimeout(options);
      const tracked = instrumentation._start(options);
      if (tracked === undefined) return original.apply(this, argv);
      let result: unknown;
      try {
        result = original.apply(this, argv);
      } catch (err) {
        instrumentation._end(tracked.series, tracked.t0, 'spawn_error', tracked.trace);
        throw err;
      }
      instrumentation._track(this, tracked.series, tracked.t0, timeout, tracked.trace);
      return result;
    };
  }

  private _start(options: { file?: unknown; args?: unknown }): { series: Series; t0: number; trace: TraceRef | undefined } | undefined {
    try {
      const command = commandOf(options);
      if (command === undefined) return undefined;
      const defaultNode = execNodeName(command.file, command.args);
      let node: unknown = defaultNode;
      if (this._nodeFor !== undefined) {
        try {
          node = this._nodeFor(command.file, command.args, defaultNode);
        } catch (err) {
          this._warn.warn('nodeFor', () => `exec.nodeFor threw ${describe(err)}; process not recorded`);
          return undefined;
        }
      }
      if (node === undefined || node === null) return undefined;
      const series = this._metrics.autoSeries(node, TRANSPORT_EXEC);
      if (series === undefined) return undefined;
      const trace = this._metrics.autoStart(series);
      return { series, t0: performance.now(), trace };
    } catch (err) {
      this._warn.warn('internal', () => `exec path: ${describe(err)}`);
      return undefined;
    }
  }

  private _track(child: childProcess.ChildProcess, series: Series, t0: number, timeout: CallerTimeout | undefined, trace: TraceRef | undefined): void {
    try {
      // A child whose stdio a protocol reads (MCP: JSON-RPC) may turn out to
      // be timed per request; its process attempt then leaves in-flight and
      // records nothing.
      const readers = this._protocols.length > 0 ? this._readers(child as unknown as StdioStreams, series) : undefined;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      if (timeout !== undefined) {
        timer = setTimeout(() => (timedOut = true), timeout.ms);
        timer.unref();
      }
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (timer !== undefined) clearTimeout(timer);
        let errorType: string | undefined;
        if (child.pid === undefined) errorType = 'spawn_error';
        else if (timedOut && (signal !== null || code !== 0 || (timeout!.byExeca && child.killed))) errorType = 'timeout';
        else if (signal !== null) errorType = 'signal';
        else if (code !== 0) errorType = 'exit_nonzero';
        if (readers !== undefined) {
          let owned = false;
          for (const reader of readers) {
            try {
              if (reader.close(errorType)) owned = true;
            } catch (err) {
              this._warn.warn('internal', () => `exec path: ${describe(err)}`);
            }
          }
          if (owned) return;
        }
        this._end(series, t0, errorType, trace);
      });
    } catch (err) {
      this._end(series, t0, undefined, trace);
      this._warn.warn('internal', () => `exec path: ${describe(err)}`);
    }
  }

  /**
   * The stdio readers of a child with stdin and stdout pipes, fed through the
   * child's own `stdin.write/end` and `stdout.push` (no 'data' listener, so a
   * paused stdout stays paused); undefined when no protocol claims it.
   */
  private _readers(child: StdioStreams, series: Series): StdioReader[] | undefined {
    const stdin = child.stdin;
    const stdout = child.stdout;
    if (stdin == null || stdout == null || typeof stdin.write !== 'function' || typeof stdout.push !== 'function') return undefined;
    let owned = false;
    const metrics = this._metrics;
    const handle: StdioChild = {
      series,
      own: () => {
        if (owned) return;
        owned = true;
        metrics.autoDrop(series);
      },
    };
    let readers: StdioReader[] | undefined;
    for (const protocol of this._protocols) {
      const reader = protocol.stdio!(handle);
      if (reader !== undefined) (readers ??= []).push(reader);
    }
    if (readers === undefined) return undefined;
    feedStdio(child, readers, this._warn);
    return readers;
  }

  private _end(series: Series, t0: number, errorType: string | undefined, trace: TraceRef | undefined): void {
    this._metrics.autoEnd(series, (performance.now() - t0) / 1000, errorType, undefined, undefined, undefined, undefined, trace);
  }
}

/**
 * Feed a child's stdin and stdout chunks to its stdio readers through the
 * child's own `stdin.write/end` and `stdout.push`, each wrapper handing on its
 * arguments and result unchanged.
 */
export function feedStdio(child: StdioStreams, readers: readonly StdioReader[], warn: RateLimitedWarner): void {
  const feed = (chunk: unknown, encoding: unknown, toStdin: boolean): void => {
    if (chunk == null || typeof chunk === 'function') return;
    const c = asChunk(chunk, encoding);
    for (const reader of readers) {
      try {
        if (toStdin) reader.stdin(c);
        else reader.stdout(c);
      } catch (err) {
        warn.warn('internal', () => `exec path: ${describe(err)}`);
      }
    }
  };
  const stdin = child.stdin!;
  const stdout = child.stdout!;
  const write = stdin.write;
  const end = stdin.end;
  // `arguments` handed on as is (V8 does not materialize it for apply), where
  // a rest parameter would allocate an array on every write and read.
  stdin.write = function (this: unknown, chunk: unknown, encoding: unknown): unknown {
    feed(chunk, encoding, true);
    return write.apply(this, arguments as unknown as unknown[]);
  };
  stdin.end = function (this: unknown, chunk: unknown, encoding: unknown): unknown {
    feed(chunk, encoding, true);
    return end.apply(this, arguments as unknown as unknown[]);
  };
  const push = stdout.push;
  stdout.push = function (this: unknown, chunk: unknown, encoding: unknown): unknown {
    feed(chunk, encoding, false);
    return push.apply(this, arguments as unknown as unknown[]);
  };
}

/**
 * Wrap spawn/execFile so the prototype hook learns their `timeout` option.
 * Keeps Node's own promisified form (with the same slot), which would otherwise
 * be lost: util.promisify reads it from the function it is given.
 */
function passTimeout(original: AnyFn): AnyFn {
  const withSlot = (argv: unknown[], call: () => unknown) => {
    const prev = pendingTimeout;
    pendingTimeout = timeoutOf(argv);
    try {
      return call();
    } finally {
      pendingTimeout = prev;
    }
  };
  const wrapped = function (this: unknown, ...argv: unknown[]): unknown {
    return withSlot(argv, () => original.apply(this, argv));
  };
  const custom = (original as unknown as Record<symbol, unknown>)[promisify.custom];
  if (typeof custom === 'function') {
    Object.defineProperty(wrapped, promisify.custom, {
      value: (...argv: unknown[]) => withSlot(argv, () => (custom as AnyFn)(...argv)),
    });
  }
  return wrapped;
}

// Defined beside the command-line parsing it uses, so that the package entry can
// export it without loading this module (and @opentelemetry/instrumentation).
export { kubectlExecNodeFor, type PodNodeMap } from './exec-node';
