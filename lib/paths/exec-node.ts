/**
 * Zero-config node names for child processes: what an operator recognises in
 * a command line. Pure (no file system, no PATH lookup), so that it costs the
 * same on every spawn and gives the same name on every machine.
 *
 * - `kubectl exec … <pod>` / `oc exec` → the pod.
 * - `node [flags] <script>`, `python [flags] <script>` (`-m <module>` → the
 *   module), `deno run [flags] <script>`, `bun [run] <script>` → the script's
 *   file name, or the package when the script sits inside one
 *   (`…/node_modules/<pkg>/…`, `…/site-packages/<pkg>/…`).
 * - `npx`, `npm exec`/`npm x`, `pnpm dlx`, `pnpx`, `yarn dlx`, `bunx`/`bun x`,
 *   `uvx`/`uv tool run` → the package, without its version (`pkg@1.2.3` → `pkg`,
 *   `pkg==1.2` → `pkg`): a version bump must not start a new node.
 * - `docker run`/`podman run` (also `container run`) → the image, without tag
 *   or digest (same reason), registry and path kept (`ghcr.io/org/img:1` →
 *   `ghcr.io/org/img`): `mcp/fetch` and `acme/fetch` are different servers.
 * - `env [VAR=x …] cmd`, and shell lines (`sh -c "…"`, `exec('…')`, split by
 *   the caller) → the rules above applied to the command.
 * - Otherwise the program's base name (`/usr/bin/git` → `git`).
 */
import { MAX_LABEL_LENGTH } from '../core/limits';

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


/** Base name of a program, without a Windows executable extension. */
export function programName(file: string): string {
  const base = file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
  return base.replace(/\.(exe|cmd|bat)$/i, '') || file;
}

const NODE_RE = /^(node|nodejs)(\d+(\.\d+)*)?$/;
const PYTHON_RE = /^(python|pypy)(\d+(\.\d+)*)?[wt]?$/;

/** node flags whose value is the next word (the `--flag=value` form needs no entry). */
const NODE_VALUE_FLAGS = new Set([
  '-r', '--require', '--import', '--loader', '--experimental-loader', '-C', '--conditions',
  '--env-file', '--env-file-if-exists', '--inspect-port', '--debug-port', '--title', '--input-type',
  '--max-old-space-size', '--stack-size', '--openssl-config', '--redirect-warnings', '--icu-data-dir',
  '--disable-warning', '--watch-path', '--experimental-config-file', '--localstorage-file',
]);
/** node flags after which there is no script (inline code, stdin, a package.json script, a REPL). */
const NODE_NO_SCRIPT = new Set(['-e', '--eval', '-p', '--print', '-i', '--interactive', '-', '--run', '-c', '--check', '-v', '--version', '-h', '--help']);

const PYTHON_VALUE_FLAGS = new Set(['-W', '-X', '--check-hash-based-pycs']);

/** Package runners: (program, subcommand or '') → flags taking a value, and the one naming the package. */
interface Runner {
  valueFlags: ReadonlySet<string>;
  /** Flags whose value is the package, the command being a bin of it. */
  packageFlags: ReadonlySet<string>;
  /** Flags whose value is a shell line to run (`npx -c '…'`). */
  callFlags: ReadonlySet<string>;
  python: boolean;
}

const NPM_RUNNER: Runner = {
  valueFlags: new Set(['-p', '--package', '-c', '--call', '-w', '--workspace', '--registry', '--cache', '--prefix', '--userconfig', '--loglevel']),
  packageFlags: new Set(['-p', '--package']),
  callFlags: new Set(['-c', '--call']),
  python: false,
};
const PNPM_RUNNER: Runner = {
  valueFlags: new Set(['--package', '-C', '--dir', '--registry', '--reporter', '--loglevel']),
  packageFlags: new Set(['--package']),
  callFlags: new Set(),
  python: false,
};
const YARN_RUNNER: Runner = {
  valueFlags: new Set(['-p', '--package']),
  packageFlags: new Set(['-p', '--package']),
  callFlags: new Set(),
  python: false,
};
const BUN_RUNNER: Runner = {
  valueFlags: new Set(['-p', '--package', '--cwd', '--config', '-c']),
  packageFlags: new Set(['-p', '--package']),
  callFlags: new Set(),
  python: false,
};
const UV_RUNNER: Runner = {
  valueFlags: new Set([
    '--from', '--with', '--with-editable', '--with-requirements', '-p', '--python', '--index', '--default-index',
    '-i', '--index-url', '--extra-index-url', '-f', '--find-links', '--directory', '--project', '--cache-dir',
    '--config-file', '-c', '--constraints', '--overrides', '--build-constraints', '--python-platform',
    '--color', '--index-strategy', '--keyring-provider', '--resolution', '--prerelease', '--exclude-newer',
    '-C', '--config-setting', '--refresh-package', '--reinstall-package', '--upgrade-package', '-P', '--env-file',
  ]),
  packageFlags: new Set(['--from']),
  callFlags: new Set(),
  python: true,
};

const DOCKER_GLOBAL_VALUE_FLAGS = new Set(['-c', '--context', '-H', '--host', '--config', '-l', '--log-level', '--tlscacert', '--tlscert', '--tlskey', '--url', '--connection', '--identity', '--root', '--runroot', '--storage-driver', '--cgroup-manager', '--events-backend', '--module']);
const DOCKER_RUN_VALUE_FLAGS = new Set([
  '-a', '--attach', '--add-host', '--annotation', '--blkio-weight', '--blkio-weight-device', '--cap-add', '--cap-drop',
  '--cgroup-parent', '--cgroupns', '--cidfile', '-c', '--cpu-shares', '--cpu-period', '--cpu-quota', '--cpu-rt-period',
  '--cpu-rt-runtime', '--cpus', '--cpuset-cpus', '--cpuset-mems', '--device', '--device-cgroup-rule',
  '--device-read-bps', '--device-read-iops', '--device-write-bps', '--device-write-iops', '--dns', '--dns-option',
  '--dns-search', '--domainname', '--entrypoint', '-e', '--env', '--env-file', '--expose', '--gpus', '--group-add',
  '--health-cmd', '--health-interval', '--health-retries', '--health-start-interval', '--health-start-period',
  '--health-timeout', '-h', '--hostname', '--ip', '--ip6', '--ipc', '--isolation', '--kernel-memory', '-l', '--label',
  '--label-file', '--link', '--link-local-ip', '--log-driver', '--log-opt', '--mac-address', '-m', '--memory',
  '--memory-reservation', '--memory-swap', '--memory-swappiness', '--mount', '--name', '--network', '--net',
  '--network-alias', '--net-alias', '--oom-score-adj', '--pid', '--pids-limit', '--platform', '-p', '--publish',
  '--pull', '--restart', '--runtime', '--security-opt', '--shm-size', '--stop-signal', '--stop-timeout',
  '--storage-opt', '--sysctl', '--tmpfs', '--ulimit', '-u', '--user', '--userns', '--uts', '-v', '--volume',
  '--volume-driver', '--volumes-from', '-w', '--workdir', '--arch', '--os', '--variant', '--secret', '--userns-uid-map',
  '--uidmap', '--gidmap', '--subuidname', '--subgidname', '--pod', '--requires', '--sdnotify', '--systemd',
  '--timeout', '--tz', '--umask', '--unsetenv', '--passwd-entry', '--chrootdirs', '--decryption-key', '--authfile',
  '--cert-dir', '--creds', '--hooks-dir', '--image-volume', '--init-path', '--log-opt', '--preserve-fds',
  '--seccomp-policy', '--cgroup-conf', '--cgroups', '--conmon-pidfile', '--device-cgroup-rule', '--env-merge',
  '--gpus', '--health-on-failure', '--hostuser', '--personality', '--rdt-class', '--retry', '--retry-delay',
]);

/** Skip a runner's flags to the first positional word; `-y`, `--yes` and other booleans take no value. */
function firstPositional(
  args: readonly string[],
  from: number,
  valueFlags: ReadonlySet<string>,
  onFlag?: (flag: string, value: string) => void,
): number {
  for (let i = from; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return i + 1 < args.length ? i + 1 : -1;
    if (a.length > 1 && a.startsWith('-')) {
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) {
        onFlag?.(a.slice(0, eq), a.slice(eq + 1));
        continue;
      }
      if (valueFlags.has(a)) {
        if (i + 1 < args.length) onFlag?.(a, args[i + 1]!);
        i++;
        continue;
      }
      // A cluster of short flags (`-it`, `-dp 80:80`, `-ePORT=1`): the first
      // letter that takes a value takes the rest of the word, or the next word.
      if (!a.startsWith('--')) {
        for (let j = 1; j < a.length; j++) {
          if (valueFlags.has(`-${a[j]}`)) {
            if (j === a.length - 1) {
              if (i + 1 < args.length) onFlag?.(`-${a[j]}`, args[i + 1]!);
              i++;
            } else onFlag?.(`-${a[j]}`, a.slice(j + 1));
            break;
          }
        }
      }
      continue;
    }
    return i;
  }
  return -1;
}

/** `@scope/pkg@1.2.3` → `@scope/pkg`, `pkg@latest` → `pkg`; npm:/jsr: prefixes and bin paths dropped. */
export function npmPackageName(spec: string): string {
  let s = spec.replace(/^(npm|jsr):/, '');
  const at = s.indexOf('@', 1);
  if (at > 0) s = s.slice(0, at);
  if (s.startsWith('@')) {
    const parts = s.split('/');
    return parts.length >= 2 ? `${parts[0]}/${parts[1]}` : s;
  }
  // `npm:pkg@1/bin/x` (deno) names a bin inside the package.
  return spec.startsWith('npm:') || spec.startsWith('jsr:') ? s.split('/')[0]! : s;
}

/** `mcp-server-fetch==2025.1`, `pkg[extra]>=1`, `pkg@1.0` → the distribution name. */
export function pythonPackageName(spec: string): string {
  const m = /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(spec);
  return m !== null ? m[0] : spec;
}

/** `ghcr.io/org/img:1.2@sha256:…` → `ghcr.io/org/img` (a `:port` in the registry host stays). */
export function imageName(ref: string): string {
  let s = ref;
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  const colon = s.lastIndexOf(':');
  if (colon > s.lastIndexOf('/')) s = s.slice(0, colon);
  return s || ref;
}

/** A script path → the package it belongs to, or its file name. */
export function scriptName(path: string): string {
  if (/^(npm|jsr):/.test(path)) return npmPackageName(path);
  let p = path;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) {
    // A URL (deno): its path, without query or fragment.
    p = p.replace(/[?#].*$/, '').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '');
  }
  const parts = p.split(/[\\/]+/).filter(s => s !== '' && s !== '.');
  for (let i = parts.length - 2; i >= 0; i--) {
    const dir = parts[i]!;
    if (dir === 'node_modules') {
      const next = parts[i + 1]!;
      if (next === '.bin') return parts[i + 2] ?? next;
      if (next.startsWith('@') && i + 2 < parts.length) return `${next}/${parts[i + 2]}`;
      return next;
    }
    if ((dir === 'site-packages' || dir === 'dist-packages') && i + 1 < parts.length - 1) {
      return parts[i + 1]!;
    }
  }
  return parts[parts.length - 1] ?? path;
}

function nodeScript(args: readonly string[], from: number): string | undefined {
  for (let i = from; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1] !== undefined ? scriptName(args[i + 1]!) : undefined;
    if (NODE_NO_SCRIPT.has(a) || a.startsWith('--eval=') || a.startsWith('--print=') || a.startsWith('--run=')) return undefined;
    if (a.startsWith('-')) {
      if (NODE_VALUE_FLAGS.has(a)) i++;
      continue;
    }
    return scriptName(a);
  }
  return undefined;
}

function pythonScript(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-m') return args[i + 1];
    if (a.startsWith('-m') && a.length > 2 && !a.startsWith('--')) return a.slice(2);
    if (a === '-c' || a === '-' || (a.startsWith('-c') && !a.startsWith('--'))) return undefined;
    if (a === '--') return args[i + 1] !== undefined ? scriptName(args[i + 1]!) : undefined;
    if (a.startsWith('-')) {
      if (PYTHON_VALUE_FLAGS.has(a)) i++;
      continue;
    }
    return scriptName(a);
  }
  return undefined;
}

function runnerPackage(args: readonly string[], from: number, runner: Runner, depth: number): string | undefined {
  let pkg: string | undefined;
  let call: string | undefined;
  const i = firstPositional(args, from, runner.valueFlags, (flag, value) => {
    if (runner.packageFlags.has(flag)) pkg ??= value;
    else if (runner.callFlags.has(flag)) call ??= value;
  });
  // A package given as a URL or path (`--from git+https://…`, `-p ./dir`) names
  // no package an operator would recognise: the command run from it does.
  if (pkg !== undefined && !/^[a-z][a-z0-9+.-]*:\/\/|^git\+|^[./~]/i.test(pkg)) {
    return runner.python ? pythonPackageName(pkg) : npmPackageName(pkg);
  }
  if (i >= 0) return runner.python ? pythonPackageName(args[i]!) : npmPackageName(args[i]!);
  if (call !== undefined) {
    const words = shellWords(call);
    if (words.length > 0) return nameOf(words[0]!, words.slice(1), depth + 1);
  }
  return undefined;
}

function dockerImage(args: readonly string[]): string | undefined {
  let i = firstPositional(args, 0, DOCKER_GLOBAL_VALUE_FLAGS);
  if (i < 0) return undefined;
  if (args[i] === 'container') i = firstPositional(args, i + 1, DOCKER_GLOBAL_VALUE_FLAGS);
  if (i < 0 || args[i] !== 'run') return undefined;
  const image = firstPositional(args, i + 1, DOCKER_RUN_VALUE_FLAGS);
  return image >= 0 ? imageName(args[image]!) : undefined;
}

function denoScript(args: readonly string[]): string | undefined {
  const values = new Set(['-c', '--config', '--import-map', '--lock', '--cert', '--location', '--seed', '--env-file', '--inspect', '--ext']);
  const i = firstPositional(args, 0, new Set<string>());
  if (i < 0) return undefined;
  if (args[i] === 'run' || args[i] === 'x') {
    const s = firstPositional(args, i + 1, values);
    if (s < 0) return undefined;
    return args[i] === 'x' ? npmPackageName(args[s]!) : scriptName(args[s]!);
  }
  // `deno script.ts` (deno 2 runs a file given without `run`).
  return /\.[cm]?[jt]sx?$/.test(args[i]!) ? scriptName(args[i]!) : undefined;
}

const MAX_DEPTH = 4;

function nameOf(file: string, args: readonly string[], depth: number): string {
  const program = programName(file);
  if (depth > MAX_DEPTH) return program;
  const p = program.toLowerCase();
  let name: string | undefined;
  if (p === 'kubectl' || p === 'oc') {
    name = parseKubectlExec(file, args)?.pod;
  } else if (NODE_RE.test(p) || p === 'tsx' || p === 'ts-node') {
    name = nodeScript(args, 0);
  } else if (PYTHON_RE.test(p)) {
    name = pythonScript(args);
  } else if (p === 'npx') {
    name = runnerPackage(args, 0, NPM_RUNNER, depth);
  } else if (p === 'npm' || p === 'pnpm' || p === 'yarn' || p === 'bun' || p === 'uv') {
    const i = firstPositional(args, 0, p === 'pnpm' ? PNPM_RUNNER.valueFlags : new Set(['--cwd', '--prefix', '-C', '--dir', '--directory', '--project']));
    const sub = i >= 0 ? args[i] : undefined;
    if (p === 'npm' && (sub === 'exec' || sub === 'x')) name = runnerPackage(args, i + 1, NPM_RUNNER, depth);
    else if (p === 'pnpm' && (sub === 'dlx' || sub === 'exec')) name = runnerPackage(args, i + 1, PNPM_RUNNER, depth);
    else if (p === 'yarn' && sub === 'dlx') name = runnerPackage(args, i + 1, YARN_RUNNER, depth);
    else if (p === 'bun' && sub === 'x') name = runnerPackage(args, i + 1, BUN_RUNNER, depth);
    else if (p === 'bun' && sub === 'run') name = nodeScript(args, i + 1);
    else if (p === 'bun' && sub !== undefined && /\.[cm]?[jt]sx?$/.test(sub)) name = scriptName(sub);
    else if (p === 'uv' && sub === 'tool' && args[i + 1] === 'run') name = runnerPackage(args, i + 2, UV_RUNNER, depth);
    else if (p === 'uv' && sub === 'run') {
      const c = firstPositional(args, i + 1, UV_RUNNER.valueFlags);
      if (c >= 0) name = /\.py$/.test(args[c]!) ? scriptName(args[c]!) : nameOf(args[c]!, args.slice(c + 1), depth + 1);
    }
  } else if (p === 'pnpx') {
    name = runnerPackage(args, 0, PNPM_RUNNER, depth);
  } else if (p === 'bunx') {
    name = runnerPackage(args, 0, BUN_RUNNER, depth);
  } else if (p === 'uvx') {
    name = runnerPackage(args, 0, UV_RUNNER, depth);
  } else if (p === 'docker' || p === 'podman' || p === 'nerdctl') {
    name = dockerImage(args);
  } else if (p === 'deno') {
    name = denoScript(args);
  } else if (p === 'env') {
    // `env [-i] [-u NAME] [NAME=value …] cmd args`
    let i = 0;
    while (i < args.length && (args[i]!.startsWith('-') || /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[i]!))) {
      i += args[i] === '-u' || args[i] === '--unset' || args[i] === '-C' || args[i] === '--chdir' ? 2 : 1;
    }
    if (i < args.length) name = nameOf(args[i]!, args.slice(i + 1), depth + 1);
  }
  return name !== undefined && name !== '' ? name : program;
}

/**
 * The zero-config node of a child process, from the command as the app gave
 * it (`file`, `args` without argv0). Never throws for string input.
 */
export function execNodeName(file: string, args: readonly string[]): string {
  const name = nameOf(file, args, 0);
  // A label the metrics would refuse (too long) would leave the call unrecorded.
  return name.length > MAX_LABEL_LENGTH ? name.slice(0, MAX_LABEL_LENGTH) : name;
}

/** Pod → node, as a map or a function of (pod, namespace). */
export type PodNodeMap =
  | Readonly<Record<string, string>>
  | ReadonlyMap<string, string>
  | ((pod: string, namespace: string | undefined) => string | undefined);

/**
 * A ready-made `exec.nodeFor` for `kubectl exec` command lines: the pod is
 * mapped to a node through `pods` (a map, or a function of pod and namespace).
 */
export function kubectlExecNodeFor(pods: PodNodeMap): (file: string, args: readonly string[], defaultNode?: string) => string | undefined {
  return (file, args) => {
    const parsed = parseKubectlExec(file, args);
    if (parsed === undefined) return undefined;
    if (typeof pods === 'function') return pods(parsed.pod, parsed.namespace);
    if (pods instanceof Map) return pods.get(parsed.pod);
    return Object.prototype.hasOwnProperty.call(pods, parsed.pod) ? (pods as Record<string, string>)[parsed.pod] : undefined;
  };
}
