# bench/lib.sh — what the benchmark shell scripts share; sourced, never run on its own:
# finding the built binaries, a work directory, children started under `timeout` and ended on
# exit, servers (ringcast-node, ringcast-router) started until their ready line and stopped by
# PID, waiting for ringcast-load processes to connect, readings from /proc and /metrics, medians
# for the reports, and the benchmark quiet-time file.
#
#   BENCH_NAME=my_bench                  # names the work directory and prefixes log lines
#   source "$(dirname "$0")/lib.sh"
#   require_built ringcast-node ringcast-load
#   bench_init
#   start_server node 0 "$(built_path ringcast-node)" --http_listen=127.0.0.1:0 ...
#   ... "$SERVER_HTTP" ... stop_server "$SERVER_PID" "$SERVER_WRAPPER"
#
# Settings (environment): BUILD_DIR (build/release; relative to the repository root), KEEP (1 =
# keep the work directory), QUIET_FILE (see hold_quiet_time; empty = none).
# Scripts run with `set -euo pipefail`; the functions that give up call `exit`.
# shellcheck shell=bash disable=SC2034  # CLK_TCK and SERVER_*: read by the sourcing scripts

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build/release}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
RUN_BOUND_S=900  # no child lives longer than this
CLK_TCK=$(getconf CLK_TCK)
STARTED=()       # `timeout` wrappers of every child started here; live ones are ended on exit
HOLDS_QUIET=0    # 1 once this run created QUIET_FILE

log() { echo "$BENCH_NAME: $*" >&2; }

# built_path TARGET — where BUILD_DIR holds the binary of CMake target TARGET.
built_path() {
  case $1 in
    ringcast-node) echo "$BUILD_DIR/node/$1" ;;
    ringcast-router) echo "$BUILD_DIR/router/$1" ;;
    ringcast) echo "$BUILD_DIR/cli/$1" ;;
    *) echo "$BUILD_DIR/bench/$1" ;;
  esac
}

# require_built TARGET... — exits 2, naming the build command, unless every TARGET is built.
require_built() {
  local target
  for target in "$@"; do
    [[ -x "$(built_path "$target")" ]] && continue
    log "missing $(built_path "$target"); build it first:"
    echo "  cmake --build $BUILD_DIR --target $*" >&2
    exit 2
  done
}

# bench_init — makes the work directory WORK (/tmp/BENCH_NAME.XXXXXX) and has cleanup run on exit.
bench_init() {
  WORK=$(mktemp -d "/tmp/$BENCH_NAME.XXXXXX")
  trap cleanup EXIT
}

cleanup() {
  local pid
  # Only wrappers that are still our children (a PID that ended may have been reused);
  # timeout passes the TERM on to the program it runs.
  for pid in "${STARTED[@]}"; do
    [[ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$$" ]] && kill "$pid" 2>/dev/null
  done
  (( HOLDS_QUIET )) && rm -f "$QUIET_FILE"
  [[ "${KEEP:-0}" = 1 ]] && log "work directory kept: $WORK" || rm -rf "$WORK"
}

# hold_quiet_time — creates QUIET_FILE (others on a shared machine pause their builds while it
# exists), waiting (at most 45 minutes) while someone else holds it; cleanup removes it.
hold_quiet_time() {
  [[ -n "${QUIET_FILE:-}" ]] || return 0
  local i
  for i in $(seq 270); do
    if (set -C; : > "$QUIET_FILE") 2>/dev/null; then HOLDS_QUIET=1; return 0; fi
    (( i == 1 )) && log "$QUIET_FILE exists: another benchmark runs; waiting"
    sleep 10
  done
  log "$QUIET_FILE still held after 45 minutes"; exit 1
}

# poll TRIES COMMAND... — runs COMMAND every 0.1 s until it succeeds, at most TRIES times; fails
# when it never did.
poll() {
  local tries=$1 i
  shift
  for i in $(seq "$tries"); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

has_ended() { ! kill -0 "$1" 2>/dev/null; }  # pid

# start_server NAME CPU BIN FLAGS... — runs BIN FLAGS under `timeout`, pinned to CPU (stdout to
# $WORK/NAME.out, stderr appended to $WORK/NAME.err), until it prints its ready line (at most
# 10 s, else exits); sets SERVER_WRAPPER (the `timeout`, our child) and, from the ready line,
# SERVER_PID, SERVER_HTTP and SERVER_GRPC.
start_server() {
  local name=$1 cpu=$2 bin=$3 out="$WORK/$1.out"
  shift 3
  timeout "$RUN_BOUND_S" taskset -c "$cpu" "$bin" "$@" > "$out" 2>> "$WORK/$name.err" &
  SERVER_WRAPPER=$!
  STARTED+=("$SERVER_WRAPPER")
  if ! poll 100 grep -q ' ready ' "$out"; then
    log "$name did not print its ready line"; cat "$WORK/$name.err" >&2; exit 1
  fi
  SERVER_HTTP=$(sed -n 's/.* http=\([^ ]*\).*/\1/p' "$out")
  SERVER_GRPC=$(sed -n 's/.* grpc=\([^ ]*\).*/\1/p' "$out")
  SERVER_PID=$(sed -n 's/.* pid=\([0-9]*\).*/\1/p' "$out")
}

# stop_server PID WRAPPER — SIGTERM to PID, SIGKILL when it still runs 15 s later; reaps WRAPPER.
stop_server() {
  kill -TERM "$1" 2>/dev/null || true
  poll 150 has_ended "$1" || kill -KILL "$1" 2>/dev/null || true
  wait "$2" 2>/dev/null || true
}

# wait_connected NAME... — until every named ringcast-load reports its connections settled (its
# "connected open=" line in $WORK/NAME.err); exits when one has not after 120 s.
wait_connected() {
  local name
  for name in "$@"; do
    if ! poll 1200 grep -qs 'connected open=' "$WORK/$name.err"; then
      log "$name did not connect"; exit 1
    fi
  done
}

# chunks TOTAL SIZE — TOTAL in parts of at most SIZE, one a line: `chunks 12000 5000` is 5000,
# 5000, 2000 (connections spread over load processes).
chunks() {
  local left=$1
  while (( left > 0 )); do
    echo $(( left < $2 ? left : $2 ))
    left=$(( left - $2 ))
  done
}

# json_field NAME FILE — the number after the first "NAME": in a one-line JSON file (the first:
# ringcast-load's "p50" is its latency's, a later one is the storm catch-up's).
json_field() { { grep -o "\"$1\":[0-9.]*" "$2" || true; } | head -n1 | cut -d: -f2; }

# median_range v1 v2 ... — "median (min–max)", or the single value.
median_range() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
    if (NR == 1 || v[1] == v[NR]) printf "%.10g\n", m
    else printf "%.10g (%.10g–%.10g)\n", m, v[1], v[NR] }'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }  # pid
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }     # pid: user + system

# metric HOST:PORT SERIES — one series (name{labels}) from /metrics, read with bash's /dev/tcp so
# that no HTTP client is needed; "?" when it cannot be read.
metric() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"
    printf "GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$0" >&3
    cat <&3' "${1%:*}" "${1##*:}" > "$WORK/metrics.txt" 2>/dev/null || true
  awk -v m="$2" '$1 == m {v = $2} END {print (v == "") ? "?" : v + 0}' "$WORK/metrics.txt"
}
