#!/usr/bin/env bash
# A first look at rftd: builds it, starts the daemon with its own config in
# a temporary directory, plans and runs a simulated sweep from examples/
# (2 graders x 3 learning rates x 2 epoch counts x 2 seeds = 24 trials,
# with a $1,500 budget in simulated dollars, and ASHA stopping the trials
# that fall behind), follows it with `rftctl watch`, prints the
# leaderboard, the spend and a summary computed in SQL, and stops the
# daemon.
#
# With --process it runs real training instead: a sweep of the example
# trainer (examples/trainers/tiny_grpo.py, a tiny GRPO policy that learns
# a toy task on the CPU) on a process backend, 3 learning rates x 2 seeds,
# priced per GPU-hour, and prints the leaderboard, the spend and the best
# trial's reward curve.  It needs python3 and numpy (python3-numpy).
#
# With --serve rftd also serves its dashboard, and keeps running after
# the sweep with the dashboard up: the demo prints its address and how to
# stop rftd, and leaves its temporary directory for that rftd.
#
# Usage: scripts/demo.sh [--process] [--serve]
#
# Environment: BUILD_DIR (default build-demo); RFTD and RFTCTL to use
# binaries built elsewhere (nothing is installed or built then);
# DEMO_SPEED (simulated seconds per second, default 3600: an hour a second);
# DEMO_PORT (the dashboard's port with --serve, default 8787, or a free
# one when 8787 is taken).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=sim
serve=
for arg in "$@"; do
	case "$arg" in
	--process) mode=process ;;
	--serve) serve=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*)
		echo "usage: scripts/demo.sh [--process] [--serve]" >&2
		exit 2
		;;
	esac
done
root=$PWD
build=${BUILD_DIR:-$root/build-demo}
speed=${DEMO_SPEED:-3600}

if [ -z "${RFTD:-}" ] || [ -z "${RFTCTL:-}" ]; then
	scripts/install-deps.sh
	if [ "$mode" = process ] && ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
		echo "demo: the example trainer needs numpy: apt-get install python3-numpy" >&2
		exit 1
	fi
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

# A port for the dashboard: DEMO_PORT, else 8787 unless it is taken.
free_port() {
	python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    s.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}
http=
if [ -n "$serve" ]; then
	port=${DEMO_PORT:-$(free_port 8787)}
	http="
[http]
listen = 127.0.0.1:$port"
fi

if [ "$mode" = sim ]; then
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
$http
CONF
else
	# The example trainer on this machine; --sleep makes each run last a
	# few seconds, so that the sweep can be followed.
	cat >"$demo/rftd.conf" <<CONF
[daemon]
socket = $demo/run/control.sock
database = $demo/state/rftd.db
log_level = warning
tick = 100

[backend "local"]
type = process
launcher = local
command = $root/examples/trainers/tiny_grpo.py --sleep 0.05
workdir = $demo/runs
max_concurrent = 3
gpus_per_job = 1
poll_interval = 0.5

[price "local/*"]
per_gpu_hour = 2.50
$http
CONF
fi
ctl() { "$RFTCTL" -s "$demo/run/control.sock" "$@"; }
say() {
	if [ -t 1 ]; then
		printf '\n\033[1m$ %s\033[0m\n' "$*"
	else
		printf '\n$ %s\n' "$*"
	fi
}

# Its output goes to the log: with --serve it outlives this script, and
# must not hold the script's stdout open.
"$RFTD" -f -c "$demo/rftd.conf" </dev/null >"$demo/rftd.log" 2>&1 &
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

if [ "$mode" = process ]; then
	spec=examples/sweep-process.json
	say "rftctl plan $spec"
	ctl plan "$spec"

	say "rftctl submit $spec"
	submitted=$(ctl submit "$spec")
	echo "$submitted"
	sweep=$(echo "$submitted" | awk '{ print $2 }')

	say "rftctl watch $sweep"
	ctl watch "$sweep"

	say "rftctl leaderboard $sweep"
	ctl leaderboard "$sweep"

	say "rftctl budget   # \$2.50 per GPU-hour, 1 GPU per run"
	ctl budget

	say "rftctl sql ...   # what each trial's run took and cost"
	ctl sql "SELECT trial_id AS trial, round(objective, 4) AS best,
		round(training_hours * 3600, 1) AS seconds,
		printf('\$%.5f', cost_usd) AS cost
		FROM leaderboard WHERE sweep_id = $sweep ORDER BY trial_id"

	best=$(ctl sql "SELECT trial_id FROM leaderboard WHERE sweep_id = $sweep
		ORDER BY score DESC, trial_id LIMIT 1" --format csv | tail -n 1 | tr -d "\r")
	say "rftctl sql ...   # the validation reward of trial $best, the best, by step"
	ctl sql "SELECT step, round(value, 4) AS valid_reward_mean,
		substr('########################################', 1,
		       CAST(round(value * 40) AS INTEGER)) AS curve
		FROM reward_curves
		WHERE trial_id = $best AND metric = 'valid_reward_mean'
		ORDER BY step"

	say "ls $demo/runs/$sweep-*/$best-1"
	ls "$demo"/runs/"$sweep"-*/"$best"-1
else
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

	say "sqlite3 -readonly rftd.db   # per grader and learning rate: rewards, early stops, cost"
	sqlite3 -readonly -column -header "$demo/state/rftd.db" <<-SQL
	SELECT t.grader_name AS grader,
	       json_extract(t.hyperparameters, '$.learning_rate_multiplier') AS lr,
	       count(*) AS trials,
	       sum(t.state = 'stopped') AS stopped,
	       round(avg(t.objective), 4) AS mean_best,
	       round(max(t.objective), 4) AS top,
	       sum(j.attempts) AS jobs,
	       printf('%.2f', sum(j.cost)) AS sim_usd
	FROM sweep_trials l
	JOIN trials t ON t.id = l.trial_id
	JOIN (SELECT trial_id, count(*) AS attempts, sum(cost_usd) AS cost
	      FROM jobs GROUP BY trial_id) j
	  ON j.trial_id = t.id
	WHERE l.sweep_id = $sweep
	GROUP BY 1, 2 ORDER BY mean_best DESC;
	SQL
fi

if [ -n "$serve" ]; then
	trap - EXIT
	cat <<EOF

The dashboard: http://127.0.0.1:$port/sweeps/$sweep  (all sweeps: http://127.0.0.1:$port/)
rftd keeps running (pid $pid) with its files in $demo.
Stop it, and remove them, with:
  $RFTCTL -s $demo/run/control.sock stop && rm -rf $demo
EOF
	exit 0
fi

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
