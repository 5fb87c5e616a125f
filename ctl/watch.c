/* `rftctl watch` (see watch.h): the polling and the states seen so far. */
#include "watch.h"

#include "call.h"
#include "render.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* The newest running (or paused) sweep, or 0. */
static int64_t
newest_active(struct call_ctx *ctx, int *rc)
{
	struct proto_reply rep;
	const cJSON *s;
	int64_t id = 0;

	*rc = call_method(ctx, "sweep.list", NULL, &rep);
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

int
watch_sweep(struct call_ctx *ctx, int64_t id, double interval)
{
	struct render_opts ro;
	char **states = NULL;
	size_t nstates = 0;
	int rc = EXIT_OK;
	bool progress_shown = false;

	if (id == 0) {
		id = newest_active(ctx, &rc);
		if (rc != EXIT_OK)
			return rc;
		if (id == 0) {
			fprintf(stderr, "rftctl: watch: no sweep is running\n");
			return EXIT_DAEMON_ERROR;
		}
	}
	call_render_opts(ctx, &ro);
	for (;;) {
		struct proto_reply rep;
		cJSON *p = cJSON_CreateObject();
		const cJSON *t;
		const char *state;
		char line[512], clock[16];
		size_t i = 0;
		time_t now = time(NULL);
		struct tm tm;
		bool ended;

		cJSON_AddNumberToObject(p, "id", (double)id);
		rc = call_method(ctx, "sweep.show", p, &rep);
		if (rc != EXIT_OK)
			break;
		localtime_r(&now, &tm);
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
		if (states == NULL) {
			nstates = (size_t)cJSON_GetArraySize(
			    get(rep.result, "trials"));
			states =
			    xcalloc(nstates ? nstates : 1, sizeof(*states));
			render_watch_start(&ro, clock, rep.result);
		}
		cJSON_ArrayForEach(t, get(rep.result, "trials"))
		{
			const char *s = str(t, "state", "?");

			if (i >= nstates)
				break;
			if (states[i] != NULL && strcmp(states[i], s) == 0) {
				i++;
				continue;
			}
			if (progress_shown && ctx->tty) {
				printf("\r\033[K");
				progress_shown = false;
			}
			render_watch_trial(&ro, clock, t, states[i]);
			free(states[i]);
			states[i] = xstrdup(s);
			i++;
		}
		state = str(rep.result, "state", "?");
		ended = strcmp(state, "completed") == 0 ||
			strcmp(state, "cancelled") == 0;
		if (ctx->tty && !ended) {
			render_watch_progress(rep.result, line, sizeof(line));
			printf("\r\033[K%s", line);
			progress_shown = true;
		}
		if (ended) {
			if (progress_shown)
				printf("\r\033[K");
			render_watch_end(&ro, clock, id, rep.result);
		}
		fflush(stdout);
		proto_reply_free(&rep);
		if (ended)
			break;
		usleep((useconds_t)(interval * 1e6));
	}
	for (size_t i = 0; i < nstates; i++)
		free(states[i]);
	free(states);
	return rc;
}
