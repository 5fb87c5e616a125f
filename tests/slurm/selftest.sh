#!/usr/bin/env bash
# The self-test of the Slurm fixture (ctest: slurm.fixture): starts a
# private cluster in a fresh temporary DIR, runs a failing job and a
# cancelled one, reads them back from `squeue --json` and `sacct -c`, and
# stops the cluster (--purge) whatever happens.
#
# Exit status: 0 passed, 1 failed, 77 skipped (not root, or Slurm is not
# installed: scripts/install-deps.sh installs it).
set -uo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
[ "$(id -u)" -eq 0 ] || {
	echo "skipped: the Slurm fixture needs root"
	exit 77
}
command -v python3 >/dev/null || {
	echo "skipped: python3 is needed to read squeue --json"
	exit 77
}

top=$(mktemp -d /tmp/rftd-slurm.XXXXXX) || exit 1
DIR=$top/slurm
cleanup() {
	cd / || true
	"$here/stop.sh" "$DIR" --purge
	rmdir "$top" 2>/dev/null
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log; do
		[ -f "$f" ] && {
			echo "--- last lines of $f" >&2
			tail -n 20 "$f" >&2
		}
	done
	exit 1
}
now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }

t0=$(now_ms)
"$here/start.sh" "$DIR"
rc=$?
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || fail "start.sh exited $rc"
echo "start.sh: $(($(now_ms) - t0)) ms"
# shellcheck disable=SC1091
. "$DIR/slurm.env"
if [ -z "${SLURM_CONF:-}" ] || [ ! -s "$SLURM_CONF" ]; then
	fail "slurm.env exports no SLURM_CONF"
fi

# FIELD of job ID in `squeue --json` (filters are ignored: pick it here).
job_field() {
	squeue --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
if d.get("errors"):
    sys.exit(2)
for j in d.get("jobs", []):
    if j.get("job_id") == int(sys.argv[1]):
        print(j.get(sys.argv[2]))
        sys.exit(0)
sys.exit(1)' "$1" "$2"
}
# Waits until job ID's job_state is STATE (timeout in seconds).
wait_state() {
	local id=$1 want=$2 timeout=$3 end state=
	end=$(($(now_ms) + timeout * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		state=$(job_field "$id" job_state) && [ "$state" = "$want" ] && return 0
		sleep 0.2
	done
	fail "job $id is '$state', not $want, after ${timeout}s"
}

cd "$DIR/jobs" || fail "no $DIR/jobs"

# 1. A job that exits 3: FAILED with the raw wait status 768.
t1=$(now_ms)
id=$(sbatch --parsable -J rftd-selftest --wrap 'exit 3') || fail "sbatch failed"
[[ $id =~ ^[0-9]+$ ]] || fail "sbatch --parsable printed '$id'"
wait_state "$id" FAILED 30
echo "job $id FAILED after $(($(now_ms) - t1)) ms"
[ "$(job_field "$id" exit_code)" = 768 ] ||
	fail "job $id exit_code is '$(job_field "$id" exit_code)', not 768"
[ "$(job_field "$id" name)" = rftd-selftest ] || fail "job $id has the wrong name"

# 2. A running job, cancelled.
id2=$(sbatch --parsable -J rftd-selftest-cancel --wrap 'sleep 300') || fail "sbatch failed"
wait_state "$id2" RUNNING 30
scancel "$id2" || fail "scancel $id2 failed"
wait_state "$id2" CANCELLED 30
echo "job $id2 RUNNING then CANCELLED"

# 3. Both are in the jobcomp file that `sacct -c` reads.
end=$(($(now_ms) + 10000))
while :; do
	out=$(sacct -c -P -n -j "$id,$id2" -o JobID,State,ExitCode 2>/dev/null)
	grep -qx "$id|FAILED|3:0" <<<"$out" &&
		grep -q "^$id2|CANCELLED" <<<"$out" && break
	[ "$(now_ms)" -lt "$end" ] || fail "sacct -c shows: $out"
	sleep 0.2
done
echo "sacct -c: ${out//$'\n'/ }"

# 4. stop.sh leaves nothing of ours running.
pids=$(cat "$DIR"/run/*.pid)
"$here/stop.sh" "$DIR" || fail "stop.sh failed"
for p in $pids; do
	if [ -r "/proc/$p/stat" ] && ! grep -q ') Z ' "/proc/$p/stat"; then
		fail "pid $p still runs after stop.sh"
	fi
done
echo "PASS ($(($(now_ms) - t0)) ms)"
