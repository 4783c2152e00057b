# Shared helpers for the scripts in this directory. Source it, don't run it.
# shellcheck shell=bash disable=SC2034  # the variables here are used by the scripts that source it

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build output lives outside the clone so a fresh clone still builds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wharf/target}"
# Pinned helper programs that are not cargo or apt packages (wasm-opt from npm).
export WHARF_TOOLS_DIR="${WHARF_TOOLS_DIR:-$HOME/.cache/wharf/tools}"

CARGO_LEPTOS_VERSION="0.3.10"
BINARYEN_VERSION="132.0.0"
APT_PACKAGES=(chromium docker-registry skopeo postgresql jq curl brotli)
# promtool, from Debian's prometheus package, checks the alert rules in deploy/prometheus.
APT_PACKAGES+=(prometheus)
BINARYEN_BIN="$WHARF_TOOLS_DIR/binaryen/node_modules/.bin"
# moto's S3 API server for the registry-on-S3 tests, in a virtualenv of its own.
MOTO_VERSION="5.2.1"
MOTO_VENV="$WHARF_TOOLS_DIR/moto"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

# wasm-opt from npm must win over any other wasm-opt (Debian's binaryen breaks hydration),
# and cargo-leptos must find wasm-bindgen and wasm-opt on PATH, or it tries to download them.
case ":$PATH:" in
  *":$CARGO_BIN:"*) ;;
  *) PATH="$CARGO_BIN:$PATH" ;;
esac
PATH="$BINARYEN_BIN:$PATH"
export PATH

# The release binary and the site (JS, wasm, CSS) that `cargo leptos build --release` produces.
# site-root in Cargo.toml is relative; cargo-leptos resolves it against the workspace root.
WHARF_BIN="$CARGO_TARGET_DIR/release/wharf"
SITE_ROOT="$ROOT/target/site"

# Colour only on a terminal.
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  _b=$'\e[1m' _r=$'\e[31m' _g=$'\e[32m' _d=$'\e[2m' _n=$'\e[0m'
else
  _b="" _r="" _g="" _d="" _n=""
fi

say() { printf '%s==>%s %s\n' "$_b" "$_n" "$*"; }
info() { printf '    %s\n' "$*"; }
ok() { printf '    %s%-22s%s ok%s\n' "$_d" "$1" "${2:+ ($2)}" "$_n"; }
warn() { printf '%swarning:%s %s\n' "$_r" "$_n" "$*" >&2; }
die() {
  printf '%serror:%s %s\n' "$_r" "$_n" "$*" >&2
  exit 1
}

now() { date +%s; }

# Human duration from seconds.
fmt_duration() {
  local s=$1
  if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}

# apt_ensure PACKAGE...: installs the Debian packages that are missing (one apt-get update, and
# only when something is missing).
apt_ensure() {
  local pkg missing=()
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]} > 0)) || return 0
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# Python tools from PyPI (kubernetes-validate, podman-compose) live in one virtualenv of ours.
TOOLS_VENV="$WHARF_TOOLS_DIR/python"

# pip_tool NAME==VERSION...: installs these pinned PyPI packages into $TOOLS_VENV when a
# different version (or none) is there; their programs are in $TOOLS_VENV/bin.
pip_tool() { pip_tool_in "$TOOLS_VENV" "$@"; }

# pip_tool_in VENV NAME[EXTRAS]==VERSION...: the same in a virtualenv of its own, for a tool whose
# dependencies could clash with the others' (moto's).
pip_tool_in() {
  local venv=$1 spec name installed missing=()
  shift
  for spec in "$@"; do
    name=${spec%%==*}
    name=${name%%\[*}
    installed=("$venv"/lib/python3*/site-packages/"${name//-/_}-${spec##*==}.dist-info")
    [[ -d "${installed[0]}" ]] || missing+=("$spec")
  done
  ((${#missing[@]} > 0)) || return 0
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" || die "python3 -m venv failed (apt-get install python3-venv)"
  say "pip install ${missing[*]} (into $venv)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${missing[@]}"
}

# free_port VAR: sets VAR to a TCP port on 127.0.0.1 that nothing listens on. Ports handed out
# before in this shell are avoided, so several calls give different ports.
WHARF_PORTS_TAKEN=""
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 40000))
    [[ " $WHARF_PORTS_TAKEN " == *" $port "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      WHARF_PORTS_TAKEN="$WHARF_PORTS_TAKEN $port"
      printf -v "$1" '%s' "$port"
      return 0
    fi
  done
  die "no free TCP port found on 127.0.0.1"
}

# The wasm-bindgen version pinned in Cargo.lock.
wasm_bindgen_version() {
  awk '
    /^\[\[package\]\]/ { inpkg = 0 }
    /^name = "wasm-bindgen"$/ { inpkg = 1; next }
    inpkg && /^version = / { gsub(/"/, "", $3); print $3; exit }
  ' "$ROOT/Cargo.lock"
}

# Fail early with a clear message when the build output is missing.
require_build() {
  [[ -x "$WHARF_BIN" ]] || die "$WHARF_BIN is missing: run 'cargo leptos build --release' (scripts/run does)"
  [[ -f "$SITE_ROOT/pkg/wharf.js" ]] || die "$SITE_ROOT/pkg/wharf.js is missing: run 'cargo leptos build --release'"
}

# What the release build is made from: the committed tree of the build's inputs, the
# uncommitted changes to them and their untracked files. Empty outside a git checkout.
BUILD_INPUTS=(Cargo.toml Cargo.lock app server frontend style public migrations)
build_stamp() {
  git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 || return 0
  {
    git -C "$ROOT" ls-tree -r HEAD -- "${BUILD_INPUTS[@]}"
    git -C "$ROOT" diff HEAD -- "${BUILD_INPUTS[@]}"
    git -C "$ROOT" ls-files --others --exclude-standard -z -- "${BUILD_INPUTS[@]}" |
      (cd "$ROOT" && xargs -0 -r sha256sum)
  } | sha256sum | cut -d' ' -f1
}

# The release build, then the web assets compressed once at the best levels (the server sends
# `*.br` / `*.gz` when the browser accepts them, instead of compressing on every request).
# Skipped when the last build was made from the same inputs and its output is all there, so a
# restart serves in seconds.
leptos_build() {
  local stamp stamp_file="$SITE_ROOT/.build-stamp"
  stamp=$(build_stamp)
  if [[ -n "$stamp" && -x "$WHARF_BIN" && -f "$SITE_ROOT/pkg/wharf.js" && -f "$SITE_ROOT/pkg/wharf.wasm" &&
    "$(cat "$stamp_file" 2>/dev/null)" == "$stamp:$(stat -c %Y "$WHARF_BIN")" ]]; then
    info "the build is up to date"
    return 0
  fi
  (cd "$ROOT" && cargo leptos build --release --split) || return
  local f
  for f in "$SITE_ROOT"/pkg/*.wasm "$SITE_ROOT"/pkg/*.js "$SITE_ROOT"/pkg/*.css; do
    [[ -f "$f" ]] || continue
    brotli --force --keep --quality=11 "$f"
    gzip --force --keep -9 "$f"
  done
  [[ -z "$stamp" ]] || echo "$stamp:$(stat -c %Y "$WHARF_BIN")" >"$stamp_file"
}

# ---------------------------------------------------------------------------------------------
# A throw-away PostgreSQL server on a free port (for tests). Sets PG_DIR, PG_PORT, PG_URL.

pg_bin_dir() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -n "$d" && -x "$d/initdb" ]] || die "PostgreSQL server programs not found under /usr/lib/postgresql (apt-get install postgresql)"
  echo "$d"
}

# Run a PostgreSQL program as the postgres user when we are root (initdb refuses root).
_pg_run() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  local bin
  bin=$(pg_bin_dir)
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wharf-pg.XXXXXX")
  free_port PG_PORT
  [[ $(id -u) -eq 0 ]] && chown postgres: "$PG_DIR"
  if ! _pg_run "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    die "initdb failed"
  fi
  if ! _pg_run "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null; then
    cat "$PG_DIR/server.log" >&2 || true
    die "PostgreSQL did not start"
  fi
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

pg_stop() {
  [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]] || return 0
  _pg_run "$(pg_bin_dir)/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}

# ---------------------------------------------------------------------------------------------
# A Wharf server (console + the registry it manages) on free ports, in the background.
# wharf_start DATA_DIR LOG_FILE [extra serve args...]
# Needs WHARF_ADMIN_PASSWORD in the environment. Sets WHARF_PID, WHARF_URL, WHARF_REGISTRY_ADDR.
# WHARF_START_CONSOLE_PORT / WHARF_START_REGISTRY_PORT pick the ports instead of free ones.

wharf_start() {
  local data_dir=$1 log=$2
  shift 2
  local console_port registry_port
  console_port=${WHARF_START_CONSOLE_PORT:-}
  registry_port=${WHARF_START_REGISTRY_PORT:-}
  [[ -n "$console_port" ]] || free_port console_port
  [[ -n "$registry_port" ]] || free_port registry_port
  WHARF_URL="http://127.0.0.1:$console_port"
  WHARF_REGISTRY_ADDR="127.0.0.1:$registry_port"
  # A server of its own: serve settings from the caller's environment must not leak into it.
  env -u WHARF_DATABASE_URL -u WHARF_REGISTRY_URL -u WHARF_PUBLIC_URL -u WHARF_DEMO \
    -u WHARF_SITE_ROOT -u WHARF_DATA_DIR -u WHARF_LISTEN -u WHARF_REGISTRY_LISTEN \
    "$WHARF_BIN" serve \
    --data-dir "$data_dir" \
    --listen "127.0.0.1:$console_port" \
    --registry-listen "$WHARF_REGISTRY_ADDR" \
    --site-root "$SITE_ROOT" \
    "$@" </dev/null >"$log" 2>&1 &
  WHARF_PID=$!
}

# wharf_wait_ready LOG_FILE [SECONDS]: wait until /readyz answers 200 (bounded).
wharf_wait_ready() {
  local log=$1 limit=${2:-90} start
  start=$(now)
  while true; do
    if curl -fsS -o /dev/null --max-time 2 "$WHARF_URL/readyz" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$WHARF_PID" 2>/dev/null; then
      echo "--- wharf exited before it was ready; its log:" >&2
      tail -n 40 "$log" >&2 || true
      return 1
    fi
    if (($(now) - start >= limit)); then
      echo "--- wharf was not ready after ${limit}s; /readyz says:" >&2
      curl -sS --max-time 2 "$WHARF_URL/readyz" >&2 || true
      echo >&2
      echo "--- its log:" >&2
      tail -n 40 "$log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
}

# Stop the server started by wharf_start: SIGTERM, bounded wait, then SIGKILL.
# Children (the registry) are stopped too if the server left them behind.
wharf_stop() {
  [[ -n "${WHARF_PID:-}" ]] || return 0
  local children i
  children=$(pgrep -P "$WHARF_PID" 2>/dev/null || true)
  if kill -0 "$WHARF_PID" 2>/dev/null; then
    kill -TERM "$WHARF_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$WHARF_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$WHARF_PID" 2>/dev/null; then
      warn "wharf (pid $WHARF_PID) did not stop within 10s of SIGTERM; killing it"
      kill -KILL "$WHARF_PID" 2>/dev/null || true
    fi
  fi
  wait "$WHARF_PID" 2>/dev/null || true
  for i in $children; do
    if kill -0 "$i" 2>/dev/null; then
      warn "child process $i of wharf was still running after wharf stopped; killing it"
      kill -KILL "$i" 2>/dev/null || true
    fi
  done
  WHARF_PID=""
}
