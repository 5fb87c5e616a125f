/*
 * The spend meter: prices jobs from the rate cards, keeps the budget
 * core (budget.h) fed from the store and its limits from the
 * configuration, and decides which jobs a budget must stop or may
 * resume.  It decides only: the scheduler carries the decisions out
 * through the lifecycle (lifecycle.h), which also accrues each job's
 * spend.  Loop thread only.
 */
#ifndef RFTD_METER_H
#define RFTD_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "budget.h"

struct daemon;

/*
 * The hourly rate of a job (training plus the model-grader estimate) and
 * its worst case (rate x max_job_hours).  Returns 0, or -ENOENT with
 * `err` filled when there is no price for backend/model and the sweep
 * does not allow unpriced jobs (then the rate is 0).
 */
int meter_price(struct daemon *d, const char *backend, const char *model,
		const cJSON *grader, double max_job_hours, bool allow_unpriced,
		double *rate, double *worst, char *err, size_t errlen);

/* max_job_hours of a sweep, or the configuration's default. */
double meter_max_hours(const struct daemon *d, double sweep_max_hours);

/* Builds the budget core from the configuration and the store. */
void meter_init(struct daemon *d);
/* Applies the limits again (after a reload or `budget set`). */
void meter_limits(struct daemon *d);
void meter_free(struct daemon *d);

/* Builds the core again from the store: after a write failed, memory
 * holds what was committed, no more. */
void meter_resync(struct daemon *d);

/* The live jobs as the core sees them, for this tick (read again). */
size_t meter_live(struct daemon *d, struct budget_job **jobs);

/* A stop the meter decides, for the scheduler to carry out. */
struct meter_stop {
	int64_t job_id;
	bool pause;    /* pause (the backend can); else cancel */
	char name[32]; /* the scope's */
	double limit;  /* the scope's, USD */
	bool done;     /* set by the caller: the stop is under way */
};

/*
 * Which running jobs must stop now, because their scope's spend could
 * cross its limit within `horizon_s` seconds.  Returns how many, with
 * *stops (caller frees) grouped by scope.  Decides only.
 */
size_t meter_enforce(struct daemon *d, const struct budget_job *jobs, size_t n,
		     double horizon_s, struct meter_stop **stops);

/* Records the halts of the stops that were carried out (`done`). */
void meter_halted(struct daemon *d, const struct meter_stop *stops, size_t n,
		  uint64_t started_ns);

/*
 * For budget.show: every scope with its figures (a new JSON array):
 * global, day, month, then, by id, each sweep that has a limit (or had
 * one) or has spent or reserved money, with its id, name and whether it
 * is simulated.
 */
cJSON *meter_scopes(struct daemon *d);

/*
 * Sets a limit at run time (USD, or < 0 to fall back to the configured
 * one; `action` NULL keeps the scope's) and records it.  When the limit
 * was raised or cleared, *resume (caller frees) lists the jobs a budget
 * paused that have room now, for the caller to resume.  Returns 0,
 * -EINVAL (bad scope) or -EIO, with `err` filled.
 */
int meter_set_limit(struct daemon *d, const char *scope, double usd,
		    const char *action, int64_t **resume, size_t *nresume,
		    char *err, size_t errlen);

#endif
