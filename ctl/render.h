/*
 * rftctl's rendering of replies (text for people; --json prints the
 * result as it came) and the watch loop.
 */
#ifndef RFTCTL_RENDER_H
#define RFTCTL_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "proto.h"

enum {
	EXIT_OK = 0,
	EXIT_DAEMON_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

struct client;

struct ctx {
	const char *socket;
	const char *spec_path; /* for messages about a spec */
	bool json;
	bool tty; /* stdout is a terminal */
	int timeout_ms;
	uint64_t sent_ns;      /* when the last request left, for ping */
	struct client *client; /* connected on first use */
};

/*
 * Sends one request and waits for its reply.  Returns EXIT_OK with `rep`
 * filled (free with proto_reply_free()), or an exit status after
 * printing why (a daemon error is rendered, with its details).
 */
int ctl_call(struct ctx *ctx, const char *method, cJSON *params,
	     struct proto_reply *rep);

typedef void (*render_fn)(const struct ctx *ctx, const cJSON *result);

void render_json(const cJSON *result);
void render_error(const struct ctx *ctx, const struct proto_reply *rep);
void render_status(const struct ctx *ctx, const cJSON *r);
void render_ping(const struct ctx *ctx, const cJSON *r);
void render_reload(const struct ctx *ctx, const cJSON *r);
void render_budget(const struct ctx *ctx, const cJSON *r);
void render_plan(const struct ctx *ctx, const cJSON *r);
void render_submit(const struct ctx *ctx, const cJSON *r);
void render_sweeps(const struct ctx *ctx, const cJSON *r);
void render_sweep(const struct ctx *ctx, const cJSON *r);
void render_leaderboard(const struct ctx *ctx, const cJSON *r);
void render_jobs(const struct ctx *ctx, const cJSON *r);
void render_job(const struct ctx *ctx, const cJSON *r);
void render_job_action(const struct ctx *ctx, const cJSON *r);
void render_sweep_action(const struct ctx *ctx, const cJSON *r);

/* Sparklines per job on a terminal, else "job step value" lines; exit
 * status (1 when there is nothing to show). */
int render_curves(const struct ctx *ctx, const cJSON *result,
		  const char *metric);
/* The terminal's width when stdout is one, else 0. */
int render_width(const struct ctx *ctx);

/*
 * Follows sweep `id` (0: the newest running one) until it ends: a line per
 * trial state change, and on a terminal a live progress line.
 */
int watch(struct ctx *ctx, int64_t id, double interval);

#endif
