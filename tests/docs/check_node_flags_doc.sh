#!/usr/bin/env bash
# Fails when a doc's flag reference differs from its binary's --helpon=main (used for
# docs/node.md and docs/router.md; run scripts/update-docs to regenerate them).
set -euo pipefail
binary=$1
doc=$2
expected=$({ "$binary" --helpon=main 2>&1 || true; } | sed -e '1,/Flags from/d')
actual=$(awk '/<!-- flags:end -->/ { skip = 0 } skip { print } /<!-- flags:begin -->/ { skip = 1 }' "$doc" \
  | sed -e '1d' -e '$d')
if [[ "$expected" != "$actual" ]]; then
  echo "$doc flag reference is stale; run scripts/update-docs" >&2
  diff <(echo "$expected") <(echo "$actual") >&2 || true
  exit 1
fi
echo "1 passed, 0 failed"
