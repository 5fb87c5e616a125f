/*
 * What a plan says besides the bill (sweep.plan, sweep.submit): the
 * warnings a person confirms before a sweep is stored, and what a sweep
 * is expected to cost when an early-stopping rule stops trials.
 *
 * Glossary:
 *   warning  the sweep would spend for nothing (no job reports its
 *            objective; trials are cut off by max_job_hours before they
 *            end), or more than the configuration lets pass unasked
 *            ([budget] confirm_above).  sweep.submit refuses a spec with
 *            a warning unless the request confirms it.
 *   note     worth a look but may well be right: a metric that only a
 *            process backend's trainer can say it reports; what the
 *            datasets rftd read hold (examples, size, whether every one
 *            was checked).  Never refuses.
 *   runs     a trial the sweep will run: not one linked by reuse that
 *            has ended or runs under an earlier sweep.
 *
 * Pure functions of their arguments; loop thread or not.
 */
#ifndef RFTD_PLAN_H
#define RFTD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "early.h"

struct backend;
struct spec;

/* One trial, as the bill sees it. */
struct plan_trial {
	double hours;  /* the backend's estimate; HUGE_VAL: it cannot say */
	int64_t steps; /* the backend's estimate; 0: it cannot say */
	bool runs;
};

/*
 * The expected training hours of one trial of `hours` and `steps`, cut
 * at `max_hours`, when `n` trials compete under rule `c` (EARLY_NONE:
 * the hours, cut).  -1 when the rule needs the steps or hours and they
 * are not known.  An estimate, not a bound: see plan.c for the model.
 */
double plan_early_hours(const struct early_config *c, size_t n, double hours,
			int64_t steps, double max_hours);

struct plan_facts {
	const struct spec *spec;
	const struct backend *be;
	const struct plan_trial *trials; /* spec->ntrials of them */
	double max_hours;		 /* the max_job_hours that applies */
	double worst_usd;     /* the worst case of the trials that run */
	double confirm_above; /* USD; < 0: none */
};

/*
 * Adds "warnings" and "notes" to `out`, arrays (maybe empty) of
 * {code, path, message}; path is the JSON pointer of the spec's value it
 * is about ("/" for the sweep as a whole).  Adds "datasets" too: per
 * dataset {path, file, read} and, for one rftd read, {bytes, examples,
 * examples_checked, checked, sampled, fields}.  Returns how many
 * warnings.
 */
int plan_check(const struct plan_facts *f, cJSON *out);

/*
 * "PATH: message" lines of `warnings` for a person, in `buf`: what an
 * unconfirmed sweep.submit is refused with.
 */
void plan_warnings_text(const cJSON *warnings, char *buf, size_t len);

#endif
