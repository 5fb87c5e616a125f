#!/usr/bin/env bash
# Installs missing packages, builds rftd from scratch with warnings as
# errors and runs the whole suite; then does the same again with
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/test.sh              both builds
#   BUILD_ROOT=/tmp/x scripts/test.sh   put the build trees elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build_root=${BUILD_ROOT:-$root/build-test}
jobs=$(nproc 2>/dev/null || echo 2)

scripts/install-deps.sh

run_suite() {
	local name=$1
	shift
	local dir=$build_root/$name
	echo "=== $name build: $dir"
	rm -rf "$dir"
	cmake -S "$root" -B "$dir" -DRFTD_WERROR=ON "$@"
	cmake --build "$dir" -j "$jobs"
	echo "=== $name tests"
	ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
}

run_suite release -DCMAKE_BUILD_TYPE=RelWithDebInfo

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite sanitize -DCMAKE_BUILD_TYPE=Debug -DRFTD_SANITIZE=ON

echo "=== all tests passed (release and sanitizer builds)"
