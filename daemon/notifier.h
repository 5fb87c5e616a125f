/*
 * Notifications: events that need a person (a sweep completed, a budget
 * halt, a job failed for good, a provider hold, an early stop) go into
 * the store's outbox in the transaction that caused them, and are
 * delivered from there to [notify] command and/or url, at least once
 * across restarts, each with a stable id receivers de-duplicate by.
 */
#ifndef RFTD_NOTIFIER_H
#define RFTD_NOTIFIER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;

/*
 * Starts delivering what the outbox holds (left by an earlier run too).
 * Returns 0, or -1 with `err` saying why.
 */
int notifier_open(struct daemon *d, char *err, size_t errlen);

/* Stops: attempts under way are abandoned (the outbox keeps them). */
void notifier_close(struct daemon *d);
void notifier_free(struct daemon *d);

/*
 * Records event `type` ("sweep.completed", ...) with `data` (taken over)
 * in the outbox, inside the caller's transaction when one is open, and
 * wakes delivery.  Events not selected by [notify] events, or with no
 * [notify] target, are not recorded.  Returns 0 or a negative errno.
 */
int notifier_event(struct daemon *d, const char *type, cJSON *data);

/*
 * notifier_event() of "job.failed" or "trial.early_stopped" for trial
 * `trial_id` of sweep `sweep_id`, run by job `job_id`, with the facts
 * the store has of it and `error` (or NULL); in the caller's
 * transaction.  Returns 0 or a negative errno.
 */
int notifier_trial_event(struct daemon *d, const char *type, int64_t sweep_id,
			 int64_t trial_id, int64_t job_id, const char *error);

/*
 * Marks running sweeps whose trials have all ended as completed (as
 * store_sweeps_refresh() does), with a "sweep.completed" event each in
 * the same transaction.  Returns 0 or a negative errno.
 */
int notifier_sweeps_refresh(struct daemon *d, double now);

/*
 * Compares each backend's hold on submissions with what was last seen:
 * a hold that began or ended is a "provider.hold_started" or
 * "provider.hold_ended" event.  Called each tick; a hold is in memory
 * only, so one that a restart forgets is not told as ended.
 */
void notifier_holds(struct daemon *d);

/*
 * Called once with rc 0 and `result` {id, targets: [{target, delivered,
 * outcome}]} (taken over), or with a negative errno and `error` when
 * rftd closes first (`result` NULL).
 */
typedef void (*notifier_test_cb)(void *arg, int rc, const char *error,
				 cJSON *result);

/*
 * notify.test: records a "test" event and starts its first attempt to
 * every target at once; `cb` follows when each has ended.  Returns 0
 * (then `cb` is called once, maybe before this returns), -ENOENT when [notify]
 * has no target, -ECANCELED when closing, or -EIO; `err` says why.
 */
int notifier_test(struct daemon *d, notifier_test_cb cb, void *arg, char *err,
		  size_t errlen);

#endif
