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

#endif
