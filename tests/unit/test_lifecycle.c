/*
 * The lifecycle: state names against the store's CHECK lists, what every
 * (state, event) pair means (the legal ones and the refused ones), and
 * the entry actions job_fsm() runs on a real store: the bill, the
 * reservation, the trial, and nothing at all when a write fails.
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
#include "lifecycle.h"
#include "store.h"
#include "testdb.h"
#include "tmpdir.h"

/* --- the names are the store's ------------------------------------------- */

/* The quoted names of "CHECK (state IN (...))" in a table's schema. */
static int
check_list(sqlite3 *db, const char *table, char names[][32], int max)
{
	sqlite3_stmt *s;
	const char *sql, *p, *end;
	int n = 0;

	assert_int_equal(
	    sqlite3_prepare_v2(db,
			       "SELECT sql FROM sqlite_master"
			       " WHERE type = 'table' AND name = ?",
			       -1, &s, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	sql = (const char *)sqlite3_column_text(s, 0);
	p = strstr(sql, "CHECK (state IN (");
	assert_non_null(p);
	end = strchr(p, ')');
	while ((p = strchr(p, '\'')) != NULL && p < end) {
		const char *q = strchr(p + 1, '\'');

		assert_true(n < max);
		snprintf(names[n++], 32, "%.*s", (int)(q - p - 1), p + 1);
		p = q + 1;
	}
	sqlite3_finalize(s);
	return n;
}

static void
state_names_are_the_stores_check_lists(void **state)
{
	char dir[256], path[300], err[256], names[32][32];
	struct store *st;
	sqlite3 *db;
	int n;

	(void)state;
	assert_int_equal(tmpdir_make(dir, sizeof(dir), "lifecycle"), 0);
	snprintf(path, sizeof(path), "%s/rftd.db", dir);
	st = store_open(path, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	n = check_list(db, "sweeps", names, 32);
	assert_int_equal(n, SWEEP__COUNT);
	for (int i = 0; i < n; i++)
		assert_string_equal(names[i],
				    sweep_state_name((enum sweep_state)i));
	n = check_list(db, "trials", names, 32);
	assert_int_equal(n, TRIAL__COUNT);
	for (int i = 0; i < n; i++)
		assert_string_equal(names[i],
				    trial_state_name((enum trial_state)i));
	n = check_list(db, "jobs", names, 32);
	assert_int_equal(n, JOB__COUNT);
	for (int i = 0; i < n; i++)
		assert_string_equal(names[i],
				    job_state_name((enum job_state)i));
	sqlite3_close(db);
	store_close(st);
	tmpdir_remove(dir);
}

static void
names_parse_back(void **state)
{
	enum job_state js;
	enum trial_state ts;
	enum sweep_state ss;

	(void)state;
	for (int i = 0; i < JOB__COUNT; i++) {
		assert_int_equal(
		    job_state_parse(job_state_name((enum job_state)i), &js), 0);
		assert_int_equal(js, i);
	}
	for (int i = 0; i < TRIAL__COUNT; i++) {
		assert_int_equal(
		    trial_state_parse(trial_state_name((enum trial_state)i),
				      &ts),
		    0);
		assert_int_equal(ts, i);
	}
	for (int i = 0; i < SWEEP__COUNT; i++) {
		assert_int_equal(
		    sweep_state_parse(sweep_state_name((enum sweep_state)i),
				      &ss),
		    0);
		assert_int_equal(ss, i);
	}
	assert_int_equal(job_state_parse("runing", &js), -EINVAL);
	assert_int_equal(job_state_parse(NULL, &js), -EINVAL);
}

/* --- every (state, event) pair -------------------------------------------- */

#define SAME JOB__COUNT /* the job stays in its state */

struct cell {
	int rc;
	enum job_state to;
	enum job_action then;
};

#define X                                                                      \
	{                                                                      \
		-EINVAL, SAME, JOB_DO_NOTHING                                  \
	} /* makes no sense */
#define A                                                                      \
	{                                                                      \
		-EALREADY, SAME, JOB_DO_NOTHING                                \
	} /* done or not now */
#define S(then)                                                                \
	{                                                                      \
		0, SAME, JOB_DO_##then                                         \
	} /* stays; then */
#define T(to, then)                                                            \
	{                                                                      \
		0, JOB_##to, JOB_DO_##then                                     \
	} /* moves; then */

/* One row: a job in `state` (with a remote id or not), and what each
 * event means for it, in enum job_event order. */
struct row {
	enum job_state state;
	bool remote;
	struct cell cells[JOB_EV__COUNT];
};

/*
 * The default input: the answer names "ftjob-x", a poll says running,
 * a control done was a cancel, the user asks, the backend can pause, the
 * sweep runs and no stop or pause is under way.
 */
static const struct row matrix[] = {
    /*         TURN       SUBMITTED  S_UNKNOWN        S_HELD
	       REFUSED           DUPLICATE         FOUND      NOT_FOUND
	       POLLED            GONE       STOP                   PAUSE
	       RESUME     CONTROLLED */
    {JOB_PENDING, false, {X, X, X, X, X, X, X, X, X, X, X, X, X, X}},
    {JOB_SUBMITTING,
     false,
     {S(FIND), S(NOTHING), T(UNKNOWN, NOTHING), S(NOTHING), T(FAILED, NOTHING),
      T(FAILED, NOTHING), S(NOTHING), S(SUBMIT), X, X, T(CANCELLING, FIND), A,
      A, X}},
    {JOB_SUBMITTING,
     true,
     {S(POLL), X, X, X, X, X, X, X, T(RUNNING, NOTHING), T(LOST, NOTHING),
      T(CANCELLING, CANCEL), A, A, S(POLL)}},
    {JOB_UNKNOWN,
     false,
     {S(FIND), S(NOTHING), S(NOTHING), S(NOTHING), T(FAILED, NOTHING),
      T(FAILED, NOTHING), S(NOTHING), T(SUBMITTING, SUBMIT), X, X,
      T(CANCELLING, FIND), A, A, X}},
    {JOB_VALIDATING,
     true,
     {S(POLL), X, X, X, X, X, X, X, T(RUNNING, NOTHING), T(LOST, NOTHING),
      T(CANCELLING, CANCEL), A, A, S(POLL)}},
    {JOB_QUEUED,
     true,
     {S(POLL), X, X, X, X, X, X, X, T(RUNNING, NOTHING), T(LOST, NOTHING),
      T(CANCELLING, CANCEL), A, A, S(POLL)}},
    {JOB_RUNNING,
     true,
     {S(POLL), X, X, X, X, X, X, X, S(NOTHING), T(LOST, NOTHING),
      T(CANCELLING, CANCEL), T(PAUSING, PAUSE), A, S(POLL)}},
    {JOB_PAUSING,
     true,
     {S(PAUSE), X, X, X, X, X, X, X, T(RUNNING, NOTHING), T(LOST, NOTHING),
      T(CANCELLING, CANCEL), A, A, S(POLL)}},
    {JOB_PAUSED,
     true,
     {S(POLL), X, X, X, X, X, X, X, T(RUNNING, NOTHING), T(LOST, NOTHING),
      T(CANCELLING, CANCEL), A, S(RESUME), S(POLL)}},
    {JOB_CANCELLING,
     true,
     {S(CANCEL), X, X, X, X, X, X, X, S(NOTHING), T(LOST, NOTHING), A, A, A,
      S(POLL)}},
    {JOB_CANCELLING,
     false,
     {S(FIND), S(CANCEL), S(NOTHING), T(CANCELLED, NOTHING),
      T(CANCELLED, NOTHING), T(FAILED, NOTHING), S(CANCEL),
      T(CANCELLED, NOTHING), X, X, A, A, A, X}},
    {JOB_SUCCEEDED, true, {X, X, X, X, X, X, X, X, X, X, A, A, A, X}},
    {JOB_FAILED, true, {X, X, X, X, X, X, X, X, X, X, A, A, A, X}},
    {JOB_CANCELLED, true, {X, X, X, X, X, X, X, X, X, X, A, A, A, X}},
    {JOB_LOST, true, {X, X, X, X, X, X, X, X, X, X, A, A, A, X}},
};

static struct job
job_in(enum job_state state, bool remote)
{
	return (struct job){.id = 1,
			    .trial_id = 1,
			    .sweep_id = 1,
			    .attempt = 1,
			    .state = state,
			    .sweep_state = SWEEP_RUNNING,
			    .remote_id = remote ? (char *)"ftjob-x" : NULL,
			    .intent_key = (char *)"rftd-0"};
}

static const struct backend_poll poll_running = {
    .state = JOB_RUNNING, .billed_seconds = -1, .cost_usd = -1};

static struct job_input
default_input(void)
{
	return (struct job_input){.cause = JOB_BY_USER,
				  .remote_id = "ftjob-y",
				  .can_pause = true,
				  .done = JOB_DO_CANCEL,
				  .poll = &poll_running};
}

static void
every_state_and_event_means_what_the_matrix_says(void **state)
{
	bool seen[JOB__COUNT] = {false};

	(void)state;
	for (size_t r = 0; r < sizeof(matrix) / sizeof(matrix[0]); r++) {
		const struct row *row = &matrix[r];
		struct job j = job_in(row->state, row->remote);
		struct job_input in = default_input();

		seen[row->state] = true;
		for (int ev = 0; ev < JOB_EV__COUNT; ev++) {
			const struct cell *want = &row->cells[ev];
			struct job_step got =
			    job_decide(&j, (enum job_event)ev, &in);
			enum job_state to =
			    want->to == SAME ? row->state : want->to;
			char where[128];

			snprintf(where, sizeof(where), "%s%s, %s",
				 job_state_name(row->state),
				 row->remote ? " (remote)" : "",
				 job_event_name((enum job_event)ev));
			if (got.rc != want->rc || got.to != to ||
			    got.then != want->then)
				fail_msg("%s: got rc %d, %s, then %s; want rc "
					 "%d, %s, then %s",
					 where, got.rc, job_state_name(got.to),
					 job_action_name(got.then), want->rc,
					 job_state_name(to),
					 job_action_name(want->then));
			/* A move the machine makes is one its table allows. */
			if (got.rc == 0 && got.to != row->state)
				assert_true(
				    job_transition_ok(row->state, got.to));
		}
	}
	for (int s = 0; s < JOB__COUNT; s++)
		assert_true(seen[s]);
}

/* The inputs that change a step: sweep state, pause support, a stop
 * under way, the provider's state, a resume done. */
struct variant {
	const char *what;
	enum job_state state;
	bool remote;
	enum sweep_state sweep;
	enum job_event ev;
	bool cannot_pause, control_sent;
	enum job_state polled; /* JOB__COUNT: a word we do not know */
	enum job_action done;
	struct cell want;
};

static const struct variant variants[] = {
    {"a running job of a paused sweep pauses", JOB_RUNNING, true, SWEEP_PAUSED,
     JOB_EV_TURN, false, false, JOB_RUNNING, JOB_DO_CANCEL, T(PAUSING, PAUSE)},
    {"...unless its backend cannot pause", JOB_RUNNING, true, SWEEP_PAUSED,
     JOB_EV_TURN, true, false, JOB_RUNNING, JOB_DO_CANCEL, S(POLL)},
    {"a queued job of a paused sweep is polled", JOB_QUEUED, true, SWEEP_PAUSED,
     JOB_EV_TURN, false, false, JOB_RUNNING, JOB_DO_CANCEL, S(POLL)},
    {"a live job of a cancelled sweep is cancelled", JOB_QUEUED, true,
     SWEEP_CANCELLED, JOB_EV_TURN, false, false, JOB_RUNNING, JOB_DO_CANCEL,
     T(CANCELLING, CANCEL)},
    {"a stop under way is polled, not sent again", JOB_CANCELLING, true,
     SWEEP_RUNNING, JOB_EV_TURN, false, true, JOB_RUNNING, JOB_DO_CANCEL,
     S(POLL)},
    {"a pause under way is polled, not sent again", JOB_PAUSING, true,
     SWEEP_RUNNING, JOB_EV_TURN, false, true, JOB_RUNNING, JOB_DO_CANCEL,
     S(POLL)},
    {"a job never created in a cancelled sweep is cancelled", JOB_UNKNOWN,
     false, SWEEP_CANCELLED, JOB_EV_NOT_FOUND, false, false, JOB_RUNNING,
     JOB_DO_CANCEL, T(CANCELLED, NOTHING)},
    {"...and in a paused sweep waits for it", JOB_UNKNOWN, false, SWEEP_PAUSED,
     JOB_EV_NOT_FOUND, false, false, JOB_RUNNING, JOB_DO_CANCEL, S(NOTHING)},
    {"pausing needs a backend that can",
     JOB_RUNNING,
     true,
     SWEEP_RUNNING,
     JOB_EV_PAUSE,
     true,
     false,
     JOB_RUNNING,
     JOB_DO_CANCEL,
     {-EOPNOTSUPP, SAME, JOB_DO_NOTHING}},
    {"so does resuming",
     JOB_PAUSED,
     true,
     SWEEP_RUNNING,
     JOB_EV_RESUME,
     true,
     false,
     JOB_RUNNING,
     JOB_DO_CANCEL,
     {-EOPNOTSUPP, SAME, JOB_DO_NOTHING}},
    {"a resume done queues the job", JOB_PAUSED, true, SWEEP_RUNNING,
     JOB_EV_CONTROLLED, false, false, JOB_RUNNING, JOB_DO_RESUME,
     T(QUEUED, NOTHING)},
    {"a pause done is polled for its bill", JOB_PAUSING, true, SWEEP_RUNNING,
     JOB_EV_CONTROLLED, false, false, JOB_RUNNING, JOB_DO_PAUSE, S(POLL)},
    {"a provider's word we do not know keeps the state", JOB_RUNNING, true,
     SWEEP_RUNNING, JOB_EV_POLLED, false, false, JOB__COUNT, JOB_DO_CANCEL,
     S(NOTHING)},
    {"polls never go back to validating", JOB_RUNNING, true, SWEEP_RUNNING,
     JOB_EV_POLLED, false, false, JOB_VALIDATING, JOB_DO_CANCEL, S(NOTHING)},
    {"a cancelling job ends as the provider says", JOB_CANCELLING, true,
     SWEEP_RUNNING, JOB_EV_POLLED, false, false, JOB_SUCCEEDED, JOB_DO_CANCEL,
     T(SUCCEEDED, NOTHING)},
    {"a pausing job the provider paused is paused", JOB_PAUSING, true,
     SWEEP_RUNNING, JOB_EV_POLLED, false, false, JOB_PAUSED, JOB_DO_CANCEL,
     T(PAUSED, NOTHING)},
    {"a paused job the provider resumed is queued", JOB_PAUSED, true,
     SWEEP_RUNNING, JOB_EV_POLLED, false, false, JOB_QUEUED, JOB_DO_CANCEL,
     T(QUEUED, NOTHING)},
};

static void
inputs_change_the_step_as_they_should(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const struct variant *v = &variants[i];
		struct job j = job_in(v->state, v->remote);
		struct backend_poll p = poll_running;
		struct job_input in = default_input();
		struct job_step got;
		enum job_state to = v->want.to == SAME ? v->state : v->want.to;

		j.sweep_state = v->sweep;
		p.state = v->polled;
		in.poll = &p;
		in.can_pause = !v->cannot_pause;
		in.control_sent = v->control_sent;
		in.done = v->done;
		got = job_decide(&j, v->ev, &in);
		if (got.rc != v->want.rc || got.to != to ||
		    got.then != v->want.then)
			fail_msg("%s: got rc %d, %s, then %s", v->what, got.rc,
				 job_state_name(got.to),
				 job_action_name(got.then));
	}
}

/* --- entry actions on a real store ---------------------------------------- */

struct fixture {
	char dir[256];
	char path[300];
	struct store *st;
	struct budget budget;
	struct lifecycle lc;
	int64_t sweep_id;
	int64_t trial[2];
};

static void
trial_ids(const struct store_job_row *row, void *arg)
{
	struct fixture *f = arg;

	f->trial[f->trial[0] != 0] = row->trial_id;
}

/* A sweep of two trials (`retries` each), $100/h, 0.3 h at most. */
static void
fixture_sweep(struct fixture *f, int retries)
{
	struct store_sweep_new sw = {.name = "fsm",
				     .backend = "sim",
				     .model = "m",
				     .spec_json = "{}",
				     .spec_sha256 = "s",
				     .max_job_hours = 0.3,
				     .retries = retries};
	struct store_grader_new g = {
	    .sha256 = "g", .type = "string_check", .json = "{}"};
	struct store_trial_new t[2] = {
	    {.sha256 = "t1",
	     .grader_name = "exact",
	     .grader_sha256 = "g",
	     .hyperparameters_json = "{}",
	     .has_seed = true,
	     .seed = 1},
	    {.sha256 = "t2",
	     .grader_name = "exact",
	     .grader_sha256 = "g",
	     .hyperparameters_json = "{}",
	     .has_seed = true,
	     .seed = 2},
	};
	size_t reused;
	cJSON *existing = NULL;

	assert_int_equal(store_sweep_create(f->st, &sw, &g, 1, t, 2, false,
					    1000, &f->sweep_id, &reused,
					    &existing),
			 0);
	store_trials_admissible(f->st, f->sweep_id, 1000, 2, trial_ids, f);
	assert_true(f->trial[0] > 0 && f->trial[1] > 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_int_equal(tmpdir_make(f->dir, sizeof(f->dir), "fsm"), 0);
	snprintf(f->path, sizeof(f->path), "%s/rftd.db", f->dir);
	f->st = store_open(f->path, err, sizeof(err));
	assert_non_null(f->st);
	budget_init(&f->budget);
	f->lc = (struct lifecycle){.store = f->st,
				   .budget = &f->budget,
				   .retry_base_s = 1,
				   .retry_max_s = 300};
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	budget_free(&f->budget);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void
take_job(const struct store_job_row *row, void *arg)
{
	*(struct job **)arg = job_from_row(row);
}

static struct job *
load(struct fixture *f, int64_t id)
{
	struct job *j = NULL;

	assert_int_equal(store_job_get(f->st, id, take_job, &j), 0);
	return j;
}

/* An admitted job of trial `k`: $100/h, $30 reserved. */
static struct job *
admit(struct fixture *f, int k, const char *intent)
{
	struct store_price price = {.sweep_id = f->sweep_id,
				    .rate = 100,
				    .reserved = 30,
				    .basis = "test"};
	int64_t id;
	int attempt;

	assert_int_equal(store_job_create(f->st, f->trial[k], "sim", intent,
					  true, &price, 1000, &id, &attempt),
			 0);
	return load(f, id);
}

static struct job_step
poll_as(struct fixture *f, struct job *j, enum job_state s, double billed)
{
	struct backend_poll p = {.state = s,
				 .provider_status = job_state_name(s),
				 .billed_seconds = billed,
				 .cost_usd = -1};

	return job_fsm(&f->lc, j, JOB_EV_POLLED,
		       &(struct job_input){.poll = &p}, 2000);
}

static double
scalar(struct fixture *f, const char *sql)
{
	return testdb_number(f->path, sql, 0);
}

static void
text(struct fixture *f, const char *sql, char *out, size_t len)
{
	testdb_text(f->path, sql, 0, out, len);
}

static void
a_job_that_ends_settles_its_bill_and_its_trial(void **state)
{
	struct fixture *f = *state;
	struct job *j;
	char trial[32];

	fixture_sweep(f, 0);
	j = admit(f, 0, "rftd-a");
	assert_int_equal(job_fsm(&f->lc, j, JOB_EV_SUBMITTED,
				 &(struct job_input){.remote_id = "sim-1"},
				 1500)
			     .rc,
			 0);
	assert_string_equal(j->remote_id, "sim-1");
	assert_int_equal(poll_as(f, j, JOB_RUNNING, 360).rc, 0);
	assert_int_equal(j->state, JOB_RUNNING);
	assert_true(fabs(j->cost - 10) < 1e-9);
	assert_true(fabs(f->budget.global.spent - 10) < 1e-9);
	assert_int_equal(poll_as(f, j, JOB_SUCCEEDED, 900).rc, 0);
	assert_int_equal(j->state, JOB_SUCCEEDED);
	assert_true(fabs(f->budget.global.spent - 25) < 1e-9);
	/* The ledger: reserved 30, accrued 25, released 30 (per scope). */
	assert_true(fabs(scalar(f, "SELECT sum(amount_usd) FROM ledger"
				   " WHERE scope = 'global' AND kind = "
				   "'accrue'") -
			 25) < 1e-9);
	assert_true(fabs(scalar(f, "SELECT sum(amount_usd) FROM ledger"
				   " WHERE scope = 'global' AND kind IN "
				   "('reserve', 'release')")) < 1e-9);
	text(f, "SELECT state FROM trials ORDER BY id LIMIT 1", trial,
	     sizeof(trial));
	assert_string_equal(trial, "succeeded");
	/* An ended job takes no more events. */
	assert_int_equal(poll_as(f, j, JOB_RUNNING, 1000).rc, -EINVAL);
	job_free(j);
}

static void
a_failed_job_with_retries_left_sends_its_trial_back_to_wait(void **state)
{
	struct fixture *f = *state;
	struct job *j;
	char trial[32];

	fixture_sweep(f, 2);
	j = admit(f, 0, "rftd-b");
	assert_int_equal(job_fsm(&f->lc, j, JOB_EV_REFUSED,
				 &(struct job_input){.error = "try later"},
				 1500)
			     .rc,
			 0);
	assert_int_equal(j->state, JOB_FAILED);
	text(f,
	     "SELECT state || ' ' || (not_before > 1500) FROM trials"
	     " ORDER BY id LIMIT 1",
	     trial, sizeof(trial));
	assert_string_equal(trial, "pending 1");
	job_free(j);
	/* A refusal that is final fails the trial at once. */
	j = admit(f, 1, "rftd-c");
	assert_int_equal(
	    job_fsm(&f->lc, j, JOB_EV_REFUSED,
		    &(struct job_input){.error = "bad grader", .final = true},
		    1500)
		.rc,
	    0);
	text(f, "SELECT state FROM trials ORDER BY id DESC LIMIT 1", trial,
	     sizeof(trial));
	assert_string_equal(trial, "failed");
	job_free(j);
}

static void
a_job_being_cancelled_that_fails_is_not_retried(void **state)
{
	struct fixture *f = *state;
	struct job *j;
	char trial[32];

	fixture_sweep(f, 2);
	j = admit(f, 0, "rftd-h");
	job_fsm(&f->lc, j, JOB_EV_SUBMITTED,
		&(struct job_input){.remote_id = "sim-3"}, 1500);
	assert_int_equal(poll_as(f, j, JOB_RUNNING, 60).rc, 0);
	assert_int_equal(job_fsm(&f->lc, j, JOB_EV_STOP,
				 &(struct job_input){.cause = JOB_BY_BUDGET},
				 1600)
			     .then,
			 JOB_DO_CANCEL);
	assert_int_equal(poll_as(f, j, JOB_FAILED, 90).rc, 0);
	assert_int_equal(j->state, JOB_FAILED);
	text(f, "SELECT state FROM trials ORDER BY id LIMIT 1", trial,
	     sizeof(trial));
	assert_string_equal(trial, "cancelled");
	job_free(j);
}

/*
 * A running job of trial 0 (a sweep allowing 2 retries) on which early
 * stopping then puts its mark `what`, as its rule records it; the job is
 * read again, with the mark.
 */
static struct job *
running_and_marked(struct fixture *f, const char *what)
{
	struct job *j;
	int64_t id;

	fixture_sweep(f, 2);
	j = admit(f, 0, "rftd-e");
	job_fsm(&f->lc, j, JOB_EV_SUBMITTED,
		&(struct job_input){.remote_id = "sim-e"}, 1500);
	assert_int_equal(poll_as(f, j, JOB_RUNNING, 60).rc, 0);
	id = j->id;
	job_free(j);
	assert_int_equal(
	    store_early_decide(
		f->st,
		&(struct store_early_decision){
		    .sweep_id = f->sweep_id,
		    .trial_id = f->trial[0],
		    .rule = "asha",
		    .metric = "valid_reward_mean",
		    .action = strcmp(what, "held") == 0 ? "pause" : "stop",
		    .step = 4,
		    .rung = 0,
		    .peers = 3,
		    .set_mark = true,
		    .mark = what,
		},
		1550),
	    0);
	return load(f, id);
}

static void
a_stopped_trial_ends_stopped_and_is_not_retried(void **state)
{
	struct fixture *f = *state;
	struct job *j = running_and_marked(f, "stopped");
	char trial[64];

	assert_true(j->early_stopped);
	assert_int_equal(
	    job_fsm(&f->lc, j, JOB_EV_STOP,
		    &(struct job_input){.cause = JOB_BY_EARLY_STOP}, 1600)
		.then,
	    JOB_DO_CANCEL);
	/* Whether the provider says cancelled or failed, it is stopped. */
	assert_int_equal(poll_as(f, j, JOB_FAILED, 90).rc, 0);
	text(f,
	     "SELECT state || ' ' || attempts FROM trials ORDER BY id LIMIT 1",
	     trial, sizeof(trial));
	assert_string_equal(trial, "stopped 1");
	job_free(j);
}

static void
a_held_trial_whose_job_ends_otherwise_is_held_no_more(void **state)
{
	struct fixture *f = *state;
	struct job *j = running_and_marked(f, "held");
	char trial[64];

	assert_true(j->early_held);
	assert_int_equal(job_fsm(&f->lc, j, JOB_EV_PAUSE,
				 &(struct job_input){.cause = JOB_BY_EARLY_STOP,
						     .can_pause = true},
				 1600)
			     .rc,
			 0);
	/* It finished before the pause reached it. */
	assert_int_equal(poll_as(f, j, JOB_SUCCEEDED, 90).rc, 0);
	text(f,
	     "SELECT state || ' ' || coalesce(early_stop, 'free') FROM trials"
	     " ORDER BY id LIMIT 1",
	     trial, sizeof(trial));
	assert_string_equal(trial, "succeeded free");
	job_free(j);
}

static void
an_answer_that_is_another_jobs_id_fails_the_attempt(void **state)
{
	struct fixture *f = *state;
	struct job *a, *b;
	char trial[32];

	fixture_sweep(f, 2);
	a = admit(f, 0, "rftd-d");
	b = admit(f, 1, "rftd-e");
	assert_int_equal(job_fsm(&f->lc, a, JOB_EV_SUBMITTED,
				 &(struct job_input){.remote_id = "twin"}, 1500)
			     .rc,
			 0);
	assert_int_equal(job_fsm(&f->lc, b, JOB_EV_SUBMITTED,
				 &(struct job_input){.remote_id = "twin"}, 1500)
			     .rc,
			 -EEXIST);
	assert_null(b->remote_id);
	assert_int_equal(
	    job_fsm(&f->lc, b, JOB_EV_DUPLICATE,
		    &(struct job_input){.remote_id = "twin",
					.error = "job 1 already holds twin"},
		    1500)
		.rc,
	    0);
	assert_int_equal(b->state, JOB_FAILED);
	/* Never retried: another attempt could be answered the same. */
	text(f, "SELECT state FROM trials ORDER BY id DESC LIMIT 1", trial,
	     sizeof(trial));
	assert_string_equal(trial, "failed");
	text(f, "SELECT error FROM jobs WHERE id = 2", trial, sizeof(trial));
	assert_string_equal(trial, "job 1 already holds twin");
	job_free(a);
	job_free(b);
}

static void
a_write_that_fails_changes_nothing_in_the_store_or_in_memory(void **state)
{
	struct fixture *f = *state;
	struct job *j;
	sqlite3 *db;
	char got[32];
	struct job_step step;

	fixture_sweep(f, 0);
	j = admit(f, 0, "rftd-f");
	job_fsm(&f->lc, j, JOB_EV_SUBMITTED,
		&(struct job_input){.remote_id = "sim-2"}, 1500);
	assert_int_equal(poll_as(f, j, JOB_RUNNING, 360).rc, 0);
	/* From now on the trial cannot be written (as a full disk would
	 * refuse the end of the unit). */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TRIGGER full BEFORE UPDATE ON "
				      "trials BEGIN SELECT RAISE(ABORT, "
				      "'database or disk is full'); END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	step = poll_as(f, j, JOB_SUCCEEDED, 900);
	assert_int_not_equal(step.rc, 0);
	assert_int_equal(j->state, JOB_RUNNING);
	assert_true(fabs(j->cost - 10) < 1e-9);
	assert_true(fabs(f->budget.global.spent - 10) < 1e-9);
	text(f, "SELECT state || ' ' || cost_usd FROM jobs", got, sizeof(got));
	assert_string_equal(got, "running 10.0");
	assert_true(fabs(scalar(f, "SELECT count(*) FROM ledger WHERE kind ="
				   " 'release'")) < 1e-9);
	job_free(j);
}

static void
a_job_changed_behind_its_copy_is_stale(void **state)
{
	struct fixture *f = *state;
	struct job *j, *k;

	fixture_sweep(f, 0);
	j = admit(f, 0, "rftd-g");
	k = load(f, j->id);
	assert_int_equal(job_fsm(&f->lc, k, JOB_EV_STOP,
				 &(struct job_input){.cause = JOB_BY_USER},
				 1500)
			     .rc,
			 0);
	assert_int_equal(job_fsm(&f->lc, j, JOB_EV_SUBMIT_UNKNOWN,
				 &(struct job_input){.error = "timeout"}, 1500)
			     .rc,
			 -ESTALE);
	job_free(j);
	job_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(state_names_are_the_stores_check_lists),
	    cmocka_unit_test(names_parse_back),
	    cmocka_unit_test(every_state_and_event_means_what_the_matrix_says),
	    cmocka_unit_test(inputs_change_the_step_as_they_should),
	    cmocka_unit_test_setup_teardown(
		a_job_that_ends_settles_its_bill_and_its_trial, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		a_failed_job_with_retries_left_sends_its_trial_back_to_wait,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		a_job_being_cancelled_that_fails_is_not_retried, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		a_stopped_trial_ends_stopped_and_is_not_retried, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		a_held_trial_whose_job_ends_otherwise_is_held_no_more, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		an_answer_that_is_another_jobs_id_fails_the_attempt, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		a_write_that_fails_changes_nothing_in_the_store_or_in_memory,
		setup, teardown),
	    cmocka_unit_test_setup_teardown(
		a_job_changed_behind_its_copy_is_stale, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
