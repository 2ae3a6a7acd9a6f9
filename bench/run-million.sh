#!/usr/bin/env bash
# The million-member rows of BENCHMARKS.md: each named scenario (default: expiry, import and
# segment) three times on SQLite and on PostgreSQL, one JSON line per run.
# Usage: bench/run-million.sh [POSTGRES_URL] [SCENARIO...] > results.jsonl
# A SQLite run needs about 8 GB of free disk in $TMPDIR; a PostgreSQL run as much in the
# cluster. Expect 5 to 15 minutes per run (loading a million members, and for expiry twelve
# million lots, or for segment ten million orders, is most of it).
set -euo pipefail
cd "$(dirname "$0")/.."
PG=postgres://postgres@127.0.0.1:5432/postgres
if [[ "${1:-}" == postgres*://* ]]; then
  PG="$1"
  shift
fi
SCENARIOS=("$@")
if [[ ${#SCENARIOS[@]} -eq 0 ]]; then
  SCENARIOS=(expiry import segment)
fi
cargo build --release -q -p loyalty-cli
L=./target/release/loyalty
for scenario in "${SCENARIOS[@]}"; do
  for run in 1 2 3; do
    $L bench "$scenario" --members 1000000 --json
    $L bench "$scenario" --members 1000000 --json --database-url "$PG"
  done
done
