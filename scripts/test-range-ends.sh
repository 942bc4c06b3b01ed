#!/usr/bin/env bash
# Both ends of every dependency range (docs/install.md). For each end, a copy of
# the checkout (its tracked files, as they are in the work tree) in a temporary
# directory:
#
#   newest  no lockfile: `npm install` takes the newest versions the ranges admit,
#           as a new user gets them;
#   oldest  every @opentelemetry/* range (dependencies, peers, and the dev
#           dependencies that install the optional peers and the SDKs the specs
#           run beside) rewritten to its minimum, installed without a lockfile,
#           then package.json put back (npm keeps what it installed: the minimums
#           satisfy the ranges).
#
# Each end must give a clean `npm ls --all` and one copy of each core package
# (sdk-metrics, core, resources, api, and sdk-trace, sdk-logs, otlp-transformer
# when present), at the versions that end should have; then the unit suite runs
# there (`npm test`: build, typecheck, mocha) on Node 24, the `node` dev
# dependency, which is enough here: the version ends are the OpenTelemetry
# packages', and the Node versions are covered by `npm run test:node`. Test
# tooling (mocha, tsx, …) stays at the newest its ranges admit at both ends.
#
#   bash scripts/test-range-ends.sh [newest] [oldest]     # default: both
#   KEEP=1 bash scripts/test-range-ends.sh oldest         # keep the copy (its path is printed)
#
# About 5 minutes per end on the 2-core machine (install ~1 min, suite ~3 min).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ends=("$@")
[ ${#ends[@]} -eq 0 ] && ends=(newest oldest)

# npm runs on Node 24 when the checkout has its `node` dev dependency installed
# (npm picks, among the versions a range admits, ones whose engines the running
# Node satisfies).
if [ -x "$ROOT/node_modules/node/bin/node" ]; then
  export PATH="$ROOT/node_modules/node/bin:$PATH"
fi
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

copy_checkout() {
  local dir=$1
  git -C "$ROOT" ls-files -z | (cd "$ROOT" && tar --null -T - -cf -) | tar -xf - -C "$dir"
  # A repository of its own: specs read `git ls-files`.
  git -C "$dir" init -q
  git -C "$dir" add -A
  git -C "$dir" -c user.name=range-ends -c user.email=range-ends@localhost commit -qm "copy of the checkout"
  rm -f "$dir/package-lock.json"
}

# Rewrites package.json's @opentelemetry/* ranges to their minimums; prints them.
to_minimums() {
  node -e '
    const fs = require("fs");
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    const min = range => {
      // The forms we use: ^x.y.z, ~x.y.z, >=x.y.z <a.b.c, x.y.z.
      const m = /^(?:\^|~|>=|=)?\s*(\d+\.\d+\.\d+)(?:\s|$)/.exec(range.trim());
      if (!m) throw new Error(`no minimum for range "${range}"`);
      return m[1];
    };
    for (const field of ["dependencies", "peerDependencies", "devDependencies"]) {
      for (const [name, range] of Object.entries(pkg[field] ?? {})) {
        if (!name.startsWith("@opentelemetry/")) continue;
        pkg[field][name] = min(range);
        console.log(`  ${field} ${name} ${range} -> ${pkg[field][name]}`);
      }
    }
    fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n");
  '
}

# Fails unless each core package present is installed once, and (given) at the expected versions.
check_tree() {
  local end=$1
  npm ls --all >/dev/null || { npm ls --all | grep -Ei 'invalid|missing|extraneous|ERR' | head -20; echo "range ends ($end): npm ls --all is not clean"; return 1; }
  END="$end" node -e '
    const fs = require("fs"), path = require("path");
    const CORE = ["sdk-metrics", "core", "resources", "api", "sdk-trace", "sdk-logs", "otlp-transformer"].map(n => `@opentelemetry/${n}`);
    const found = {};
    const walk = dir => {
      if (!fs.existsSync(dir)) return;
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (!e.isDirectory() || e.name.startsWith(".")) continue;
        // The dev-only OpenTelemetry JS 2.x SDK, under an alias, brings its own 2.x core: users never get it.
        if (e.name === "otel2-sdk-metrics") continue;
        const full = path.join(dir, e.name);
        if (e.name.startsWith("@")) {
          for (const s of fs.readdirSync(full, { withFileTypes: true })) if (s.isDirectory()) visit(path.join(full, s.name), `${e.name}/${s.name}`);
        } else visit(full, e.name);
      }
    };
    const visit = (dir, name) => {
      const pj = path.join(dir, "package.json");
      if (!fs.existsSync(pj)) return;
      if (CORE.includes(name)) (found[name] ??= []).push(JSON.parse(fs.readFileSync(pj, "utf8")).version);
      walk(path.join(dir, "node_modules"));
    };
    walk("node_modules");
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
    let bad = 0;
    for (const name of CORE) {
      const v = found[name] ?? [];
      if (v.length === 0) continue;
      const ok = v.length === 1;
      if (!ok) bad++;
      console.log(`  ${ok ? "one copy" : `${v.length} COPIES`} of ${name}: ${v.join(", ")}`);
    }
    for (const name of ["@opentelemetry/sdk-metrics", "@opentelemetry/core", "@opentelemetry/resources", "@opentelemetry/api"]) {
      if (!found[name]) { console.log(`  ${name} is missing`); bad++; }
    }
    // The versions this end must have: each direct @opentelemetry dependency at its minimum (oldest) or at the
    // newest its range admits (newest, from the registry).
    const direct = { ...pkg.peerDependencies, ...pkg.dependencies };
    const { execFileSync } = require("child_process");
    for (const [name, range] of Object.entries(direct)) {
      if (!name.startsWith("@opentelemetry/")) continue;
      const pj = path.join("node_modules", name, "package.json");
      if (!fs.existsSync(pj)) continue; // an optional peer not installed
      const have = JSON.parse(fs.readFileSync(pj, "utf8")).version;
      let want;
      if (process.env.END === "oldest") want = /(\d+\.\d+\.\d+)/.exec(range)[1];
      else {
        const all = [].concat(JSON.parse(execFileSync("npm", ["view", `${name}@${range}`, "version", "--json"], { encoding: "utf8" })));
        want = all.map(v => v.split(".").map(Number)).sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]).pop().join(".");
      }
      const ok = have === want;
      if (!ok) bad++;
      console.log(`  ${name}@${range}: ${have}${ok ? "" : ` (expected ${want})`}`);
    }
    if (bad > 0) { console.log(`range ends (${process.env.END}): ${bad} problem(s)`); process.exit(1); }
  '
}

status=0
for end in "${ends[@]}"; do
  case "$end" in newest|oldest) ;; *) echo "unknown end: $end (newest, oldest)"; exit 2 ;; esac
  dir=$(mktemp -d "${TMPDIR:-/tmp}/ogm-range-$end-XXXXXX")
  echo "== range ends: $end, in $dir"
  copy_checkout "$dir"
  (
    cd "$dir"
    if [ "$end" = oldest ]; then
      cp package.json package.json.ranges
      to_minimums
      npm install --no-audit --no-fund >install.log 2>&1 || { tail -30 install.log; exit 1; }
      mv package.json.ranges package.json
    fi
    # newest: the ranges as they are, no lockfile; oldest: the same, over what the minimums installed.
    npm install --no-audit --no-fund >>install.log 2>&1 || { tail -30 install.log; exit 1; }
    check_tree "$end"
    echo "== range ends: $end: npm test on node $(node_modules/.bin/node --version)"
    npm test
  ) || { status=1; echo "== range ends: $end FAILED"; }
  if [ -n "${KEEP:-}" ]; then echo "== kept $dir"; else rm -rf "$dir"; fi
done
exit $status
