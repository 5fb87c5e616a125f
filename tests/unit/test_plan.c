/*
 * The expected hours of a trial under early stopping (daemon/plan.h):
 * the asha and median models on a trial of known steps and hours, cut by
 * max_job_hours, with too few trials to decide, and unknown where the
 * backend cannot say how many steps a job takes.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "plan.h"

#include <math.h>

/* 285 steps of 45 s: 3.5625 h, 0.0125 h a step. */
#define STEPS 285
#define HOURS (STEPS * 45.0 / 3600)
#define STEP  (45.0 / 3600)

static struct early_config
rule(enum early_rule r, int min_trials)
{
	return (struct early_config){.rule = r,
				     .grace_steps = 10,
				     .reduction_factor = 3,
				     .min_trials = min_trials};
}

static void
asha_counts_each_rung_as_often_as_it_is_reached(void **state)
{
	struct early_config c = rule(EARLY_ASHA, 2);

	(void)state;
	/* Rungs 10, 30, 90, 270: all to 10, 1/3 to 30, 1/9 on (6 trials
	 * put fewer than 2 at rung 2, so no more stop there). */
	assert_float_equal(
	    plan_early_hours(&c, 6, HOURS, STEPS, 100),
	    STEP * (10 + 20 / 3.0 + 60 / 9.0 + 180 / 9.0 + 15 / 9.0), 1e-9);
	/* Many trials: each rung divides again. */
	assert_float_equal(
	    plan_early_hours(&c, 1000, HOURS, STEPS, 100),
	    STEP * (10 + 20 / 3.0 + 60 / 9.0 + 180 / 27.0 + 15 / 81.0), 1e-9);
}

static void
asha_hours_stop_at_max_job_hours(void **state)
{
	struct early_config c = rule(EARLY_ASHA, 2);

	(void)state;
	/* Cut at 0.2 h (step 16): 10 steps, then 6 of the 20 to rung 1. */
	assert_float_equal(plan_early_hours(&c, 6, HOURS, STEPS, 0.2),
			   STEP * 10 + (0.2 - STEP * 10) / 3, 1e-9);
}

static void
median_stops_half_at_grace_steps(void **state)
{
	struct early_config c = rule(EARLY_MEDIAN, 2);

	(void)state;
	assert_float_equal(plan_early_hours(&c, 6, HOURS, STEPS, 100),
			   0.5 * STEP * 10 + 0.5 * HOURS, 1e-9);
}

static void
nothing_is_saved_that_no_rule_could_decide(void **state)
{
	struct early_config asha = rule(EARLY_ASHA, 7);
	struct early_config none = rule(EARLY_NONE, 2);
	struct early_config early_grace = rule(EARLY_MEDIAN, 2);

	(void)state;
	/* Fewer trials than min_trials. */
	assert_float_equal(plan_early_hours(&asha, 6, HOURS, STEPS, 100), HOURS,
			   1e-9);
	/* A trial that ends before grace_steps. */
	assert_float_equal(plan_early_hours(&early_grace, 6, 0.1, 8, 100), 0.1,
			   1e-9);
	/* No rule: the hours, cut. */
	assert_float_equal(plan_early_hours(&none, 6, HOURS, 0, 2), 2, 1e-9);
}

static void
unknown_steps_or_hours_leave_it_unknown(void **state)
{
	struct early_config c = rule(EARLY_ASHA, 2);

	(void)state;
	assert_true(plan_early_hours(&c, 6, HOURS, 0, 100) < 0);
	assert_true(plan_early_hours(&c, 6, HUGE_VAL, STEPS, 100) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(asha_counts_each_rung_as_often_as_it_is_reached),
	    cmocka_unit_test(asha_hours_stop_at_max_job_hours),
	    cmocka_unit_test(median_stops_half_at_grace_steps),
	    cmocka_unit_test(nothing_is_saved_that_no_rule_could_decide),
	    cmocka_unit_test(unknown_steps_or_hours_leave_it_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
