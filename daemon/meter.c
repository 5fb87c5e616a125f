/* The spend meter (see meter.h). */
#include "meter.h"

#include "backend.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "notifier.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when the grader (or a sub-grader) calls a model: tokens cost. */
static bool
uses_model(const cJSON *grader)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(grader, "type");
	const cJSON *subs = cJSON_GetObjectItemCaseSensitive(grader, "graders");
	const cJSON *g;

	if (cJSON_IsString(type) &&
	    (strcmp(type->valuestring, "score_model") == 0 ||
	     strcmp(type->valuestring, "label_model") == 0))
		return true;
	cJSON_ArrayForEach(g, subs) if (uses_model(g)) return true;
	return false;
}

double
meter_max_hours(const struct daemon *d, double sweep_max_hours)
{
	return sweep_max_hours > 0 ? sweep_max_hours
				   : d->cfg.default_max_job_hours;
}

int
meter_price(struct daemon *d, const char *backend, const char *model,
	    const cJSON *grader, double max_job_hours, bool allow_unpriced,
	    double *rate, double *worst, char *err, size_t errlen)
{
	const struct config_price *p = config_price(&d->cfg, backend, model);

	*rate = *worst = 0;
	if (p == NULL) {
		if (allow_unpriced)
			return 0;
		snprintf(err, errlen,
			 "no price for %s/%s: add [price \"%s/%s\"] to the "
			 "configuration, or allow_unpriced to the spec",
			 backend, model, backend, model);
		return -ENOENT;
	}
	*rate = p->per_training_hour;
	if (p->per_gpu_hour > 0) {
		const struct backend *be = backend_find(d, backend);

		*rate += p->per_gpu_hour * (be != NULL ? be->gpus_per_job : 0);
	}
	if (uses_model(grader))
		*rate +=
		    d->cfg.grader_mtok_in_per_hour * p->grader_per_mtok_in +
		    d->cfg.grader_mtok_out_per_hour * p->grader_per_mtok_out;
	*worst = *rate * max_job_hours;
	return 0;
}

/* --- limits --------------------------------------------------------------- */

static void
set_scope(struct budget_scope *s, double limit, enum config_action action)
{
	s->limited = limit >= 0;
	s->limit = limit >= 0 ? limit : 0;
	s->action = action == CONFIG_PAUSE ? BUDGET_PAUSE : BUDGET_CANCEL;
}

static void
sweep_limit(int64_t sweep_id, double limit, void *arg)
{
	struct daemon *d = arg;
	struct budget_scope *s = budget_sweep(d->budget, sweep_id);
	double spent = 0;

	if (!s->limited && s->spent == 0 &&
	    store_spent(d->store, sweep_id, &spent) == 0)
		s->spent = spent;
	set_scope(s, limit, CONFIG_PAUSE);
}

/* Limits set with `budget set` override the configuration and specs. */
static void
runtime_limit(const char *scope, double limit, const char *action, void *arg)
{
	struct daemon *d = arg;
	enum config_action a =
	    strcmp(action, "cancel") == 0 ? CONFIG_CANCEL : CONFIG_PAUSE;
	enum budget_kind kind;
	int64_t sweep_id;

	if (budget_scope_parse(scope, &kind, &sweep_id) != 0)
		return;
	switch (kind) {
	case BUDGET_GLOBAL:
		set_scope(&d->budget->global, limit, a);
		break;
	case BUDGET_DAY:
		set_scope(&d->budget->day, limit, a);
		break;
	case BUDGET_MONTH:
		set_scope(&d->budget->month, limit, a);
		break;
	case BUDGET_SWEEP:
		sweep_limit(sweep_id, limit, d);
		set_scope(budget_sweep(d->budget, sweep_id), limit, a);
		break;
	}
}

void
meter_limits(struct daemon *d)
{
	set_scope(&d->budget->global, d->cfg.budget_global,
		  d->cfg.global_action);
	set_scope(&d->budget->day, d->cfg.budget_day, d->cfg.day_action);
	set_scope(&d->budget->month, d->cfg.budget_month, d->cfg.month_action);
	store_sweep_budgets(d->store, sweep_limit, d);
	store_budget_limits(d->store, runtime_limit, d);
}

static void
add_minute(double t, double usd, void *arg)
{
	struct daemon *d = arg;
	double global = d->budget->global.spent;

	/* Only the windows: the all-time totals come from the jobs. */
	budget_spend(d->budget, 0, usd, t);
	d->budget->global.spent = global;
}

/* Spend and limits from the store, into a budget core made empty. */
static void
load(struct daemon *d)
{
	double now = now_wall();

	budget_free(d->budget);
	budget_init(d->budget);
	store_spend_minutes(d->store, now - 30 * 86400.0, now, add_minute, d);
	store_spent(d->store, 0, &d->budget->global.spent);
	meter_limits(d);
}

void
meter_init(struct daemon *d)
{
	d->budget = xcalloc(1, sizeof(*d->budget));
	budget_init(d->budget);
	load(d);
}

void
meter_resync(struct daemon *d)
{
	load(d);
}

void
meter_free(struct daemon *d)
{
	if (d->budget == NULL)
		return;
	budget_free(d->budget);
	free(d->budget);
	d->budget = NULL;
}

/* --- live jobs ------------------------------------------------------------ */

struct live {
	struct daemon *d;
	struct budget_job *jobs;
	size_t n, cap;
};

static void
add_live(const struct store_job_row *r, void *arg)
{
	struct live *l = arg;
	struct backend *be = backend_find(l->d, r->backend);

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->jobs = xrealloc(l->jobs, l->cap * sizeof(*l->jobs));
	}
	/* The enforcement looks ahead in real time; a simulator bills its
	 * hours `speed` times faster. */
	l->jobs[l->n++] = (struct budget_job){
	    .id = r->id,
	    .sweep_id = r->sweep_id,
	    .rate = r->rate *
		    (be != NULL && be->time_scale > 0 ? be->time_scale : 1),
	    .worst = r->reserved,
	    .spent = r->cost,
	    .running = strcmp(r->state, "running") == 0,
	    .can_pause = backend_can_pause(be, r->remote_id),
	};
}

size_t
meter_live(struct daemon *d, struct budget_job **jobs)
{
	struct live l = {.d = d};

	store_jobs_live_money(d->store, add_live, &l);
	*jobs = l.jobs;
	return l.n;
}

/* --- enforcement ---------------------------------------------------------- */

/* The spend of the scope called `name` (0 when there is none). */
static double
scope_spent(struct daemon *d, const char *name, double now)
{
	struct budget *b = d->budget;
	enum budget_kind kind;
	int64_t sweep_id;

	if (budget_scope_parse(name, &kind, &sweep_id) != 0)
		return 0;
	switch (kind) {
	case BUDGET_GLOBAL:
		return budget_spent(b, &b->global, now);
	case BUDGET_DAY:
		return budget_spent(b, &b->day, now);
	case BUDGET_MONTH:
		return budget_spent(b, &b->month, now);
	default:
		return budget_spent(b, budget_sweep(b, sweep_id), now);
	}
}

struct decisions {
	struct meter_stop *stops;
	size_t n, cap;
};

static void
decide_stop(const struct budget_scope *s, const struct budget_job *j,
	    bool pause, void *arg)
{
	struct decisions *d = arg;
	struct meter_stop *m;

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->stops = xrealloc(d->stops, d->cap * sizeof(*d->stops));
	}
	m = &d->stops[d->n++];
	memset(m, 0, sizeof(*m));
	m->job_id = j->id;
	m->pause = pause;
	m->limit = s->limit;
	budget_scope_name(s, m->name, sizeof(m->name));
}

size_t
meter_enforce(struct daemon *d, const struct budget_job *jobs, size_t n,
	      double horizon_s, struct meter_stop **stops)
{
	struct decisions dec = {0};

	budget_enforce(d->budget, jobs, n, now_wall(), horizon_s, decide_stop,
		       &dec);
	*stops = dec.stops;
	return dec.n;
}

void
meter_halted(struct daemon *d, const struct meter_stop *stops, size_t n,
	     uint64_t started_ns)
{
	double now = now_wall();

	for (size_t i = 0, end; i < n; i = end) {
		const char *scope = stops[i].name;
		cJSON *ids = cJSON_CreateArray();
		double spent = scope_spent(d, scope, now);
		cJSON *ev;
		char *text;

		for (end = i; end < n && strcmp(stops[end].name, scope) == 0;
		     end++)
			if (stops[end].done)
				cJSON_AddItemToArray(
				    ids, cJSON_CreateNumber(
					     (double)stops[end].job_id));
		if (cJSON_GetArraySize(ids) > 0) {
			log_warnx("budget %s: $%.2f spent of $%.2f; %s %d jobs "
				  "(stop requests issued in %.3f ms)",
				  scope, spent, stops[i].limit,
				  stops[i].pause ? "pausing" : "cancelling",
				  cJSON_GetArraySize(ids),
				  (double)(now_mono_ns() - started_ns) / 1e6);
			text = cJSON_PrintUnformatted(ids);
			store_halt_add(d->store, scope, stops[i].limit, spent,
				       stops[i].pause ? "pause" : "cancel",
				       text, now);
			free(text);
			ev = cJSON_CreateObject();
			cJSON_AddStringToObject(ev, "scope", scope);
			cJSON_AddNumberToObject(ev, "limit_usd",
						stops[i].limit);
			cJSON_AddNumberToObject(ev, "spent_usd", spent);
			cJSON_AddStringToObject(
			    ev, "action", stops[i].pause ? "pause" : "cancel");
			cJSON_AddItemToObject(ev, "jobs",
					      cJSON_Duplicate(ids, true));
			notifier_event(d, "budget.halted", ev);
		}
		cJSON_Delete(ids);
	}
}

/* --- budget.show and budget.set ------------------------------------------- */

static cJSON *
scope_json(struct daemon *d, const struct budget_scope *s,
	   const struct budget_job *jobs, size_t n, double now)
{
	cJSON *o = cJSON_CreateObject();
	double spent = budget_spent(d->budget, s, now);
	double held = budget_outstanding(s, jobs, n);
	char name[32];

	budget_scope_name(s, name, sizeof(name));
	cJSON_AddStringToObject(o, "scope", name);
	if (s->limited) {
		cJSON_AddNumberToObject(o, "limit_usd", s->limit);
		cJSON_AddNumberToObject(o, "remaining_usd",
					s->limit - spent - held);
	} else {
		cJSON_AddNullToObject(o, "limit_usd");
		cJSON_AddNullToObject(o, "remaining_usd");
	}
	cJSON_AddStringToObject(o, "action",
				s->action == BUDGET_PAUSE ? "pause" : "cancel");
	cJSON_AddNumberToObject(o, "spent_usd", spent);
	cJSON_AddNumberToObject(o, "reserved_usd", held);
	return o;
}

/* What budget.show lists of the sweeps, in the order of their ids. */
struct sweep_rows {
	struct daemon *d;
	cJSON *scopes;
	const struct budget_job *jobs;
	size_t n;
	double now;
};

/*
 * A sweep's scope: the meter's own when it follows the sweep (it has or
 * had a limit), else one made from the store's figure, listed once the
 * sweep has spent or holds money.
 */
static void
sweep_row(int64_t sweep_id, const char *name, bool simulated, double spent,
	  void *arg)
{
	struct sweep_rows *r = arg;
	struct budget *b = r->d->budget;
	struct budget_scope unfollowed = {
	    .kind = BUDGET_SWEEP, .sweep_id = sweep_id, .spent = spent};
	const struct budget_scope *s = NULL;
	cJSON *o;

	for (size_t i = 0; i < b->nsweeps && s == NULL; i++)
		if (b->sweeps[i].sweep_id == sweep_id)
			s = &b->sweeps[i];
	if (s == NULL) {
		if (spent <= 0 &&
		    budget_outstanding(&unfollowed, r->jobs, r->n) <= 0)
			return;
		s = &unfollowed;
	}
	o = scope_json(r->d, s, r->jobs, r->n, r->now);
	cJSON_AddNumberToObject(o, "sweep_id", (double)sweep_id);
	cJSON_AddStringToObject(o, "name", name ? name : "");
	cJSON_AddBoolToObject(o, "simulated", simulated);
	cJSON_AddItemToArray(r->scopes, o);
}

cJSON *
meter_scopes(struct daemon *d)
{
	struct budget_job *jobs;
	size_t n = meter_live(d, &jobs);
	double now = now_wall();
	cJSON *a = cJSON_CreateArray();
	struct sweep_rows rows = {d, a, jobs, n, now};

	cJSON_AddItemToArray(a,
			     scope_json(d, &d->budget->global, jobs, n, now));
	cJSON_AddItemToArray(a, scope_json(d, &d->budget->day, jobs, n, now));
	cJSON_AddItemToArray(a, scope_json(d, &d->budget->month, jobs, n, now));
	if (store_sweep_spends(d->store, sweep_row, &rows) != 0) {
		/* The store cannot list the sweeps: the meter's own, then. */
		while (cJSON_GetArraySize(a) > 3)
			cJSON_DeleteItemFromArray(a, 3);
		for (size_t i = 0; i < d->budget->nsweeps; i++)
			cJSON_AddItemToArray(
			    a,
			    scope_json(d, &d->budget->sweeps[i], jobs, n, now));
	}
	free(jobs);
	return a;
}

/*
 * True when no limited scope of `j` would stop it within `horizon_s`,
 * counting the jobs that run already (and those resumed before it):
 * the enforcement rule, asked before a resume rather than after.
 */
static bool
has_room(struct daemon *d, const struct budget_job *j,
	 const struct budget_job *jobs, size_t n, double horizon_s)
{
	struct budget *b = d->budget;
	const struct budget_scope *all[3] = {&b->global, &b->day, &b->month};
	double now = now_wall();

	for (size_t k = 0; k < 3 + b->nsweeps; k++) {
		const struct budget_scope *s =
		    k < 3 ? all[k] : &b->sweeps[k - 3];
		double ahead = budget_ahead(j, horizon_s);

		if (!s->limited || !budget_in_scope(s, j))
			continue;
		for (size_t i = 0; i < n; i++)
			if (jobs[i].running && budget_in_scope(s, &jobs[i]))
				ahead += budget_ahead(&jobs[i], horizon_s);
		if (budget_crosses(budget_spent(b, s, now), ahead, s->limit))
			return false;
	}
	return true;
}

int
meter_set_limit(struct daemon *d, const char *scope, double usd,
		const char *action, int64_t **resume, size_t *nresume,
		char *err, size_t errlen)
{
	enum budget_kind kind;
	int64_t sweep_id;
	const struct budget_scope *s;
	char basis[128];
	double old, horizon = d->cfg.tick_ms / 1000.0 + d->cfg.cancel_latency;
	struct budget_job *live;
	size_t n;
	cJSON *paused;
	const cJSON *id;

	*resume = NULL;
	*nresume = 0;
	if (budget_scope_parse(scope, &kind, &sweep_id) != 0) {
		snprintf(err, errlen,
			 "'%s' is not a scope: global, day, month or "
			 "sweep:ID",
			 scope);
		return -EINVAL;
	}
	if (kind == BUDGET_SWEEP && !store_sweep_exists(d->store, sweep_id)) {
		snprintf(err, errlen, "no sweep %lld", (long long)sweep_id);
		return -EINVAL;
	}
	s = kind == BUDGET_GLOBAL  ? &d->budget->global
	    : kind == BUDGET_DAY   ? &d->budget->day
	    : kind == BUDGET_MONTH ? &d->budget->month
				   : budget_sweep(d->budget, sweep_id);
	old = s->limited ? s->limit : -1;
	if (action == NULL) /* keep the scope's own action */
		action = s->action == BUDGET_PAUSE ? "pause" : "cancel";
	if (usd >= 0 && old >= 0)
		snprintf(basis, sizeof(basis), "limit $%.2f -> $%.2f", old,
			 usd);
	else if (usd >= 0)
		snprintf(basis, sizeof(basis), "limit none -> $%.2f", usd);
	else
		snprintf(basis, sizeof(basis),
			 "run-time limit cleared; the configured one applies");
	if (store_budget_set(d->store, scope, usd, action, basis, now_wall()) !=
	    0) {
		snprintf(err, errlen, "the limit could not be stored");
		return -EIO;
	}
	log_info("budget %s: %s", scope, basis);
	if (kind == BUDGET_SWEEP && usd < 0)
		budget_sweep(d->budget, sweep_id)->limited = false;
	meter_limits(d);
	if (usd >= 0 && (old < 0 || usd <= old))
		return 0; /* tightened: the next tick stops what must stop */
	/*
	 * Raised or cleared: a job a budget paused runs again if no scope
	 * it belongs to would stop it at once (the enforcement rule).
	 */
	paused = store_budget_paused_jobs(d->store);
	n = meter_live(d, &live);
	cJSON_ArrayForEach(id, paused)
	{
		int64_t job = (int64_t)id->valuedouble;

		for (size_t i = 0; i < n; i++) {
			if (live[i].id != job ||
			    !has_room(d, &live[i], live, n, horizon))
				continue;
			*resume = xrealloc(*resume,
					   (*nresume + 1) * sizeof(**resume));
			(*resume)[(*nresume)++] = job;
			live[i].running = true; /* counts for the next ones */
		}
	}
	free(live);
	cJSON_Delete(paused);
	err[0] = '\0';
	return 0;
}
