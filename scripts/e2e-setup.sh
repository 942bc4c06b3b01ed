#!/usr/bin/env bash
# Installs the tools the end-to-end tests need, into a per-user cache:
#   - an OpenTelemetry Collector built with the official builder (ocb) from
#     e2e/otelcol-builder.yaml (Go modules from the Go module proxy);
#   - Prometheus + promtool, unpacked from Debian's `prometheus` package
#     (apt-get download + dpkg -x: nothing is installed system-wide, no service
#     is started);
#   - the Prometheus protobuf exposition format's metrics.proto, from the Go
#     module github.com/prometheus/client_model (Go module proxy; the specs
#     decode /metrics with it);
#   - Debian's `chromium` (apt-get install, system-wide: it needs its shared
#     libraries) for the status page's browser spec, driven by playwright-core,
#     which never downloads a browser of its own. Skipped when /usr/bin/chromium
#     exists or with --prometheus-only.
# Then writes and prints ${cache}/e2e-tools.json, which the tests read.
#
# Usage: npm run e2e:setup   (or: bash scripts/e2e-setup.sh)
# Needs: go (>= the version in the manifest's modules, currently 1.26), apt-get,
#        dpkg, node; root (or passwordless sudo) to install chromium. Idempotent: a second run only prints the cached paths.
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/otel-gateway-metrics/
#          builder-v<ver>/builder
#          otelcol-<ver>/otelcol-gateway   (rebuilt if the manifest changes)
#          prometheus-<ver>/usr/bin/{prometheus,promtool}
#          client_model-<ver>/metrics.proto
#          e2e-tools.json
# Env:   E2E_SETUP_FORCE=1 rebuilds the collector and re-downloads Prometheus.
# Flag:  --prometheus-only skips the collector (npm test needs only promtool).
set -euo pipefail

PROMETHEUS_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --prometheus-only) PROMETHEUS_ONLY=1 ;;
    *) echo "usage: $0 [--prometheus-only]" >&2; exit 2 ;;
  esac
done

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST="$REPO_ROOT/e2e/otelcol-builder.yaml"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/otel-gateway-metrics"
TOOLS_JSON="$CACHE_ROOT/e2e-tools.json"
FORCE="${E2E_SETUP_FORCE:-0}"

log() { printf '[e2e-setup] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$MANIFEST" ]] || die "missing $MANIFEST"
mkdir -p "$CACHE_ROOT"

# One setup at a time per cache (parallel test runners may call this).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.setup.lock"
  flock 9
fi

TMP_DIRS=()
cleanup() { local d; for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do rm -rf -- "$d"; done; }
trap cleanup EXIT

# ---------------------------------------------------------------------------
# OpenTelemetry Collector
# ---------------------------------------------------------------------------
# dist.version in the manifest is the collector release; the builder must be
# the same release.
OTELCOL_VERSION="$(awk '
  /^dist:/ { in_dist = 1; next }
  /^[^[:space:]#]/ { in_dist = 0 }
  in_dist && $1 == "version:" { print $2; exit }
' "$MANIFEST")"
OTELCOL_VERSION="${OTELCOL_VERSION#v}"
[[ "$OTELCOL_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read dist.version from $MANIFEST"
BUILDER_VERSION="v$OTELCOL_VERSION"

BUILDER_DIR="$CACHE_ROOT/builder-$BUILDER_VERSION"
BUILDER="$BUILDER_DIR/builder"
OTELCOL_DIR="$CACHE_ROOT/otelcol-$OTELCOL_VERSION"
OTELCOL="$OTELCOL_DIR/otelcol-gateway"
OTELCOL_STAMP="$OTELCOL_DIR/manifest.sha256"

# Hash of the manifest without comments/blank lines: editing comments does not
# trigger a rebuild, changing a component does.
MANIFEST_HASH="$(sed -e 's/[[:space:]]#.*$//' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' "$MANIFEST" | sha256sum | cut -d' ' -f1)"

otelcol_cached() {
  [[ "$FORCE" != 1 && -x "$OTELCOL" && -f "$OTELCOL_STAMP" ]] &&
    [[ "$(cat "$OTELCOL_STAMP")" == "$MANIFEST_HASH" ]]
}

if otelcol_cached; then
  log "collector $OTELCOL_VERSION: cached at $OTELCOL"
elif [[ "$PROMETHEUS_ONLY" == 1 ]]; then
  log "collector: skipped (--prometheus-only)"
  OTELCOL=""
else
  command -v go >/dev/null 2>&1 || die "go is required to build the collector (see e2e/otelcol-builder.yaml)"

  if [[ ! -x "$BUILDER" ]]; then
    log "installing builder $BUILDER_VERSION into $BUILDER_DIR"
    mkdir -p "$BUILDER_DIR"
    GOBIN="$BUILDER_DIR" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
  fi
  [[ -x "$BUILDER" ]] || die "builder not found at $BUILDER after go install"

  log "building collector $OTELCOL_VERSION (takes a few minutes on a cold Go cache)"
  mkdir -p "$OTELCOL_DIR"
  BUILD_DIR="$(mktemp -d "$OTELCOL_DIR/.build.XXXXXX")"
  TMP_DIRS+=("$BUILD_DIR")
  # The manifest's output_path is relative (./build), so the generated sources
  # and the binary land in BUILD_DIR, never in the repository.
  (cd "$BUILD_DIR" && "$BUILDER" --config "$MANIFEST") >&2
  BUILT="$BUILD_DIR/build/otelcol-gateway"
  [[ -x "$BUILT" ]] || die "builder produced no binary at $BUILT"
  "$BUILT" --version >&2
  mv -f "$BUILT" "$OTELCOL"
  printf '%s\n' "$MANIFEST_HASH" > "$OTELCOL_STAMP"
  log "collector built: $OTELCOL"
fi

# ---------------------------------------------------------------------------
# Prometheus (Debian bookworm's package, unpacked only)
# ---------------------------------------------------------------------------
PROM_DIR=""
if [[ "$FORCE" != 1 ]]; then
  # Newest already-unpacked version, if any. No apt call on a warm cache.
  while IFS= read -r d; do
    if [[ -x "$d/usr/bin/prometheus" && -x "$d/usr/bin/promtool" ]]; then PROM_DIR="$d"; break; fi
  done < <(find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -name 'prometheus-*' | sort -V -r)
fi

if [[ -n "$PROM_DIR" ]]; then
  PROM_VERSION="${PROM_DIR##*/prometheus-}"
  log "prometheus $PROM_VERSION: cached at $PROM_DIR"
else
  command -v apt-get >/dev/null 2>&1 || die "apt-get is required to fetch Debian's prometheus package"
  DL_DIR="$(mktemp -d "$CACHE_ROOT/.prometheus-dl.XXXXXX")"
  TMP_DIRS+=("$DL_DIR")
  APT_OPTS=()
  # As root apt downloads as user _apt, which cannot write to a mktemp dir.
  [[ "$(id -u)" == 0 ]] && APT_OPTS+=(-o APT::Sandbox::User=root)

  log "downloading Debian package prometheus"
  if ! (cd "$DL_DIR" && apt-get "${APT_OPTS[@]}" download prometheus) >&2; then
    log "apt-get download failed; running apt-get update and retrying"
    if [[ "$(id -u)" == 0 ]]; then apt-get update >&2; else sudo -n apt-get update >&2; fi
    (cd "$DL_DIR" && apt-get "${APT_OPTS[@]}" download prometheus) >&2
  fi
  DEB="$(ls "$DL_DIR"/prometheus_*.deb)"
  DEB_VERSION="$(dpkg-deb -f "$DEB" Version)"
  # 2.42.0+ds-5+deb12u1 -> 2.42.0
  PROM_VERSION="$(sed -E 's/^[0-9]+://; s/[+~-].*$//' <<<"$DEB_VERSION")"
  PROM_DIR="$CACHE_ROOT/prometheus-$PROM_VERSION"
  log "unpacking prometheus $DEB_VERSION into $PROM_DIR"
  rm -rf "$DL_DIR/root"
  dpkg -x "$DEB" "$DL_DIR/root"
  "$DL_DIR/root/usr/bin/prometheus" --version >&2
  "$DL_DIR/root/usr/bin/promtool" --version >/dev/null
  rm -rf "$PROM_DIR"
  mv "$DL_DIR/root" "$PROM_DIR"
fi

# ---------------------------------------------------------------------------
# metrics.proto of prometheus/client_model (the protobuf exposition format)
# ---------------------------------------------------------------------------
CLIENT_MODEL_VERSION=v0.6.3
PROTO_DIR="$CACHE_ROOT/client_model-$CLIENT_MODEL_VERSION"
METRICS_PROTO="$PROTO_DIR/metrics.proto"
if [[ "$FORCE" != 1 && -f "$METRICS_PROTO" ]]; then
  log "client_model $CLIENT_MODEL_VERSION: cached at $METRICS_PROTO"
else
  command -v go >/dev/null 2>&1 || die "go is required to fetch metrics.proto (github.com/prometheus/client_model)"
  GOMOD_DIR="$(mktemp -d "$CACHE_ROOT/.client_model.XXXXXX")"
  TMP_DIRS+=("$GOMOD_DIR")
  log "downloading github.com/prometheus/client_model@$CLIENT_MODEL_VERSION (Go module proxy)"
  MODULE_DIR="$(cd "$GOMOD_DIR" && GOMODCACHE="$GOMOD_DIR/mod" GOFLAGS=-modcacherw go mod download -json "github.com/prometheus/client_model@$CLIENT_MODEL_VERSION" |
    node -e 'let s = ""; process.stdin.on("data", d => (s += d)).on("end", () => console.log(JSON.parse(s).Dir))')"
  [[ -f "$MODULE_DIR/io/prometheus/client/metrics.proto" ]] || die "no io/prometheus/client/metrics.proto in $MODULE_DIR"
  mkdir -p "$PROTO_DIR"
  cp "$MODULE_DIR/io/prometheus/client/metrics.proto" "$METRICS_PROTO.tmp"
  mv -f "$METRICS_PROTO.tmp" "$METRICS_PROTO"
  log "metrics.proto: $METRICS_PROTO"
fi

# ---------------------------------------------------------------------------
# Chromium (Debian's package) for spec/e2e/status-page.e2e.ts
# ---------------------------------------------------------------------------
CHROMIUM=/usr/bin/chromium
if [[ -x "$CHROMIUM" ]]; then
  log "chromium: installed at $CHROMIUM"
elif [[ "$PROMETHEUS_ONLY" == 1 ]]; then
  log "chromium: skipped (--prometheus-only)"
else
  command -v apt-get >/dev/null 2>&1 || die "apt-get is required to install Debian's chromium package"
  SUDO=()
  [[ "$(id -u)" == 0 ]] || SUDO=(sudo -n)
  log "installing Debian package chromium"
  "${SUDO[@]}" apt-get update >&2
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y chromium >&2
  [[ -x "$CHROMIUM" ]] || die "chromium not found at $CHROMIUM after apt-get install"
  "$CHROMIUM" --version >&2 || true
fi

# ---------------------------------------------------------------------------
# e2e-tools.json
# ---------------------------------------------------------------------------
OTELCOL="$OTELCOL" PROM_DIR="$PROM_DIR" OTELCOL_VERSION="$OTELCOL_VERSION" METRICS_PROTO="$METRICS_PROTO" \
PROM_VERSION="$PROM_VERSION" TOOLS_JSON="$TOOLS_JSON" node -e '
  const fs = require("fs");
  const e = process.env;
  const tools = {
    otelcol: e.OTELCOL,
    prometheus: e.PROM_DIR + "/usr/bin/prometheus",
    promtool: e.PROM_DIR + "/usr/bin/promtool",
    otelcolVersion: e.OTELCOL_VERSION,
    prometheusVersion: e.PROM_VERSION,
    metricsProto: e.METRICS_PROTO,
  };
  const text = JSON.stringify(tools, null, 2) + "\n";
  fs.writeFileSync(e.TOOLS_JSON + ".tmp", text);
  fs.renameSync(e.TOOLS_JSON + ".tmp", e.TOOLS_JSON);
  process.stdout.write(text);
'
log "wrote $TOOLS_JSON"
