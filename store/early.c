/* What early stopping reads and records (see early_stops in 0004). */
#include "store_int.h"

#include <errno.h>

static const char sql_early_trials[] =
    "SELECT t.id, t.state, t.early_stop, coalesce(t.early_step, 0),"
    " coalesce((SELECT max(e.step) FROM early_stops e"
    "  WHERE e.trial_id = t.id), 0),"
    " j.id, j.state,"
    /* A resume decided whose job has not moved since: a crash came
     * between the decision and the backend's call. */
    " coalesce((SELECT e.action = 'resume' AND NOT EXISTS (SELECT 1"
    "  FROM job_events v WHERE v.job_id = j.id AND v.type = 'state'"
    "  AND v.created_at >= e.at) FROM early_stops e"
    "  WHERE e.trial_id = t.id ORDER BY e.id DESC LIMIT 1), 0)"
    " FROM sweep_trials l JOIN trials t ON t.id = l.trial_id"
    " LEFT JOIN jobs j ON j.trial_id = t.id AND j.attempt = t.attempts"
    " WHERE l.sweep_id = ?1 ORDER BY l.ordinal;";

int
store_early_trials(struct store *st, int64_t sweep_id,
		   void (*fn)(const struct store_early_trial *t, void *arg),
		   void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_early_trials);
	int rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, sweep_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_early_trial t = {
		    .trial_id = sqlite3_column_int64(s, 0),
		    .state = col_text(s, 1),
		    .early_stop = col_text(s, 2),
		    .early_step = sqlite3_column_int64(s, 3),
		    .decided = sqlite3_column_int64(s, 4),
		    .job_id = sqlite3_column_int64(s, 5),
		    .job_state = col_text(s, 6),
		    .resume_owed = sqlite3_column_int(s, 7),
		};

		fn(&t, arg);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "early-stopping trials");
}

static const char sql_early_points[] =
    "SELECT j.trial_id, m.step, m.value FROM sweep_trials l"
    " JOIN jobs j ON j.trial_id = l.trial_id"
    " JOIN metrics m ON m.job_id = j.id AND m.name = ?2"
    " WHERE l.sweep_id = ?1 AND m.value IS NOT NULL"
    " ORDER BY j.trial_id, m.step;";

int
store_early_points(struct store *st, int64_t sweep_id, const char *metric,
		   void (*fn)(int64_t trial_id, int64_t step, double value,
			      void *arg),
		   void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_early_points);
	int rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, sweep_id);
	bind_text(s, 2, metric);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
		   sqlite3_column_double(s, 2), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "early-stopping points");
}

static const char sql_early_insert[] =
    "INSERT OR IGNORE INTO early_stops (at, sweep_id, trial_id, job_id,"
    " rule, metric, step, rung, value, threshold, peers, action)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12);";
static const char sql_early_mark[] =
    "UPDATE trials SET early_stop = ?2, early_step = ?3, updated_at = ?4"
    " WHERE id = ?1;";

int
store_early_decide(struct store *st, const struct store_early_decision *d,
		   double now)
{
	sqlite3_stmt *s = stmt(st, sql_early_insert);
	bool outer;
	int rc;

	if (s == NULL || store_unit_begin(st, &outer) != 0)
		return -EIO;
	sqlite3_bind_double(s, 1, now);
	sqlite3_bind_int64(s, 2, d->sweep_id);
	sqlite3_bind_int64(s, 3, d->trial_id);
	if (d->job_id > 0)
		sqlite3_bind_int64(s, 4, d->job_id);
	bind_text(s, 5, d->rule);
	bind_text(s, 6, d->metric);
	sqlite3_bind_int64(s, 7, d->step);
	if (d->rung >= 0)
		sqlite3_bind_int(s, 8, d->rung);
	sqlite3_bind_double(s, 9, d->value);
	if (d->has_threshold)
		sqlite3_bind_double(s, 10, d->threshold);
	sqlite3_bind_int(s, 11, d->peers);
	bind_text(s, 12, d->action);
	rc = stmt_done(st, s);
	if (rc == 0 && d->set_mark) {
		s = stmt(st, sql_early_mark);
		if (s == NULL) {
			rc = -EIO;
		} else {
			sqlite3_bind_int64(s, 1, d->trial_id);
			bind_text(s, 2, d->mark);
			if (d->mark != NULL)
				sqlite3_bind_int64(s, 3, d->step);
			sqlite3_bind_double(s, 4, now);
			rc = stmt_done(st, s);
		}
	}
	if (store_unit_end(st, outer, rc == 0) != 0)
		rc = -EIO;
	return rc;
}

static const char sql_sweeps_early[] =
    "SELECT id, early_stopping FROM sweeps WHERE early_stopping IS NOT NULL"
    " AND state IN ('running', 'paused') ORDER BY id;";

int
store_sweeps_early(struct store *st,
		   void (*fn)(int64_t sweep_id, const char *json, void *arg),
		   void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_sweeps_early);
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_int64(s, 0), col_text(s, 1), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "early-stopping sweeps");
}

static const char sql_early_release[] =
    "UPDATE trials SET early_stop = NULL, updated_at = ?2"
    " WHERE id = ?1 AND early_stop = 'held';";

int
store_trial_early_release(struct store *st, int64_t trial_id, double now)
{
	sqlite3_stmt *s = stmt(st, sql_early_release);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, trial_id);
	sqlite3_bind_double(s, 2, now);
	return stmt_done(st, s);
}
