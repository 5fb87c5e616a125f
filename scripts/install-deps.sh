#!/usr/bin/env bash
# Installs the Debian packages rftd needs to build and test, only those
# that are missing.  Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
	build-essential cmake pkg-config clang-format
	libuv1-dev libcurl4-openssl-dev libsqlite3-dev libcjson-dev
	libinih-dev libssl-dev libcmocka-dev clang libclang-rt-dev
	python3 python3-numpy sqlite3 openssl
	# tests of the manual pages, systemd units and shell completions
	mandoc man-db systemd bash-completion zsh fish
	# a private single-node Slurm for the process backend's slurm launcher
	# (tests/slurm/)
	slurmctld slurmd slurm-client munge
	# the dashboard (libh2o on libuv), rftctl plot's PNG (librsvg, cairo)
	# and the dashboard's browser tests
	libh2o-dev librsvg2-dev libcairo2-dev chromium
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing packages: ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "error: need root to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=(sudo)
fi
# Installing munge and Slurm must not start the system's own daemons: the
# tests start private ones.  A temporary policy-rc.d says so to the
# packages' scripts, unless the machine has one already.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"
	trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
	--no-install-recommends "${missing[@]}"
