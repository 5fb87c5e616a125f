/*
 * What rftctl shows, read with SQLite's JSON functions so that a reply is
 * one query and one parse.
 */
#include "store_int.h"

#include <errno.h>
#include <string.h>

static const char sql_sweeps[] =
    "SELECT json_group_array(json_object("
    " 'id', s.id, 'name', s.name, 'backend', s.backend, 'model', s.model,"
    " 'state', s.state, 'simulated', json(iif(s.simulated, 'true',"
    " 'false')), 'priority', s.priority, 'created_at', s.created_at,"
    " 'finished_at', s.finished_at,"
    " 'objective_metric', s.objective_metric,"
    " 'objective_mode', s.objective_mode,"
    " 'trials', (SELECT count(*) FROM sweep_trials l WHERE l.sweep_id = s.id),"
    " 'counts', (SELECT json_group_object(state, n) FROM (SELECT t.state,"
    "   count(*) AS n FROM sweep_trials l JOIN trials t ON t.id = l.trial_id"
    "   WHERE l.sweep_id = s.id GROUP BY t.state)),"
    " 'best', (SELECT CASE s.objective_mode WHEN 'min' THEN min(t.objective)"
    "   ELSE max(t.objective) END FROM sweep_trials l"
    "   JOIN trials t ON t.id = l.trial_id WHERE l.sweep_id = s.id),"
    " 'spent_usd', " SQL_SWEEP_SPENT "))"
    " FROM (SELECT * FROM sweeps ORDER BY id) s;";

cJSON *
store_sweeps_json(struct store *st)
{
	return query_json(st, stmt(st, sql_sweeps));
}

/* The latest job of each trial, as a JSON object (or null). */
#define LATEST_JOB                                                             \
	"(SELECT json_object('id', j.id, 'attempt', j.attempt, 'state',"       \
	" j.state, 'remote_id', j.remote_id, 'billed_seconds',"                \
	" j.billed_seconds, 'error', j.error) FROM jobs j"                     \
	" WHERE j.trial_id = t.id ORDER BY j.attempt DESC LIMIT 1)"

static const char sql_sweep[] =
    "SELECT json_object('id', s.id, 'name', s.name, 'backend', s.backend,"
    " 'model', s.model, 'state', s.state,"
    " 'simulated', json(iif(s.simulated, 'true', 'false')),"
    " 'priority', s.priority, 'max_concurrent', s.max_concurrent,"
    " 'max_job_hours', s.max_job_hours, 'retries', s.retries,"
    " 'budget_usd', s.budget_usd, 'objective_metric', s.objective_metric,"
    " 'objective_mode', s.objective_mode, 'created_at', s.created_at,"
    " 'finished_at', s.finished_at, 'spec', json(s.spec),"
    " 'spent_usd', " SQL_SWEEP_SPENT ","
    " 'trials', (SELECT json_group_array(json_object('id', t.id,"
    "   'ordinal', l.ordinal, 'reused', json(iif(l.reused, 'true',"
    "   'false')), 'sha256', t.trial_sha256, 'grader', t.grader_name,"
    "   'hyperparameters', json(t.hyperparameters), 'seed', t.seed,"
    "   'state', t.state, 'pending_reason', t.pending_reason,"
    "   'attempts', t.attempts, 'objective', t.objective,"
    "   'best_step', t.best_step,"
    "   'early_stop', json((SELECT json_object('rule', e.rule, 'action',"
    "     e.action, 'metric', e.metric, 'step', e.step, 'value', e.value,"
    "     'threshold', e.threshold, 'peers', e.peers) FROM early_stops e"
    "     WHERE e.trial_id = t.id AND e.action != 'continue'"
    "     ORDER BY e.id DESC LIMIT 1)),"
    "   'cost_usd', (SELECT sum(j.cost_usd) FROM jobs j"
    "     WHERE j.trial_id = t.id),"
    "   'current', (SELECT m.value FROM jobs j JOIN metrics m"
    "     ON m.job_id = j.id AND m.name = s.objective_metric"
    "     WHERE j.trial_id = t.id ORDER BY j.attempt DESC, m.step DESC"
    "     LIMIT 1),"
    "   'job', " LATEST_JOB "))"
    "   FROM (SELECT * FROM sweep_trials WHERE sweep_id = s.id"
    "   ORDER BY ordinal) l JOIN trials t ON t.id = l.trial_id))"
    " FROM sweeps s WHERE s.id = ?1;";

cJSON *
store_sweep_json(struct store *st, int64_t sweep_id, int *rc)
{
	sqlite3_stmt *s = stmt(st, sql_sweep);
	cJSON *out;

	if (s == NULL) {
		*rc = -EIO;
		return NULL;
	}
	sqlite3_bind_int64(s, 1, sweep_id);
	out = query_json(st, s);
	*rc = out != NULL ? 0 : -ENOENT;
	return out;
}

static const char sql_jobs[] =
    "SELECT json_group_array(json_object('id', j.id, 'trial_id', j.trial_id,"
    " 'sweep_id', j.sweep_id, 'attempt', j.attempt, 'backend', j.backend,"
    " 'simulated', json(iif(j.simulated, 'true', 'false')),"
    " 'remote_id', j.remote_id, 'state', j.state, 'grader',"
    " j.grader_name, 'hyperparameters', json(j.hyperparameters),"
    " 'seed', j.seed, 'billed_seconds', j.billed_seconds,"
    " 'cost_usd', j.cost_usd,"
    " 'created_at', j.created_at, 'started_at', j.started_at,"
    " 'finished_at', j.finished_at, 'error', j.error))"
    " FROM (SELECT j.*, t.sweep_id, t.grader_name, t.hyperparameters,"
    "  t.seed FROM jobs j JOIN trials t ON t.id = j.trial_id"
    "  WHERE (?1 = 0 OR EXISTS (SELECT 1 FROM sweep_trials l"
    "  WHERE l.trial_id = t.id AND l.sweep_id = ?1))"
    "  AND (?2 IS NULL OR j.state = ?2) ORDER BY j.id DESC LIMIT ?3) j;";

cJSON *
store_jobs_json(struct store *st, int64_t sweep_id, const char *state,
		int limit)
{
	sqlite3_stmt *s = stmt(st, sql_jobs);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, sweep_id);
	bind_text(s, 2, state);
	sqlite3_bind_int(s, 3, limit);
	return query_json(st, s);
}

static const char sql_job[] =
    "SELECT json_object('id', j.id, 'trial_id', t.id, 'sweep_id',"
    " t.sweep_id, 'sweep', s.name, 'attempt', j.attempt, 'backend',"
    " j.backend, 'simulated', json(iif(j.simulated, 'true', 'false')),"
    " 'intent_key', j.intent_key, 'remote_id', j.remote_id,"
    " 'state', j.state, 'provider_status', j.provider_status,"
    " 'error', j.error, 'fine_tuned_model', j.fine_tuned_model,"
    " 'model', s.model, 'grader', t.grader_name, 'grader_spec',"
    " (SELECT json(g.spec) FROM graders g WHERE g.sha256 = t.grader_sha256),"
    " 'hyperparameters', json(t.hyperparameters),"
    " 'seed', t.seed, 'trial_sha256', t.trial_sha256,"
    " 'billed_seconds', j.billed_seconds, 'cost_usd', j.cost_usd,"
    " 'cost_quality', j.cost_quality,"
    " 'created_at', j.created_at, 'submitted_at', j.submitted_at,"
    " 'started_at', j.started_at, 'finished_at', j.finished_at,"
    " 'objective_metric', s.objective_metric,"
    /* The newest 200 events, metrics events left to the metrics. */
    " 'events', (SELECT json_group_array(json_object('at', e.created_at,"
    "   'level', e.level, 'type', e.type, 'message', e.message))"
    "   FROM (SELECT * FROM (SELECT * FROM job_events WHERE job_id = j.id"
    "   AND type IS NOT 'metrics' ORDER BY created_at DESC, id DESC"
    "   LIMIT 200) ORDER BY created_at, id) e),"
    " 'events_total', (SELECT count(*) FROM job_events"
    "   WHERE job_id = j.id),"
    " 'metrics', (SELECT json_group_array(json_object('name', m.name,"
    "   'points', m.n, 'last_step', m.last_step, 'last', m.last,"
    "   'min', m.lo, 'max', m.hi)) FROM (SELECT name, count(*) AS n,"
    "   max(step) AS last_step, min(value) AS lo, max(value) AS hi,"
    "   (SELECT value FROM metrics x WHERE x.job_id = j.id"
    "    AND x.name = metrics.name ORDER BY step DESC LIMIT 1) AS last"
    "   FROM metrics WHERE job_id = j.id GROUP BY name ORDER BY name) m))"
    " FROM jobs j JOIN trials t ON t.id = j.trial_id"
    " JOIN sweeps s ON s.id = t.sweep_id WHERE j.id = ?1;";

cJSON *
store_job_json(struct store *st, int64_t job_id, int *rc)
{
	sqlite3_stmt *s = stmt(st, sql_job);
	cJSON *out;

	if (s == NULL) {
		*rc = -EIO;
		return NULL;
	}
	sqlite3_bind_int64(s, 1, job_id);
	out = query_json(st, s);
	*rc = out != NULL ? 0 : -ENOENT;
	return out;
}

/*
 * The best `limit` trials: the sweep's own, plus those it reused from
 * other sweeps, ranked together by the objective or by reward per
 * dollar.  Cost, reward per dollar and model are the leaderboard view's
 * (migrations/0005_cost_views.sql), so that rftctl and SQL agree; the
 * view is read for the rows shown, CROSS JOIN keeping their order.
 */
#define LEADERBOARD(RANKED)                                                    \
	"SELECT json_object('sweep_id', s.id, 'name', s.name,"                 \
	" 'objective_metric', s.objective_metric, 'objective_mode',"           \
	" s.objective_mode, 'simulated', json(iif(s.simulated, 'true',"        \
	" 'false')), 'by', ?3, 'rows', (SELECT json_group_array(json_object("  \
	"   'rank', r.rank, 'trial_id', r.id, 'grader', r.grader_name,"        \
	"   'hyperparameters', json(r.hyperparameters), 'seed', r.seed,"       \
	"   'state', r.state, 'objective', r.objective, 'best_step',"          \
	"   r.best_step, 'cost_usd', v.cost_usd, 'reward_per_usd',"            \
	"   v.reward_per_usd, 'model', v.model, 'model_source',"               \
	"   v.model_source)) FROM (" RANKED ") r CROSS JOIN leaderboard v"     \
	"   ON v.sweep_id = s.id AND v.trial_id = r.id))"                      \
	" FROM sweeps s WHERE s.id = ?1;"

/* The trials the sweep owns that have an objective value, and those it
 * reused from other sweeps (to follow with UNION). */
#define OWN_TRIALS                                                             \
	"SELECT t.* FROM trials t WHERE t.sweep_id = s.id"                     \
	" AND t.objective IS NOT NULL"
#define REUSED_TRIALS                                                          \
	"SELECT t.* FROM sweep_trials l INDEXED BY sweep_trials_reused"        \
	" JOIN trials t ON t.id = l.trial_id WHERE l.sweep_id = s.id"          \
	" AND l.reused = 1 AND t.objective IS NOT NULL"

/* By the objective: one text per direction, so that each walks
 * trials_by_objective the right way and reads `limit` trials of it. */
#define BY_OBJECTIVE(DIR)                                                      \
	"SELECT c.*, rank() OVER (ORDER BY c.objective " DIR ") AS rank"       \
	" FROM (SELECT * FROM (" OWN_TRIALS " ORDER BY t.objective " DIR       \
	" LIMIT ?2) UNION " REUSED_TRIALS ") c ORDER BY rank, c.id LIMIT ?2"

/* By reward per dollar, the best first, then by the objective; trials
 * without one (no cost yet) last.  Every trial's cost is read. */
#define BY_VALUE                                                               \
	"SELECT c.*, rank() OVER (ORDER BY v.reward_per_usd IS NULL,"          \
	" v.reward_per_usd DESC, v.score DESC) AS rank"                        \
	" FROM (" OWN_TRIALS " UNION " REUSED_TRIALS ") c"                     \
	" JOIN leaderboard v ON v.sweep_id = s.id AND v.trial_id = c.id"       \
	" ORDER BY rank, c.id LIMIT ?2"

static const char sql_leaderboard_max[] = LEADERBOARD(BY_OBJECTIVE("DESC"));
static const char sql_leaderboard_min[] = LEADERBOARD(BY_OBJECTIVE("ASC"));
static const char sql_leaderboard_value[] = LEADERBOARD(BY_VALUE);
static const char sql_sweep_mode[] =
    "SELECT objective_mode FROM sweeps WHERE id = ?1;";

cJSON *
store_leaderboard_json(struct store *st, int64_t sweep_id, int limit,
		       enum store_rank by, int *rc)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_mode);
	const char *text = sql_leaderboard_value;
	cJSON *out;

	if (s == NULL) {
		*rc = -EIO;
		return NULL;
	}
	sqlite3_bind_int64(s, 1, sweep_id);
	if (by == STORE_RANK_OBJECTIVE)
		text = sqlite3_step(s) == SQLITE_ROW &&
			       col_text(s, 0) != NULL &&
			       strcmp(col_text(s, 0), "min") == 0
			   ? sql_leaderboard_min
			   : sql_leaderboard_max;
	sqlite3_reset(s);
	s = stmt(st, text);
	if (s == NULL) {
		*rc = -EIO;
		return NULL;
	}
	sqlite3_bind_int64(s, 1, sweep_id);
	sqlite3_bind_int(s, 2, limit);
	bind_text(s, 3, by == STORE_RANK_VALUE ? "value" : "objective");
	out = query_json(st, s);
	*rc = out != NULL ? 0 : -ENOENT;
	return out;
}

static const char sql_sweep_jobs[] =
    "SELECT json_group_array(json_object('id', j.id, 'state', j.state))"
    " FROM jobs j JOIN trials t ON t.id = j.trial_id"
    " WHERE t.sweep_id = ?1 AND j.state NOT IN ('succeeded', 'failed',"
    " 'cancelled', 'lost');";

cJSON *
store_sweep_job_ids(struct store *st, int64_t sweep_id)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_jobs);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, sweep_id);
	return query_json(st, s);
}
