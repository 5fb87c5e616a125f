#!/usr/bin/env bash
# A first look at rftd: builds it, starts the daemon with its own config in
# a temporary directory, asks it for its status with rftctl, and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-$root/build-demo}

scripts/install-deps.sh
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
rftd=$build/daemon/rftd
rftctl=$build/ctl/rftctl

demo=$(mktemp -d "${TMPDIR:-/tmp}/rftd-demo.XXXXXX")
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" || true
	fi
	rm -rf "$demo"
}
trap cleanup EXIT

cat >"$demo/rftd.conf" <<CONF
[daemon]
socket = $demo/run/control.sock
database = $demo/state/rftd.db
log_level = info
CONF

echo "--- rftd -n: the configuration, checked and normalized"
"$rftd" -n -c "$demo/rftd.conf"

echo "--- starting rftd"
"$rftd" -f -c "$demo/rftd.conf" 2>"$demo/rftd.log" &
pid=$!
for _ in $(seq 100); do
	"$rftctl" -s "$demo/run/control.sock" ping >/dev/null 2>&1 && break
	sleep 0.05
done

echo "--- rftctl status"
"$rftctl" -s "$demo/run/control.sock" status

echo "--- stopping rftd (SIGTERM)"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
echo "--- rftd's log"
cat "$demo/rftd.log"
if [ "$status" -ne 0 ] || [ -e "$demo/run/control.sock" ]; then
	echo "rftd did not stop cleanly (exit $status)" >&2
	exit 1
fi
echo "--- rftd stopped cleanly; the demo's files are removed"
