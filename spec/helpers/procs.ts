/**
 * Long-running real servers for the e2e suite (collector, Prometheus, the
 * example gateway and its agents): each in its own process group, with a
 * bounded lifetime, and stopped as a group (the gateway's `kubectl` children
 * included). Also: free loopback ports and bounded polling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { ROOT } from './child';

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** Process group id (= the leader's pid). */
  readonly pgid: number;
  /** Everything printed so far (stdout and stderr interleaved), for diagnostics. */
  output(): string;
  /** The first stdout line matching `re`. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Write to its stdin (started with `stdin: true`). */
  write(text: string): void;
  /** SIGTERM to the server; SIGKILL to the whole group once it exited or after `graceMs`. Resolves when the group is gone. */
  stop(graceMs?: number): Promise<void>;
  /** Whether any process of the group is still alive. */
  groupAlive(): boolean;
}

const running = new Set<Proc>();

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

const scratchDirs = new Set<string>();

function killAllNow(): void {
  for (const p of running) killGroup(p.pgid, 'SIGKILL');
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
}

/** Remove `dir` when the test process ends, however it ends (short of SIGKILL). */
export function removeOnExit(dir: string): string {
  guard();
  scratchDirs.add(dir);
  return dir;
}

// Whatever happens to the test process (a failing hook, mocha's --exit, Ctrl-C
// or a SIGTERM, which end a process without its 'exit' event), no server
// outlives it. (A SIGKILL cannot be caught: timeout(1) bounds the servers then.)
let guarded = false;
function guard(): void {
  if (guarded) return;
  guarded = true;
  process.once('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllNow();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig); // then whatever would have happened without us
    };
    process.on(sig, onSignal);
  }
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Hard limit: the whole group is SIGKILLed after this long. */
  lifetimeMs: number;
  /** Give the process a stdin pipe (Proc.write) instead of none. */
  stdin?: boolean;
}

/**
 * coreutils timeout(1), when present: the lifetime then holds even if the test
 * process itself is SIGKILLed (the in-process timer below cannot outlive it).
 */
const TIMEOUT_BIN = ['/usr/bin/timeout', '/bin/timeout'].find(p => existsSync(p));

export function startProcess(name: string, command: string, args: string[], options: StartOptions): Proc {
  const [cmd, argv] = TIMEOUT_BIN !== undefined
    ? [TIMEOUT_BIN, ['-s', 'KILL', `${Math.ceil(options.lifetimeMs / 1000) + 5}s`, command, ...args]]
    : [command, args];
  guard();
  const child = spawn(cmd, argv, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true, // own process group
  });
  if (child.pid === undefined) throw new Error(`${name}: spawn ${command} failed`);
  const pgid = child.pid;
  let out = '';
  let stdout = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', d => {
    stdout += d;
    out += d;
    wake();
  });
  child.stderr!.on('data', d => {
    out += d;
    if (out.length > 1_000_000) out = out.slice(-500_000);
  });
  let exited = false;
  const exit = new Promise<void>(resolve => {
    child.once('exit', () => {
      exited = true;
      wake();
      resolve();
    });
  });
  // A child that died takes its pipe with it: the failure shows in its output, not as an uncaught EPIPE.
  child.stdin?.on('error', () => {});
  child.once('error', err => {
    out += `\n[spawn error] ${err.message}\n`;
  });
  const killer = setTimeout(() => {
    out += `\n[killed: lifetime of ${options.lifetimeMs} ms exceeded]\n`;
    killGroup(pgid, 'SIGKILL');
  }, options.lifetimeMs);
  killer.unref();

  const proc: Proc = {
    name,
    child,
    pgid,
    output: () => out,
    write(text) {
      if (child.stdin === null) throw new Error(`${name} has no stdin (start it with stdin: true)`);
      child.stdin.write(text);
    },
    line(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms; output:\n${out}`)), timeoutMs);
        const check = () => {
          const found = stdout.split('\n').find(l => re.test(l));
          if (found !== undefined) {
            clearTimeout(timer);
            resolve(found);
          } else if (exited) {
            clearTimeout(timer);
            reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before a line matching ${re}; output:\n${out}`));
          } else waiters.push(check);
        };
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (!exited) {
        // The leader only (timeout(1) passes it on to the server): a group-wide
        // SIGTERM would reach the server twice, and a second SIGTERM usually
        // cuts its graceful shutdown short.
        child.kill('SIGTERM');
        const grace = new Promise<void>(r => setTimeout(r, graceMs).unref());
        await Promise.race([exit, grace]);
      }
      // The leader is gone (or did not go in time): nothing of the group may stay.
      killGroup(pgid, 'SIGKILL');
      await exit;
      clearTimeout(killer);
      for (let i = 0; i < 50 && proc.groupAlive(); i++) await sleep(100);
      running.delete(proc);
    },
    groupAlive() {
      try {
        process.kill(-pgid, 0);
        return true;
      } catch {
        return false;
      }
    },
  };
  running.add(proc);
  return proc;
}

/** Stop every process started here and still running, in reverse start order. */
export async function stopAll(graceMs?: number): Promise<void> {
  for (const p of [...running].reverse()) await p.stop(graceMs);
}

/** A loopback port free right now (the kernel's choice). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>(resolve => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms));

/** The live child processes of `pid` (Linux: /proc/<pid>/task/<tid>/children); [] once it has reaped them all. */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap(tid => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

/** Thrown by a probe to stop polling at once (e.g. the server died). */
export class PollAbort extends Error {}

/**
 * Poll `probe` until it returns a value other than undefined; throws after
 * `timeoutMs` with `what` and the last probe error or result. Other errors
 * than PollAbort count as "not yet".
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      last = 'not yet';
    } catch (err) {
      if (err instanceof PollAbort) throw err;
      last = err instanceof Error ? err.message : err;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${typeof last === 'string' ? last : JSON.stringify(last)}`);
    await sleep(intervalMs);
  }
}

/** Resolves once GET `url` answers 200 (connection errors count as "not yet"). */
export async function waitForHttp200(what: string, url: string, timeoutMs: number, proc?: Proc): Promise<void> {
  await waitFor(what, async () => {
    if (proc !== undefined && proc.child.exitCode !== null) throw new PollAbort(`${proc.name} exited with ${proc.child.exitCode}:\n${proc.output()}`);
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200 ? true : undefined;
  }, timeoutMs);
}
