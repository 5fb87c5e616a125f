#!/usr/bin/env bash
# Time from exec to a served daemon.ping, on a store with live jobs and
# their metrics: fills a store by running JOBS sim jobs for SECONDS (or
# until it holds ROWS metric rows), stops rftd, then starts it three
# times, each measured from exec to the first ping answered.
#   bench/restart.sh [JOBS] [SECONDS] [ROWS]
#   (defaults 10000, 600, 10000000; BUILD_DIR=build, SPEED=30)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
jobs=${1:-10000}
secs=${2:-600}
rows=${3:-10000000}
speed=${SPEED:-30}
cmake --build "$build" --target rftd rftctl >/dev/null


# ping_after_exec: starts rftd and prints the seconds until a ping is
# answered (a client that retries as fast as the socket refuses).
ping_after_exec() {
	python3 - "$build/daemon/rftd" "$dir/rftd.conf" "$dir/control.sock" \
		"$dir/rftd.log" <<'PY'
import json, os, socket, subprocess, sys, time
rftd, conf, sock, log = sys.argv[1:]
t0 = time.monotonic()
p = subprocess.Popen([rftd, "-f", "-c", conf], stderr=open(log, "a"))
while True:
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"daemon.ping"}\n')
        if b'"pong"' in s.recv(4096):
            break
    except OSError:
        time.sleep(0.0005)
    finally:
        s.close()
t = time.monotonic() - t0
print("%.3f" % t)
print(p.pid, file=sys.stderr)
p.terminate()
p.wait()
PY
}

bench_dataset
bench_start_rftd "[backend \"sim\"]
type = sim
speed = $speed
max_concurrent = $jobs"
bench_long_spec restart "$jobs"
"$build/ctl/rftctl" -s "$dir/control.sock" submit --yes "$dir/spec.json" >/dev/null
end=$((SECONDS + secs))
while [ $SECONDS -lt $end ] &&
	[ "$(query 'SELECT count(*) FROM metrics')" -lt "$rows" ]; do
	sleep 5
done
kill -TERM "$pid"
wait "$pid" || true
pid=
echo "store: $(query "SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded', 'failed', 'cancelled', 'lost', 'pending')") live jobs," \
	"$(query 'SELECT count(*) FROM metrics') metric rows," \
	"$(du -m "$dir/rftd.db" | cut -f1) MB"
for run in 1 2 3; do
	echo "restart $run: first ping answered $(ping_after_exec 2>/dev/null) s after exec"
done
