#!/usr/bin/env bash
# router_overhead.sh — what ringcast-router costs (issue 6 benchmark): publish-to-deliver latency
# of the same load read directly from a node and through a proxying router, and the router's CPU
# per 10,000 relayed events/s. One node, one router (one worker each), both pinned to CPU 0 as
# in a one-box deployment; the load tools on CPU 1. Prints one line per path.
#   BUILD_DIR=build/release SUBS=1000 TOPICS=100 RATE=2000 DURATION_S=10 bench/router_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/release}
subs=${SUBS:-1000} topics=${TOPICS:-100} rate=${RATE:-2000} duration=${DURATION_S:-10}
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() {  # file
  for _ in $(seq 100); do grep -q " ready " "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "router_overhead: no ready line in $1" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

taskset -c 0 "$build/router/ringcast-router" --router_id=bench --worker_threads=1 \
  --http_listen=127.0.0.1:18000 --grpc_listen=127.0.0.1:19000 \
  --seed_nodes=node-1=127.0.0.1:18081=127.0.0.1:19091 >"$work/router.log" 2>&1 &
router=$!; pids+=("$router"); wait_ready "$work/router.log"
taskset -c 0 "$build/node/ringcast-node" --node_id=node-1 --worker_threads=1 \
  --http_listen=127.0.0.1:18081 --grpc_listen=127.0.0.1:19091 \
  --ring_source=127.0.0.1:19000 >"$work/node.log" 2>&1 &
node=$!; pids+=("$node"); wait_ready "$work/node.log"

measure() {  # label base_url first_seq
  local label=$1 base=$2 first_seq=$3
  taskset -c 1 "$build/bench/ringcast-load" --url_pattern="$base/v1/topics/{topic}/events" \
    --connections="$subs" --topics="$topics" --duration_s=$((duration + 4)) \
    --source_addresses=127.0.0.2,127.0.0.3 >"$work/$label.json" 2>"$work/$label.err" &
  local load=$!
  for _ in $(seq 200); do grep -q "connected open=" "$work/$label.err" && break; sleep 0.1; done
  local router_before node_before
  router_before=$(cpu_ticks "$router"); node_before=$(cpu_ticks "$node")
  taskset -c 1 "$build/bench/ringcast-pubload" --target=127.0.0.1:19091 --batch=100 \
    --topics="$topics" --rate="$rate" --duration_s="$duration" --first_seq="$first_seq" \
    >"$work/$label-pub.json"
  local router_after node_after
  router_after=$(cpu_ticks "$router"); node_after=$(cpu_ticks "$node")
  wait "$load" || true
  python3 - "$label" "$work/$label.json" "$work/$label-pub.json" \
    "$((router_after - router_before))" "$((node_after - node_before))" "$duration" <<'PY'
import json, sys
label, load_file, pub_file, router_ticks, node_ticks, duration = sys.argv[1:]
load = json.loads(open(load_file).read().strip().splitlines()[-1])
pub = json.loads(open(pub_file).read().strip().splitlines()[-1])
delivered_per_s = load["events"] / float(pub["elapsed_s"])
router_cpu_s, node_cpu_s = int(router_ticks) / 100, int(node_ticks) / 100
per_10k = router_cpu_s / float(pub["elapsed_s"]) / (delivered_per_s / 10000) if delivered_per_s else 0
lat = load["latency_us"]
print(f"{label}: delivered {load['events']} ({delivered_per_s:,.0f}/s) gaps {load['gaps']} "
      f"dups {load['duplicates']} p50 {lat['p50']/1000:.2f} ms p99 {lat['p99']/1000:.2f} ms "
      f"p99.9 {lat['p999']/1000:.2f} ms | node CPU {node_cpu_s:.2f} s, router CPU "
      f"{router_cpu_s:.2f} s = {per_10k*100:.1f} % of a core per 10,000 events/s")
PY
}

measure direct http://127.0.0.1:18081 1
measure router http://127.0.0.1:18000 1000001
