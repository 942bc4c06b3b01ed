/** Run real child processes (node) and read what they print. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  /** Resolves with the first stdout line matching `re`. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<Exit>;
  stdout(): string;
}

/** Env for children: the outer OTEL_* / GATEWAY_METRICS_* removed, `env` added. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('OTEL_') && !k.startsWith('GATEWAY_METRICS_') && k !== 'NODE_OPTIONS') out[k] = v;
  }
  return { ...out, ...env };
}

export function startNode(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Running {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', d => {
    stdout += d;
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', d => (stderr += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<Exit>(res => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      for (const w of waiters.splice(0)) w();
      res({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    exited,
    stdout: () => stdout,
    line(re, lineTimeout = 15_000) {
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no line matching ${re} within ${lineTimeout} ms; stdout=${stdout} stderr=${stderr}`)), lineTimeout);
        const check = () => {
          const found = stdout.split('\n').find(l => re.test(l));
          if (found !== undefined) {
            clearTimeout(timer);
            res(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            rej(new Error(`exited before a line matching ${re}; stdout=${stdout} stderr=${stderr}`));
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

export async function runNode(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<Exit> {
  return startNode(args, env, timeoutMs).exited;
}
