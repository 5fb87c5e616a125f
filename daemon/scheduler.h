/*
 * The scheduler: one timer tick that polls every live job (state and
 * metrics), enforces per-job limits, carries out sweep-level pause and
 * cancel, admits pending trials within the concurrency limits, and
 * marks finished sweeps.  After a restart the first tick reconciles jobs
 * whose submission outcome is not known, through the backends' find().
 * Loop thread only.
 */
#ifndef RFTD_SCHEDULER_H
#define RFTD_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct daemon;
struct scheduler;

struct scheduler *scheduler_new(struct daemon *d);
/* Applies the configuration's tick (on start and reload); a backend
 * whose start-up listing failed is tried again at once. */
void scheduler_configure(struct scheduler *s, unsigned int tick_ms);
/* Runs one tick now (tests and control actions want prompt effects). */
void scheduler_kick(struct scheduler *s);
/* When the last tick finished (monotonic ns); 0 before the first. */
uint64_t scheduler_last_tick_ns(const struct scheduler *s);
/* Stops the timer; the memory goes in the close callback. */
void scheduler_close(struct scheduler *s);

/*
 * Cancels, pauses or resumes job `job_id`; `why` goes in its events (NULL:
 * "by the user").  Returns 0 once the action is
 * under way, or a negative errno with `err` filled: -ENOENT (no such
 * job), -EALREADY (already ended / in that state), -EOPNOTSUPP (the
 * backend cannot pause), -EAGAIN (its submission is still in flight).
 */
int scheduler_job_action(struct scheduler *s, int64_t job_id,
			 enum backend_action action, const char *why, char *err,
			 size_t errlen);

#endif
