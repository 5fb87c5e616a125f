#!/usr/bin/env bash
# The process backend's own overhead, with trivial runs (command `true`):
#   1. LOCAL_RUNS runs through a local launcher, max_concurrent 8;
#   2. SLURM_RUNS runs through the slurm launcher on the private Slurm of
#      tests/slurm/ (2 one-CPU jobs at once on its node), against sbatch
#      called directly for the same trivial job (SLURM_DIRECT jobs, one
#      at a time).
# For each: runs started per second, submit-to-running latency (from
# run.json's launched_at, written when rftd decides to launch, and from
# the job's created_at in the store, to the mtime of the pid file that
# the wrapper writes as its first act), and rftd's CPU time while they run
# (/proc/PID/stat: utime+stime of rftd, and cutime+cstime of the commands
# it ran and reaped: sbatch, squeue, sacct; local runs are reaped by rftd
# too).  The direct sbatch baseline is measured the same way: the time
# before sbatch to the mtime of the pid file its job script writes.
#   bench/process_overhead.sh [LOCAL_RUNS [SLURM_RUNS]]
#       (defaults 200 and 50; BUILD_DIR=build, POLL=0.1 (poll_interval),
#       TICK=rftd's tick in ms (default: rftd's own), SLURM_DIRECT=20)
# A run's end is seen at a poll and its slot refilled at a tick, so with
# runs this short the tick bounds the local throughput (about
# max_concurrent / 2 ticks).
# The Slurm part needs root and the Slurm packages; without them it is
# left out with a note.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
. bench/lib.sh
local_runs=${1:-200}
slurm_runs=${2:-50}
direct_runs=${SLURM_DIRECT:-20}
poll=${POLL:-0.1}
cmake --build "$build" --target rftd rftctl >/dev/null

cluster=$dir/slurm
slurm=0
cleanup_all() {
	bench_cleanup_rftd
	[ "$slurm" = 1 ] && "$src/tests/slurm/stop.sh" "$cluster" --purge >/dev/null 2>&1
	rm -rf "$dir"
}
bench_cleanup_rftd() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" || true
	fi
}
trap cleanup_all EXIT

if out=$("$src/tests/slurm/start.sh" "$cluster" 2>&1); then
	slurm=1
	# shellcheck disable=SC1091
	. "$cluster/slurm.env"
else
	echo "slurm part left out: $(echo "$out" | tail -n 1)"
fi

conf="${TICK:+tick = $TICK
}[backend \"loc\"]
type = process
launcher = local
command = true
workdir = $dir/runs-local
gpus_per_job = 0
max_concurrent = 8
poll_interval = $poll
[price \"loc/*\"]
per_training_hour = 1"
if [ "$slurm" = 1 ]; then
	conf="$conf
[backend \"hpc\"]
type = process
launcher = slurm
command = true
workdir = $dir/runs-slurm
gpus_per_job = 0
max_concurrent = 2
poll_interval = $poll
[price \"hpc/*\"]
per_training_hour = 1"
fi
bench_dataset
bench_start_rftd "$conf"
ctl() { "$build/ctl/rftctl" -s "$dir/control.sock" "$@"; }
hz=$(getconf CLK_TCK)
# rftd's CPU seconds: "self children", from /proc/PID/stat.
cpu() {
	awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.3f %.3f\n", ($12 + $13) / hz, ($14 + $15) / hz }' "/proc/$pid/stat"
}
now() { date +%s.%N; }

# SWEEP_ID BACKEND RUNS: submits, waits for the sweep, prints the figures.
phase() {
	local name=$1 backend=$2 runs=$3 id t0 t1 c0 c1 state
	bench_spec "$name" "$backend" m "$runs"
	c0=$(cpu)
	t0=$(now)
	id=$(ctl submit "$dir/spec.json" | sed -n 's/^sweep \([0-9]*\) .*/\1/p')
	while :; do
		state=$(ctl --json sweep show "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
		[ "$state" = completed ] && break
		sleep 0.05
	done
	t1=$(now)
	c1=$(cpu)
	ctl sql "SELECT id, remote_id, state, created_at, submitted_at, started_at, finished_at FROM jobs j WHERE trial_id IN (SELECT trial_id FROM sweep_trials WHERE sweep_id = $id)" \
		--format json --max-rows 100000 >"$dir/jobs-$name.json"
	python3 - "$name" "$runs" "$t0" "$t1" "$c0" "$c1" "$dir/jobs-$name.json" "$dir/runs-$name" "$backend" <<'PY'
import json, os, statistics, sys
name, runs, t0, t1, c0, c1, path, workdir, backend = sys.argv[1:]
runs, t0, t1 = int(runs), float(t0), float(t1)
s0, k0 = map(float, c0.split()); s1, k1 = map(float, c1.split())
d = json.load(open(path))
rows = d["rows"] if isinstance(d, dict) and "rows" in d else d
if rows and isinstance(rows[0], list):
    cols = d["columns"]
    rows = [dict(zip(cols, r)) for r in rows]
states = {}
for r in rows:
    states[r["state"]] = states.get(r["state"], 0) + 1
lat_launch, lat_created, pid_times, lat_end = [], [], [], []
for r in rows:
    jd = os.path.join(workdir, r["remote_id"])
    try:
        rj = json.load(open(os.path.join(jd, "run.json")))
        mt = os.stat(os.path.join(jd, "pid")).st_mtime
    except OSError:
        continue
    pid_times.append(mt)
    try:
        lat_end.append(r["finished_at"] - os.stat(os.path.join(jd, "exit")).st_mtime)
    except (OSError, TypeError):
        pass
    lat_launch.append(mt - rj["launched_at"])
    lat_created.append(mt - r["created_at"])
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
def fmt(v):
    return ("median %.3f s, p90 %.3f s, max %.3f s"
            % (statistics.median(v), q(v, 0.9), max(v))) if v else "n/a"
wall = t1 - t0
started = (len(pid_times) / (max(pid_times) - t0)) if pid_times else 0
print("%s (%s): %d runs, states %s" % (name, backend, runs, states))
print("  wall %.2f s submit to sweep completed: %.1f runs completed/s" % (wall, runs / wall))
print("  runs started/s (pid files written by the last one's): %.1f" % started)
print("  launched_at -> running (pid file): " + fmt(lat_launch))
print("  job created -> running (pid file): " + fmt(lat_created))
print("  run ended (exit file) -> job finished in the store: " + fmt(lat_end))
print("  rftd CPU: %.2f s own (%.1f ms per run, %.1f%% of one core), %.2f s of reaped children (runs, sbatch/squeue/sacct)"
      % (s1 - s0, 1000 * (s1 - s0) / runs, 100 * (s1 - s0) / wall, k1 - k0))
PY
}

echo "rftd tick ${TICK:-default} ms, poll_interval $poll s"
phase local loc "$local_runs"

if [ "$slurm" = 1 ] && [ "$slurm_runs" -gt 0 ]; then
	phase slurm hpc "$slurm_runs"
	# The baseline: sbatch called directly, one trivial job at a time, the
	# same measure (the time before sbatch to its script's pid file).
	mkdir -p "$dir/direct"
	printf '#!/bin/sh\necho $$ > "$1.tmp" && mv "$1.tmp" "$1"\ntrue\n' >"$dir/direct/job.sh"
	chmod +x "$dir/direct/job.sh"
	c0=$(cpu)
	python3 - "$dir/direct" "$direct_runs" <<'PY'
import os, statistics, subprocess, sys, time
d, n = sys.argv[1], int(sys.argv[2])
lat, sb = [], []
for i in range(n):
    pidf = os.path.join(d, "pid-%d" % i)
    t0 = time.time()
    out = subprocess.run(["sbatch", "--parsable", "--chdir=" + d,
                          "--output=/dev/null", "--job-name=direct-%d" % i,
                          os.path.join(d, "job.sh"), pidf],
                         capture_output=True, text=True, check=True).stdout
    sb.append(time.time() - t0)
    jid = out.split(";")[0].strip()
    while not os.path.exists(pidf):
        time.sleep(0.005)
    lat.append(os.stat(pidf).st_mtime - t0)
    # One at a time: wait until the job has left the node.
    while subprocess.run(["squeue", "-h", "-j", jid, "-o", "%T"],
                         capture_output=True, text=True).stdout.strip() \
            not in ("", "COMPLETED"):
        time.sleep(0.02)
lat.sort()
print("direct sbatch (one at a time): %d jobs" % n)
print("  sbatch itself: median %.3f s" % statistics.median(sb))
print("  before sbatch -> running (pid file): median %.3f s, p90 %.3f s, max %.3f s"
      % (statistics.median(lat), lat[int(round(0.9 * (n - 1)))], lat[-1]))
PY
	c1=$(cpu)
	echo "  rftd CPU meanwhile (idle, for scale): $c0 -> $c1 (own, children)"
fi
