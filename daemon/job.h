/*
 * The job state machine.  Every backend maps its provider's states onto
 * this one enum; one transition function checks, logs and records every
 * move, and refuses illegal ones.
 *
 *   pending -> submitting -> validating -> queued -> running -> succeeded
 *   submitting -> unknown (outcome not known) -> (found) ... | submitting
 *   running <-> pausing -> paused -> queued/running
 *   any active -> cancelling -> cancelled;  any active -> failed | lost
 */
#ifndef RFTD_JOB_H
#define RFTD_JOB_H

#include <stdbool.h>
#include <stdint.h>

#define JOB_STATES(X)                                                          \
	X(PENDING, "pending")                                                  \
	X(SUBMITTING, "submitting")                                            \
	X(VALIDATING, "validating")                                            \
	X(QUEUED, "queued")                                                    \
	X(RUNNING, "running")                                                  \
	X(PAUSING, "pausing")                                                  \
	X(PAUSED, "paused")                                                    \
	X(CANCELLING, "cancelling")                                            \
	X(SUCCEEDED, "succeeded")                                              \
	X(FAILED, "failed")                                                    \
	X(CANCELLED, "cancelled")                                              \
	X(UNKNOWN, "unknown")                                                  \
	X(LOST, "lost")

enum job_state {
#define JOB_X(id, name) JOB_##id,
	JOB_STATES(JOB_X)
#undef JOB_X
	    JOB__COUNT
};

const char *job_state_name(enum job_state s);
/* The state called `name`: 0, or -EINVAL when it is not one of ours. */
int job_state_parse(const char *name, enum job_state *out);
bool job_state_terminal(enum job_state s);
/* True for the states in which the backend holds a live job. */
bool job_state_active(enum job_state s);
/* Whether the machine allows old -> new (old == new is not a move). */
bool job_transition_ok(enum job_state from, enum job_state to);

struct store;
struct store_job_change;

/*
 * Moves job `id` from `from` to `to`, recording `c`'s other fields and an
 * event; logs "job N: from -> to".  Returns 0, -EINVAL for an illegal
 * move (logged, nothing stored), -ESTALE when the stored state is no
 * longer `from`.  `c` may be NULL.
 */
int job_transition(struct store *st, int64_t id, enum job_state from,
		   enum job_state to, const struct store_job_change *c,
		   const char *why, double now);

#endif
