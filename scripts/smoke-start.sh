#!/usr/bin/env bash
# Proves the README's first command: `npm start` with no environment answers /health with
# status ok and serves /docs within 30 s. Runs in a scratch copy of the data dir.
set -euo pipefail
port=${SMOKE_PORT:-3977}
data=$(mktemp -d)
log=$(mktemp)
# Its own process group, so cleanup stops npm and the node server it started.
admin_password="smoke-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
setsid env -i PATH="$PATH" HOME="$HOME" PORT="$port" PROOFLINE_DATA_DIR="$data" \
  PROOFLINE_ADMIN_EMAIL=ops@smoke.test PROOFLINE_ADMIN_PASSWORD="$admin_password" npm start >"$log" 2>&1 &
pid=$!
cleanup() { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$log"; }
trap cleanup EXIT
start=$(date +%s)
until curl -sf "http://127.0.0.1:$port/health" | grep -q '"status":"ok"'; do
  if (( $(date +%s) - start > 30 )); then echo "smoke: /health not ok within 30 s"; cat "$log"; exit 1; fi
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/docs" | grep -qi swagger || { echo "smoke: /docs does not serve the API UI"; exit 1; }
# The README's one command for a demo token, then the token at work.
login() { curl -sf -X POST "http://127.0.0.1:$port/auth/login" -H 'Content-Type: application/json' -d "$1" | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken'; }
token=$(login '{"email":"customer-admin@demo.proofline.local","password":"proofline-demo-password"}') || { echo "smoke: the demo sign-in failed"; cat "$log"; exit 1; }
curl -sf "http://127.0.0.1:$port/workspaces/00000000-0000-7000-8000-000000000001" -H "Authorization: Bearer $token" | grep -q '"name":"Demo Workspace"' \
  || { echo "smoke: the demo token does not read the demo workspace"; exit 1; }
admin=$(login "{\"email\":\"ops@smoke.test\",\"password\":\"$admin_password\"}") || { echo "smoke: the PROOFLINE_ADMIN_EMAIL account cannot sign in"; cat "$log"; exit 1; }
curl -sf "http://127.0.0.1:$port/auth/me" -H "Authorization: Bearer $admin" | grep -q '"roles":\["ADMIN"\]' || { echo "smoke: the first admin is not ADMIN"; exit 1; }
echo "smoke: npm start answered /health ok, served /docs, signed in the demo and the first admin after $(( $(date +%s) - start )) s"
