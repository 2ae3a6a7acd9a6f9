#!/usr/bin/env bash
# Runs every scenario three times on SQLite and PostgreSQL and prints the JSON lines that
# BENCHMARKS.md is made from. Usage: bench/run-all.sh [POSTGRES_URL] > results.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${1:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo build --release -q
L=./target/release/loyalty
for run in 1 2 3; do
  $L bench pos --duration 10 --connections 64 --members 10000 --json
  $L bench pos --duration 10 --connections 64 --members 10000 --json --database-url "$PG"
  $L bench expiry --members 100000 --json
  $L bench expiry --members 100000 --json --database-url "$PG"
done
