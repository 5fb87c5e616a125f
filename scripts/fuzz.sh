#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz longer than the test suite
# does, and prints per target: execs, execs/s, coverage (libFuzzer's cov
# and ft), corpus size, new entries, and any finding (crash, leak,
# timeout, sanitizer report) with its reproducer.  Builds the fuzz build
# first when it is missing.  New corpus entries go to a scratch
# directory; --keep merges them into tests/fuzz/corpus/ (minimized).
#
#   scripts/fuzz.sh                  every target, 300 s each
#   scripts/fuzz.sh 60 spec slurm    those targets, 60 s each
#   scripts/fuzz.sh --keep 600 proto also keep what proto found
#   JOBS=2 scripts/fuzz.sh 60        two targets at a time
#   BUILD_DIR=/tmp/b WORK=/tmp/w     the fuzz build and the scratch
#                                    directory (default: build-test/fuzz,
#                                    a new mktemp -d)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
all_targets=(proto spec config openai slurm metrics cmdline pages)

usage() { # exit status
	sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit "$1"
}

keep=0
seconds=300
targets=()
for arg in "$@"; do
	case $arg in
	--keep) keep=1 ;;
	-h | --help) usage 0 ;;
	[0-9]*) seconds=$arg ;;
	*)
		[[ " ${all_targets[*]} " == *" $arg "* ]] || {
			echo "fuzz.sh: unknown target '$arg'" >&2
			usage 2
		}
		targets+=("$arg")
		;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
build=${BUILD_DIR:-$root/build-test/fuzz}
work=${WORK:-$(mktemp -d /tmp/rftd-fuzz.XXXXXX)}
jobs=${JOBS:-1}

. scripts/builds.sh
if [ ! -f "$build/CMakeCache.txt" ]; then
	# shellcheck disable=SC2046 # the options are words
	CC=clang cmake -S "$root" -B "$build" $(build_options fuzz) || exit 1
fi
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" || exit 1
mapfile -t env < <(test_env fuzz)

run() { # target
	local t=$1 dir=$work/$1
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp "$root/tests/fuzz/corpus/$t"/* "$dir/corpus/"
	ls "$dir/corpus" | wc -l >"$dir/seeds"
	env "${env[@]}" "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1
	echo $? >"$dir/rc"
}

running=0
for t in "${targets[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	echo "=== fuzz_$t: $seconds s (log: $work/$t/log)"
	run "$t" &
	running=$((running + 1))
done
wait

final_stat() { # name, log
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=0
echo
printf '%-8s %10s %8s %6s %7s %7s %5s  %s\n' target execs exec/s cov ft \
	corpus new finding
for t in "${targets[@]}"; do
	dir=$work/$t log=$work/$t/log
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	finding=none
	if [ "$(cat "$dir/rc")" -ne 0 ]; then
		failed=1
		finding=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [^ ]+( [^ ]+)?|runtime error: .*' "$log" ||
			echo "exit $(cat "$dir/rc")")
		finding="$finding; $(ls "$dir/artifacts" | sed "s#^#$dir/artifacts/#" | tr '\n' ' ')"
	fi
	printf '%-8s %10s %8s %6s %7s %7s %5s  %s\n' "$t" \
		"$(final_stat number_of_executed_units "$log")" \
		"$(final_stat average_exec_per_sec "$log")" "${cov:-?}" "${ft:-?}" \
		"$(ls "$dir/corpus" | wc -l)" "$(final_stat new_units_added "$log")" \
		"$finding"
	if [ $keep -eq 1 ]; then
		"$build/tests/fuzz/fuzz_$t" -merge=1 \
			"$root/tests/fuzz/corpus/$t" "$dir/corpus" >/dev/null 2>&1
	fi
done
echo "scratch: $work"
exit $failed
