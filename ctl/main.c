/*
 * rftctl: parse the command line and run the verb it names; the calls
 * are call.c's, the text render.c's, `watch` watch.c's.
 *
 * Exit status: 0 success; 1 rftd answered with an error (or the command
 * could not be done); 2 usage error (or a spec file that cannot be
 * read); 3 rftd could not be reached or did not answer properly; 4 the
 * output was cut at a row or byte cap.
 */
#include "call.h"
#include "client.h"
#include "paths.h"
#include "plot.h"
#include "proto.h"
#include "render.h"
#include "sqlout.h"
#include "util.h"
#include "watch.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPEC_FILE_MAX (4u << 20)

enum opt_flag {
	OPT_REUSE = 1 << 0,
	OPT_SWEEP = 1 << 1,
	OPT_STATE = 1 << 2,
	OPT_LIMIT = 1 << 3,
	OPT_INTERVAL = 1 << 4,
	OPT_FORMAT = 1 << 5,
	OPT_MAX_ROWS = 1 << 6,
	OPT_METRIC = 1 << 7,
	OPT_ACTION = 1 << 8,
	OPT_BY = 1 << 9,
	OPT_YES = 1 << 10,
	OPT_HEARTBEAT = 1 << 11,
	OPT_RECONNECT = 1 << 12,
	OPT_OUT = 1 << 13,
	OPT_WIDTH = 1 << 14,
	OPT_HEIGHT = 1 << 15,
};

struct opts {
	unsigned int given; /* enum opt_flag */
	bool reuse;
	bool yes;
	int64_t sweep;
	const char *state;
	int64_t limit;
	double interval;
	double heartbeat;
	double reconnect;
	const char *format;
	int64_t max_rows;
	const char *metric;
	const char *action;
	const char *by;
	const char *out;
	int64_t width, height;
};

struct verb {
	const char *name; /* one or two words */
	const char *args; /* for the usage text */
	int min_args, max_args;
	unsigned int opts; /* allowed enum opt_flag */
	int (*run)(struct call_ctx *ctx, const struct opts *o, char **args);
	const char *summary;
};

/* --- arguments ------------------------------------------------------------ */

/* A usage error told (call_fail()), exit status 2. */
#define usage_error(ctx, ...) call_fail(ctx, EXIT_USAGE, "usage", __VA_ARGS__)

static int
parse_id(const struct call_ctx *ctx, const char *s, const char *what,
	 int64_t *out)
{
	if (parse_i64(s, 1, INT64_MAX, out) != 0)
		return call_fail(ctx, EXIT_USAGE, "usage",
				 "%s: '%s' is not a %s id", what, s, what);
	return EXIT_OK;
}

static cJSON *
id_params(int64_t id)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "id", (double)id);
	return p;
}

/*
 * "-5", "-0.5", "-.5": an argument, not options.  No option of rftctl is
 * a digit, so a word like this is always a (bad) amount or number.
 */
static bool
negative_number(const char *s)
{
	return s[0] == '-' && (isdigit((unsigned char)s[1]) ||
			       (s[1] == '.' && isdigit((unsigned char)s[2])));
}

/* --- specs ---------------------------------------------------------------- */

/* 1-based line and column of byte `off` of `text`. */
static void
line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i] != '\0'; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* Makes a relative dataset path absolute against the spec's directory. */
static void
absolute_dataset(cJSON *spec, const char *key, const char *dir)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
	char *abs;

	if (!cJSON_IsString(v) || v->valuestring[0] == '/' ||
	    v->valuestring[0] == '\0' ||
	    strncmp(v->valuestring, "file-", 5) == 0)
		return;
	abs = xasprintf("%s/%s", dir, v->valuestring);
	cJSON_SetValuestring(v, abs);
	free(abs);
}

/* Reads a spec file ("-": standard input); NULL after saying why. */
static cJSON *
read_spec(const struct call_ctx *ctx, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *text, *copy, dir[PATH_MAX];
	size_t n;
	cJSON *spec;

	if (f == NULL) {
		call_fail(ctx, EXIT_USAGE, "usage", "%s: %s", path,
			  strerror(errno));
		return NULL;
	}
	text = xmalloc(SPEC_FILE_MAX + 1);
	n = fread(text, 1, SPEC_FILE_MAX + 1, f);
	if (ferror(f) || n > SPEC_FILE_MAX) {
		call_fail(ctx, EXIT_USAGE, "usage", "%s: %s", path,
			  ferror(f) ? strerror(errno)
				    : "larger than 4 MiB; not a sweep spec");
		if (f != stdin)
			fclose(f);
		free(text);
		return NULL;
	}
	if (f != stdin)
		fclose(f);
	text[n] = '\0';
	spec = cJSON_ParseWithLength(text, n);
	if (spec == NULL) {
		const char *at = cJSON_GetErrorPtr();
		int line, col;

		line_col(text, at ? (size_t)(at - text) : n, &line, &col);
		call_fail(ctx, EXIT_USAGE, "usage", "%s:%d:%d: not valid JSON",
			  path, line, col);
		free(text);
		return NULL;
	}
	free(text);
	if (strcmp(path, "-") == 0) {
		if (getcwd(dir, sizeof(dir)) == NULL)
			snprintf(dir, sizeof(dir), ".");
	} else {
		copy = xstrdup(path);
		if (realpath(dirname(copy), dir) == NULL)
			snprintf(dir, sizeof(dir), "%s", dirname(copy));
		free(copy);
	}
	if (cJSON_IsObject(spec)) {
		absolute_dataset(spec, "training_file", dir);
		absolute_dataset(spec, "validation_file", dir);
	}
	return spec;
}

static cJSON *
spec_params(const struct call_ctx *ctx, const char *path)
{
	cJSON *spec = read_spec(ctx, path), *p;

	if (spec == NULL)
		return NULL;
	p = cJSON_CreateObject();
	cJSON_AddItemToObject(p, "spec", spec);
	return p;
}

/* --- the verbs --------------------------------------------------------------
 */

static int
run_status(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	(void)args;
	return call_render(ctx, "daemon.status", NULL, render_status);
}

static int
run_ping(struct call_ctx *ctx, const struct opts *o, char **args)
{
	struct proto_reply rep;
	struct render_opts ro;
	int rc = call_method(ctx, "daemon.ping", NULL, &rep);

	(void)o;
	(void)args;
	if (rc != EXIT_OK)
		return rc;
	call_render_opts(ctx, &ro);
	if (ctx->json)
		render_json(&ro, rep.result);
	else
		render_ping(&ro, ctx->socket, call_elapsed_ms(ctx));
	proto_reply_free(&rep);
	return EXIT_OK;
}

/* Exits 1 when a target did not take the test notification. */
static int
run_notify_test(struct call_ctx *ctx, const struct opts *o, char **args)
{
	struct proto_reply rep;
	struct render_opts ro;
	const cJSON *t, *targets;
	const char *id, *target, *outcome;
	bool all = true;
	int rc = call_method(ctx, "notify.test", NULL, &rep);

	(void)o;
	(void)args;
	if (rc != EXIT_OK)
		return rc;
	targets = cJSON_GetObjectItem(rep.result, "targets");
	id = cJSON_GetStringValue(cJSON_GetObjectItem(rep.result, "id"));
	call_render_opts(ctx, &ro);
	if (ctx->json)
		render_json(&ro, rep.result);
	else
		printf("test notification %s\n", id ? id : "?");
	for (t = targets ? targets->child : NULL; t != NULL; t = t->next) {
		target = cJSON_GetStringValue(cJSON_GetObjectItem(t, "target"));
		outcome =
		    cJSON_GetStringValue(cJSON_GetObjectItem(t, "outcome"));
		all = all && cJSON_IsTrue(cJSON_GetObjectItem(t, "delivered"));
		if (!ctx->json)
			printf("  %s: %s\n", target ? target : "?",
			       outcome ? outcome : "?");
	}
	proto_reply_free(&rep);
	return all ? EXIT_OK : EXIT_DAEMON_ERROR;
}

static int
run_reload(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	(void)args;
	return call_render(ctx, "daemon.reload", NULL, render_reload);
}

/* Whether process `pid` has ended (a zombie has: it only waits to be
 * reaped by its parent). */
static bool
process_gone(int pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold spaces and parentheses. */
	paren = strrchr(buf, ')');
	return paren != NULL && (paren[2] == 'Z' || paren[2] == 'X');
}

/*
 * stop: SIGTERM to the rftd that answers on the socket, then wait until
 * it has exited.  The pid rftd gives must be the one the kernel says
 * serves the socket: a pid of another pid namespace (rftd in a container)
 * would name some other process here.
 */
static int
run_stop(struct call_ctx *ctx, const struct opts *o, char **args)
{
	struct proto_reply rep;
	uint64_t deadline;
	int rc, pid, listener;
	const cJSON *v;

	(void)o;
	(void)args;
	rc = call_method(ctx, "daemon.status", NULL, &rep);
	if (rc != EXIT_OK)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(rep.result, "pid");
	pid = cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
	proto_reply_free(&rep);
	listener = client_peer_pid(ctx->client);
	call_close(ctx);
	if (pid <= 1 || listener != pid)
		return call_fail(ctx, EXIT_DAEMON_ERROR, "refused",
				 "stop: rftd says its pid is %d, but the "
				 "process serving %s is %d: rftd runs in "
				 "another pid namespace (a container); stop it "
				 "there",
				 pid, ctx->socket, listener);
	if (kill(pid, SIGTERM) != 0)
		return call_fail(ctx, EXIT_DAEMON_ERROR, "refused",
				 "stop: cannot signal rftd (pid %d): %s", pid,
				 strerror(errno));
	deadline = now_mono_ns() + (uint64_t)ctx->timeout_ms * 1000000u;
	while (!process_gone(pid)) {
		if (now_mono_ns() >= deadline)
			return call_fail(ctx, EXIT_DAEMON_ERROR, "timed out",
					 "stop: rftd (pid %d) is still "
					 "stopping after %.0f s",
					 pid, ctx->timeout_ms / 1000.0);
		usleep(20000);
	}
	if (ctx->json)
		printf("{\"stopped\": true, \"pid\": %d}\n", pid);
	else
		printf("rftd (pid %d) stopped\n", pid);
	return EXIT_OK;
}

static int
run_budget(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	(void)args;
	return call_render(ctx, "budget.show", NULL, render_budget);
}

static int
run_budget_set(struct call_ctx *ctx, const struct opts *o, char **args)
{
	cJSON *p;
	double usd;
	bool none = strcmp(args[1], "none") == 0;

	if (!none && parse_double(args[1][0] == '$' ? args[1] + 1 : args[1], 0,
				  1e9, &usd) != 0)
		return usage_error(ctx,
				   "budget set: '%s' is not an amount of USD "
				   "(0..1e9) or none",
				   args[1]);
	if (none && (o->given & OPT_ACTION))
		return usage_error(ctx,
				   "budget set: --action does not go with %s: "
				   "the configured limit and action apply "
				   "again",
				   "none");
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "scope", args[0]);
	if (none)
		cJSON_AddNullToObject(p, "limit_usd");
	else
		cJSON_AddNumberToObject(p, "limit_usd", usd);
	if (o->given & OPT_ACTION)
		cJSON_AddStringToObject(p, "action", o->action);
	return call_render(ctx, "budget.set", p, render_budget);
}

static int
run_plan(struct call_ctx *ctx, const struct opts *o, char **args)
{
	cJSON *p = spec_params(ctx, args[0]);

	if (p == NULL)
		return EXIT_USAGE;
	if (o->reuse)
		cJSON_AddTrueToObject(p, "reuse");
	ctx->spec_path = args[0];
	return call_render(ctx, "sweep.plan", p, render_plan);
}

static int
run_submit(struct call_ctx *ctx, const struct opts *o, char **args)
{
	cJSON *p = spec_params(ctx, args[0]);

	if (p == NULL)
		return EXIT_USAGE;
	if (o->reuse)
		cJSON_AddTrueToObject(p, "reuse");
	if (o->yes)
		cJSON_AddTrueToObject(p, "yes");
	ctx->spec_path = args[0];
	return call_render(ctx, "sweep.submit", p, render_submit);
}

static int
run_sweeps(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	(void)args;
	return call_render(ctx, "sweep.list", NULL, render_sweeps);
}

static int
run_sweep_show(struct call_ctx *ctx, const struct opts *o, char **args)
{
	int64_t id;

	(void)o;
	if (parse_id(ctx, args[0], "sweep", &id) != EXIT_OK)
		return EXIT_USAGE;
	return call_render(ctx, "sweep.show", id_params(id), render_sweep);
}

static int
run_leaderboard(struct call_ctx *ctx, const struct opts *o, char **args)
{
	cJSON *p;
	int64_t id;

	if (parse_id(ctx, args[0], "sweep", &id) != EXIT_OK)
		return EXIT_USAGE;
	if ((o->given & OPT_BY) && strcmp(o->by, "objective") != 0 &&
	    strcmp(o->by, "value") != 0)
		return usage_error(ctx, "--by: '%s' is not objective or value",
				   o->by);
	p = id_params(id);
	if (o->given & OPT_LIMIT)
		cJSON_AddNumberToObject(p, "limit", (double)o->limit);
	if (o->given & OPT_BY)
		cJSON_AddStringToObject(p, "by", o->by);
	/* rftd ranks every state unless asked; rftctl, the finished ones. */
	cJSON_AddStringToObject(p, "state",
				(o->given & OPT_STATE) ? o->state : "finished");
	if (o->given & OPT_METRIC)
		cJSON_AddStringToObject(p, "metric", o->metric);
	return call_render(ctx, "sweep.leaderboard", p, render_leaderboard);
}

static int
run_jobs(struct call_ctx *ctx, const struct opts *o, char **args)
{
	cJSON *p = cJSON_CreateObject();

	(void)args;
	if (o->given & OPT_SWEEP)
		cJSON_AddNumberToObject(p, "sweep", (double)o->sweep);
	if (o->given & OPT_STATE)
		cJSON_AddStringToObject(p, "state", o->state);
	if (o->given & OPT_LIMIT)
		cJSON_AddNumberToObject(p, "limit", (double)o->limit);
	return call_render(ctx, "job.list", p, render_jobs);
}

static int
run_job_show(struct call_ctx *ctx, const struct opts *o, char **args)
{
	int64_t id;

	(void)o;
	if (parse_id(ctx, args[0], "job", &id) != EXIT_OK)
		return EXIT_USAGE;
	return call_render(ctx, "job.show", id_params(id), render_job);
}

/*
 * "[sweep|job] ID": a bare ID names a sweep.  Sets *job and *id, or
 * returns EXIT_USAGE after saying why.
 */
static int
sweep_or_job(const struct call_ctx *ctx, char **args, const char *verb,
	     bool *job, int64_t *id)
{
	const char *id_arg = args[0];

	*job = false;
	if (args[1] != NULL) {
		if (strcmp(args[0], "job") == 0)
			*job = true;
		else if (strcmp(args[0], "sweep") != 0)
			return usage_error(ctx,
					   "%s: expected 'sweep ID' or 'job "
					   "ID', not '%s'",
					   verb, args[0]);
		id_arg = args[1];
	}
	return parse_id(ctx, id_arg, *job ? "job" : "sweep", id);
}

/* cancel|pause|resume [sweep|job] ID */
static int
run_action(struct call_ctx *ctx, char **args, const char *action)
{
	char method[32];
	bool job;
	int64_t id;

	if (sweep_or_job(ctx, args, action, &job, &id) != EXIT_OK)
		return EXIT_USAGE;
	snprintf(method, sizeof(method), "%s.%s", job ? "job" : "sweep",
		 action);
	return call_render(ctx, method, id_params(id),
			   job ? render_job_action : render_sweep_action);
}

static int
run_cancel(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	return run_action(ctx, args, "cancel");
}

static int
run_pause(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	return run_action(ctx, args, "pause");
}

static int
run_resume(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	return run_action(ctx, args, "resume");
}

static int
run_watch(struct call_ctx *ctx, const struct opts *o, char **args)
{
	struct watch_opts wo = {
	    .interval = (o->given & OPT_INTERVAL) ? o->interval : 0.5,
	    .heartbeat = (o->given & OPT_HEARTBEAT) ? o->heartbeat : 60,
	    .reconnect = (o->given & OPT_RECONNECT) ? o->reconnect : 300};
	int64_t id = 0;

	if (args[0] != NULL && parse_id(ctx, args[0], "sweep", &id) != EXIT_OK)
		return EXIT_USAGE;
	return watch_sweep(ctx, id, &wo);
}

/* Runs a query and returns its result (caller frees), or NULL after
 * telling why; *rc is the exit status. */
static cJSON *
query_for(struct call_ctx *ctx, const char *sql, int64_t max_rows,
	  int timeout_ms, int *rc)
{
	struct proto_reply rep;
	cJSON *p = cJSON_CreateObject(), *result;

	cJSON_AddStringToObject(p, "query", sql);
	if (max_rows > 0)
		cJSON_AddNumberToObject(p, "max_rows", (double)max_rows);
	if (timeout_ms > 0)
		cJSON_AddNumberToObject(p, "timeout_ms", timeout_ms);
	*rc = call_method(ctx, "sql.query", p, &rep);
	if (*rc != EXIT_OK)
		return NULL;
	result = cJSON_Duplicate(rep.result, 1);
	proto_reply_free(&rep);
	return result;
}

static cJSON *
query(struct call_ctx *ctx, const char *sql, int64_t max_rows, int *rc)
{
	return query_for(ctx, sql, max_rows, 0, rc);
}

/*
 * --format, one of the formats in `allowed` (NULL-ended, the first
 * one's name said in the error as the default); *f is `def` without it.
 */
static int
format_of(const struct call_ctx *ctx, const struct opts *o,
	  const char *const *allowed, enum sql_format def, enum sql_format *f)
{
	char list[128] = "";

	*f = def;
	if (!(o->given & OPT_FORMAT))
		return EXIT_OK;
	for (size_t i = 0; allowed[i] != NULL; i++) {
		if (strcmp(allowed[i], o->format) == 0)
			return sql_format_parse(o->format, f) == 0 ? EXIT_OK
								   : EXIT_USAGE;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s",
			 i == 0		  ? ""
			 : allowed[i + 1] ? ", "
					  : " or ",
			 allowed[i]);
	}
	return usage_error(ctx, "--format: '%s' is not %s", o->format, list);
}

static int
run_sql(struct call_ctx *ctx, const struct opts *o, char **args)
{
	static const char *const formats[] = {"table",	"csv",	 "json",
					      "ndjson", "jsonl", NULL};
	struct render_opts ro;
	enum sql_format f;
	cJSON *result;
	bool cut;
	int rc;

	if (format_of(ctx, o, formats, ctx->json ? SQL_JSON : SQL_TABLE, &f) !=
	    EXIT_OK)
		return EXIT_USAGE;
	result = query(ctx, args[0],
		       (o->given & OPT_MAX_ROWS) ? o->max_rows : 0, &rc);
	if (result == NULL)
		return rc;
	call_render_opts(ctx, &ro);
	cut = sql_print(result, f, ro.width, stdout);
	cJSON_Delete(result);
	return cut ? EXIT_TRUNCATED : EXIT_OK;
}

/*
 * Fails with rftd's "no sweep N" (or "no job N") when it does not exist:
 * the leaderboard's top row, or the job, costs rftd little.
 */
static int
exists(struct call_ctx *ctx, bool job, int64_t id)
{
	struct proto_reply rep;
	cJSON *p = id_params(id);
	int rc;

	if (!job)
		cJSON_AddNumberToObject(p, "limit", 1);
	rc = call_method(ctx, job ? "job.show" : "sweep.leaderboard", p, &rep);
	if (rc == EXIT_OK)
		proto_reply_free(&rep);
	return rc;
}

static int
run_export(struct call_ctx *ctx, const struct opts *o, char **args)
{
	static const char *const formats[] = {"csv", "json", "jsonl", "ndjson",
					      NULL};
	enum sql_format f;
	char sql[512];
	cJSON *result;
	int64_t id;
	bool cut;
	int rc;

	if (parse_id(ctx, args[0], "sweep", &id) != EXIT_OK ||
	    format_of(ctx, o, formats, SQL_CSV, &f) != EXIT_OK)
		return EXIT_USAGE;
	rc = exists(ctx, false, id);
	if (rc != EXIT_OK)
		return rc;
	snprintf(sql, sizeof(sql),
		 "SELECT trial_id, grader, seed, learning_rate_multiplier, "
		 "n_epochs, batch_size, reasoning_effort, compute_multiplier, "
		 "eval_interval, eval_samples, state, metric, objective, "
		 "best_step, jobs, training_hours, cost_usd, reward_per_usd, "
		 "model, model_source, simulated FROM leaderboard "
		 "WHERE sweep_id = %lld ORDER BY trial_id",
		 (long long)id);
	result = query(ctx, sql, 100000, &rc);
	if (result == NULL)
		return rc;
	cut = sql_print(result, f, 0, stdout);
	cJSON_Delete(result);
	return cut ? EXIT_TRUNCATED : EXIT_OK;
}

#define CURVE_ROWS 100000 /* points read at most (rftd's sql.query cap) */

/* "sweep_id = N AND metric = '...'" for reward_curves (caller frees). */
static char *
curve_where(bool job, int64_t id, const char *metric)
{
	char *quoted = xcalloc(2 * strlen(metric) + 1, 1), *where;

	/* The metric name goes into SQL as a literal: double its quotes. */
	for (size_t i = 0, k = 0; metric[i] != '\0'; i++) {
		if (metric[i] == '\'')
			quoted[k++] = '\'';
		quoted[k++] = metric[i];
	}
	where = xasprintf("%s = %lld AND metric = '%s'",
			  job ? "job_id" : "sweep_id", (long long)id, quoted);
	free(quoted);
	return where;
}

/*
 * The points of `metric` of a sweep or a job, as reward_curves rows
 * (job_id, trial_id, step, value) in job and step order, cut at
 * CURVE_ROWS rows; NULL after telling why (rftd's "no sweep N", or
 * "VERB: sweep N has no M points"), *rc the exit status.  With `buckets`
 * > 0, each job's lowest and highest point in each of that many step
 * buckets instead, thinned by rftd.
 */
static cJSON *
curve_rows(struct call_ctx *ctx, const char *verb, bool job, int64_t id,
	   const char *metric, int buckets, int *rc)
{
	char *where = curve_where(job, id, metric), *sql;
	cJSON *result;

	if (buckets > 0)
		/* min() and max() give the row of the value they pick
		 * (SQLite's bare columns); UNION drops a point picked
		 * twice. */
		sql = xasprintf(
		    "WITH p AS (SELECT job_id, trial_id, step, value FROM "
		    "reward_curves WHERE %s), w AS (SELECT max(step) + 1 AS "
		    "top FROM p) SELECT job_id, trial_id, step, min(value) AS "
		    "value FROM p, w GROUP BY job_id, step * %d / top "
		    "UNION SELECT job_id, trial_id, step, max(value) FROM p, "
		    "w GROUP BY job_id, step * %d / top ORDER BY job_id, step",
		    where, buckets, buckets);
	else
		sql = xasprintf("SELECT job_id, trial_id, step, value FROM "
				"reward_curves WHERE %s ORDER BY job_id, step",
				where);
	free(where);
	result = query_for(ctx, sql, CURVE_ROWS, buckets > 0 ? 10000 : 0, rc);
	free(sql);
	if (result == NULL)
		return NULL;
	if (cJSON_GetArraySize(cJSON_GetObjectItem(result, "rows")) == 0) {
		/* Nothing to draw: for want of the sweep, or of points? */
		cJSON_Delete(result);
		*rc = exists(ctx, job, id);
		if (*rc == EXIT_OK)
			*rc = call_fail(ctx, EXIT_DAEMON_ERROR, "not found",
					"%s: %s %lld has no %s points", verb,
					job ? "job" : "sweep", (long long)id,
					metric);
		return NULL;
	}
	return result;
}

/*
 * How many step buckets plot asks rftd to thin each job's points to, so
 * that every job of a sweep is drawn within CURVE_ROWS points: 0 when
 * they all fit as they are, or when even two points a job would not.
 */
static int
plot_buckets(struct call_ctx *ctx, bool job, int64_t id, const char *metric,
	     int64_t *points, int *rc)
{
	char *where = curve_where(job, id, metric), *sql;
	const cJSON *row;
	cJSON *result;
	int64_t jobs;

	sql = xasprintf("SELECT count(*), count(DISTINCT job_id) FROM "
			"reward_curves WHERE %s",
			where);
	free(where);
	result = query_for(ctx, sql, 1, 10000, rc);
	free(sql);
	if (result == NULL)
		return -1;
	row = cJSON_GetArrayItem(cJSON_GetObjectItem(result, "rows"), 0);
	*points = (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(row, 0));
	jobs = (int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(row, 1));
	cJSON_Delete(result);
	if (*points <= CURVE_ROWS || jobs <= 0 || CURVE_ROWS / (2 * jobs) < 2)
		return 0;
	return (int)(CURVE_ROWS / (2 * jobs));
}

static int
run_curves(struct call_ctx *ctx, const struct opts *o, char **args)
{
	const char *metric =
	    (o->given & OPT_METRIC) ? o->metric : "valid_reward_mean";
	struct render_opts ro;
	cJSON *result;
	int64_t id;
	bool job;
	int rc;

	if (sweep_or_job(ctx, args, "curves", &job, &id) != EXIT_OK)
		return EXIT_USAGE;
	result = curve_rows(ctx, "curves", job, id, metric, 0, &rc);
	if (result == NULL)
		return rc;
	call_render_opts(ctx, &ro);
	if (ctx->json) {
		rc = sql_print(result, SQL_JSON, 0, stdout) ? EXIT_TRUNCATED
							    : EXIT_OK;
	} else {
		render_curves(&ro, result, metric);
		rc = cJSON_IsString(cJSON_GetObjectItem(result, "truncated"))
			 ? EXIT_TRUNCATED
			 : EXIT_OK;
	}
	cJSON_Delete(result);
	return rc;
}

/*
 * plot: the curves of `curves` drawn to a file (plot.c).  The file's
 * name is checked before rftd is asked, and nothing is written unless
 * there are points to draw.
 */
static int
run_plot(struct call_ctx *ctx, const struct opts *o, char **args)
{
	struct plot p = {
	    .metric = (o->given & OPT_METRIC) ? o->metric : "valid_reward_mean",
	    .width = (o->given & OPT_WIDTH) ? (int)o->width : 0,
	    .height = (o->given & OPT_HEIGHT) ? (int)o->height : 0};
	cJSON *curves = NULL, *trials = NULL;
	char *path = NULL, *sql, err[1024];
	int64_t points = 0;
	int buckets, rc;

	if (sweep_or_job(ctx, args, "plot", &p.job, &p.id) != EXIT_OK)
		return EXIT_USAGE;
	path = (o->given & OPT_OUT) ? xstrdup(o->out)
				    : plot_default_path(p.job, p.id, p.metric);
	p.path = path;
	if (plot_format_of(path, &p.format) != 0) {
		rc = usage_error(ctx,
				 "--out: '%s' is not a .svg or .png file (or - "
				 "for standard output)",
				 path);
		goto out;
	}
	/* A sweep of more points than rftd returns is thinned by rftd, so
	 * that every trial is drawn. */
	buckets = plot_buckets(ctx, p.job, p.id, p.metric, &points, &rc);
	if (buckets < 0)
		goto out;
	curves = curve_rows(ctx, "plot", p.job, p.id, p.metric, buckets, &rc);
	if (curves == NULL)
		goto out;
	if (buckets > 0 && !ctx->json)
		fprintf(stderr,
			"rftctl: plot: %lld points, more than rftd returns at "
			"once: each job's lowest and highest in each of %d "
			"step buckets are drawn\n",
			(long long)points, buckets);
	sql = plot_trials_sql(p.job, p.id);
	trials = query(ctx, sql, 100000, &rc);
	free(sql);
	if (trials == NULL)
		goto out;
	rc = plot_make(&p, curves, trials, ctx->json, err, sizeof(err));
	if (rc < 0)
		rc = call_fail(ctx, EXIT_DAEMON_ERROR, "io", "plot: %s", err);
	else
		rc = rc > 0 ? EXIT_TRUNCATED : EXIT_OK;
out:
	cJSON_Delete(curves);
	cJSON_Delete(trials);
	free(path);
	return rc;
}

static const struct verb verbs[] = {
    {"status", "", 0, 0, 0, run_status,
     "the daemon's version, uptime, backends and row counts"},
    {"ping", "", 0, 0, 0, run_ping, "check that rftd answers"},
    {"stop", "", 0, 0, 0, run_stop,
     "stop rftd (started by hand) and wait until it has exited"},
    {"budget set", "SCOPE USD|none [--action pause|cancel]", 2, 2, OPT_ACTION,
     run_budget_set, "change a limit now: global, day, month or sweep:ID"},
    {"budget", "", 0, 0, 0, run_budget,
     "every budget: limit, reserved, spent, remaining"},
    {"notify test", "", 0, 0, 0, run_notify_test,
     "send a test notification to each [notify] target; exit 1 if one fails"},
    {"reload", "", 0, 0, 0, run_reload,
     "re-read rftd's configuration; a bad one is refused, the old kept"},
    {"plan", "SPEC [--reuse]", 1, 1, OPT_REUSE, run_plan,
     "validate and expand a sweep spec, bill it, warn; nothing is stored"},
    {"submit", "SPEC [--reuse] [--yes]", 1, 1, OPT_REUSE | OPT_YES, run_submit,
     "store a sweep and start it (--yes: despite warnings)"},
    {"sweeps", "", 0, 0, 0, run_sweeps, "list the sweeps"},
    {"sweep show", "ID", 1, 1, 0, run_sweep_show,
     "a sweep and its trials with state and objective"},
    {"leaderboard",
     "SWEEP [--limit N] [--by objective|value] [--state S] [--metric M]", 1, 1,
     OPT_LIMIT | OPT_BY | OPT_STATE | OPT_METRIC, run_leaderboard,
     "a sweep's finished trials ranked by the objective or reward per dollar"},
    {"jobs", "[--sweep ID] [--state S] [--limit N]", 0, 0,
     OPT_SWEEP | OPT_STATE | OPT_LIMIT, run_jobs, "list jobs, newest first"},
    {"job show", "ID", 1, 1, 0, run_job_show,
     "a job: parameters, grader, events, metrics"},
    {"cancel", "[sweep|job] ID", 1, 2, 0, run_cancel,
     "cancel a sweep (its pending trials and live jobs) or a job"},
    {"pause", "[sweep|job] ID", 1, 2, 0, run_pause,
     "pause a sweep (no new jobs; running ones paused) or a job"},
    {"resume", "[sweep|job] ID", 1, 2, 0, run_resume,
     "resume a paused sweep or job"},
    {"watch", "[SWEEP] [--interval S] [--heartbeat S] [--reconnect S]", 0, 1,
     OPT_INTERVAL | OPT_HEARTBEAT | OPT_RECONNECT, run_watch,
     "follow a sweep (default: the newest running) until it ends"},
    {"sql", "QUERY [--format table|csv|json|ndjson] [--max-rows N]", 1, 1,
     OPT_FORMAT | OPT_MAX_ROWS, run_sql,
     "run one read-only SQL query on the history (docs/schema.md)"},
    {"export", "SWEEP [--format csv|json|jsonl]", 1, 1, OPT_FORMAT, run_export,
     "one row per trial: hyperparameters, state, objective, cost, model"},
    {"curves", "[sweep|job] ID [--metric M]", 1, 2, OPT_METRIC, run_curves,
     "reward curves per job (sparklines on a terminal)"},
    {"plot",
     "[sweep|job] ID [--metric M] [--out FILE] [--width W] [--height H]", 1, 2,
     OPT_METRIC | OPT_OUT | OPT_WIDTH | OPT_HEIGHT, run_plot,
     "the curves drawn to FILE: .svg, .png, or - (SVG on stdout)"},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: rftctl [-s socket] [-t seconds] [--json] "
		     "command [args]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
		char left[96];

		snprintf(left, sizeof(left), "%s %s", verbs[i].name,
			 verbs[i].args);
		fprintf(out, "  %-44s %s\n", left, verbs[i].summary);
	}
	fprintf(out,
		"\noptions:\n"
		"  -s, --socket PATH   rftd's control socket (default: "
		"$RFTD_SOCKET,\n"
		"                      else the user's or the system "
		"socket)\n"
		"  -t, --timeout SECS  wait this long for a reply (default "
		"30)\n"
		"  -j, --json          print replies, and errors, as JSON\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\nexit status: 0 ok, 1 rftd answered with an error, 2 usage "
		"error,\n3 rftd not reachable, 4 output cut at a row or byte "
		"cap\n");
}

/*
 * Finds the verb named by the first one or two words; a unique prefix of
 * a one-word verb works.  Sets *used to the words consumed.
 */
static const struct verb *
find_verb(int argc, char **argv, int *used)
{
	const struct verb *found = NULL;
	size_t len = strlen(argv[0]);

	for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
		const char *space = strchr(verbs[i].name, ' ');

		if (space != NULL) {
			size_t first = (size_t)(space - verbs[i].name);

			if (argc > 1 && len == first &&
			    strncmp(verbs[i].name, argv[0], first) == 0 &&
			    strcmp(space + 1, argv[1]) == 0) {
				*used = 2;
				return &verbs[i];
			}
			continue;
		}
		if (strcmp(verbs[i].name, argv[0]) == 0) {
			*used = 1;
			return &verbs[i];
		}
		if (strncmp(verbs[i].name, argv[0], len) == 0) {
			if (found != NULL)
				return NULL; /* ambiguous prefix */
			found = &verbs[i];
		}
	}
	*used = 1;
	return found;
}

/* -s, else $RFTD_SOCKET, else the user's socket, else the system one. */
static char *
pick_socket(const char *flag)
{
	const char *env = getenv("RFTD_SOCKET");
	struct stat sb;
	char *path;

	if (flag != NULL)
		return xstrdup(flag);
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	path = paths_default_socket();
	if (stat(path, &sb) != 0 && stat(PATHS_SYSTEM_SOCKET, &sb) == 0) {
		free(path);
		path = xstrdup(PATHS_SYSTEM_SOCKET);
	}
	return path;
}

static const char *
flag_name(unsigned int flag)
{
	switch (flag) {
	case OPT_REUSE:
		return "--reuse";
	case OPT_SWEEP:
		return "--sweep";
	case OPT_STATE:
		return "--state";
	case OPT_LIMIT:
		return "--limit";
	case OPT_INTERVAL:
		return "--interval";
	case OPT_FORMAT:
		return "--format";
	case OPT_MAX_ROWS:
		return "--max-rows";
	case OPT_METRIC:
		return "--metric";
	case OPT_BY:
		return "--by";
	case OPT_YES:
		return "--yes";
	case OPT_HEARTBEAT:
		return "--heartbeat";
	case OPT_RECONNECT:
		return "--reconnect";
	case OPT_OUT:
		return "--out";
	case OPT_WIDTH:
		return "--width";
	case OPT_HEIGHT:
		return "--height";
	default:
		return "--action";
	}
}

static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"timeout", required_argument, NULL, 't'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"reuse", no_argument, NULL, 'r'},
    {"sweep", required_argument, NULL, 'S'},
    {"state", required_argument, NULL, 'T'},
    {"limit", required_argument, NULL, 'n'},
    {"interval", required_argument, NULL, 'i'},
    {"format", required_argument, NULL, 'f'},
    {"max-rows", required_argument, NULL, 'm'},
    {"metric", required_argument, NULL, 'M'},
    {"action", required_argument, NULL, 'a'},
    {"by", required_argument, NULL, 'b'},
    {"yes", no_argument, NULL, 'y'},
    {"heartbeat", required_argument, NULL, 'H'},
    {"reconnect", required_argument, NULL, 'R'},
    {"out", required_argument, NULL, 'o'},
    {"width", required_argument, NULL, 'W'},
    {"height", required_argument, NULL, 'E'},
    {NULL, 0, NULL, 0},
};

/* The option just read, as typed ("--limit"), or "-c" for a short one. */
static void
option_text(int ch, char **argv, char *buf, size_t len)
{
	const char *typed = argv[optind - 1];

	if (strncmp(typed, "--", 2) == 0)
		snprintf(buf, len, "%.*s", (int)strcspn(typed, "="), typed);
	else
		snprintf(buf, len, "-%c", ch);
}

/*
 * One option of the command line into *o or ctx.  Returns EXIT_OK, or
 * EXIT_USAGE with `err` saying why (told once the whole line is read,
 * so that --json, wherever it is, says how).  -h and -V exit here.
 */
static int
take_option(int ch, char **argv, struct call_ctx *ctx, struct opts *o,
	    const char **socket_flag, char *err, size_t errlen)
{
	char opt[64];
	double secs;

	switch (ch) {
	case 's':
		*socket_flag = optarg;
		return EXIT_OK;
	case 't':
		if (parse_double(optarg, 0.001, 86400, &secs) != 0) {
			snprintf(err, errlen,
				 "-t: '%s' is not a number of seconds in "
				 "0.001..86400",
				 optarg);
			return EXIT_USAGE;
		}
		ctx->timeout_ms = (int)(secs * 1000);
		return EXIT_OK;
	case 'j':
		ctx->json = true;
		return EXIT_OK;
	case 'h':
		usage(stdout);
		exit(EXIT_OK);
	case 'V':
		printf("rftctl %s\n", RFTD_VERSION);
		exit(EXIT_OK);
	case 'r':
		o->given |= OPT_REUSE;
		o->reuse = true;
		return EXIT_OK;
	case 'S':
		o->given |= OPT_SWEEP;
		if (parse_i64(optarg, 1, INT64_MAX, &o->sweep) != 0) {
			snprintf(err, errlen, "--sweep: '%s' is not a sweep id",
				 optarg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case 'T':
		o->given |= OPT_STATE;
		o->state = optarg;
		return EXIT_OK;
	case 'n':
		o->given |= OPT_LIMIT;
		if (parse_i64(optarg, 1, 1000000, &o->limit) != 0) {
			snprintf(err, errlen,
				 "--limit: '%s' is not a number in "
				 "1..1000000",
				 optarg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case 'i':
		o->given |= OPT_INTERVAL;
		if (parse_double(optarg, 0.05, 3600, &o->interval) != 0) {
			snprintf(err, errlen,
				 "--interval: '%s' is not a number of "
				 "seconds in 0.05..3600",
				 optarg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case 'H':
		o->given |= OPT_HEARTBEAT;
		if (parse_double(optarg, 0.05, 86400, &o->heartbeat) != 0) {
			snprintf(err, errlen,
				 "--heartbeat: '%s' is not a number of "
				 "seconds in 0.05..86400",
				 optarg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case 'R':
		o->given |= OPT_RECONNECT;
		if (parse_double(optarg, 0, 86400, &o->reconnect) != 0) {
			snprintf(err, errlen,
				 "--reconnect: '%s' is not a number of "
				 "seconds in 0..86400",
				 optarg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case 'o':
		o->given |= OPT_OUT;
		o->out = optarg;
		return EXIT_OK;
	case 'W':
	case 'E':
		o->given |= ch == 'W' ? OPT_WIDTH : OPT_HEIGHT;
		if (parse_i64(optarg, 200, 4096,
			      ch == 'W' ? &o->width : &o->height) != 0) {
			snprintf(err, errlen,
				 "%s: '%s' is not a number of pixels in "
				 "200..4096",
				 ch == 'W' ? "--width" : "--height", optarg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case 'f':
		o->given |= OPT_FORMAT;
		o->format = optarg;
		return EXIT_OK;
	case 'm':
		o->given |= OPT_MAX_ROWS;
		if (parse_i64(optarg, 1, 100000, &o->max_rows) != 0) {
			snprintf(err, errlen,
				 "--max-rows: '%s' is not a number in "
				 "1..100000",
				 optarg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case 'M':
		o->given |= OPT_METRIC;
		o->metric = optarg;
		return EXIT_OK;
	case 'a':
		o->given |= OPT_ACTION;
		o->action = optarg;
		return EXIT_OK;
	case 'b':
		o->given |= OPT_BY;
		o->by = optarg;
		return EXIT_OK;
	case 'y':
		o->given |= OPT_YES;
		o->yes = true;
		return EXIT_OK;
	case ':':
		option_text(optopt, argv, opt, sizeof(opt));
		snprintf(err, errlen, "%s needs a value", opt);
		return EXIT_USAGE;
	default:
		if (optopt != 0)
			snprintf(err, errlen,
				 "unknown option '-%c'; rftctl --help lists "
				 "them",
				 optopt);
		else
			snprintf(err, errlen,
				 "unknown option '%s'; rftctl --help lists "
				 "them",
				 argv[optind - 1]);
		return EXIT_USAGE;
	}
}

int
main(int argc, char **argv)
{
	struct call_ctx ctx = {.timeout_ms = 30000};
	struct opts o = {0};
	const char *socket_flag = NULL;
	const struct verb *verb;
	char **words = xcalloc((size_t)argc + 1, sizeof(*words));
	char *args[3] = {NULL, NULL, NULL};
	char *socket, err[512] = "", later[512];
	int ch, rc, used, nargs, nwords = 0;

	ctx.tty = isatty(STDOUT_FILENO);
	/*
	 * In order ("-"), every word not an option comes back as 1, so that
	 * a word like a negative number is taken as a word before getopt
	 * reads it as options ("budget set day -5").  ":": a missing value
	 * is told apart from an unknown option.
	 */
	opterr = 0;
	while (optind < argc) {
		if (negative_number(argv[optind])) {
			words[nwords++] = argv[optind++];
			continue;
		}
		ch = getopt_long(argc, argv, "-:s:t:jhV", longopts, NULL);
		if (ch == -1)
			break;
		if (ch == 1) {
			words[nwords++] = optarg;
			continue;
		}
		/* Every option is read, --json included; the first error is
		 * the one told. */
		take_option(ch, argv, &ctx, &o, &socket_flag,
			    err[0] ? later : err, sizeof(err));
	}
	while (optind < argc) /* after "--" */
		words[nwords++] = argv[optind++];
	if (err[0] != '\0') {
		rc = call_fail(&ctx, EXIT_USAGE, "usage", "%s", err);
		goto out;
	}
	if (nwords == 0) {
		if (!ctx.json)
			usage(stderr);
		rc = ctx.json ? call_fail(&ctx, EXIT_USAGE, "usage",
					  "no command; rftctl --help lists "
					  "them")
			      : EXIT_USAGE;
		goto out;
	}
	verb = find_verb(nwords, words, &used);
	if (verb == NULL) {
		rc = usage_error(&ctx,
				 "unknown or ambiguous command '%s'; rftctl "
				 "--help lists them",
				 words[0]);
		goto out;
	}
	nargs = nwords - used;
	if (nargs > verb->max_args) {
		rc = usage_error(&ctx, "%s: unexpected argument '%s'",
				 verb->name, words[used + verb->max_args]);
		goto out;
	}
	if (nargs < verb->min_args) {
		rc = usage_error(&ctx, "usage: rftctl %s %s", verb->name,
				 verb->args);
		goto out;
	}
	if (o.given & ~verb->opts) {
		unsigned int bad = o.given & ~verb->opts;

		rc = usage_error(&ctx, "%s does not take %s", verb->name,
				 flag_name(bad & -bad));
		goto out;
	}
	for (int i = 0; i < nargs; i++)
		args[i] = words[used + i];
	socket = pick_socket(socket_flag);
	ctx.socket = socket;
	rc = verb->run(&ctx, &o, args);
	call_close(&ctx);
	free(socket);
out:
	free(words);
	return rc;
}
