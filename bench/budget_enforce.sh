#!/usr/bin/env bash
# Budget enforcement at scale: 1,000 simulated jobs running at once, then
# the sweep's limit is lowered below what they will spend by the next
# tick; prints how long rftd took from the crossing (the tick that saw
# it) to all stop requests issued, from the daemon's own measurement.
#   bench/budget_enforce.sh [JOBS]      (default 1000; BUILD_DIR=build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
jobs=${1:-1000}
cmake --build "$build" --target rftd rftctl >/dev/null

bench_dataset
# Slow simulated time: jobs stay running while the limit is lowered.
bench_start_rftd "tick = 200
[backend \"sim\"]
type = sim
max_concurrent = $jobs
speed = 20"
ctl() { "$build/ctl/rftctl" -s "$dir/control.sock" "$@"; }
bench_spec enforce sim m "$jobs" '{"budget_usd": 1e7}'
ctl submit "$dir/spec.json" >/dev/null
count() { ctl sql "SELECT count(*) FROM jobs WHERE state = 'running'" --format csv | tail -n 1 | tr -d '\r'; }
for _ in $(seq 600); do [ "$(count)" -ge "$jobs" ] && break; sleep 0.1; done
echo "running jobs: $(count)"
spent=$(ctl --json budget | python3 -c 'import json,sys; print([s for s in json.load(sys.stdin)["scopes"] if s["scope"]=="sweep:1"][0]["spent_usd"])')
ctl budget set sweep:1 "$spent" >/dev/null
for _ in $(seq 300); do grep -q "stop requests issued" "$dir/rftd.log" && break; sleep 0.05; done
grep "stop requests issued" "$dir/rftd.log" | sed 's/^warning: //'
for _ in $(seq 300); do [ "$(count)" -eq 0 ] && break; sleep 0.1; done
echo "running jobs after the halt: $(count)"
