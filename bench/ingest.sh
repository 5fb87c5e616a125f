#!/usr/bin/env bash
# Runs bench/ingest (metric rows through the daemon's ingestion path, then
# leaderboard latency) and SQLite's own rate for the same rows at the
# same durability and batch (bench/sqlite_limit), and prints rftd's share.
#   bench/ingest.sh [TRIALS] [METRIC_ROWS] [ROWS_PER_COMMIT]
#   (defaults 10000, 1000000, 2000; BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-$PWD/build}
trials=${1:-10000}
rows=${2:-1000000}
batch=${3:-2000}
cmake --build "$build" --target ingest sqlite_limit >/dev/null
out=$("$build/bench/ingest" -t "$trials" -m "$rows" -b "$batch")
echo "$out"
rate=$(echo "$out" | sed -n 's/^ingest: .*: \([0-9]*\) rows\/s.*/\1/p')
limit=$("$build/bench/sqlite_limit" metrics "$rows" "$batch" "$trials")
echo "SQLite's own limit for the same rows, $batch a commit: $limit rows/s;" \
	"rftd reaches $(echo "scale=3; $rate / $limit" | bc)"
