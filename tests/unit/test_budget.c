/*
 * The money core (daemon/budget.h), with an injected clock and no
 * sleeping: the promise "spend <= limit + rate x (tick + cancel latency)"
 * over a thousand seeded random schedules, admission that never
 * over-commits, rolling windows, and scope names.
 */
/* cmocka.h needs these first, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "budget.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A small seeded generator, so that a failing schedule can be replayed. */
static uint64_t
next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double
uniform(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(next(s) >> 11) / 9007199254740992.0);
}

struct simjob {
	struct budget_job j;
	int64_t scope_sweep;
	double duration_h; /* how long it would train */
	double max_h;	   /* its max_job_hours */
	double trained_h;
	double stop_at; /* < 0: not asked to stop */
	int state;	/* 0 waiting, 1 running, 2 done */
};

struct world {
	struct simjob *jobs;
	size_t n;
	double now, latency;
};

static void
on_stop(const struct budget_scope *s, const struct budget_job *j, bool pause,
	void *arg)
{
	struct world *w = arg;

	(void)s;
	(void)pause;
	for (size_t i = 0; i < w->n; i++)
		if (w->jobs[i].j.id == j->id && w->jobs[i].stop_at < 0)
			w->jobs[i].stop_at = w->now + w->latency;
}

/* The live jobs as the daemon would hand them to the core. */
static size_t
live(struct world *w, struct budget_job *out)
{
	size_t k = 0;

	for (size_t i = 0; i < w->n; i++)
		if (w->jobs[i].state == 1)
			out[k++] = w->jobs[i].j;
	return k;
}

/*
 * One random schedule: jobs of random rates and lengths in two sweeps,
 * a global limit and one sweep limit, a random tick and cancel latency.
 * Returns the worst overshoot of a scope beyond its allowance.
 */
static double
run_schedule(uint64_t seed)
{
	struct budget b;
	struct world w = {0};
	struct budget_job buf[64];
	struct budget_scope *sweep_scope;
	double tick = uniform(&seed, 5, 30), rmax = 0, worst_excess = -1e9;
	double global_limit = uniform(&seed, 20, 400);
	char why[256];

	w.latency = uniform(&seed, 0, 60);
	w.n = (size_t)uniform(&seed, 1, 40);
	w.jobs = calloc(w.n, sizeof(*w.jobs));
	budget_init(&b);
	b.global.limited = true;
	b.global.limit = global_limit;
	sweep_scope = budget_sweep(&b, 2);
	sweep_scope->limited = true;
	sweep_scope->limit = uniform(&seed, 10, 300);
	for (size_t i = 0; i < w.n; i++) {
		struct simjob *sj = &w.jobs[i];

		sj->j.id = (int64_t)i + 1;
		sj->j.sweep_id = 1 + (int64_t)(next(&seed) % 2);
		sj->j.rate = uniform(&seed, 5, 300);
		sj->max_h = uniform(&seed, 0.1, 3);
		sj->j.worst = sj->j.rate * sj->max_h;
		sj->j.can_pause = next(&seed) % 2;
		sj->duration_h = uniform(&seed, 0.01, 4);
		sj->stop_at = -1;
	}
	for (w.now = 0; w.now < 3600 * 24; w.now += tick) {
		size_t n_live, running = 0;
		double rate_now = 0;

		/* Bill the tick that just passed. */
		for (size_t i = 0; i < w.n; i++) {
			struct simjob *sj = &w.jobs[i];
			double end = w.now, start = w.now - tick, hours;

			if (sj->state != 1)
				continue;
			if (sj->stop_at >= 0 && sj->stop_at < end)
				end = fmax(start, sj->stop_at);
			hours = (end - start) / 3600;
			if (sj->trained_h + hours >= sj->duration_h) {
				hours = sj->duration_h - sj->trained_h;
				sj->state = 2;
			}
			if (sj->stop_at >= 0 && sj->stop_at <= w.now)
				sj->state = 2;
			sj->trained_h += hours;
			sj->j.spent += hours * sj->j.rate;
			budget_spend(&b, sj->j.sweep_id, hours * sj->j.rate,
				     w.now);
			/* The meter cancels a job past max_job_hours. */
			if (sj->state == 1 && sj->trained_h >= sj->max_h &&
			    sj->stop_at < 0)
				sj->stop_at = w.now + w.latency;
		}
		n_live = live(&w, buf);
		budget_enforce(&b, buf, n_live, w.now, tick + w.latency,
			       on_stop, &w);
		/* Admit in order what fits. */
		for (size_t i = 0; i < w.n; i++) {
			struct simjob *sj = &w.jobs[i];

			if (sj->state != 0)
				continue;
			n_live = live(&w, buf);
			if (!budget_admit(&b, sj->j.sweep_id, sj->j.worst, buf,
					  n_live, w.now, why, sizeof(why)))
				continue;
			/* The admission rule itself: every scope has room. */
			assert_true(
			    budget_spent(&b, &b.global, w.now) +
				budget_outstanding(&b.global, buf, n_live) +
				sj->j.worst <=
			    b.global.limit + 1e-6);
			sj->state = 1;
			sj->j.running = true;
		}
		for (size_t i = 0; i < w.n; i++)
			if (w.jobs[i].state == 1) {
				rate_now += w.jobs[i].j.rate;
				running++;
			}
		rmax = fmax(rmax, rate_now);
		/* Nothing runs and nothing more fits: the schedule is over. */
		if (running == 0)
			break;
	}
	{
		double allowance = rmax * (tick + w.latency) / 3600;

		worst_excess =
		    fmax(b.global.spent - (b.global.limit + allowance),
			 sweep_scope->spent - (sweep_scope->limit + allowance));
	}
	budget_free(&b);
	free(w.jobs);
	return worst_excess;
}

static void
spend_stays_within_limit_plus_one_tick_and_cancel_over_1000_schedules(
    void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 1000; seed++) {
		double excess = run_schedule(seed);

		if (excess > 1e-6)
			fail_msg("schedule %llu: spend exceeded the bound by "
				 "$%.4f",
				 (unsigned long long)seed, excess);
	}
}

static void
admission_refuses_a_job_that_does_not_fit_and_says_why(void **state)
{
	struct budget b;
	struct budget_job live[1] = {{.id = 1,
				      .sweep_id = 1,
				      .rate = 100,
				      .worst = 200,
				      .spent = 50,
				      .running = true}};
	char why[256];

	(void)state;
	budget_init(&b);
	b.global.limited = true;
	b.global.limit = 400;
	budget_spend(&b, 1, 50, 1000);
	/* spent 50 + outstanding 150 + 200 = 400: fits exactly. */
	assert_true(budget_admit(&b, 2, 200, live, 1, 1000, why, sizeof(why)));
	assert_false(
	    budget_admit(&b, 2, 200.01, live, 1, 1000, why, sizeof(why)));
	assert_non_null(strstr(why, "budget global"));
	budget_free(&b);
}

static void
two_sweeps_never_over_commit_one_global_budget(void **state)
{
	struct budget b;
	struct budget_job live[16];
	size_t n = 0;
	char why[256];

	(void)state;
	budget_init(&b);
	b.global.limited = true;
	b.global.limit = 1000;
	/* Alternate requests of 150 from sweeps 1 and 2. */
	for (int i = 0; i < 16; i++) {
		int64_t sweep = 1 + i % 2;

		if (budget_admit(&b, sweep, 150, live, n, 0, why, sizeof(why)))
			live[n++] = (struct budget_job){.id = i,
							.sweep_id = sweep,
							.rate = 100,
							.worst = 150};
	}
	assert_int_equal(n, 6); /* 6 x 150 = 900; a seventh would be 1050 */
	assert_true(budget_outstanding(&b.global, live, n) <= 1000);
	budget_free(&b);
}

static void
a_sweep_limit_holds_only_its_own_jobs(void **state)
{
	struct budget b;
	struct budget_job live[1] = {
	    {.id = 1, .sweep_id = 1, .rate = 10, .worst = 90}};
	char why[256];

	(void)state;
	budget_init(&b);
	budget_sweep(&b, 1)->limited = true;
	budget_sweep(&b, 1)->limit = 100;
	assert_false(budget_admit(&b, 1, 20, live, 1, 0, why, sizeof(why)));
	assert_non_null(strstr(why, "sweep:1"));
	assert_true(budget_admit(&b, 2, 20, live, 1, 0, why, sizeof(why)));
	budget_free(&b);
}

static int stops;

static void
count_stop(const struct budget_scope *s, const struct budget_job *j, bool pause,
	   void *arg)
{
	(void)s;
	(void)j;
	(void)arg;
	assert_true(pause);
	stops++;
}

static void
enforcement_stops_running_jobs_before_the_crossing(void **state)
{
	struct budget b;
	struct budget_job jobs[2] = {
	    {.id = 1,
	     .sweep_id = 1,
	     .rate = 360,
	     .running = true,
	     .can_pause = true},
	    {.id = 2, .sweep_id = 1, .rate = 360, .running = false}};

	(void)state;
	budget_init(&b);
	b.global.limited = true;
	b.global.limit = 100;
	budget_spend(&b, 1, 98, 0);
	/* 98 + 360/h x 10 s = 99: not yet. */
	stops = 0;
	assert_int_equal(budget_enforce(&b, jobs, 2, 0, 10, count_stop, NULL),
			 0);
	/* 98 + 360/h x 20 s = 100: it reaches the limit, no more. */
	assert_int_equal(budget_enforce(&b, jobs, 2, 0, 20, count_stop, NULL),
			 0);
	/* 98 + 360/h x 21 s = 100.1: stop the running one, pause it. */
	assert_int_equal(budget_enforce(&b, jobs, 2, 0, 21, count_stop, NULL),
			 1);
	assert_int_equal(stops, 1);
	budget_free(&b);
}

/*
 * Four jobs whose worst cases fill the limit exactly: however far the
 * look-ahead, what they may still spend is their unspent reservations,
 * which fit.  A cent less, and they would cross.
 */
static void
reservations_that_exactly_fit_are_not_stopped(void **state)
{
	struct budget b;
	struct budget_job jobs[4];

	(void)state;
	budget_init(&b);
	budget_sweep(&b, 7)->limited = true;
	budget_sweep(&b, 7)->limit = 800;
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct budget_job){.id = i + 1,
					      .sweep_id = 7,
					      .rate = 360000,
					      .worst = 200,
					      .spent = 12.1475,
					      .running = true,
					      .can_pause = true};
		budget_spend(&b, 7, 12.1475, 0);
	}
	stops = 0;
	assert_int_equal(budget_enforce(&b, jobs, 4, 0, 5, count_stop, NULL),
			 0);
	assert_int_equal(stops, 0);
	assert_false(budget_crosses(48.59, 800 - 48.59, 800));
	budget_sweep(&b, 7)->limit = 799.99;
	assert_int_equal(budget_enforce(&b, jobs, 4, 0, 5, count_stop, NULL),
			 1);
	assert_int_equal(stops, 4);
	budget_free(&b);
}

static void
the_day_window_forgets_spend_older_than_a_day(void **state)
{
	struct budget b;
	double t0 = 1800000000;

	(void)state;
	budget_init(&b);
	budget_spend(&b, 1, 10, t0);
	budget_spend(&b, 1, 5, t0 + 3600);
	assert_true(fabs(budget_spent(&b, &b.day, t0 + 7200) - 15) < 1e-9);
	assert_true(fabs(budget_spent(&b, &b.day, t0 + 86400 + 60) - 5) < 1e-9);
	assert_true(fabs(budget_spent(&b, &b.month, t0 + 86400 * 2) - 15) <
		    1e-9);
	assert_true(budget_spent(&b, &b.month, t0 + 86400 * 31) < 1e-9);
	assert_true(fabs(b.global.spent - 15) < 1e-9);
	budget_free(&b);
}

static void
scope_names_round_trip(void **state)
{
	enum budget_kind kind;
	int64_t id;
	struct budget_scope s = {.kind = BUDGET_SWEEP, .sweep_id = 12};
	char name[32];

	(void)state;
	budget_scope_name(&s, name, sizeof(name));
	assert_string_equal(name, "sweep:12");
	assert_int_equal(budget_scope_parse(name, &kind, &id), 0);
	assert_int_equal(kind, BUDGET_SWEEP);
	assert_int_equal(id, 12);
	assert_int_equal(budget_scope_parse("month", &kind, &id), 0);
	assert_int_equal(kind, BUDGET_MONTH);
	assert_int_equal(budget_scope_parse("sweep:x", &kind, &id), -EINVAL);
	assert_int_equal(budget_scope_parse("weekly", &kind, &id), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		spend_stays_within_limit_plus_one_tick_and_cancel_over_1000_schedules),
	    cmocka_unit_test(
		admission_refuses_a_job_that_does_not_fit_and_says_why),
	    cmocka_unit_test(two_sweeps_never_over_commit_one_global_budget),
	    cmocka_unit_test(a_sweep_limit_holds_only_its_own_jobs),
	    cmocka_unit_test(
		enforcement_stops_running_jobs_before_the_crossing),
	    cmocka_unit_test(reservations_that_exactly_fit_are_not_stopped),
	    cmocka_unit_test(the_day_window_forgets_spend_older_than_a_day),
	    cmocka_unit_test(scope_names_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
