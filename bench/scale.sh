#!/usr/bin/env bash
# Runs N sim jobs at once, for each N given (default 1000 5000 10000), each
# in a fresh rftd, and measures while they run: how long a sweep.submit of
# N trials takes to answer and how long until all N run; then, over a
# window, the tick's p50/p99 and the longest the loop was held (from
# daemon.status), daemon.ping and
# daemon.status round trips p50/p99 (paced: a call every 20 ms), the
# daemon's RSS and CPU, and the metric rows it stored per second.
#   bench/scale.sh [N...]
# Environment: BUILD_DIR (build), SPEED (simulated seconds per second,
# 30), WINDOW (seconds per measurement, 20), LONG (seconds to let the
# largest N run before measuring it again as the store grows, 0).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 10000)
speed=${SPEED:-30}
window=${WINDOW:-20}
long=${LONG:-0}
cmake --build "$build" --target rftd rftctl ctl_latency >/dev/null
ctl() { "$build/ctl/rftctl" -s "$dir/control.sock" "$@"; }


# cpu_ticks: user + system clock ticks of rftd so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

# status_field PATH...: a number from daemon.status's result.
status_field() {
	ctl --json status | python3 -c '
import json, sys
r = json.load(sys.stdin)
for k in sys.argv[1:]:
    r = r[k]
print(r)' "$@"
}

latency() { # METHOD: "p50 p99" in ms over the window
	"$build/bench/ctl_latency" -s "$dir/control.sock" -m "$1" -i 20 \
		-t "$window" -n 1000000 |
		sed -n 's/.*p50 \([0-9.]*\).*p99 \([0-9.]*\) .*/\1 \2/p' |
		awk '{ printf "%.3f %.3f", $1 / 1000, $2 / 1000 }'
}

measure() { # N LABEL
	local n=$1 label=$2 rows0 rows1 cpu0 cpu1 t0 t1 ping status rss
	rows0=$(query 'SELECT count(*) FROM metrics')
	cpu0=$(cpu_ticks)
	t0=$(date +%s.%N)
	ping=$(latency daemon.ping)
	status=$(latency daemon.status)
	t1=$(date +%s.%N)
	cpu1=$(cpu_ticks)
	rows1=$(query 'SELECT count(*) FROM metrics')
	rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")
	printf '%6d %-8s tick p50 %7.2f p99 %7.2f ms; loop held p99 %6.2f max %7.2f ms | ping p50 %6.3f p99 %8.3f ms | status p50 %6.3f p99 %8.3f ms | RSS %6s MiB | CPU %3.0f%% | %6.0f rows/s\n' \
		"$n" "$label" "$(status_field ticks p50_ms)" \
		"$(status_field ticks p99_ms)" \
		"$(status_field loop_holds p99_ms)" \
		"$(status_field loop_holds max_ms)" $ping $status "$rss" \
		"$(echo "($cpu1 - $cpu0) / $(getconf CLK_TCK) / ($t1 - $t0) * 100" | bc -l)" \
		"$(echo "($rows1 - $rows0) / ($t1 - $t0)" | bc -l)"
}

bench_dataset
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); sim speed $speed; window ${window} s"
for n in "${sizes[@]}"; do
	bench_start_rftd "[backend \"sim\"]
type = sim
speed = $speed
max_concurrent = $n"
	# Long jobs that stay running through the windows.
	bench_long_spec scale "$n"
	t0=$(date +%s.%N)
	ctl submit --yes "$dir/spec.json" >/dev/null
	t1=$(date +%s.%N)
	# Until all run, or for 5 minutes at most (a job starved of polls
	# stays queued).
	for _ in $(seq 600); do
		running=$(query "SELECT count(*) FROM jobs WHERE state = 'running'")
		[ "$running" -lt "$n" ] || break
		sleep 0.5
	done
	t2=$(date +%s.%N)
	printf '%6d submit answered in %.3f s; %d running after %.1f s\n' \
		"$n" "$(echo "$t1 - $t0" | bc -l)" "$running" \
		"$(echo "$t2 - $t0" | bc -l)"
	measure "$n" running
	if [ "$long" -gt 0 ] && [ "$n" = "${sizes[-1]}" ]; then
		sleep "$long"
		measure "$n" "+${long}s"
	fi
	bench_stop_rftd
done
