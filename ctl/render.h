/*
 * rftctl's text for rftd's replies: pure functions from a reply (a cJSON
 * tree, only read) to text on the streams they are given.  Nothing here
 * talks to rftd, asks the terminal or exits; what the caller knows comes
 * in a struct render_opts.  A member missing from a reply, or of another
 * type, prints as a placeholder ("?", "-", "none" or 0), never fails.
 * Times print in the local time zone (TZ).  --json output is
 * render_json's: the result as it came.
 *
 * Glossary:
 *   result  the "result" member of a successful reply (common/PROTOCOL.md).
 *   width   the columns a table may fill: its last column is cut to fit,
 *           with "..." (0: no limit, as when the output is not a terminal).
 *   clock   the wall-clock time a watch line is stamped with, as text.
 */
#ifndef RFTCTL_RENDER_H
#define RFTCTL_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "proto.h"

struct render_opts {
	FILE *out;	       /* the text goes here */
	FILE *err;	       /* error text goes here */
	int width;	       /* see the glossary */
	bool tty;	       /* out is a terminal: curves as sparklines */
	const char *spec_path; /* names the spec in a rejection; NULL: "spec" */
};

/* Prints the result of one method as text on ro->out. */
typedef void (*render_fn)(const struct render_opts *ro, const cJSON *result);

/* The result as it came, indented (--json). */
void render_json(const struct render_opts *ro, const cJSON *result);
/*
 * An error reply (rep->code != 0) on ro->err: its message and the code's
 * text, the daemon's configuration errors when it sent them, or every
 * problem of a rejected spec with its JSON path.
 */
void render_error(const struct render_opts *ro, const struct proto_reply *rep);
/* "rftd at SOCKET answered in MS ms". */
void render_ping(const struct render_opts *ro, const char *socket, double ms);

/*
 * The render_fn of each method:
 *   render_status        daemon.status
 *   render_reload        daemon.reload
 *   render_budget        budget.show, budget.set
 *   render_plan          sweep.plan
 *   render_submit        sweep.submit
 *   render_sweeps        sweep.list
 *   render_sweep         sweep.show
 *   render_leaderboard   sweep.leaderboard
 *   render_sweep_action  sweep.cancel, sweep.pause, sweep.resume
 *   render_jobs          job.list
 *   render_job           job.show
 *   render_job_action    job.cancel, job.pause, job.resume
 */
void render_status(const struct render_opts *ro, const cJSON *r);
void render_reload(const struct render_opts *ro, const cJSON *r);
void render_budget(const struct render_opts *ro, const cJSON *r);
void render_plan(const struct render_opts *ro, const cJSON *r);
void render_submit(const struct render_opts *ro, const cJSON *r);
void render_sweeps(const struct render_opts *ro, const cJSON *r);
void render_sweep(const struct render_opts *ro, const cJSON *r);
void render_leaderboard(const struct render_opts *ro, const cJSON *r);
void render_sweep_action(const struct render_opts *ro, const cJSON *r);
void render_jobs(const struct render_opts *ro, const cJSON *r);
void render_job(const struct render_opts *ro, const cJSON *r);
void render_job_action(const struct render_opts *ro, const cJSON *r);

/*
 * A sql.query result of (job_id, trial_id, step, value) rows: on a
 * terminal (ro->tty) a sparkline per job, fitted to ro->width; else a
 * tab-separated "job trial step value" line per row under a header.
 * Returns 0, or -ENODATA after saying so on ro->err when there are no
 * rows.
 */
int render_curves(const struct render_opts *ro, const cJSON *result,
		  const char *metric);

/*
 * The lines of `rftctl watch`, from sweep.show results (`sweep`) and their
 * trials.  The caller keeps the trials' last states and decides when a
 * line is due; these only word them.
 */
/* A sweep's trials counted by how far they got. */
struct render_counts {
	int trials, done, failed, running, paused, pending;
	bool has_best;
	double best; /* the best objective of any trial, in the sweep's mode */
};
void render_watch_counts(const cJSON *sweep, struct render_counts *c);
/* "CLOCK watching sweep ID "NAME": N trials". */
void render_watch_start(const struct render_opts *ro, const char *clock,
			const cJSON *sweep);
/* A trial's move from state `was` (NULL: first seen, "new") to its own. */
void render_watch_trial(const struct render_opts *ro, const char *clock,
			const cJSON *trial, const char *was);
/* The one-line progress of a sweep (no newline) into buf, cut to len. */
void render_watch_progress(const cJSON *sweep, char *buf, size_t len);
/*
 * Why the sweep's pending trials wait, into buf: the reason rftd gave
 * the first of them (a budget, a provider's hold, a retry), else the
 * sweep being paused, else a full slot count: the sweep's own
 * max_concurrent, or its backend's, counted over `sweeps` (sweep.list's
 * result) with the backend's limit from `status` (daemon.status's);
 * either may be NULL.  Returns how many trials wait, 0 (buf empty) when
 * none does or nothing says why (they start at the next tick).
 */
int render_watch_waiting(const cJSON *sweep, const cJSON *sweeps,
			 const cJSON *status, char *buf, size_t len);
/* "CLOCK N trials pending: WHY". */
void render_watch_wait(const struct render_opts *ro, const char *clock, int n,
		       const char *why);
/* "CLOCK still following sweep ID: PROGRESS", and the wait of `n`
 * trials when there is one (a sign of life). */
void render_watch_heartbeat(const struct render_opts *ro, const char *clock,
			    int64_t id, const cJSON *sweep, int n,
			    const char *why);
/* The connection to rftd was lost (why), is still lost, came back. */
void render_watch_lost(const struct render_opts *ro, const char *clock,
		       const char *why);
void render_watch_still_lost(const struct render_opts *ro, const char *clock,
			     double seconds, const char *why);
void render_watch_back(const struct render_opts *ro, const char *clock,
		       double seconds);
/* The last line: sweep `id` (the one followed) ended, with its progress. */
void render_watch_end(const struct render_opts *ro, const char *clock,
		      int64_t id, const cJSON *sweep);

#endif
