#!/usr/bin/env bash
# Writes topic_partitions.tsv: golden topic -> hash -> partition vectors, computed with the
# xxhsum tool (Debian package `xxhash`), independently of ringcast's own code.
# Columns: topic, XXH3-64 (hex, seed 0), partition at Q = 16384 (hash >> 50), at Q = 1024
# (hash >> 54), at Q = 1 (always 0). Re-run only to add vectors: existing lines must not change.
set -euo pipefail
cd "$(dirname "$0")"
topics=(a b z 0 orders/42 chat/room-1 user:1234@tenant-7 dash.metrics~cpu_0
  "auction/lot/0000000000000000001" "abcdefghijklmnopqrstuvwxyz012345" "A-Z_a-z.0-9~:@/-"
  "$(printf 'x%.0s' {1..255})" "$(printf 'y%.0s' {1..256})")
for i in $(seq 1 40); do topics+=("topic-$i"); done
tmp=$(mktemp)
{
  printf '# topic\txxh3_64\tpartition_q16384\tpartition_q1024\tpartition_q1\n'
  for t in "${topics[@]}"; do
    printf '%s' "$t" > "$tmp"
    h=$(xxhsum -H3 "$tmp" | sed -E 's/.*= ([0-9a-f]{16})$/\1/')
    printf '%s\t%s\t%d\t%d\t0\n' "$t" "$h" $((0x$h >> 50 & 0x3fff)) $((0x$h >> 54 & 0x3ff))
  done
} > topic_partitions.tsv
rm -f "$tmp"
