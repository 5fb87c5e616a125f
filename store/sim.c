/* The simulated backend's job table (see sim_jobs in 0001_init.sql). */
#include "store_int.h"

#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char sql_sim_insert[] =
    "INSERT INTO sim_jobs (remote_id, intent_key, request, created_at,"
    " elapsed, active_since, control) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);";
static const char sql_sim_by_remote[] =
    "SELECT remote_id, intent_key, request, created_at, elapsed,"
    " active_since, control FROM sim_jobs WHERE remote_id = ?1;";
static const char sql_sim_by_intent[] =
    "SELECT remote_id, intent_key, request, created_at, elapsed,"
    " active_since, control FROM sim_jobs WHERE intent_key = ?1;";
static const char sql_sim_update[] =
    "UPDATE sim_jobs SET elapsed = ?2, active_since = ?3, control = ?4"
    " WHERE remote_id = ?1;";

int
store_sim_insert(struct store *st, const struct store_sim_job *job)
{
	sqlite3_stmt *s = stmt(st, sql_sim_insert);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, job->remote_id);
	bind_text(s, 2, job->intent_key);
	bind_text(s, 3, job->request);
	sqlite3_bind_double(s, 4, job->created_at);
	sqlite3_bind_double(s, 5, job->elapsed);
	if (job->active_since > 0)
		sqlite3_bind_double(s, 6, job->active_since);
	bind_text(s, 7, job->control);
	return stmt_done(st, s);
}

int
store_sim_get(struct store *st, const char *remote_id, const char *intent_key,
	      struct store_sim_job *job)
{
	sqlite3_stmt *s =
	    stmt(st, remote_id ? sql_sim_by_remote : sql_sim_by_intent);
	int rc;

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, remote_id ? remote_id : intent_key);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return rc == SQLITE_DONE ? -ENOENT : store_fail(st, "sim job");
	}
	memset(job, 0, sizeof(*job));
	snprintf(job->remote_id, sizeof(job->remote_id), "%s", col_text(s, 0));
	snprintf(job->intent_key, sizeof(job->intent_key), "%s",
		 col_text(s, 1));
	job->request = xstrdup(col_text(s, 2));
	job->created_at = sqlite3_column_double(s, 3);
	job->elapsed = sqlite3_column_double(s, 4);
	job->active_since = sqlite3_column_double(s, 5);
	snprintf(job->control, sizeof(job->control), "%s", col_text(s, 6));
	sqlite3_reset(s);
	return 0;
}

int
store_sim_update(struct store *st, const struct store_sim_job *job)
{
	sqlite3_stmt *s = stmt(st, sql_sim_update);

	if (s == NULL)
		return -EIO;
	bind_text(s, 1, job->remote_id);
	sqlite3_bind_double(s, 2, job->elapsed);
	if (job->active_since > 0)
		sqlite3_bind_double(s, 3, job->active_since);
	bind_text(s, 4, job->control);
	return stmt_done(st, s);
}
