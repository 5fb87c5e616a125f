/*
 * `rftctl watch` (see watch.h): the polling, the states seen so far, why
 * trials wait, and a connection that outlives a restart of rftd.
 */
#include "watch.h"

#include "call.h"
#include "render.h"
#include "util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_S 0.1 /* the first pause before connecting again */
#define BACKOFF_MAX_S 5.0 /* the longest */

struct watch {
	struct call_ctx *ctx;
	const struct watch_opts *o;
	struct render_opts ro;
	int64_t id;
	char **states;	     /* each trial's last state, by position */
	size_t nstates;	     /* 0 until the first answer */
	char *waiting;	     /* the wait last told, figures left out */
	bool answered;	     /* rftd answered once: from then on, reconnect */
	bool progress_shown; /* a progress line is on the terminal */
	double last_line;    /* monotonic seconds of the last line out */
};

static const char *
str(const cJSON *obj, const char *key, const char *fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : fallback;
}

static const cJSON *
get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* --- what goes out -------------------------------------------------------- */

/* Before a line: the live progress line goes (on a terminal). */
static const char *
line_start(struct watch *w, char clock[16])
{
	time_t now = time(NULL);
	struct tm tm;

	if (w->progress_shown) {
		printf("\r\033[K");
		w->progress_shown = false;
	}
	localtime_r(&now, &tm);
	strftime(clock, 16, "%H:%M:%S", &tm);
	w->last_line = now_mono_s();
	return clock;
}

/* An event of --json: {"event": NAME, "time": T, ...}, to fill. */
static cJSON *
event_new(const char *name)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "event", name);
	cJSON_AddNumberToObject(e, "time", now_wall());
	return e;
}

/* One line of NDJSON, and the event freed. */
static void
event_out(struct watch *w, cJSON *e)
{
	char *text = cJSON_PrintUnformatted(e);

	printf("%s\n", text);
	free(text);
	cJSON_Delete(e);
	w->last_line = now_mono_s();
}

static cJSON *
progress_json(const cJSON *sweep)
{
	struct render_counts c;
	cJSON *p = cJSON_CreateObject();

	render_watch_counts(sweep, &c);
	cJSON_AddStringToObject(p, "state", str(sweep, "state", "?"));
	cJSON_AddNumberToObject(p, "trials", c.trials);
	cJSON_AddNumberToObject(p, "done", c.done);
	cJSON_AddNumberToObject(p, "failed", c.failed);
	cJSON_AddNumberToObject(p, "running", c.running);
	cJSON_AddNumberToObject(p, "paused", c.paused);
	cJSON_AddNumberToObject(p, "waiting", c.pending);
	cJSON_AddStringToObject(p, "objective_metric",
				str(sweep, "objective_metric", "?"));
	if (c.has_best)
		cJSON_AddNumberToObject(p, "best", c.best);
	else
		cJSON_AddNullToObject(p, "best");
	return p;
}

static void
tell_start(struct watch *w, const cJSON *sweep)
{
	char clock[16];
	cJSON *e;

	if (!w->ctx->json) {
		render_watch_start(&w->ro, line_start(w, clock), sweep);
		return;
	}
	e = event_new("start");
	cJSON_AddNumberToObject(e, "sweep_id", (double)w->id);
	cJSON_AddStringToObject(e, "name", str(sweep, "name", "?"));
	cJSON_AddStringToObject(e, "backend", str(sweep, "backend", "?"));
	cJSON_AddBoolToObject(e, "simulated",
			      cJSON_IsTrue(get(sweep, "simulated")));
	cJSON_AddItemToObject(e, "progress", progress_json(sweep));
	event_out(w, e);
}

static void
tell_trial(struct watch *w, const cJSON *trial, const char *was)
{
	char clock[16];
	cJSON *e;

	if (!w->ctx->json) {
		render_watch_trial(&w->ro, line_start(w, clock), trial, was);
		return;
	}
	e = event_new("trial");
	cJSON_AddNumberToObject(e, "sweep_id", (double)w->id);
	cJSON_AddItemToObject(e, "trial_id",
			      cJSON_Duplicate(get(trial, "id"), 1));
	if (was != NULL)
		cJSON_AddStringToObject(e, "from", was);
	else
		cJSON_AddNullToObject(e, "from");
	cJSON_AddStringToObject(e, "to", str(trial, "state", "?"));
	cJSON_AddItemToObject(e, "trial", cJSON_Duplicate(trial, 1));
	event_out(w, e);
}

static void
tell_wait(struct watch *w, int n, const char *why)
{
	char clock[16];
	cJSON *e;

	if (!w->ctx->json) {
		if (n > 0)
			render_watch_wait(&w->ro, line_start(w, clock), n, why);
		return;
	}
	e = event_new("waiting");
	cJSON_AddNumberToObject(e, "sweep_id", (double)w->id);
	cJSON_AddNumberToObject(e, "trials", n);
	if (n > 0)
		cJSON_AddStringToObject(e, "reason", why);
	else
		cJSON_AddNullToObject(e, "reason");
	event_out(w, e);
}

static void
tell_heartbeat(struct watch *w, const cJSON *sweep, int n, const char *why)
{
	char clock[16];
	cJSON *e;

	if (!w->ctx->json) {
		render_watch_heartbeat(&w->ro, line_start(w, clock), w->id,
				       sweep, n, why);
		return;
	}
	e = event_new("heartbeat");
	cJSON_AddNumberToObject(e, "sweep_id", (double)w->id);
	cJSON_AddItemToObject(e, "progress", progress_json(sweep));
	if (n > 0) {
		cJSON *wait = cJSON_AddObjectToObject(e, "waiting");

		cJSON_AddNumberToObject(wait, "trials", n);
		cJSON_AddStringToObject(wait, "reason", why);
	}
	event_out(w, e);
}

static void
tell_end(struct watch *w, const cJSON *sweep)
{
	char clock[16];
	cJSON *e;

	if (!w->ctx->json) {
		render_watch_end(&w->ro, line_start(w, clock), w->id, sweep);
		return;
	}
	e = event_new("end");
	cJSON_AddNumberToObject(e, "sweep_id", (double)w->id);
	cJSON_AddItemToObject(e, "progress", progress_json(sweep));
	event_out(w, e);
}

/* The connection: lost (`why`), still lost after `secs`, or back. */
static void
tell_connection(struct watch *w, const char *name, double secs, const char *why)
{
	char clock[16];
	cJSON *e;

	if (!w->ctx->json) {
		line_start(w, clock);
		if (strcmp(name, "disconnected") == 0)
			render_watch_lost(&w->ro, clock, why);
		else if (strcmp(name, "reconnecting") == 0)
			render_watch_still_lost(&w->ro, clock, secs, why);
		else
			render_watch_back(&w->ro, clock, secs);
		fflush(stdout);
		return;
	}
	e = event_new(name);
	if (strcmp(name, "disconnected") != 0)
		cJSON_AddNumberToObject(e, "after_s", secs);
	if (why != NULL)
		cJSON_AddStringToObject(e, "error", why);
	event_out(w, e);
	fflush(stdout);
}

/* --- asking rftd ---------------------------------------------------------- */

/*
 * A request that survives a restart of rftd.  Once rftd has answered,
 * a lost connection (or rftd saying it is shutting down) is told, and
 * the request is sent again on a new connection after a pause that
 * doubles up to BACKOFF_MAX_S, until rftd answers or has been away for
 * o->reconnect seconds.  Returns EXIT_OK with `rep` filled (free it), or an
 * exit status after telling why.  `params` stay the caller's.
 */
static int
ask(struct watch *w, const char *method, const cJSON *params,
    struct proto_reply *rep)
{
	double lost_at = 0, told_at = 0, pause = BACKOFF_MIN_S;
	char err[1024];

	for (;;) {
		int rc = call_try(w->ctx, method,
				  params ? cJSON_Duplicate(params, 1) : NULL,
				  rep, err, sizeof(err));
		double now = now_mono_s();

		if (rc == EXIT_OK && rep->code == PROTO_E_SHUTTING_DOWN) {
			snprintf(err, sizeof(err), "%s", rep->message);
			proto_reply_free(rep);
			call_close(w->ctx);
			rc = EXIT_UNREACHABLE;
		}
		if (rc == EXIT_OK) {
			if (lost_at > 0)
				tell_connection(w, "reconnected", now - lost_at,
						NULL);
			w->answered = true;
			return rep->code == 0 ? EXIT_OK
					      : call_fail_reply(w->ctx, rep);
		}
		if (!w->answered || w->o->reconnect <= 0)
			return call_fail(w->ctx, EXIT_UNREACHABLE,
					 "unreachable", "%s", err);
		if (lost_at == 0) {
			lost_at = told_at = now;
			tell_connection(w, "disconnected", 0, err);
		} else if (now - told_at >= w->o->heartbeat) {
			told_at = now;
			tell_connection(w, "reconnecting", now - lost_at, err);
		}
		if (now - lost_at >= w->o->reconnect)
			return call_fail(w->ctx, EXIT_UNREACHABLE,
					 "unreachable",
					 "watch: rftd has not answered for "
					 "%.0f s: %s",
					 now - lost_at, err);
		usleep((useconds_t)(fmin(pause, w->o->reconnect) * 1e6));
		pause = fmin(2 * pause, BACKOFF_MAX_S);
	}
}

/* The newest running (or paused) sweep, or 0. */
static int64_t
newest_active(struct watch *w, int *rc)
{
	struct proto_reply rep;
	const cJSON *s;
	int64_t id = 0;

	*rc = ask(w, "sweep.list", NULL, &rep);
	if (*rc != EXIT_OK)
		return 0;
	cJSON_ArrayForEach(s, get(rep.result, "sweeps"))
	{
		const char *state = str(s, "state", "");
		const cJSON *v = get(s, "id");

		if (strcmp(state, "running") == 0 ||
		    strcmp(state, "paused") == 0)
			id = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
	}
	proto_reply_free(&rep);
	return id;
}

/*
 * Why the sweep's trials wait (render_watch_waiting()).  Only when no
 * trial gives a reason does it ask for every sweep and the backends, to
 * tell a full backend.  Returns the count, or -1 with *rc set.
 */
static int
waiting(struct watch *w, const cJSON *sweep, char *why, size_t len, int *rc)
{
	struct proto_reply sweeps, status;
	struct render_counts c;
	int n = render_watch_waiting(sweep, NULL, NULL, why, len);

	render_watch_counts(sweep, &c);
	if (n > 0 || c.pending == 0 ||
	    strcmp(str(sweep, "state", ""), "running") != 0)
		return n;
	*rc = ask(w, "sweep.list", NULL, &sweeps);
	if (*rc != EXIT_OK)
		return -1;
	*rc = ask(w, "daemon.status", NULL, &status);
	if (*rc != EXIT_OK) {
		proto_reply_free(&sweeps);
		return -1;
	}
	n = render_watch_waiting(sweep, sweeps.result, status.result, why, len);
	proto_reply_free(&sweeps);
	proto_reply_free(&status);
	return n;
}

/* The kind of a wait: its words, without the figures that move as jobs
 * spend ("$190.00 spent"), so that a line comes when the kind changes. */
static char *
wait_kind(const char *why)
{
	char *kind = xstrdup(why), *out = kind;

	for (const char *p = why; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.' && *p != '$')
			*out++ = *p;
	*out = '\0';
	return kind;
}

/* --- following ------------------------------------------------------------ */

/* One answer of sweep.show: the lines it calls for.  Sets *ended. */
static int
follow(struct watch *w, const cJSON *sweep, bool *ended)
{
	const cJSON *t;
	const char *state = str(sweep, "state", "?");
	char why[512], line[512];
	size_t i = 0;
	int n, rc = EXIT_OK;
	char *kind;

	if (w->states == NULL) {
		w->nstates = (size_t)cJSON_GetArraySize(get(sweep, "trials"));
		w->states =
		    xcalloc(w->nstates ? w->nstates : 1, sizeof(*w->states));
		tell_start(w, sweep);
	}
	cJSON_ArrayForEach(t, get(sweep, "trials"))
	{
		const char *s = str(t, "state", "?");

		if (i >= w->nstates)
			break;
		if (w->states[i] == NULL || strcmp(w->states[i], s) != 0) {
			tell_trial(w, t, w->states[i]);
			free(w->states[i]);
			w->states[i] = xstrdup(s);
		}
		i++;
	}
	*ended =
	    strcmp(state, "completed") == 0 || strcmp(state, "cancelled") == 0;
	n = *ended ? 0 : waiting(w, sweep, why, sizeof(why), &rc);
	if (n < 0)
		return rc;
	kind = wait_kind(n > 0 ? why : "");
	if (w->waiting == NULL ? n > 0 : strcmp(w->waiting, kind) != 0) {
		tell_wait(w, n, why);
		free(w->waiting);
		w->waiting = kind;
	} else {
		free(kind);
	}
	if (*ended) {
		tell_end(w, sweep);
	} else if (now_mono_s() - w->last_line >= w->o->heartbeat) {
		tell_heartbeat(w, sweep, n, why);
	}
	if (w->ctx->tty && !w->ctx->json && !*ended) {
		render_watch_progress(sweep, line, sizeof(line));
		printf("\r\033[K%s", line);
		w->progress_shown = true;
	}
	fflush(stdout);
	return EXIT_OK;
}

int
watch_sweep(struct call_ctx *ctx, int64_t id, const struct watch_opts *o)
{
	struct watch w = {.ctx = ctx, .o = o, .id = id};
	cJSON *params;
	int rc = EXIT_OK;

	call_render_opts(ctx, &w.ro);
	if (w.id == 0) {
		w.id = newest_active(&w, &rc);
		if (rc != EXIT_OK)
			return rc;
		if (w.id == 0)
			return call_fail(ctx, EXIT_DAEMON_ERROR, "not found",
					 "watch: no sweep is running");
	}
	params = cJSON_CreateObject();
	cJSON_AddNumberToObject(params, "id", (double)w.id);
	for (;;) {
		struct proto_reply rep;
		bool ended = false;

		rc = ask(&w, "sweep.show", params, &rep);
		if (rc != EXIT_OK)
			break;
		rc = follow(&w, rep.result, &ended);
		proto_reply_free(&rep);
		if (rc != EXIT_OK || ended)
			break;
		usleep((useconds_t)(o->interval * 1e6));
	}
	cJSON_Delete(params);
	for (size_t i = 0; i < w.nstates; i++)
		free(w.states[i]);
	free(w.states);
	free(w.waiting);
	return rc;
}
