#!/usr/bin/env bash
# `make fuzz`: schemathesis against the local gateway with openapi.yaml, bounded in time,
# with a valid admin token. Fails on any 5xx or any response that breaks the schema.
set -euo pipefail
cd "$(dirname "$0")/.."

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
PORT=$port ./target/debug/local >"$log" 2>&1 &
gateway=$!
trap 'kill $gateway 2>/dev/null; wait $gateway 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 1 120); do
  grep -q "User API running" "$log" && break
  kill -0 $gateway 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
grep -q "User API running" "$log" || { echo "the local stack did not start"; cat "$log"; exit 1; }

base="http://127.0.0.1:$port"
token=$(curl -sf -X POST "$base/local/login" \
  -d "{\"username\":\"owner@example.com\",\"password\":\"${DEMO_OWNER_PASSWORD:-Demo-Owner-1}\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')

.venv-fuzz/bin/st run openapi.yaml \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks unsupported_method \
  --max-examples "${FUZZ_EXAMPLES:-40}" \
  --request-timeout 30 \
  --seed "${FUZZ_SEED:-42}" \
  --max-time "${FUZZ_SECONDS:-180}" \
  "$@"
