#!/usr/bin/env bash
# A first look at rftd: builds it, starts the daemon with its own config in
# a temporary directory, plans and runs a simulated sweep from examples/
# (2 graders x 3 learning rates x 2 epoch counts x 2 seeds = 24 trials,
# with a $1,500 budget in simulated dollars), follows it with `rftctl
# watch`, prints the leaderboard, the spend and a summary computed in SQL,
# and stops the daemon.
#
# Environment: BUILD_DIR (default build-demo); RFTD and RFTCTL to use
# binaries built elsewhere (nothing is installed or built then);
# DEMO_SPEED (simulated seconds per second, default 3600: an hour a second).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-$root/build-demo}
speed=${DEMO_SPEED:-3600}

if [ -z "${RFTD:-}" ] || [ -z "${RFTCTL:-}" ]; then
	scripts/install-deps.sh
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DBUILD_TESTING=OFF >/dev/null
	cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
	RFTD=$build/daemon/rftd
	RFTCTL=$build/ctl/rftctl
fi

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
log_level = warning
tick = 100

[backend "sim"]
type = sim
speed = $speed
max_concurrent = 6
failure_rate = 0.05
CONF
ctl() { "$RFTCTL" -s "$demo/run/control.sock" "$@"; }
say() {
	if [ -t 1 ]; then
		printf '\n\033[1m$ %s\033[0m\n' "$*"
	else
		printf '\n$ %s\n' "$*"
	fi
}

"$RFTD" -f -c "$demo/rftd.conf" 2>"$demo/rftd.log" &
pid=$!
# Ready when it answers; a loaded machine may take a while.
for _ in $(seq 1200); do
	ctl ping >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || {
		echo "demo: rftd exited; its log:" >&2
		cat "$demo/rftd.log" >&2
		exit 1
	}
	sleep 0.05
done

say "rftctl plan examples/sweep-demo.json"
ctl plan examples/sweep-demo.json

say "rftctl submit examples/sweep-demo.json"
submitted=$(ctl submit examples/sweep-demo.json)
echo "$submitted"
sweep=$(echo "$submitted" | awk '{ print $2 }')

say "rftctl watch $sweep"
ctl watch "$sweep"

say "rftctl leaderboard $sweep --limit 8"
ctl leaderboard "$sweep" --limit 8

say "rftctl budget   # simulated dollars: \$100 per training hour"
ctl budget

say "sqlite3 -readonly rftd.db   # mean best reward per grader and learning rate"
sqlite3 -readonly -column -header "$demo/state/rftd.db" <<SQL
SELECT t.grader_name AS grader,
       json_extract(t.hyperparameters, '$.learning_rate_multiplier') AS lr,
       count(*) AS trials,
       round(avg(t.objective), 4) AS mean_best,
       round(max(t.objective), 4) AS top,
       sum(j.attempts) AS jobs
FROM sweep_trials l
JOIN trials t ON t.id = l.trial_id
JOIN (SELECT trial_id, count(*) AS attempts FROM jobs GROUP BY trial_id) j
  ON j.trial_id = t.id
WHERE l.sweep_id = $sweep
GROUP BY 1, 2 ORDER BY mean_best DESC;
SQL

say "kill -TERM rftd"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
if [ "$status" -ne 0 ] || [ -e "$demo/run/control.sock" ]; then
	echo "rftd did not stop cleanly (exit $status):" >&2
	cat "$demo/rftd.log" >&2
	exit 1
fi
echo "rftd stopped cleanly; the demo's files are removed"
