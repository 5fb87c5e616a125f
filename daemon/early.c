/* Early stopping: the rules and their review of a sweep (see early.h). */
#include "early.h"

#include "lifecycle.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rule_names[] = {
    [EARLY_NONE] = "none",
    [EARLY_MEDIAN] = "median",
    [EARLY_ASHA] = "asha",
};

const char *
early_rule_name(enum early_rule r)
{
	return r <= EARLY_ASHA ? rule_names[r] : "?";
}

cJSON *
early_config_json(const struct early_config *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "rule", early_rule_name(c->rule));
	cJSON_AddStringToObject(o, "metric", c->metric);
	cJSON_AddStringToObject(o, "mode", c->maximize ? "max" : "min");
	cJSON_AddNumberToObject(o, "grace_steps", (double)c->grace_steps);
	if (c->rule == EARLY_ASHA)
		cJSON_AddNumberToObject(o, "reduction_factor",
					c->reduction_factor);
	cJSON_AddNumberToObject(o, "min_trials", c->min_trials);
	return o;
}

int
early_config_from_json(const cJSON *obj, struct early_config *c)
{
	const cJSON *rule = cJSON_GetObjectItemCaseSensitive(obj, "rule");
	const cJSON *metric = cJSON_GetObjectItemCaseSensitive(obj, "metric");
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(obj, "mode");
	const cJSON *grace =
	    cJSON_GetObjectItemCaseSensitive(obj, "grace_steps");
	const cJSON *eta =
	    cJSON_GetObjectItemCaseSensitive(obj, "reduction_factor");
	const cJSON *min = cJSON_GetObjectItemCaseSensitive(obj, "min_trials");

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsString(rule) || !cJSON_IsString(metric) ||
	    strlen(metric->valuestring) >= sizeof(c->metric))
		return -EINVAL;
	if (strcmp(rule->valuestring, "median") == 0)
		c->rule = EARLY_MEDIAN;
	else if (strcmp(rule->valuestring, "asha") == 0)
		c->rule = EARLY_ASHA;
	else
		return -EINVAL;
	snprintf(c->metric, sizeof(c->metric), "%s", metric->valuestring);
	c->maximize =
	    !cJSON_IsString(mode) || strcmp(mode->valuestring, "min") != 0;
	c->grace_steps = cJSON_IsNumber(grace) ? (int64_t)grace->valuedouble
					       : EARLY_DEFAULT_GRACE_STEPS;
	c->reduction_factor = cJSON_IsNumber(eta) ? (int)eta->valuedouble
						  : EARLY_DEFAULT_REDUCTION;
	c->min_trials = cJSON_IsNumber(min) ? (int)min->valuedouble
					    : EARLY_DEFAULT_MIN_TRIALS;
	if (c->grace_steps < 1 || c->reduction_factor < 2 || c->min_trials < 2)
		return -EINVAL;
	return 0;
}

/* --- the rules: pure ------------------------------------------------------ */

static bool
better(double a, double b, bool maximize)
{
	return maximize ? a > b : a < b;
}

bool
early_value_at(const struct early_trial *t, int64_t s, bool maximize, double *v)
{
	double best = 0;

	for (size_t i = 0; i < t->npoints; i++) {
		if (i == 0 || better(t->points[i].value, best, maximize))
			best = t->points[i].value;
		if (t->points[i].step >= s) {
			*v = best;
			return true;
		}
	}
	return false;
}

/* The step of asha's rung r, or -1 past what a step can count. */
static int64_t
rung_step(const struct early_config *c, int r)
{
	double s = (double)c->grace_steps * pow(c->reduction_factor, r);

	return s < 9e15 ? (int64_t)s : -1;
}

size_t
early_points(const struct early_config *c, const struct early_trial *t,
	     int64_t after, int64_t *steps, int *rungs, size_t max)
{
	int64_t last = t->npoints > 0 ? t->points[t->npoints - 1].step : 0;
	size_t n = 0;

	if (c->rule == EARLY_MEDIAN) {
		for (size_t i = 0; i < t->npoints && n < max; i++) {
			int64_t s = t->points[i].step;

			if (s >= c->grace_steps && s > after) {
				steps[n] = s;
				rungs[n++] = -1;
			}
		}
		return n;
	}
	for (int r = 0; r < EARLY_MAX_RUNGS && n < max; r++) {
		int64_t s = rung_step(c, r);

		if (s < 0 || s > last)
			break;
		if (s > after) {
			steps[n] = s;
			rungs[n++] = r;
		}
	}
	return n;
}

static int
cmp_best_first_max(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x < y) - (x > y);
}

static int
cmp_best_first_min(const void *a, const void *b)
{
	return -cmp_best_first_max(a, b);
}

/*
 * The median of v[0..n) (sorted best first here) with `worse` more
 * values worse than any: those that may still come, at their worst for
 * the judged trial.
 */
static double
median_of(double *v, size_t n, size_t worse, bool maximize)
{
	double worst = maximize ? -HUGE_VAL : HUGE_VAL;
	size_t m = n + worse;

	qsort(v, n, sizeof(*v),
	      maximize ? cmp_best_first_max : cmp_best_first_min);
#define AT(i) ((i) < n ? v[i] : worst)
	return m % 2 ? AT(m / 2) : (AT(m / 2 - 1) + AT(m / 2)) / 2;
#undef AT
}

struct early_verdict
early_judge(const struct early_config *c, const struct early_trial *trials,
	    size_t n, size_t self, int64_t step, int rung)
{
	struct early_verdict d = {.action = EARLY_CONTINUE,
				  .step = step,
				  .rung = c->rule == EARLY_ASHA ? rung : -1};
	double *vals = xcalloc(n + 1, sizeof(*vals));
	size_t nvals = 0, better_count = 0, could = 0, possible, keep, keep_max;
	double v;

	if (!early_value_at(&trials[self], step, c->maximize, &d.value)) {
		/* Not there yet: nothing to judge. */
		free(vals);
		return d;
	}
	for (size_t i = 0; i < n; i++) {
		if (i == self)
			continue;
		if (early_value_at(&trials[i], step, c->maximize, &v)) {
			vals[nvals++] = v;
			better_count += better(v, d.value, c->maximize);
		} else if (trials[i].open) {
			could++;
		}
	}
	d.peers = (int)nvals;
	possible = nvals + could; /* peers it could ever have here */
	if (nvals + 1 < (size_t)c->min_trials) {
		/* Too few to judge: never stopped.  ASHA promotes only out
		 * of a rung with enough trials in it, so it waits there
		 * while others may come (where it can wait: early_review). */
		if (c->rule == EARLY_ASHA && could > 0)
			d.action = EARLY_HOLD;
		free(vals);
		return d;
	}
	d.has_threshold = true;
	if (c->rule == EARLY_MEDIAN) {
		/* Sure when even the worst of what may come leaves the
		 * median above it. */
		d.threshold = median_of(vals, nvals, 0, c->maximize);
		if (better(d.threshold, d.value, c->maximize))
			d.action =
			    better(median_of(vals, nvals, could, c->maximize),
				   d.value, c->maximize)
				? EARLY_STOP
				: EARLY_HOLD;
	} else {
		/*
		 * The best floor(k / eta) of the k recorded at the rung go
		 * on; none while the rung is smaller than eta, unless no
		 * trial can come any more (then the best one).
		 */
		vals[nvals] = d.value;
		qsort(vals, nvals + 1, sizeof(*vals),
		      c->maximize ? cmp_best_first_max : cmp_best_first_min);
		keep = (nvals + 1) / (size_t)c->reduction_factor;
		if (keep == 0 && could == 0)
			keep = 1;
		keep_max = (possible + 1) / (size_t)c->reduction_factor;
		keep_max = keep_max > 0 ? keep_max : 1;
		d.has_threshold = keep > 0;
		d.threshold = keep > 0 ? vals[keep - 1] : 0;
		if (better_count >= keep)
			d.action =
			    better_count >= keep_max ? EARLY_STOP : EARLY_HOLD;
	}
	free(vals);
	return d;
}

/* --- the review of a sweep ------------------------------------------------ */

/* What the review knows of a trial besides its points (ts[i] there). */
struct rtrial {
	struct early_point *pts;
	size_t cap;
	char state[16], mark[16], job_state[16];
	int64_t early_step, decided, job_id;
	bool resume_owed;
};

struct by_id {
	int64_t id;
	size_t i; /* in ts and v */
};

struct review {
	struct early_trial *ts; /* what the rules see */
	struct rtrial *v;	/* the same trials, as stored */
	size_t n, cap, hint;
	struct by_id *by_id; /* the trials in order of id */
	bool maximize;
};

static void
copy_word(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s != NULL ? s : "");
}

static bool
is_open(const struct rtrial *x)
{
	return (strcmp(x->state, "pending") == 0 ||
		strcmp(x->state, "running") == 0 ||
		strcmp(x->state, "paused") == 0) &&
	       strcmp(x->mark, "stopped") != 0;
}

static void
take_trial(const struct store_early_trial *t, void *arg)
{
	struct review *r = arg;
	struct rtrial *x;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
		r->ts = xrealloc(r->ts, r->cap * sizeof(*r->ts));
	}
	x = &r->v[r->n];
	memset(x, 0, sizeof(*x));
	copy_word(x->state, sizeof(x->state), t->state);
	copy_word(x->mark, sizeof(x->mark), t->early_stop);
	copy_word(x->job_state, sizeof(x->job_state), t->job_state);
	x->early_step = t->early_step;
	x->decided = t->decided;
	x->job_id = t->job_id;
	x->resume_owed = t->resume_owed;
	r->ts[r->n] =
	    (struct early_trial){.id = t->trial_id, .open = is_open(x)};
	r->n++;
}

static int
cmp_by_id(const void *a, const void *b)
{
	int64_t x = ((const struct by_id *)a)->id;
	int64_t y = ((const struct by_id *)b)->id;

	return (x > y) - (x < y);
}

/* Indexes the trials by id, for the points that come by trial id. */
static void
index_trials(struct review *r)
{
	r->by_id = xcalloc(r->n ? r->n : 1, sizeof(*r->by_id));
	for (size_t i = 0; i < r->n; i++)
		r->by_id[i] = (struct by_id){r->ts[i].id, i};
	qsort(r->by_id, r->n, sizeof(*r->by_id), cmp_by_id);
}

/* The index of trial `id` in ts, or n; points come by trial, so the
 * last one found is the likely one. */
static size_t
find_trial(struct review *r, int64_t id)
{
	size_t lo = 0, hi = r->n;

	if (r->hint < r->n && r->ts[r->hint].id == id)
		return r->hint;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->by_id[mid].id == id)
			return r->hint = r->by_id[mid].i;
		if (r->by_id[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return r->n;
}

static void
take_point(int64_t trial_id, int64_t step, double value, void *arg)
{
	struct review *r = arg;
	size_t i = find_trial(r, trial_id);
	struct early_trial *t;
	struct rtrial *x;
	struct early_point *last;

	if (i == r->n || !isfinite(value))
		return;
	t = &r->ts[i];
	x = &r->v[i];
	last = t->npoints ? &x->pts[t->npoints - 1] : NULL;
	if (last != NULL && last->step == step) {
		/* Another attempt's value at the same step: the better. */
		if (better(value, last->value, r->maximize))
			last->value = value;
		return;
	}
	if (t->npoints == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 16;
		x->pts = xrealloc(x->pts, x->cap * sizeof(*x->pts));
	}
	x->pts[t->npoints++] = (struct early_point){step, value};
	t->points = x->pts;
}

static void
review_free(struct review *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].pts);
	free(r->v);
	free(r->ts);
	free(r->by_id);
}

static bool
job_in(const struct rtrial *x, const char *const *states)
{
	for (; x->job_id > 0 && *states != NULL; states++)
		if (strcmp(x->job_state, *states) == 0)
			return true;
	return false;
}

static const char *const running_states[] = {"validating", "queued", "running",
					     NULL};
static const char *const live_states[] = {"submitting", "validating", "queued",
					  "running",	"pausing",    "paused",
					  "unknown",	NULL};

static const char *const action_names[] = {
    [EARLY_CONTINUE] = "continue",
    [EARLY_HOLD] = "pause",
    [EARLY_STOP] = "stop",
};

/* The job event's words for a decision. */
static void
explain(const struct early_config *c, const struct early_verdict *d,
	const char *what, char *buf, size_t len)
{
	char where[32] = "";

	if (d->rung >= 0)
		snprintf(where, sizeof(where), " (rung %d)", d->rung);
	if (!d->has_threshold) {
		snprintf(buf, len,
			 "early stopping (%s) %s: %s %.6g at step %lld%s, "
			 "waiting for more trials there (%d so far)",
			 early_rule_name(c->rule), what, c->metric, d->value,
			 (long long)d->step, where, d->peers);
		return;
	}
	snprintf(buf, len,
		 "early stopping (%s) %s: %s %.6g at step %lld%s against %s "
		 "%.6g of %d other trials",
		 early_rule_name(c->rule), what, c->metric, d->value,
		 (long long)d->step, where,
		 c->rule == EARLY_MEDIAN ? "the median" : "the rung's cutoff",
		 d->threshold, d->peers);
}

struct ctx {
	struct store *st;
	int64_t sweep_id;
	const struct early_config *c;
	const struct early_ops *ops;
	struct review *r;
	double now;
};

/* Records one decision and the trial's new mark (set_mark). */
static int
record(struct ctx *cx, size_t i, const struct early_verdict *d,
       const char *action, bool set_mark, const char *mark)
{
	struct rtrial *x = &cx->r->v[i];
	int rc = store_early_decide(cx->st,
				    &(struct store_early_decision){
					.sweep_id = cx->sweep_id,
					.trial_id = cx->r->ts[i].id,
					.job_id = x->job_id,
					.rule = early_rule_name(cx->c->rule),
					.metric = cx->c->metric,
					.action = action,
					.step = d->step,
					.rung = d->rung,
					.value = d->value,
					.has_threshold = d->has_threshold,
					.threshold = d->threshold,
					.peers = d->peers,
					.set_mark = set_mark,
					.mark = mark,
				    },
				    cx->now);

	if (rc != 0)
		return rc;
	if (d->step > x->decided)
		x->decided = d->step;
	if (set_mark) {
		copy_word(x->mark, sizeof(x->mark), mark);
		x->early_step = d->step;
		cx->r->ts[i].open = is_open(x);
	}
	if (strcmp(action, "continue") != 0 && d->has_threshold)
		log_info("trial %lld: early stopping (%s): %s at step %lld, "
			 "%.6g against %.6g of %d peers",
			 (long long)cx->r->ts[i].id,
			 early_rule_name(cx->c->rule), action,
			 (long long)d->step, d->value, d->threshold, d->peers);
	else if (strcmp(action, "continue") != 0)
		log_info("trial %lld: early stopping (%s): %s at step %lld, "
			 "%.6g, %d peers so far",
			 (long long)cx->r->ts[i].id,
			 early_rule_name(cx->c->rule), action,
			 (long long)d->step, d->value, d->peers);
	return 0;
}

/*
 * A verdict against a trial that runs: held (its job paused) when its
 * backend can pause it and the rule is not sure yet, else stopped.
 */
static int
act_against(struct ctx *cx, size_t i, struct early_verdict *d)
{
	struct rtrial *x = &cx->r->v[i];
	bool hold = d->action == EARLY_HOLD &&
		    cx->ops->can_pause(cx->ops->arg, x->job_id);
	char why[300];
	int rc;

	if (!hold && d->action == EARLY_HOLD && !d->has_threshold) {
		/* Waiting for peers where it cannot wait: it goes on. */
		d->action = EARLY_CONTINUE;
		return record(cx, i, d, "continue", false, NULL);
	}
	if (!hold)
		d->action = EARLY_STOP;
	rc = record(cx, i, d, action_names[d->action], true,
		    hold ? "held" : "stopped");
	if (rc != 0)
		return rc;
	explain(cx->c, d, hold ? "paused it" : "stopped it", why, sizeof(why));
	cx->ops->act(cx->ops->arg, x->job_id, hold ? JOB_EV_PAUSE : JOB_EV_STOP,
		     why);
	return 0;
}

/* Judges a running trial at each of its points not judged yet. */
static int
judge_running(struct ctx *cx, size_t i)
{
	struct rtrial *x = &cx->r->v[i];
	int64_t steps[64];
	int rungs[64];
	size_t np;
	int rc;

	do {
		np = early_points(cx->c, &cx->r->ts[i], x->decided, steps,
				  rungs, 64);
		for (size_t k = 0; k < np; k++) {
			struct early_verdict d = early_judge(
			    cx->c, cx->r->ts, cx->r->n, i, steps[k], rungs[k]);

			if (d.action != EARLY_CONTINUE) {
				rc = act_against(cx, i, &d);
				if (rc != 0 || d.action != EARLY_CONTINUE)
					return rc;
				continue;
			}
			rc = record(cx, i, &d, "continue", false, NULL);
			if (rc != 0)
				return rc;
		}
	} while (np == 64);
	return 0;
}

/*
 * Judges a held trial again at its step: resumed when good enough now,
 * stopped once sure.  Returns 1 when that changed it, 0, or -EIO.
 */
static int
judge_held(struct ctx *cx, size_t i)
{
	struct rtrial *x = &cx->r->v[i];
	struct early_verdict d;
	char why[300];
	int rc, rung = -1;

	if (cx->c->rule == EARLY_ASHA)
		for (int r = 0; r < EARLY_MAX_RUNGS; r++)
			if (rung_step(cx->c, r) == x->early_step)
				rung = r;
	d = early_judge(cx->c, cx->r->ts, cx->r->n, i, x->early_step, rung);
	if (d.action == EARLY_HOLD)
		return 0;
	rc = record(cx, i, &d, d.action == EARLY_STOP ? "stop" : "resume", true,
		    d.action == EARLY_STOP ? "stopped" : NULL);
	if (rc != 0)
		return rc;
	explain(cx->c, &d, d.action == EARLY_STOP ? "stopped it" : "resumed it",
		why, sizeof(why));
	if (job_in(x, live_states))
		cx->ops->act(
		    cx->ops->arg, x->job_id,
		    d.action == EARLY_STOP ? JOB_EV_STOP : JOB_EV_RESUME, why);
	return 1;
}

/* Asks again for what a decision wants and its job does not show. */
static void
follow_up(struct ctx *cx, size_t i)
{
	struct rtrial *x = &cx->r->v[i];
	char why[128];

	if (strcmp(x->mark, "held") == 0 && job_in(x, running_states)) {
		snprintf(why, sizeof(why),
			 "early stopping (%s) holds it paused since step %lld",
			 early_rule_name(cx->c->rule),
			 (long long)x->early_step);
		cx->ops->act(cx->ops->arg, x->job_id, JOB_EV_PAUSE, why);
	} else if (x->mark[0] == '\0' && x->resume_owed &&
		   strcmp(x->job_state, "paused") == 0) {
		snprintf(why, sizeof(why),
			 "early stopping (%s) resumed it at step %lld",
			 early_rule_name(cx->c->rule), (long long)x->decided);
		cx->ops->act(cx->ops->arg, x->job_id, JOB_EV_RESUME, why);
	} else if (strcmp(x->mark, "stopped") == 0 && job_in(x, live_states)) {
		snprintf(why, sizeof(why),
			 "early stopping (%s) stopped it at step %lld",
			 early_rule_name(cx->c->rule),
			 (long long)x->early_step);
		cx->ops->act(cx->ops->arg, x->job_id, JOB_EV_STOP, why);
	}
}

int
early_review(struct store *st, int64_t sweep_id, const struct early_config *c,
	     const struct early_ops *ops, bool starved, double now)
{
	struct review r = {.maximize = c->maximize};
	struct ctx cx = {st, sweep_id, c, ops, &r, now};
	bool runs = false;
	int rc, changed;

	if (c->rule == EARLY_NONE)
		return 0;
	rc = store_early_trials(st, sweep_id, take_trial, &r);
	if (rc == 0) {
		index_trials(&r);
		rc =
		    store_early_points(st, sweep_id, c->metric, take_point, &r);
	}
	for (size_t i = 0; rc == 0 && i < r.n; i++) {
		struct rtrial *x = &r.v[i];

		if (x->mark[0] != '\0' || x->resume_owed)
			follow_up(&cx, i);
		else if (strcmp(x->state, "running") == 0 &&
			 job_in(x, running_states))
			rc = judge_running(&cx, i);
	}
	for (size_t i = 0; i < r.n; i++)
		runs = runs ||
		       (r.v[i].mark[0] == '\0' && job_in(&r.v[i], live_states));
	if (starved && !runs)
		/* Nothing of the sweep runs and its pending trials cannot
		 * start: they come only once held trials are settled. */
		for (size_t i = 0; i < r.n; i++)
			if (strcmp(r.v[i].state, "pending") == 0)
				r.ts[i].open = false;
	/* A decision may settle a held trial, and that another. */
	do {
		changed = 0;
		for (size_t i = 0; rc == 0 && i < r.n; i++) {
			if (strcmp(r.v[i].mark, "held") != 0 ||
			    (strcmp(r.v[i].state, "paused") != 0 &&
			     !job_in(&r.v[i], live_states)))
				continue;
			rc = judge_held(&cx, i);
			if (rc > 0) {
				changed = 1;
				rc = 0;
			}
		}
	} while (rc == 0 && changed);
	review_free(&r);
	return rc;
}
