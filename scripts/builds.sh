# The two builds of rftd's test suite, for scripts/test.sh and
# scripts/stress-test.sh (sourced, not run).

# CMake options of a build.
build_options() {
	case $1 in
	release) echo "-DRFTD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" ;;
	sanitize) echo "-DRFTD_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DRFTD_SANITIZE=ON" ;;
	esac
}

# What the tests of a build run with, one VAR=value a line.
test_env() {
	case $1 in
	sanitize)
		echo "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1"
		echo "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
		;;
	esac
}
