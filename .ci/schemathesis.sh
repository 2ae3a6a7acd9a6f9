#!/usr/bin/env bash
# Fuzzes the served OpenAPI document with schemathesis, with an admin key, on a fresh SQLite
# file and a fresh PostgreSQL database: any 5xx (not_a_server_error) or any operation that
# answers without valid credentials (ignored_auth) fails CI.
# Usage: .ci/schemathesis.sh POSTGRES_URL [SECONDS per database, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
PG="$1"
SECONDS_PER_DB="${2:-60}"
TARGET="${CARGO_TARGET_DIR:-$(pwd)/target}"
VENV="$TARGET/schemathesis-venv"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  echo "== installing schemathesis in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
fi
LOYALTY="$(e2e/loyalty-binary.sh)"
WORK="$(mktemp -d)"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  [ -n "${PG_DB:-}" ] && psql -q "$PG" -c "drop database if exists $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fuzz() {
  local name="$1" url="$2" port="$3"
  echo "== schemathesis on $name ($SECONDS_PER_DB s)"
  local key
  key=$(LOYALTY_OWNER_PASSWORD=schemathesis-owner "$LOYALTY" --database-url "$url" tenant create \
          --name "Fuzz" --owner-email fuzz@example.vn 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["api_key"])')
  "$LOYALTY" --database-url "$url" serve --listen "127.0.0.1:$port" --jobs-every 0 >"$WORK/$name.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
  done
  # Revoking keys is left out: the fuzzer would find and revoke its own key, and test nothing
  # after that (tests/attacks.rs covers revocation).
  if ! "$VENV/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
      --url "http://127.0.0.1:$port" -H "Authorization: Bearer $key" \
      --checks not_a_server_error,ignored_auth --max-time "$SECONDS_PER_DB" --workers 2 \
      --suppress-health-check all --exclude-path-regex '^/api/v1/api-keys/' --seed 2026 \
      --no-color >"$WORK/$name.schemathesis" 2>&1; then
    tail -n 80 "$WORK/$name.schemathesis"
    echo "-- server log ($name):"; grep -E "ERROR|panicked" "$WORK/$name.log" | tail -n 20 || true
    exit 1
  fi
  grep -E "generated|passed" "$WORK/$name.schemathesis" | tail -n 2
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}

fuzz sqlite "sqlite://$WORK/fuzz.db" 18191
PG_DB="loyalty_fuzz_$$"
psql -q "$PG" -c "create database $PG_DB" >/dev/null
fuzz postgres "${PG%/*}/$PG_DB" 18192
echo "== schemathesis found no server error and no ignored credentials on SQLite and PostgreSQL"
