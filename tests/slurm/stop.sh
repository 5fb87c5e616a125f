#!/usr/bin/env bash
# Stops the private Slurm that tests/slurm/start.sh started in DIR.
#
#   tests/slurm/stop.sh DIR [--purge]
#
# 1. Cancels the jobs still queued or running (best effort, while
#    slurmctld answers) and waits a few seconds for them to end.
# 2. Ends this cluster's slurmstepd processes and their job processes,
#    found by pid: a slurmstepd whose environment has SLURM_CONF set to
#    DIR's slurm.conf, and every process of its session (the job's).  After
#    a crash of slurmd they outlive it and slurmstepd ignores SIGTERM.
# 3. Stops slurmd, slurmctld and munged by the pids start.sh recorded in
#    DIR/run/ (and the processes of their sessions, such as slurmscriptd):
#    SIGTERM, then SIGKILL after 5 s (2 s for slurmstepd).  A recorded pid
#    counts only while its command line still names DIR, so a recycled pid
#    is never killed.
# 4. With --purge, removes DIR: only a DIR whose slurm.conf start.sh
#    wrote, or one that holds nothing but what start.sh makes.
#
# Nothing else is ever signalled.  Running it again is a no-op.
# (`--only NAME...` stops just those daemons: start.sh uses it to undo a
# failed start.)
set -uo pipefail

usage() {
	echo "usage: $0 DIR [--purge]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
arg_dir=$1
shift
purge=0
only=()
while [ $# -gt 0 ]; do
	case $1 in
	--purge) purge=1 ;;
	--only)
		shift
		only=("$@")
		break
		;;
	*) usage ;;
	esac
	shift
done

if [ ! -d "$arg_dir" ]; then
	echo "nothing to stop: $arg_dir does not exist"
	exit 0
fi
DIR=$(cd -- "$arg_dir" && pwd -P) || exit 1
CONF=$DIR/etc/slurm.conf
export SLURM_CONF=$CONF
KILL_AFTER_S=5       # the daemons' and the job processes' grace
STEPD_KILL_AFTER_S=2 # an orphaned slurmstepd ignores SIGTERM anyway

# --- pids ---------------------------------------------------------------

ours() { # NAME -> the recorded pid, while that process still names DIR
	local f=$DIR/run/$1.pid pid
	[ -s "$f" ] || return 1
	read -r pid <"$f" || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$DIR/" || return 1
	echo "$pid"
}
# "pid state session" of every process, from one read of /proc/*/stat
# (the command name, in parentheses, may hold spaces: cut after its ")").
proc_table() {
	cat /proc/[0-9]*/stat 2>/dev/null |
		awk '{ pid = $1; sub(/^.*\) /, ""); print pid, $1, $4 }'
}
session_of() { # PID -> its session id
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# state ppid pgrp session ...
	# shellcheck disable=SC2086
	set -- $s
	echo "$4"
}
members() { # SID... -> the live pids of those sessions, never this shell's
	proc_table | awk -v self=$$ -v sids=" $* " \
		'$1 != self && $2 != "Z" && index(sids, " " $3 " ") { print $1 }'
}
# This cluster's slurmstepd processes.
stepds() {
	local p
	cat /proc/[0-9]*/stat 2>/dev/null |
		awk '$2 == "(slurmstepd)" { print $1 }' |
		while read -r p; do
			tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" |
				grep -qxF -- "SLURM_CONF=$CONF" && echo "$p"
		done
}
alive_any() {
	local p line
	for p in "$@"; do
		read -r line 2>/dev/null <"/proc/$p/stat" || continue
		line=${line##*) }
		[ "${line%% *}" != Z ] && return 0
	done
	return 1
}
now_ms() { echo $((${EPOCHREALTIME//[.,]/} / 1000)); }
# GRACE_S PID...: sends TERM to the pids, waits up to GRACE_S seconds for
# them to go, then sends KILL to those left and waits for them briefly.
term_then_kill() {
	local grace=$1 p end
	shift
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null
	end=$(($(now_ms) + grace * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		alive_any "$@" || return 0
		sleep 0.05
	done
	for p in "$@"; do
		if alive_any "$p"; then
			echo "pid $p ignored SIGTERM for ${grace}s: SIGKILL"
			kill -KILL "$p" 2>/dev/null
		fi
	done
	end=$(($(now_ms) + 2000))
	while [ "$(now_ms)" -lt "$end" ]; do
		alive_any "$@" || return 0
		sleep 0.05
	done
}

# --- 1. the jobs ----------------------------------------------------------

stopped_any=0
if [ ${#only[@]} -eq 0 ] && ours slurmctld >/dev/null && [ -s "$CONF" ]; then
	# Without -t, squeue lists the jobs not yet finished.
	mapfile -t jobs < <(timeout 15 squeue -h -o %i 2>/dev/null)
	if [ ${#jobs[@]} -gt 0 ]; then
		echo "cancelling jobs: ${jobs[*]}"
		timeout 15 scancel --user=root 2>/dev/null ||
			timeout 15 scancel "${jobs[@]}" 2>/dev/null || true
		# Cancelled jobs get SIGTERM, then SIGKILL after KillWait (5 s).
		end=$(($(now_ms) + 10000))
		while [ "$(now_ms)" -lt "$end" ]; do
			[ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
			sleep 0.05
		done
	fi
fi

# --- 2. orphaned steps and their job processes -----------------------------

if [ ${#only[@]} -eq 0 ]; then
	mapfile -t steps < <(stepds)
	if [ ${#steps[@]} -gt 0 ]; then
		sids=()
		for p in "${steps[@]}"; do
			s=$(session_of "$p") && sids+=("$s")
		done
		mapfile -t procs < <(members "${sids[@]}")
		# The job processes first (slurmstepd would restart nothing, but
		# it reports them), then the steps.
		jobprocs=()
		for p in "${procs[@]}"; do
			[[ " ${steps[*]} " == *" $p "* ]] || jobprocs+=("$p")
		done
		printf '%s\n' "${steps[@]}" "${jobprocs[@]}" >"$DIR/run/steps.pids" 2>/dev/null
		echo "ending this cluster's job processes (${jobprocs[*]:-none}) and slurmstepd (${steps[*]})"
		term_then_kill "$KILL_AFTER_S" "${jobprocs[@]}"
		term_then_kill "$STEPD_KILL_AFTER_S" "${steps[@]}"
		stopped_any=1
	fi
fi

# --- 3. the daemons ---------------------------------------------------------

names=(slurmd slurmctld munged)
[ ${#only[@]} -gt 0 ] && names=("${only[@]}")
for order in slurmd slurmctld munged; do
	[[ " ${names[*]} " == *" $order "* ]] || continue
	if pid=$(ours "$order"); then
		echo "stopping $order (pid $pid)"
		term_then_kill "$KILL_AFTER_S" "$pid"
		# What is left of its session (slurmctld's slurmscriptd).
		mapfile -t rest < <(members "$pid")
		term_then_kill "$KILL_AFTER_S" "${rest[@]}"
		stopped_any=1
	fi
	rm -f "$DIR/run/$order.pid"
done
[ "$stopped_any" = 1 ] || echo "nothing to stop in $DIR"

# --- 4. --purge ------------------------------------------------------------

if [ "$purge" = 1 ]; then
	# Only a DIR that start.sh configured, or one that holds nothing but
	# what start.sh makes: a wrong argument never removes someone's files.
	if ! head -n 1 "$CONF" 2>/dev/null | grep -qF 'written by tests/slurm/start.sh'; then
		for e in "$DIR"/* "$DIR"/.[!.]*; do
			[ -e "$e" ] || continue
			case ${e##*/} in
			etc | munge | state | spool | run | log | jobs | slurm.env | slurm.env.tmp) ;;
			*)
				echo "stop.sh: not removing $DIR: it has no slurm.conf of start.sh and holds ${e##*/}" >&2
				exit 1
				;;
			esac
		done
	fi
	rm -rf -- "$DIR" && echo "removed $DIR"
fi
exit 0
