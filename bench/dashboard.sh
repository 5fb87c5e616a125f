#!/usr/bin/env bash
# The dashboard's sweep page on a large sweep: runs TRIALS sim trials of
# 17 epochs each to the end (1,000 trials make about 1,000,000 metric
# rows), then, with rftd's [http] on a free loopback port, fetches the
# sweep page over and over for a window (at least 50 times; the page read
# to its end and checked whole) and prints the time to serve it p50/p99,
# while bench/ctl_latency pings the control socket at the same time
# (paced: a call every 2 ms) and prints its p50/p99, next to the same
# pings with the dashboard idle and beside as many busy processes as the
# fetches kept busy (no fetches: the cost of sharing the CPUs alone).
# Then the same with CLIENTS fetching at once.
#   bench/dashboard.sh [TRIALS]
# Environment: BUILD_DIR (build), WINDOW (seconds per measurement, 10),
# CLIENTS (page fetches at once in the last measurement, 8), METRIC (the
# one the page draws: valid_reward_mean, evaluated every few steps, or
# train_reward_mean, every step: ten times the points).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
trials=${1:-1000}
window=${WINDOW:-10}
clients=${CLIENTS:-8}
metric=${METRIC:-valid_reward_mean}
cmake --build "$build" --target rftd rftctl ctl_latency >/dev/null
ctl() { "$build/ctl/rftctl" -s "$dir/control.sock" "$@"; }
hogs=()
stop_hogs() { [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null || true; }
trap 'stop_hogs; bench_cleanup' EXIT

port=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')

pings() { # "p50 p99" of daemon.ping in ms over the window
	"$build/bench/ctl_latency" -s "$dir/control.sock" -m daemon.ping \
		-i 2 -t "$window" -n 100000000 |
		sed -n 's/.*p50 \([0-9.]*\).*p99 \([0-9.]*\) .*/\1 \2/p' |
		awk '{ printf "p50 %.3f p99 %.3f ms", $1 / 1000, $2 / 1000 }'
}

# fetch CLIENTS: GETs of the sweep page, each on a new connection, by
# CLIENTS threads for the window (50 at least); prints the time to the
# page's last byte p50/p99/max and what the page held.
fetch() {
	python3 - "$port" "$window" "$1" "$metric" <<'PY'
import http.client, sys, threading, time
port, window, clients = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
page = "/sweeps/1?metric=" + sys.argv[4]
lat, sizes, errors, lock = [], [], [], threading.Lock()
end = time.monotonic() + window

def client():
    while True:
        with lock:
            if errors or (time.monotonic() >= end and len(lat) >= 50):
                return
        t0 = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("GET", page)
            r = c.getresponse()
            body = r.read()
            c.close()
        except OSError as e:
            errors.append("sweep page: %s" % e)
            return
        t = time.monotonic() - t0
        if r.status != 200 or not body.rstrip().endswith(b"</html>"):
            errors.append("sweep page: status %d, %d bytes, not a whole page"
                          % (r.status, len(body)))
            return
        with lock:
            lat.append(t)
            sizes.append((len(body), body.count(b'class="curve"')))

threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    sys.exit(errors[0])
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p / 100 * (len(lat) - 1) + 0.5))]
size, curves = sizes[-1]
print("%4d fetches: p50 %7.2f p99 %7.2f max %7.2f ms (%d KiB, %d curves)"
      % (len(lat), pct(50) * 1e3, pct(99) * 1e3, lat[-1] * 1e3,
         size // 1024, curves))
PY
}

bench_dataset
bench_start_rftd "tick = 100
[backend \"sim\"]
type = sim
speed = 100000
max_concurrent = $trials
[http]
listen = 127.0.0.1:$port"
bench_spec dashboard sim o4-mini-2025-04-16 "$trials" \
	"{\"validation_file\": \"$dir/train.jsonl\",
	  \"hyperparameters\": {\"n_epochs\": 17}}"
t0=$SECONDS
ctl submit --yes "$dir/spec.json" >/dev/null
while [ "$(query "SELECT state FROM sweeps WHERE id = 1")" != completed ]; do
	[ $((SECONDS - t0)) -lt 1800 ] || {
		echo "the sweep did not complete in 30 minutes" >&2
		exit 1
	}
	sleep 1
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
	"window ${window} s"
printf 'sweep of %d trials, %d metric rows (%d of %s), ran in %d s\n' \
	"$trials" "$(query 'SELECT count(*) FROM metrics')" \
	"$(query "SELECT count(*) FROM reward_curves WHERE sweep_id = 1
		AND metric = '$metric'")" "$metric" \
	$((SECONDS - t0))

echo "ctl ping, dashboard idle:         $(pings)"
for n in 1 "$clients"; do
	pings >"$dir/pings" &
	ping_pid=$!
	page=$(fetch "$n")
	wait "$ping_pid"
	printf 'sweep page, %2d client(s) at once: %s\n' "$n" "$page"
	echo "ctl ping meanwhile:               $(cat "$dir/pings")"
	# The same pings beside as many busy processes as the fetches kept
	# busy (the client, and a page rendered per thread of the pool): what
	# the CPUs being shared costs the loop, dashboard or not.
	busy=$((n < 4 ? n + 1 : 5))
	hogs=()
	for _ in $(seq "$busy"); do
		sh -c 'while :; do :; done' &
		hogs+=($!)
	done
	printf 'ctl ping beside %d busy processes: %s\n' "$busy" "$(pings)"
	kill "${hogs[@]}"
	wait "${hogs[@]}" 2>/dev/null || true
	hogs=()
done
