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
# The helpers it shares with the other benchmark scripts are in bench/lib.sh.
set -euo pipefail

BENCH_NAME=router_streams
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
ROUTER_BIN=$(built_path ringcast-router)
NODE_BIN=$(built_path ringcast-node)
LOAD_BIN=$(built_path ringcast-load)
PUBLOAD_BIN=$(built_path ringcast-pubload)
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

require_built ringcast-router ringcast-node ringcast-load ringcast-pubload
# The router, the node and the load processes all inherit this limit; it sets the ceiling.
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
bench_init
ROUTER_PID="" ROUTER_WRAPPER="" NODE_PID="" NODE_WRAPPER=""

fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
per_stream() {  # after before streams — (after - before) / streams, 2 decimals
  awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f", (n > 0) ? (a - b) / n : 0}'
}

# routed — whether a subscribe through the router is answered 200 (sets CODE, the status).
routed() {
  CODE=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"
    printf "GET /v1/topics/load-0/events HTTP/1.1\r\nHost: %s\r\n\r\n" "$0" >&3
    head -n1 <&3' "${ROUTER_HTTP%:*}" "${ROUTER_HTTP##*:}" 2>/dev/null | awk '{print $2}') || true
  [[ "$CODE" = 200 ]]
}

# wait_routed — until a subscribe through the router is answered 200 (the ring has the node).
wait_routed() {
  CODE=""
  poll 100 routed && return 0
  log "the router never routed a subscribe to the node (last status: ${CODE:-none})"; exit 1
}

# router_streams_are N — whether the router's /metrics counts N open streams.
router_streams_are() { [[ "$(metric "$ROUTER_HTTP" ringcast_router_streams)" = "$1" ]]; }

LOADS=()  # "name:wrapper_pid" of this run's ringcast-load processes

# add_streams COUNT TAG — opens COUNT more streams through the router in load processes of at
# most PER_PROCESS connections each, and waits until they have all settled (open or failed).
add_streams() {
  local n name names=()
  for n in $(chunks "$1" "$PER_PROCESS"); do
    name="$2-${#names[@]}"
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
  done
  wait_connected "${names[@]}"
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
  start_server "router-$rep" "$ROUTER_CPU" "$ROUTER_BIN" --worker_threads=1 --router_id=bench \
    --http_listen="$ROUTER_HTTP" --grpc_listen="$ROUTER_GRPC" \
    --seed_nodes="node-1=$NODE_HTTP=$NODE_GRPC"
  ROUTER_PID=$SERVER_PID ROUTER_WRAPPER=$SERVER_WRAPPER
  start_server "node-$rep" "$ROUTER_CPU" "$NODE_BIN" --worker_threads=1 --node_id=node-1 \
    --http_listen="$NODE_HTTP" --grpc_listen="$NODE_GRPC" --ring_source="$ROUTER_GRPC"
  NODE_PID=$SERVER_PID NODE_WRAPPER=$SERVER_WRAPPER
  wait_routed
  poll 50 router_streams_are 0 || true  # the probe's stream has closed
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
    poll 50 router_streams_are "$open" || true
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
  local entry events=0 gaps=0 dups=0
  for entry in "${LOADS[@]}"; do  # each exits once its streams have every event
    poll 300 has_ended "${entry##*:}" || kill -TERM "${entry##*:}" 2>/dev/null || true
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
