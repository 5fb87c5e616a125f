/*
 * The method handlers.  Each entry of PROTO_METHODS (common/proto.h) has
 * one here; the protocol codec has already checked the envelope, and each
 * handler checks its own params (unknown ones are errors).
 */
#include "methods.h"

#include "backend.h"
#include "control.h"
#include "daemon.h"
#include "dashboard.h"
#include "datasets.h"
#include "log.h"
#include "meter.h"
#include "notifier.h"
#include "plan.h"
#include "scheduler.h"
#include "spec.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLAN_PREVIEW   20 /* trials shown by sweep.plan */
#define LIST_LIMIT_MAX 100000

typedef int (*method_fn)(struct daemon *d, const cJSON *params, cJSON **result,
			 struct proto_error *err);

/* --- params --------------------------------------------------------------- */

/* Refuses members of `params` that are not in `allowed` (NULL-ended). */
static int
check_params(const cJSON *params, const char *const *allowed,
	     struct proto_error *err)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, params)
	{
		const char *const *a;

		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, m->string) == 0)
				break;
		if (*a == NULL)
			return proto_error_set(err, PROTO_E_INVALID_PARAMS,
					       "/params/%s: unknown parameter",
					       m->string);
	}
	return 0;
}

static int
param_id(const cJSON *params, const char *key, bool required, int64_t *out,
	 struct proto_error *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);

	*out = 0;
	if (v == NULL) {
		if (required)
			return proto_error_set(err, PROTO_E_INVALID_PARAMS,
					       "/params/%s: is required", key);
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	    v->valuedouble > 9007199254740991.0 ||
	    v->valuedouble != floor(v->valuedouble))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/%s: must be a positive integer",
				       key);
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* Params of the form {"id": N}: the only ones allowed. */
static int
id_only(const cJSON *params, int64_t *id, struct proto_error *err)
{
	static const char *const allowed[] = {"id", NULL};

	if (check_params(params, allowed, err) != 0 ||
	    param_id(params, "id", true, id, err) != 0)
		return err->code;
	return 0;
}

/* Wraps a list from the store as {key: list}. */
static int
listed(cJSON *list, const char *key, cJSON **result, struct proto_error *err)
{
	if (list == NULL)
		return proto_error_set(err, PROTO_E_STORE, "cannot read the %s",
				       key);
	*result = cJSON_CreateObject();
	cJSON_AddItemToObject(*result, key, list);
	return 0;
}

/* --- daemon.* ------------------------------------------------------------- */

static int
daemon_ping(struct daemon *d, const cJSON *params, cJSON **result,
	    struct proto_error *err)
{
	static const char *const none[] = {NULL};

	(void)d;
	if (check_params(params, none, err) != 0)
		return err->code;
	*result = cJSON_CreateObject();
	cJSON_AddTrueToObject(*result, "pong");
	cJSON_AddNumberToObject(*result, "time", now_wall());
	return 0;
}

static void
add_count(const char *table, int64_t rows, void *arg)
{
	cJSON_AddNumberToObject(arg, table, (double)rows);
}

static void
add_durations(cJSON *obj, const char *key, const struct duration_stats *ds)
{
	cJSON *o = cJSON_AddObjectToObject(obj, key);

	cJSON_AddNumberToObject(o, "count", (double)ds->count);
	cJSON_AddNumberToObject(o, "last_ms", ds->last);
	cJSON_AddNumberToObject(o, "p50_ms", ds->p50);
	cJSON_AddNumberToObject(o, "p99_ms", ds->p99);
	cJSON_AddNumberToObject(o, "max_ms", ds->max);
}

static int
daemon_status(struct daemon *d, const cJSON *params, cJSON **result,
	      struct proto_error *err)
{
	static const char *const none[] = {NULL};
	cJSON *r, *backends, *store;
	struct tick_stats ticks;
	char why[256];
	double since;

	if (check_params(params, none, err) != 0)
		return err->code;
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "version", RFTD_VERSION);
	cJSON_AddNumberToObject(r, "pid", (double)getpid());
	cJSON_AddNumberToObject(r, "started_at", d->started_at);
	cJSON_AddNumberToObject(
	    r, "uptime_s", (double)(now_mono_ns() - d->started_mono) / 1e9);
	cJSON_AddStringToObject(r, "socket",
				control_path(d->control)
				    ? control_path(d->control)
				    : d->cfg.socket_path);
	cJSON_AddStringToObject(r, "database", store_path(d->store));
	if (dashboard_url(d) != NULL)
		cJSON_AddStringToObject(r, "dashboard", dashboard_url(d));
	cJSON_AddNumberToObject(r, "schema_version",
				store_schema_version(d->store));
	cJSON_AddNumberToObject(r, "clients", control_clients(d->control));
	cJSON_AddStringToObject(r, "log_level",
				log_level_name(log_get_level()));
	scheduler_tick_stats(d->sched, &ticks);
	add_durations(r, "ticks", &ticks.ticks);
	add_durations(r, "loop_holds", &ticks.holds);
	store = cJSON_AddObjectToObject(r, "store");
	if (scheduler_store_fault(d->sched, &since, why, sizeof(why))) {
		/* Work waits until a write goes through again. */
		cJSON_AddBoolToObject(store, "writable", false);
		cJSON_AddStringToObject(store, "error", why);
		cJSON_AddNumberToObject(store, "since", since);
	} else {
		cJSON_AddBoolToObject(store, "writable", true);
	}
	backends = cJSON_AddArrayToObject(r, "backends");
	for (size_t i = 0; i < d->nbackends; i++) {
		cJSON *b = cJSON_CreateObject();

		cJSON_AddStringToObject(b, "name", d->backends[i]->name);
		cJSON_AddStringToObject(b, "type", d->backends[i]->ops->type);
		cJSON_AddBoolToObject(b, "simulated",
				      d->backends[i]->caps & BACKEND_SIMULATED);
		cJSON_AddNumberToObject(b, "max_concurrent",
					d->backends[i]->max_concurrent);
		if (d->backends[i]->hold_until > now_wall()) {
			cJSON *h = cJSON_AddObjectToObject(b, "hold");

			cJSON_AddNumberToObject(h, "until",
						d->backends[i]->hold_until);
			cJSON_AddStringToObject(h, "reason",
						d->backends[i]->hold_reason);
		} else if (scheduler_backend_waits(d->sched, d->backends[i],
						   why, sizeof(why))) {
			cJSON *h = cJSON_AddObjectToObject(b, "hold");

			cJSON_AddNullToObject(h, "until");
			cJSON_AddStringToObject(h, "reason", why);
		}
		cJSON_AddItemToArray(backends, b);
	}
	*result = r;
	return 0;
}

/*
 * daemon.status: what the daemon knows in memory, and the rows of every
 * table, counted on the thread pool (a large store takes a while, and
 * the loop serves everyone else meanwhile).
 */
struct status_work {
	uv_work_t req;
	struct control_reply_to *to;
	char *path;
	cJSON *result;
	int rc;
};

static void
status_count(uv_work_t *req)
{
	struct status_work *w = req->data;

	w->rc = store_table_counts(
	    w->path, add_count, cJSON_AddObjectToObject(w->result, "tables"));
}

static void
status_counted(uv_work_t *req, int status)
{
	struct status_work *w = req->data;

	if (status == UV_ECANCELED) {
		control_answer(w->to, PROTO_E_SHUTTING_DOWN,
			       "rftd is shutting down", NULL);
	} else if (w->rc != 0) {
		control_answer(w->to, PROTO_E_STORE,
			       "cannot count rows in the store", NULL);
	} else {
		control_answer(w->to, 0, NULL, w->result);
		w->result = NULL; /* the answer's now */
	}
	cJSON_Delete(w->result);
	free(w->path);
	free(w);
}

static int
status_start(struct daemon *d, const struct peer *peer,
	     const struct proto_request *req, struct proto_error *err)
{
	struct status_work *w;
	cJSON *r;

	if (d->control == NULL || d->stopping)
		return proto_error_set(err, PROTO_E_SHUTTING_DOWN,
				       "rftd is shutting down");
	if (daemon_status(d, req->params, &r, err) != 0)
		return err->code;
	w = xcalloc(1, sizeof(*w));
	w->req.data = w;
	w->path = xstrdup(store_path(d->store));
	w->result = r;
	if (uv_queue_work(&d->loop, &w->req, status_count, status_counted) !=
	    0) {
		cJSON_Delete(r);
		free(w->path);
		free(w);
		return proto_error_set(err, PROTO_E_INTERNAL,
				       "cannot count rows in the store");
	}
	w->to = control_defer(d->control, peer->client_id, req->id);
	return METHODS_DEFERRED;
}

static int
daemon_reload_method(struct daemon *d, const cJSON *params, cJSON **result,
		     struct proto_error *err)
{
	static const char *const none[] = {NULL};
	char *errors = NULL, changed[256];

	if (check_params(params, none, err) != 0)
		return err->code;
	if (daemon_reload(d, &errors, changed, sizeof(changed)) != 0) {
		proto_error_set(err, PROTO_E_INVALID_PARAMS,
				"%s: the configuration has errors; rftd keeps "
				"running on the previous one",
				d->config_path);
		*result = cJSON_CreateObject();
		cJSON_AddStringToObject(*result, "config_errors",
					errors ? errors : "");
		free(errors);
		return err->code;
	}
	*result = cJSON_CreateObject();
	cJSON_AddStringToObject(*result, "config", d->config_path);
	cJSON_AddBoolToObject(*result, "applied", true);
	cJSON_AddStringToObject(*result, "needs_restart", changed);
	return 0;
}

/* --- sweep.plan and sweep.submit ------------------------------------------ */

static bool
backend_exists(const char *name, void *arg)
{
	return backend_find(arg, name) != NULL;
}

/*
 * The client whose plan or submit is being handled, for the datasets its
 * spec names (set around the synchronous call; the loop is one thread).
 */
static const struct dataset_client *asking;

/* Datasets were hashed before the spec is read (datasets_first()); one
 * not in the cache now changed meanwhile. */
static int
dataset_ref(const char *path, char ref[65], char *err, size_t errlen, void *arg)
{
	struct daemon *d = arg;
	int rc = dataset_lookup(d->datasets, path, asking, ref, err, errlen);

	if (rc == -EAGAIN)
		snprintf(err, errlen,
			 "'%s' changed while rftd read it (or a read "
			 "failed); try again once it is written",
			 path);
	return rc;
}

static bool
any_hyperparameters(const char *name, void *arg)
{
	const struct backend *be = backend_find(arg, name);

	return be != NULL && be->ops->any_hyperparameters;
}

static void backend_job_of(const struct spec *spec, const struct spec_trial *t,
			   struct backend_job *bj);

/* Whether the backend can run every trial: 0, or -EINVAL with the
 * problems (one per distinct reason) in *errors. */
static int
check_jobs(struct daemon *d, const struct spec *spec, cJSON **errors)
{
	struct backend *be = backend_find(d, spec->backend);
	char why[512], last[512] = "";

	*errors = NULL;
	if (be == NULL || be->ops->check_job == NULL)
		return 0;
	for (size_t i = 0; i < spec->ntrials; i++) {
		struct backend_job bj;
		char *colon;
		cJSON *e;

		backend_job_of(spec, &spec->trials[i], &bj);
		bj.sweep_name = spec->name;
		if (be->ops->check_job(be, &bj, why, sizeof(why)) == 0 ||
		    strcmp(why, last) == 0)
			continue;
		snprintf(last, sizeof(last), "%s", why);
		if (*errors == NULL)
			*errors = cJSON_CreateArray();
		e = cJSON_CreateObject();
		/* "/graders/NAME: ..." names its path; the rest are about
		 * the trial's hyperparameters. */
		colon = why[0] == '/' ? strstr(why, ": ") : NULL;
		if (colon != NULL) {
			*colon = '\0';
			cJSON_AddStringToObject(e, "path", why);
			cJSON_AddStringToObject(e, "message", colon + 2);
		} else {
			cJSON_AddStringToObject(e, "path", "/hyperparameters");
			cJSON_AddStringToObject(e, "message", why);
		}
		cJSON_AddItemToArray(*errors, e);
	}
	return *errors != NULL ? -EINVAL : 0;
}

/* Parses params.spec; on failure fills err (with the problems as data). */
static int
parse_spec(struct daemon *d, const cJSON *params, struct spec **spec,
	   struct proto_error *err, cJSON **data)
{
	const cJSON *json = cJSON_GetObjectItemCaseSensitive(params, "spec");
	struct spec_env env = {
	    .backend_exists = backend_exists,
	    .any_hyperparameters = any_hyperparameters,
	    .dataset_ref = dataset_ref,
	    .arg = d,
	    .max_trials = d->cfg.max_trials,
	};
	cJSON *errors;
	char *text, excerpt[404];
	int n;

	*data = NULL;
	if (json == NULL)
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/spec: is required");
	if (spec_parse(json, &env, spec, &errors) == 0) {
		if (check_jobs(d, *spec, &errors) == 0)
			return 0;
		spec_free(*spec);
		*spec = NULL;
	}
	n = cJSON_GetArraySize(errors);
	text = spec_errors_text(errors);
	proto_error_set(err, PROTO_E_INVALID_PARAMS,
			"the spec has %d problem%s:\n%s", n, n == 1 ? "" : "s",
			utf8_excerpt(excerpt, sizeof(excerpt), text));
	free(text);
	*data = cJSON_CreateObject();
	cJSON_AddItemToObject(*data, "errors", errors);
	return err->code;
}

/* The store's view of the spec's graders and trials (borrowed). */
struct trial_rows {
	struct store_grader_new *graders;
	struct store_trial_new *rows;
	size_t n;
};

static void
trial_rows_build(const struct spec *spec, struct trial_rows *tr)
{
	tr->n = spec->ntrials;
	tr->graders = xcalloc(spec->ngraders, sizeof(*tr->graders));
	for (size_t i = 0; i < spec->ngraders; i++)
		tr->graders[i] = (struct store_grader_new){
		    .sha256 = spec->graders[i].sha256,
		    .type = spec->graders[i].type,
		    .json = spec->graders[i].canonical,
		};
	tr->rows = xcalloc(tr->n, sizeof(*tr->rows));
	for (size_t i = 0; i < tr->n; i++) {
		const struct spec_trial *t = &spec->trials[i];

		tr->rows[i] = (struct store_trial_new){
		    .sha256 = t->sha256,
		    .grader_name = t->grader_name,
		    .grader_sha256 = t->graderv->sha256,
		    .hyperparameters_json = t->hyperparameters_json,
		    .has_seed = t->has_seed,
		    .seed = t->seed,
		};
	}
}

static void
trial_rows_free(struct trial_rows *tr)
{
	free(tr->rows);
	free(tr->graders);
}

static void
backend_job_of(const struct spec *spec, const struct spec_trial *t,
	       struct backend_job *bj)
{
	*bj = (struct backend_job){
	    .model = spec->model,
	    .training_file = spec->training_file,
	    .validation_file = spec->validation_file,
	    .grader_name = t->grader_name,
	    .grader = t->grader,
	    .hyperparameters = t->hyperparameters,
	    .response_format = spec->response_format,
	    .has_seed = t->has_seed,
	    .seed = t->seed,
	};
}

static cJSON *
trial_json(const struct spec_trial *t, size_t ordinal)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "ordinal", (double)ordinal);
	cJSON_AddStringToObject(o, "grader", t->grader_name);
	cJSON_AddItemToObject(o, "hyperparameters",
			      cJSON_Duplicate(t->hyperparameters, 1));
	if (t->has_seed)
		cJSON_AddNumberToObject(o, "seed", (double)t->seed);
	else
		cJSON_AddNullToObject(o, "seed");
	cJSON_AddStringToObject(o, "sha256", t->sha256);
	return o;
}

/*
 * Each trial's estimates, and whether it runs: with `reuse`, a trial
 * stored already runs again only when it failed or was cancelled (as
 * store_sweep_create() decides); without, every trial runs (or the
 * submit is refused).  `steps`: ask the backend for steps too.  Sets
 * *known to the trials stored already and *reused to those that do not
 * run.  Returns the array (free it).
 */
static struct plan_trial *
plan_trials(struct daemon *d, const struct spec *spec, struct backend *be,
	    bool reuse, bool steps, size_t *known, size_t *reused)
{
	struct plan_trial *pt = xcalloc(spec->ntrials, sizeof(*pt));
	struct trial_rows tr;
	const cJSON *e;
	cJSON *found;

	for (size_t i = 0; i < spec->ntrials; i++) {
		struct backend_job bj;

		backend_job_of(spec, &spec->trials[i], &bj);
		pt[i].hours = be->ops->estimate_hours(be, &bj);
		if (steps && be->ops->estimate_steps != NULL)
			pt[i].steps = be->ops->estimate_steps(be, &bj);
		pt[i].runs = true;
	}
	trial_rows_build(spec, &tr);
	found = store_trials_known(d->store, tr.rows, tr.n);
	trial_rows_free(&tr);
	*known = (size_t)cJSON_GetArraySize(found);
	*reused = 0;
	cJSON_ArrayForEach(e, (reuse ? found : NULL))
	{
		int i = cJSON_GetObjectItem(e, "ordinal")->valueint;
		const char *state =
		    cJSON_GetObjectItem(e, "state")->valuestring;

		if (i >= 0 && (size_t)i < spec->ntrials &&
		    !store_trial_runs_again(state)) {
			pt[i].runs = false;
			(*reused)++;
		}
	}
	cJSON_Delete(found);
	return pt;
}

/*
 * The bill before the spend: prices the trials that run, sums the worst
 * case and the expected cost, and counts how many jobs fit the budgets'
 * room at once (the expected cost only when `expected`, from the
 * estimates in `pt`; under early stopping also the cost expected with
 * the rule, plan.h).  Adds "bill" to `out` and sets *worst_total.  Fails
 * (unpriced, or not one job fits) with `err` filled.
 */
static int
bill(struct daemon *d, const struct spec *spec, struct backend *be,
     const struct plan_trial *pt, bool expected, cJSON *out,
     double *worst_total, struct proto_error *err)
{
	double mjh = meter_max_hours(d, spec->max_job_hours);
	double expected_total = 0, early_total = 0, worst_max = 0, rate = 0;
	double rate_max = 0; /* of the priciest job */
	double room = INFINITY, now = now_wall();
	const char *tight = NULL;
	struct budget_job *live;
	size_t nlive = meter_live(d, &live), nrun = 0;
	struct budget_scope *scopes[3] = {&d->budget->global, &d->budget->day,
					  &d->budget->month};
	char why[256], tight_name[32] = "";
	bool early = expected && spec->early.rule != EARLY_NONE;
	bool early_known = true;
	cJSON *b;
	long fits;

	*worst_total = 0;
	for (size_t i = 0; i < spec->ntrials; i++) {
		double worst, h;

		if (!pt[i].runs)
			continue; /* reused: it ran, or runs, elsewhere */
		nrun++;
		if (meter_price(d, spec->backend, spec->model,
				spec->trials[i].grader, mjh,
				spec->allow_unpriced, &rate, &worst, why,
				sizeof(why)) != 0) {
			free(live);
			return proto_error_set(err, PROTO_E_OVER_BUDGET,
					       "/model: %s", why);
		}
		*worst_total += worst;
		if (worst >= worst_max) {
			worst_max = worst;
			rate_max = rate;
		}
		if (!expected)
			continue; /* submit needs the worst case only */
		expected_total += rate * fmin(mjh, pt[i].hours);
		h = early ? plan_early_hours(&spec->early, spec->ntrials,
					     pt[i].hours, pt[i].steps, mjh)
			  : 0;
		if (h < 0)
			early_known = false;
		early_total += rate * fmax(h, 0);
	}
	for (size_t k = 0; k < 3; k++) {
		double r;

		if (!scopes[k]->limited)
			continue;
		r = scopes[k]->limit - budget_spent(d->budget, scopes[k], now) -
		    budget_outstanding(scopes[k], live, nlive);
		if (r < room) {
			room = r;
			budget_scope_name(scopes[k], tight_name,
					  sizeof(tight_name));
			tight = tight_name;
		}
	}
	free(live);
	if (spec->has_budget && spec->budget_usd < room) {
		room = spec->budget_usd;
		tight = "the sweep's budget_usd";
	}
	fits = worst_max <= 0 || isinf(room)
		   ? (long)nrun
		   : (long)fmin((double)nrun,
				floor(fmax(0, room) / worst_max + 1e-9));
	b = cJSON_AddObjectToObject(out, "bill");
	cJSON_AddNumberToObject(b, "trials", (double)nrun);
	cJSON_AddNumberToObject(b, "rate_usd_per_hour", rate_max);
	cJSON_AddNumberToObject(b, "max_job_hours", mjh);
	cJSON_AddNumberToObject(b, "worst_case_usd", *worst_total);
	if (expected)
		cJSON_AddNumberToObject(b, "expected_usd", expected_total);
	if (early)
		cJSON_AddStringToObject(b, "early_stopping",
					early_rule_name(spec->early.rule));
	if (early && early_known) {
		cJSON_AddNumberToObject(b, "expected_cost_usd", early_total);
		snprintf(why, sizeof(why),
			 "an estimate of the cost with early stopping (%s), "
			 "from the backend's estimates of each trial's hours "
			 "and steps; expected_usd is the full grid's",
			 early_rule_name(spec->early.rule));
		cJSON_AddStringToObject(b, "expected_cost_note", why);
	} else if (early) {
		cJSON_AddNullToObject(b, "expected_cost_usd");
		snprintf(why, sizeof(why),
			 "unknown: backend %s cannot say how many steps its "
			 "jobs take",
			 be->name);
		cJSON_AddStringToObject(b, "expected_cost_note", why);
	}
	cJSON_AddNumberToObject(b, "worst_per_job_usd", worst_max);
	if (isinf(room))
		cJSON_AddNullToObject(b, "room_usd");
	else
		cJSON_AddNumberToObject(b, "room_usd", room);
	if (tight != NULL)
		cJSON_AddStringToObject(b, "tightest", tight);
	cJSON_AddNumberToObject(b, "jobs_fit_at_once", (double)fits);
	if (fits == 0 && nrun > 0)
		return proto_error_set(err, PROTO_E_OVER_BUDGET,
				       "not even one job fits: a job's worst "
				       "case is $%.2f ($%.2f/h x %g h) and %s "
				       "has $%.2f of room",
				       worst_max, rate_max, mjh, tight,
				       fmax(0, room));
	return 0;
}

/*
 * What plan and submit both work out: which trials run, their bill and
 * the warnings (plan.h).  Adds "reuse", "already_stored", "reused",
 * "trials_to_run", "bill", "warnings" and "notes" to `out`, and sets
 * *nwarnings.  Fails as bill() does (then without the warnings).
 */
static int
plan_figures(struct daemon *d, const struct spec *spec, struct backend *be,
	     bool reuse, bool expected, cJSON *out, int *nwarnings,
	     struct proto_error *err)
{
	size_t known, reused;
	struct plan_trial *pt = plan_trials(
	    d, spec, be, reuse, expected && spec->early.rule != EARLY_NONE,
	    &known, &reused);
	struct plan_facts facts = {
	    .spec = spec,
	    .be = be,
	    .trials = pt,
	    .max_hours = meter_max_hours(d, spec->max_job_hours),
	    .confirm_above = d->cfg.confirm_above,
	};

	*nwarnings = 0;
	cJSON_AddBoolToObject(out, "reuse", reuse);
	cJSON_AddNumberToObject(out, "already_stored", (double)known);
	cJSON_AddNumberToObject(out, "reused", (double)reused);
	cJSON_AddNumberToObject(out, "trials_to_run",
				(double)(spec->ntrials - reused));
	if (bill(d, spec, be, pt, expected, out, &facts.worst_usd, err) != 0) {
		free(pt);
		return err->code;
	}
	*nwarnings = plan_check(&facts, out);
	free(pt);
	return 0;
}

static int
sweep_plan(struct daemon *d, const cJSON *params, cJSON **result,
	   struct proto_error *err)
{
	static const char *const allowed[] = {"spec", "reuse", NULL};
	const cJSON *reuse = cJSON_GetObjectItemCaseSensitive(params, "reuse");
	struct backend *be;
	struct spec *spec;
	cJSON *r, *list, *data;
	const cJSON *g;
	double lo = INFINITY, hi = 0, sum = 0;
	int nwarnings;

	if (check_params(params, allowed, err) != 0)
		return err->code;
	if (reuse != NULL && !cJSON_IsBool(reuse))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/reuse: must be true or false");
	if (parse_spec(d, params, &spec, err, &data) != 0) {
		*result = data; /* every problem, as the error's data */
		return err->code;
	}
	be = backend_find(d, spec->backend);
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "name", spec->name);
	cJSON_AddStringToObject(r, "backend", spec->backend);
	cJSON_AddStringToObject(r, "model", spec->model);
	cJSON_AddBoolToObject(r, "simulated", be->caps & BACKEND_SIMULATED);
	cJSON_AddStringToObject(r, "sha256", spec->sha256);
	cJSON_AddNumberToObject(r, "trials", (double)spec->ntrials);
	cJSON_AddStringToObject(r, "objective_metric", spec->objective_metric);
	cJSON_AddStringToObject(r, "objective_mode",
				spec->objective_max ? "max" : "min");
	list = cJSON_AddArrayToObject(r, "graders");
	cJSON_ArrayForEach(
	    g, cJSON_GetObjectItemCaseSensitive(spec->root, "graders"))
	{
		cJSON *o = cJSON_CreateObject();
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(g, "type");

		cJSON_AddStringToObject(o, "name", g->string);
		cJSON_AddStringToObject(
		    o, "type", cJSON_IsString(type) ? type->valuestring : "?");
		cJSON_AddItemToArray(list, o);
	}
	list = cJSON_AddArrayToObject(r, "preview");
	for (size_t i = 0; i < spec->ntrials; i++) {
		struct backend_job bj;
		double h;

		backend_job_of(spec, &spec->trials[i], &bj);
		/* A backend that cannot tell says "up to max_job_hours". */
		h = fmin(be->ops->estimate_hours(be, &bj),
			 meter_max_hours(d, spec->max_job_hours));
		lo = fmin(lo, h);
		hi = fmax(hi, h);
		sum += h;
		if (i < PLAN_PREVIEW)
			cJSON_AddItemToArray(list,
					     trial_json(&spec->trials[i], i));
	}
	{
		cJSON *e = cJSON_AddObjectToObject(r, "estimated_hours");

		cJSON_AddNumberToObject(e, "min", lo);
		cJSON_AddNumberToObject(e, "mean", sum / (double)spec->ntrials);
		cJSON_AddNumberToObject(e, "max", hi);
		cJSON_AddNumberToObject(e, "total", sum);
		if (spec->max_job_hours > 0)
			cJSON_AddNumberToObject(e, "max_job_hours",
						spec->max_job_hours);
		if (be->gpus_per_job > 0) {
			cJSON_AddNumberToObject(e, "gpus_per_job",
						be->gpus_per_job);
			cJSON_AddNumberToObject(e, "gpu_hours",
						sum * be->gpus_per_job);
		}
	}
	if (plan_figures(d, spec, be, cJSON_IsTrue(reuse), true, r, &nwarnings,
			 err) != 0) {
		spec_free(spec);
		*result = r; /* the figures go with the refusal */
		return err->code;
	}
	spec_free(spec);
	*result = r;
	return 0;
}

/*
 * Submit's side of the plan: the bill of the trials that run (refused as
 * plan refuses it), then the warnings, which refuse the spec unless the
 * request confirms them ("yes"), so that every client is asked, not only
 * rftctl.  0 with *warnings the confirmed ones (or NULL); else `err`
 * filled and *data the figures, the error's data.
 */
static int
submit_check(struct daemon *d, const struct spec *spec, struct backend *be,
	     const cJSON *params, cJSON **warnings, cJSON **data,
	     struct proto_error *err)
{
	const cJSON *reuse = cJSON_GetObjectItemCaseSensitive(params, "reuse");
	const cJSON *yes = cJSON_GetObjectItemCaseSensitive(params, "yes");
	cJSON *figures = cJSON_CreateObject();
	char text[2048], excerpt[404];
	int n;

	*warnings = *data = NULL;
	if (plan_figures(d, spec, be, cJSON_IsTrue(reuse), false, figures, &n,
			 err) != 0) {
		*data = figures;
		return err->code;
	}
	if (n > 0 && !cJSON_IsTrue(yes)) {
		plan_warnings_text(cJSON_GetObjectItem(figures, "warnings"),
				   text, sizeof(text));
		proto_error_set(err, PROTO_E_REFUSED,
				"the plan has %d warning%s and nothing was "
				"stored; submit with yes (rftctl submit "
				"--yes) to go ahead all the same:\n%s",
				n, n == 1 ? "" : "s",
				utf8_excerpt(excerpt, sizeof(excerpt), text));
		*data = figures;
		return err->code;
	}
	if (n > 0)
		*warnings = cJSON_DetachItemFromObject(figures, "warnings");
	cJSON_Delete(figures);
	return 0;
}

static int
sweep_submit(struct daemon *d, const cJSON *params, cJSON **result,
	     struct proto_error *err)
{
	static const char *const allowed[] = {"spec", "reuse", "yes", NULL};
	const cJSON *reuse = cJSON_GetObjectItemCaseSensitive(params, "reuse");
	const cJSON *yes = cJSON_GetObjectItemCaseSensitive(params, "yes");
	struct store_sweep_new sw;
	struct trial_rows tr;
	struct backend *be;
	struct spec *spec;
	cJSON *data = NULL, *existing = NULL, *warnings;
	char *spec_text, *early_text = NULL;
	int64_t sweep_id = 0;
	size_t reused = 0;
	int rc;

	if (check_params(params, allowed, err) != 0)
		return err->code;
	if (reuse != NULL && !cJSON_IsBool(reuse))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/reuse: must be true or false");
	if (yes != NULL && !cJSON_IsBool(yes))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/yes: must be true or false");
	if (parse_spec(d, params, &spec, err, &data) != 0) {
		*result = data; /* the caller sends it as error data */
		return err->code;
	}
	be = backend_find(d, spec->backend);
	if (submit_check(d, spec, be, params, &warnings, &data, err) != 0) {
		spec_free(spec);
		*result = data;
		return err->code;
	}
	spec_text = cJSON_PrintUnformatted(spec->root);
	if (spec->early.rule != EARLY_NONE) {
		cJSON *es = early_config_json(&spec->early);

		early_text = cJSON_PrintUnformatted(es);
		cJSON_Delete(es);
	}
	sw = (struct store_sweep_new){
	    .name = spec->name,
	    .backend = spec->backend,
	    .model = spec->model,
	    .spec_json = spec_text,
	    .spec_sha256 = spec->sha256,
	    .priority = spec->priority,
	    .max_concurrent = spec->max_concurrent,
	    .max_job_hours = spec->max_job_hours,
	    .retries = spec->retries,
	    .has_budget = spec->has_budget,
	    .budget_usd = spec->budget_usd,
	    .objective_metric = spec->objective_metric,
	    .objective_max = spec->objective_max,
	    .simulated = (be->caps & BACKEND_SIMULATED) != 0,
	    .allow_unpriced = spec->allow_unpriced,
	    .early_stopping_json = early_text,
	};
	trial_rows_build(spec, &tr);
	rc = store_sweep_create(d->store, &sw, tr.graders, spec->ngraders,
				tr.rows, tr.n, cJSON_IsTrue(reuse), now_wall(),
				&sweep_id, &reused, &existing);
	trial_rows_free(&tr);
	free(spec_text);
	free(early_text);
	if (rc == -EEXIST) {
		int n = cJSON_GetArraySize(existing);

		proto_error_set(
		    err, PROTO_E_CONFLICT,
		    "%d of the %zu trials are already stored "
		    "(first: trial %d of sweep %d, %s); submit "
		    "with reuse to link them instead of running "
		    "them again",
		    n, spec->ntrials,
		    cJSON_GetObjectItem(existing->child, "trial_id")->valueint,
		    cJSON_GetObjectItem(existing->child, "sweep_id")->valueint,
		    cJSON_GetObjectItem(existing->child, "state")->valuestring);
		*result = cJSON_CreateObject();
		cJSON_AddItemToObject(*result, "existing", existing);
		cJSON_Delete(warnings);
		spec_free(spec);
		return err->code;
	}
	if (rc != 0) {
		cJSON_Delete(warnings);
		spec_free(spec);
		return proto_error_set(err, PROTO_E_STORE,
				       "the sweep could not be stored; "
				       "nothing was changed");
	}
	log_info("sweep %lld '%s': %zu trials (%zu reused) on %s%s%s",
		 (long long)sweep_id, spec->name, spec->ntrials, reused,
		 spec->backend, sw.simulated ? " (simulated)" : "",
		 warnings != NULL ? ", its plan's warnings confirmed" : "");
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "sweep_id", (double)sweep_id);
	cJSON_AddStringToObject(*result, "name", spec->name);
	cJSON_AddNumberToObject(*result, "trials", (double)spec->ntrials);
	cJSON_AddNumberToObject(*result, "reused", (double)reused);
	cJSON_AddBoolToObject(*result, "simulated", sw.simulated);
	if (warnings != NULL)
		cJSON_AddItemToObject(*result, "warnings", warnings);
	spec_free(spec);
	meter_limits(d); /* the sweep's own budget, if it has one */
	scheduler_kick(d->sched);
	return 0;
}

/*
 * A backend that can ask its provider about graders does so before the
 * sweep is stored: a grader the provider rejects rejects the sweep, with
 * the provider's words, and nothing is stored.  The spec is checked
 * first, so that a bad spec costs no request.
 */
struct preflight {
	struct daemon *d;
	struct control_reply_to *to;
	cJSON *params;
	struct dataset_client client;
};

static void
on_preflight(void *arg, int rc, const char *error)
{
	struct preflight *pf = arg;
	struct proto_error err = {0};
	cJSON *result = NULL;

	if (rc == -ECANCELED) {
		control_answer(pf->to, PROTO_E_SHUTTING_DOWN,
			       "rftd is shutting down", NULL);
	} else if (rc != 0) {
		cJSON *data = cJSON_CreateObject();
		cJSON *list = cJSON_AddArrayToObject(data, "errors");
		cJSON *e = cJSON_CreateObject();
		char path[256];
		const char *colon = error ? strchr(error, ':') : NULL;

		/* "/graders/NAME: ..." : the path, then the words. */
		snprintf(path, sizeof(path), "%.*s",
			 colon ? (int)(colon - error) : 0, error ? error : "");
		cJSON_AddStringToObject(e, "path", path);
		cJSON_AddStringToObject(e, "message",
					colon ? colon + 2 : "rejected");
		cJSON_AddItemToArray(list, e);
		log_info("sweep refused by the preflight: %s", error);
		control_answer(pf->to,
			       rc == -EINVAL ? PROTO_E_INVALID_PARAMS
					     : PROTO_E_REFUSED,
			       error ? error : "the preflight failed", data);
	} else if (pf->d->stopping) {
		control_answer(pf->to, PROTO_E_SHUTTING_DOWN,
			       "rftd is shutting down", NULL);
	} else {
		asking = &pf->client;
		rc = sweep_submit(pf->d, pf->params, &result, &err);
		asking = NULL;
		control_answer(pf->to, rc ? err.code : 0,
			       rc ? err.message : NULL, result);
	}
	cJSON_Delete(pf->params);
	free(pf);
}

static int
sweep_submit_start(struct daemon *d, const struct peer *peer,
		   const struct proto_request *req, cJSON **result,
		   struct proto_error *err)
{
	static const cJSON empty = {.type = cJSON_Object};
	const cJSON *params = req->params ? req->params : &empty;
	struct preflight *pf;
	struct backend *be;
	struct spec *spec;
	cJSON *data = NULL, *warnings;

	const cJSON *name = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(params, "spec"), "backend");

	/* Only a backend with a preflight needs the detour. */
	be = cJSON_IsString(name) ? backend_find(d, name->valuestring) : NULL;
	if (be == NULL || be->ops->preflight == NULL)
		return sweep_submit(d, params, result, err);
	if (parse_spec(d, params, &spec, err, &data) != 0) {
		*result = data;
		return err->code;
	}
	/* A spec refused for its plan costs the provider no request. */
	if (submit_check(d, spec, be, params, &warnings, &data, err) != 0) {
		spec_free(spec);
		*result = data;
		return err->code;
	}
	cJSON_Delete(warnings); /* asked again after the preflight */
	pf = xcalloc(1, sizeof(*pf));
	pf->d = d;
	pf->params = cJSON_Duplicate(params, true);
	pf->client = *asking;
	pf->to = control_defer(d->control, peer->client_id, req->id);
	log_debug("sweep '%s': asking backend %s about its graders", spec->name,
		  be->name);
	be->ops->preflight(
	    be, cJSON_GetObjectItemCaseSensitive(spec->root, "graders"),
	    on_preflight, pf);
	spec_free(spec);
	return METHODS_DEFERRED;
}

/* --- reading sweeps and jobs ---------------------------------------------- */

static int
not_found(int rc, struct proto_error *err, const char *what, int64_t id)
{
	if (rc == -ENOENT)
		return proto_error_set(err, PROTO_E_NOT_FOUND, "no %s %lld",
				       what, (long long)id);
	return proto_error_set(err, PROTO_E_STORE, "cannot read %s %lld", what,
			       (long long)id);
}

static int
sweep_list(struct daemon *d, const cJSON *params, cJSON **result,
	   struct proto_error *err)
{
	static const char *const none[] = {NULL};
	cJSON *list;

	if (check_params(params, none, err) != 0)
		return err->code;
	list = store_sweeps_json(d->store);
	return listed(list, "sweeps", result, err);
}

static int
sweep_show(struct daemon *d, const cJSON *params, cJSON **result,
	   struct proto_error *err)
{
	int64_t id;
	int rc;

	if (id_only(params, &id, err) != 0)
		return err->code;
	*result = store_sweep_json(d->store, id, &rc);
	return rc == 0 ? 0 : not_found(rc, err, "sweep", id);
}

/* A leaderboard's request, its params checked. */
struct leaderboard_ask {
	int64_t id;
	int limit;
	enum store_rank rank;
	char states[160];   /* SQL list of trial states: "'a','b'"; "": all */
	const char *state;  /* the param as given, or "all" */
	const char *metric; /* rank by this metric instead; NULL: objective */
};

/*
 * `state`: "finished" (succeeded and stopped), "all", or trial states
 * separated by commas, into an SQL list.
 */
static int
leaderboard_states(const char *state, char *list, size_t len,
		   struct proto_error *err)
{
	static const char *const known[] = {"pending",	 "running", "paused",
					    "succeeded", "failed",  "cancelled",
					    "stopped"};
	char word[32];

	list[0] = '\0';
	if (strcmp(state, "all") == 0)
		return 0;
	if (strcmp(state, "finished") == 0)
		state = "succeeded,stopped";
	for (const char *p = state; *p != '\0';) {
		size_t n = strcspn(p, ","), i = 0;

		snprintf(word, sizeof(word), "%.*s", (int)n, p);
		while (i < ARRAY_LEN(known) && strcmp(known[i], word) != 0)
			i++;
		if (i == ARRAY_LEN(known) || n >= sizeof(word))
			return proto_error_set(
			    err, PROTO_E_INVALID_PARAMS,
			    "/params/state: '%.32s' is not a trial state "
			    "(pending, running, paused, succeeded, failed, "
			    "cancelled, stopped), finished or all",
			    word);
		snprintf(list + strlen(list), len - strlen(list), "%s'%s'",
			 list[0] ? "," : "", known[i]);
		p += n + (p[n] == ',');
	}
	return 0;
}

static int
leaderboard_params(const cJSON *params, struct leaderboard_ask *a,
		   struct proto_error *err)
{
	static const char *const allowed[] = {"id",    "limit",	 "by",
					      "state", "metric", NULL};
	const cJSON *by = cJSON_GetObjectItemCaseSensitive(params, "by");
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(params, "state");
	const cJSON *metric =
	    cJSON_GetObjectItemCaseSensitive(params, "metric");
	int64_t limit;

	*a = (struct leaderboard_ask){.rank = STORE_RANK_OBJECTIVE,
				      .state = "all"};
	if (check_params(params, allowed, err) != 0 ||
	    param_id(params, "id", true, &a->id, err) != 0 ||
	    param_id(params, "limit", false, &limit, err) != 0)
		return err->code;
	a->limit = limit ? (int)fmin((double)limit, LIST_LIMIT_MAX) : 20;
	if (by != NULL && cJSON_IsString(by) &&
	    strcmp(by->valuestring, "value") == 0)
		a->rank = STORE_RANK_VALUE;
	else if (by != NULL && (!cJSON_IsString(by) ||
				strcmp(by->valuestring, "objective") != 0))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/by: must be objective or "
				       "value");
	if (state != NULL && !cJSON_IsString(state))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/state: must be a string");
	if (state != NULL)
		a->state = state->valuestring;
	if (leaderboard_states(a->state, a->states, sizeof(a->states), err) !=
	    0)
		return err->code;
	if (metric != NULL &&
	    (!cJSON_IsString(metric) || metric->valuestring[0] == '\0' ||
	     strlen(metric->valuestring) > 200))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/metric: must be a metric name "
				       "of 1..200 bytes");
	if (metric != NULL && a->rank == STORE_RANK_VALUE)
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/by: value ranks by the "
				       "objective per dollar; it does not go "
				       "with metric");
	a->metric = metric != NULL ? metric->valuestring : NULL;
	return 0;
}

/* Every state and the objective: the store's own ranked query. */
static int
sweep_leaderboard(struct daemon *d, const cJSON *params, cJSON **result,
		  struct proto_error *err)
{
	struct leaderboard_ask a;
	int rc;

	if (leaderboard_params(params, &a, err) != 0)
		return err->code;
	*result = store_leaderboard_json(d->store, a.id, a.limit, a.rank, &rc);
	if (rc != 0)
		return not_found(rc, err, "sweep", a.id);
	cJSON_AddStringToObject(*result, "state", "all");
	return 0;
}

/* Whether the leaderboard asked for is not the store's own (below). */
static bool
leaderboard_deferred(const cJSON *params)
{
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(params, "state");

	return cJSON_GetObjectItemCaseSensitive(params, "metric") != NULL ||
	       (state != NULL && (!cJSON_IsString(state) ||
				  strcmp(state->valuestring, "all") != 0));
}

/*
 * The query of leaderboard_start(): the view's rows of the sweep in the
 * states asked for, ranked by `key` (ties share a rank), each trial's
 * best value of the metric (its `min` or max, and its step) when one is
 * asked for.  Returns a new string.
 */
static char *
leaderboard_sql(const struct leaderboard_ask *a, const char *key, bool min)
{
	char *metric = NULL, *best = NULL, *sql;

	if (a->metric != NULL) {
		/* The name goes in as an SQL literal: its quotes doubled. */
		metric = xcalloc(2 * strlen(a->metric) + 1, 1);
		for (size_t i = 0, k = 0; a->metric[i] != '\0'; i++) {
			if (a->metric[i] == '\'')
				metric[k++] = '\'';
			metric[k++] = a->metric[i];
		}
		best = xasprintf(
		    " JOIN (SELECT j.trial_id, %s(m.value) AS value,"
		    " m.step AS step FROM jobs j JOIN metrics m"
		    " ON m.job_id = j.id WHERE m.name = '%s'"
		    " AND m.value IS NOT NULL AND j.trial_id IN (SELECT"
		    " trial_id FROM sweep_trials WHERE sweep_id = %lld)"
		    " GROUP BY j.trial_id) b ON b.trial_id = v.trial_id",
		    min ? "min" : "max", metric, (long long)a->id);
	}
	sql = xasprintf(
	    "SELECT rank() OVER (ORDER BY %s) AS rank, v.trial_id, v.grader,"
	    " t.hyperparameters, v.seed, v.state, v.objective, v.best_step,"
	    " v.cost_usd, v.reward_per_usd, v.model, v.model_source%s"
	    " FROM leaderboard v JOIN trials t ON t.id = v.trial_id%s"
	    " WHERE v.sweep_id = %lld%s%s%s%s ORDER BY rank, v.trial_id"
	    " LIMIT %d",
	    key,
	    best != NULL ? ", b.value AS metric_value, b.step AS metric_step"
			 : "",
	    best != NULL ? best : "", (long long)a->id,
	    a->states[0] ? " AND v.state IN (" : "", a->states,
	    a->states[0] ? ")" : "",
	    best != NULL ? "" : " AND v.objective IS NOT NULL", a->limit);
	free(metric);
	free(best);
	return sql;
}

/* The rows of leaderboard_sql()'s result (freed) into `board`, which is
 * returned: each an object, its hyperparameters parsed. */
static cJSON *
leaderboard_rows(cJSON *board, cJSON *result)
{
	const cJSON *cols = cJSON_GetObjectItemCaseSensitive(result, "columns");
	const cJSON *row;
	cJSON *rows = cJSON_AddArrayToObject(board, "rows");

	cJSON_ArrayForEach(row,
			   cJSON_GetObjectItemCaseSensitive(result, "rows"))
	{
		cJSON *o = cJSON_CreateObject();
		const cJSON *c = cols != NULL ? cols->child : NULL;

		for (const cJSON *v = row->child; c != NULL && v != NULL;
		     c = c->next, v = v->next) {
			cJSON *item =
			    strcmp(c->valuestring, "hyperparameters") == 0 &&
				    cJSON_IsString(v)
				? cJSON_Parse(v->valuestring)
				: cJSON_Duplicate(v, 1);

			cJSON_AddItemToObject(o, c->valuestring,
					      item ? item : cJSON_CreateNull());
		}
		cJSON_AddItemToArray(rows, o);
	}
	cJSON_Delete(result);
	return board;
}

static int
job_list(struct daemon *d, const cJSON *params, cJSON **result,
	 struct proto_error *err)
{
	static const char *const allowed[] = {"sweep", "state", "limit", NULL};
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(params, "state");
	enum job_state parsed;
	int64_t sweep, limit;
	cJSON *list;

	if (check_params(params, allowed, err) != 0 ||
	    param_id(params, "sweep", false, &sweep, err) != 0 ||
	    param_id(params, "limit", false, &limit, err) != 0)
		return err->code;
	if (state != NULL &&
	    (!cJSON_IsString(state) ||
	     job_state_parse(state->valuestring, &parsed) != 0))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/state: not a job state "
				       "(pending, submitting, validating, "
				       "queued, running, pausing, paused, "
				       "cancelling, succeeded, failed, "
				       "cancelled, unknown, lost)");
	list = store_jobs_json(
	    d->store, sweep, state ? state->valuestring : NULL,
	    limit ? (int)fmin((double)limit, LIST_LIMIT_MAX) : 1000);
	return listed(list, "jobs", result, err);
}

static int
job_show(struct daemon *d, const cJSON *params, cJSON **result,
	 struct proto_error *err)
{
	int64_t id;
	int rc;

	if (id_only(params, &id, err) != 0)
		return err->code;
	*result = store_job_json(d->store, id, &rc);
	return rc == 0 ? 0 : not_found(rc, err, "job", id);
}

/* --- control actions ------------------------------------------------------ */

static int
action_error(int rc, const char *msg, struct proto_error *err)
{
	int code = rc == -ENOENT   ? PROTO_E_NOT_FOUND
		   : rc == -EAGAIN ? PROTO_E_BUSY
		   : rc == -EIO	   ? PROTO_E_STORE
				   : PROTO_E_CONFLICT;

	return proto_error_set(err, code, "%s", msg);
}

static int
job_action(struct daemon *d, const cJSON *params, cJSON **result,
	   struct proto_error *err, enum job_event ev)
{
	char msg[256];
	int64_t id;
	int rc;

	if (id_only(params, &id, err) != 0)
		return err->code;
	rc = scheduler_job_event(d->sched, id, ev, JOB_BY_USER, NULL, msg,
				 sizeof(msg));
	if (rc != 0)
		return action_error(rc, msg, err);
	*result = store_job_json(d->store, id, &rc);
	return 0;
}

static int
job_cancel(struct daemon *d, const cJSON *params, cJSON **result,
	   struct proto_error *err)
{
	return job_action(d, params, result, err, JOB_EV_STOP);
}

static int
job_pause(struct daemon *d, const cJSON *params, cJSON **result,
	  struct proto_error *err)
{
	return job_action(d, params, result, err, JOB_EV_PAUSE);
}

static int
job_resume(struct daemon *d, const cJSON *params, cJSON **result,
	   struct proto_error *err)
{
	return job_action(d, params, result, err, JOB_EV_RESUME);
}

/*
 * Sets the sweep's state, then acts on its live jobs: cancel all, pause
 * the running ones, or resume the paused ones.  The tick finishes what
 * cannot be done now (jobs that start running in a paused sweep).
 */
static int
sweep_action(struct daemon *d, const cJSON *params, cJSON **result,
	     struct proto_error *err, enum sweep_state to, enum job_event ev)
{
	static const char *const whys[] = {
	    [JOB_EV_STOP] = "the sweep was cancelled",
	    [JOB_EV_PAUSE] = "the sweep was paused",
	    [JOB_EV_RESUME] = "the sweep was resumed",
	};
	const cJSON *job;
	cJSON *jobs;
	int64_t id;
	int rc, affected = 0;

	if (id_only(params, &id, err) != 0)
		return err->code;
	rc = store_sweep_set_state(d->store, id, sweep_state_name(to),
				   now_wall());
	if (rc == -EALREADY)
		return proto_error_set(err, PROTO_E_CONFLICT,
				       "sweep %lld has ended", (long long)id);
	if (rc == -EIO)
		return proto_error_set(err, PROTO_E_STORE,
				       "sweep %lld: the store cannot record "
				       "this: %s",
				       (long long)id,
				       store_last_error(d->store));
	if (rc != 0)
		return not_found(rc, err, "sweep", id);
	log_info("sweep %lld: %s", (long long)id, sweep_state_name(to));
	jobs = store_sweep_job_ids(d->store, id);
	cJSON_ArrayForEach(job, jobs)
	{
		const char *js = cJSON_GetObjectItem(job, "state")->valuestring;
		char msg[256];

		/* A job still pausing is resumed once paused. */
		if ((ev == JOB_EV_PAUSE && strcmp(js, "running") != 0) ||
		    (ev == JOB_EV_RESUME && strcmp(js, "paused") != 0 &&
		     strcmp(js, "pausing") != 0))
			continue;
		if (scheduler_job_event(
			d->sched,
			(int64_t)cJSON_GetObjectItem(job, "id")->valuedouble,
			ev, JOB_BY_SWEEP, whys[ev], msg, sizeof(msg)) == 0)
			affected++;
	}
	cJSON_Delete(jobs);
	scheduler_kick(d->sched);
	*result = store_sweep_json(d->store, id, &rc);
	cJSON_DeleteItemFromObject(*result, "trials");
	cJSON_DeleteItemFromObject(*result, "spec");
	cJSON_AddNumberToObject(*result, "jobs_affected", affected);
	return 0;
}

static int
sweep_cancel(struct daemon *d, const cJSON *params, cJSON **result,
	     struct proto_error *err)
{
	return sweep_action(d, params, result, err, SWEEP_CANCELLED,
			    JOB_EV_STOP);
}

static int
sweep_pause(struct daemon *d, const cJSON *params, cJSON **result,
	    struct proto_error *err)
{
	return sweep_action(d, params, result, err, SWEEP_PAUSED, JOB_EV_PAUSE);
}

static int
sweep_resume(struct daemon *d, const cJSON *params, cJSON **result,
	     struct proto_error *err)
{
	return sweep_action(d, params, result, err, SWEEP_RUNNING,
			    JOB_EV_RESUME);
}

/* --- budgets ------------------------------------------------------------ */

static int
budget_show(struct daemon *d, const cJSON *params, cJSON **result,
	    struct proto_error *err)
{
	static const char *const none[] = {NULL};

	if (check_params(params, none, err) != 0)
		return err->code;
	*result = cJSON_CreateObject();
	cJSON_AddItemToObject(*result, "scopes", meter_scopes(d));
	return 0;
}

static int
budget_set(struct daemon *d, const cJSON *params, cJSON **result,
	   struct proto_error *err)
{
	static const char *const allowed[] = {"scope", "limit_usd", "action",
					      NULL};
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(params, "scope");
	const cJSON *limit =
	    cJSON_GetObjectItemCaseSensitive(params, "limit_usd");
	const cJSON *action =
	    cJSON_GetObjectItemCaseSensitive(params, "action");
	int64_t *resume;
	size_t nresume;
	char msg[256], excerpt[104];
	int rc;

	if (check_params(params, allowed, err) != 0)
		return err->code;
	if (!cJSON_IsString(scope))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/scope: must be global, day, "
				       "month or sweep:ID");
	/* No scope is this long; quoted whole, it would be cut mid-way. */
	if (strlen(scope->valuestring) > 64)
		return proto_error_set(
		    err, PROTO_E_INVALID_PARAMS,
		    "/params/scope: '%s' is not a scope: global, day, month "
		    "or sweep:ID",
		    utf8_excerpt(excerpt, sizeof(excerpt), scope->valuestring));
	if (!cJSON_IsNull(limit) &&
	    (!cJSON_IsNumber(limit) || limit->valuedouble < 0 ||
	     limit->valuedouble > 1e9))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/limit_usd: must be a number of "
				       "dollars 0..1e9, or null to clear");
	if (action != NULL && (!cJSON_IsString(action) ||
			       (strcmp(action->valuestring, "pause") != 0 &&
				strcmp(action->valuestring, "cancel") != 0)))
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/action: must be pause or "
				       "cancel");
	rc = meter_set_limit(d, scope->valuestring,
			     cJSON_IsNumber(limit) ? limit->valuedouble : -1,
			     action ? action->valuestring : NULL, &resume,
			     &nresume, msg, sizeof(msg));
	if (rc == -EIO)
		return proto_error_set(err, PROTO_E_STORE, "%s", msg);
	if (rc != 0)
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/scope: %s", msg);
	/* The jobs a budget paused that have room now. */
	for (size_t i = 0; i < nresume; i++)
		scheduler_job_event(d->sched, resume[i], JOB_EV_RESUME,
				    JOB_BY_BUDGET, "a budget has room again",
				    msg, sizeof(msg));
	free(resume);
	scheduler_kick(d->sched);
	return budget_show(d, NULL, result, err);
}

/* --- sql.query: runs off the loop thread, answers later ----------------- */

#define SQL_MAX_INFLIGHT 4
#define SQL_MAX_TEXT	 100000

struct sql_work {
	uv_work_t req;
	struct daemon *d;
	struct control_reply_to *to;
	char *path;
	char *sql;
	struct store_sql_limits lim;
	cJSON *board; /* a leaderboard to answer with the rows; NULL: them */
	cJSON *result;
	int code;
	char err[512];
};

static unsigned int sql_inflight;

static void
sql_work_run(uv_work_t *req)
{
	struct sql_work *w = req->data;

	w->result = store_sql_run(w->path, w->sql, &w->lim, &w->code, w->err,
				  sizeof(w->err));
}

static void
sql_work_done(uv_work_t *req, int status)
{
	struct sql_work *w = req->data;
	int code = 0;

	sql_inflight--;
	if (status == UV_ECANCELED)
		code = PROTO_E_SHUTTING_DOWN;
	else if (w->code == STORE_SQL_REFUSED)
		code = PROTO_E_REFUSED;
	else if (w->code == STORE_SQL_TIMEOUT)
		code = PROTO_E_TIMEOUT;
	else if (w->code == STORE_SQL_FAILED)
		code = PROTO_E_STORE;
	else if (w->code != 0)
		code = PROTO_E_INVALID_PARAMS;
	if (code != 0) {
		cJSON_Delete(w->result);
		cJSON_Delete(w->board);
		w->result = NULL;
		log_debug("sql: %s", w->err);
	} else if (w->board != NULL) {
		w->result = leaderboard_rows(w->board, w->result);
	}
	control_answer(w->to, code,
		       status == UV_ECANCELED ? "rftd is shutting down"
					      : w->err,
		       w->result);
	free(w->path);
	free(w->sql);
	free(w);
}

/*
 * Runs `sql` (taken over) on the thread pool, and answers `req` with
 * its rows, or with `board` (taken over) filled with them.
 */
static int
sql_start(struct daemon *d, const struct peer *peer,
	  const struct proto_request *req, char *sql, int max_rows,
	  int timeout_ms, cJSON *board, struct proto_error *err)
{
	struct sql_work *w;

	if (d->control == NULL || d->stopping) {
		free(sql);
		cJSON_Delete(board);
		return proto_error_set(err, PROTO_E_SHUTTING_DOWN,
				       "rftd is shutting down");
	}
	if (sql_inflight >= SQL_MAX_INFLIGHT) {
		free(sql);
		cJSON_Delete(board);
		return proto_error_set(err, PROTO_E_BUSY,
				       "%d queries are running; try again",
				       SQL_MAX_INFLIGHT);
	}
	w = xcalloc(1, sizeof(*w));
	w->req.data = w;
	w->d = d;
	w->path = xstrdup(store_path(d->store));
	w->sql = sql;
	w->board = board;
	w->lim.max_rows = max_rows;
	w->lim.max_bytes = 32u << 20;
	w->lim.timeout_ms = timeout_ms;
	if (uv_queue_work(&d->loop, &w->req, sql_work_run, sql_work_done) !=
	    0) {
		free(w->path);
		free(w->sql);
		cJSON_Delete(w->board);
		free(w);
		return proto_error_set(err, PROTO_E_INTERNAL,
				       "cannot queue the query");
	}
	w->to = control_defer(d->control, peer->client_id, req->id);
	sql_inflight++;
	log_debug("sql: query by uid %u: %.200s", peer->uid, w->sql);
	return METHODS_DEFERRED;
}

static int
sql_query(struct daemon *d, const struct peer *peer,
	  const struct proto_request *req, struct proto_error *err)
{
	static const char *const allowed[] = {"query", "max_rows", "timeout_ms",
					      NULL};
	const cJSON *params = req->params, *q;
	int64_t max_rows, timeout;

	if (params == NULL)
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/query: is required");
	q = cJSON_GetObjectItemCaseSensitive(params, "query");
	if (check_params(params, allowed, err) != 0 ||
	    param_id(params, "max_rows", false, &max_rows, err) != 0 ||
	    param_id(params, "timeout_ms", false, &timeout, err) != 0)
		return err->code;
	if (!cJSON_IsString(q) || q->valuestring[0] == '\0')
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/query: must be a non-empty "
				       "string of SQL");
	if (strlen(q->valuestring) > SQL_MAX_TEXT)
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params/query: longer than %d bytes",
				       SQL_MAX_TEXT);
	if (max_rows > 100000 || timeout > 10000)
		return proto_error_set(err, PROTO_E_INVALID_PARAMS,
				       "/params: max_rows is at most 100000 "
				       "and timeout_ms at most 10000");
	return sql_start(d, peer, req, xstrdup(q->valuestring),
			 max_rows ? (int)max_rows : 1000,
			 timeout ? (int)timeout : 2000, NULL, err);
}

/*
 * A leaderboard of some states, or by another metric: the `leaderboard`
 * view (where cost, reward per dollar and model are defined) read off
 * the loop, as sql.query reads, since every trial of the sweep is read.
 * The sweep's header, and whether it exists, come from the store's
 * top-1 leaderboard first.
 */
static int
leaderboard_start(struct daemon *d, const struct peer *peer,
		  const struct proto_request *req, struct proto_error *err)
{
	struct leaderboard_ask a;
	cJSON *board;
	char *sql, key[96];
	bool min;
	int rc;

	if (leaderboard_params(req->params, &a, err) != 0)
		return err->code;
	board = store_leaderboard_json(d->store, a.id, 1, STORE_RANK_OBJECTIVE,
				       &rc);
	if (rc != 0)
		return not_found(rc, err, "sweep", a.id);
	cJSON_ReplaceItemInObjectCaseSensitive(
	    board, "by",
	    cJSON_CreateString(a.rank == STORE_RANK_VALUE ? "value"
							  : "objective"));
	min = strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			 board, "objective_mode")),
		     "min") == 0;
	cJSON_DeleteItemFromObjectCaseSensitive(board, "rows");
	cJSON_AddStringToObject(board, "state", a.state);
	if (a.metric != NULL)
		cJSON_AddStringToObject(board, "metric", a.metric);
	if (a.metric != NULL)
		snprintf(key, sizeof(key), "b.value %s", min ? "ASC" : "DESC");
	else if (a.rank == STORE_RANK_VALUE)
		snprintf(key, sizeof(key),
			 "v.reward_per_usd IS NULL, "
			 "v.reward_per_usd DESC, v.score DESC");
	else
		snprintf(key, sizeof(key), "v.score DESC");
	sql = leaderboard_sql(&a, key, min);
	return sql_start(d, peer, req, sql, a.limit, 10000, board, err);
}

static const method_fn handlers[PROTO_M__COUNT] = {
    [PROTO_M_DAEMON_PING] = daemon_ping,
    [PROTO_M_DAEMON_STATUS] = daemon_status,
    [PROTO_M_DAEMON_RELOAD] = daemon_reload_method,
    [PROTO_M_SWEEP_PLAN] = sweep_plan,
    [PROTO_M_SWEEP_SUBMIT] = sweep_submit,
    [PROTO_M_SWEEP_LIST] = sweep_list,
    [PROTO_M_SWEEP_SHOW] = sweep_show,
    [PROTO_M_SWEEP_LEADERBOARD] = sweep_leaderboard,
    [PROTO_M_SWEEP_CANCEL] = sweep_cancel,
    [PROTO_M_SWEEP_PAUSE] = sweep_pause,
    [PROTO_M_SWEEP_RESUME] = sweep_resume,
    [PROTO_M_JOB_LIST] = job_list,
    [PROTO_M_JOB_SHOW] = job_show,
    [PROTO_M_JOB_CANCEL] = job_cancel,
    [PROTO_M_JOB_PAUSE] = job_pause,
    [PROTO_M_JOB_RESUME] = job_resume,
    [PROTO_M_BUDGET_SHOW] = budget_show,
    [PROTO_M_BUDGET_SET] = budget_set,
};

static int dispatch(struct daemon *d, const struct peer *peer,
		    const struct proto_request *req, cJSON **result,
		    struct proto_error *err);

/*
 * Plan and submit read the datasets a spec names.  Those not hashed yet
 * are hashed on the thread pool first, the reply deferred; then the
 * method runs, finding them in the cache: the loop never reads them.
 */
struct datasets_wait {
	struct daemon *d;
	struct peer peer;
	struct dataset_client client;
	struct control_reply_to *to;
	enum proto_method method;
	cJSON *id;
	cJSON *params;
	unsigned int waiting;
};

static void
datasets_hashed(void *arg)
{
	struct datasets_wait *w = arg;
	struct proto_request req = {
	    .id = w->id, .method = w->method, .params = w->params};
	struct proto_error err = {0};
	cJSON *result = NULL;
	int rc;

	if (--w->waiting > 0)
		return;
	if (w->d->stopping) {
		control_answer(w->to, PROTO_E_SHUTTING_DOWN,
			       "rftd is shutting down", NULL);
	} else {
		asking = &w->client;
		rc = dispatch(w->d, &w->peer, &req, &result, &err);
		asking = NULL;
		if (rc == METHODS_DEFERRED)
			control_forget(w->to); /* the method answers */
		else
			control_answer(w->to, rc, rc ? err.message : NULL,
				       result);
	}
	cJSON_Delete(w->id);
	cJSON_Delete(w->params);
	free(w);
}

static int
datasets_first(struct daemon *d, const struct peer *peer,
	       const struct proto_request *req)
{
	static const char *const keys[] = {"training_file", "validation_file"};
	const cJSON *spec =
	    cJSON_GetObjectItemCaseSensitive(req->params, "spec");
	struct datasets_wait *w = NULL;
	char ref[65], why[512];

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const cJSON *path =
		    cJSON_GetObjectItemCaseSensitive(spec, keys[i]);

		if (!cJSON_IsString(path) || path->valuestring[0] != '/' ||
		    dataset_lookup(d->datasets, path->valuestring, asking, ref,
				   why, sizeof(why)) != -EAGAIN)
			continue; /* known, or the spec's check says why */
		if (w == NULL) {
			w = xcalloc(1, sizeof(*w));
			w->d = d;
			w->peer = *peer;
			w->client = *asking;
			w->method = req->method;
			w->id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
			w->params = cJSON_Duplicate(req->params, 1);
			w->to =
			    control_defer(d->control, peer->client_id, req->id);
			w->waiting = 1; /* until every hash is queued */
		}
		w->waiting++;
		log_debug("dataset %s: hashing it off the loop",
			  path->valuestring);
		dataset_hash(d->datasets, path->valuestring, datasets_hashed,
			     w);
	}
	if (w == NULL)
		return 0;
	datasets_hashed(w); /* the one for queueing */
	return METHODS_DEFERRED;
}

int
methods_dispatch(struct daemon *d, const struct peer *peer,
		 const struct proto_request *req, cJSON **result,
		 struct proto_error *err)
{
	struct dataset_client client;
	int rc;

	*result = NULL;
	if ((req->method != PROTO_M_SWEEP_PLAN &&
	     req->method != PROTO_M_SWEEP_SUBMIT) ||
	    d->stopping || !cJSON_IsObject(req->params))
		return dispatch(d, peer, req, result, err);
	client = (struct dataset_client){.uid = peer->uid, .gid = peer->gid};
	for (unsigned int i = 0;
	     i < peer->ngroups && i < ARRAY_LEN(client.groups); i++)
		client.groups[client.ngroups++] = peer->groups[i];
	asking = &client;
	rc = datasets_first(d, peer, req);
	if (rc == 0)
		rc = dispatch(d, peer, req, result, err);
	asking = NULL;
	return rc;
}

/* notify.test: answers once each [notify] target's attempt has ended. */
static void
notify_tested(void *arg, int rc, const char *error, cJSON *result)
{
	if (rc != 0)
		control_answer(arg, PROTO_E_SHUTTING_DOWN, error, NULL);
	else
		control_answer(arg, 0, NULL, result);
}

static int
notify_test_start(struct daemon *d, const struct peer *peer,
		  const struct proto_request *req, struct proto_error *err)
{
	static const char *const allowed[] = {NULL};
	struct control_reply_to *to;
	char why[512];
	int rc;

	if (check_params(req->params, allowed, err) != 0)
		return err->code;
	if (d->control == NULL || d->stopping)
		return proto_error_set(err, PROTO_E_SHUTTING_DOWN,
				       "rftd is shutting down");
	log_info("control: notify.test by uid %u pid %d", peer->uid, peer->pid);
	to = control_defer(d->control, peer->client_id, req->id);
	rc = notifier_test(d, notify_tested, to, why, sizeof(why));
	if (rc == 0)
		return METHODS_DEFERRED;
	control_forget(to);
	return proto_error_set(err,
			       rc == -ENOENT	  ? PROTO_E_REFUSED
			       : rc == -ECANCELED ? PROTO_E_SHUTTING_DOWN
						  : PROTO_E_STORE,
			       "%s", why);
}

static int
dispatch(struct daemon *d, const struct peer *peer,
	 const struct proto_request *req, cJSON **result,
	 struct proto_error *err)
{
	const struct proto_method_info *info = proto_method_info(req->method);
	static const cJSON empty = {.type = cJSON_Object};
	int rc;

	*result = NULL;
	if (req->method == PROTO_M_SQL_QUERY) /* needs the connection */
		return sql_query(d, peer, req, err);
	if (req->method == PROTO_M_DAEMON_STATUS)
		return status_start(d, peer, req, err);
	if (req->method == PROTO_M_NOTIFY_TEST)
		return notify_test_start(d, peer, req, err);
	if (req->method == PROTO_M_SWEEP_LEADERBOARD &&
	    leaderboard_deferred(req->params))
		return leaderboard_start(d, peer, req, err);
	if (req->method == PROTO_M_SWEEP_SUBMIT && !d->stopping) {
		log_info("control: %s by uid %u pid %d", info->name, peer->uid,
			 peer->pid);
		return sweep_submit_start(d, peer, req, result, err);
	}
	if (handlers[req->method] == NULL)
		return proto_error_set(err, PROTO_E_INTERNAL,
				       "%s is not implemented", info->name);
	if (d->stopping && info->access == PROTO_MUTATING)
		return proto_error_set(err, PROTO_E_SHUTTING_DOWN,
				       "rftd is shutting down");
	if (info->access == PROTO_MUTATING)
		log_info("control: %s by uid %u pid %d", info->name, peer->uid,
			 peer->pid);
	else
		log_debug("control: %s by uid %u pid %d", info->name, peer->uid,
			  peer->pid);
	rc = handlers[req->method](d, req->params ? req->params : &empty,
				   result, err);
	if (rc != 0 && err->code == 0)
		proto_error_set(err, PROTO_E_INTERNAL, "%s failed", info->name);
	return rc;
}
