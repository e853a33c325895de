#!/usr/bin/env bash
# handoff.sh — what rebalancing costs (issue 7 benchmark): starts a router and three nodes that
# follow it, plus a spare node-4, and runs ringcast-handoff-bench against them. Two runs:
#   moving:    10 topics that node-4 takes, each with 1,000 buffered events of 1 KB (~1 MB) and
#              2 subscribers, publishing 200 events/s; 10 rebalances (add, remove, add, ...).
#   scale-out: 10,000 topics with 10 events each, 50 of them subscribed, publishing 1,000
#              events/s; one add (3 -> 4 nodes).
# Each prints one JSON line (see bench/handoff_bench.cc). Nodes and router get CPU 0, the bench
# CPU 1. Only processes this script started are stopped.
#   BUILD_DIR=build/release RUNS="moving scaleout" bench/handoff.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/release}
runs=${RUNS:-"moving scaleout"}
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() {  # file
  for _ in $(seq 100); do grep -q " ready " "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "handoff.sh: no ready line in $1" >&2; exit 1
}

start_cluster() {
  pids=()
  taskset -c 0 "$build/router/ringcast-router" --router_id=bench --worker_threads=1 \
    --http_listen=127.0.0.1:18000 --grpc_listen=127.0.0.1:19000 \
    --seed_nodes=node-1=127.0.0.1:18081=127.0.0.1:19091,node-2=127.0.0.1:18082=127.0.0.1:19092,node-3=127.0.0.1:18083=127.0.0.1:19093 \
    >"$work/router.log" 2>&1 &
  pids+=("$!"); wait_ready "$work/router.log"
  for i in 1 2 3 4; do
    taskset -c 0 "$build/node/ringcast-node" --node_id="node-$i" --worker_threads=1 \
      --http_listen="127.0.0.1:1808$i" --grpc_listen="127.0.0.1:1909$i" \
      --ring_source=127.0.0.1:19000 >"$work/node$i.log" 2>&1 &
    pids+=("$!"); wait_ready "$work/node$i.log"
  done
}

stop_cluster() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=(); }

bench() { taskset -c 1 "$build/bench/ringcast-handoff-bench" --router=127.0.0.1:19000 \
  --spare_id=node-4 --spare_http=127.0.0.1:18084 --spare_grpc=127.0.0.1:19094 "$@"; }

for run in $runs; do
  start_cluster
  case $run in
    moving) bench --topics=10 --buffered=1000 --event_bytes=1000 --subscribed_topics=10 \
              --subscribers_per_topic=2 --rate=200 --changes=10 --baseline_s=3 --after_s=1 ;;
    scaleout) bench --all_topics --topics=10000 --buffered=10 --event_bytes=100 \
                --subscribed_topics=50 --subscribers_per_topic=1 --rate=1000 --changes=1 \
                --baseline_s=5 --after_s=3 ;;
    *) echo "handoff.sh: unknown run $run" >&2; exit 2 ;;
  esac || echo "handoff.sh: $run reported losses or errors (exit $?)" >&2
  stop_cluster
done
