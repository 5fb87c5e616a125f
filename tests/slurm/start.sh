#!/usr/bin/env bash
# Starts a private single-node Slurm (munged, slurmctld, slurmd; no
# slurmdbd) whose every file lives in DIR, for the tests of the process
# backend's slurm launcher.  It runs as root, with no systemd and no
# cgroups, and listens on 127.0.0.1 only.
#
#   tests/slurm/start.sh DIR
#   . DIR/slurm.env            # exports SLURM_CONF for rftd and the CLI
#   ...
#   tests/slurm/stop.sh DIR [--purge]
#
# Runs as root only (SlurmUser=root), binds 127.0.0.1 only, uses no file
# outside DIR, and records the pid of every daemon it starts in DIR/run/
# (stop.sh kills by those pids only).  Starting again on the same DIR
# starts only the daemons that are not running (state is kept: use a fresh
# DIR per test run).
#
# Environment:
#   SLURM_TEST_PORT_BASE     slurmctld's port; slurmd's is the next one.
#                            Default: a free pair from 17000 + (pid%1000)*4.
#   SLURM_TEST_START_TIMEOUT seconds to wait for readiness (default 30).
#
# Exit status: 0 ready; 77 skipped (not root, or the packages are missing:
# scripts/install-deps.sh installs them); 1 any other failure (port taken,
# a daemon died, not ready in time), with the reason and a log tail on
# stderr.
set -uo pipefail

die() {
	echo "start.sh: error: $*" >&2
	exit 1
}
skip() {
	echo "skipped: $*"
	exit 77
}

[ $# -eq 1 ] || {
	echo "usage: $0 DIR" >&2
	exit 2
}
[ "$(id -u)" -eq 0 ] || skip "a private Slurm needs root (SlurmUser=root)"
missing=()
for cmd in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo sacct; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
[ ${#missing[@]} -eq 0 ] ||
	skip "Slurm is not installed (missing: ${missing[*]}); scripts/install-deps.sh installs slurmctld slurmd slurm-client munge"

case $1 in
*[[:space:]]*) die "DIR must not contain white space (slurm.conf): '$1'" ;;
esac
mkdir -p -- "$1" || die "cannot create $1"
DIR=$(cd -- "$1" && pwd -P) || die "cannot enter $1"
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
timeout_s=${SLURM_TEST_START_TIMEOUT:-30}

CONF=$DIR/etc/slurm.conf
export SLURM_CONF=$CONF
mkdir -p "$DIR"/{etc,munge,state,spool,run,log,jobs} || die "cannot create the directories in $DIR"
chmod 711 "$DIR/munge"

# --- processes recorded by this fixture ---------------------------------
#
# DIR/run/NAME.pid holds the pid start.sh got from `$!`.  A pid counts as
# ours only while that process is alive and its command line names DIR, so
# a recycled pid is never taken for one of ours.
ours() { # NAME -> prints the pid when the daemon is running
	local f=$DIR/run/$1.pid pid
	[ -s "$f" ] || return 1
	read -r pid <"$f" || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$DIR/" || return 1
	echo "$pid"
}

# Started in this call: stopped again if the start fails.
started=()
fail() {
	local name f
	echo "start.sh: error: $*" >&2
	for name in slurmd slurmctld munged; do
		for f in "$DIR/log/$name.log" "$DIR/log/$name.out"; do
			if [ -s "$f" ]; then
				echo "--- last lines of $f" >&2
				tail -n 15 "$f" >&2
			fi
		done
	done
	if [ ${#started[@]} -gt 0 ]; then
		echo "start.sh: stopping what this call started: ${started[*]}" >&2
		"$here/stop.sh" "$DIR" --only "${started[@]}" >&2 || true
	fi
	exit 1
}

# --- ports --------------------------------------------------------------

# Whether something listens on TCP port $1 (any address, IPv4 or IPv6).
port_busy() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
		END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

if [ -s "$CONF" ]; then
	# A DIR that ran before keeps its configuration and its ports.
	ctld_port=$(sed -n 's/^SlurmctldPort=//p' "$CONF")
	slurmd_port=$(sed -n 's/^SlurmdPort=//p' "$CONF")
	[[ $ctld_port =~ ^[0-9]+$ && $slurmd_port =~ ^[0-9]+$ ]] ||
		die "$CONF has no SlurmctldPort/SlurmdPort"
else
	if [ -n "${SLURM_TEST_PORT_BASE:-}" ]; then
		if ! [[ $SLURM_TEST_PORT_BASE =~ ^[0-9]{4,5}$ ]] ||
			[ "$SLURM_TEST_PORT_BASE" -lt 1024 ] ||
			[ "$SLURM_TEST_PORT_BASE" -gt 65533 ]; then
			die "SLURM_TEST_PORT_BASE must be a port in 1024..65533"
		fi
		base=$SLURM_TEST_PORT_BASE
	else
		# Two test runs at once get different pairs: start from the pid
		# and take the first pair where nothing listens.
		base=
		slot=$(($$ % 1000))
		for ((i = 0; i < 1000; i++)); do
			b=$((17000 + ((slot + i) % 1000) * 4))
			if ! port_busy "$b" && ! port_busy $((b + 1)); then
				base=$b
				break
			fi
		done
		[ -n "$base" ] || die "no free port pair in 17000..20999"
	fi
	ctld_port=$base
	slurmd_port=$((base + 1))
fi

# --- configuration --------------------------------------------------------

if [ ! -s "$CONF" ]; then
	cpus=$(nproc 2>/dev/null || echo 2)
	[ "$cpus" -ge 2 ] 2>/dev/null || cpus=2
	: >"$DIR/etc/plugstack.conf"
	cat >"$CONF.tmp" <<EOF
# A private single-node Slurm written by tests/slurm/start.sh.
ClusterName=rftdtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.daemon.pid
SlurmdPidFile=$DIR/run/slurmd.daemon.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
PlugStackConfig=$DIR/etc/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=300
KillWait=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=4096 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
	mv "$CONF.tmp" "$CONF" || die "cannot write $CONF"
fi
if ! printf '# Written by tests/slurm/start.sh: . this file to use the cluster.\nexport SLURM_CONF=%s\n' \
	"$CONF" >"$DIR/slurm.env.tmp" ||
	! mv "$DIR/slurm.env.tmp" "$DIR/slurm.env"; then
	die "cannot write $DIR/slurm.env"
fi

# --- the daemons ----------------------------------------------------------

now_ms() { date +%s%3N; }
t_start=$(now_ms)
deadline=$(($(date +%s) + timeout_s))
left() { [ "$(date +%s)" -lt "$deadline" ]; }

# NAME CMD...: starts CMD in its own session, records its pid.  In a
# script without job control the background child is no process-group
# leader, so setsid execs in place and $! is the daemon itself.
launch() {
	local name=$1
	shift
	setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
	echo $! >"$DIR/run/$name.pid"
	started+=("$name")
}
# NAME: still running (it may die on a bad configuration).  The pid was
# just recorded, so no command-line check: until setsid has exec'd the
# daemon, that pid still runs this script's code.
alive() {
	local pid line=
	if read -r pid 2>/dev/null <"$DIR/run/$1.pid"; then
		read -r line 2>/dev/null <"/proc/$pid/stat"
	fi
	line=${line##*) }
	if [ -z "$line" ] || [ "${line%% *}" = Z ]; then
		fail "$1 exited while starting"
	fi
}

# A taken port fails the start before anything starts.
if ! ours slurmctld >/dev/null; then
	port_busy "$ctld_port" && die "port $ctld_port (SlurmctldPort) is taken"
fi
if ! ours slurmd >/dev/null; then
	port_busy "$slurmd_port" && die "port $slurmd_port (SlurmdPort) is taken"
fi

# munged, on a private socket with a private key.
if pid=$(ours munged); then
	echo "munged already running (pid $pid)"
else
	if [ ! -s "$DIR/munge/munge.key" ]; then
		(umask 077 && head -c 1024 /dev/urandom >"$DIR/munge/munge.key") ||
			die "cannot write the munge key"
		chmod 0400 "$DIR/munge/munge.key"
	fi
	rm -f "$DIR/munge/munge.socket" "$DIR/munge/munge.socket.lock"
	launch munged munged -F --force \
		--socket="$DIR/munge/munge.socket" \
		--key-file="$DIR/munge/munge.key" \
		--pid-file="$DIR/run/munged.daemon.pid" \
		--log-file="$DIR/log/munged.log" \
		--seed-file="$DIR/munge/munged.seed"
	until [ -S "$DIR/munge/munge.socket" ] &&
		munge -n -S "$DIR/munge/munge.socket" 2>/dev/null |
		unmunge -S "$DIR/munge/munge.socket" >/dev/null 2>&1; do
		alive munged
		left || fail "munged not ready after ${timeout_s}s"
		sleep 0.02
	done
fi

# slurmctld: ready when `scontrol ping` says UP.
ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
if pid=$(ours slurmctld); then
	echo "slurmctld already running (pid $pid)"
else
	port_busy "$ctld_port" && fail "port $ctld_port (SlurmctldPort) is taken"
	port_busy "$slurmd_port" && fail "port $slurmd_port (SlurmdPort) is taken"
	launch slurmctld slurmctld -D -f "$CONF"
fi
until ctld_up; do
	alive slurmctld
	left || fail "slurmctld not UP after ${timeout_s}s"
	sleep 0.05
done

# slurmd: ready when the node is idle and its SlurmdStartTime is not older
# than this slurmd (a node whose slurmd was killed still shows idle).
if pid=$(ours slurmd); then
	echo "slurmd already running (pid $pid)"
else
	port_busy "$slurmd_port" && fail "port $slurmd_port (SlurmdPort) is taken"
	date +%s >"$DIR/run/slurmd.started"
	launch slurmd slurmd -D -f "$CONF" -N localhost
fi
read -r slurmd_t0 <"$DIR/run/slurmd.started" 2>/dev/null || slurmd_t0=0
node_ready() {
	local state st t
	state=$(sinfo -h -n localhost -o %T 2>/dev/null) || return 1
	[ "$state" = idle ] || [ "$state" = mixed ] || [ "$state" = allocated ] || return 1
	st=$(scontrol -o show node localhost 2>/dev/null |
		sed -n 's/.*SlurmdStartTime=\([^ ]*\).*/\1/p')
	[ -n "$st" ] && [ "$st" != None ] && [ "$st" != Unknown ] || return 1
	t=$(date -d "$st" +%s 2>/dev/null) || return 1
	[ "$t" -ge "$slurmd_t0" ]
}
until node_ready; do
	alive slurmd
	alive slurmctld
	left || fail "node localhost not idle with a fresh SlurmdStartTime after ${timeout_s}s ($(sinfo -h -n localhost -o %T 2>&1))"
	sleep 0.05
done

echo "slurm ready in $(($(now_ms) - t_start)) ms: SLURM_CONF=$CONF" \
	"(slurmctld 127.0.0.1:$ctld_port, slurmd :$slurmd_port," \
	"pids munged $(ours munged) slurmctld $(ours slurmctld) slurmd $(ours slurmd))"
