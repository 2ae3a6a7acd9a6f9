# Sourced by e2e/run.sh and .ci/schemathesis.sh: a throw-away `loyalty serve` on a fresh
# SQLite file or a fresh PostgreSQL database, cleaned up on exit. Expects $LOYALTY (the binary)
# and $PG (a PostgreSQL URL whose database part is replaced by a new one).
WORK="$(mktemp -d)"
SERVER=""
PG_DB=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  [ -n "$PG_DB" ] && psql -q "$PG" -c "drop database if exists $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# fresh_postgres NAME: creates a database (dropped on exit); its URL is then in $PG_URL.
fresh_postgres() {
  PG_DB="$1_$$"
  psql -q "$PG" -c "create database $PG_DB" >/dev/null
  PG_URL="${PG%/*}/$PG_DB"
}

# start_server NAME URL PORT: serves in the background (log in $WORK/NAME.log) until healthy.
start_server() {
  local name="$1" url="$2" port="$3"
  # A secret key (webhook and connection secrets are sealed with it; PostgreSQL needs it given),
  # and whatever the caller adds in $SERVE_FLAGS (the browser tests' local webhook receiver).
  LOYALTY_SECRET_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" \
    "$LOYALTY" --database-url "$url" serve --listen "127.0.0.1:$port" --jobs-every 0 ${SERVE_FLAGS:-} >"$WORK/$name.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "the server on $name did not start:"; tail -n 20 "$WORK/$name.log"; return 1
}

stop_server() {
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}
