#!/usr/bin/env bash
# Proves the README's first command: `npm start` with no environment answers /health with
# status ok and serves /docs within 30 s. Runs in a scratch copy of the data dir.
set -euo pipefail
port=${SMOKE_PORT:-3977}
data=$(mktemp -d)
log=$(mktemp)
# Its own process group, so cleanup stops npm and the node server it started.
setsid env -i PATH="$PATH" HOME="$HOME" PORT="$port" PROOFLINE_DATA_DIR="$data" npm start >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$log"; }
trap cleanup EXIT
start=$(date +%s)
until curl -sf "http://127.0.0.1:$port/health" | grep -q '"status":"ok"'; do
  if (( $(date +%s) - start > 30 )); then echo "smoke: /health not ok within 30 s"; cat "$log"; exit 1; fi
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/docs" | grep -qi swagger || { echo "smoke: /docs does not serve the API UI"; exit 1; }
echo "smoke: npm start answered /health ok and served /docs after $(( $(date +%s) - start )) s"
