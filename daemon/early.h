/*
 * Early stopping: rules that stop a trial whose metric says it will not
 * be among the best, so that a sweep's money goes to the trials that
 * can win.
 *
 * Glossary:
 *   point    one value of the rule's metric at one step of a trial
 *            (a trial's points: all its jobs', the best at each step).
 *   value at the best value of a trial up to its first point at or after
 *   step s   step s; a trial with no point at or after s has none (it
 *            has not got that far).  Trials that evaluate at different
 *            steps are compared this way.
 *   peers    the other trials of the sweep with a value at the step.
 *   open     a trial that may still get a value at a step it has no
 *            value at yet: pending, running, or held.
 *   held     paused by a rule that is not yet sure: a later peer may
 *            still make it good enough (then it is resumed).
 *   sure     no trial to come can change the verdict: then the trial is
 *            stopped for good (its job cancelled, its trial "stopped").
 *
 * Rules:
 *   median  at each of a trial's points from grace_steps on, its value
 *           is compared with the median of its peers' values there;
 *           worse is stopped.  Sure once the median would stay better
 *           than it even if every trial still to come were worse.
 *   asha    asynchronous successive halving (Li et al., 2020): rungs at
 *           grace_steps * reduction_factor^r; a trial reaching a rung
 *           goes on when it is among the best max(1, floor(k / eta)) of
 *           the k trials recorded there, and is held otherwise.  Sure
 *           once the promotions its rung can ever give are taken by
 *           trials already better.
 * A decision needs min_trials trials (the judged one included) with a
 * value at the step; with fewer a trial is never stopped: it goes on,
 * except that asha's rung promotes no one yet, so while more trials may
 * come the trial waits there, held (or goes on where it cannot wait).
 * Ties favour the judged trial.
 *
 * The rules (early_judge) are pure; early_review() applies them to a
 * sweep's stored points, records each decision and asks for the pauses,
 * stops and resumes that follow.  Loop thread only.
 */
#ifndef RFTD_EARLY_H
#define RFTD_EARLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum early_rule { EARLY_NONE, EARLY_MEDIAN, EARLY_ASHA };

#define EARLY_MAX_METRIC 128

struct early_config {
	enum early_rule rule;
	char metric[EARLY_MAX_METRIC]; /* default: the objective's */
	bool maximize;		       /* default: the objective's mode */
	int64_t grace_steps;	       /* no decision before this step */
	int reduction_factor;	       /* asha's eta */
	int min_trials;		       /* with the judged one */
};

#define EARLY_DEFAULT_GRACE_STEPS 10
#define EARLY_DEFAULT_REDUCTION	  3
#define EARLY_DEFAULT_MIN_TRIALS  5
#define EARLY_MAX_RUNGS		  32

const char *early_rule_name(enum early_rule r);

/*
 * The configuration as stored with the sweep, and back: a new cJSON
 * object; 0 from the object (-EINVAL for one that is not a rule's).
 */
cJSON *early_config_json(const struct early_config *c);
int early_config_from_json(const cJSON *obj, struct early_config *c);

struct early_point {
	int64_t step;
	double value;
};

struct early_trial {
	int64_t id;
	const struct early_point *points; /* ascending steps, one per step */
	size_t npoints;
	bool open;
};

/* The trial's value at step s: true with *v, false when it has none. */
bool early_value_at(const struct early_trial *t, int64_t s, bool maximize,
		    double *v);

enum early_action {
	EARLY_CONTINUE,
	EARLY_HOLD, /* pause: not good enough for now */
	EARLY_STOP, /* not good enough, and sure */
};

struct early_verdict {
	enum early_action action;
	int64_t step;
	int rung; /* asha's; -1 for median */
	double value;
	bool has_threshold; /* false: too few trials to judge */
	double threshold;   /* the cutoff (asha) or the median */
	int peers;	    /* other trials with a value at the step */
};

/*
 * The decision points of trial `t` after step `after` (0: all): for
 * median its points from grace_steps on, for asha the rungs it has
 * reached.  Fills steps[] (and rungs[], -1 for median) up to `max`;
 * returns how many.
 */
size_t early_points(const struct early_config *c, const struct early_trial *t,
		    int64_t after, int64_t *steps, int *rungs, size_t max);

/* The rule's verdict on trials[self] at `step` (and asha `rung`). */
struct early_verdict early_judge(const struct early_config *c,
				 const struct early_trial *trials, size_t n,
				 size_t self, int64_t step, int rung);

/* What a review asks of a job, and whether its backend can pause it. */
struct early_ops {
	bool (*can_pause)(void *arg, int64_t job_id);
	/* ev: JOB_EV_PAUSE, JOB_EV_STOP or JOB_EV_RESUME (lifecycle.h). */
	void (*act)(void *arg, int64_t job_id, int ev, const char *why);
	void *arg;
};

struct store;

/*
 * Applies the sweep's rule to what its trials reported: judges each
 * running trial at its decision points not judged yet, judges held
 * trials again, records every decision (and the trials' marks) before
 * asking for what follows, and asks again for what a crash may have
 * left undone (a held trial still running, a stopped one not being
 * cancelled).  `starved`: the sweep's pending trials could not be
 * admitted (a budget, a price); while nothing else of the sweep runs
 * they are not counted as trials to come, so held trials are settled
 * (their reservations may be what keeps the others out).  Returns 0, or
 * -EIO when the store failed (nothing of the failed decision was kept;
 * the next review makes it).
 */
int early_review(struct store *st, int64_t sweep_id,
		 const struct early_config *c, const struct early_ops *ops,
		 bool starved, double now);

#endif
