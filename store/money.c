/*
 * Money in the store: job prices and reservations, the ledger (rows in
 * pairs: scope 'global' and 'sweep:N'), budget limits set at run time,
 * and halts.
 */
#include "store_int.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char sql_ledger_add[] =
    "INSERT INTO ledger (at, job_id, scope, kind, amount_usd, basis,"
    " quality) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);";

static int
ledger_row(struct store *st, double now, int64_t job_id, const char *scope,
	   const char *kind, double amount, const char *basis,
	   const char *quality)
{
	sqlite3_stmt *s = stmt(st, sql_ledger_add);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_double(s, 1, now);
	if (job_id > 0)
		sqlite3_bind_int64(s, 2, job_id);
	bind_text(s, 3, scope);
	bind_text(s, 4, kind);
	sqlite3_bind_double(s, 5, amount);
	bind_text(s, 6, basis);
	bind_text(s, 7, quality);
	return stmt_done(st, s);
}

int
store_ledger_job(struct store *st, int64_t job_id, int64_t sweep_id,
		 const char *kind, double amount, const char *basis,
		 const char *quality, double now)
{
	char scope[32];

	snprintf(scope, sizeof(scope), "sweep:%lld", (long long)sweep_id);
	if (ledger_row(st, now, job_id, "global", kind, amount, basis,
		       quality) != 0)
		return -EIO;
	return ledger_row(st, now, job_id, scope, kind, amount, basis, quality);
}

static const char sql_job_price[] =
    "UPDATE jobs SET rate_usd_per_hour = ?2, reserved_usd = ?3 WHERE id = ?1;";

int
store_job_price(struct store *st, int64_t job_id, double rate, double reserved)
{
	sqlite3_stmt *s = stmt(st, sql_job_price);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	sqlite3_bind_double(s, 2, rate);
	sqlite3_bind_double(s, 3, reserved);
	return stmt_done(st, s);
}

static const char sql_job_cost[] =
    "UPDATE jobs SET cost_usd = ?2, cost_quality = ?3 WHERE id = ?1;";
static const char sql_job_ledgered[] =
    "UPDATE jobs SET ledgered_usd = ?2 WHERE id = ?1;";

int
store_job_cost(struct store *st, int64_t job_id, int64_t sweep_id, double cost,
	       const char *quality, double ledgered, bool to_ledger, double now)
{
	sqlite3_stmt *s = stmt(st, sql_job_cost);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	sqlite3_bind_double(s, 2, cost);
	bind_text(s, 3, quality);
	if (stmt_done(st, s) != 0)
		return -EIO;
	if (!to_ledger || cost == ledgered)
		return 0;
	if (store_ledger_job(st, job_id, sweep_id, "accrue", cost - ledgered,
			     "training time x rate", quality, now) != 0)
		return -EIO;
	s = stmt(st, sql_job_ledgered);
	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	sqlite3_bind_double(s, 2, cost);
	return stmt_done(st, s);
}

static const char sql_budget_paused[] =
    "UPDATE jobs SET budget_paused = ?2 WHERE id = ?1;";

int
store_job_budget_paused(struct store *st, int64_t job_id, bool paused)
{
	sqlite3_stmt *s = stmt(st, sql_budget_paused);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_int64(s, 1, job_id);
	sqlite3_bind_int(s, 2, paused);
	return stmt_done(st, s);
}

static const char sql_budget_paused_jobs[] =
    "SELECT json_group_array(id) FROM jobs WHERE budget_paused = 1"
    " AND state IN ('paused', 'pausing');";

cJSON *
store_budget_paused_jobs(struct store *st)
{
	return query_json(st, stmt(st, sql_budget_paused_jobs));
}

static const char sql_limits[] =
    "SELECT scope, limit_usd, action FROM budgets ORDER BY scope;";

int
store_budget_limits(struct store *st,
		    void (*fn)(const char *scope, double limit,
			       const char *action, void *arg),
		    void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_limits);
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(col_text(s, 0), sqlite3_column_double(s, 1), col_text(s, 2),
		   arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "budget limits");
}

static const char sql_limit_set[] =
    "INSERT INTO budgets (scope, limit_usd, action, updated_at)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope) DO UPDATE SET"
    " limit_usd = ?2, action = ?3, updated_at = ?4;";
static const char sql_limit_unset[] = "DELETE FROM budgets WHERE scope = ?1;";

int
store_budget_set(struct store *st, const char *scope, double limit,
		 const char *action, const char *basis, double now)
{
	sqlite3_stmt *s;

	if (store_begin(st) != 0)
		return -EIO;
	s = stmt(st, limit >= 0 ? sql_limit_set : sql_limit_unset);
	if (s == NULL)
		goto fail;
	bind_text(s, 1, scope);
	if (limit >= 0) {
		sqlite3_bind_double(s, 2, limit);
		bind_text(s, 3, action);
		sqlite3_bind_double(s, 4, now);
	}
	if (stmt_done(st, s) != 0 || ledger_row(st, now, 0, scope, "limit",
						limit, basis, "estimated") != 0)
		goto fail;
	return store_commit(st);
fail:
	store_rollback(st);
	return -EIO;
}

static const char sql_halt_add[] =
    "INSERT INTO halts (at, scope, limit_usd, spent_usd, action, jobs)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6);";

int
store_halt_add(struct store *st, const char *scope, double limit, double spent,
	       const char *action, const char *jobs_json, double now)
{
	sqlite3_stmt *s = stmt(st, sql_halt_add);

	if (s == NULL)
		return -EIO;
	sqlite3_bind_double(s, 1, now);
	bind_text(s, 2, scope);
	sqlite3_bind_double(s, 3, limit);
	sqlite3_bind_double(s, 4, spent);
	bind_text(s, 5, action);
	bind_text(s, 6, jobs_json);
	return stmt_done(st, s);
}

static const char sql_spent_global[] =
    "SELECT coalesce(sum(cost_usd), 0) FROM jobs;";
static const char sql_spent_sweep[] =
    "SELECT coalesce((SELECT " SQL_SWEEP_SPENT " FROM sweeps s"
    " WHERE s.id = ?1), 0);";
/* Spend by minute for the rolling windows: ledgered rows in the last 30
 * days, plus what live jobs have spent but not yet ledgered, now. */
static const char sql_spend_minutes[] =
    "SELECT CAST(at / 60 AS INTEGER) * 60.0, sum(amount_usd) FROM ledger"
    " WHERE scope = 'global' AND kind IN ('accrue', 'settle') AND at >= ?1"
    " GROUP BY 1 UNION ALL SELECT ?2, coalesce(sum(cost_usd -"
    " ledgered_usd), 0) FROM jobs WHERE cost_usd > ledgered_usd;";

int
store_spent(struct store *st, int64_t sweep_id, double *usd)
{
	sqlite3_stmt *s =
	    stmt(st, sweep_id ? sql_spent_sweep : sql_spent_global);
	int rc;

	if (s == NULL)
		return -EIO;
	if (sweep_id)
		sqlite3_bind_int64(s, 1, sweep_id);
	rc = sqlite3_step(s);
	*usd = rc == SQLITE_ROW ? sqlite3_column_double(s, 0) : 0;
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? 0 : store_fail(st, "spent");
}

int
store_spend_minutes(struct store *st, double since, double now,
		    void (*fn)(double t, double usd, void *arg), void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_spend_minutes);
	int rc;

	if (s == NULL)
		return -EIO;
	sqlite3_bind_double(s, 1, since);
	sqlite3_bind_double(s, 2, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_double(s, 0), sqlite3_column_double(s, 1),
		   arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "spend by minute");
}

static const char sql_sweep_budgets[] =
    "SELECT id, budget_usd FROM sweeps WHERE budget_usd IS NOT NULL;";

int
store_sweep_budgets(struct store *st,
		    void (*fn)(int64_t sweep_id, double limit, void *arg),
		    void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_budgets);
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_int64(s, 0), sqlite3_column_double(s, 1),
		   arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "sweep budgets");
}

static const char sql_sweep_spends[] =
    "SELECT s.id, s.name, s.simulated, " SQL_SWEEP_SPENT " FROM sweeps s"
    " ORDER BY s.id;";

int
store_sweep_spends(struct store *st,
		   void (*fn)(int64_t sweep_id, const char *name,
			      bool simulated, double spent, void *arg),
		   void *arg)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_spends);
	int rc;

	if (s == NULL)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_int64(s, 0), col_text(s, 1),
		   sqlite3_column_int(s, 2) != 0, sqlite3_column_double(s, 3),
		   arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_fail(st, "sweep spends");
}

static const char sql_sweep_exists[] = "SELECT 1 FROM sweeps WHERE id = ?1;";

bool
store_sweep_exists(struct store *st, int64_t sweep_id)
{
	sqlite3_stmt *s = stmt(st, sql_sweep_exists);
	bool found;

	if (s == NULL)
		return false;
	sqlite3_bind_int64(s, 1, sweep_id);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return found;
}
