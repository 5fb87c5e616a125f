#!/usr/bin/env bash
# Starts an idle rftd in a temporary directory and measures control-socket
# round trips of daemon.status with bench/ctl_latency.
#   bench/ctl_latency.sh [COUNT]      (default 20000; BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-$PWD/build}
count=${1:-20000}
cmake --build "$build" --target rftd ctl_latency >/dev/null

dir=$(mktemp -d "${TMPDIR:-/tmp}/rftd-bench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
	rm -rf "$dir"
}
trap cleanup EXIT
printf '[daemon]\nsocket = %s/control.sock\ndatabase = %s/rftd.db\nlog_level = warning\n' \
	"$dir" "$dir" >"$dir/rftd.conf"
"$build/daemon/rftd" -f -c "$dir/rftd.conf" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/control.sock" ] && break; sleep 0.05; done
"$build/bench/ctl_latency" -s "$dir/control.sock" -n 1000 >/dev/null # warm-up
"$build/bench/ctl_latency" -s "$dir/control.sock" -n "$count"
"$build/bench/ctl_latency" -s "$dir/control.sock" -n "$count" -m daemon.ping
