/*
 * A plan's warnings and its expected cost under early stopping (plan.h):
 * what a person should know before a sweep spends, said before it does.
 */
#include "plan.h"

#include "backend.h"
#include "spec.h"
#include "util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The model behind the expected hours, per trial (a spend is rate x
 * hours, so the cost follows).  Training time is taken as even over the
 * steps, and a trial stopped or held at step s has trained for the hours
 * up to s.  No rule decides with fewer than min_trials trials to compare:
 * with fewer in the sweep (or expected at a rung), every trial goes on.
 *
 *   median  about half the trials are stopped at their first decision
 *           point (grace_steps), the rest run in full.
 *   asha    a trial reaches rung r (step grace_steps * eta^r) with
 *           probability about eta^-r: every trial trains up to rung 0,
 *           and the hours from rung r to the next (or to its end) are
 *           trained by the 1 in eta that rung r promotes.
 *
 * Promotions made while a rung fills and held trials resumed later make
 * the real figure somewhat higher; the full grid stays the worst case.
 */
double
plan_early_hours(const struct early_config *c, size_t n, double hours,
		 int64_t steps, double max_hours)
{
	double full = fmin(hours, max_hours), per_step, e = 0, p = 1, prev = 0;
	double eta = c->reduction_factor, s;

	if (c->rule == EARLY_NONE)
		return full;
	if (steps <= 0 || !isfinite(hours))
		return -1;
	if (n < (size_t)c->min_trials ||
	    (double)c->grace_steps >= (double)steps)
		return full; /* never judged */
	per_step = hours / (double)steps;
	if (c->rule == EARLY_MEDIAN)
		return 0.5 * fmin((double)c->grace_steps * per_step, full) +
		       0.5 * full;
	s = (double)c->grace_steps;
	for (int r = 0; r < EARLY_MAX_RUNGS && s < (double)steps; r++) {
		double at = fmin(s * per_step, full);

		e += p * (at - prev);
		prev = at;
		if ((double)n * p >= c->min_trials)
			p /= eta;
		s *= eta;
	}
	return e + p * (full - prev);
}

/* --- warnings and notes --------------------------------------------------- */

static void add(cJSON *list, const char *code, const char *path,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
add(cJSON *list, const char *code, const char *path, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject();
	char msg[2048]; /* names are short (MAX_NAME), lists cut */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddItemToArray(list, o);
}

/* Appends to a bounded buffer; a long text ends in "...", cut between
 * characters. */
static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	int n;

	if (used + 4 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= len - used) {
		size_t cut = len - 4;

		while (cut > used && ((unsigned char)buf[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(buf + cut, "...", 4);
	}
}

static void
push(const char ***keys, size_t *n, size_t *cap, const char *key)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		*keys = xrealloc(*keys, *cap * sizeof(**keys));
	}
	(*keys)[(*n)++] = key;
}

/*
 * The keys per-grader metrics carry: a grader's key, or for a multi
 * grader the keys of its graders (both the simulator and the provider
 * report a multi grader's parts, not the whole).  NULL-ended; free it.
 */
static const char **
grader_keys(const struct spec *spec)
{
	const char **keys = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < spec->ngraders; i++) {
		const cJSON *subs = cJSON_GetObjectItemCaseSensitive(
		    spec->graders[i].obj, "graders");
		const cJSON *sub;

		if (!cJSON_IsObject(subs))
			push(&keys, &n, &cap, spec->graders[i].name);
		cJSON_ArrayForEach(sub, (cJSON_IsObject(subs) ? subs : NULL))
		    push(&keys, &n, &cap, sub->string);
	}
	push(&keys, &n, &cap, NULL);
	return keys;
}

/* Edit distance, for "did you mean"; names are short (MAX_NAME). */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[130];

	if (la > 128 || lb > 128)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Keeps `candidate` in `near` when it is nearer `name` than *best. */
static void
nearer(const char *name, const char *candidate, size_t *best, char *near,
       size_t nearlen)
{
	size_t d = distance(name, candidate);

	if (d < *best) {
		*best = d;
		snprintf(near, nearlen, "%s", candidate);
	}
}

/*
 * What the backend reports, for a person, in `list`, and in `near` the
 * reported name nearest to `name` (two edits at most), or "".
 */
static void
reported(const struct backend *be, const char *name, const char **keys,
	 char *near, size_t nearlen, char *list, size_t listlen)
{
	static const char *const splits[] = {"train", "valid"};
	const struct backend_metrics *m = be->ops->metrics;
	char candidate[160];
	size_t best = 3;

	near[0] = list[0] = '\0';
	for (const char *const *n = m->names; *n != NULL; n++)
		nearer(name, *n, &best, near, nearlen);
	for (const char **k = keys; m->per_grader && *k != NULL; k++)
		for (size_t i = 0; i < ARRAY_LEN(splits); i++) {
			snprintf(candidate, sizeof(candidate),
				 "grader.%s.%s_reward_mean", *k, splits[i]);
			nearer(name, candidate, &best, near, nearlen);
		}
	for (const char *const *n = m->names; *n != NULL; n++)
		append(list, listlen, "%s%s", n == m->names ? "" : ", ", *n);
	if (!m->per_grader || keys[0] == NULL)
		return;
	append(list, listlen,
	       ", and grader.KEY.train_reward_mean and "
	       "grader.KEY.valid_reward_mean for KEY ");
	for (const char **k = keys; *k != NULL; k++)
		append(list, listlen, "%s%s", k == keys ? "" : ", ", *k);
}

/* Whether `name` is measured on the validation data. */
static bool
validation_metric(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (strncmp(name, "grader.", 7) == 0 && dot != NULL)
		name = dot + 1;
	return strncmp(name, "valid_", 6) == 0 ||
	       strncmp(name, "full_valid_", 11) == 0;
}

/*
 * A metric the sweep depends on: the objective's, or (`early`) the
 * early-stopping rule's.  `defaulted`: the spec does not name it.  On a
 * backend whose jobs may report names of their own (a trainer's), what
 * is not certain is a note, not a warning.
 */
static void
check_metric(const struct plan_facts *f, const char *name, const char *path,
	     bool early, bool defaulted, const char **keys, cJSON *warnings,
	     cJSON *notes)
{
	const struct backend *be = f->be;
	const char *outcome =
	    early ? "the rule would judge no trial and every trial would run "
		    "in full"
		  : "no trial would get an objective value and the "
		    "leaderboard would stay empty";
	enum backend_reports r = backend_reports(be, name, keys);
	char near[160], list[640];

	if (r == BACKEND_REPORTS_UNKNOWN)
		return;
	if (r == BACKEND_REPORTS_NO) {
		reported(be, name, keys, near, sizeof(near), list,
			 sizeof(list));
		add(warnings, "unknown_metric", path,
		    "'%s' is not a metric that jobs of backend %s "
		    "report%s%s%s, so %s; they report %s",
		    name, be->name, near[0] ? " (did you mean " : "", near,
		    near[0] ? "?)" : "", outcome, list);
		return;
	}
	if (r == BACKEND_REPORTS_MAYBE)
		add(notes, "metric_not_known", path,
		    "'%s' is not a name rftd knows (train_reward_mean, "
		    "valid_reward_mean); backend %s runs a trainer, which may "
		    "report names of its own: check that it writes '%s' (if "
		    "not, %s)",
		    name, be->name, name, outcome);
	if (!validation_metric(name) || f->spec->validation_file != NULL)
		return;
	if (be->ops->metrics->open)
		add(notes, "no_validation_file", path,
		    "'%s' is measured on validation data and the spec has no "
		    "validation_file: the trainer reports it only if it "
		    "validates on data of its own",
		    name);
	else
		add(warnings, "no_validation_file", path,
		    "%s'%s'%s measured on validation data, and the spec has "
		    "no validation_file: jobs report no valid_* metric "
		    "without one, so %s%s; add validation_file, or choose a "
		    "train_* metric",
		    defaulted ? "without objective, the objective is " : "",
		    name, defaulted ? ", which is" : " is", outcome,
		    be->caps & BACKEND_SIMULATED
			? " (the simulator reports one all the same; a "
			  "provider would not)"
			: "");
}

/* --- datasets ------------------------------------------------------------ */

static void
human_bytes(char *buf, size_t len, unsigned long long n)
{
	static const char *const units[] = {"kB", "MB", "GB"};
	double v = (double)n;
	size_t u = 0;

	if (n < 1000) {
		snprintf(buf, len, "%llu bytes", n);
		return;
	}
	for (v /= 1000; v >= 1000 && u + 1 < ARRAY_LEN(units); u++)
		v /= 1000;
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

/*
 * What the spec's datasets hold, for the person who plans: "datasets"
 * in `out`, and a note for each read by rftd.
 */
static void
report_datasets(const struct spec *spec, cJSON *out, cJSON *notes)
{
	const struct {
		const char *path, *file;
		const struct dataset_facts *f;
	} sets[] = {
	    {"/training_file", spec->training_file, spec->training_facts},
	    {"/validation_file", spec->validation_file,
	     spec->validation_facts}};
	cJSON *list = cJSON_AddArrayToObject(out, "datasets");

	for (size_t i = 0; i < ARRAY_LEN(sets); i++) {
		const struct dataset_facts *f = sets[i].f;
		cJSON *d, *fields;
		char size[32];

		if (sets[i].file == NULL)
			continue;
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "path", sets[i].path);
		cJSON_AddStringToObject(d, "file", sets[i].file);
		cJSON_AddItemToArray(list, d);
		if (f == NULL) {
			/* A provider's file id: the provider checks it. */
			cJSON_AddBoolToObject(d, "read", false);
			continue;
		}
		cJSON_AddBoolToObject(d, "read", true);
		cJSON_AddNumberToObject(d, "bytes", (double)f->bytes);
		cJSON_AddNumberToObject(d, "examples", (double)f->examples);
		cJSON_AddBoolToObject(d, "examples_checked",
				      spec->examples_checked);
		cJSON_AddNumberToObject(d, "checked", (double)f->checked);
		cJSON_AddBoolToObject(d, "sampled", f->sampled);
		fields = cJSON_AddArrayToObject(d, "fields");
		for (size_t k = 0; k < f->nfields; k++)
			cJSON_AddItemToArray(
			    fields, cJSON_CreateString(f->fields[k].name));
		human_bytes(size, sizeof(size), f->bytes);
		if (!spec->examples_checked)
			add(notes, "dataset", sets[i].path,
			    "%llu lines, %s; what they hold is for the "
			    "backend's trainer to read, so rftd does not check "
			    "them as RFT examples",
			    f->examples, size);
		else if (f->sampled)
			add(notes, "dataset", sets[i].path,
			    "%llu examples, %s; the %llu in its first %u MiB "
			    "were checked (a sample: the rest was only "
			    "counted)",
			    f->examples, size, f->checked,
			    DATASET_CHECK_BYTES >> 20);
		else
			add(notes, "dataset", sets[i].path,
			    "%llu example%s, %s, every one checked",
			    f->examples, f->examples == 1 ? "" : "s", size);
	}
}

int
plan_check(const struct plan_facts *f, cJSON *out)
{
	const struct spec *spec = f->spec;
	cJSON *warnings = cJSON_AddArrayToObject(out, "warnings");
	cJSON *notes = cJSON_AddArrayToObject(out, "notes");
	const char **keys = grader_keys(spec);
	bool defaulted =
	    cJSON_GetObjectItemCaseSensitive(spec->root, "objective") == NULL;
	size_t cut = 0, runs = 0;
	double longest = 0;

	check_metric(f, spec->objective_metric,
		     defaulted ? "/objective" : "/objective/metric", false,
		     defaulted, keys, warnings, notes);
	if (spec->early.rule != EARLY_NONE &&
	    strcmp(spec->early.metric, spec->objective_metric) != 0)
		check_metric(f, spec->early.metric, "/early_stopping/metric",
			     true, false, keys, warnings, notes);
	free(keys);
	report_datasets(spec, out, notes);

	for (size_t i = 0; i < spec->ntrials; i++) {
		const struct plan_trial *t = &f->trials[i];

		if (!t->runs)
			continue;
		runs++;
		/* A backend that cannot tell (HUGE_VAL) cuts nothing
		 * certainly. */
		if (isfinite(t->hours) &&
		    t->hours > f->max_hours * (1 + 1e-9)) {
			cut++;
			longest = fmax(longest, t->hours);
		}
	}
	if (cut > 0)
		add(warnings, "cut_by_max_job_hours", "/max_job_hours",
		    "%zu of the %zu trials that run are estimated to train "
		    "longer than max_job_hours (%g h%s; the longest %.2f h): "
		    "they would be cancelled at %g h, before they end, "
		    "having spent their whole worst case; raise "
		    "max_job_hours, or make those trials shorter",
		    cut, runs, f->max_hours,
		    spec->max_job_hours > 0
			? ""
			: ", rftd's default_max_job_hours: the spec sets none",
		    longest, f->max_hours);
	if (f->confirm_above >= 0 && f->worst_usd > f->confirm_above)
		add(warnings, "above_confirm_above", "/",
		    "the worst case, $%.2f, is more than $%.2f ([budget] "
		    "confirm_above of rftd's configuration)",
		    f->worst_usd, f->confirm_above);
	return cJSON_GetArraySize(warnings);
}

void
plan_warnings_text(const cJSON *warnings, char *buf, size_t len)
{
	const cJSON *w;

	buf[0] = '\0';
	cJSON_ArrayForEach(w, warnings)
	{
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(w, "path");
		const cJSON *msg =
		    cJSON_GetObjectItemCaseSensitive(w, "message");

		append(buf, len, "%s: %s\n",
		       cJSON_IsString(path) ? path->valuestring : "/",
		       cJSON_IsString(msg) ? msg->valuestring : "?");
	}
}
