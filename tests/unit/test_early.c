/*
 * The early-stopping rules (daemon/early.h) on hand-made metric streams:
 * the median rule and ASHA, in both modes, with ties, with trials that
 * evaluate at other steps, with too few peers, and with trials that
 * arrive late; when a rule is sure and when it only holds a trial.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "early.h"

#include <math.h>
#include <string.h>

#define MAXP 16

/* Trials built from "step:value" lists. */
struct bench {
	struct early_trial t[32];
	struct early_point p[32][MAXP];
	size_t n;
};

/* Adds a trial with `n` points (steps[i], values[i]); returns its index. */
static size_t
add(struct bench *b, bool open, size_t n, const int64_t *steps,
    const double *values)
{
	size_t i = b->n++;

	for (size_t k = 0; k < n; k++)
		b->p[i][k] = (struct early_point){steps[k], values[k]};
	b->t[i] = (struct early_trial){.id = (int64_t)i + 1,
				       .points = b->p[i],
				       .npoints = n,
				       .open = open};
	return i;
}

/* A trial evaluated at steps 10, 20, 30 with the given values. */
static size_t
add3(struct bench *b, bool open, double a, double c, double d)
{
	static const int64_t steps[] = {10, 20, 30};
	double v[] = {a, c, d};

	return add(b, open, 3, steps, v);
}

static struct early_config
config(enum early_rule rule, bool maximize, int min_trials)
{
	struct early_config c = {.rule = rule,
				 .maximize = maximize,
				 .grace_steps = 10,
				 .reduction_factor = 3,
				 .min_trials = min_trials};

	strcpy(c.metric, "valid_reward_mean");
	return c;
}

static void
value_at_takes_the_best_up_to_the_step(void **state)
{
	static const int64_t steps[] = {5, 15, 25};
	static const double v[] = {0.5, 0.3, 0.4};
	struct bench b = {0};
	size_t i = add(&b, true, 3, steps, v);
	double x = -1;

	(void)state;
	/* Step 10: its first point at or after is 15; best so far 0.5. */
	assert_true(early_value_at(&b.t[i], 10, true, &x));
	assert_true(x == 0.5);
	/* Minimising, the best up to 25 is 0.3. */
	assert_true(early_value_at(&b.t[i], 25, false, &x));
	assert_true(x == 0.3);
	/* Not got that far. */
	assert_false(early_value_at(&b.t[i], 26, true, &x));
}

static void
median_stops_what_is_below_and_keeps_ties(void **state)
{
	struct early_config c = config(EARLY_MEDIAN, true, 3);
	struct bench b = {0};
	size_t low, tie, high;
	struct early_verdict d;

	(void)state;
	add3(&b, false, 0.4, 0.5, 0.6);
	add3(&b, false, 0.2, 0.3, 0.4);
	add3(&b, false, 0.6, 0.7, 0.8);
	low = add3(&b, true, 0.1, 0.1, 0.1);
	tie = add3(&b, true, 0.3, 0.45, 0.5);
	high = add3(&b, true, 0.5, 0.9, 0.9);

	/* Peers at step 20 for `low`: 0.5 0.3 0.7 0.45 0.9 -> median 0.5. */
	d = early_judge(&c, b.t, b.n, low, 20, -1);
	assert_int_equal(d.peers, 5);
	assert_true(d.has_threshold);
	assert_true(d.threshold == 0.5);
	assert_true(d.value == 0.1);
	/* All five peers are better and nothing else can come: sure. */
	assert_int_equal(d.action, EARLY_STOP);

	/* `tie` at step 30: peers 0.6 0.4 0.8 0.1 0.9 -> median 0.6 > 0.5. */
	d = early_judge(&c, b.t, b.n, tie, 30, -1);
	assert_int_equal(d.action, EARLY_STOP);
	/* At step 10: peers 0.4 0.2 0.6 0.1 0.5 -> median 0.4; 0.3 below,
	 * only 3 of 5 better: sure (3 >= 5/2 + 1). */
	d = early_judge(&c, b.t, b.n, tie, 10, -1);
	assert_true(d.threshold == 0.4);
	assert_int_equal(d.action, EARLY_STOP);

	/* Equal to the median goes on. */
	b.p[tie][0].value = 0.4;
	d = early_judge(&c, b.t, b.n, tie, 10, -1);
	assert_int_equal(d.action, EARLY_CONTINUE);

	d = early_judge(&c, b.t, b.n, high, 20, -1);
	assert_int_equal(d.action, EARLY_CONTINUE);
}

static void
median_holds_while_trials_to_come_could_change_it(void **state)
{
	struct early_config c = config(EARLY_MEDIAN, true, 3);
	struct bench b = {0};
	size_t me;
	struct early_verdict d;

	(void)state;
	add3(&b, true, 0.5, 0.6, 0.7);
	add3(&b, true, 0.1, 0.2, 0.3);
	add3(&b, true, 0.6, 0.7, 0.8);
	me = add3(&b, true, 0.3, 0.3, 0.3);
	/* Three trials that have not reported yet (pending, late). */
	add(&b, true, 0, NULL, NULL);
	add(&b, true, 0, NULL, NULL);
	add(&b, true, 0, NULL, NULL);

	/* Peers at 10: 0.5 0.1 0.6 -> median 0.5; 2 better of 6 possible. */
	d = early_judge(&c, b.t, b.n, me, 10, -1);
	assert_int_equal(d.peers, 3);
	assert_true(d.threshold == 0.5);
	assert_int_equal(d.action, EARLY_HOLD);

	/* The late ones are gone (ended without a value): now sure. */
	for (size_t i = me + 1; i < b.n; i++)
		b.t[i].open = false;
	d = early_judge(&c, b.t, b.n, me, 10, -1);
	assert_int_equal(d.action, EARLY_STOP);

	/* A late one arrives with a low value: the median drops to 0.3. */
	b.p[me + 1][0] = (struct early_point){12, 0.05};
	b.t[me + 1].npoints = 1;
	d = early_judge(&c, b.t, b.n, me, 10, -1);
	assert_int_equal(d.peers, 4);
	assert_true(fabs(d.threshold - 0.3) < 1e-12);
	assert_int_equal(d.action, EARLY_CONTINUE);
}

static void
median_minimises_when_asked(void **state)
{
	struct early_config c = config(EARLY_MEDIAN, false, 3);
	struct bench b = {0};
	size_t me;
	struct early_verdict d;

	(void)state;
	add3(&b, false, 1.0, 0.8, 0.6);
	add3(&b, false, 1.2, 0.9, 0.7);
	add3(&b, false, 0.9, 0.5, 0.4);
	me = add3(&b, true, 2.0, 1.9, 1.8); /* a loss that stays high */
	d = early_judge(&c, b.t, b.n, me, 20, -1);
	assert_true(d.threshold == 0.8);
	assert_int_equal(d.action, EARLY_STOP);

	/* The lowest loss goes on. */
	d = early_judge(&c, b.t, b.n, 2, 20, -1);
	assert_int_equal(d.action, EARLY_CONTINUE);
}

static void
too_few_peers_never_stops(void **state)
{
	struct early_config c = config(EARLY_MEDIAN, true, 5);
	struct bench b = {0};
	size_t me;
	struct early_verdict d;

	(void)state;
	add3(&b, false, 0.9, 0.9, 0.9);
	add3(&b, false, 0.9, 0.9, 0.9);
	add3(&b, true, 0.9, 0.9, 0.9);
	me = add3(&b, true, 0.0, 0.0, 0.0);
	d = early_judge(&c, b.t, b.n, me, 20, -1);
	assert_int_equal(d.peers, 3);
	assert_false(d.has_threshold);
	assert_int_equal(d.action, EARLY_CONTINUE);
}

static void
trials_with_other_evaluation_steps_are_compared(void **state)
{
	static const int64_t sparse[] = {7, 21};
	static const double sv[] = {0.2, 0.95};
	struct early_config c = config(EARLY_MEDIAN, true, 3);
	struct bench b = {0};
	size_t me;
	struct early_verdict d;

	(void)state;
	add3(&b, false, 0.5, 0.5, 0.5);
	add3(&b, false, 0.6, 0.6, 0.6);
	/* Evaluates at 7 and 21: its value at 20 is the best up to 21. */
	add(&b, false, 2, sparse, sv);
	me = add3(&b, true, 0.55, 0.55, 0.55);
	d = early_judge(&c, b.t, b.n, me, 20, -1);
	assert_int_equal(d.peers, 3);
	assert_true(d.threshold == 0.6); /* of 0.5, 0.6, 0.95 */
	assert_int_equal(d.action, EARLY_STOP);
	/* At 30 the sparse trial has no value (it stopped at 21). */
	d = early_judge(&c, b.t, b.n, me, 30, -1);
	assert_int_equal(d.peers, 2);
}

static void
decision_points(void **state)
{
	static const int64_t steps[] = {5, 10, 15, 30, 45, 95};
	static const double v[] = {0, 0, 0, 0, 0, 0};
	struct early_config med = config(EARLY_MEDIAN, true, 3);
	struct early_config asha = config(EARLY_ASHA, true, 3);
	struct bench b = {0};
	size_t i = add(&b, true, 6, steps, v);
	int64_t at[8];
	int rungs[8];
	size_t n;

	(void)state;
	/* Median: every point from grace_steps on, after the last judged. */
	n = early_points(&med, &b.t[i], 0, at, rungs, 8);
	assert_int_equal(n, 5);
	assert_int_equal(at[0], 10);
	assert_int_equal(rungs[0], -1);
	n = early_points(&med, &b.t[i], 15, at, rungs, 8);
	assert_int_equal(n, 3);
	assert_int_equal(at[0], 30);
	/* ASHA: rungs 10, 30, 90 reached (it got to 95); 270 not. */
	n = early_points(&asha, &b.t[i], 0, at, rungs, 8);
	assert_int_equal(n, 3);
	assert_int_equal(at[2], 90);
	assert_int_equal(rungs[2], 2);
	n = early_points(&asha, &b.t[i], 30, at, rungs, 8);
	assert_int_equal(n, 1);
	assert_int_equal(at[0], 90);
}

static void
asha_promotes_the_top_third(void **state)
{
	struct early_config c = config(EARLY_ASHA, true, 3);
	struct bench b = {0};
	struct early_verdict d;
	double vals[] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4};

	(void)state;
	for (size_t i = 0; i < 6; i++)
		add3(&b, false, vals[i], vals[i], vals[i]);
	/* k = 6 at rung 0: the best 2 go on. */
	d = early_judge(&c, b.t, b.n, 1, 10, 0);
	assert_int_equal(d.action, EARLY_CONTINUE);
	assert_true(d.threshold == 0.8);
	d = early_judge(&c, b.t, b.n, 2, 10, 0);
	assert_int_equal(d.peers, 5);
	assert_true(d.threshold == 0.8);
	/* Nothing else can come: sure. */
	assert_int_equal(d.action, EARLY_STOP);

	/* With twelve trials still to come, the third might yet be
	 * promoted: held. */
	for (size_t i = 0; i < 12; i++)
		add(&b, true, 0, NULL, NULL);
	d = early_judge(&c, b.t, b.n, 2, 10, 0);
	assert_int_equal(d.action, EARLY_HOLD);
	/* The last is behind five: of 18 trials at most 6 go on, so it
	 * may still; with three fewer to come, at most 5 go on, all of
	 * them better: sure. */
	d = early_judge(&c, b.t, b.n, 5, 10, 0);
	assert_int_equal(d.action, EARLY_HOLD);
	b.n -= 3;
	d = early_judge(&c, b.t, b.n, 5, 10, 0);
	assert_int_equal(d.action, EARLY_STOP);
}

static void
asha_minimises_and_keeps_one_of_few(void **state)
{
	struct early_config c = config(EARLY_ASHA, false, 2);
	struct bench b = {0};
	struct early_verdict d;

	(void)state;
	add3(&b, false, 0.3, 0.3, 0.3);
	add3(&b, false, 0.2, 0.2, 0.2);
	/* k = 2 < eta: the best one still goes on (max(1, 2 / 3)). */
	d = early_judge(&c, b.t, b.n, 1, 10, 0);
	assert_int_equal(d.action, EARLY_CONTINUE);
	d = early_judge(&c, b.t, b.n, 0, 10, 0);
	assert_true(d.threshold == 0.2);
	assert_int_equal(d.action, EARLY_STOP);
}

static void
asha_waits_for_enough_trials_at_a_rung(void **state)
{
	struct early_config c = config(EARLY_ASHA, true, 4);
	struct bench b = {0};
	size_t me;
	struct early_verdict d;

	(void)state;
	add3(&b, false, 0.1, 0.1, 0.1);
	me = add3(&b, true, 0.9, 0.9, 0.9);
	add(&b, true, 0, NULL, NULL); /* still to come */
	/* Two at the rung, four wanted: the best waits too, unjudged. */
	d = early_judge(&c, b.t, b.n, me, 10, 0);
	assert_false(d.has_threshold);
	assert_int_equal(d.action, EARLY_HOLD);
	/* Nothing more can come: too few to judge is never stopped. */
	b.t[2].open = false;
	d = early_judge(&c, b.t, b.n, 0, 10, 0);
	assert_false(d.has_threshold);
	assert_int_equal(d.action, EARLY_CONTINUE);

	/* Enough trials (min_trials 2) but fewer than eta at the rung,
	 * with more to come: nobody is promoted yet. */
	c.min_trials = 2;
	b.t[2].open = true;
	d = early_judge(&c, b.t, b.n, me, 10, 0);
	assert_false(d.has_threshold);
	assert_int_equal(d.action, EARLY_HOLD);
}

static void
config_round_trip(void **state)
{
	struct early_config c = config(EARLY_ASHA, false, 6), back;
	cJSON *j = early_config_json(&c);

	(void)state;
	assert_int_equal(early_config_from_json(j, &back), 0);
	assert_int_equal(back.rule, EARLY_ASHA);
	assert_false(back.maximize);
	assert_int_equal(back.min_trials, 6);
	assert_int_equal(back.reduction_factor, 3);
	assert_int_equal(back.grace_steps, 10);
	assert_string_equal(back.metric, "valid_reward_mean");
	cJSON_ReplaceItemInObject(j, "rule", cJSON_CreateString("hyperband"));
	assert_int_not_equal(early_config_from_json(j, &back), 0);
	cJSON_Delete(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(value_at_takes_the_best_up_to_the_step),
	    cmocka_unit_test(median_stops_what_is_below_and_keeps_ties),
	    cmocka_unit_test(median_holds_while_trials_to_come_could_change_it),
	    cmocka_unit_test(median_minimises_when_asked),
	    cmocka_unit_test(too_few_peers_never_stops),
	    cmocka_unit_test(trials_with_other_evaluation_steps_are_compared),
	    cmocka_unit_test(decision_points),
	    cmocka_unit_test(asha_promotes_the_top_third),
	    cmocka_unit_test(asha_minimises_and_keeps_one_of_few),
	    cmocka_unit_test(asha_waits_for_enough_trials_at_a_rung),
	    cmocka_unit_test(config_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
