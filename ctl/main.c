/*
 * rftctl: parse the command line and run the verb it names; the calls
 * are call.c's, the text render.c's, `watch` watch.c's.
 *
 * Exit status: 0 success; 1 rftd answered with an error; 2 usage error
 * (or a spec file that cannot be read); 3 rftd could not be reached or
 * did not answer properly.
 */
#include "call.h"
#include "paths.h"
#include "proto.h"
#include "render.h"
#include "sqlout.h"
#include "util.h"
#include "watch.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
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
};

struct opts {
	unsigned int given; /* enum opt_flag */
	bool reuse;
	bool yes;
	int64_t sweep;
	const char *state;
	int64_t limit;
	double interval;
	const char *format;
	int64_t max_rows;
	const char *metric;
	const char *action;
	const char *by;
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

static int
parse_id(const char *s, const char *what, int64_t *out)
{
	if (parse_i64(s, 1, INT64_MAX, out) != 0) {
		fprintf(stderr, "rftctl: %s: '%s' is not a %s id\n", what, s,
			what);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static cJSON *
id_params(int64_t id)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "id", (double)id);
	return p;
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
read_spec(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *text, *copy, dir[PATH_MAX];
	size_t n;
	cJSON *spec;

	if (f == NULL) {
		fprintf(stderr, "rftctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	text = xmalloc(SPEC_FILE_MAX + 1);
	n = fread(text, 1, SPEC_FILE_MAX + 1, f);
	if (ferror(f) || n > SPEC_FILE_MAX) {
		fprintf(stderr, "rftctl: %s: %s\n", path,
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
		fprintf(stderr, "rftctl: %s:%d:%d: not valid JSON\n", path,
			line, col);
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
spec_params(const char *path)
{
	cJSON *spec = read_spec(path), *p;

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

static int
run_reload(struct call_ctx *ctx, const struct opts *o, char **args)
{
	(void)o;
	(void)args;
	return call_render(ctx, "daemon.reload", NULL, render_reload);
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
	cJSON *p = cJSON_CreateObject();
	double usd;

	cJSON_AddStringToObject(p, "scope", args[0]);
	if (strcmp(args[1], "none") == 0) {
		cJSON_AddNullToObject(p, "limit_usd");
	} else if (parse_double(args[1][0] == '$' ? args[1] + 1 : args[1], 0,
				1e9, &usd) == 0) {
		cJSON_AddNumberToObject(p, "limit_usd", usd);
	} else {
		cJSON_Delete(p);
		fprintf(stderr,
			"rftctl: budget set: '%s' is not an amount of USD "
			"(0..1e9) or none\n",
			args[1]);
		return EXIT_USAGE;
	}
	if (o->given & OPT_ACTION)
		cJSON_AddStringToObject(p, "action", o->action);
	return call_render(ctx, "budget.set", p, render_budget);
}

static int
run_plan(struct call_ctx *ctx, const struct opts *o, char **args)
{
	cJSON *p = spec_params(args[0]);

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
	cJSON *p = spec_params(args[0]);

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
	if (parse_id(args[0], "sweep", &id) != EXIT_OK)
		return EXIT_USAGE;
	return call_render(ctx, "sweep.show", id_params(id), render_sweep);
}

static int
run_leaderboard(struct call_ctx *ctx, const struct opts *o, char **args)
{
	cJSON *p;
	int64_t id;

	if (parse_id(args[0], "sweep", &id) != EXIT_OK)
		return EXIT_USAGE;
	if ((o->given & OPT_BY) && strcmp(o->by, "objective") != 0 &&
	    strcmp(o->by, "value") != 0) {
		fprintf(stderr,
			"rftctl: --by: '%s' is not objective or value\n",
			o->by);
		return EXIT_USAGE;
	}
	p = id_params(id);
	if (o->given & OPT_LIMIT)
		cJSON_AddNumberToObject(p, "limit", (double)o->limit);
	if (o->given & OPT_BY)
		cJSON_AddStringToObject(p, "by", o->by);
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
	if (parse_id(args[0], "job", &id) != EXIT_OK)
		return EXIT_USAGE;
	return call_render(ctx, "job.show", id_params(id), render_job);
}

/* cancel|pause|resume [sweep|job] ID: a bare ID names a sweep. */
static int
run_action(struct call_ctx *ctx, char **args, const char *action)
{
	bool job = false;
	const char *id_arg = args[0];
	char method[32];
	int64_t id;

	if (args[1] != NULL) {
		if (strcmp(args[0], "job") == 0)
			job = true;
		else if (strcmp(args[0], "sweep") != 0) {
			fprintf(stderr,
				"rftctl: %s: expected 'sweep ID' or 'job ID', "
				"not '%s'\n",
				action, args[0]);
			return EXIT_USAGE;
		}
		id_arg = args[1];
	}
	if (parse_id(id_arg, job ? "job" : "sweep", &id) != EXIT_OK)
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
	int64_t id = 0;

	if (args[0] != NULL && parse_id(args[0], "sweep", &id) != EXIT_OK)
		return EXIT_USAGE;
	return watch_sweep(ctx, id,
			   (o->given & OPT_INTERVAL) ? o->interval : 0.5);
}

/* Runs a query and returns its result (caller frees), or NULL after
 * printing why; *rc is the exit status. */
static cJSON *
query(struct call_ctx *ctx, const char *sql, int64_t max_rows, int *rc)
{
	struct proto_reply rep;
	cJSON *p = cJSON_CreateObject(), *result;

	cJSON_AddStringToObject(p, "query", sql);
	if (max_rows > 0)
		cJSON_AddNumberToObject(p, "max_rows", (double)max_rows);
	*rc = call_method(ctx, "sql.query", p, &rep);
	if (*rc != EXIT_OK)
		return NULL;
	result = cJSON_Duplicate(rep.result, 1);
	proto_reply_free(&rep);
	return result;
}

static int
format_of(const struct opts *o, enum sql_format def, enum sql_format *f)
{
	*f = def;
	if (!(o->given & OPT_FORMAT))
		return EXIT_OK;
	if (sql_format_parse(o->format, f) != 0) {
		fprintf(stderr,
			"rftctl: --format: '%s' is not table, csv, json or "
			"ndjson\n",
			o->format);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int
run_sql(struct call_ctx *ctx, const struct opts *o, char **args)
{
	struct render_opts ro;
	enum sql_format f;
	cJSON *result;
	int rc;

	if (format_of(o, ctx->json ? SQL_JSON : SQL_TABLE, &f) != EXIT_OK)
		return EXIT_USAGE;
	result = query(ctx, args[0],
		       (o->given & OPT_MAX_ROWS) ? o->max_rows : 0, &rc);
	if (result == NULL)
		return rc;
	call_render_opts(ctx, &ro);
	sql_print(result, f, ro.width, stdout);
	cJSON_Delete(result);
	return EXIT_OK;
}

/* Fails with "no sweep N" when the sweep does not exist. */
static int
sweep_exists(struct call_ctx *ctx, int64_t id)
{
	struct proto_reply rep;
	int rc = call_method(ctx, "sweep.show", id_params(id), &rep);

	if (rc == EXIT_OK)
		proto_reply_free(&rep);
	return rc;
}

static int
run_export(struct call_ctx *ctx, const struct opts *o, char **args)
{
	enum sql_format f;
	char sql[512];
	cJSON *result;
	int64_t id;
	int rc;

	if (parse_id(args[0], "sweep", &id) != EXIT_OK ||
	    format_of(o, SQL_CSV, &f) != EXIT_OK)
		return EXIT_USAGE;
	if (f != SQL_CSV && f != SQL_NDJSON) {
		fprintf(stderr, "rftctl: export: --format is csv or jsonl\n");
		return EXIT_USAGE;
	}
	rc = sweep_exists(ctx, id);
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
	sql_print(result, f, 0, stdout);
	cJSON_Delete(result);
	return EXIT_OK;
}

static int
run_curves(struct call_ctx *ctx, const struct opts *o, char **args)
{
	const char *metric =
	    (o->given & OPT_METRIC) ? o->metric : "valid_reward_mean";
	struct render_opts ro;
	bool job = args[1] != NULL && strcmp(args[0], "job") == 0;
	const char *id_arg = args[1] != NULL ? args[1] : args[0];
	char *sql, *quoted;
	cJSON *result;
	int64_t id;
	int rc;

	if (args[1] != NULL && !job && strcmp(args[0], "sweep") != 0) {
		fprintf(stderr, "rftctl: curves: expected 'sweep ID' or 'job "
				"ID'\n");
		return EXIT_USAGE;
	}
	if (parse_id(id_arg, job ? "job" : "sweep", &id) != EXIT_OK)
		return EXIT_USAGE;
	/* The metric name goes into SQL as a literal: double its quotes. */
	quoted = xcalloc(2 * strlen(metric) + 1, 1);
	for (size_t i = 0, k = 0; metric[i] != '\0'; i++) {
		if (metric[i] == '\'')
			quoted[k++] = '\'';
		quoted[k++] = metric[i];
	}
	sql = xasprintf("SELECT job_id, trial_id, step, value FROM "
			"reward_curves WHERE %s = %lld AND metric = '%s' "
			"ORDER BY job_id, step",
			job ? "job_id" : "sweep_id", (long long)id, quoted);
	free(quoted);
	result = query(ctx, sql, 100000, &rc);
	free(sql);
	if (result == NULL)
		return rc;
	rc = EXIT_OK;
	call_render_opts(ctx, &ro);
	if (ctx->json)
		sql_print(result, SQL_JSON, 0, stdout);
	else if (render_curves(&ro, result, metric) != 0)
		rc = EXIT_DAEMON_ERROR;
	cJSON_Delete(result);
	return rc;
}

static const struct verb verbs[] = {
    {"status", "", 0, 0, 0, run_status,
     "the daemon's version, uptime, backends and row counts"},
    {"ping", "", 0, 0, 0, run_ping, "check that rftd answers"},
    {"budget set", "SCOPE USD|none [--action pause|cancel]", 2, 2, OPT_ACTION,
     run_budget_set, "change a limit now: global, day, month or sweep:ID"},
    {"budget", "", 0, 0, 0, run_budget,
     "every budget: limit, reserved, spent, remaining"},
    {"reload", "", 0, 0, 0, run_reload,
     "re-read rftd's configuration; a bad one is refused, the old kept"},
    {"plan", "SPEC [--reuse]", 1, 1, OPT_REUSE, run_plan,
     "validate and expand a sweep spec, bill it, warn; nothing is stored"},
    {"submit", "SPEC [--reuse] [--yes]", 1, 1, OPT_REUSE | OPT_YES, run_submit,
     "store a sweep and start it (--yes: despite warnings)"},
    {"sweeps", "", 0, 0, 0, run_sweeps, "list the sweeps"},
    {"sweep show", "ID", 1, 1, 0, run_sweep_show,
     "a sweep and its trials with state and objective"},
    {"leaderboard", "SWEEP [--limit N] [--by objective|value]", 1, 1,
     OPT_LIMIT | OPT_BY, run_leaderboard,
     "a sweep's trials ranked by the objective or reward per dollar"},
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
    {"watch", "[SWEEP] [--interval SECS]", 0, 1, OPT_INTERVAL, run_watch,
     "follow a sweep (default: the newest running) until it ends"},
    {"sql", "QUERY [--format table|csv|json|ndjson] [--max-rows N]", 1, 1,
     OPT_FORMAT | OPT_MAX_ROWS, run_sql,
     "run one read-only SQL query on the history (docs/schema.md)"},
    {"export", "SWEEP [--format csv|jsonl]", 1, 1, OPT_FORMAT, run_export,
     "one row per trial: hyperparameters, state, objective, cost, model"},
    {"curves", "[sweep|job] ID [--metric M]", 1, 2, OPT_METRIC, run_curves,
     "reward curves per job (sparklines on a terminal)"},
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: rftctl [-s socket] [-t seconds] [--json] "
		     "command [args]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++) {
		char left[64];

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
		"  -j, --json          print replies as JSON\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\nexit status: 0 ok, 1 rftd answered with an error, 2 usage "
		"error,\n3 rftd not reachable\n");
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
	default:
		return "--action";
	}
}

int
main(int argc, char **argv)
{
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
	    {NULL, 0, NULL, 0},
	};
	struct call_ctx ctx = {.timeout_ms = 30000};
	struct opts o = {0};
	const char *socket_flag = NULL;
	const struct verb *verb;
	char *args[3] = {NULL, NULL, NULL};
	char *socket;
	double secs;
	int ch, rc, used, nargs;

	ctx.tty = isatty(STDOUT_FILENO);
	while ((ch = getopt_long(argc, argv, "s:t:jhV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 's':
			socket_flag = optarg;
			break;
		case 't':
			if (parse_double(optarg, 0.001, 86400, &secs) != 0) {
				fprintf(stderr,
					"rftctl: -t: '%s' is not a number of "
					"seconds in 0.001..86400\n",
					optarg);
				return EXIT_USAGE;
			}
			ctx.timeout_ms = (int)(secs * 1000);
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("rftctl %s\n", RFTD_VERSION);
			return EXIT_OK;
		case 'r':
			o.given |= OPT_REUSE;
			o.reuse = true;
			break;
		case 'S':
			o.given |= OPT_SWEEP;
			if (parse_id(optarg, "--sweep", &o.sweep) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case 'T':
			o.given |= OPT_STATE;
			o.state = optarg;
			break;
		case 'n':
			o.given |= OPT_LIMIT;
			if (parse_i64(optarg, 1, 1000000, &o.limit) != 0) {
				fprintf(stderr,
					"rftctl: --limit: '%s' is not a number "
					"in 1..1000000\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			o.given |= OPT_INTERVAL;
			if (parse_double(optarg, 0.05, 3600, &o.interval) !=
			    0) {
				fprintf(stderr,
					"rftctl: --interval: '%s' is not a "
					"number of seconds in 0.05..3600\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			o.given |= OPT_FORMAT;
			o.format = optarg;
			break;
		case 'm':
			o.given |= OPT_MAX_ROWS;
			if (parse_i64(optarg, 1, 100000, &o.max_rows) != 0) {
				fprintf(stderr,
					"rftctl: --max-rows: '%s' is not a "
					"number in 1..100000\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'M':
			o.given |= OPT_METRIC;
			o.metric = optarg;
			break;
		case 'a':
			o.given |= OPT_ACTION;
			o.action = optarg;
			break;
		case 'b':
			o.given |= OPT_BY;
			o.by = optarg;
			break;
		case 'y':
			o.given |= OPT_YES;
			o.yes = true;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	verb = find_verb(argc - optind, argv + optind, &used);
	if (verb == NULL) {
		fprintf(stderr, "rftctl: unknown or ambiguous command '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	nargs = argc - optind - used;
	if (nargs < verb->min_args || nargs > verb->max_args) {
		if (nargs > verb->max_args)
			fprintf(
			    stderr, "rftctl: %s: unexpected argument '%s'\n",
			    verb->name, argv[optind + used + verb->max_args]);
		else
			fprintf(stderr, "rftctl: usage: rftctl %s %s\n",
				verb->name, verb->args);
		return EXIT_USAGE;
	}
	if (o.given & ~verb->opts) {
		unsigned int bad = o.given & ~verb->opts;

		fprintf(stderr, "rftctl: %s does not take %s\n", verb->name,
			flag_name(bad & -bad));
		return EXIT_USAGE;
	}
	for (int i = 0; i < nargs; i++)
		args[i] = argv[optind + used + i];
	socket = pick_socket(socket_flag);
	ctx.socket = socket;
	rc = verb->run(&ctx, &o, args);
	call_close(&ctx);
	free(socket);
	return rc;
}
