#!/usr/bin/env bash
# node_baseline.sh — the ringcast-node baseline in one command: (a) node memory per idle SSE
# subscriber, (b) delivered events/s, gaps, duplicates, latency and node CPU for 5,000
# subscribers of one topic at a few publish rates. It starts a fresh single-worker node for every
# measurement (pinned to NODE_CPU), drives it with ringcast-load (pinned to LOAD_CPU) and
# `ringcast publish --rate`, stops the node by its PID, and prints Markdown tables on stdout
# (progress on stderr). Every child runs under `timeout`; the whole run takes about 5 minutes
# with the defaults. A manual benchmark: nothing runs it in CI and it fails nothing.
#
#   cmake --build build/release --target ringcast-node ringcast ringcast-load
#   bench/node_baseline.sh                        # BUILD_DIR=build/release by default
#   BUILD_DIR=build/load-helper RATES="500 1000" REPEATS=1 bench/node_baseline.sh
#
# Settings (environment): BUILD_DIR, NODE_CPU (0), LOAD_CPU (1), IDLE_COUNTS ("1000 10000"),
# IDLE_TOPICS (100), FANOUT_CONNECTIONS (5000), RATES ("50 100 200 500 1000 2000"), REPEATS (3),
# PUBLISH_S (10), LOAD_S (12), SOURCE_ADDRESSES (127.0.0.2-5), PER_PROCESS (5000 connections per
# ringcast-load process), FANOUT_LIMIT (path to a built ../shared/tools/fanout_limit.cpp: when
# set, its `5000 200 1` figure is printed too), KEEP (1 = keep the work directory). An empty
# IDLE_COUNTS or RATES skips (a) or (b).
# The helpers it shares with the other benchmark scripts are in bench/lib.sh.
set -euo pipefail

BENCH_NAME=node_baseline
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
NODE_BIN=$(built_path ringcast-node)
CLI_BIN=$(built_path ringcast)
LOAD_BIN=$(built_path ringcast-load)
NODE_CPU=${NODE_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
IDLE_COUNTS=${IDLE_COUNTS-"1000 10000"}
IDLE_TOPICS=${IDLE_TOPICS:-100}
FANOUT_CONNECTIONS=${FANOUT_CONNECTIONS:-5000}
RATES=${RATES-"50 100 200 500 1000 2000"}
REPEATS=${REPEATS:-3}
PUBLISH_S=${PUBLISH_S:-10}
LOAD_S=${LOAD_S:-12}
SOURCE_ADDRESSES=${SOURCE_ADDRESSES:-127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5}
PER_PROCESS=${PER_PROCESS:-5000}

require_built ringcast-node ringcast ringcast-load
# 10,000 subscribers need 10,000 descriptors in the node and in the load processes.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bench_init

# Busy ticks of CPU N (user, nice, system, irq, softirq), whoever ran there.
core_ticks() { awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# start_node — a fresh single-worker node on ports 0; sets NODE_PID (the node itself),
# NODE_WRAPPER (the `timeout` that runs it: our child), NODE_HTTP and NODE_GRPC.
start_node() {
  start_server node "$NODE_CPU" "$NODE_BIN" --http_listen=127.0.0.1:0 \
    --grpc_listen=127.0.0.1:0 --worker_threads=1
  NODE_PID=$SERVER_PID NODE_WRAPPER=$SERVER_WRAPPER
  NODE_HTTP=$SERVER_HTTP NODE_GRPC=$SERVER_GRPC
}

stop_node() { stop_server "$NODE_PID" "$NODE_WRAPPER"; }

# start_load NAME CONNECTIONS TOPICS DURATION_S — one ringcast-load in the background; sets
# LOAD_PID. Its JSON goes to $WORK/NAME.json, progress to $WORK/NAME.err.
start_load() {
  timeout $(( ${4%.*} + 30 )) taskset -c "$LOAD_CPU" "$LOAD_BIN" \
    --url_pattern="http://$NODE_HTTP/v1/topics/{topic}/events" --connections="$2" \
    --topics="$3" --duration_s="$4" --source_addresses="$SOURCE_ADDRESSES" \
    > "$WORK/$1.json" 2> "$WORK/$1.err" &
  LOAD_PID=$!
  STARTED+=("$LOAD_PID")
}

# ---- (a) idle memory per connection -------------------------------------------------------
idle_rows=()
for count in $IDLE_COUNTS; do
  befores=(); afters=(); pers=(); opens=()
  for rep in $(seq "$REPEATS"); do
    start_node
    sleep 0.5
    before=$(rss_kib "$NODE_PID")
    names=()
    for n in $(chunks "$count" "$PER_PROCESS"); do
      name="idle-$count-$rep-${#names[@]}"
      start_load "$name" "$n" "$IDLE_TOPICS" 120
      names+=("$name:$LOAD_PID")
    done
    wait_connected "${names[@]%%:*}"
    sleep 1
    after=$(rss_kib "$NODE_PID")
    open=0
    for entry in "${names[@]}"; do
      kill -TERM "${entry##*:}" 2>/dev/null || true
      wait "${entry##*:}" 2>/dev/null || true
      open=$(( open + $(json_field connections_open "$WORK/${entry%%:*}.json") ))
    done
    stop_node
    per=$(awk -v a="$after" -v b="$before" -v n="$count" 'BEGIN {printf "%.2f", (a - b) / n}')
    log "idle $count #$rep: RSS $before -> $after KiB, $per KiB per connection (open=$open)"
    befores+=("$before"); afters+=("$after"); pers+=("$per"); opens+=("$open")
  done
  row="| $count | $IDLE_TOPICS | ${#names[@]} | $(median_range "${opens[@]}")"
  row+=" | $(median_range "${befores[@]}") | $(median_range "${afters[@]}")"
  row+=" | $(median_range "${pers[@]}") |"
  idle_rows+=("$row")
done

# ---- (b) fan-out to one topic ---------------------------------------------------------------
fanout_rows=()
for rate in $RATES; do
  delivered=(); window=(); gaps=(); dups=(); p50=(); p99=(); cpu=(); us=(); accepted=()
  others=(); load_cpu=(); cut=()
  for rep in $(seq "$REPEATS"); do
    start_node
    name="fanout-$rate-$rep"
    start_load "$name" "$FANOUT_CONNECTIONS" 1 "$LOAD_S"
    load_pid=$LOAD_PID
    wait_connected "$name"
    t0=$(cpu_ticks "$NODE_PID"); c0=$(core_ticks "$NODE_CPU"); w0=$(date +%s.%N)
    # The publisher shares the load tool's CPU, so the node's CPU holds only the node.
    timeout $(( PUBLISH_S + 30 )) taskset -c "$LOAD_CPU" "$CLI_BIN" publish --node="$NODE_GRPC" \
      --topic=load-0 --rate="$rate" --duration_s="$PUBLISH_S" > "$WORK/$name.publish" 2>&1 || true
    t1=$(cpu_ticks "$NODE_PID"); c1=$(core_ticks "$NODE_CPU"); w1=$(date +%s.%N)
    wait "$load_pid" 2>/dev/null || true
    t2=$(cpu_ticks "$NODE_PID")
    cut+=("$(metric "$NODE_HTTP" 'ringcast_streams_closed_total{cause="slow_consumer"}')")
    json="$WORK/$name.json"
    stop_node
    events=$(json_field events "$json")
    delivered+=("$(json_field events_per_s "$json")")
    window+=("$(json_field events_per_s_in_window "$json")")
    gaps+=("$(json_field gaps "$json")")
    dups+=("$(json_field duplicates "$json")")
    p50+=("$(json_field p50 "$json")")
    p99+=("$(json_field p99 "$json")")
    accepted+=("$(sed -n 's/.*accepted=\([0-9]*\).*/\1/p' "$WORK/$name.publish")")
    cpu+=("$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v a="$w0" -v b="$w1" \
      'BEGIN {printf "%.0f", 100 * t / hz / (b - a)}')")
    others+=("$(awk -v t="$((c1 - c0 - (t1 - t0)))" -v hz="$CLK_TCK" -v a="$w0" -v b="$w1" \
      'BEGIN {v = 100 * t / hz / (b - a); printf "%.0f", (v < 0) ? 0 : v}')")
    load_cpu+=("$(awk -v c="$(json_field cpu_s "$json")" -v e="$(json_field elapsed_s "$json")" \
      'BEGIN {printf "%.0f", (e > 0) ? 100 * c / e : 0}')")
    us+=("$(awk -v t="$((t2 - t0))" -v hz="$CLK_TCK" -v e="$events" \
      'BEGIN {printf "%.2f", (e > 0) ? t / hz / e * 1e6 : 0}')")
    log "rate $rate #$rep: $(cat "$json") published=${accepted[-1]} node_cpu=${cpu[-1]}%" \
      "others_on_node_cpu=${others[-1]}% slow_consumer_cuts=${cut[-1]}"
  done
  row="| $rate | $(median_range "${accepted[@]}") | $((rate * FANOUT_CONNECTIONS))"
  row+=" | $(median_range "${delivered[@]}") | $(median_range "${window[@]}")"
  row+=" | $(median_range "${gaps[@]}") | $(median_range "${dups[@]}")"
  row+=" | $(median_range "${p50[@]}") | $(median_range "${p99[@]}")"
  row+=" | $(median_range "${cpu[@]}") | $(median_range "${us[@]}")"
  row+=" | $(median_range "${cut[@]}") | $(median_range "${others[@]}")"
  row+=" | $(median_range "${load_cpu[@]}") |"
  fanout_rows+=("$row")
done

# ---- report ---------------------------------------------------------------------------------
echo "## ringcast-node baseline ($(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs)"
echo
echo "One node, --worker_threads=1, pinned to CPU $NODE_CPU; ringcast-load pinned to CPU $LOAD_CPU."
echo
if (( ${#idle_rows[@]} > 0 )); then
  echo "### (a) idle memory per connection (node VmRSS), medians of $REPEATS runs (min–max)"
  echo
  echo -n "| subscribers | topics | load processes | open | RSS before (KiB) | RSS connected (KiB)"
  echo " | KiB per connection |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${idle_rows[@]}"
  echo
fi
if (( ${#fanout_rows[@]} > 0 )); then
  echo -n "### (b) $FANOUT_CONNECTIONS subscribers on one topic; publish for ${PUBLISH_S} s,"
  echo " load runs ${LOAD_S} s"
  echo
  echo "Medians of $REPEATS runs (min–max). delivered/s = events / elapsed of the load tool"
  echo "(connect time and idle tail included); in window = events / (last event - first event)."
  echo "Node CPU % over the publish window; node µs per delivery = node CPU (publish start to load"
  echo "end) / events delivered; others % = what else ran on the node's CPU in the publish window"
  echo "(should be ~0: other work there makes the run unreliable); load CPU % = ringcast-load's"
  echo "user+system time / its elapsed time; cut = streams the node closed as slow consumers"
  echo "(ringcast_streams_closed_total{cause=\"slow_consumer\"})."
  echo
  echo -n "| rate (ev/s) | published | offered deliveries/s | delivered/s | delivered/s in window"
  echo -n " | gaps | duplicates | p50 µs | p99 µs | node CPU % | node µs per delivery"
  echo " | cut | others on node CPU % | load CPU % |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${fanout_rows[@]}"
  echo
fi
if [[ -n "${FANOUT_LIMIT:-}" && -x "${FANOUT_LIMIT}" ]]; then
  echo "### floor: fanout_limit 5000 200 1 (one write() per event per connection)"
  echo
  echo '```'
  timeout 120 "$FANOUT_LIMIT" 5000 200 1 || true
  echo '```'
fi
