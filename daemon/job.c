/* The job state machine (see job.h). */
#include "job.h"

#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const names[JOB__COUNT] = {
#define JOB_X(id, name) [JOB_##id] = name,
    JOB_STATES(JOB_X)
#undef JOB_X
};

#define B(s)	(1u << JOB_##s)
#define ENDINGS (B(SUCCEEDED) | B(FAILED) | B(CANCELLED) | B(LOST))
#define LIVE                                                                   \
	(B(VALIDATING) | B(QUEUED) | B(RUNNING) | B(PAUSING) | B(PAUSED) |     \
	 B(CANCELLING))

/*
 * Allowed targets per state.  Polls can miss short states, so a live job
 * may jump to any later live state or an ending.
 */
static const unsigned int allowed[JOB__COUNT] = {
    [JOB_PENDING] = B(SUBMITTING) | B(CANCELLED),
    [JOB_SUBMITTING] = LIVE | ENDINGS | B(UNKNOWN),
    [JOB_UNKNOWN] = LIVE | ENDINGS | B(SUBMITTING),
    [JOB_VALIDATING] = LIVE | ENDINGS,
    [JOB_QUEUED] = (LIVE & ~B(VALIDATING)) | ENDINGS,
    [JOB_RUNNING] = (LIVE & ~B(VALIDATING)) | ENDINGS,
    [JOB_PAUSING] =
	B(PAUSED) | B(RUNNING) | B(QUEUED) | B(CANCELLING) | ENDINGS,
    [JOB_PAUSED] =
	B(QUEUED) | B(RUNNING) | B(CANCELLING) | B(PAUSING) | ENDINGS,
    [JOB_CANCELLING] = B(CANCELLED) | B(FAILED) | B(SUCCEEDED) | B(LOST),
    [JOB_SUCCEEDED] = 0,
    [JOB_FAILED] = 0,
    [JOB_CANCELLED] = 0,
    [JOB_LOST] = 0,
};

const char *
job_state_name(enum job_state s)
{
	return s < JOB__COUNT ? names[s] : "?";
}

int
job_state_parse(const char *name, enum job_state *out)
{
	for (int i = 0; i < JOB__COUNT; i++) {
		if (strcmp(names[i], name) == 0) {
			*out = (enum job_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool
job_state_terminal(enum job_state s)
{
	return (B(SUCCEEDED) | B(FAILED) | B(CANCELLED) | B(LOST)) & (1u << s);
}

bool
job_state_active(enum job_state s)
{
	return !job_state_terminal(s) && s != JOB_PENDING;
}

bool
job_transition_ok(enum job_state from, enum job_state to)
{
	return from < JOB__COUNT && to < JOB__COUNT &&
	       (allowed[from] & (1u << to)) != 0;
}

int
job_transition(struct store *st, int64_t id, enum job_state from,
	       enum job_state to, const struct store_job_change *c,
	       const char *why, double now)
{
	struct store_job_change change = {.billed_seconds = -1};
	char event[256];
	int rc;

	if (!job_transition_ok(from, to)) {
		log_warnx("job %lld: illegal transition %s -> %s refused",
			  (long long)id, names[from], names[to]);
		return -EINVAL;
	}
	if (c != NULL)
		change = *c;
	change.state = names[to];
	change.from = names[from];
	snprintf(event, sizeof(event), "%s -> %s%s%s", names[from], names[to],
		 why ? ": " : "", why ? why : "");
	change.event = event;
	rc = store_job_change(st, id, &change, now);
	if (rc == 0)
		log_info("job %lld: %s", (long long)id, event);
	return rc;
}
