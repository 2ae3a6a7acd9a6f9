#!/usr/bin/env bash
# Runs the admin UI's end-to-end tests in headless Chromium against a real `loyalty serve`,
# once on a fresh SQLite file and once on a fresh PostgreSQL database.
# Usage: e2e/run.sh [POSTGRES_URL]   (SCREENSHOTS=DIR to keep screenshots of the pages)
# Installs what is missing: Debian's chromium, and playwright-core from npm (never a browser
# download: Playwright drives the system's Chromium).
set -euo pipefail
cd "$(dirname "$0")"
PG="${1:-${LOYALTY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"

if ! command -v chromium >/dev/null; then
  echo "== installing chromium (Debian)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent

LOYALTY="$(./loyalty-binary.sh)"
. ./serve-helpers.sh
# The webhook test ping goes to a receiver the test runs on 127.0.0.1.
SERVE_FLAGS="--allow-private-webhooks"

run_against() {
  local name="$1" url="$2" port="$3"
  echo "== e2e on $name"
  start_server "$name" "$url" "$port"
  if ! BASE_URL="http://127.0.0.1:$port" CHROMIUM="$(command -v chromium)" npm test --silent; then
    echo "-- server log ($name):"; tail -n 50 "$WORK/$name.log"; exit 1
  fi
  stop_server
}

run_against sqlite "sqlite://$WORK/e2e.db" 18181
fresh_postgres loyalty_e2e
run_against postgres "$PG_URL" 18182
echo "== e2e passed on SQLite and PostgreSQL"
