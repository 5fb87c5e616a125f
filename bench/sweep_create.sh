#!/usr/bin/env bash
# Starts rftd in a temporary directory and submits 10,000-trial grid
# sweeps (three runs, each new trials) through the socket with
# bench/sweep_create; prints trials/s and the daemon's memory, and after
# each run SQLite's own rate for as many rows (bench/sqlite_limit) and
# rftd's share of it.
#   bench/sweep_create.sh [COUNT]      (BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
count=${1:-10000}
cmake --build "$build" --target rftd rftctl sweep_create sqlite_limit >/dev/null

bench_dataset
# A slow tick and one job at a time: the benchmark measures creation.
bench_start_rftd 'tick = 60000
[backend "sim"]
type = sim
max_concurrent = 1'
for run in 1 2 3; do
	"$build/bench/sweep_create" -s "$dir/control.sock" -d "$dir/train.jsonl" \
		-p "$pid" -n "$count" -r "$run" | tee "$dir/run.txt"
	rate=$(sed -n 's/.* \([0-9]*\) trials\/s.*/\1/p' "$dir/run.txt")
	limit=$("$build/bench/sqlite_limit" trials "$count")
	echo "SQLite's own limit for as many trial-sized rows in one durable" \
		"commit: $limit rows/s; rftd reaches $(echo "scale=3; $rate / $limit" | bc)"
done
