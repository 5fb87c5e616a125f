/*
 * The dashboard's reads (reader.h): fixed queries on a read-only,
 * query-only connection with a deadline, each answering one JSON text
 * built by SQLite, except the curves, read into arrays and thinned.
 */
#include "reader.h"
#include "store_int.h"

#include "util.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct store_reader {
	sqlite3 *db;
	uint64_t deadline_ns; /* monotonic */
	bool timed_out;
};

static int
reader_progress(void *arg)
{
	struct store_reader *r = arg;

	if (now_mono_ns() < r->deadline_ns)
		return 0;
	r->timed_out = true;
	return 1;
}

struct store_reader *
store_reader_open(const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct store_reader *r = xcalloc(1, sizeof(*r));

	if (sqlite3_open_v2(path, &r->db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		store_errf(err, errlen, "cannot open %s: %s", path,
			   r->db ? sqlite3_errmsg(r->db) : "out of memory");
		sqlite3_close(r->db);
		free(r);
		return NULL;
	}
	sqlite3_db_config(r->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	/* A page reads much of the file on a connection opened for it:
	 * mapped, the file's pages are not copied into a cache first. */
	sqlite3_exec(r->db,
		     "PRAGMA query_only = 1; PRAGMA mmap_size = 268435456;",
		     NULL, NULL, NULL);
	sqlite3_busy_timeout(r->db, 1000);
	r->deadline_ns = now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	sqlite3_progress_handler(r->db, 1000, reader_progress, r);
	return r;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	sqlite3_close(r->db);
	free(r);
}

static int
reader_fail(struct store_reader *r, const char *what, char *err, size_t errlen)
{
	if (r->timed_out) {
		store_errf(err, errlen, "%s: took too long", what);
		return -ETIMEDOUT;
	}
	store_errf(err, errlen, "%s: %s", what, sqlite3_errmsg(r->db));
	return -EIO;
}

static sqlite3_stmt *
prepare(struct store_reader *r, const char *sql, const char *what, int *rc,
	char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(r->db, sql, -1, &s, NULL) != SQLITE_OK) {
		*rc = reader_fail(r, what, err, errlen);
		return NULL;
	}
	return s;
}

/* Steps `s` (finalized here) for one JSON text; NULL text: -ENOENT. */
static cJSON *
one_json(struct store_reader *r, sqlite3_stmt *s, const char *what, int *rc,
	 char *err, size_t errlen)
{
	cJSON *out = NULL;
	int step = sqlite3_step(s);

	if (step == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL) {
		out = cJSON_Parse((const char *)sqlite3_column_text(s, 0));
		*rc = out != NULL ? 0 : -EIO;
		if (out == NULL)
			store_errf(err, errlen, "%s: unreadable JSON", what);
	} else if (step == SQLITE_ROW || step == SQLITE_DONE) {
		*rc = -ENOENT;
		store_errf(err, errlen, "%s: not found", what);
	} else {
		*rc = reader_fail(r, what, err, errlen);
	}
	sqlite3_finalize(s);
	return out;
}

/* A sweep's figures, as the sweeps list and the sweep page show them. */
#define SWEEP_FIELDS                                                           \
	" 'id', s.id, 'name', s.name, 'backend', s.backend, 'model', s.model," \
	" 'state', s.state, 'simulated', s.simulated,"                         \
	" 'budget_usd', s.budget_usd, 'created_at', s.created_at,"             \
	" 'finished_at', s.finished_at,"                                       \
	" 'objective_metric', s.objective_metric,"                             \
	" 'objective_mode', s.objective_mode,"                                 \
	" 'trials', (SELECT count(*) FROM sweep_trials l"                      \
	"   WHERE l.sweep_id = s.id),"                                         \
	" 'counts', (SELECT json_group_object(state, n) FROM (SELECT t.state," \
	"   count(*) AS n FROM sweep_trials l JOIN trials t"                   \
	"   ON t.id = l.trial_id WHERE l.sweep_id = s.id GROUP BY t.state)),"  \
	" 'best', (SELECT CASE s.objective_mode WHEN 'min'"                    \
	"   THEN min(t.objective) ELSE max(t.objective) END"                   \
	"   FROM sweep_trials l JOIN trials t ON t.id = l.trial_id"            \
	"   WHERE l.sweep_id = s.id),"                                         \
	" 'spent_usd', " SQL_SWEEP_SPENT

static const char sql_sweeps[] =
    "SELECT json_object('sweeps', (SELECT "
    "json_group_array(json_object(" SWEEP_FIELDS
    ")) FROM (SELECT * FROM sweeps ORDER BY id DESC"
    " LIMIT ?1) s), 'total', (SELECT count(*) FROM sweeps));";

cJSON *
store_page_sweeps(struct store_reader *r, int limit, int *rc, char *err,
		  size_t errlen)
{
	sqlite3_stmt *s = prepare(r, sql_sweeps, "sweeps", rc, err, errlen);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int(s, 1, limit);
	return one_json(r, s, "sweeps", rc, err, errlen);
}

/*
 * The leaderboard view's rows for those shown only: the best trials are
 * found through trials_by_objective's columns, then the view (with its
 * cost subqueries) is read for them.
 */
static const char sql_sweep[] =
    "SELECT json_object(" SWEEP_FIELDS ","
    " 'leaderboard', (SELECT json_group_array(json_object("
    "   'trial_id', b.trial_id, 'grader', b.grader, 'seed', b.seed,"
    "   'learning_rate_multiplier', b.learning_rate_multiplier,"
    "   'n_epochs', b.n_epochs, 'batch_size', b.batch_size,"
    "   'state', b.state, 'objective', b.objective, 'score', b.score,"
    "   'best_step', b.best_step, 'jobs', b.jobs, 'cost_usd', b.cost_usd,"
    "   'reward_per_usd', b.reward_per_usd, 'model', b.model,"
    "   'job_id', (SELECT j.id FROM jobs j WHERE j.trial_id = b.trial_id"
    "     ORDER BY j.attempt DESC LIMIT 1)))"
    "   FROM (SELECT v.* FROM (SELECT l.trial_id, l.ordinal,"
    "     CASE s.objective_mode WHEN 'min' THEN -t.objective"
    "     ELSE t.objective END AS score"
    "     FROM sweep_trials l JOIN trials t ON t.id = l.trial_id"
    "     WHERE l.sweep_id = s.id ORDER BY score IS NULL, score DESC,"
    "     l.ordinal LIMIT ?2) k CROSS JOIN leaderboard v"
    "     ON v.sweep_id = s.id AND v.trial_id = k.trial_id) b),"
    " 'graders', (SELECT json_group_array(json_object('grader', g.grader,"
    "   'type', g.grader_type, 'trials', g.trials, 'succeeded',"
    "   g.succeeded, 'best_objective', g.best_objective,"
    "   'mean_objective', g.mean_objective)) FROM (SELECT *"
    "   FROM grader_comparison WHERE sweep_id = s.id ORDER BY grader"
    "   LIMIT 100) g),"
    " 'grid', (SELECT json_group_array(json_array(h.k, h.v, h.g, h.mean,"
    "   h.n)) FROM (SELECT x.key AS k, x.value AS v, t.grader_name AS g,"
    "   avg(t.objective) AS mean, count(*) AS n FROM sweep_trials l"
    "   JOIN trials t ON t.id = l.trial_id, json_each(t.hyperparameters) x"
    "   WHERE l.sweep_id = s.id AND x.type NOT IN ('object', 'array')"
    "   GROUP BY x.key, x.value, t.grader_name"
    "   ORDER BY x.key, x.value, t.grader_name LIMIT 2000) h))"
    " FROM sweeps s WHERE s.id = ?1;";

cJSON *
store_page_sweep(struct store_reader *r, int64_t sweep_id, int limit, int *rc,
		 char *err, size_t errlen)
{
	sqlite3_stmt *s = prepare(r, sql_sweep, "sweep", rc, err, errlen);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, sweep_id);
	sqlite3_bind_int(s, 2, limit);
	return one_json(r, s, "sweep", rc, err, errlen);
}

static const char sql_job[] =
    "SELECT json_object('id', j.id, 'trial_id', t.id, 'sweep_id',"
    " t.sweep_id, 'sweep', s.name, 'attempt', j.attempt, 'backend',"
    " j.backend, 'simulated', j.simulated, 'remote_id', j.remote_id,"
    " 'state', j.state, 'provider_status', j.provider_status,"
    " 'error', j.error, 'fine_tuned_model', j.fine_tuned_model,"
    " 'model', s.model, 'grader', t.grader_name,"
    " 'grader_type', (SELECT g.type FROM graders g"
    "   WHERE g.sha256 = t.grader_sha256),"
    " 'hyperparameters', json(t.hyperparameters), 'seed', t.seed,"
    " 'objective', t.objective, 'best_step', t.best_step,"
    " 'billed_seconds', j.billed_seconds, 'cost_usd', j.cost_usd,"
    " 'cost_quality', j.cost_quality, 'created_at', j.created_at,"
    " 'started_at', j.started_at, 'finished_at', j.finished_at,"
    " 'objective_metric', s.objective_metric,"
    " 'live', s.state = 'running' AND j.state NOT IN ('succeeded',"
    "   'failed', 'cancelled', 'lost'),"
    " 'events', (SELECT json_group_array(json_object('at', e.created_at,"
    "   'level', e.level, 'type', e.type, 'message', e.message))"
    "   FROM (SELECT * FROM job_events WHERE job_id = j.id"
    "   AND type IS NOT 'metrics' ORDER BY created_at DESC, id DESC"
    "   LIMIT ?2) e),"
    " 'events_total', (SELECT count(*) FROM job_events"
    "   WHERE job_id = j.id AND type IS NOT 'metrics'),"
    " 'checkpoints', (SELECT json_group_array(json_object('step', c.step,"
    "   'model', c.model, 'metrics', json(c.metrics), 'at',"
    "   c.created_at)) FROM (SELECT * FROM checkpoints WHERE job_id = j.id"
    "   ORDER BY step DESC LIMIT ?2) c),"
    " 'checkpoints_total', (SELECT count(*) FROM checkpoints"
    "   WHERE job_id = j.id),"
    " 'latest', (SELECT json_group_array(json_array(m.name, m.step,"
    "   m.value)) FROM (SELECT name, max(step) AS step, value FROM metrics"
    "   WHERE job_id = j.id GROUP BY name ORDER BY name LIMIT ?2) m))"
    " FROM jobs j JOIN trials t ON t.id = j.trial_id"
    " JOIN sweeps s ON s.id = t.sweep_id WHERE j.id = ?1;";

cJSON *
store_page_job(struct store_reader *r, int64_t job_id, int limit, int *rc,
	       char *err, size_t errlen)
{
	sqlite3_stmt *s = prepare(r, sql_job, "job", rc, err, errlen);

	if (s == NULL)
		return NULL;
	sqlite3_bind_int64(s, 1, job_id);
	sqlite3_bind_int(s, 2, limit);
	return one_json(r, s, "job", rc, err, errlen);
}

/* The global scope's movements: each one is also booked to its sweep. */
#define SPEND_ROWS                                                             \
	" FROM ledger WHERE scope = 'global' AND kind IN ('accrue', 'settle')"

cJSON *
store_page_spend(struct store_reader *r, int buckets, int *rc, char *err,
		 size_t errlen)
{
	sqlite3_stmt *s;
	double first, last, width, total = 0;
	cJSON *out;
	int step;

	s = prepare(r, "SELECT min(at), max(at)" SPEND_ROWS, "spend", rc, err,
		    errlen);
	if (s == NULL)
		return NULL;
	step = sqlite3_step(s);
	if (step != SQLITE_ROW) {
		*rc = reader_fail(r, "spend", err, errlen);
		sqlite3_finalize(s);
		return NULL;
	}
	out = cJSON_CreateArray();
	if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
		sqlite3_finalize(s);
		*rc = 0;
		return out;
	}
	first = sqlite3_column_double(s, 0);
	last = sqlite3_column_double(s, 1);
	sqlite3_finalize(s);
	width = (last - first) / (buckets > 1 ? buckets - 1 : 1);
	if (!(width > 0))
		width = 1;
	s = prepare(r,
		    "SELECT CAST((at - ?1) / ?2 AS INTEGER) AS b, max(at),"
		    " sum(amount_usd)" SPEND_ROWS " GROUP BY b ORDER BY b",
		    "spend", rc, err, errlen);
	if (s == NULL) {
		cJSON_Delete(out);
		return NULL;
	}
	sqlite3_bind_double(s, 1, first);
	sqlite3_bind_double(s, 2, width);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		cJSON *pt = cJSON_CreateArray();

		total += sqlite3_column_double(s, 2);
		cJSON_AddItemToArray(
		    pt, cJSON_CreateNumber(sqlite3_column_double(s, 1)));
		cJSON_AddItemToArray(pt, cJSON_CreateNumber(total));
		cJSON_AddItemToArray(out, pt);
	}
	if (step != SQLITE_DONE) {
		*rc = reader_fail(r, "spend", err, errlen);
		cJSON_Delete(out);
		out = NULL;
	} else {
		*rc = 0;
	}
	sqlite3_finalize(s);
	return out;
}

/* --- curves -------------------------------------------------------------- */

size_t
store_thin(double *x, double *y, size_t n, size_t max)
{
	size_t nb, out = 0;

	if (max < 4)
		max = 4;
	if (n <= max)
		return n;
	nb = max / 2;
	for (size_t b = 0; b < nb; b++) {
		size_t lo = b * n / nb, hi = (b + 1) * n / nb;
		size_t imin = SIZE_MAX, imax = SIZE_MAX;

		for (size_t i = lo; i < hi; i++) {
			if (isnan(y[i]))
				continue;
			if (imin == SIZE_MAX || y[i] < y[imin])
				imin = i;
			if (imax == SIZE_MAX || y[i] > y[imax])
				imax = i;
		}
		if (imin == SIZE_MAX)
			continue;
		/* out <= lo always: writing never overtakes reading. */
		if (imin > imax) {
			size_t t = imin;

			imin = imax;
			imax = t;
		}
		x[out] = x[imin], y[out] = y[imin], out++;
		if (imax != imin)
			x[out] = x[imax], y[out] = y[imax], out++;
	}
	return out;
}

/* Each trial's newest job with points of the metric, in trial order. */
static const char sql_curve_jobs[] =
    "SELECT t.id, t.grader_name, (SELECT j.id FROM jobs j"
    " WHERE j.trial_id = t.id AND EXISTS (SELECT 1 FROM metrics m"
    " WHERE m.job_id = j.id AND m.name = ?2) ORDER BY j.attempt DESC"
    " LIMIT 1) AS job FROM sweep_trials l JOIN trials t"
    " ON t.id = l.trial_id WHERE l.sweep_id = ?1 ORDER BY l.ordinal;";

static const char sql_curve_job[] =
    "SELECT t.id, t.grader_name, j.id FROM jobs j JOIN trials t"
    " ON t.id = j.trial_id WHERE j.id = ?3 AND EXISTS (SELECT 1"
    " FROM metrics m WHERE m.job_id = j.id AND m.name = ?2);";

/* Points read of one curve at most, before thinning: memory is bounded
 * whatever a trainer reported. */
#define POINTS_READ_MAX (1u << 20)

/* One job's points, in step order: the primary key's. */
static const char sql_points[] = "SELECT step, value FROM metrics"
				 " WHERE job_id = ?1 AND name = ?2"
				 " ORDER BY step;";

static int
read_points(struct store_reader *r, sqlite3_stmt *s, struct store_curve *c,
	    size_t max_points, size_t *total, bool *cut, char *err,
	    size_t errlen)
{
	size_t cap = 64, n = 0;
	int step;

	c->x = xmalloc(cap * sizeof(double));
	c->y = xmalloc(cap * sizeof(double));
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == POINTS_READ_MAX) {
			*cut = true;
			step = SQLITE_DONE;
			break;
		}
		if (n == cap) {
			cap *= 2;
			c->x = xrealloc(c->x, cap * sizeof(double));
			c->y = xrealloc(c->y, cap * sizeof(double));
		}
		c->x[n] = (double)sqlite3_column_int64(s, 0);
		c->y[n] = sqlite3_column_type(s, 1) == SQLITE_NULL
			      ? NAN
			      : sqlite3_column_double(s, 1);
		n++;
	}
	sqlite3_reset(s);
	if (step != SQLITE_DONE)
		return reader_fail(r, "curves", err, errlen);
	*total += n;
	c->n = store_thin(c->x, c->y, n, max_points);
	return 0;
}

int
store_page_curves(struct store_reader *r, int64_t sweep_id, int64_t job_id,
		  const char *metric, size_t max_curves, size_t max_points,
		  struct store_curves *out, char *err, size_t errlen)
{
	sqlite3_stmt *list = NULL, *pts = NULL;
	size_t cap = 0;
	int rc = 0, step;

	memset(out, 0, sizeof(*out));
	list = prepare(r, job_id > 0 ? sql_curve_job : sql_curve_jobs, "curves",
		       &rc, err, errlen);
	if (list == NULL)
		return rc;
	pts = prepare(r, sql_points, "curves", &rc, err, errlen);
	if (pts == NULL)
		goto done;
	sqlite3_bind_int64(list, 1, sweep_id);
	sqlite3_bind_text(list, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_int64(list, 3, job_id);
	sqlite3_bind_text(pts, 2, metric, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(list)) == SQLITE_ROW) {
		struct store_curve *c;

		if (sqlite3_column_type(list, 2) == SQLITE_NULL)
			continue;
		if (out->n == max_curves) {
			out->more = true;
			break;
		}
		if (out->n == cap) {
			cap = cap ? 2 * cap : 64;
			out->curves =
			    xrealloc(out->curves, cap * sizeof(*out->curves));
		}
		c = &out->curves[out->n++];
		memset(c, 0, sizeof(*c));
		c->trial_id = sqlite3_column_int64(list, 0);
		c->grader = xstrdup(col_text(list, 1) ? col_text(list, 1) : "");
		c->job_id = sqlite3_column_int64(list, 2);
		sqlite3_bind_int64(pts, 1, c->job_id);
		rc = read_points(r, pts, c, max_points, &out->points, &out->cut,
				 err, errlen);
		if (rc != 0)
			goto done;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = reader_fail(r, "curves", err, errlen);
done:
	sqlite3_finalize(list);
	sqlite3_finalize(pts);
	if (rc != 0)
		store_curves_free(out);
	return rc;
}

void
store_curves_free(struct store_curves *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->curves[i].x);
		free(c->curves[i].y);
		free(c->curves[i].grader);
	}
	free(c->curves);
	memset(c, 0, sizeof(*c));
}
