/*
 * The scheduler's admission and the meter's decisions, on a real daemon
 * context (store, configuration, the simulated backend) with no timers:
 * each tick is run by hand with scheduler_tick_whole().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "budget.h"
#include "daemon.h"
#include "meter.h"
#include "scheduler.h"
#include "store.h"
#include "testdb.h"
#include "tmpdir.h"

struct fixture {
	char dir[256];
	char db[300];
	struct daemon d;
};

/* A daemon whose configuration is `conf` (after [daemon]). */
static struct fixture *
fixture_new(const char *conf)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[300], err[256], *errors = NULL;
	FILE *fp;

	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "sched"), 0);
	snprintf(f->db, sizeof(f->db), "%s/rftd.db", f->dir);
	snprintf(path, sizeof(path), "%s/rftd.conf", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "[daemon]\ndatabase = %s\nsocket = %s/s\n%s", f->db, f->dir,
		conf);
	fclose(fp);
	if (config_load(&f->d.cfg, path, true, &errors) != 0)
		fail_msg("config: %s", errors);
	assert_int_equal(uv_loop_init(&f->d.loop), 0);
	f->d.store = store_open(f->db, err, sizeof(err));
	assert_non_null(f->d.store);
	backends_init(&f->d);
	meter_init(&f->d);
	f->d.sched = scheduler_new(&f->d);
	return f;
}

static void
fixture_free(struct fixture *f)
{
	scheduler_close(f->d.sched);
	backends_close(&f->d);
	uv_run(&f->d.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->d.loop), 0);
	backends_free(&f->d);
	meter_free(&f->d);
	store_close(f->d.store);
	config_free(&f->d.cfg);
	tmpdir_remove(f->dir);
	free(f);
}

/* A sweep of `n` trials on the sim backend; 0.3 h jobs at $100/h. */
static int64_t
sweep(struct fixture *f, const char *name, int n, int max_concurrent,
      double budget_usd)
{
	struct store_sweep_new sw = {.name = name,
				     .backend = "sim",
				     .model = "o4-mini",
				     .spec_json = "{\"training_file\": "
						  "\"file-x\"}",
				     .spec_sha256 = name,
				     .max_concurrent = max_concurrent,
				     .max_job_hours = 0.3,
				     .has_budget = budget_usd > 0,
				     .budget_usd = budget_usd,
				     .simulated = true};
	struct store_grader_new g = {
	    .sha256 = "g",
	    .type = "string_check",
	    .json = "{\"type\": \"string_check\", \"name\": \"exact\"}"};
	struct store_trial_new t[16];
	char hashes[16][40];
	size_t reused;
	cJSON *existing = NULL;
	int64_t id;

	assert_true(n <= 16);
	for (int i = 0; i < n; i++) {
		snprintf(hashes[i], sizeof(hashes[i]), "%s-%d", name, i);
		t[i] = (struct store_trial_new){.sha256 = hashes[i],
						.grader_name = "exact",
						.grader_sha256 = "g",
						.hyperparameters_json = "{}",
						.has_seed = true,
						.seed = i + 1};
	}
	assert_int_equal(store_sweep_create(f->d.store, &sw, &g, 1, t,
					    (size_t)n, false, 1000, &id,
					    &reused, &existing),
			 0);
	meter_limits(&f->d); /* the sweep's own budget */
	return id;
}

static int64_t
count(struct fixture *f, const char *sql, int64_t arg)
{
	return (int64_t)testdb_number(f->db, sql, arg);
}

static int64_t
jobs_of(struct fixture *f, int64_t sweep_id)
{
	return count(f,
		     "SELECT count(*) FROM jobs j JOIN trials t"
		     " ON t.id = j.trial_id WHERE t.sweep_id = ?",
		     sweep_id);
}

/* --- admission ------------------------------------------------------------ */

static void
admission_fills_the_backend_within_each_sweeps_limit(void **state)
{
	struct fixture *f = fixture_new("[backend \"sim\"]\ntype = sim\n"
					"max_concurrent = 3\n");
	int64_t a = sweep(f, "a", 5, 2, 0), b = sweep(f, "b", 5, 0, 0);

	(void)state;
	scheduler_tick_whole(f->d.sched);
	assert_int_equal(jobs_of(f, a), 2);
	assert_int_equal(jobs_of(f, b), 1);
	/* Full: another tick starts nothing. */
	scheduler_tick_whole(f->d.sched);
	assert_int_equal(jobs_of(f, a) + jobs_of(f, b), 3);
	fixture_free(f);
}

static void
admission_reserves_worst_cases_and_says_why_the_rest_waits(void **state)
{
	struct fixture *f = fixture_new("[backend \"sim\"]\ntype = sim\n");
	int64_t a = sweep(f, "a", 4, 0, 70); /* room for two $30 jobs */

	(void)state;
	scheduler_tick_whole(f->d.sched);
	assert_int_equal(jobs_of(f, a), 2);
	assert_int_equal(count(f,
			       "SELECT count(*) FROM trials WHERE sweep_id = ?"
			       " AND pending_reason LIKE 'waiting for budget "
			       "sweep:%'",
			       a),
			 1);
	assert_int_equal(count(f,
			       "SELECT round(sum(amount_usd)) FROM ledger"
			       " WHERE kind = 'reserve' AND scope = 'global'",
			       0),
			 60);
	fixture_free(f);
}

static void
admission_takes_a_budget_that_exactly_fits(void **state)
{
	struct fixture *f = fixture_new("[backend \"sim\"]\ntype = sim\n");
	int64_t a = sweep(f, "a", 3, 0, 90); /* three $30 jobs */

	(void)state;
	scheduler_tick_whole(f->d.sched);
	assert_int_equal(jobs_of(f, a), 3);
	fixture_free(f);
}

static void
admission_waits_while_the_configured_global_budget_is_spoken_for(void **state)
{
	struct fixture *f = fixture_new("[budget]\nglobal = 40\n"
					"[backend \"sim\"]\ntype = sim\n");
	int64_t a = sweep(f, "a", 2, 0, 0), b = sweep(f, "b", 2, 0, 0);

	(void)state;
	scheduler_tick_whole(f->d.sched);
	assert_int_equal(jobs_of(f, a) + jobs_of(f, b), 1);
	fixture_free(f);
}

/* --- the meter's decisions ------------------------------------------------ */

static void
the_meter_stops_only_what_could_cross_and_groups_by_scope(void **state)
{
	struct fixture *f = fixture_new("[budget]\nglobal = 100\n"
					"[backend \"sim\"]\ntype = sim\n");
	struct budget_job jobs[3] = {
	    {.id = 1,
	     .sweep_id = 1,
	     .rate = 360,
	     .worst = 0,
	     .running = true,
	     .can_pause = true},
	    {.id = 2, .sweep_id = 2, .rate = 360, .worst = 0, .running = true},
	    {.id = 3, .sweep_id = 2, .rate = 360, .worst = 0, .running = false},
	};
	struct meter_stop *stops;
	size_t n;

	(void)state;
	budget_spend(f->d.budget, 1, 90, 1000);
	/* 90 + 2 x 360/h x 50 s = 100: reaches the limit, no more. */
	assert_int_equal(meter_enforce(&f->d, jobs, 3, 50, &stops), 0);
	free(stops);
	/* 60 s: 102 > 100.  The running ones stop, as each can. */
	n = meter_enforce(&f->d, jobs, 3, 60, &stops);
	assert_int_equal(n, 2);
	assert_int_equal(stops[0].job_id, 1);
	assert_true(stops[0].pause);
	assert_int_equal(stops[1].job_id, 2);
	assert_false(stops[1].pause);
	assert_string_equal(stops[0].name, "global");
	/* Only what was carried out is a halt. */
	stops[0].done = true;
	meter_halted(&f->d, stops, n, 0);
	assert_int_equal(count(f,
			       "SELECT count(*) FROM halts WHERE jobs = "
			       "'[1]' AND scope = 'global' AND action = "
			       "'pause'",
			       0),
			 1);
	free(stops);
	fixture_free(f);
}

static void
raising_a_limit_lists_the_budget_paused_jobs_that_fit_again(void **state)
{
	struct fixture *f = fixture_new("[backend \"sim\"]\ntype = sim\n");
	int64_t a = sweep(f, "a", 2, 0, 0);
	int64_t *resume;
	size_t n;
	char err[256];

	(void)state;
	scheduler_tick_whole(f->d.sched);
	assert_int_equal(jobs_of(f, a), 2);
	/* A budget paused job 1 (its state, and the mark). */
	assert_int_equal(
	    store_job_change(f->d.store, 1,
			     &(struct store_job_change){.state = "paused",
							.billed_seconds = -1},
			     1500),
	    0);
	assert_int_equal(store_job_budget_paused(f->d.store, 1, true), 0);
	assert_int_equal(meter_set_limit(&f->d, "global", 10, NULL, &resume, &n,
					 err, sizeof(err)),
			 0);
	assert_int_equal(n, 0); /* tightened: nothing resumes */
	free(resume);
	assert_int_equal(meter_set_limit(&f->d, "global", 1000, NULL, &resume,
					 &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(resume[0], 1);
	free(resume);
	assert_int_equal(meter_set_limit(&f->d, "sweep:99", 5, NULL, &resume,
					 &n, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "no sweep 99");
	fixture_free(f);
}

/* The state of job `id`. */
static void
job_state(struct fixture *f, int64_t id, char *out, size_t len)
{
	testdb_text(f->db, "SELECT state FROM jobs WHERE id = ?", id, out, len);
}

static void
a_job_resumed_while_pausing_is_resumed_once_paused(void **state)
{
	struct fixture *f = fixture_new("[backend \"sim\"]\ntype = sim\n");
	char err[256], st[32];

	(void)state;
	sweep(f, "a", 1, 0, 0);
	scheduler_tick_whole(f->d.sched);
	/* A pause decided, not yet sent (as after a restart). */
	assert_int_equal(
	    store_job_change(f->d.store, 1,
			     &(struct store_job_change){.state = "pausing",
							.billed_seconds = -1},
			     1500),
	    0);
	assert_int_equal(scheduler_job_event(f->d.sched, 1, JOB_EV_RESUME,
					     JOB_BY_SWEEP, NULL, err,
					     sizeof(err)),
			 0);
	scheduler_tick_whole(
	    f->d.sched); /* the pause goes, the job is paused */
	job_state(f, 1, st, sizeof(st));
	assert_string_equal(st, "paused");
	scheduler_tick_whole(f->d.sched); /* then the resume it was owed */
	job_state(f, 1, st, sizeof(st));
	assert_string_not_equal(st, "paused");
	assert_string_not_equal(st, "pausing");
	fixture_free(f);
}

static void
a_stop_the_backend_answers_with_no_such_job_ends_it_lost(void **state)
{
	struct fixture *f = fixture_new("[backend \"sim\"]\ntype = sim\n"
					"max_concurrent = 1\n");
	sqlite3 *db;
	char err[256], st[32];

	(void)state;
	sweep(f, "a", 2, 0, 0);
	scheduler_tick_whole(f->d.sched);
	/* The provider forgets the job. */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "DELETE FROM sim_jobs", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(scheduler_job_event(f->d.sched, 1, JOB_EV_STOP,
					     JOB_BY_USER, NULL, err,
					     sizeof(err)),
			 0);
	job_state(f, 1, st, sizeof(st));
	assert_string_equal(st, "lost");
	/* Stopped on purpose: its trial is cancelled, not retried. */
	testdb_text(f->db, "SELECT state FROM trials WHERE id = ?", 1, st,
		    sizeof(st));
	assert_string_equal(st, "cancelled");
	fixture_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		admission_fills_the_backend_within_each_sweeps_limit),
	    cmocka_unit_test(
		admission_reserves_worst_cases_and_says_why_the_rest_waits),
	    cmocka_unit_test(admission_takes_a_budget_that_exactly_fits),
	    cmocka_unit_test(
		admission_waits_while_the_configured_global_budget_is_spoken_for),
	    cmocka_unit_test(
		the_meter_stops_only_what_could_cross_and_groups_by_scope),
	    cmocka_unit_test(
		raising_a_limit_lists_the_budget_paused_jobs_that_fit_again),
	    cmocka_unit_test(
		a_job_resumed_while_pausing_is_resumed_once_paused),
	    cmocka_unit_test(
		a_stop_the_backend_answers_with_no_such_job_ends_it_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
