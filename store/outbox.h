/*
 * The outbox of notifications (migrations/0008): one row per event and
 * target, written in the transaction of the change that caused it, read
 * back by the notifier until delivered or given up.  Also the facts an
 * event tells, read from the store in that same transaction.
 *
 * Loop thread only, on the writer connection; each call is one bounded
 * statement (the due rows come a page at a time).
 */
#ifndef RFTD_STORE_OUTBOX_H
#define RFTD_STORE_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct store;

/* Adds event `id` for `target` ("command" or "url"), due at `now`. */
int store_outbox_add(struct store *st, const char *id, const char *target,
		     const char *type, const char *payload, double now);

/* A pending row; strings valid during the callback only. */
struct store_outbox_row {
	const char *id;
	const char *target;
	const char *type;
	const char *payload;
	double created_at;
	int attempts;
};

/*
 * Calls `fn` for at most `limit` pending rows of `target` due at `now`,
 * soonest first; `fn` must not use the store.  Returns the number of
 * rows, or -EIO.
 */
int store_outbox_due(struct store *st, const char *target, double now,
		     int limit,
		     void (*fn)(const struct store_outbox_row *r, void *arg),
		     void *arg);

/*
 * The soonest next_attempt_at of a pending row of `target`: 0 with *at
 * set, -ENOENT when none is pending, or -EIO.
 */
int store_outbox_next(struct store *st, const char *target, double *at);

/*
 * An attempt starts: counts it and moves the row's next attempt to
 * `retry_at`, past the attempt's end (a crash then retries it).
 */
int store_outbox_attempt(struct store *st, const char *id, const char *target,
			 double retry_at);

/* The attempt delivered it. */
int store_outbox_delivered(struct store *st, const char *id, const char *target,
			   double now);

/*
 * The attempt failed with `error`: tried again at `retry_at`, or given
 * up (state 'failed') when `retry_at` is <= 0.
 */
int store_outbox_failed(struct store *st, const char *id, const char *target,
			const char *error, double retry_at);

/* Rows pending and given up, over every target. */
int store_outbox_counts(struct store *st, int64_t *pending, int64_t *failed);

/*
 * What a notification tells of sweep `sweep_id` (its state, winner,
 * cost and trial counts) or of trial `trial_id` run by job `job_id` in
 * sweep `sweep_id` (its grader, hyperparameters, cost, last early-stop
 * decision): a JSON object (caller frees), or NULL on a store error.
 */
cJSON *store_outbox_sweep_data(struct store *st, int64_t sweep_id);
cJSON *store_outbox_trial_data(struct store *st, int64_t sweep_id,
			       int64_t trial_id, int64_t job_id);

#endif
