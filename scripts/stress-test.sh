#!/usr/bin/env bash
# Runs the integration tests (ctest -L integration) N times in each build
# while processes of its own burn CPU beside them, and prints how often
# each test failed.  The build trees are those of scripts/test.sh; a
# missing one is built first (scripts/test.sh --build-only).  Exits
# non-zero if any run of any test failed.
#
#   scripts/stress-test.sh N             both builds, N runs each
#   scripts/stress-test.sh -b sanitize N one build (release or sanitize)
#   scripts/stress-test.sh -l 4 -j 2 N   4 CPU burners (default 2), ctest
#                                        -j 2 (default 1)
#   BUILD_ROOT=/tmp/x scripts/stress-test.sh N   build trees elsewhere
#                                        (default: build-test/)
#
# Each run's output is kept in BUILD_ROOT/stress/BUILD-RUN.log.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_root=${BUILD_ROOT:-$root/build-test}

usage() { # exit status
	sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit "$1"
}

builds=(release sanitize)
burners=2
jobs=1
while getopts b:l:j:h opt; do
	case $opt in
	b)
		case $OPTARG in
		release | sanitize) builds=("$OPTARG") ;;
		*)
			echo "stress-test.sh: -b: release or sanitize" >&2
			exit 2
			;;
		esac
		;;
	l) burners=$OPTARG ;;
	j) jobs=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage 2
runs=$1
for n in "$runs" "$burners" "$jobs"; do
	case $n in
	'' | *[!0-9]*)
		echo "stress-test.sh: '$n' is not a number" >&2
		exit 2
		;;
	esac
done
[ "$runs" -ge 1 ] || usage 2

# As scripts/test.sh runs the tests of each build.
. scripts/builds.sh

# The load, and what runs now: ended by pid when the script ends.
burner_pids=()
ctest_pid=
cleanup() {
	trap - EXIT INT TERM HUP
	[ -z "$ctest_pid" ] || kill "$ctest_pid" 2>/dev/null
	for pid in ${burner_pids[@]+"${burner_pids[@]}"}; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM HUP

for name in "${builds[@]}"; do
	if [ ! -f "$build_root/$name/CTestTestfile.cmake" ]; then
		echo "=== $build_root/$name is missing: building it"
		BUILD_ROOT=$build_root scripts/test.sh --build-only "$name" ||
			exit 1
	fi
done

logs=$build_root/stress
mkdir -p "$logs"
for ((i = 0; i < burners; i++)); do
	(while :; do :; done) &
	burner_pids+=($!)
done
echo "=== $burners CPU burners: pids ${burner_pids[*]-none}"

declare -A failures # build:test -> failed runs
status=0
for name in "${builds[@]}"; do
	dir=$build_root/$name
	failed_log=$dir/Testing/Temporary/LastTestsFailed.log
	env=()
	mapfile -t env < <(test_env "$name")
	for ((run = 1; run <= runs; run++)); do
		log=$logs/$name-$run.log
		echo "=== $name run $run of $runs: $log"
		rm -f "$failed_log"
		env ${env[@]+"${env[@]}"} ctest --test-dir "$dir" -L integration \
			--output-on-failure -j "$jobs" --timeout 600 \
			</dev/null >"$log" 2>&1 &
		ctest_pid=$!
		wait "$ctest_pid"
		rc=$?
		ctest_pid=
		grep -E '^ *[0-9]+/[0-9]+ Test|tests passed' "$log"
		if [ -s "$failed_log" ]; then
			while IFS=: read -r _ test; do
				failures[$name:$test]=$((${failures[$name:$test]:-0} + 1))
			done <"$failed_log"
			status=1
		elif [ $rc -ne 0 ]; then
			key="$name:(ctest exited with $rc)"
			failures[$key]=$((${failures[$key]:-0} + 1))
			status=1
		fi
	done
done

echo
echo "=== failures per test, $runs runs per build, $burners CPU burners, ctest -j $jobs"
total=0
for name in "${builds[@]}"; do
	count=0
	while IFS= read -r key; do
		printf '%-9s %s -> %d/%d\n' "$name:" "${key#*:}" \
			"${failures[$key]}" "$runs"
		count=$((count + failures[$key]))
	done < <(printf '%s\n' "${!failures[@]}" | grep "^$name:" | sort)
	[ $count -gt 0 ] || printf '%-9s no failures\n' "$name:"
	total=$((total + count))
done
echo "total: $total failed test runs (logs in $logs)"
exit $status
