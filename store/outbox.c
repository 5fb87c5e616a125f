/* The outbox of notifications, and the facts events tell (outbox.h). */
#include "outbox.h"

#include "store_int.h"

#include <errno.h>

static const char sql_add[] =
    "INSERT INTO notifications (id, target, type, payload, created_at,"
    " next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5);";

int
store_outbox_add(struct store *st, const char *id, const char *target,
		 const char *type, const char *payload, double now)
{
	sqlite3_stmt *s = stmt(st, sql_add);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, id);
	bind_text(s, 2, target);
	bind_text(s, 3, type);
	bind_text(s, 4, payload);
	sqlite3_bind_double(s, 5, now);
	return stmt_done(st, s);
}

static const char sql_due[] =
    "SELECT id, target, type, payload, created_at, attempts"
    " FROM notifications WHERE target = ?1 AND state = 'pending'"
    " AND next_attempt_at <= ?2 ORDER BY next_attempt_at LIMIT ?3;";

int
store_outbox_due(struct store *st, const char *target, double now, int limit,
		 void (*fn)(const struct store_outbox_row *r, void *arg),
		 void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_due);
	int rc, n = 0;

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, target);
	sqlite3_bind_double(s, 2, now);
	sqlite3_bind_int(s, 3, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_outbox_row r = {
		    .id = col_text(s, 0),
		    .target = col_text(s, 1),
		    .type = col_text(s, 2),
		    .payload = col_text(s, 3),
		    .created_at = sqlite3_column_double(s, 4),
		    .attempts = sqlite3_column_int(s, 5),
		};

		fn(&r, arg);
		n++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? n : store_fail(st, "due notifications");
}

static const char sql_next[] = "SELECT min(next_attempt_at) FROM notifications"
			       " WHERE target = ?1 AND state = 'pending';";

int
store_outbox_next(struct store *st, const char *target, double *at)
{
	sqlite3_stmt *s = stmt(st, sql_next);
	int rc;

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, target);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		*at = sqlite3_column_double(s, 0);
		sqlite3_reset(s);
		return 0;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? -ENOENT : store_fail(st, "next notification");
}

static const char sql_attempt[] =
    "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?3"
    " WHERE id = ?1 AND target = ?2 AND state = 'pending';";

int
store_outbox_attempt(struct store *st, const char *id, const char *target,
		     double retry_at)
{
	sqlite3_stmt *s = stmt(st, sql_attempt);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, id);
	bind_text(s, 2, target);
	sqlite3_bind_double(s, 3, retry_at);
	return stmt_done(st, s);
}

static const char sql_delivered[] =
    "UPDATE notifications SET state = 'delivered', delivered_at = ?3,"
    " last_error = NULL WHERE id = ?1 AND target = ?2;";

int
store_outbox_delivered(struct store *st, const char *id, const char *target,
		       double now)
{
	sqlite3_stmt *s = stmt(st, sql_delivered);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, id);
	bind_text(s, 2, target);
	sqlite3_bind_double(s, 3, now);
	return stmt_done(st, s);
}

static const char sql_failed[] =
    "UPDATE notifications SET last_error = ?3,"
    " state = CASE WHEN ?4 > 0 THEN 'pending' ELSE 'failed' END,"
    " next_attempt_at = CASE WHEN ?4 > 0 THEN ?4 ELSE next_attempt_at END"
    " WHERE id = ?1 AND target = ?2 AND state = 'pending';";

int
store_outbox_failed(struct store *st, const char *id, const char *target,
		    const char *error, double retry_at)
{
	sqlite3_stmt *s = stmt(st, sql_failed);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, id);
	bind_text(s, 2, target);
	bind_text(s, 3, error);
	sqlite3_bind_double(s, 4, retry_at);
	return stmt_done(st, s);
}

static const char sql_counts[] =
    "SELECT (SELECT count(*) FROM notifications WHERE state = 'pending'),"
    " (SELECT count(*) FROM notifications WHERE state = 'failed');";

int
store_outbox_counts(struct store *st, int64_t *pending, int64_t *failed)
{
	sqlite3_stmt *s = stmt(st, sql_counts);
	int rc;

	if (s == NULL)
		return -EIO;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*pending = sqlite3_column_int64(s, 0);
		*failed = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : store_fail(st, "notification counts");
}

/* The winner is the best objective in the sweep's mode, as the
 * leaderboard ranks. */
static const char sql_sweep_data[] =
    "SELECT json_object("
    " 'sweep_id', s.id, 'sweep', s.name, 'state', s.state,"
    " 'backend', s.backend, 'model', s.model,"
    " 'simulated', json(CASE s.simulated WHEN 1 THEN 'true' ELSE 'false'"
    "  END),"
    " 'objective_metric', s.objective_metric,"
    " 'objective_mode', s.objective_mode,"
    " 'total_cost_usd', round(" SQL_SWEEP_SPENT ", 6),"
    " 'budget_usd', s.budget_usd,"
    " 'trials', json((SELECT json_object('total', count(*),"
    "  'succeeded', coalesce(sum(t.state = 'succeeded'), 0),"
    "  'failed', coalesce(sum(t.state = 'failed'), 0),"
    "  'cancelled', coalesce(sum(t.state = 'cancelled'), 0),"
    "  'stopped', coalesce(sum(t.state = 'stopped'), 0))"
    "  FROM sweep_trials l JOIN trials t ON t.id = l.trial_id"
    "  WHERE l.sweep_id = s.id)),"
    " 'winner', json((SELECT json_object('trial_id', t.id,"
    "  'job_id', (SELECT max(j.id) FROM jobs j WHERE j.trial_id = t.id),"
    "  'objective', t.objective, 'best_step', t.best_step,"
    "  'grader', t.grader_name, 'hyperparameters', json(t.hyperparameters),"
    "  'seed', t.seed,"
    "  'cost_usd', (SELECT round(coalesce(sum(j.cost_usd), 0), 6)"
    "   FROM jobs j WHERE j.trial_id = t.id))"
    "  FROM sweep_trials l JOIN trials t ON t.id = l.trial_id"
    "  JOIN sweeps w ON w.id = l.sweep_id"
    "  WHERE l.sweep_id = s.id AND t.objective IS NOT NULL"
    "  ORDER BY CASE w.objective_mode WHEN 'min' THEN t.objective"
    "  ELSE -t.objective END, t.id LIMIT 1)))"
    " FROM sweeps s WHERE s.id = ?1;";

cJSON *
store_outbox_sweep_data(struct store *st, int64_t sweep_id)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_data);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, sweep_id);
	return query_json(st, s);
}

static const char sql_trial_data[] =
    "SELECT json_object("
    " 'sweep_id', s.id, 'sweep', s.name, 'trial_id', t.id,"
    " 'job_id', j.id, 'backend', j.backend, 'remote_id', j.remote_id,"
    " 'attempt', j.attempt, 'retries', s.retries,"
    " 'grader', t.grader_name, 'hyperparameters', json(t.hyperparameters),"
    " 'seed', t.seed, 'objective', t.objective, 'best_step', t.best_step,"
    " 'cost_usd', (SELECT round(coalesce(sum(k.cost_usd), 0), 6)"
    "  FROM jobs k WHERE k.trial_id = t.id),"
    " 'early_stop', json((SELECT json_object('rule', e.rule,"
    "  'metric', e.metric, 'step', e.step, 'value', e.value,"
    "  'threshold', e.threshold, 'peers', e.peers)"
    "  FROM early_stops e WHERE e.trial_id = t.id AND e.action = 'stop'"
    "  ORDER BY e.id DESC LIMIT 1)))"
    " FROM trials t JOIN sweeps s ON s.id = ?1"
    " LEFT JOIN jobs j ON j.id = ?3 WHERE t.id = ?2;";

cJSON *
store_outbox_trial_data(struct store *st, int64_t sweep_id, int64_t trial_id,
			int64_t job_id)
{
	sqlite3_stmt *s = stmt(st, sql_trial_data);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, sweep_id);
	sqlite3_bind_int64(s, 2, trial_id);
	sqlite3_bind_int64(s, 3, job_id);
	return query_json(st, s);
}
