/*
 * Slurm's answers, read: `squeue --json` and `sacct -P -n` text into job
 * records, a Slurm state word into rftd's job state, a wait status into
 * words.  Pure: no I/O, no loop, no clock (sacct's local times go through
 * mktime(), so the TZ of the process applies).  The process backend's
 * slurm launcher runs the commands; this module only reads what they
 * print.
 *
 * What Slurm 22.05 does (see the shared reference slurm.md):
 *   - `squeue --json` ignores its filters and lists every job, finished
 *     ones for MinJobAge: pick jobs by id (or name, comment) here.
 *   - It exits 0 when slurmctld is down, with a non-empty "errors" array
 *     and no jobs: that is -EAGAIN here, and NEVER means the jobs are gone.
 *   - "exit_code" is the raw wait status (exit 3 gives 768, SIGTERM 15).
 *   - Newer data parsers (v0.0.40 .. v0.0.44) write "job_state" as an array
 *     of words, numbers as {"set":..,"infinite":..,"number":N} and
 *     "exit_code" as {"status":[..],"return_code":N,"signal":{"id":N,..}}:
 *     all are read.
 *   - Once a job has left squeue, `sacct -c` (jobcomp/filetxt, no
 *     slurmdbd) or `sacct` (slurmdbd) has its final state.
 *
 * Hostile input is safe: wrong types and missing fields leave a field
 * unknown, numbers out of range are ignored, strings are cut to fit (on a
 * UTF-8 character boundary) and always NUL-terminated.
 */
#ifndef RFTD_SLURM_H
#define RFTD_SLURM_H

#include "lifecycle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLURM_NAME_MAX	   256 /* name, comment: bytes with the NUL */
#define SLURM_STATE_MAX	   32
#define SLURM_REASON_MAX   64
#define SLURM_ERROR_MAX	   256 /* a good size for slurm_parse_squeue's err */
#define SLURM_DESCRIBE_MAX 64  /* a good size for slurm_describe_exit's buf */

/* One job as Slurm reports it. */
struct slurm_job {
	int64_t id;	       /* job id, > 0.  sacct: the number before '_' */
	int64_t array_job_id;  /* the array's id; 0: not part of an array */
	int64_t array_task_id; /* the task's index; -1: none (not an array
				  task, or the array's pending rest) */
	char name[SLURM_NAME_MAX];     /* -J; "" unknown */
	char comment[SLURM_NAME_MAX];  /* --comment (squeue only); "" */
	char state[SLURM_STATE_MAX];   /* one word, e.g. "RUNNING"; "" */
	char reason[SLURM_REASON_MAX]; /* e.g. "Resources" (squeue only) */
	bool has_exit;	    /* wait_status is known: only in a final state */
	int wait_status;    /* raw wait status, as waitpid() gives it */
	double submit_time; /* Unix seconds; 0: unknown */
	double start_time;  /* 0: unknown, or not started (pending) */
	double end_time;    /* 0: unknown, or not ended (only final states) */
};

/*
 * Parses the output of `squeue --json` (data parser v0.0.38 .. v0.0.44).
 * On success returns 0 with *jobs (caller frees with free(); NULL when
 * *n is 0) and *n set: every well-formed job in the answer, in its order
 * (entries that are not objects or have no valid job_id are skipped).
 *
 * state: for an array of words (v0.0.40+) the word that Slurm 22.05's own
 * squeue would print: a flag like COMPLETING, CONFIGURING or REQUEUED
 * before the base state, else the base state.  A pending job's
 * start_time (an estimate) and a live job's end_time (start + limit) are
 * given as 0.
 *
 * Returns -EAGAIN when the answer has a non-empty "errors" array (the
 * controller is unreachable or answered an error; the jobs are NOT gone),
 * with `err` (may be NULL) set to the first error's words.  Returns
 * -EINVAL when `json` is not such an answer (not JSON, no "jobs" array),
 * -ENOMEM when out of memory.  On failure *jobs is NULL and *n is 0.
 */
int slurm_parse_squeue(const char *json, size_t len, struct slurm_job **jobs,
		       size_t *n, char *err, size_t errlen);

/*
 * Parses the lines of
 *   sacct [-c] -P -n -o JobID,JobName,State,ExitCode,Start,End
 * (a trailing '|' as -p prints is accepted; a JobName holding '|' too:
 * the fields after it are read from the end).  Skips step lines (a JobID
 * with '.', like 5.batch) and lines that are no records (sacct's messages
 * such as "Slurm accounting storage is disabled").  Array tasks "10_1"
 * give id 10, array_job_id 10, array_task_id 1; the pending rest
 * "10_[2-3%1]" gives id 10, array_job_id 10, array_task_id -1.
 *
 * State "CANCELLED by 0" gives "CANCELLED".  ExitCode "E:S" gives the wait
 * status: signal S when S > 0, else exit E ("3:0" -> 3 << 8, "0:15" ->
 * 15).  Start and End are local times as sacct prints them
 * (2026-11-24T15:35:15), or Unix seconds (SLURM_TIME_FORMAT=%s);
 * "Unknown", "None": 0.  A job listed twice (requeued) gives two records
 * in the order of the text: the last is the newest.
 *
 * Returns 0 with *jobs (caller frees; NULL when *n is 0) and *n set;
 * -EINVAL when the text has non-empty lines and none is a record
 * (accounting disabled, or not sacct's output), -ENOMEM.  On failure
 * *jobs is NULL and *n is 0.
 */
int slurm_parse_sacct(const char *text, size_t len, struct slurm_job **jobs,
		      size_t *n);

/*
 * What a Slurm state word means to rftd (its first word is read, so
 * "CANCELLED by 0" and sacct's cut "CANCELLED+" are CANCELLED; case does
 * not matter):
 *   JOB_QUEUED    PENDING REQUEUED REQUEUE_FED REQUEUE_HOLD SPECIAL_EXIT
 *                 RESV_DEL_HOLD CONFIGURING SUSPENDED
 *   JOB_RUNNING   RUNNING COMPLETING STAGE_OUT RESIZING SIGNALING STOPPED
 *   JOB_SUCCEEDED COMPLETED
 *   JOB_FAILED    FAILED TIMEOUT OUT_OF_MEMORY NODE_FAIL BOOT_FAIL DEADLINE
 *                 PREEMPTED
 *   JOB_CANCELLED CANCELLED
 * and JOB__COUNT for any other word (REVOKED, "", NULL).
 */
enum job_state slurm_state(const char *word);

/* Whether slurm_state(word) is a final state (succeeded, failed,
 * cancelled): a record in that state has its exit and end time. */
bool slurm_state_final(const char *word);

/*
 * A wait status in words, always NUL-terminated in buf (len > 0):
 * "exit code 3", "killed by signal 9 (Killed)", "killed by signal 11
 * (Segmentation fault, core dumped)", "stopped by signal 19", or
 * "wait status 0x..." for anything else.
 */
void slurm_describe_exit(int wait_status, char *buf, size_t len);

#endif
