#!/usr/bin/env bash
# Issue 19's series: the till at 64, 16 and 1 connections three times each on both databases,
# two instances on PostgreSQL, then the million-member scenarios once each. Prints JSON lines;
# BENCHMARKS.md's "Chain scale" section is made from them.
# Usage: bench/run-scale.sh [POSTGRES_URL] > results.jsonl   (the 1M part takes about an hour)
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
[ "${SCALE_NO_BUILD:-0}" = 1 ] || cargo build --release -q -p loyalty-cli
L=./target/release/loyalty
for run in 1 2 3; do
  for connections in 64 16 1; do
    $L bench pos --duration 10 --connections "$connections" --members 10000 --json
    $L bench pos --duration 10 --connections "$connections" --members 10000 --json --database-url "$PG"
  done
  $L bench pos --duration 10 --connections 64 --members 10000 --instances 2 --json --database-url "$PG"
done
if [ "${SCALE_1M:-1}" = 1 ]; then
  for db in "" "$PG"; do
    args=(--json); [ -n "$db" ] && args+=(--database-url "$db")
    $L bench import --members 1000000 "${args[@]}"
    $L bench segment --members 1000000 "${args[@]}"
    $L bench expiry --members 1000000 "${args[@]}"
  done
fi
