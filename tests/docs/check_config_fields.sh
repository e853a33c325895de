#!/usr/bin/env bash
# Fails when a binary has a flag (other than --config) without a config.proto field of the same
# name in its config message or that message's limits, so every setting can live in a --config
# file. Usage: check_config_fields.sh BINARY CONFIG_PROTO CONFIG_MESSAGE LIMITS_MESSAGE
set -euo pipefail
binary=$1
proto=$2
config_message=$3
limits_message=$4
flags=$({ "$binary" --helpon=main 2>&1 || true; } | sed -e '1,/Flags from/d' \
  | grep -oE '^    --[a-z0-9_]+' | sed -e 's/^ *--//' | grep -vx config)
fields=$(awk -v a="$config_message" -v b="$limits_message" '
  /^(message|enum) / { inside = ($1 == "message" && ($2 == a || $2 == b)) }
  inside && /^  [A-Za-z].* = [0-9]+;/ { sub(/ = [0-9]+;.*/, ""); print $NF }
' "$proto")
missing=$(comm -23 <(echo "$flags" | sort -u) <(echo "$fields" | sort -u))
if [[ -n "$missing" ]]; then
  echo "flags of $(basename "$binary") without a $config_message/$limits_message field:" $missing >&2
  exit 1
fi
echo "1 passed, 0 failed"
