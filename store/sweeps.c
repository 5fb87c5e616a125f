/* Sweeps and trials: creation in one transaction, and sweep states. */
#include "store_int.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sql_trial_find[] =
    "SELECT id, sweep_id, state FROM trials WHERE trial_sha256 = ?1;";

/* Lists the trials already stored: a JSON array, empty when none. */
static int
find_existing(struct store *st, const struct store_trial_new *trials, size_t n,
	      cJSON *existing)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = stmt(st, sql_trial_find);
		cJSON *e;
		int rc;

		if (s == NULL)
			return -EIO;
		bind_text(s, 1, trials[i].sha256);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			e = cJSON_CreateObject();
			cJSON_AddNumberToObject(e, "ordinal", (double)i);
			cJSON_AddNumberToObject(
			    e, "trial_id", (double)sqlite3_column_int64(s, 0));
			cJSON_AddNumberToObject(
			    e, "sweep_id", (double)sqlite3_column_int64(s, 1));
			cJSON_AddStringToObject(e, "state", col_text(s, 2));
			cJSON_AddItemToArray(existing, e);
		} else if (rc != SQLITE_DONE) {
			sqlite3_reset(s);
			return store_fail(st, "finding trials");
		}
		sqlite3_reset(s);
	}
	return 0;
}

cJSON *
store_trials_known(struct store *st, const struct store_trial_new *trials,
		   size_t n)
{
	cJSON *found = cJSON_CreateArray();

	if (find_existing(st, trials, n, found) != 0) {
		cJSON_Delete(found);
		return NULL;
	}
	return found;
}

static const char sql_sweep_insert[] =
    "INSERT INTO sweeps (name, backend, model, spec, spec_sha256, priority,"
    " max_concurrent, max_job_hours, retries, budget_usd,"
    " objective_metric, objective_mode, simulated, created_at, updated_at,"
    " allow_unpriced, early_stopping)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?14, ?15, ?16);";
static const char sql_trial_insert[] =
    "INSERT INTO trials (trial_sha256, sweep_id, grader_name, grader_sha256,"
    " hyperparameters, seed, created_at, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7);";
static const char sql_grader_insert[] =
    "INSERT OR IGNORE INTO graders (sha256, type, spec) VALUES (?1, ?2, ?3);";
static const char sql_link_insert[] =
    "INSERT INTO sweep_trials (sweep_id, trial_id, ordinal, reused)"
    " VALUES (?1, ?2, ?3, ?4);";

static int
insert_sweep(struct store *st, const struct store_sweep_new *sw, double now,
	     int64_t *sweep_id)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_insert);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, sw->name);
	bind_text(s, 2, sw->backend);
	bind_text(s, 3, sw->model);
	bind_text(s, 4, sw->spec_json);
	bind_text(s, 5, sw->spec_sha256);
	sqlite3_bind_int(s, 6, sw->priority);
	if (sw->max_concurrent > 0)
		sqlite3_bind_int(s, 7, sw->max_concurrent);
	if (sw->max_job_hours > 0)
		sqlite3_bind_double(s, 8, sw->max_job_hours);
	sqlite3_bind_int(s, 9, sw->retries);
	if (sw->has_budget)
		sqlite3_bind_double(s, 10, sw->budget_usd);
	bind_text(s, 11, sw->objective_metric);
	bind_text(s, 12, sw->objective_max ? "max" : "min");
	sqlite3_bind_int(s, 13, sw->simulated);
	sqlite3_bind_double(s, 14, now);
	sqlite3_bind_int(s, 15, sw->allow_unpriced);
	bind_text(s, 16, sw->early_stopping_json);
	if (stmt_done(st, s) != 0)
		return -EIO;
	*sweep_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

static int
link_trial(struct store *st, int64_t sweep_id, int64_t trial_id, size_t ordinal,
	   bool reused)
{
	sqlite3_stmt *s = stmt(st, sql_link_insert);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, sweep_id);
	sqlite3_bind_int64(s, 2, trial_id);
	sqlite3_bind_int64(s, 3, (int64_t)ordinal);
	sqlite3_bind_int(s, 4, reused);
	return stmt_done(st, s);
}

static int
insert_trial(struct store *st, int64_t sweep_id,
	     const struct store_trial_new *t, double now, int64_t *trial_id)
{
	sqlite3_stmt *s = stmt(st, sql_trial_insert);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, t->sha256);
	sqlite3_bind_int64(s, 2, sweep_id);
	bind_text(s, 3, t->grader_name);
	bind_text(s, 4, t->grader_sha256);
	bind_text(s, 5, t->hyperparameters_json);
	if (t->has_seed)
		sqlite3_bind_int64(s, 6, t->seed);
	sqlite3_bind_double(s, 7, now);
	if (stmt_done(st, s) != 0)
		return -EIO;
	*trial_id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

static const char sql_trial_reopen[] =
    "UPDATE trials SET sweep_id = ?2, state = 'pending', not_before = NULL,"
    " pending_reason = NULL, objective = NULL, best_step = NULL,"
    " early_stop = NULL, early_step = NULL, updated_at = ?3 WHERE id = ?1;";

bool
store_trial_runs_again(const char *state)
{
	return strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0;
}

/* A failed or cancelled trial submitted again with reuse runs again. */
static int
reopen_trial(struct store *st, int64_t trial_id, int64_t sweep_id, double now)
{
	sqlite3_stmt *s = stmt(st, sql_trial_reopen);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, trial_id);
	sqlite3_bind_int64(s, 2, sweep_id);
	sqlite3_bind_double(s, 3, now);
	return stmt_done(st, s);
}

static int
insert_graders(struct store *st, const struct store_grader_new *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = stmt(st, sql_grader_insert);

		if (s == NULL)
			return -EIO;
		bind_text(s, 1, g[i].sha256);
		bind_text(s, 2, g[i].type);
		bind_text(s, 3, g[i].json);
		if (stmt_done(st, s) != 0)
			return -EIO;
	}
	return 0;
}

int
store_sweep_create(struct store *st, const struct store_sweep_new *sw,
		   const struct store_grader_new *graders, size_t ngraders,
		   const struct store_trial_new *trials, size_t n, bool reuse,
		   double now, int64_t *sweep_id, size_t *reused,
		   cJSON **existing)
{
	cJSON *found = cJSON_CreateArray();
	const cJSON *e;
	size_t next_found = 0;
	int rc;

	*existing = NULL;
	*reused = 0;
	if (store_begin(st) != 0) {
		cJSON_Delete(found);
		return -EIO;
	}
	rc = find_existing(st, trials, n, found);
	if (rc != 0)
		goto fail;
	if (cJSON_GetArraySize(found) > 0 && !reuse) {
		store_rollback(st);
		*existing = found;
		return -EEXIST;
	}
	rc = insert_sweep(st, sw, now, sweep_id);
	if (rc == 0)
		rc = insert_graders(st, graders, ngraders);
	e = found->child;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int64_t trial_id;
		bool is_reused =
		    e != NULL &&
		    cJSON_GetObjectItem(e, "ordinal")->valueint == (int)i;

		if (is_reused) {
			const char *state =
			    cJSON_GetObjectItem(e, "state")->valuestring;

			trial_id = (int64_t)cJSON_GetObjectItem(e, "trial_id")
				       ->valuedouble;
			e = e->next;
			if (store_trial_runs_again(state)) {
				/* It never finished: this sweep runs it. */
				rc = reopen_trial(st, trial_id, *sweep_id, now);
				is_reused = false;
			} else {
				next_found++;
			}
		} else {
			rc = insert_trial(st, *sweep_id, &trials[i], now,
					  &trial_id);
		}
		if (rc == 0)
			rc = link_trial(st, *sweep_id, trial_id, i, is_reused);
	}
	if (rc != 0)
		goto fail;
	rc = store_commit(st);
	*reused = next_found;
	cJSON_Delete(found);
	return rc;
fail:
	store_rollback(st);
	cJSON_Delete(found);
	return -EIO;
}

static const char sql_sweep_state[] = "SELECT state FROM sweeps WHERE id = ?1;";
static const char sql_sweep_set_state[] =
    "UPDATE sweeps SET state = ?2, updated_at = ?3,"
    " finished_at = CASE WHEN ?2 = 'cancelled' THEN ?3 END"
    " WHERE id = ?1;";
static const char sql_cancel_pending[] =
    "UPDATE trials SET state = 'cancelled', pending_reason = NULL,"
    " updated_at = ?2 WHERE sweep_id = ?1 AND state = 'pending';";

int
store_sweep_set_state(struct store *st, int64_t sweep_id, const char *state,
		      double now)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_state);
	char current[16];
	int rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, sweep_id);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? -ENOENT : store_fail(st, "sweep");
	}
	snprintf(current, sizeof(current), "%s", col_text(s, 0));
	sqlite3_reset(s);
	if (strcmp(current, "completed") == 0 ||
	    strcmp(current, "cancelled") == 0)
		return -EALREADY;
	if (store_begin(st) != 0)
		return -EIO;
	s = stmt(st, sql_sweep_set_state);
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, sweep_id);
	bind_text(s, 2, state);
	sqlite3_bind_double(s, 3, now);
	if (stmt_done(st, s) != 0)
		goto fail;
	if (strcmp(state, "cancelled") == 0) {
		s = stmt(st, sql_cancel_pending);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, sweep_id);
		sqlite3_bind_double(s, 2, now);
		if (stmt_done(st, s) != 0)
			goto fail;
	}
	return store_commit(st);
fail:
	store_rollback(st);
	return -EIO;
}

static const char sql_sweeps_complete[] =
    "UPDATE sweeps SET state = 'completed', finished_at = ?1,"
    " updated_at = ?1"
    " WHERE state IN ('running', 'paused') AND NOT EXISTS ("
    "  SELECT 1 FROM sweep_trials l JOIN trials t ON t.id = l.trial_id"
    "  WHERE l.sweep_id = sweeps.id"
    "  AND t.state NOT IN ('succeeded', 'failed', 'cancelled', 'stopped'))"
    " RETURNING id;";

int
store_sweeps_refresh(struct store *st, double now, int64_t **completed,
		     size_t *n)
{
	sqlite3_stmt *s = stmt(st, sql_sweeps_complete);
	int64_t *ids = NULL;
	size_t count = 0;
	int rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_double(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ids = xrealloc(ids, (count + 1) * sizeof(*ids));
		ids[count++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		free(ids);
		return store_fail(st, "completing sweeps");
	}
	if (completed != NULL) {
		*completed = ids;
		*n = count;
	} else {
		free(ids);
	}
	return 0;
}
