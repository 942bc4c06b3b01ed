/**
 * Who this process is in a multi-process gateway, and which processes it is
 * summed with.
 *
 * - A `node:cluster` worker (PM2 cluster mode is node:cluster, with PM2's
 *   daemon as the primary) is a member of its host group: every process that
 *   answers the same metrics port through the same primary. The group is
 *   named after the primary (its pid and kernel start time, so a reused pid
 *   is another group) and the metrics host and port.
 * - Any other process may become a primary: it then gives its metrics port
 *   to its workers (see index.ts).
 *
 * PM2 copies an app's ecosystem `env` into process.env only after `--require`
 * preloads have run (lib/ProcessContainer.js, PM2 7), but the values are
 * already in `process.env.pm2_env` (JSON) when the worker starts: pm2Env()
 * reads them from there, so configuration given in an ecosystem file reaches
 * register() from the preload too.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

/** The environment as the app will see it: under PM2, with the ecosystem's values (ProcessContainer copies them the same way). */
export function pm2Env(env: Env): Env {
  const raw = env.pm2_env;
  if (typeof raw !== 'string' || raw === '') return env;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return env;
  }
  if (typeof parsed !== 'object' || parsed === null) return env;
  const out: Record<string, string | undefined> = { ...env };
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}

/** The directory PM2 will chdir the app to (relative paths in its env are the app's), if PM2 started us. */
export function pm2Cwd(env: Env): string | undefined {
  const merged = pm2Env(env);
  if (merged === env) return undefined;
  const cwd = merged.pm_cwd ?? merged.PWD;
  return typeof cwd === 'string' && cwd !== '' ? cwd : undefined;
}

interface ClusterModule {
  isWorker: boolean;
  worker?: { id: number };
}

function clusterModule(): ClusterModule {
  return require('node:cluster') as ClusterModule;
}

/** Whether this process is a node:cluster worker (PM2 cluster mode included). */
export function isClusterWorker(): boolean {
  return clusterModule().isWorker === true;
}

/** The `worker` label of this process: PM2's pm_id (what `pm2 ls` shows), else node:cluster's worker id. */
export function workerLabel(env: Env): string {
  const pm = pm2Env(env).pm_id;
  if (pm !== undefined && pm !== '') return pm;
  const id = clusterModule().worker?.id;
  return id === undefined ? String(process.pid) : String(id);
}

/** State and start time (clock ticks since boot) of a process, from /proc; undefined where there is no /proc. */
export function procStat(pid: number): { state: string; start: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return { state: fields[0] ?? '', start: Number.isFinite(start) ? start : NaN };
}

/**
 * Whether process `pid` is alive and still the one that started at
 * `procStart` (a reused pid is another process). A zombie is dead.
 */
export function processAlive(pid: number, procStart: number | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(pid);
  if (stat === undefined) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return procStart === undefined || !Number.isFinite(stat.start) || stat.start === procStart;
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return '';
  }
}

/** Where the groups live: RAM (/dev/shm) where there is one, else the temp directory; one directory per user. */
export function baseDir(configured: string | undefined): string {
  if (configured !== undefined) return resolve(configured);
  let root = tmpdir();
  try {
    accessSync('/dev/shm', fsConstants.W_OK);
    root = '/dev/shm';
  } catch {
    // No tmpfs of that name: the temp directory.
  }
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : 'user';
  return join(root, `otel-gateway-metrics-${user}`);
}

export interface GroupIdentity {
  /** The group's directory. */
  readonly dir: string;
  /** The primary's pid and kernel start time. */
  readonly primaryPid: number;
  readonly primaryStart: number | undefined;
}

/**
 * The group of a worker: its primary (the parent), and what the workers
 * share through it, the metrics host and port (`false`: the app's own server,
 * where the app names the group, PM2's app name included).
 */
export function workerGroup(base: string, env: Env, host: string, port: number | false): GroupIdentity {
  const primaryPid = process.ppid;
  const primaryStart = procStat(primaryPid)?.start;
  const app = port === false ? `app:${pm2Env(env).name ?? ''}` : `${host}:${port}`;
  const key = createHash('sha256').update(`${bootId()}|${primaryPid}|${primaryStart ?? ''}|${app}`).digest('hex').slice(0, 16);
  return { dir: join(base, `g-${primaryPid}-${key}`), primaryPid, primaryStart };
}

/**
 * Join the group's directory: made if needed, with the primary's identity in
 * it; the directories of groups whose primary is gone are removed (their
 * workers are gone with it: a node:cluster worker exits when its primary
 * does).
 */
export function prepareGroup(group: GroupIdentity): void {
  mkdirSync(group.dir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(join(group.dir, 'primary.json'), JSON.stringify({ pid: group.primaryPid, procStart: group.primaryStart }), { flag: 'wx', mode: 0o600 });
  } catch {
    // Another worker wrote it first.
  }
  const base = resolve(group.dir, '..');
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^g-(\d+)-[0-9a-f]+$/.exec(name);
    const dir = join(base, name);
    if (m === null || dir === group.dir) continue;
    let primary: { pid?: unknown; procStart?: unknown } = { pid: Number(m[1]) };
    try {
      primary = JSON.parse(readFileSync(join(dir, 'primary.json'), 'utf8')) as typeof primary;
    } catch {
      // Made by a worker that died before writing it: the pid in the name.
    }
    const pid = typeof primary.pid === 'number' ? primary.pid : Number(m[1]);
    if (processAlive(pid, typeof primary.procStart === 'number' ? primary.procStart : undefined)) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Someone else's, or removed meanwhile.
    }
  }
}
