/*
 * The scheduler: when to act on jobs.  One timer tick gives each live
 * job its turn (a poll, a find, a stop under way), lets the meter decide
 * what a budget must stop, admits pending trials within the concurrency
 * limits, and marks finished sweeps; a second timer stops each job when
 * it reaches max_job_hours.  What an outcome means is the lifecycle's
 * (lifecycle.h): the scheduler carries out the steps it returns.
 *
 * After a restart the first tick reconciles jobs whose submission outcome
 * is not known, through the backends' find().  While the store refuses
 * writes (a full disk), polls and submissions wait and spend in memory
 * is what was committed; budgets stay enforced.  Loop thread only.
 */
#ifndef RFTD_SCHEDULER_H
#define RFTD_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "lifecycle.h"

struct daemon;
struct scheduler;

struct scheduler *scheduler_new(struct daemon *d);
/* Applies the configuration's tick (on start and reload); a backend
 * whose start-up listing failed is tried again at once. */
void scheduler_configure(struct scheduler *s, unsigned int tick_ms);
/*
 * Starts a tick now (control actions want prompt effects), or another
 * as soon as the one under way ends.  Its first slice runs before this
 * returns; on a small store that is all of it.
 */
void scheduler_kick(struct scheduler *s);
/* Runs a whole tick now, in one go, after the one under way (tests). */
void scheduler_tick_whole(struct scheduler *s);
/* When the last tick finished (monotonic ns); 0 before the first. */
uint64_t scheduler_last_tick_ns(const struct scheduler *s);

#define TICK_HISTORY 512

/* Durations in milliseconds: of the last TICK_HISTORY, and how many
 * there were since the start. */
struct duration_stats {
	uint64_t count;
	double last, p50, p99, max;
};

/*
 * How long the recent ticks worked (all their slices), and how long each
 * slice held the loop: the most a control request waited for one.
 */
struct tick_stats {
	struct duration_stats ticks, holds;
};

void scheduler_tick_stats(const struct scheduler *s, struct tick_stats *out);
/*
 * A backend's round of answers (backend_env.round): begin opens one unit
 * of store writes for its callbacks, end commits it.  Nothing is opened
 * while the store refuses writes or a transaction is already open.
 */
void scheduler_round(struct scheduler *s, bool begin);
/* Stops the timers; the memory goes in the close callbacks. */
void scheduler_close(struct scheduler *s);

/*
 * Whether backend `be` submits nothing for now for a reason of the
 * scheduler's (answers not yet recorded, its start-up listing not done):
 * true with the reason.  A provider's quota hold is the backend's own
 * (hold_until).
 */
bool scheduler_backend_waits(const struct scheduler *s,
			     const struct backend *be, char *why, size_t len);

/*
 * Whether the store refuses writes now: true with when it began (Unix
 * seconds) and SQLite's word, false when it takes them.
 */
bool scheduler_store_fault(const struct scheduler *s, double *since, char *why,
			   size_t len);

/*
 * Asks job `job_id` to stop (JOB_EV_STOP), pause or resume, for `cause`;
 * `why` goes in its events (NULL: the cause's own words).  A call about
 * the job under way delays the backend's part, not the answer.  Returns
 * 0 once it is under way, or a negative errno with `err` filled: -ENOENT
 * (no such job, or its backend is gone), -EALREADY (ended, or not in a
 * state for it), -EOPNOTSUPP (the backend cannot pause), -EIO (the store
 * cannot record it).
 */
int scheduler_job_event(struct scheduler *s, int64_t job_id, enum job_event ev,
			enum job_cause cause, const char *why, char *err,
			size_t errlen);

#endif
