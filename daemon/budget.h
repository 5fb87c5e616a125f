/*
 * The money core: budget scopes, reservations, the spend meter's
 * arithmetic and the enforcement rule.  Pure: no clock, no store, no
 * loop, so that the promise can be tested over many random schedules.
 *
 * Glossary:
 *   scope       what a limit applies to: "global" (all jobs, all time),
 *               "day" and "month" (all jobs, rolling 24 h and 30 days),
 *               "sweep:N" (the jobs of one sweep).
 *   worst case  a job's reservation: rate x max_job_hours (+ graders).
 *   outstanding what a live job may still spend of its worst case.
 *   room        limit - spent - outstanding of the scope's live jobs.
 *
 * The promise: a scope's spend never exceeds its limit by more than
 * rate x (tick + cancel latency), because (1) a job is admitted only when
 * its worst case fits every scope it belongs to, and (2) each tick, a
 * scope whose spend would cross its limit before the next tick has had a
 * chance to act stops its running jobs.
 */
#ifndef RFTD_BUDGET_H
#define RFTD_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDGET_MINUTES (30 * 24 * 60) /* the month window, in minutes */

enum budget_action {
	BUDGET_PAUSE, /* pause where the backend can, else cancel */
	BUDGET_CANCEL,
};

enum budget_kind { BUDGET_GLOBAL, BUDGET_DAY, BUDGET_MONTH, BUDGET_SWEEP };

struct budget_scope {
	enum budget_kind kind;
	int64_t sweep_id; /* BUDGET_SWEEP only */
	bool limited;	  /* false: no limit, never stops anything */
	double limit;	  /* USD */
	enum budget_action action;
	double spent; /* USD: all time (global, sweep) */
};

/* A live job as the core sees it. */
struct budget_job {
	int64_t id;
	int64_t sweep_id;
	double rate;  /* USD per training hour (graders included) */
	double worst; /* its reservation, USD */
	double spent; /* USD so far */
	bool running; /* billed now (not queued, paused...) */
	bool can_pause;
};

struct budget {
	struct budget_scope global, day, month;
	struct budget_scope *sweeps; /* scopes of sweeps with a limit */
	size_t nsweeps;
	/* Spend per minute over the last 30 days: the rolling windows. */
	double minutes[BUDGET_MINUTES];
	int64_t minute_now; /* the minute that minutes[...] ends at */
	bool clock_started; /* minute_now has been set */
	double day_sum;	    /* the last 1440 minutes' spend */
	double month_sum;   /* all of minutes[] */
};

void budget_init(struct budget *b);
void budget_free(struct budget *b);

/* The scope of sweep `id`, created (unlimited) when missing. */
struct budget_scope *budget_sweep(struct budget *b, int64_t id);

/* Records `usd` spent at time `t` (Unix seconds) by a job of `sweep_id`. */
void budget_spend(struct budget *b, int64_t sweep_id, double usd, double t);

/* Spend of a scope as of `now`: all time, or within its window. */
double budget_spent(struct budget *b, const struct budget_scope *s, double now);

/* What the live jobs of a scope may still spend of their reservations. */
double budget_outstanding(const struct budget_scope *s,
			  const struct budget_job *jobs, size_t n);

/* Whether `job` belongs to scope `s`. */
bool budget_in_scope(const struct budget_scope *s, const struct budget_job *j);

/*
 * Admission: true when a new job of `sweep_id` with worst case `worst`
 * fits every limited scope it belongs to, given the live `jobs`.  On
 * false, `why` names the scope and its figures.
 */
bool budget_admit(struct budget *b, int64_t sweep_id, double worst,
		  const struct budget_job *jobs, size_t n, double now,
		  char *why, size_t whylen);

/* Whether `ahead` more than `spent` goes beyond `limit`: reaching it
 * exactly does not.  The one rule of enforcement and resumption. */
bool budget_crosses(double spent, double ahead, double limit);

/*
 * What a running job will spend within `horizon_s` seconds at its rate,
 * but no more than what is left of its worst case (it is stopped there).
 */
double budget_ahead(const struct budget_job *j, double horizon_s);

/*
 * Enforcement for one tick: for each limited scope whose spend would
 * go beyond its limit within `horizon_s` seconds (budget_crosses())
 * (budget_ahead() of each of its running jobs), calls `stop` once per running
 * job of the scope (with the scope and whether to pause).  Returns how many
 * scopes acted.
 */
int budget_enforce(struct budget *b, const struct budget_job *jobs, size_t n,
		   double now, double horizon_s,
		   void (*stop)(const struct budget_scope *s,
				const struct budget_job *j, bool pause,
				void *arg),
		   void *arg);

/* "global", "day", "month", "sweep:12": the scope's name. */
void budget_scope_name(const struct budget_scope *s, char *buf, size_t len);

/* Parses a scope name; returns 0 or -EINVAL. */
int budget_scope_parse(const char *name, enum budget_kind *kind,
		       int64_t *sweep_id);

#endif
