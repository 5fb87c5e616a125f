#!/usr/bin/env bash
# Starts an idle rftd in a temporary directory and measures control-socket
# round trips of daemon.status with bench/ctl_latency.
#   bench/ctl_latency.sh [COUNT]      (default 20000; BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
count=${1:-20000}
cmake --build "$build" --target rftd rftctl ctl_latency >/dev/null

bench_start_rftd
"$build/bench/ctl_latency" -s "$dir/control.sock" -n 1000 >/dev/null # warm-up
"$build/bench/ctl_latency" -s "$dir/control.sock" -n "$count"
"$build/bench/ctl_latency" -s "$dir/control.sock" -n "$count" -m daemon.ping
