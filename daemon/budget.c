/* The money core (see budget.h). */
#include "budget.h"

#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
budget_init(struct budget *b)
{
	memset(b, 0, sizeof(*b));
	b->global.kind = BUDGET_GLOBAL;
	b->day.kind = BUDGET_DAY;
	b->month.kind = BUDGET_MONTH;
}

void
budget_free(struct budget *b)
{
	free(b->sweeps);
	b->sweeps = NULL;
	b->nsweeps = 0;
}

struct budget_scope *
budget_sweep(struct budget *b, int64_t id)
{
	struct budget_scope *s;

	for (size_t i = 0; i < b->nsweeps; i++)
		if (b->sweeps[i].sweep_id == id)
			return &b->sweeps[i];
	b->sweeps = xrealloc(b->sweeps, (b->nsweeps + 1) * sizeof(*b->sweeps));
	s = &b->sweeps[b->nsweeps++];
	memset(s, 0, sizeof(*s));
	s->kind = BUDGET_SWEEP;
	s->sweep_id = id;
	return s;
}

#define DAY_MINUTES (24 * 60)

/*
 * Moves the minute ring forward to `minute`: what leaves the day window
 * leaves day_sum, what leaves the month window is cleared.
 */
static void
advance(struct budget *b, int64_t minute)
{
	if (b->clock_started && minute <= b->minute_now)
		return;
	if (!b->clock_started || minute - b->minute_now >= BUDGET_MINUTES) {
		memset(b->minutes, 0, sizeof(b->minutes));
		b->day_sum = b->month_sum = 0;
		b->minute_now = minute;
		b->clock_started = true;
		return;
	}
	for (int64_t m = b->minute_now + 1; m <= minute; m++) {
		double *slot = &b->minutes[m % BUDGET_MINUTES];
		int64_t gone = m - DAY_MINUTES; /* leaves the day window */

		if (gone >= 0)
			b->day_sum -= b->minutes[gone % BUDGET_MINUTES];
		b->month_sum -= *slot;
		*slot = 0;
	}
	b->minute_now = minute;
	/* Sums of doubles drift; they are never below zero. */
	b->day_sum = fmax(0, b->day_sum);
	b->month_sum = fmax(0, b->month_sum);
}

void
budget_spend(struct budget *b, int64_t sweep_id, double usd, double t)
{
	int64_t minute = (int64_t)floor(t / 60);
	struct budget_scope *s;

	b->global.spent += usd;
	for (size_t i = 0; i < b->nsweeps; i++) {
		s = &b->sweeps[i];
		if (s->sweep_id == sweep_id)
			s->spent += usd;
	}
	advance(b, minute);
	if (b->minute_now - minute >= BUDGET_MINUTES)
		return;
	b->minutes[minute % BUDGET_MINUTES] += usd;
	b->month_sum += usd;
	if (b->minute_now - minute < DAY_MINUTES)
		b->day_sum += usd;
}

double
budget_spent(struct budget *b, const struct budget_scope *s, double now)
{
	advance(b, (int64_t)floor(now / 60));
	switch (s->kind) {
	case BUDGET_DAY:
		return b->day_sum;
	case BUDGET_MONTH:
		return b->month_sum;
	default:
		return s->spent;
	}
}

bool
budget_in_scope(const struct budget_scope *s, const struct budget_job *j)
{
	return s->kind != BUDGET_SWEEP || s->sweep_id == j->sweep_id;
}

double
budget_outstanding(const struct budget_scope *s, const struct budget_job *jobs,
		   size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		if (budget_in_scope(s, &jobs[i]))
			sum += fmax(0, jobs[i].worst - jobs[i].spent);
	return sum;
}

void
budget_scope_name(const struct budget_scope *s, char *buf, size_t len)
{
	static const char *const names[] = {"global", "day", "month"};

	if (s->kind == BUDGET_SWEEP)
		snprintf(buf, len, "sweep:%lld", (long long)s->sweep_id);
	else
		snprintf(buf, len, "%s", names[s->kind]);
}

int
budget_scope_parse(const char *name, enum budget_kind *kind, int64_t *sweep_id)
{
	*sweep_id = 0;
	if (strcmp(name, "global") == 0)
		*kind = BUDGET_GLOBAL;
	else if (strcmp(name, "day") == 0)
		*kind = BUDGET_DAY;
	else if (strcmp(name, "month") == 0)
		*kind = BUDGET_MONTH;
	else if (strncmp(name, "sweep:", 6) == 0 &&
		 parse_i64(name + 6, 1, INT64_MAX, sweep_id) == 0)
		*kind = BUDGET_SWEEP;
	else
		return -EINVAL;
	return 0;
}

/* The scopes a job of `sweep_id` belongs to: fills `out`, returns count. */
static size_t
scopes_of(struct budget *b, int64_t sweep_id, struct budget_scope **out)
{
	size_t n = 0;

	out[n++] = &b->global;
	out[n++] = &b->day;
	out[n++] = &b->month;
	for (size_t i = 0; i < b->nsweeps; i++)
		if (b->sweeps[i].sweep_id == sweep_id)
			out[n++] = &b->sweeps[i];
	return n;
}

bool
budget_admit(struct budget *b, int64_t sweep_id, double worst,
	     const struct budget_job *jobs, size_t n, double now, char *why,
	     size_t whylen)
{
	struct budget_scope *scopes[4];
	size_t ns = scopes_of(b, sweep_id, scopes);

	for (size_t i = 0; i < ns; i++) {
		const struct budget_scope *s = scopes[i];
		double spent, held;
		char name[32];

		if (!s->limited)
			continue;
		spent = budget_spent(b, s, now);
		held = budget_outstanding(s, jobs, n);
		if (spent + held + worst <= s->limit + 1e-9)
			continue;
		budget_scope_name(s, name, sizeof(name));
		snprintf(why, whylen,
			 "waiting for budget %s: $%.2f spent + $%.2f reserved "
			 "+ $%.2f for this job > $%.2f limit",
			 name, spent, held, worst, s->limit);
		return false;
	}
	return true;
}

bool
budget_crosses(double spent, double ahead, double limit)
{
	/* Reserved money that fits is allowed to be spent: only spend
	 * beyond the limit counts (a micro-dollar of rounding aside). */
	return spent + ahead > limit + 1e-6;
}

double
budget_ahead(const struct budget_job *j, double horizon_s)
{
	double ahead = j->rate * horizon_s / 3600.0;

	/* A job stops at its worst case (max_job_hours); what it reserved
	 * beyond that is not coming. */
	if (j->worst > 0)
		ahead = fmin(ahead, fmax(0, j->worst - j->spent));
	return ahead;
}

int
budget_enforce(struct budget *b, const struct budget_job *jobs, size_t n,
	       double now, double horizon_s,
	       void (*stop)(const struct budget_scope *s,
			    const struct budget_job *j, bool pause, void *arg),
	       void *arg)
{
	struct budget_scope *all[3] = {&b->global, &b->day, &b->month};
	int acted = 0;

	for (size_t k = 0; k < 3 + b->nsweeps; k++) {
		const struct budget_scope *s =
		    k < 3 ? all[k] : &b->sweeps[k - 3];
		double rate = 0,
		       spent; /* rate: USD coming within the horizon */

		if (!s->limited)
			continue;
		for (size_t i = 0; i < n; i++)
			if (jobs[i].running && budget_in_scope(s, &jobs[i]))
				rate += budget_ahead(&jobs[i], horizon_s);
		if (rate <= 0)
			continue;
		spent = budget_spent(b, s, now);
		if (!budget_crosses(spent, rate, s->limit))
			continue;
		acted++;
		for (size_t i = 0; i < n; i++)
			if (jobs[i].running && budget_in_scope(s, &jobs[i]))
				stop(s, &jobs[i],
				     s->action == BUDGET_PAUSE &&
					 jobs[i].can_pause,
				     arg);
	}
	return acted;
}
