#!/usr/bin/env bash
# Starts rftd in a temporary directory and submits 10,000-trial grid
# sweeps (three runs, each new trials) through the socket with
# bench/sweep_create; prints trials/s and the daemon's memory.
#   bench/sweep_create.sh [COUNT]      (BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
count=${1:-10000}
cmake --build "$build" --target rftd rftctl sweep_create >/dev/null

bench_dataset
# A slow tick and one job at a time: the benchmark measures creation.
bench_start_rftd 'tick = 60000
[backend "sim"]
type = sim
max_concurrent = 1'
for run in 1 2 3; do
	"$build/bench/sweep_create" -s "$dir/control.sock" -d "$dir/train.jsonl" \
		-p "$pid" -n "$count" -r "$run"
done
