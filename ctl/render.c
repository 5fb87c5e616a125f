/* Text for rftd's replies (see render.h): pure, no I/O but the streams. */
#include "render.h"

#include "jsonutil.h"
#include "table.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *
str(const cJSON *obj, const char *key, const char *fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : fallback;
}

static double
num(const cJSON *obj, const char *key, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static bool
flag(const cJSON *obj, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A number for a cell: integers plainly, others with 4 significant. */
static void
fmt_num(char *buf, size_t len, const cJSON *v)
{
	if (!cJSON_IsNumber(v))
		snprintf(buf, len, "-");
	else if (v->valuedouble == floor(v->valuedouble) &&
		 fabs(v->valuedouble) < 1e15)
		snprintf(buf, len, "%.0f", v->valuedouble);
	else
		snprintf(buf, len, "%.4g", v->valuedouble);
}

/* "lr=0.5 epochs=2 effort=low": hyperparameters, short names. */
static void
fmt_hps(char *buf, size_t len, const cJSON *hps)
{
	static const struct {
		const char *name, *shortname;
	} names[] = {{"learning_rate_multiplier", "lr"},
		     {"n_epochs", "epochs"},
		     {"batch_size", "batch"},
		     {"reasoning_effort", "effort"},
		     {"compute_multiplier", "compute"},
		     {"eval_interval", "eval_every"},
		     {"eval_samples", "eval_n"}};
	const cJSON *h;
	size_t used = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(h, hps)
	{
		const char *n = h->string;
		char value[32];

		for (size_t i = 0; i < ARRAY_LEN(names); i++)
			if (strcmp(names[i].name, n) == 0)
				n = names[i].shortname;
		if (cJSON_IsString(h))
			snprintf(value, sizeof(value), "%s", h->valuestring);
		else
			fmt_num(value, sizeof(value), h);
		if (used < len)
			used +=
			    (size_t)snprintf(buf + used, len - used, "%s%s=%s",
					     used ? " " : "", n, value);
	}
}

static void
fmt_time(char *buf, size_t len, const cJSON *v)
{
	time_t t;
	struct tm tm;

	if (!cJSON_IsNumber(v)) {
		snprintf(buf, len, "-");
		return;
	}
	t = (time_t)v->valuedouble;
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static const char *
sim_tag(const cJSON *obj)
{
	return flag(obj, "simulated") ? " [simulated]" : "";
}

/*
 * Dollars for a cell: "$12.30", "sim$12.30" when they are simulated, or
 * `missing` when there is no figure.  Less than a cent keeps two
 * significant digits ("$0.0024", "$0.000061": short runs on one GPU), so
 * that a cost is never shown as $0.00 when it is not.
 */
static void
fmt_money(char *buf, size_t len, const cJSON *v, bool simulated,
	  const char *missing)
{
	const char *sim = simulated ? "sim" : "";
	int decimals = 2;

	if (!cJSON_IsNumber(v)) {
		snprintf(buf, len, "%s", missing);
		return;
	}
	if (v->valuedouble != 0 && fabs(v->valuedouble) < 0.01)
		decimals = (int)fmin(9, 1 - floor(log10(fabs(v->valuedouble))));
	snprintf(buf, len, "%s$%.*f", sim, decimals, v->valuedouble);
}

void
render_json(const struct render_opts *ro, const cJSON *result)
{
	char *text = cJSON_Print(result);

	fprintf(ro->out, "%s\n", text ? text : "null");
	free(text);
}

void
render_error(const struct render_opts *ro, const struct proto_reply *rep)
{
	const cJSON *errors = get(rep->data, "errors");
	const cJSON *warnings = get(rep->data, "warnings");
	const cJSON *e;

	if (rep->code == PROTO_E_REFUSED && cJSON_GetArraySize(warnings) > 0) {
		/* A plan's warnings, not confirmed: each with its path. */
		fprintf(ro->err,
			"rftctl: %s: the plan has %d warning%s and nothing "
			"was stored; submit --yes goes ahead all the same:\n",
			ro->spec_path ? ro->spec_path : "spec",
			cJSON_GetArraySize(warnings),
			cJSON_GetArraySize(warnings) == 1 ? "" : "s");
		cJSON_ArrayForEach(e, warnings)
		    fprintf(ro->err, "  %s: %s\n", str(e, "path", "/"),
			    str(e, "message", "?"));
		return;
	}
	if (!cJSON_IsArray(errors)) {
		fprintf(ro->err, "rftctl: %s (%s)\n", rep->message,
			proto_error_text(rep->code));
		if (cJSON_IsString(get(rep->data, "config_errors")))
			fputs(str(rep->data, "config_errors", ""), ro->err);
		return;
	}
	/* A rejected spec: every problem with its JSON path. */
	fprintf(ro->err, "rftctl: %s: the spec has %d problem%s:\n",
		ro->spec_path ? ro->spec_path : "spec",
		cJSON_GetArraySize(errors),
		cJSON_GetArraySize(errors) == 1 ? "" : "s");
	cJSON_ArrayForEach(e, errors) fprintf(
	    ro->err, "  %s: %s\n", str(e, "path", "/"), str(e, "message", "?"));
}

static void
format_duration(double s, char *buf, size_t len)
{
	unsigned long long t = (unsigned long long)floor(s);

	if (t >= 86400)
		snprintf(buf, len, "%llud%lluh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(buf, len, "%lluh%llum", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, len, "%llum%llus", t / 60, t % 60);
	else
		snprintf(buf, len, "%.1fs", s);
}

void
render_status(const struct render_opts *ro, const cJSON *r)
{
	const cJSON *t, *b, *store;
	char up[32];

	format_duration(num(r, "uptime_s", 0), up, sizeof(up));
	fprintf(ro->out, "rftd %s, pid %.0f, up %s\n", str(r, "version", "?"),
		num(r, "pid", 0), up);
	fprintf(ro->out, "  socket    %s\n", str(r, "socket", "?"));
	fprintf(ro->out, "  database  %s (schema %.0f)\n",
		str(r, "database", "?"), num(r, "schema_version", 0));
	if (get(r, "dashboard") != NULL)
		fprintf(ro->out, "  dashboard %s\n", str(r, "dashboard", "?"));
	fprintf(ro->out, "  clients   %.0f\n", num(r, "clients", 0));
	fprintf(ro->out, "  log level %s\n", str(r, "log_level", "?"));
	store = get(r, "store");
	if (cJSON_IsFalse(get(store, "writable"))) {
		char since[32];

		fmt_time(since, sizeof(since), get(store, "since"));
		fprintf(ro->out,
			"  store     REFUSES WRITES since %s: %s\n"
			"            (polls and submissions wait; budgets stay "
			"enforced)\n",
			since, str(store, "error", "?"));
	} else if (store != NULL) {
		fprintf(ro->out, "  store     writable\n");
	}
	fprintf(ro->out, "  backends:\n");
	cJSON_ArrayForEach(b, get(r, "backends"))
	{
		const cJSON *hold = get(b, "hold");

		fprintf(ro->out, "    %-14s %s%s, at most %.0f jobs at once\n",
			str(b, "name", "?"), str(b, "type", "?"), sim_tag(b),
			num(b, "max_concurrent", 0));
		if (hold != NULL) {
			char until[32];

			fmt_time(until, sizeof(until), get(hold, "until"));
			if (cJSON_IsNumber(get(hold, "until")))
				fprintf(ro->out,
					"    %-14s submissions held until %s: "
					"%s\n",
					"", until, str(hold, "reason", "?"));
			else
				fprintf(ro->out,
					"    %-14s submissions held: %s\n", "",
					str(hold, "reason", "?"));
		}
	}
	fprintf(ro->out, "  rows:\n");
	cJSON_ArrayForEach(t, get(r, "tables"))
	{
		if (cJSON_IsNumber(t))
			fprintf(ro->out, "    %-14s %.0f\n", t->string,
				t->valuedouble);
	}
}

void
render_ping(const struct render_opts *ro, const char *socket, double ms)
{
	fprintf(ro->out, "rftd at %s answered in %.3f ms\n", socket, ms);
}

void
render_reload(const struct render_opts *ro, const cJSON *r)
{
	fprintf(ro->out, "rftd reloaded %s\n",
		str(r, "config", "its configuration"));
	if (str(r, "needs_restart", "")[0] != '\0')
		fprintf(ro->out,
			"changed options that take a restart to apply: %s\n",
			str(r, "needs_restart", ""));
}

static void
fmt_usd(char *buf, size_t len, const cJSON *v)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, len, "$%.2f", v->valuedouble);
	else
		snprintf(buf, len, "none");
}

void
render_budget(const struct render_opts *ro, const cJSON *r)
{
	static const char *const headers[] = {"SCOPE",	  "LIMIT", "ACTION",
					      "RESERVED", "SPENT", "REMAINING",
					      "SWEEP"};
	struct table *tab = table_new(7, headers);
	const cJSON *s;
	bool any_sim = false;

	cJSON_ArrayForEach(s, get(r, "scopes"))
	{
		char limit[32], reserved[32], spent[32], remaining[32];
		bool sim = flag(s, "simulated");
		const char *cells[7] = {str(s, "scope", "?"),
					limit,
					str(s, "action", "?"),
					reserved,
					spent,
					remaining,
					str(s, "name", "-")};

		fmt_money(limit, sizeof(limit), get(s, "limit_usd"), sim,
			  "none");
		fmt_money(reserved, sizeof(reserved), get(s, "reserved_usd"),
			  sim, "none");
		fmt_money(spent, sizeof(spent), get(s, "spent_usd"), sim,
			  "none");
		fmt_money(remaining, sizeof(remaining), get(s, "remaining_usd"),
			  sim, "none");
		table_add(tab, cells);
		any_sim = any_sim || sim;
	}
	table_print(tab, ro->out, ro->width);
	table_free(tab);
	if (any_sim)
		fprintf(ro->out,
			"sim$: simulated dollars; they count against the "
			"global, day and month budgets too\n");
}

void
render_plan(const struct render_opts *ro, const cJSON *r)
{
	static const char *const headers[] = {"#", "GRADER", "SEED",
					      "HYPERPARAMETERS"};
	const cJSON *g, *t, *e = get(r, "estimated_hours");
	struct table *tab;
	char hps[512], seed[32], ord[32];
	int n = 0;

	fprintf(ro->out, "sweep \"%s\" on %s%s, model %s\n",
		str(r, "name", "?"), str(r, "backend", "?"), sim_tag(r),
		str(r, "model", "?"));
	fprintf(ro->out, "%.0f trials; objective %s (%s)\n",
		num(r, "trials", 0), str(r, "objective_metric", "?"),
		str(r, "objective_mode", "?"));
	fprintf(ro->out, "graders:");
	cJSON_ArrayForEach(g, get(r, "graders"))
	    fprintf(ro->out, "%s %s (%s)", n++ ? "," : "", str(g, "name", "?"),
		    str(g, "type", "?"));
	fprintf(ro->out,
		"\nestimated training hours per job: %.2f to %.2f (mean "
		"%.2f), %.1f for the whole sweep\n",
		num(e, "min", 0), num(e, "max", 0), num(e, "mean", 0),
		num(e, "total", 0));
	if (cJSON_IsNumber(get(e, "gpu_hours")))
		fprintf(ro->out, "GPU-hours: up to %.1f (%g GPU%s per job)\n",
			num(e, "gpu_hours", 0), num(e, "gpus_per_job", 0),
			num(e, "gpus_per_job", 0) == 1 ? "" : "s");
	{
		const cJSON *b = get(r, "bill");
		char room[32];

		fmt_usd(room, sizeof(room), get(b, "room_usd"));
		fprintf(
		    ro->out,
		    "bill%s: worst case $%.2f ($%.2f/h x %g h max per job, "
		    "$%.2f per job), expected $%.2f\n",
		    flag(r, "simulated") ? " (simulated dollars)" : "",
		    num(b, "worst_case_usd", 0), num(b, "rate_usd_per_hour", 0),
		    num(b, "max_job_hours", 0), num(b, "worst_per_job_usd", 0),
		    num(b, "expected_usd", 0));
		if (cJSON_IsNumber(get(b, "room_usd")))
			fprintf(ro->out,
				"budgets: %s of room (tightest: %s); %.0f jobs "
				"fit at once\n",
				room, str(b, "tightest", "?"),
				num(b, "jobs_fit_at_once", 0));
		else
			fprintf(ro->out, "budgets: no limit applies\n");
		if (cJSON_IsNumber(get(b, "expected_cost_usd")))
			fprintf(ro->out,
				"early stopping (%s): expected about $%.2f, an "
				"estimate (full grid $%.2f, worst case "
				"$%.2f)\n",
				str(b, "early_stopping", "?"),
				num(b, "expected_cost_usd", 0),
				num(b, "expected_usd", 0),
				num(b, "worst_case_usd", 0));
		else if (cJSON_IsString(get(b, "early_stopping")))
			fprintf(ro->out,
				"early stopping (%s): expected cost %s\n",
				str(b, "early_stopping", "?"),
				str(b, "expected_cost_note", "unknown"));
	}
	if (flag(r, "reuse"))
		fprintf(ro->out,
			"--reuse: %.0f of the %.0f trials run; %.0f stored "
			"ones are linked instead (they ended, or run under "
			"an earlier sweep) and the bill leaves them out\n",
			num(r, "trials_to_run", 0), num(r, "trials", 0),
			num(r, "reused", 0));
	else if (num(r, "already_stored", 0) > 0)
		fprintf(ro->out,
			"%.0f of these trials are already stored: submit "
			"--reuse links them instead of running them again\n",
			num(r, "already_stored", 0));
	cJSON_ArrayForEach(t, get(r, "warnings"))
	    fprintf(ro->out, "warning: %s: %s\n", str(t, "path", "/"),
		    str(t, "message", "?"));
	cJSON_ArrayForEach(t, get(r, "notes"))
	    fprintf(ro->out, "note: %s: %s\n", str(t, "path", "/"),
		    str(t, "message", "?"));
	if (cJSON_GetArraySize(get(r, "warnings")) > 0)
		fprintf(ro->out, "submit refuses this spec unless given "
				 "--yes\n");
	tab = table_new(4, headers);
	cJSON_ArrayForEach(t, get(r, "preview"))
	{
		const char *cells[4];

		fmt_num(ord, sizeof(ord), get(t, "ordinal"));
		fmt_num(seed, sizeof(seed), get(t, "seed"));
		fmt_hps(hps, sizeof(hps), get(t, "hyperparameters"));
		cells[0] = ord;
		cells[1] = str(t, "grader", "?");
		cells[2] = seed;
		cells[3] = hps;
		table_add(tab, cells);
	}
	fprintf(ro->out, "\nfirst trials:\n");
	table_print(tab, ro->out, ro->width);
	table_free(tab);
	if (num(r, "trials", 0) > cJSON_GetArraySize(get(r, "preview")))
		fprintf(ro->out, "... and %.0f more\n",
			num(r, "trials", 0) -
			    cJSON_GetArraySize(get(r, "preview")));
}

void
render_submit(const struct render_opts *ro, const cJSON *r)
{
	const cJSON *w;

	fprintf(ro->out, "sweep %.0f \"%s\" submitted: %.0f trials",
		num(r, "sweep_id", 0), str(r, "name", "?"),
		num(r, "trials", 0));
	if (num(r, "reused", 0) > 0)
		fprintf(ro->out, ", %.0f reused from earlier sweeps",
			num(r, "reused", 0));
	fprintf(ro->out, "%s\n", flag(r, "simulated") ? " (simulated)" : "");
	cJSON_ArrayForEach(w, get(r, "warnings"))
	    fprintf(ro->out, "confirmed warning: %s: %s\n", str(w, "path", "/"),
		    str(w, "message", "?"));
}

static void
fmt_counts(char *buf, size_t len, const cJSON *counts)
{
	const cJSON *c;
	size_t used = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(c, counts)
	{
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used,
						 "%s%s %.0f", used ? ", " : "",
						 c->string, c->valuedouble);
	}
}

void
render_sweeps(const struct render_opts *ro, const cJSON *r)
{
	static const char *const headers[] = {"ID",    "NAME",	  "BACKEND",
					      "STATE", "TRIALS",  "BEST",
					      "SPENT", "CREATED", "PROGRESS"};
	struct table *tab = table_new(9, headers);
	const cJSON *s;

	cJSON_ArrayForEach(s, get(r, "sweeps"))
	{
		char id[32], trials[32], best[32], spent[32], created[32],
		    progress[256], backend[96];
		const char *cells[9] = {id,	 str(s, "name", "?"),
					backend, str(s, "state", "?"),
					trials,	 best,
					spent,	 created,
					progress};

		fmt_num(id, sizeof(id), get(s, "id"));
		fmt_num(trials, sizeof(trials), get(s, "trials"));
		fmt_num(best, sizeof(best), get(s, "best"));
		fmt_money(spent, sizeof(spent), get(s, "spent_usd"),
			  flag(s, "simulated"), "-");
		fmt_time(created, sizeof(created), get(s, "created_at"));
		fmt_counts(progress, sizeof(progress), get(s, "counts"));
		snprintf(backend, sizeof(backend), "%s%s",
			 str(s, "backend", "?"), sim_tag(s));
		table_add(tab, cells);
	}
	table_print(tab, ro->out, ro->width);
	table_free(tab);
}

void
render_sweep(const struct render_opts *ro, const cJSON *r)
{
	static const char *const headers[] = {"#",
					      "TRIAL",
					      "STATE",
					      "GRADER",
					      "SEED",
					      "TRIES",
					      "CURRENT",
					      "BEST",
					      "COST",
					      "JOB",
					      "HYPERPARAMETERS / WHY PENDING"};
	struct table *tab = table_new(11, headers);
	bool sim = flag(r, "simulated");
	const cJSON *t;
	char created[32], spent[32], budget[32];

	fmt_time(created, sizeof(created), get(r, "created_at"));
	fprintf(ro->out, "sweep %.0f \"%s\": %s, on %s%s, model %s\n",
		num(r, "id", 0), str(r, "name", "?"), str(r, "state", "?"),
		str(r, "backend", "?"), sim_tag(r), str(r, "model", "?"));
	fprintf(ro->out, "created %s; objective %s (%s); priority %.0f",
		created, str(r, "objective_metric", "?"),
		str(r, "objective_mode", "?"), num(r, "priority", 0));
	if (cJSON_IsNumber(get(r, "max_concurrent")))
		fprintf(ro->out, "; max_concurrent %.0f",
			num(r, "max_concurrent", 0));
	if (cJSON_IsNumber(get(r, "max_job_hours")))
		fprintf(ro->out, "; max_job_hours %g",
			num(r, "max_job_hours", 0));
	fprintf(ro->out, "; retries %.0f\n", num(r, "retries", 0));
	fmt_money(spent, sizeof(spent), get(r, "spent_usd"), sim, "?");
	fprintf(ro->out, "spent %s", spent);
	if (cJSON_IsNumber(get(r, "budget_usd"))) {
		fmt_money(budget, sizeof(budget), get(r, "budget_usd"), sim,
			  "?");
		fprintf(ro->out, " of its budget_usd %s", budget);
	}
	fprintf(ro->out, "\n\n");
	cJSON_ArrayForEach(t, get(r, "trials"))
	{
		const cJSON *job = get(t, "job");
		char ord[16], id[16], seed[16], tries[16], cur[32], best[32],
		    cost[32], jobid[16], hps[512];
		const char *cells[11] = {ord,
					 id,
					 str(t, "state", "?"),
					 str(t, "grader", "?"),
					 seed,
					 tries,
					 cur,
					 best,
					 cost,
					 jobid,
					 hps};

		fmt_num(ord, sizeof(ord), get(t, "ordinal"));
		fmt_num(id, sizeof(id), get(t, "id"));
		fmt_num(seed, sizeof(seed), get(t, "seed"));
		fmt_num(tries, sizeof(tries), get(t, "attempts"));
		fmt_num(cur, sizeof(cur), get(t, "current"));
		fmt_num(best, sizeof(best), get(t, "objective"));
		fmt_money(cost, sizeof(cost), get(t, "cost_usd"), sim, "-");
		fmt_num(jobid, sizeof(jobid), get(job, "id"));
		if (cJSON_IsString(get(t, "pending_reason")) &&
		    strcmp(str(t, "state", ""), "pending") == 0)
			snprintf(hps, sizeof(hps), "%s",
				 str(t, "pending_reason", ""));
		else
			fmt_hps(hps, sizeof(hps), get(t, "hyperparameters"));
		table_add(tab, cells);
	}
	table_print(tab, ro->out, ro->width);
	table_free(tab);
}

/* ", every state", ", states failed,cancelled": which trials a
 * leaderboard ranks, unless the finished ones (rftctl's default), or
 * unless the reply does not say (an rftd that ranks every state). */
static void
fmt_states(char *buf, size_t len, const char *state)
{
	if (state == NULL || strcmp(state, "finished") == 0)
		buf[0] = '\0';
	else if (strcmp(state, "all") == 0)
		snprintf(buf, len, ", every state");
	else
		snprintf(buf, len, ", state%s %s",
			 strchr(state, ',') ? "s" : "", state);
}

void
render_leaderboard(const struct render_opts *ro, const cJSON *r)
{
	/* For a min objective the value is 1 / (objective x cost): not a
	 * reward per dollar, but higher is better all the same. */
	bool min = strcmp(str(r, "objective_mode", "max"), "min") == 0;
	const char *metric = str(r, "metric", NULL);
	char ranked[64] = "OBJECTIVE", states[96];
	const char *const headers[] = {
	    "RANK",  "TRIAL",	       "GRADER",
	    "SEED",  "STATE",	       ranked,
	    "STEP",  "COST",	       min ? "VALUE/$" : "REWARD/$",
	    "MODEL", "HYPERPARAMETERS"};
	struct table *tab;
	bool sim = flag(r, "simulated");
	const char *state = str(r, "state", NULL);
	const cJSON *row;

	/* By another metric, its column is named after it. */
	if (metric != NULL) {
		size_t i = 0;

		for (; metric[i] != '\0' && i + 1 < sizeof(ranked); i++)
			ranked[i] = (char)toupper((unsigned char)metric[i]);
		ranked[i] = '\0';
	}
	tab = table_new(11, headers);
	fmt_states(states, sizeof(states), state);
	if (metric != NULL)
		fprintf(ro->out,
			"sweep %.0f \"%s\"%s: %s (%s), each trial's best%s; "
			"objective %s\n",
			num(r, "sweep_id", 0), str(r, "name", "?"), sim_tag(r),
			metric, str(r, "objective_mode", "?"), states,
			str(r, "objective_metric", "?"));
	else
		fprintf(ro->out, "sweep %.0f \"%s\"%s: %s (%s)%s%s\n",
			num(r, "sweep_id", 0), str(r, "name", "?"), sim_tag(r),
			str(r, "objective_metric", "?"),
			str(r, "objective_mode", "?"),
			strcmp(str(r, "by", "objective"), "value") == 0
			    ? (min ? ", ranked by value per dollar"
				   : ", ranked by reward per dollar")
			    : "",
			states);
	cJSON_ArrayForEach(row, get(r, "rows"))
	{
		char rank[16], id[16], seed[16], obj[32], step[16], cost[32],
		    value[32], hps[512];
		const char *cells[11] = {rank,
					 id,
					 str(row, "grader", "?"),
					 seed,
					 str(row, "state", "?"),
					 obj,
					 step,
					 cost,
					 value,
					 str(row, "model", "-"),
					 hps};

		fmt_num(rank, sizeof(rank), get(row, "rank"));
		fmt_num(id, sizeof(id), get(row, "trial_id"));
		fmt_num(seed, sizeof(seed), get(row, "seed"));
		snprintf(obj, sizeof(obj), "%.4f",
			 num(row, metric ? "metric_value" : "objective", 0));
		fmt_num(step, sizeof(step),
			get(row, metric ? "metric_step" : "best_step"));
		fmt_money(cost, sizeof(cost), get(row, "cost_usd"), sim, "-");
		/* Cheap runs return thousands per dollar: no exponent. */
		if (num(row, "reward_per_usd", 0) >= 1e4)
			snprintf(value, sizeof(value), "%.0f",
				 num(row, "reward_per_usd", 0));
		else
			fmt_num(value, sizeof(value),
				get(row, "reward_per_usd"));
		fmt_hps(hps, sizeof(hps), get(row, "hyperparameters"));
		table_add(tab, cells);
	}
	table_print(tab, ro->out, ro->width);
	table_free(tab);
	if (cJSON_GetArraySize(get(r, "rows")) == 0 && state != NULL &&
	    strcmp(state, "all") != 0)
		fprintf(ro->out,
			"(no %s trial has a value yet; --state all ranks the "
			"others)\n",
			strcmp(state, "finished") == 0 ? "finished" : "such");
}

void
render_jobs(const struct render_opts *ro, const cJSON *r)
{
	static const char *const headers[] = {"JOB",   "SWEEP", "TRIAL",
					      "TRY",   "STATE", "BACKEND",
					      "HOURS", "COST",	"REMOTE ID"};
	struct table *tab = table_new(9, headers);
	const cJSON *j;

	cJSON_ArrayForEach(j, get(r, "jobs"))
	{
		char id[16], sweep[16], trial[16], att[16], hours[32], cost[32],
		    backend[96];
		const char *cells[9] = {id,
					sweep,
					trial,
					att,
					str(j, "state", "?"),
					backend,
					hours,
					cost,
					str(j, "remote_id", "-")};

		fmt_num(id, sizeof(id), get(j, "id"));
		fmt_num(sweep, sizeof(sweep), get(j, "sweep_id"));
		fmt_num(trial, sizeof(trial), get(j, "trial_id"));
		fmt_num(att, sizeof(att), get(j, "attempt"));
		snprintf(hours, sizeof(hours), "%.2f",
			 num(j, "billed_seconds", 0) / 3600);
		fmt_money(cost, sizeof(cost), get(j, "cost_usd"),
			  flag(j, "simulated"), "-");
		snprintf(backend, sizeof(backend), "%s%s",
			 str(j, "backend", "?"), sim_tag(j));
		table_add(tab, cells);
	}
	table_print(tab, ro->out, ro->width);
	table_free(tab);
}

void
render_job(const struct render_opts *ro, const cJSON *r)
{
	static const char *const mheaders[] = {"METRIC", "POINTS", "LAST STEP",
					       "LAST",	 "MIN",	   "MAX"};
	const cJSON *e, *m;
	struct table *tab;
	char hps[512], t1[32], t2[32], t3[32];

	fmt_hps(hps, sizeof(hps), get(r, "hyperparameters"));
	fprintf(ro->out,
		"job %.0f (trial %.0f, attempt %.0f of sweep %.0f \"%s\"): "
		"%s%s\n",
		num(r, "id", 0), num(r, "trial_id", 0), num(r, "attempt", 0),
		num(r, "sweep_id", 0), str(r, "sweep", "?"),
		str(r, "state", "?"), sim_tag(r));
	fprintf(ro->out,
		"  backend          %s (remote id %s, provider status %s)\n",
		str(r, "backend", "?"), str(r, "remote_id", "-"),
		str(r, "provider_status", "-"));
	fprintf(ro->out, "  intent key       %s\n", str(r, "intent_key", "?"));
	fprintf(ro->out, "  model            %s\n", str(r, "model", "?"));
	if (cJSON_IsString(get(r, "fine_tuned_model")))
		fprintf(ro->out, "  fine-tuned model %s\n",
			str(r, "fine_tuned_model", ""));
	fprintf(ro->out, "  grader           %s (%s)\n", str(r, "grader", "?"),
		str(get(r, "grader_spec"), "type", "?"));
	fprintf(ro->out, "  hyperparameters  %s\n",
		hps[0] ? hps : "(all auto)");
	if (cJSON_IsNumber(get(r, "seed")))
		fprintf(ro->out, "  seed             %.0f\n",
			num(r, "seed", 0));
	fmt_time(t1, sizeof(t1), get(r, "created_at"));
	fmt_time(t2, sizeof(t2), get(r, "started_at"));
	fmt_time(t3, sizeof(t3), get(r, "finished_at"));
	fprintf(ro->out, "  created %s, started %s, finished %s\n", t1, t2, t3);
	fprintf(ro->out, "  training time    %.2f h\n",
		num(r, "billed_seconds", 0) / 3600);
	fmt_money(t1, sizeof(t1), get(r, "cost_usd"), flag(r, "simulated"),
		  "-");
	fprintf(ro->out, "  cost             %s%s\n", t1,
		strcmp(str(r, "cost_quality", ""), "provider") == 0
		    ? " (the provider's figure)"
		: cJSON_IsString(get(r, "cost_quality"))
		    ? " (estimated: training hours x rate)"
		    : "");
	if (cJSON_IsString(get(r, "error")))
		fprintf(ro->out, "  error            %s\n",
			str(r, "error", ""));
	fprintf(ro->out, "\nevents:\n");
	cJSON_ArrayForEach(e, get(r, "events"))
	{
		fmt_time(t1, sizeof(t1), get(e, "at"));
		fprintf(ro->out, "  %s  %-5s %s\n", t1, str(e, "level", ""),
			str(e, "message", ""));
	}
	{
		double all = num(r, "events_total", 0);
		int shown = cJSON_GetArraySize(get(r, "events"));

		if (all > shown)
			fprintf(
			    ro->out,
			    "  (%.0f more: metrics events, summed up below, "
			    "and older ones; all in the job_events table)\n",
			    all - shown);
	}
	tab = table_new(6, mheaders);
	cJSON_ArrayForEach(m, get(r, "metrics"))
	{
		char pts[16], last_step[16], last[32], lo[32], hi[32];
		const char *cells[6] = {
		    str(m, "name", "?"), pts, last_step, last, lo, hi};

		fmt_num(pts, sizeof(pts), get(m, "points"));
		fmt_num(last_step, sizeof(last_step), get(m, "last_step"));
		fmt_num(last, sizeof(last), get(m, "last"));
		fmt_num(lo, sizeof(lo), get(m, "min"));
		fmt_num(hi, sizeof(hi), get(m, "max"));
		table_add(tab, cells);
	}
	fprintf(ro->out, "\nmetrics:\n");
	table_print(tab, ro->out, ro->width);
	table_free(tab);
}

void
render_job_action(const struct render_opts *ro, const cJSON *r)
{
	fprintf(ro->out, "job %.0f: %s\n", num(r, "id", 0),
		str(r, "state", "?"));
}

void
render_sweep_action(const struct render_opts *ro, const cJSON *r)
{
	fprintf(ro->out, "sweep %.0f \"%s\": %s (%.0f jobs affected)\n",
		num(r, "id", 0), str(r, "name", "?"), str(r, "state", "?"),
		num(r, "jobs_affected", 0));
}

/* --- watch ---------------------------------------------------------------- */

void
render_watch_start(const struct render_opts *ro, const char *clock,
		   const cJSON *sweep)
{
	fprintf(ro->out, "%s watching sweep %.0f \"%s\"%s: %d trials\n", clock,
		num(sweep, "id", 0), str(sweep, "name", "?"), sim_tag(sweep),
		cJSON_GetArraySize(get(sweep, "trials")));
}

/* ": early stopping (asha) stop at step 18, valid_reward_mean ..." */
static void
fmt_early_stop(char *buf, size_t len, const cJSON *es)
{
	int n = snprintf(
	    buf, len, ": early stopping (%s) %s at step %.0f, %s %.4g",
	    str(es, "rule", "?"), str(es, "action", "?"), num(es, "step", 0),
	    str(es, "metric", "?"), num(es, "value", 0));

	if (n < 0 || (size_t)n >= len)
		return;
	if (cJSON_IsNumber(get(es, "threshold")))
		snprintf(buf + n, len - (size_t)n,
			 " against %.4g of %.0f other trials",
			 num(es, "threshold", 0), num(es, "peers", 0));
	else
		snprintf(buf + n, len - (size_t)n,
			 ", waiting for more trials (%.0f so far)",
			 num(es, "peers", 0));
}

void
render_watch_trial(const struct render_opts *ro, const char *clock,
		   const cJSON *trial, const char *was)
{
	const char *s = str(trial, "state", "?");
	const cJSON *es;
	char hps[256], extra[480] = "", seed[16];

	fmt_hps(hps, sizeof(hps), get(trial, "hyperparameters"));
	if (cJSON_IsNumber(get(trial, "objective")))
		snprintf(extra, sizeof(extra), " best %.4f",
			 num(trial, "objective", 0));
	if (strcmp(s, "pending") == 0 &&
	    cJSON_IsString(get(trial, "pending_reason")))
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 " (%s)", str(trial, "pending_reason", ""));
	else if (cJSON_IsNumber(get(get(trial, "job"), "id")))
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 " (job %.0f)", num(get(trial, "job"), "id", 0));
	if (cJSON_IsObject(es = get(trial, "early_stop")) &&
	    (strcmp(s, "paused") == 0 || strcmp(s, "stopped") == 0 ||
	     strcmp(str(es, "action", ""), "resume") == 0))
		/* Why early stopping held, stopped or resumed it. */
		fmt_early_stop(extra + strlen(extra),
			       sizeof(extra) - strlen(extra), es);
	fmt_num(seed, sizeof(seed), get(trial, "seed"));
	fprintf(ro->out, "%s trial %.0f [%s seed=%s %s] %s -> %s%s\n", clock,
		num(trial, "id", 0), str(trial, "grader", "?"), seed, hps,
		was ? was : "new", s, extra);
}

void
render_watch_counts(const cJSON *sweep, struct render_counts *c)
{
	bool maximize = strcmp(str(sweep, "objective_mode", "max"), "min") != 0;
	const cJSON *t;

	*c = (struct render_counts){0};
	cJSON_ArrayForEach(t, get(sweep, "trials"))
	{
		const char *s = str(t, "state", "");
		double o = num(t, "objective", NAN);

		c->trials++;
		if (strcmp(s, "succeeded") == 0 ||
		    strcmp(s, "cancelled") == 0 || strcmp(s, "stopped") == 0)
			c->done++;
		else if (strcmp(s, "failed") == 0)
			c->done++, c->failed++;
		else if (strcmp(s, "running") == 0)
			c->running++;
		else if (strcmp(s, "paused") == 0)
			c->paused++;
		else
			c->pending++;
		if (!isnan(o) &&
		    (!c->has_best || (maximize ? o > c->best : o < c->best))) {
			c->best = o;
			c->has_best = true;
		}
	}
}

void
render_watch_progress(const cJSON *sweep, char *buf, size_t len)
{
	struct render_counts c;

	render_watch_counts(sweep, &c);
	snprintf(buf, len,
		 "[%s] %d/%d done (%d failed), %d running, %d paused, %d "
		 "waiting; best %s ",
		 str(sweep, "state", "?"), c.done, c.trials, c.failed,
		 c.running, c.paused, c.pending,
		 str(sweep, "objective_metric", "?"));
	if (!c.has_best)
		snprintf(buf + strlen(buf), len - strlen(buf), "-");
	else
		snprintf(buf + strlen(buf), len - strlen(buf), "%.4f", c.best);
}

/* Jobs live on backend `name`: the running and paused trials of every
 * sweep on it (a live job is its trial's). */
static int
backend_live(const cJSON *sweeps, const char *name)
{
	const cJSON *s;
	int live = 0;

	cJSON_ArrayForEach(s, get(sweeps, "sweeps"))
	{
		if (strcmp(str(s, "backend", ""), name) != 0)
			continue;
		live += (int)num(get(s, "counts"), "running", 0) +
			(int)num(get(s, "counts"), "paused", 0);
	}
	return live;
}

int
render_watch_waiting(const cJSON *sweep, const cJSON *sweeps,
		     const cJSON *status, char *buf, size_t len)
{
	const char *backend = str(sweep, "backend", "?");
	const cJSON *t, *b, *why = NULL;
	struct render_counts c;

	buf[0] = '\0';
	render_watch_counts(sweep, &c);
	if (c.pending == 0)
		return 0;
	cJSON_ArrayForEach(t, get(sweep, "trials"))
	{
		if (why == NULL &&
		    strcmp(str(t, "state", ""), "pending") == 0 &&
		    str(t, "pending_reason", "")[0] != '\0')
			why = get(t, "pending_reason");
	}
	if (why != NULL) {
		snprintf(buf, len, "%s", why->valuestring);
		return c.pending;
	}
	if (strcmp(str(sweep, "state", ""), "paused") == 0) {
		snprintf(buf, len,
			 "waiting for rftctl resume %.0f: the sweep is paused",
			 num(sweep, "id", 0));
		return c.pending;
	}
	if (cJSON_IsNumber(get(sweep, "max_concurrent")) &&
	    c.running + c.paused >= num(sweep, "max_concurrent", 0)) {
		snprintf(buf, len,
			 "waiting for a slot: the sweep has its "
			 "max_concurrent of %.0f jobs live",
			 num(sweep, "max_concurrent", 0));
		return c.pending;
	}
	cJSON_ArrayForEach(b, get(status, "backends"))
	{
		int live;

		if (strcmp(str(b, "name", ""), backend) != 0 || sweeps == NULL)
			continue;
		live = backend_live(sweeps, backend);
		if (live < num(b, "max_concurrent", 0))
			break;
		snprintf(buf, len,
			 "waiting for a slot: backend %s runs at most %.0f "
			 "jobs at once, and %d are live (%d of this sweep)",
			 backend, num(b, "max_concurrent", 0), live,
			 c.running + c.paused);
		return c.pending;
	}
	return 0;
}

void
render_watch_wait(const struct render_opts *ro, const char *clock, int n,
		  const char *why)
{
	fprintf(ro->out, "%s %d trial%s pending: %s\n", clock, n,
		n == 1 ? "" : "s", why);
}

void
render_watch_heartbeat(const struct render_opts *ro, const char *clock,
		       int64_t id, const cJSON *sweep, int n, const char *why)
{
	char line[512];

	render_watch_progress(sweep, line, sizeof(line));
	fprintf(ro->out, "%s still following sweep %lld: %s", clock,
		(long long)id, line);
	if (n > 0)
		fprintf(ro->out, "; %d trial%s pending: %s", n,
			n == 1 ? "" : "s", why);
	fputc('\n', ro->out);
}

void
render_watch_lost(const struct render_opts *ro, const char *clock,
		  const char *why)
{
	fprintf(ro->out, "%s lost rftd (%s); reconnecting\n", clock, why);
}

void
render_watch_still_lost(const struct render_opts *ro, const char *clock,
			double seconds, const char *why)
{
	fprintf(ro->out, "%s still reconnecting after %.0f s (%s)\n", clock,
		seconds, why);
}

void
render_watch_back(const struct render_opts *ro, const char *clock,
		  double seconds)
{
	fprintf(ro->out, "%s reconnected to rftd after %.1f s\n", clock,
		seconds);
}

void
render_watch_end(const struct render_opts *ro, const char *clock, int64_t id,
		 const cJSON *sweep)
{
	char line[512];

	render_watch_progress(sweep, line, sizeof(line));
	fprintf(ro->out, "%s sweep %.0f %s: %s\n", clock, (double)id,
		str(sweep, "state", "?"), line);
}

/* --- curves ----------------------------------------------------------------
 */

static void
sparkline(const double *v, size_t n, size_t width, char *out, size_t len)
{
	static const char *const bars[] = {"\u2581", "\u2582", "\u2583",
					   "\u2584", "\u2585", "\u2586",
					   "\u2587", "\u2588"};
	double lo = INFINITY, hi = -INFINITY;
	size_t used = 0, cols = n < width ? n : width;

	for (size_t i = 0; i < n; i++) {
		lo = fmin(lo, v[i]);
		hi = fmax(hi, v[i]);
	}
	out[0] = '\0';
	for (size_t c = 0; c < cols && used + 4 < len; c++) {
		/* Each column shows the mean of its share of the points. */
		size_t a = c * n / cols, b = (c + 1) * n / cols;
		double sum = 0;
		int level;

		for (size_t i = a; i < b; i++)
			sum += v[i];
		level =
		    hi > lo
			? (int)((sum / (double)(b - a) - lo) / (hi - lo) * 7.0 +
				0.5)
			: 3;
		used += (size_t)snprintf(out + used, len - used, "%s",
					 bars[level < 0	  ? 0
					      : level > 7 ? 7
							  : level]);
	}
}

static void
print_curve(const double *v, size_t n, double job, double trial,
	    const struct render_opts *ro)
{
	char line[4096];
	int width = ro->width;
	double hi = v[0];

	for (size_t i = 1; i < n; i++)
		hi = fmax(hi, v[i]);
	sparkline(v, n, width > 60 ? (size_t)width - 50 : 40, line,
		  sizeof(line));
	fprintf(ro->out,
		"job %-5.0f trial %-5.0f %s  %.4f -> %.4f (max %.4f, %zu "
		"points)\n",
		job, trial, line, v[0], v[n - 1], hi, n);
}

int
render_curves(const struct render_opts *ro, const cJSON *result,
	      const char *metric)
{
	const cJSON *row;
	double *v = NULL, job = -1, trial = -1;
	size_t n = 0, cap = 0;

	if (cJSON_GetArraySize(get(result, "rows")) == 0) {
		fprintf(ro->err, "rftctl: curves: no %s points\n", metric);
		return -ENODATA;
	}
	if (!ro->tty) {
		fprintf(ro->out, "job_id\ttrial_id\tstep\t%s\n", metric);
		cJSON_ArrayForEach(row, get(result, "rows"))
		{
			char value[64];

			json_print_number(
			    value, sizeof(value),
			    cJSON_GetArrayItem(row, 3)->valuedouble);
			fprintf(ro->out, "%.0f\t%.0f\t%.0f\t%s\n",
				cJSON_GetArrayItem(row, 0)->valuedouble,
				cJSON_GetArrayItem(row, 1)->valuedouble,
				cJSON_GetArrayItem(row, 2)->valuedouble, value);
		}
		return 0;
	}
	fprintf(ro->out, "%s per job:\n", metric);
	cJSON_ArrayForEach(row, get(result, "rows"))
	{
		double j = cJSON_GetArrayItem(row, 0)->valuedouble;

		if (j != job && n > 0) {
			print_curve(v, n, job, trial, ro);
			n = 0;
		}
		job = j;
		trial = cJSON_GetArrayItem(row, 1)->valuedouble;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = cJSON_GetArrayItem(row, 3)->valuedouble;
	}
	if (n > 0)
		print_curve(v, n, job, trial, ro);
	free(v);
	return 0;
}
