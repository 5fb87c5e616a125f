#!/usr/bin/env bash
# Installs missing packages, builds rftd from scratch three times (with
# warnings as errors; then also with AddressSanitizer and
# UndefinedBehaviorSanitizer; then the libFuzzer targets with clang) and
# runs every test of the first two builds and the fuzz targets, ~20 s
# each, of the third (scripts/fuzz.sh runs them longer).  A failure does
# not stop the rest: every build is made and tested, a summary per build
# follows, and the exit status is non-zero if anything failed.
#
#   scripts/test.sh                      all three builds
#   scripts/test.sh sanitize             only the named builds (release,
#                                        sanitize, fuzz)
#   scripts/test.sh --build-only [NAME]  build from scratch, run nothing
#   BUILD_ROOT=/tmp/x scripts/test.sh    put the build trees elsewhere
#                                        (default: build-test/)
#   INSTALL_DEPS=0 scripts/test.sh       install no packages (they are
#                                        there, or cannot be installed)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_root=${BUILD_ROOT:-$root/build-test}
jobs=$(nproc 2>/dev/null || echo 2)
all_builds=(release sanitize fuzz)

usage() { # exit status
	sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit "$1"
}

build_only=0
builds=()
for arg in "$@"; do
	case $arg in
	--build-only) build_only=1 ;;
	release | sanitize | fuzz) builds+=("$arg") ;;
	-h | --help) usage 0 ;;
	*)
		echo "test.sh: unknown argument '$arg'" >&2
		usage 2
		;;
	esac
done
[ ${#builds[@]} -gt 0 ] || builds=("${all_builds[@]}")

. scripts/builds.sh

summary=()
failed=0

note() { # build, outcome
	summary+=("$(printf '%-9s %s' "$1:" "$2")")
}

if [ "${INSTALL_DEPS:-1}" = 0 ]; then
	echo "=== packages: not installing (INSTALL_DEPS=0)"
elif ! scripts/install-deps.sh; then
	note deps "FAILED: scripts/install-deps.sh (see above); building anyway"
	failed=1
fi

build() { # name
	local name=$1 dir=$build_root/$1 cc
	echo "=== $name build: $dir"
	rm -rf "$dir"
	cc=$(build_cc "$name")
	# shellcheck disable=SC2046 # the options are words
	if ! env ${cc:+CC=$cc} cmake -S "$root" -B "$dir" \
		$(build_options "$name"); then
		note "$name" "FAILED: cmake could not configure the build"
		return 1
	fi
	if ! cmake --build "$dir" -j "$jobs"; then
		note "$name" "FAILED: the build failed (see above)"
		return 1
	fi
}

run_tests() { # name
	local name=$1 dir=$build_root/$1 rc total
	local failed_log=$dir/Testing/Temporary/LastTestsFailed.log
	echo "=== $name tests"
	rm -f "$failed_log"
	local env=()
	mapfile -t env < <(test_env "$name")
	# shellcheck disable=SC2046 # the options are words
	env ${env[@]+"${env[@]}"} ctest --test-dir "$dir" --output-on-failure \
		-j "$jobs" --timeout 600 $(test_selection "$name")
	rc=$?
	# shellcheck disable=SC2046
	total=$(ctest --test-dir "$dir" -N $(test_selection "$name") |
		sed -n 's/^Total Tests: //p')
	if [ -s "$failed_log" ]; then
		local names
		names=$(cut -d: -f2- "$failed_log" | tr '\n' ' ')
		note "$name" "FAILED: $(wc -l <"$failed_log") of $total tests failed: ${names% }"
		return 1
	elif [ $rc -ne 0 ]; then
		note "$name" "FAILED: ctest exited with $rc"
		return 1
	fi
	note "$name" "passed: all $total tests"
}

for name in "${builds[@]}"; do
	if ! build "$name"; then
		failed=1
		continue
	fi
	if [ $build_only -eq 1 ]; then
		note "$name" "built"
		continue
	fi
	run_tests "$name" || failed=1
done

echo
echo "=== summary (build trees under $build_root)"
printf '%s\n' "${summary[@]}"
exit $failed
