/*
 * The dashboard's reads: what each page shows, read on a connection of
 * its own, opened read-only and query-only with a deadline, so that a
 * page may be read on any thread while the daemon writes.
 *
 * Glossary:
 *   reader  one such connection, used by one thread at a time.
 *   curve   the points of one metric of one job, thinned in step order
 *           to at most a given count (each bucket's lowest and highest
 *           points), so that a chart of a million points stays small.
 *
 * Every list is capped; a capped list says so (its "more" member, or
 * store_curves.more).  The functions return JSON the caller owns, or
 * NULL with `*rc` set: -ENOENT (no such sweep or job), -ETIMEDOUT (past
 * the deadline) or -EIO (the store failed; err says how).
 */
#ifndef RFTD_STORE_READER_H
#define RFTD_STORE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct store_reader;

/* Opens a reader on the database at `path`; every statement it runs
 * stops after `timeout_ms` in all.  NULL with err filled on failure. */
struct store_reader *store_reader_open(const char *path, int timeout_ms,
				       char *err, size_t errlen);
void store_reader_close(struct store_reader *r);

/* The newest `limit` sweeps, newest first: an array of objects with id,
 * name, backend, state, simulated, budget_usd, spent_usd, trials,
 * counts {state: n}, objective_metric, objective_mode, best. */
cJSON *store_page_sweeps(struct store_reader *r, int limit, int *rc, char *err,
			 size_t errlen);

/* One sweep: id, name, backend, model, state, simulated, budget_usd,
 * spent_usd, objective_metric, objective_mode, created_at, finished_at,
 * trials, counts; "leaderboard": the best `limit` trials of the
 * `leaderboard` view (best score first), "graders": the
 * `grader_comparison` rows, "grid": mean best objective per
 * hyperparameter value and grader. */
cJSON *store_page_sweep(struct store_reader *r, int64_t sweep_id, int limit,
			int *rc, char *err, size_t errlen);

/* One job: its row with trial, sweep, grader and hyperparameters;
 * "latest": each metric's newest value (per-grader scores among them),
 * "events" (newest first), "checkpoints", each capped at `limit`. */
cJSON *store_page_job(struct store_reader *r, int64_t job_id, int limit,
		      int *rc, char *err, size_t errlen);

/* Cumulative spend over time (all jobs), in at most `buckets` points:
 * an array of [unix seconds, cumulative USD]. */
cJSON *store_page_spend(struct store_reader *r, int buckets, int *rc, char *err,
			size_t errlen);

/* Curves of one metric: one per trial (the trial's newest job that has
 * points) for a sweep, or the one of a job. */
struct store_curve {
	int64_t trial_id;
	int64_t job_id;
	char *grader; /* the trial's grader variant */
	double *x, *y;
	size_t n;
};

struct store_curves {
	struct store_curve *curves;
	size_t n;
	size_t points; /* rows read, before thinning */
	bool more;     /* trials left out past the cap */
	bool cut;      /* a curve's points past the first 2^20 left out */
};

/*
 * Fills `out` (zeroed first) with the curves of `metric` of the sweep
 * (job_id 0) or of the job (sweep_id 0): at most `max_curves` curves of
 * at most `max_points` points each.  0, or a negative errno.
 */
int store_page_curves(struct store_reader *r, int64_t sweep_id, int64_t job_id,
		      const char *metric, size_t max_curves, size_t max_points,
		      struct store_curves *out, char *err, size_t errlen);
void store_curves_free(struct store_curves *c);

/* Thins points (x ascending) in place to at most `max` (>= 4), keeping
 * the lowest and highest y of each of max / 2 buckets in x order;
 * returns the new count.  NaNs count as neither. */
size_t store_thin(double *x, double *y, size_t n, size_t max);

#endif
