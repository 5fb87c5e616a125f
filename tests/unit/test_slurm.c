/*
 * Reading Slurm's answers (daemon/slurm.h): real `squeue --json` and
 * `sacct -c -P -n` outputs of Slurm 22.05.8 captured from the fixture
 * cluster (tests/slurm/start.sh) in tests/data/slurm/, a hand-made answer
 * of the v0.0.44 shape, and hostile input: wrong types, missing fields,
 * huge numbers, long names, truncated and mutated files.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "slurm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FILE_MAX (1024 * 1024)

/* The whole of tests/data/slurm/NAME, NUL-terminated. */
static char *
load(const char *name, size_t *len)
{
	const char *dir = getenv("RFTD_TEST_DATA");
	char path[4096];
	FILE *f;
	char *buf;

	if (dir == NULL || *dir == '\0')
		fail_msg("RFTD_TEST_DATA is not set (tests/CMakeLists.txt "
			 "sets it to tests/data)");
	assert_true(snprintf(path, sizeof path, "%s/slurm/%s", dir, name) <
		    (int)sizeof path);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	buf = malloc(FILE_MAX + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, FILE_MAX + 1, f);
	assert_false(ferror(f));
	assert_true(*len <= FILE_MAX);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static int
squeue_str(const char *json, struct slurm_job **jobs, size_t *n)
{
	char err[SLURM_ERROR_MAX];

	return slurm_parse_squeue(json, strlen(json), jobs, n, err, sizeof err);
}

static int
sacct_str(const char *text, struct slurm_job **jobs, size_t *n)
{
	return slurm_parse_sacct(text, strlen(text), jobs, n);
}

static const struct slurm_job *
find(const struct slurm_job *jobs, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (jobs[i].id == id)
			return &jobs[i];
	fail_msg("no job %lld", (long long)id);
	abort(); /* fail_msg does not return */
}

static void
assert_exit_words(int ws, const char *want)
{
	char buf[SLURM_DESCRIBE_MAX];

	slurm_describe_exit(ws, buf, sizeof buf);
	assert_string_equal(buf, want);
}

/* Every string of a record is NUL-terminated inside its field. */
static void
assert_sane(const struct slurm_job *j)
{
	assert_true(j->id > 0);
	assert_true(memchr(j->name, '\0', sizeof j->name) != NULL);
	assert_true(memchr(j->comment, '\0', sizeof j->comment) != NULL);
	assert_true(memchr(j->state, '\0', sizeof j->state) != NULL);
	assert_true(memchr(j->reason, '\0', sizeof j->reason) != NULL);
	assert_true(j->array_task_id >= -1);
	assert_true(j->submit_time >= 0 && j->start_time >= 0 &&
		    j->end_time >= 0);
	if (j->has_exit)
		assert_true(slurm_state_final(j->state));
}

/* --- squeue --json, v0.0.38 (Slurm 22.05.8) ------------------------------ */

static void
test_squeue_active(void **state)
{
	(void)state;
	size_t len, n;
	char *json = load("squeue-active.json", &len);
	struct slurm_job *jobs;
	const struct slurm_job *j;
	char err[SLURM_ERROR_MAX];

	assert_int_equal(
	    slurm_parse_squeue(json, len, &jobs, &n, err, sizeof err), 0);
	assert_int_equal(n, 9);
	for (size_t i = 0; i < n; i++)
		assert_sane(&jobs[i]);

	j = find(jobs, n, 1); /* running, with a 1-minute limit */
	assert_string_equal(j->name, "rftd-timeout");
	assert_string_equal(j->state, "RUNNING");
	assert_int_equal(slurm_state(j->state), JOB_RUNNING);
	assert_false(j->has_exit);
	assert_true(j->submit_time == 1796528629);
	assert_true(j->start_time == 1796528631);
	assert_true(j->end_time == 0); /* start + limit: not an end */
	assert_int_equal(j->array_job_id, 0);
	assert_int_equal(j->array_task_id, -1);

	j = find(jobs, n, 2);
	assert_string_equal(j->state, "COMPLETED");
	assert_int_equal(slurm_state(j->state), JOB_SUCCEEDED);
	assert_string_equal(j->comment, "rftd:run=abc");
	assert_true(j->has_exit);
	assert_int_equal(j->wait_status, 0);
	assert_true(j->end_time == 1796528631);

	j = find(jobs, n, 3); /* exit 3 */
	assert_string_equal(j->state, "FAILED");
	assert_string_equal(j->reason, "NonZeroExitCode");
	assert_true(j->has_exit);
	assert_int_equal(j->wait_status, 768);
	assert_exit_words(j->wait_status, "exit code 3");

	j = find(jobs, n, 4); /* kill -9 $$ */
	assert_int_equal(slurm_state(j->state), JOB_FAILED);
	assert_string_equal(j->reason, "JobLaunchFailure");
	assert_int_equal(j->wait_status, 9);
	assert_exit_words(j->wait_status, "killed by signal 9 (Killed)");

	j = find(jobs, n, 6); /* waits for CPUs */
	assert_string_equal(j->state, "PENDING");
	assert_int_equal(slurm_state(j->state), JOB_QUEUED);
	assert_string_equal(j->reason, "Resources");
	assert_false(j->has_exit); /* exit_code 0 before it ran */
	assert_true(j->start_time == 0 && j->end_time == 0);

	j = find(jobs, n, 7);
	assert_string_equal(j->reason, "JobHeldUser");

	j = find(jobs, n, 8); /* the array's pending tasks, one record */
	assert_int_equal(j->array_job_id, 8);
	assert_int_equal(j->array_task_id, -1);
	assert_string_equal(j->reason, "Priority");

	j = find(jobs, n, 9); /* a 313-byte name, cut to 255 */
	assert_int_equal(strlen(j->name), SLURM_NAME_MAX - 1);
	assert_memory_equal(j->name, "rftd-long-xxx", 13);
	assert_int_equal(j->name[SLURM_NAME_MAX - 2], 'x');

	free(jobs);
	free(json);
}

static void
test_squeue_cancelled_and_timeout(void **state)
{
	(void)state;
	size_t len, n;
	char *json = load("squeue-cancelled.json", &len);
	struct slurm_job *jobs;
	const struct slurm_job *j;

	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, NULL, 0), 0);
	assert_int_equal(n, 9);
	j = find(jobs, n, 5); /* cancelled while running: SIGTERM */
	assert_string_equal(j->state, "CANCELLED");
	assert_int_equal(slurm_state(j->state), JOB_CANCELLED);
	assert_true(j->has_exit);
	assert_int_equal(j->wait_status, 15);
	assert_exit_words(j->wait_status, "killed by signal 15 (Terminated)");
	assert_true(j->start_time == 1796528634);
	assert_true(j->end_time == 1796528640);
	j = find(jobs, n, 7); /* cancelled while pending: reason kept */
	assert_int_equal(slurm_state(j->state), JOB_CANCELLED);
	assert_string_equal(j->reason, "JobHeldUser");
	assert_int_equal(j->wait_status, 0);
	free(jobs);
	free(json);

	json = load("squeue-final.json", &len);
	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, NULL, 0), 0);
	assert_int_equal(n, 9);
	j = find(jobs, n, 1); /* --time=1: killed at 87 s */
	assert_string_equal(j->state, "TIMEOUT");
	assert_int_equal(slurm_state(j->state), JOB_FAILED);
	assert_string_equal(j->reason, "TimeLimit");
	assert_true(j->has_exit);
	assert_int_equal(j->wait_status, 15);
	assert_true(j->end_time == 1796528718);
	j = find(jobs, n, 6); /* got its CPUs: running, no end yet */
	assert_int_equal(slurm_state(j->state), JOB_RUNNING);
	assert_true(j->start_time == 1796528718);
	assert_true(j->end_time == 0);
	free(jobs);
	free(json);
}

static void
test_squeue_arrays(void **state)
{
	(void)state;
	size_t len, n;
	char *json = load("squeue-array-running.json", &len);
	struct slurm_job *jobs;
	const struct slurm_job *j;

	/* --array=0-3%2: tasks 0 and 1 run as jobs 2 and 3; 2-3 wait in
	 * the record of job 1. */
	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, NULL, 0), 0);
	assert_int_equal(n, 3);
	j = find(jobs, n, 2);
	assert_int_equal(j->array_job_id, 1);
	assert_int_equal(j->array_task_id, 0);
	assert_int_equal(slurm_state(j->state), JOB_RUNNING);
	j = find(jobs, n, 3);
	assert_int_equal(j->array_task_id, 1);
	j = find(jobs, n, 1);
	assert_int_equal(j->array_job_id, 1);
	assert_int_equal(j->array_task_id, -1);
	assert_string_equal(j->reason, "JobArrayTaskLimit");
	free(jobs);
	free(json);

	/* Each task exits with its index; the last one reuses id 1. */
	json = load("squeue-array-done.json", &len);
	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, NULL, 0), 0);
	assert_int_equal(n, 4);
	for (int64_t id = 1; id <= 4; id++) {
		j = find(jobs, n, id);
		int64_t task = id == 1 ? 3 : id - 2;

		assert_int_equal(j->array_job_id, 1);
		assert_int_equal(j->array_task_id, task);
		assert_true(j->has_exit);
		assert_int_equal(j->wait_status, (int)task << 8);
		assert_int_equal(slurm_state(j->state),
				 task == 0 ? JOB_SUCCEEDED : JOB_FAILED);
	}
	free(jobs);
	free(json);
}

static void
test_squeue_controller_down(void **state)
{
	(void)state;
	size_t len, n = 99;
	char *json = load("squeue-down.json", &len);
	struct slurm_job *jobs = (struct slurm_job *)1;
	char err[SLURM_ERROR_MAX], tiny[12];
	const char *one;

	/* squeue exits 0 with an error and no jobs: not "the jobs are
	 * gone". */
	assert_int_equal(
	    slurm_parse_squeue(json, len, &jobs, &n, err, sizeof err), -EAGAIN);
	assert_null(jobs);
	assert_int_equal(n, 0);
	assert_string_equal(err, "slurm_load_jobs: Failed while looking for "
				 "jobs (Unspecified error)");
	assert_int_equal(
	    slurm_parse_squeue(json, len, &jobs, &n, tiny, sizeof tiny),
	    -EAGAIN);
	assert_string_equal(tiny, "slurm_load_");
	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, NULL, 0),
			 -EAGAIN);
	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, tiny, 0),
			 -EAGAIN);

	/* Errors win over jobs; other shapes of an error. */
	assert_int_equal(squeue_str("{\"errors\":[\"down\"],\"jobs\":"
				    "[{\"job_id\":1}]}",
				    &jobs, &n),
			 -EAGAIN);
	assert_null(jobs);
	one = "{\"errors\":[{\"error\":\"x\"}]}";
	assert_int_equal(
	    slurm_parse_squeue(one, strlen(one), &jobs, &n, err, sizeof err),
	    -EAGAIN);
	assert_string_equal(err, "error (x)");
	one = "{\"errors\":[42]}";
	assert_int_equal(
	    slurm_parse_squeue(one, strlen(one), &jobs, &n, err, sizeof err),
	    -EAGAIN);
	assert_string_equal(err, "error");
	free(json);
}

/* --- squeue --json, v0.0.44 shape ---------------------------------------- */

static void
test_squeue_v0044(void **state)
{
	(void)state;
	size_t len, n;
	char *json = load("squeue-v0.0.44.json", &len);
	struct slurm_job *jobs;
	const struct slurm_job *j;

	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, NULL, 0), 0);
	assert_int_equal(n, 11);
	for (size_t i = 0; i < n; i++)
		assert_sane(&jobs[i]);

	j = find(jobs, n, 101);
	assert_string_equal(j->state, "COMPLETED");
	assert_string_equal(j->comment, "rftd:run=abc");
	assert_true(j->has_exit);
	assert_int_equal(j->wait_status, 0);
	assert_true(j->submit_time == 1796528629);
	assert_true(j->start_time == 1796528631);
	assert_true(j->end_time == 1796528632);
	assert_int_equal(j->array_job_id, 0);
	assert_int_equal(j->array_task_id, -1);

	j = find(jobs, n, 102); /* return_code 3 */
	assert_int_equal(slurm_state(j->state), JOB_FAILED);
	assert_int_equal(j->wait_status, 3 << 8);

	j = find(jobs, n, 103);
	assert_int_equal(slurm_state(j->state), JOB_RUNNING);
	assert_false(j->has_exit);
	assert_true(j->end_time == 0);

	j = find(jobs, n, 104); /* ["PENDING","REQUEUED"]: the flag shows */
	assert_string_equal(j->state, "REQUEUED");
	assert_int_equal(slurm_state(j->state), JOB_QUEUED);
	assert_true(j->start_time == 0);
	assert_string_equal(j->reason, "BeginTime");

	j = find(jobs, n, 105); /* ["FAILED","COMPLETING"] */
	assert_string_equal(j->state, "COMPLETING");
	assert_int_equal(slurm_state(j->state), JOB_RUNNING);
	assert_false(j->has_exit);

	j = find(jobs, n, 106); /* signal 15 */
	assert_int_equal(slurm_state(j->state), JOB_CANCELLED);
	assert_int_equal(j->wait_status, 15);

	j = find(jobs, n, 107); /* SIGSEGV with a core */
	assert_int_equal(j->wait_status, 11 | 0x80);
	assert_exit_words(j->wait_status,
			  "killed by signal 11 (Segmentation fault, core "
			  "dumped)");

	j = find(jobs, n, 109);
	assert_int_equal(j->array_job_id, 108);
	assert_int_equal(j->array_task_id, 1);
	j = find(jobs, n, 108);
	assert_int_equal(j->array_job_id, 108);
	assert_int_equal(j->array_task_id, -1);

	j = find(jobs, n, 110); /* 200 x "é": cut between characters */
	assert_int_equal(strlen(j->name), 254);
	for (size_t i = 0; i < 254; i += 2)
		assert_memory_equal(j->name + i, "\xc3\xa9", 2);
	assert_true(j->start_time == 0); /* an estimate while pending */

	j = find(jobs, n, 111);
	assert_string_equal(j->state, "TIMEOUT");
	assert_int_equal(j->wait_status, 15);
	free(jobs);
	free(json);
}

/* --- squeue --json, hostile --------------------------------------------- */

static void
test_squeue_not_an_answer(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[]",
	    "42",
	    "null",
	    "{}",
	    "{\"jobs\":{}}",
	    "{\"jobs\":\"x\"}",
	    "{\"jobs\":null}",
	    "{\"errors\":\"down\",\"jobs\":[]}",
	    "{\"errors\":{},\"jobs\":[]}",
	    "{\"errors\":[],\"jobs\":[",
	};
	struct slurm_job *jobs;
	size_t n;
	char err[8] = "junk";

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		jobs = (struct slurm_job *)1;
		n = 7;
		assert_int_equal(slurm_parse_squeue(bad[i], strlen(bad[i]),
						    &jobs, &n, err, sizeof err),
				 -EINVAL);
		assert_null(jobs);
		assert_int_equal(n, 0);
		assert_string_equal(err, "");
	}
	assert_int_equal(slurm_parse_squeue(NULL, 0, &jobs, &n, NULL, 0),
			 -EINVAL);
	/* len bounds the parse: the rest of the buffer is not read. */
	assert_int_equal(
	    slurm_parse_squeue("{\"jobs\":[]}xyz", 5, &jobs, &n, NULL, 0),
	    -EINVAL);
	assert_int_equal(
	    slurm_parse_squeue("{\"jobs\":[]}xyz", 11, &jobs, &n, NULL, 0), 0);
	assert_int_equal(n, 0);
	assert_null(jobs);
	/* errors null or empty: fine. */
	assert_int_equal(squeue_str("{\"errors\":null,\"jobs\":[]}", &jobs, &n),
			 0);
}

static void
test_squeue_hostile_fields(void **state)
{
	(void)state;
	const char *json =
	    "{\"errors\":[],\"warnings\":[],\"jobs\":[42,\"x\",null,[],"
	    "{},{\"job_id\":\"1\"},{\"job_id\":-1},{\"job_id\":0},"
	    "{\"job_id\":1.5},{\"job_id\":1e300},{\"job_id\":1e999},"
	    "{\"job_id\":4294967296},{\"job_id\":{\"set\":false,\"number\":5}},"
	    "{\"job_id\":{\"set\":true,\"infinite\":true,\"number\":5}},"
	    "{\"job_id\":7,\"name\":5,\"comment\":null,\"job_state\":{\"a\":1},"
	    "\"state_reason\":[],\"exit_code\":\"x\",\"submit_time\":\"now\","
	    "\"start_time\":-5,\"end_time\":1e999,\"array_job_id\":-3,"
	    "\"array_task_id\":1e20},"
	    "{\"job_id\":8,\"job_state\":\"FAILED\",\"exit_code\":65536,"
	    "\"end_time\":1e12,\"array_job_id\":8,\"array_task_id\":-1},"
	    "{\"job_id\":9,\"job_state\":\"FAILED\",\"exit_code\":{\"status\":"
	    "[\"SIGNALED\"],\"signal\":{\"id\":999},\"return_code\":256}},"
	    "{\"job_id\":10,\"job_state\":[5,null,\"WEIRD\",\"COMPLETED\"],"
	    "\"exit_code\":{\"set\":true,\"number\":256}},"
	    "{\"job_id\":11,\"job_state\":[\"NOT_A_STATE\"],"
	    "\"exit_code\":{\"status\":[\"PENDING\"],\"return_code\":0}},"
	    "{\"job_id\":12,\"job_state\":\"CANCELLED by 0\",\"exit_code\":"
	    "{\"status\":\"SIGNALED\",\"signal\":{\"id\":{\"set\":true,"
	    "\"number\":9}}}},"
	    "{\"job_id\":13,\"job_state\":\"  \",\"name\":\"\"},"
	    "{\"job_id\":4294967295,\"job_id\":14,\"job_state\":"
	    "\"AN_UNKNOWN_STATE_LONGER_THAN_THIRTY_TWO_BYTES\"}"
	    "]}";
	struct slurm_job *jobs;
	const struct slurm_job *j;
	size_t n;

	assert_int_equal(squeue_str(json, &jobs, &n), 0);
	assert_int_equal(n, 8);
	for (size_t i = 0; i < n; i++)
		assert_sane(&jobs[i]);

	j = find(jobs, n, 7); /* every field of the wrong type: unknown */
	assert_string_equal(j->name, "");
	assert_string_equal(j->comment, "");
	assert_string_equal(j->state, "");
	assert_string_equal(j->reason, "");
	assert_int_equal(slurm_state(j->state), JOB__COUNT);
	assert_false(j->has_exit);
	assert_true(j->submit_time == 0 && j->start_time == 0 &&
		    j->end_time == 0);
	assert_int_equal(j->array_job_id, 0);
	assert_int_equal(j->array_task_id, -1);

	j = find(jobs, n, 8); /* out of range: unknown */
	assert_false(j->has_exit);
	assert_true(j->end_time == 0);
	assert_int_equal(j->array_job_id, 8);
	assert_int_equal(j->array_task_id, -1);

	j = find(jobs, n, 9); /* signal and return code out of range */
	assert_false(j->has_exit);

	j = find(jobs, n, 10); /* the first base state among junk */
	assert_string_equal(j->state, "COMPLETED");
	assert_int_equal(j->wait_status, 256);

	j = find(jobs, n, 11); /* an unknown word is kept, exit pending */
	assert_string_equal(j->state, "NOT_A_STATE");
	assert_int_equal(slurm_state(j->state), JOB__COUNT);
	assert_false(j->has_exit);

	j = find(jobs, n, 12);
	assert_string_equal(j->state, "CANCELLED");
	assert_int_equal(j->wait_status, 9);

	j = find(jobs, n, 13);
	assert_string_equal(j->state, "");

	/* cJSON takes the first of duplicate keys: the id is 4294967295. */
	j = find(jobs, n, 4294967295);
	assert_string_equal(j->state, "");
	free(jobs);
}

static void
test_squeue_huge(void **state)
{
	(void)state;
	size_t big = 200000, n, len;
	char *json = malloc(big + 200), *p;
	struct slurm_job *jobs;

	/* A 200 KB name and comment. */
	assert_non_null(json);
	p = json + sprintf(json, "{\"jobs\":[{\"job_id\":3,\"name\":\"");
	memset(p, 'n', big / 2);
	p += big / 2;
	p += sprintf(p, "\",\"comment\":\"");
	memset(p, 'c', big / 2);
	p += big / 2;
	p += sprintf(p, "\",\"job_state\":\"RUNNING\"}]}");
	len = (size_t)(p - json);
	assert_int_equal(slurm_parse_squeue(json, len, &jobs, &n, NULL, 0), 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(jobs[0].name), SLURM_NAME_MAX - 1);
	assert_int_equal(strlen(jobs[0].comment), SLURM_NAME_MAX - 1);
	free(jobs);

	/* Nesting far past cJSON's limit. */
	memset(json, '[', big);
	assert_int_equal(slurm_parse_squeue(json, big, &jobs, &n, NULL, 0),
			 -EINVAL);

	/* 20000 jobs. */
	free(json);
	json = malloc(20000 * 20 + 32);
	assert_non_null(json);
	p = json + sprintf(json, "{\"jobs\":[");
	for (int i = 1; i <= 20000; i++)
		p += sprintf(p, "%s{\"job_id\":%d}", i > 1 ? "," : "", i);
	p += sprintf(p, "]}");
	assert_int_equal(
	    slurm_parse_squeue(json, (size_t)(p - json), &jobs, &n, NULL, 0),
	    0);
	assert_int_equal(n, 20000);
	assert_int_equal(jobs[19999].id, 20000);
	free(jobs);
	free(json);
}

/* Every prefix, and random byte changes, of each real file: whatever the
 * answer, no crash, no leak, sane records (the sanitized build checks). */
static void
test_mutations(void **state)
{
	(void)state;
	static const char *const files[] = {
	    "squeue-active.json",
	    "squeue-v0.0.44.json",
	    "squeue-array-done.json",
	    "squeue-down.json",
	    "sacct-c.txt",
	    "sacct-c-array.txt",
	};
	static const char junk[] = "{}[]\",:|_.9 \n\xc3\x80";
	unsigned seed = 12345;

	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len, n;
		char *orig = load(files[f], &len);
		char *buf = malloc(len + 1);
		bool json = strstr(files[f], ".json") != NULL;
		struct slurm_job *jobs;
		size_t step = len > 4000 ? 37 : 1;

		assert_non_null(buf);
		for (size_t cut = 0; cut <= len; cut += step) {
			/* An exact-size copy so ASan sees any over-read. */
			char *pre = malloc(cut + 1);

			assert_non_null(pre);
			memcpy(pre, orig, cut);
			int rc = json ? slurm_parse_squeue(pre, cut, &jobs, &n,
							   NULL, 0)
				      : slurm_parse_sacct(pre, cut, &jobs, &n);
			if (rc == 0) {
				for (size_t i = 0; i < n; i++)
					assert_sane(&jobs[i]);
				free(jobs);
			} else {
				assert_null(jobs);
			}
			free(pre);
		}
		for (int round = 0; round < 300; round++) {
			char err[SLURM_ERROR_MAX];

			memcpy(buf, orig, len);
			for (int k = 0; k < 4; k++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % len] =
				    junk[(seed >> 20) % (sizeof junk - 1)];
			}
			int rc = json ? slurm_parse_squeue(buf, len, &jobs, &n,
							   err, sizeof err)
				      : slurm_parse_sacct(buf, len, &jobs, &n);
			if (rc == 0) {
				for (size_t i = 0; i < n; i++)
					assert_sane(&jobs[i]);
				free(jobs);
			}
		}
		free(buf);
		free(orig);
	}
}

/* --- sacct -P -n -------------------------------------------------------- */

static void
test_sacct_jobcomp(void **state)
{
	(void)state;
	size_t len, n;
	char *text = load("sacct-c.txt", &len);
	struct slurm_job *jobs;
	const struct slurm_job *j;

	/* sacct -c -P -n -o JobID,JobName,State,ExitCode,Start,End */
	assert_int_equal(slurm_parse_sacct(text, len, &jobs, &n), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++)
		assert_sane(&jobs[i]);
	assert_int_equal(jobs[0].id, 2); /* in the file's order */
	assert_int_equal(jobs[5].id, 1);

	j = find(jobs, n, 2);
	assert_string_equal(j->name, "rftd-ok");
	assert_int_equal(slurm_state(j->state), JOB_SUCCEEDED);
	assert_true(j->has_exit);
	assert_int_equal(j->wait_status, 0);
	assert_true(j->start_time == 1796528631);
	assert_true(j->end_time == 1796528631);
	assert_true(j->submit_time == 0);
	assert_string_equal(j->reason, "");

	j = find(jobs, n, 3); /* 3:0 */
	assert_string_equal(j->state, "FAILED");
	assert_int_equal(j->wait_status, 3 << 8);

	j = find(jobs, n, 4); /* 0:9 */
	assert_int_equal(j->wait_status, 9);

	j = find(jobs, n, 5); /* jobcomp says 0:0 where squeue said 15 */
	assert_int_equal(slurm_state(j->state), JOB_CANCELLED);
	assert_true(j->end_time == 1796528640);

	j = find(jobs, n, 1);
	assert_string_equal(j->state, "TIMEOUT");
	assert_int_equal(slurm_state(j->state), JOB_FAILED);
	assert_true(j->end_time == 1796528718);
	free(jobs);
	free(text);

	/* Array tasks under jobcomp: each its own id, no "_" notation. */
	text = load("sacct-c-array.txt", &len);
	assert_int_equal(slurm_parse_sacct(text, len, &jobs, &n), 0);
	assert_int_equal(n, 4);
	j = find(jobs, n, 1);
	assert_int_equal(j->wait_status, 3 << 8);
	assert_int_equal(j->array_job_id, 0);
	assert_true(j->start_time == 1796528768 && j->end_time == 1796528772);
	free(jobs);
	free(text);
}

static void
test_sacct_shapes(void **state)
{
	(void)state;
	const char *text =
	    "5|rftd-run|FAILED|3:0|2026-12-06T03:43:51|2026-12-06T03:43:52\n"
	    "5.batch|batch|FAILED|3:0|2026-12-06T03:43:51|2026-12-06T03:43:52\n"
	    "5.extern|extern|COMPLETED|0:0|Unknown|Unknown\n"
	    "6|rftd-c|CANCELLED by 0|0:15|None|1796528640\r\n"
	    "10_1|a|b|c|COMPLETED|0:0|1796528631|1796528632|\n"
	    "10_[2-3%1]|arr|PENDING|0:0|Unknown|Unknown\n"
	    "10_2.0|step|RUNNING|0:0|Unknown|Unknown\n"
	    "  11|x|CANCELLED+|0:0|Unknown|Unknown  \n"
	    "12|COMPLETED|0:0\n"
	    "13|RUNNING|0:0|1796528631|Unknown\n"
	    "14|p|PENDING|0:0|2026-12-06T03:43:51|Unknown\n"
	    "14|p|RUNNING|0:0|2026-12-06T03:44:51|Unknown\n"
	    "\n   \n"
	    "sacct: error: Unknown type ArrayJobId: 10\n"
	    "99999999999|big|COMPLETED|0:0|Unknown|Unknown\n"
	    "15|bad exit|COMPLETED|3|Unknown|Unknown\n"
	    "16|bad exit|COMPLETED|256:0|Unknown|Unknown\n"
	    "17|bad time|COMPLETED|0:0|2026-13-06T03:43:51|2026-12-06T03:43\n"
	    "18_x|bad id|COMPLETED|0:0|Unknown|Unknown\n"
	    "0|zero|COMPLETED|0:0|Unknown|Unknown\n"
	    "19|four|fields|x\n"
	    "20||COMPLETED|0:1|Unknown|1796528632";
	struct slurm_job *jobs;
	const struct slurm_job *j;
	size_t n;

	assert_int_equal(sacct_str(text, &jobs, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_sane(&jobs[i]);
	assert_int_equal(n, 11);

	j = &jobs[0]; /* the step lines are skipped */
	assert_int_equal(j->id, 5);
	assert_int_equal(j->wait_status, 3 << 8);
	assert_true(j->start_time == 1796528631);
	assert_true(j->end_time == 1796528632);

	j = &jobs[1];
	assert_int_equal(j->id, 6);
	assert_string_equal(j->state, "CANCELLED");
	assert_int_equal(j->wait_status, 15);
	assert_true(j->start_time == 0);
	assert_true(j->end_time == 1796528640);

	j = &jobs[2]; /* a name with '|', a trailing '|' */
	assert_int_equal(j->id, 10);
	assert_int_equal(j->array_job_id, 10);
	assert_int_equal(j->array_task_id, 1);
	assert_string_equal(j->name, "a|b|c");
	assert_int_equal(slurm_state(j->state), JOB_SUCCEEDED);
	assert_true(j->end_time == 1796528632);

	j = &jobs[3];
	assert_int_equal(j->id, 10);
	assert_int_equal(j->array_job_id, 10);
	assert_int_equal(j->array_task_id, -1);
	assert_false(j->has_exit);

	j = &jobs[4];
	assert_int_equal(j->id, 11);
	assert_string_equal(j->state, "CANCELLED");

	j = &jobs[5]; /* JobID,State,ExitCode */
	assert_int_equal(j->id, 12);
	assert_string_equal(j->name, "");
	assert_int_equal(slurm_state(j->state), JOB_SUCCEEDED);
	assert_true(j->has_exit);

	j = &jobs[6]; /* JobID,State,ExitCode,Start,End */
	assert_int_equal(j->id, 13);
	assert_int_equal(slurm_state(j->state), JOB_RUNNING);
	assert_true(j->start_time == 1796528631);
	assert_false(j->has_exit);

	j = &jobs[7]; /* listed twice: both, the newest last */
	assert_int_equal(j->id, 14);
	assert_true(j->start_time == 0); /* pending */
	assert_int_equal(jobs[8].id, 14);
	assert_string_equal(jobs[8].state, "RUNNING");
	assert_true(jobs[8].start_time == 1796528691);

	j = &jobs[9]; /* bad times are unknown */
	assert_int_equal(j->id, 17);
	assert_true(j->start_time == 0 && j->end_time == 0);

	j = &jobs[10]; /* no newline at the end */
	assert_int_equal(j->id, 20);
	assert_int_equal(j->wait_status, 1);
	assert_true(j->end_time == 1796528632);
	free(jobs);
}

static void
test_sacct_not_records(void **state)
{
	(void)state;
	size_t len, n = 5;
	char *text = load("sacct-disabled.txt", &len);
	struct slurm_job *jobs = (struct slurm_job *)1;

	/* Without slurmdbd and without -c. */
	assert_int_equal(slurm_parse_sacct(text, len, &jobs, &n), -EINVAL);
	assert_null(jobs);
	assert_int_equal(n, 0);
	free(text);
	/* What -c prints on stderr about array records. */
	assert_int_equal(
	    sacct_str("sacct: error: Unknown type ArrayJobId: 1\n"
		      "sacct: error: Unknown type ArrayTaskId: 0\n",
		      &jobs, &n),
	    -EINVAL);
	/* Nothing at all, and only steps: no jobs, but sacct's answer. */
	assert_int_equal(sacct_str("", &jobs, &n), 0);
	assert_int_equal(n, 0);
	assert_null(jobs);
	assert_int_equal(sacct_str("\n\n", &jobs, &n), 0);
	assert_int_equal(slurm_parse_sacct(NULL, 0, &jobs, &n), 0);
	assert_int_equal(slurm_parse_sacct(NULL, 1, &jobs, &n), -EINVAL);
	assert_int_equal(
	    sacct_str("5.batch|batch|FAILED|3:0|Unknown|Unknown\n", &jobs, &n),
	    0);
	assert_int_equal(n, 0);
	/* len bounds the read. */
	assert_int_equal(slurm_parse_sacct("7|COMPLETED|0:0\n8|COMPLETED|0:0\n",
					   16, &jobs, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(jobs[0].id, 7);
	free(jobs);
}

static void
test_sacct_huge(void **state)
{
	(void)state;
	size_t big = 300000, n;
	char *text = malloc(big + 100), *p;
	struct slurm_job *jobs;

	/* A very long name, with a multi-byte character across the cut. */
	assert_non_null(text);
	p = text + sprintf(text, "3|");
	memset(p, 'y', 254);
	p += 254;
	memcpy(p, "\xe2\x82\xac", 3); /* the euro sign, bytes 254-256 */
	p += 3;
	memset(p, '|', 100); /* and many '|' in it: too many fields */
	p += 100;
	p += sprintf(p, "|FAILED|3:0|Unknown|Unknown\n");
	p += sprintf(p, "4|");
	memset(p, 'z', big / 2);
	p += big / 2;
	memcpy(p, "\xe2\x82\xac", 3);
	p += 3;
	p += sprintf(p, "|FAILED|0:0|Unknown|Unknown\n");
	assert_int_equal(slurm_parse_sacct(text, (size_t)(p - text), &jobs, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(jobs[0].id, 4);
	assert_int_equal(strlen(jobs[0].name), SLURM_NAME_MAX - 1);
	free(jobs);

	p = text + sprintf(text, "3|");
	memset(p, 'y', 254);
	p += 254;
	p += sprintf(p, "\xe2\x82\xac|FAILED|3:0|Unknown|Unknown\n");
	assert_int_equal(slurm_parse_sacct(text, (size_t)(p - text), &jobs, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(jobs[0].name), 254); /* not half a euro */
	free(jobs);
	free(text);

	/* Many records. */
	text = malloc(50000 * 24);
	assert_non_null(text);
	p = text;
	for (int i = 1; i <= 50000; i++)
		p += sprintf(p, "%d|COMPLETED|0:0\n", i);
	assert_int_equal(slurm_parse_sacct(text, (size_t)(p - text), &jobs, &n),
			 0);
	assert_int_equal(n, 50000);
	assert_int_equal(jobs[49999].id, 50000);
	free(jobs);
	free(text);
}

/* --- states and exits ----------------------------------------------------- */

static void
test_state(void **state)
{
	(void)state;
	static const struct {
		const char *word;
		enum job_state want;
	} cases[] = {
	    {"PENDING", JOB_QUEUED},
	    {"REQUEUED", JOB_QUEUED},
	    {"REQUEUE_HOLD", JOB_QUEUED},
	    {"REQUEUE_FED", JOB_QUEUED},
	    {"SPECIAL_EXIT", JOB_QUEUED},
	    {"RESV_DEL_HOLD", JOB_QUEUED},
	    {"CONFIGURING", JOB_QUEUED},
	    {"SUSPENDED", JOB_QUEUED},
	    {"RUNNING", JOB_RUNNING},
	    {"COMPLETING", JOB_RUNNING},
	    {"STAGE_OUT", JOB_RUNNING},
	    {"RESIZING", JOB_RUNNING},
	    {"SIGNALING", JOB_RUNNING},
	    {"STOPPED", JOB_RUNNING},
	    {"COMPLETED", JOB_SUCCEEDED},
	    {"FAILED", JOB_FAILED},
	    {"TIMEOUT", JOB_FAILED},
	    {"OUT_OF_MEMORY", JOB_FAILED},
	    {"NODE_FAIL", JOB_FAILED},
	    {"BOOT_FAIL", JOB_FAILED},
	    {"DEADLINE", JOB_FAILED},
	    {"PREEMPTED", JOB_FAILED},
	    {"CANCELLED", JOB_CANCELLED},
	    {"CANCELLED by 0", JOB_CANCELLED},
	    {"CANCELLED+", JOB_CANCELLED},
	    {"  cancelled by 1000", JOB_CANCELLED},
	    {"running", JOB_RUNNING},
	    {"REVOKED", JOB__COUNT},
	    {"RUNNINGX", JOB__COUNT},
	    {"RUN", JOB__COUNT},
	    {"", JOB__COUNT},
	    {"   ", JOB__COUNT},
	    {"+", JOB__COUNT},
	    {"COMPLETEDCOMPLETEDCOMPLETEDCOMPLETED", JOB__COUNT},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (slurm_state(cases[i].word) != cases[i].want)
			fail_msg("slurm_state(\"%s\") = %d, want %d",
				 cases[i].word, slurm_state(cases[i].word),
				 cases[i].want);
	}
	assert_int_equal(slurm_state(NULL), JOB__COUNT);
	assert_true(slurm_state_final("TIMEOUT"));
	assert_true(slurm_state_final("COMPLETED"));
	assert_true(slurm_state_final("CANCELLED by 0"));
	assert_false(slurm_state_final("COMPLETING"));
	assert_false(slurm_state_final("PENDING"));
	assert_false(slurm_state_final("WHAT"));
	assert_false(slurm_state_final(NULL));
}

static void
test_describe_exit(void **state)
{
	(void)state;
	char buf[SLURM_DESCRIBE_MAX];

	assert_exit_words(0, "exit code 0");
	assert_exit_words(3 << 8, "exit code 3");
	assert_exit_words(255 << 8, "exit code 255");
	assert_exit_words(9, "killed by signal 9 (Killed)");
	assert_exit_words(15, "killed by signal 15 (Terminated)");
	assert_exit_words(6 | 0x80,
			  "killed by signal 6 (Aborted, core dumped)");
	assert_exit_words(64, "killed by signal 64");
	assert_exit_words(64 | 0x80, "killed by signal 64 (core dumped)");
	assert_exit_words(0x137f, "stopped by signal 19");
	assert_exit_words(-1, "wait status 0xffffffff");
	assert_exit_words(0x10000, "wait status 0x10000");
	assert_exit_words(0x109, "wait status 0x109");

	/* Small buffers: cut, NUL-terminated. */
	memset(buf, 'X', sizeof buf);
	slurm_describe_exit(768, buf, 1);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'X');
	slurm_describe_exit(768, buf, 5);
	assert_string_equal(buf, "exit");
	slurm_describe_exit(768, NULL, 0);
	slurm_describe_exit(768, buf, 0);
	assert_string_equal(buf, "exit");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_squeue_active),
	    cmocka_unit_test(test_squeue_cancelled_and_timeout),
	    cmocka_unit_test(test_squeue_arrays),
	    cmocka_unit_test(test_squeue_controller_down),
	    cmocka_unit_test(test_squeue_v0044),
	    cmocka_unit_test(test_squeue_not_an_answer),
	    cmocka_unit_test(test_squeue_hostile_fields),
	    cmocka_unit_test(test_squeue_huge),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_sacct_jobcomp),
	    cmocka_unit_test(test_sacct_shapes),
	    cmocka_unit_test(test_sacct_not_records),
	    cmocka_unit_test(test_sacct_huge),
	    cmocka_unit_test(test_state),
	    cmocka_unit_test(test_describe_exit),
	};

	/* sacct prints local times: read them as the fixtures were made. */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
