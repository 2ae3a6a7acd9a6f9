#!/usr/bin/env bash
# Regenerates docs/screenshots/ from a fresh demo tenant (2,000 members, a year of orders).
set -euo pipefail
cd "$(dirname "$0")"
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent
LOYALTY="$(./loyalty-binary.sh --release)"
WORK="$(mktemp -d)"
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
DB="sqlite://$WORK/demo.db"
"$LOYALTY" --database-url "$DB" demo | tee "$WORK/demo.txt"
OWNER=$(grep "owner:" "$WORK/demo.txt" | awk '{print $2}')
PASSWORD=$(grep "owner:" "$WORK/demo.txt" | awk '{print $4}')
"$LOYALTY" --database-url "$DB" serve --listen 127.0.0.1:18183 --jobs-every 0 >"$WORK/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18183/healthz >/dev/null && break; sleep 0.1; done
BASE_URL=http://127.0.0.1:18183 SCREENSHOTS="$(cd .. && pwd)/docs/screenshots" \
  OWNER_EMAIL="$OWNER" OWNER_PASSWORD="$PASSWORD" CHROMIUM="$(command -v chromium)" node screenshots.js
echo "== screenshots in docs/screenshots/"
