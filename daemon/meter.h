/*
 * The spend meter: prices jobs from the rate cards, keeps the budget
 * core (budget.h) fed from the store, admits by reservation, accrues
 * spend as jobs train, and stops jobs when a scope would cross its
 * limit.  Loop thread only.
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

/* The live jobs as the core sees them, for this tick (read again). */
size_t meter_live(struct daemon *d, struct budget_job **jobs);

/*
 * Records that job `job_id` of `sweep_id` now costs `cost` (USD), up
 * from `before`; writes the ledger when enough is unledgered or the job
 * ended.  `quality` is "estimated" or "provider".  Returns how much of
 * the cost the ledger now holds.
 */
double meter_cost(struct daemon *d, int64_t job_id, int64_t sweep_id,
		  double before, double cost, double ledgered, double reserved,
		  const char *quality, bool ended);

/* A job ended: releases its reservation in the ledger. */
void meter_release(struct daemon *d, int64_t job_id, int64_t sweep_id,
		   double reserved);

/* Stops what would cross a limit before the next tick; records halts. */
void meter_enforce(struct daemon *d, struct budget_job *jobs, size_t n);

/* For budget.show: every scope with its figures (a new JSON array). */
cJSON *meter_scopes(struct daemon *d);

/*
 * Sets a limit at run time (USD, or < 0 to fall back to the configured
 * one; `action` NULL keeps the scope's), records it, and resumes jobs a budget
 * paused when there may be room now.  Returns 0 or -EINVAL (bad scope, `err`
 * filled).
 */
int meter_set_limit(struct daemon *d, const char *scope, double usd,
		    const char *action, char *err, size_t errlen);

#endif
