/* Jobs: the scheduler's queries and the changes it records. */
#include "store_int.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/*
 * Columns shared by the job and trial queries, in this order.  The spec
 * is needed only to submit, so a job already submitted goes without
 * (a sweep's spec may be large, and live jobs are read every tick).
 */
#define JOB_COLUMNS                                                            \
	" j.id, t.id, t.sweep_id, j.attempt, j.backend, j.intent_key,"         \
	" j.remote_id, j.state, s.state, s.max_job_hours, s.retries,"          \
	" s.objective_metric, s.objective_mode, j.billed_seconds, s.model,"    \
	" CASE WHEN j.remote_id IS NULL THEN s.spec END, t.grader_name,"       \
	" g.spec, t.hyperparameters, t.seed, s.name,"                          \
	" s.max_concurrent, j.events_cursor, j.rate_usd_per_hour,"             \
	" j.reserved_usd, j.cost_usd, j.ledgered_usd, j.budget_paused,"        \
	" s.allow_unpriced, t.early_stop"

static void
read_row(sqlite3_stmt *s, struct store_job_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->trial_id = sqlite3_column_int64(s, 1);
	r->sweep_id = sqlite3_column_int64(s, 2);
	r->attempt = sqlite3_column_int(s, 3);
	r->backend = col_text(s, 4);
	r->intent_key = col_text(s, 5);
	r->remote_id = col_text(s, 6);
	r->state = col_text(s, 7);
	r->sweep_state = col_text(s, 8);
	r->max_job_hours = sqlite3_column_double(s, 9);
	r->retries = sqlite3_column_int(s, 10);
	r->objective_metric = col_text(s, 11);
	r->objective_max =
	    col_text(s, 12) == NULL || strcmp(col_text(s, 12), "max") == 0;
	r->billed_seconds = sqlite3_column_double(s, 13);
	r->model = col_text(s, 14);
	r->spec_json = col_text(s, 15);
	r->grader_name = col_text(s, 16);
	r->grader_json = col_text(s, 17);
	r->hyperparameters_json = col_text(s, 18);
	r->has_seed = sqlite3_column_type(s, 19) != SQLITE_NULL;
	r->seed = sqlite3_column_int64(s, 19);
	r->sweep_name = col_text(s, 20);
	r->max_concurrent = sqlite3_column_int(s, 21);
	r->cursor = col_text(s, 22);
	r->rate = sqlite3_column_double(s, 23);
	r->reserved = sqlite3_column_double(s, 24);
	r->cost = sqlite3_column_double(s, 25);
	r->ledgered = sqlite3_column_double(s, 26);
	r->budget_paused = sqlite3_column_int(s, 27);
	r->allow_unpriced = sqlite3_column_int(s, 28);
	r->early_stop = col_text(s, 29);
}

/* A live job: neither waiting to be created nor ended (the condition of
 * the index jobs_live, word for word). */
#define JOB_LIVE                                                               \
	" j.state NOT IN ('pending', 'succeeded', 'failed', 'cancelled',"      \
	" 'lost')"

static const char sql_jobs_live_page[] =
    "SELECT" JOB_COLUMNS " FROM jobs j JOIN trials t ON t.id = j.trial_id"
    " JOIN sweeps s ON s.id = t.sweep_id"
    " JOIN graders g ON g.sha256 = t.grader_sha256"
    " WHERE" JOB_LIVE " AND j.id > ?1 AND j.id <= ?2 ORDER BY j.id"
    " LIMIT ?3;";
static const char sql_job_get[] =
    "SELECT" JOB_COLUMNS " FROM jobs j JOIN trials t ON t.id = j.trial_id"
    " JOIN sweeps s ON s.id = t.sweep_id"
    " JOIN graders g ON g.sha256 = t.grader_sha256 WHERE j.id = ?1;";

static int
for_each_job(struct store *st, sqlite3_stmt *s,
	     void (*fn)(const struct store_job_row *job, void *arg), void *arg,
	     int *rows)
{
	struct store_job_row row;
	int rc;

	*rows = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_row(s, &row);
		fn(&row, arg);
		(*rows)++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "jobs");
}

/* What the meter reads of the live jobs: no joins, no documents. */
static const char sql_jobs_live_money[] =
    "SELECT j.id, j.trial_id, j.backend, j.remote_id, j.state,"
    " j.rate_usd_per_hour, j.reserved_usd, j.cost_usd,"
    " (SELECT sweep_id FROM trials WHERE id = j.trial_id)"
    " FROM jobs j WHERE" JOB_LIVE " ORDER BY j.id;";

int
store_jobs_live_money(struct store *st,
		      void (*fn)(const struct store_job_row *job, void *arg),
		      void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_jobs_live_money);
	struct store_job_row r;
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.id = sqlite3_column_int64(s, 0);
		r.trial_id = sqlite3_column_int64(s, 1);
		r.backend = col_text(s, 2);
		r.remote_id = col_text(s, 3);
		r.state = col_text(s, 4);
		r.rate = sqlite3_column_double(s, 5);
		r.reserved = sqlite3_column_double(s, 6);
		r.cost = sqlite3_column_double(s, 7);
		r.sweep_id = sqlite3_column_int64(s, 8);
		fn(&r, arg);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "jobs");
}

int
store_jobs_live_page(struct store *st, int64_t after, int64_t upto, int limit,
		     void (*fn)(const struct store_job_row *job, void *arg),
		     void *arg, int64_t *last)
{
	sqlite3_stmt *s = stmt(st, sql_jobs_live_page);
	struct store_job_row row;
	int rows = 0, rc;

	*last = after;
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, upto);
	sqlite3_bind_int(s, 3, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_row(s, &row);
		*last = row.id;
		fn(&row, arg);
		rows++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? rows : store_fail(st, "jobs");
}

int
store_job_get(struct store *st, int64_t job_id,
	      void (*fn)(const struct store_job_row *job, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_job_get);
	int rows, rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	rc = for_each_job(st, s, fn, arg, &rows);
	return rc != 0 ? rc : rows == 0 ? -ENOENT : 0;
}

static const char sql_job_owner[] =
    "SELECT id FROM jobs WHERE backend = ?1 AND remote_id = ?2;";

int
store_job_owner(struct store *st, const char *backend, const char *remote_id,
		int64_t *job_id)
{
	sqlite3_stmt *s = stmt(st, sql_job_owner);
	int rc;

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, backend);
	bind_text(s, 2, remote_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*job_id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : store_fail(st, "job owner");
}

/* Live jobs: what counts against the limits. */
#define LIVE_STATES                                                            \
	"('submitting', 'validating', 'queued', 'running', 'pausing',"         \
	" 'paused', 'cancelling', 'unknown')"
/* A job that early stopping holds paused takes no place: the trials that
 * decide its fate must be able to run. */
#define HELD_NOT_LIVE                                                          \
	" AND NOT (j.state = 'paused' AND coalesce(t.early_stop, '') = "       \
	"'held')"

static const char sql_sweeps_runnable[] =
    "SELECT s.id, s.backend, coalesce(s.max_concurrent, 0),"
    " (SELECT count(*) FROM trials t JOIN jobs j ON j.trial_id = t.id"
    "  WHERE t.sweep_id = s.id AND j.state IN " LIVE_STATES HELD_NOT_LIVE ")"
    " FROM sweeps s WHERE s.state = 'running' AND EXISTS (SELECT 1"
    "  FROM trials t WHERE t.sweep_id = s.id AND t.state = 'pending')"
    " ORDER BY s.priority DESC, s.created_at, s.id;";

int
store_sweeps_runnable(struct store *st,
		      void (*fn)(int64_t sweep_id, const char *backend,
				 int max_concurrent, int live, void *arg),
		      void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_sweeps_runnable);
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_int64(s, 0), col_text(s, 1),
		   sqlite3_column_int(s, 2), sqlite3_column_int(s, 3), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "runnable sweeps");
}

static const char sql_trials_admissible[] =
    "SELECT 0, t.id, t.sweep_id, t.attempts, s.backend, NULL, NULL, NULL,"
    " s.state, s.max_job_hours, s.retries, s.objective_metric,"
    " s.objective_mode, 0, s.model, s.spec, t.grader_name, g.spec,"
    " t.hyperparameters, t.seed, s.name, s.max_concurrent, NULL, 0, 0, 0,"
    " 0, 0, s.allow_unpriced, t.early_stop"
    " FROM sweeps s JOIN sweep_trials l ON l.sweep_id = s.id"
    " JOIN trials t ON t.id = l.trial_id AND t.sweep_id = s.id"
    " JOIN graders g ON g.sha256 = t.grader_sha256"
    " WHERE s.id = ?1 AND t.state = 'pending'"
    " AND (t.not_before IS NULL OR t.not_before <= ?2)"
    " ORDER BY l.ordinal LIMIT ?3;";

int
store_trials_admissible(
    struct store *st, int64_t sweep_id, double now, int limit,
    void (*fn)(const struct store_job_row *trial, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_trials_admissible);
	struct store_job_row row;
	int rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, sweep_id);
	sqlite3_bind_double(s, 2, now);
	sqlite3_bind_int(s, 3, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_row(s, &row);
		fn(&row, arg);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "admissible trials");
}

static const char sql_trial_attempts[] =
    "UPDATE trials SET attempts = attempts + 1, state = 'running',"
    " pending_reason = NULL, not_before = NULL, updated_at = ?2"
    " WHERE id = ?1 AND state = 'pending' RETURNING attempts;";
static const char sql_job_insert[] =
    "INSERT INTO jobs (trial_id, attempt, backend, intent_key, state,"
    " simulated, created_at, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, 'submitting', ?5, ?6, ?6);";

static const char sql_trial_adopt[] =
    "UPDATE trials SET attempts = attempts + 1,"
    " state = CASE WHEN state IN ('pending', 'failed', 'cancelled')"
    "   THEN 'running' ELSE state END,"
    " pending_reason = NULL, not_before = NULL, updated_at = ?2"
    " WHERE id = ?1 RETURNING attempts;";
static const char sql_job_remote[] =
    "UPDATE jobs SET remote_id = ?2, submitted_at = ?3 WHERE id = ?1;";

/* A new job row for a trial, counted by `trial_sql`: one unit of writes. */
static int
job_insert(struct store *st, const char *trial_sql, int64_t trial_id,
	   const char *backend, const char *intent_key, const char *remote_id,
	   bool simulated, const struct store_price *price, double now,
	   int64_t *job_id, int *attempt)
{
	sqlite3_stmt *s;
	bool outer;
	int rc;

	if (store_unit_begin(st, &outer) != 0)
		return -EIO;
	s = stmt(st, trial_sql);
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, trial_id);
	sqlite3_bind_double(s, 2, now);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		if (rc == SQLITE_DONE) {
			store_unit_end(st, outer, false);
			return -ESTALE; /* not in a state that allows it */
		}
		store_fail(st, "trial attempts");
		goto fail;
	}
	*attempt = sqlite3_column_int(s, 0);
	sqlite3_reset(s);
	s = stmt(st, sql_job_insert);
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, trial_id);
	sqlite3_bind_int(s, 2, *attempt);
	bind_text(s, 3, backend);
	bind_text(s, 4, intent_key);
	sqlite3_bind_int(s, 5, simulated);
	sqlite3_bind_double(s, 6, now);
	if (stmt_done(st, s) != 0)
		goto fail;
	*job_id = sqlite3_last_insert_rowid(st->db);
	if (remote_id != NULL) {
		s = stmt(st, sql_job_remote);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, *job_id);
		bind_text(s, 2, remote_id);
		sqlite3_bind_double(s, 3, now);
		if (stmt_done(st, s) != 0)
			goto fail;
	}
	/* The reservation goes in with the intent: one commit. */
	if (price != NULL &&
	    (store_job_price(st, *job_id, price->rate, price->reserved) != 0 ||
	     (price->reserved > 0 &&
	      store_ledger_job(st, *job_id, price->sweep_id, "reserve",
			       price->reserved, price->basis, "estimated",
			       now) != 0)))
		goto fail;
	return store_unit_end(st, outer, true) == 0 ? 0 : -EIO;
fail:
	store_unit_end(st, outer, false);
	return -EIO;
}

int
store_job_create(struct store *st, int64_t trial_id, const char *backend,
		 const char *intent_key, bool simulated,
		 const struct store_price *price, double now, int64_t *job_id,
		 int *attempt)
{
	return job_insert(st, sql_trial_attempts, trial_id, backend, intent_key,
			  NULL, simulated, price, now, job_id, attempt);
}

static const char sql_intent_known[] =
    "SELECT 1 FROM jobs WHERE intent_key = ?1 OR"
    " (backend = ?2 AND remote_id = ?3);";

int
store_job_adopt(struct store *st, int64_t trial_id, const char *backend,
		const char *intent_key, const char *remote_id,
		const struct store_price *price, double now, int64_t *job_id)
{
	sqlite3_stmt *s = stmt(st, sql_intent_known);
	int rc, attempt;

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, intent_key);
	bind_text(s, 2, backend);
	bind_text(s, 3, remote_id);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return -EEXIST;
	if (rc != SQLITE_DONE)
		return store_fail(st, "intent lookup");
	rc = job_insert(st, sql_trial_adopt, trial_id, backend, intent_key,
			remote_id, false, price, now, job_id, &attempt);
	return rc == -ESTALE ? -ENOENT : rc;
}

static const char sql_job_event_add[] =
    "INSERT OR IGNORE INTO job_events (job_id, remote_id, created_at, level,"
    " type, message, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);";

int
store_job_event_add(struct store *st, int64_t job_id,
		    const struct store_event *e)
{
	sqlite3_stmt *s = stmt(st, sql_job_event_add);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	bind_text(s, 2, e->remote_id);
	sqlite3_bind_double(s, 3, e->created_at);
	bind_text(s, 4, e->level);
	bind_text(s, 5, e->type ? e->type : "message");
	bind_text(s, 6, e->message);
	bind_text(s, 7, e->data);
	return stmt_done(st, s);
}

static const char sql_job_change[] =
    "UPDATE jobs SET state = coalesce(?2, state),"
    " remote_id = coalesce(?4, remote_id),"
    " provider_status = coalesce(?5, provider_status),"
    " error = coalesce(?6, error),"
    " fine_tuned_model = coalesce(?7, fine_tuned_model),"
    " events_cursor = coalesce(?10, events_cursor),"
    " billed_seconds = CASE WHEN ?8 >= 0 THEN ?8 ELSE billed_seconds END,"
    " submitted_at = CASE WHEN ?4 IS NOT NULL AND submitted_at IS NULL"
    "   THEN ?9 ELSE submitted_at END,"
    " started_at = CASE WHEN ?2 = 'running' AND started_at IS NULL"
    "   THEN ?9 ELSE started_at END,"
    " finished_at = CASE WHEN ?2 IN ('succeeded', 'failed', 'cancelled',"
    "   'lost') THEN ?9 ELSE finished_at END,"
    " updated_at = ?9"
    " WHERE id = ?1 AND (?3 IS NULL OR state = ?3);";
static const char sql_event_insert[] =
    "INSERT INTO job_events (job_id, created_at, level, type, message)"
    " VALUES (?1, ?2, ?3, 'state', ?4);";

int
store_job_change(struct store *st, int64_t job_id,
		 const struct store_job_change *c, double now)
{
	sqlite3_stmt *s = stmt(st, sql_job_change);
	int rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	bind_text(s, 2, c->state);
	bind_text(s, 3, c->from);
	bind_text(s, 4, c->remote_id);
	bind_text(s, 5, c->provider_status);
	bind_text(s, 6, c->error);
	bind_text(s, 7, c->fine_tuned_model);
	sqlite3_bind_double(s, 8, c->billed_seconds);
	sqlite3_bind_double(s, 9, now);
	bind_text(s, 10, c->cursor);
	rc = stmt_done(st, s);
	if (rc != 0)
		return rc;
	if (sqlite3_changes(st->db) == 0)
		return -ESTALE;
	if (c->event == NULL)
		return 0;
	s = stmt(st, sql_event_insert);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	sqlite3_bind_double(s, 2, now);
	bind_text(s, 3,
		  c->state && strcmp(c->state, "failed") == 0 ? "error"
							      : "info");
	bind_text(s, 4, c->event);
	return stmt_done(st, s);
}

static const char sql_pending_reason[] =
    "UPDATE trials SET pending_reason = ?2, updated_at = ?3"
    " WHERE sweep_id = ?1 AND state = 'pending'"
    " AND (not_before IS NULL OR not_before <= ?3)"
    " AND pending_reason IS NOT ?2;";

int
store_trials_pending_reason(struct store *st, int64_t sweep_id,
			    const char *reason, double now)
{
	sqlite3_stmt *s = stmt(st, sql_pending_reason);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, sweep_id);
	bind_text(s, 2, reason);
	sqlite3_bind_double(s, 3, now);
	return stmt_done(st, s);
}

static const char sql_trial_state[] =
    "UPDATE trials SET state = ?2, not_before = ?3, pending_reason = ?4,"
    " updated_at = ?5 WHERE id = ?1;";

int
store_trial_set_state(struct store *st, int64_t trial_id, const char *state,
		      double not_before, const char *reason, double now)
{
	sqlite3_stmt *s = stmt(st, sql_trial_state);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, trial_id);
	bind_text(s, 2, state);
	if (not_before > 0)
		sqlite3_bind_double(s, 3, not_before);
	bind_text(s, 4, reason);
	sqlite3_bind_double(s, 5, now);
	return stmt_done(st, s);
}

static const char sql_metric_add[] =
    "INSERT OR REPLACE INTO metrics (job_id, name, step, value)"
    " VALUES (?1, ?2, ?3, ?4);";

int
store_metric_add(struct store *st, int64_t job_id, int64_t step,
		 const char *name, double value)
{
	sqlite3_stmt *s = stmt(st, sql_metric_add);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	bind_text(s, 2, name);
	sqlite3_bind_int64(s, 3, step);
	sqlite3_bind_double(s, 4, value);
	return stmt_done(st, s);
}

static const char sql_checkpoint_add[] =
    "INSERT OR IGNORE INTO checkpoints (job_id, step, remote_id, model,"
    " metrics, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6);";

int
store_checkpoint_add(struct store *st, int64_t job_id, int64_t step,
		     const char *remote_id, const char *model,
		     const char *metrics_json, double now)
{
	sqlite3_stmt *s = stmt(st, sql_checkpoint_add);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	sqlite3_bind_int64(s, 2, step);
	bind_text(s, 3, remote_id);
	bind_text(s, 4, model);
	bind_text(s, 5, metrics_json);
	sqlite3_bind_double(s, 6, now);
	return stmt_done(st, s);
}

static const char sql_objective_max[] =
    "UPDATE trials SET objective = ?2, best_step = ?3"
    " WHERE id = ?1 AND (objective IS NULL OR objective < ?2);";
static const char sql_objective_min[] =
    "UPDATE trials SET objective = ?2, best_step = ?3"
    " WHERE id = ?1 AND (objective IS NULL OR objective > ?2);";

int
store_trial_objective(struct store *st, int64_t trial_id, double value,
		      int64_t step, bool maximize)
{
	sqlite3_stmt *s =
	    stmt(st, maximize ? sql_objective_max : sql_objective_min);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, trial_id);
	sqlite3_bind_double(s, 2, value);
	sqlite3_bind_int64(s, 3, step);
	return stmt_done(st, s);
}

static const char sql_active_counts[] =
    "SELECT t.sweep_id, j.backend, count(*) FROM jobs j"
    " JOIN trials t ON t.id = j.trial_id"
    " WHERE j.state IN " LIVE_STATES HELD_NOT_LIVE
    " GROUP BY t.sweep_id, j.backend;";

int
store_active_counts(struct store *st,
		    void (*fn)(int64_t sweep_id, const char *backend, int count,
			       void *arg),
		    void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_active_counts);
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_int64(s, 0), col_text(s, 1),
		   sqlite3_column_int(s, 2), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "active counts");
}

static const char sql_summary[] =
    "SELECT (SELECT count(*) FROM jobs WHERE state IN " LIVE_STATES "),"
    " (SELECT count(*) FROM trials WHERE state = 'pending'),"
    " (SELECT count(*) FROM sweeps WHERE state = 'running');";

int
store_summary(struct store *st, struct store_summary *sum)
{
	sqlite3_stmt *s = stmt(st, sql_summary);
	int rc;

	if (s == NULL)
		return -EIO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sum->live_jobs = sqlite3_column_int(s, 0);
		sum->pending_trials = sqlite3_column_int(s, 1);
		sum->running_sweeps = sqlite3_column_int(s, 2);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : store_fail(st, "summary");
}
