# The three builds of rftd's test suite, for scripts/test.sh and
# scripts/stress-test.sh (sourced, not run).

# CMake options of a build.
build_options() {
	case $1 in
	release) echo "-DRFTD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" ;;
	sanitize) echo "-DRFTD_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DRFTD_SANITIZE=ON" ;;
	# libFuzzer targets only (clang): no unit or integration tests.
	fuzz) echo "-DRFTD_WERROR=ON -DCMAKE_BUILD_TYPE=Debug -DRFTD_FUZZ=ON -DBUILD_TESTING=OFF" ;;
	esac
}

# The C compiler of a build (empty: CMake's default).
build_cc() {
	case $1 in
	fuzz) echo clang ;;
	esac
}

# What ctest runs of a build: its options selecting tests.
test_selection() {
	case $1 in
	fuzz) echo "-L fuzz" ;;
	esac
}

# What the tests of a build run with, one VAR=value a line.
test_env() {
	case $1 in
	sanitize)
		echo "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1"
		echo "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
		;;
	fuzz)
		echo "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0"
		echo "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
		;;
	esac
}
