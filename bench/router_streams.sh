#!/usr/bin/env bash
# router_streams.sh — how many concurrent SSE streams one ringcast-router process holds and what
# each costs (issue 6 benchmark "streams per router process"). One node and one proxying router
# (one worker each, both pinned to ROUTER_CPU as in router_overhead.sh), idle subscribers on
# TOPICS topics opened through the router in STEPS with ringcast-load (pinned to LOAD_CPU, at
# most PER_PROCESS connections per load process, spread over SOURCE_ADDRESSES). At every step it
# records the router's and the node's VmRSS and open descriptors (/proc/PID/status, /proc/PID/fd)
# and the streams open by the router's /metrics. A last step asks for OVER streams more than the
# process's file limit allows (a proxied stream holds 2 descriptors: client + upstream), to show
# the ceiling and how the router refuses past it. Then it publishes EVENTS_PER_TOPIC events to
# every topic at RATE events/s (gRPC, straight to the node) and checks that every open stream got
# them all (a sanity check, not a latency figure). REPEATS runs on a fresh router and node each;
# Markdown tables of medians (min–max) on stdout, progress on stderr. Every child runs under
# `timeout`; about 1.5 minutes per run. A manual benchmark: nothing runs it in CI.
#
#   cmake --build build/release --target ringcast-router ringcast-node ringcast-load ringcast-pubload
#   bench/router_streams.sh                                   # BUILD_DIR=build/release by default
#   STEPS="1000 4000" OVER=0 REPEATS=1 bench/router_streams.sh
#
# Settings (environment): BUILD_DIR, STEPS ("1000 2000 4000 8000"; streams in total after each
# step), OVER (100; empty = no ceiling step), TOPICS (100), PER_PROCESS (5000), SOURCE_ADDRESSES
# (127.0.0.2-5), REPEATS (3), EVENTS_PER_TOPIC (5), RATE (100), SETTLE_S (2; wait after a step
# before reading memory), ROUTER_CPU (0), LOAD_CPU (1), ROUTER_HTTP (127.0.0.1:18000), ROUTER_GRPC
# (127.0.0.1:19000), NODE_HTTP (127.0.0.1:18081), NODE_GRPC (127.0.0.1:19091) — those ports must be
# free — QUIET_FILE (/tmp/ringcast-bench-running: held while the runs go so that others on a
# shared machine pause their builds; empty = none), KEEP (1 = keep the work directory).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build/release}
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
ROUTER_BIN="$BUILD_DIR/router/ringcast-router"
NODE_BIN="$BUILD_DIR/node/ringcast-node"
LOAD_BIN="$BUILD_DIR/bench/ringcast-load"
PUBLOAD_BIN="$BUILD_DIR/bench/ringcast-pubload"
STEPS=${STEPS-"1000 2000 4000 8000"}
OVER=${OVER-100}
TOPICS=${TOPICS:-100}
PER_PROCESS=${PER_PROCESS:-5000}
SOURCE_ADDRESSES=${SOURCE_ADDRESSES:-127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5}
REPEATS=${REPEATS:-3}
EVENTS_PER_TOPIC=${EVENTS_PER_TOPIC:-5}
RATE=${RATE:-100}
SETTLE_S=${SETTLE_S:-2}
ROUTER_CPU=${ROUTER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
ROUTER_HTTP=${ROUTER_HTTP:-127.0.0.1:18000}
ROUTER_GRPC=${ROUTER_GRPC:-127.0.0.1:19000}
NODE_HTTP=${NODE_HTTP:-127.0.0.1:18081}
NODE_GRPC=${NODE_GRPC:-127.0.0.1:19091}
QUIET_FILE=${QUIET_FILE-/tmp/ringcast-bench-running}
RUN_BOUND_S=900  # no child lives longer than this
CLK_TCK=$(getconf CLK_TCK)

for bin in "$ROUTER_BIN" "$NODE_BIN" "$LOAD_BIN" "$PUBLOAD_BIN"; do
  if [[ ! -x "$bin" ]]; then
    echo "router_streams: missing $bin; build it first:" >&2
    echo "  cmake --build $BUILD_DIR --target ringcast-router ringcast-node ringcast-load" \
      "ringcast-pubload" >&2
    exit 2
  fi
done
# The router, the node and the load processes all inherit this limit; it sets the ceiling.
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)

WORK=$(mktemp -d /tmp/router_streams.XXXXXX)
STARTED=()       # `timeout` wrappers of every child started here; live ones are ended on exit
HOLDS_QUIET=0    # 1 once this run created QUIET_FILE
ROUTER_PID="" ROUTER_WRAPPER="" NODE_PID="" NODE_WRAPPER=""

log() { echo "router_streams: $*" >&2; }

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
trap cleanup EXIT

# hold_quiet_time — creates QUIET_FILE, waiting (at most 45 minutes) while someone else holds it.
hold_quiet_time() {
  [[ -n "$QUIET_FILE" ]] || return 0
  local i
  for i in $(seq 270); do
    if (set -C; : > "$QUIET_FILE") 2>/dev/null; then HOLDS_QUIET=1; return 0; fi
    (( i == 1 )) && log "$QUIET_FILE exists: another benchmark runs; waiting"
    sleep 10
  done
  log "$QUIET_FILE still held after 45 minutes"; exit 1
}

# json_field NAME FILE — the number after "NAME": in a one-line JSON file.
json_field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2" | head -n1; }

# median_range v1 v2 ... — "median (min–max)", or the single value.
median_range() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
    if (NR == 1 || v[1] == v[NR]) printf "%.10g\n", m
    else printf "%.10g (%.10g–%.10g)\n", m, v[1], v[NR] }'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
per_stream() {  # after before streams — (after - before) / streams, 2 decimals
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f", (n > 0) ? (a - b) / n : 0}'
}

# metric HOST:PORT SERIES — one series (name{labels}) from /metrics, read with bash's /dev/tcp so
# that no HTTP client is needed; "?" when it cannot be read.
metric() {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"
    printf "GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$0" >&3
    cat <&3' "${1%:*}" "${1##*:}" > "$WORK/metrics.txt" 2>/dev/null || true
  awk -v m="$2" '$1 == m {v = $2} END {print (v == "") ? "?" : v + 0}' "$WORK/metrics.txt"
}

# start_server NAME BIN FLAGS... — runs BIN under timeout, pinned to ROUTER_CPU, until its ready
# line; sets SERVER_PID (from that line) and SERVER_WRAPPER.
start_server() {
  local name=$1 bin=$2 i
  shift 2
  timeout "$RUN_BOUND_S" taskset -c "$ROUTER_CPU" "$bin" --worker_threads=1 "$@" \
    > "$WORK/$name.out" 2> "$WORK/$name.err" &
  SERVER_WRAPPER=$!
  STARTED+=("$SERVER_WRAPPER")
  for i in $(seq 100); do
    grep -q ' ready ' "$WORK/$name.out" && break
    sleep 0.1
  done
  if ! grep -q ' ready ' "$WORK/$name.out"; then
    log "$name did not print its ready line"; cat "$WORK/$name.err" >&2; exit 1
  fi
  SERVER_PID=$(sed -n 's/.* pid=\([0-9]*\).*/\1/p' "$WORK/$name.out")
}

stop_server() {  # pid wrapper
  kill -TERM "$1" 2>/dev/null || true
  local i
  for i in $(seq 150); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$2" 2>/dev/null || true
}

# wait_routed — until a subscribe through the router is answered 200 (the ring has the node).
wait_routed() {
  local i code
  for i in $(seq 100); do
    code=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"
      printf "GET /v1/topics/load-0/events HTTP/1.1\r\nHost: %s\r\n\r\n" "$0" >&3
      head -n1 <&3' "${ROUTER_HTTP%:*}" "${ROUTER_HTTP##*:}" 2>/dev/null | awk '{print $2}') || true
    [[ "$code" = 200 ]] && return 0
    sleep 0.1
  done
  log "the router never routed a subscribe to the node (last status: ${code:-none})"; exit 1
}

LOADS=()  # "name:wrapper_pid" of this run's ringcast-load processes

# add_streams COUNT TAG — opens COUNT more streams through the router in load processes of at
# most PER_PROCESS connections each, and waits until they have all settled (open or failed).
add_streams() {
  local left=$1 part=0 n name names=() i
  while (( left > 0 )); do
    n=$(( left < PER_PROCESS ? left : PER_PROCESS ))
    name="$2-$part"
    # Idle until the sanity publish: each process exits once all its streams have
    # EVENTS_PER_TOPIC events.
    timeout "$RUN_BOUND_S" taskset -c "$LOAD_CPU" "$LOAD_BIN" \
      --url_pattern="http://$ROUTER_HTTP/v1/topics/{topic}/events" --connections="$n" \
      --topics="$TOPICS" --duration_s=$(( RUN_BOUND_S - 60 )) \
      --expect_events="$EVENTS_PER_TOPIC" --source_addresses="$SOURCE_ADDRESSES" \
      > "$WORK/$name.json" 2> "$WORK/$name.err" &
    STARTED+=("$!")
    LOADS+=("$name:$!")
    names+=("$name")
    left=$(( left - n ))
    part=$(( part + 1 ))
  done
  for name in "${names[@]}"; do
    for i in $(seq 1200); do
      grep -qs 'connected open=' "$WORK/$name.err" && break
      sleep 0.1
    done
    grep -qs 'connected open=' "$WORK/$name.err" || { log "$name did not settle"; exit 1; }
  done
}

# load_total FIELD — FIELD of the "connected open=.. failed=.." lines, summed over LOADS.
load_total() {
  local entry sum=0
  for entry in "${LOADS[@]}"; do
    sum=$(( sum + $(sed -n "s/.*connected.* $1=\([0-9]*\).*/\1/p" "$WORK/${entry%%:*}.err") ))
  done
  echo "$sum"
}

# refusals — "N x reason; ..." of the load processes' failures (after they ended).
refusals() {
  local entry
  for entry in "${LOADS[@]}"; do
    sed -n 's/^ringcast-load: \([0-9]*\) x \(.*\)$/\1\t\2/p' "$WORK/${entry%%:*}.err"
  done | awk -F'\t' '{n[$2] += $1} END {for (r in n) printf "%d x %s; ", n[r], r}' | sed 's/; $//'
}

declare -A R  # R[key,step]: the values of one figure at one step, space-separated, one per run

record() {  # key step value
  R["$1,$2"]="${R["$1,$2"]:-} $3"
}

# run_once REP — one fresh router and node, every step, the ceiling step and the sanity publish.
run_once() {
  local rep=$1 current=0 wanted base_router_rss base_node_rss base_router_fds
  local base_node_fds open streams router_rss node_rss router_fds node_fds label ticks
  LOADS=()
  start_server "router-$rep" "$ROUTER_BIN" --router_id=bench --http_listen="$ROUTER_HTTP" \
    --grpc_listen="$ROUTER_GRPC" --seed_nodes="node-1=$NODE_HTTP=$NODE_GRPC"
  ROUTER_PID=$SERVER_PID ROUTER_WRAPPER=$SERVER_WRAPPER
  start_server "node-$rep" "$NODE_BIN" --node_id=node-1 --http_listen="$NODE_HTTP" \
    --grpc_listen="$NODE_GRPC" --ring_source="$ROUTER_GRPC"
  NODE_PID=$SERVER_PID NODE_WRAPPER=$SERVER_WRAPPER
  wait_routed
  for _ in $(seq 50); do  # the probe's stream has closed
    [[ "$(metric "$ROUTER_HTTP" ringcast_router_streams)" = 0 ]] && break
    sleep 0.1
  done
  sleep "$SETTLE_S"
  base_router_rss=$(rss_kib "$ROUTER_PID") base_node_rss=$(rss_kib "$NODE_PID")
  base_router_fds=$(fd_count "$ROUTER_PID") base_node_fds=$(fd_count "$NODE_PID")
  record router_rss 0 "$base_router_rss"; record node_rss 0 "$base_node_rss"
  record router_fds 0 "$base_router_fds"; record node_fds 0 "$base_node_fds"
  log "run $rep: router pid $ROUTER_PID RSS $base_router_rss KiB, $base_router_fds fds;" \
    "node pid $NODE_PID RSS $base_node_rss KiB, $base_node_fds fds; file limit $NOFILE"

  local targets=($STEPS)
  [[ -n "$OVER" ]] && targets+=($(( NOFILE / 2 + OVER )))
  for wanted in "${targets[@]}"; do
    (( wanted > current )) || continue
    label=$wanted
    [[ -n "$OVER" && $wanted -eq $(( NOFILE / 2 + OVER )) ]] && label=ceiling
    add_streams $(( wanted - current )) "r$rep-s$wanted"
    current=$wanted
    open=$(load_total open)
    # The gauge follows the clients' view at once; wait (bounded) for it to agree.
    for _ in $(seq 50); do
      streams=$(metric "$ROUTER_HTTP" ringcast_router_streams)
      [[ "$streams" = "$open" ]] && break
      sleep 0.1
    done
    ticks=$(cpu_ticks "$ROUTER_PID")
    sleep "$SETTLE_S"
    record router_cpu "$label" "$(awk -v t="$(( $(cpu_ticks "$ROUTER_PID") - ticks ))" \
      -v hz="$CLK_TCK" -v s="$SETTLE_S" 'BEGIN {printf "%.1f", 100 * t / hz / s}')"
    router_rss=$(rss_kib "$ROUTER_PID") node_rss=$(rss_kib "$NODE_PID")
    router_fds=$(fd_count "$ROUTER_PID") node_fds=$(fd_count "$NODE_PID")
    streams=$(metric "$ROUTER_HTTP" ringcast_router_streams)
    record asked "$label" "$wanted"
    record open "$label" "$open"
    record failed "$label" "$(load_total failed)"
    record streams "$label" "$streams"
    record upstreams "$label" "$(metric "$ROUTER_HTTP" ringcast_router_upstreams)"
    record unreachable "$label" \
      "$(metric "$ROUTER_HTTP" 'ringcast_router_unavailable_total{reason="owner_unreachable"}')"
    record node_streams "$label" "$(metric "$NODE_HTTP" ringcast_streams)"
    record router_rss "$label" "$router_rss"
    record node_rss "$label" "$node_rss"
    record router_fds "$label" "$router_fds"
    record node_fds "$label" "$node_fds"
    record router_kib "$label" "$(per_stream "$router_rss" "$base_router_rss" "$open")"
    record node_kib "$label" "$(per_stream "$node_rss" "$base_node_rss" "$open")"
    record router_fds_per "$label" "$(per_stream "$router_fds" "$base_router_fds" "$open")"
    log "run $rep, $label: asked $wanted open $open failed $(load_total failed)," \
      "router metric $streams; router RSS $router_rss KiB, $router_fds fds; node RSS" \
      "$node_rss KiB, $node_fds fds"
  done
  LAST_LABEL=$label

  # Sanity: every open stream gets every event.
  timeout 120 taskset -c "$LOAD_CPU" "$PUBLOAD_BIN" --target="$NODE_GRPC" --topics="$TOPICS" \
    --events_per_topic="$EVENTS_PER_TOPIC" --rate="$RATE" --duration_s=60 \
    > "$WORK/pub-$rep.json" 2> "$WORK/pub-$rep.err" || true
  local entry events=0 gaps=0 dups=0 i
  for entry in "${LOADS[@]}"; do  # each exits once its streams have every event
    for i in $(seq 300); do
      kill -0 "${entry##*:}" 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM "${entry##*:}" 2>/dev/null || true
    wait "${entry##*:}" 2>/dev/null || true
    events=$(( events + $(json_field events "$WORK/${entry%%:*}.json") ))
    gaps=$(( gaps + $(json_field gaps "$WORK/${entry%%:*}.json") ))
    dups=$(( dups + $(json_field duplicates "$WORK/${entry%%:*}.json") ))
  done
  open=$(load_total open)
  record published sanity "$(json_field accepted "$WORK/pub-$rep.json")"
  record expected sanity $(( open * EVENTS_PER_TOPIC ))
  record delivered sanity "$events"
  record gaps sanity "$gaps"
  record dups sanity "$dups"
  REFUSALS[$rep]=$(refusals)
  log "run $rep: published $(json_field accepted "$WORK/pub-$rep.json"), delivered $events of" \
    "$(( open * EVENTS_PER_TOPIC )) expected, gaps $gaps, duplicates $dups; load failures:" \
    "${REFUSALS[$rep]:-none}"
  stop_server "$ROUTER_PID" "$ROUTER_WRAPPER"
  stop_server "$NODE_PID" "$NODE_WRAPPER"
}

m() { median_range ${R["$1,$2"]}; }  # key step — median (min–max) over the repeats

declare -A REFUSALS
hold_quiet_time
for rep in $(seq "$REPEATS"); do run_once "$rep"; done

# ---- report ---------------------------------------------------------------------------------
echo "## Streams per router process ($(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs)"
echo
echo "One ringcast-router (proxy mode) and one ringcast-node, --worker_threads=1, both on"
echo "CPU $ROUTER_CPU; idle subscribers on $TOPICS topics from ringcast-load on CPU $LOAD_CPU."
echo "File limit of every process: $NOFILE. Medians of $REPEATS runs (min–max)."
echo "Per stream = (value at the step - value before any stream) / open streams."
echo "Before any stream: router RSS $(m router_rss 0) KiB, $(m router_fds 0) fds;"
echo "node RSS $(m node_rss 0) KiB, $(m node_fds 0) fds."
echo "Router CPU % = over the ${SETTLE_S} s after a step. 503 owner_unreachable = the router's"
echo "ringcast_router_unavailable_total{reason=\"owner_unreachable\"} so far."
echo
echo -n "| streams asked | open (clients) | failed | router streams / upstreams (metrics)"
echo -n " | node streams | router RSS KiB | router KiB per stream | router fds"
echo -n " | router fds per stream | node RSS KiB | node KiB per stream | router CPU %"
echo " | 503 owner_unreachable |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for step in $STEPS ${OVER:+ceiling}; do
  [[ -n "${R["open,$step"]:-}" ]] || continue
  echo -n "| $(m asked "$step") | $(m open "$step") | $(m failed "$step")"
  echo -n " | $(m streams "$step") / $(m upstreams "$step") | $(m node_streams "$step")"
  echo -n " | $(m router_rss "$step") | $(m router_kib "$step") | $(m router_fds "$step")"
  echo -n " | $(m router_fds_per "$step") | $(m node_rss "$step") | $(m node_kib "$step")"
  echo " | $(m router_cpu "$step") | $(m unreachable "$step") |"
done
echo
echo "Sanity at the last step ($LAST_LABEL): $EVENTS_PER_TOPIC events to each of $TOPICS topics"
echo "at $RATE events/s (PublishStream to the node)."
echo "Published $(m published sanity); delivered $(m delivered sanity) of $(m expected sanity)"
echo "expected; gaps $(m gaps sanity); duplicates $(m dups sanity)."
for rep in $(seq "$REPEATS"); do
  echo "Run $rep load failures: ${REFUSALS[$rep]:-none}."
done
