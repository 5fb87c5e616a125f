#!/usr/bin/env bash
# Starts rftd in a temporary directory and submits 10,000-trial grid
# sweeps (three runs, each new trials) through the socket with
# bench/sweep_create; prints trials/s and the daemon's memory.
#   bench/sweep_create.sh [COUNT]      (BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-$PWD/build}
count=${1:-10000}
cmake --build "$build" --target rftd sweep_create >/dev/null

dir=$(mktemp -d "${TMPDIR:-/tmp}/rftd-bench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
	rm -rf "$dir"
}
trap cleanup EXIT
echo '{"messages":[{"role":"user","content":"2+2?"}],"answer":"4"}' >"$dir/train.jsonl"
# A slow tick and one job at a time: the benchmark measures creation.
cat >"$dir/rftd.conf" <<CONF
[daemon]
socket = $dir/control.sock
database = $dir/rftd.db
log_level = warning
tick = 60000

[backend "sim"]
type = sim
max_concurrent = 1
CONF
"$build/daemon/rftd" -f -c "$dir/rftd.conf" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/control.sock" ] && break; sleep 0.05; done
for run in 1 2 3; do
	"$build/bench/sweep_create" -s "$dir/control.sock" -d "$dir/train.jsonl" \
		-p "$pid" -n "$count" -r "$run"
done
