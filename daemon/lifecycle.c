/* The lifecycle of sweeps, trials and jobs (see lifecycle.h). */
#include "lifecycle.h"

#include "backend.h"
#include "budget.h"
#include "log.h"
#include "notifier.h"
#include "store.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ledger rows for a live job at most this often (USD not yet ledgered). */
#define LEDGER_STEP_MIN	  1.0
#define LEDGER_STEP_SHARE 0.02 /* of its reservation */

#define LC_NAME(id, name) name,
static const char *const sweep_names[] = {SWEEP_STATES(LC_NAME)};
static const char *const trial_names[] = {TRIAL_STATES(LC_NAME)};
static const char *const job_names[] = {JOB_STATES(LC_NAME)};
static const char *const event_names[] = {JOB_EVENTS(LC_NAME)};
#undef LC_NAME
static const char *const action_names[] = {
    [JOB_DO_NOTHING] = "nothing", [JOB_DO_SUBMIT] = "submit",
    [JOB_DO_FIND] = "find",	  [JOB_DO_POLL] = "poll",
    [JOB_DO_CANCEL] = "cancel",	  [JOB_DO_PAUSE] = "pause",
    [JOB_DO_RESUME] = "resume",
};

/* names[i], or "?" for a value out of range. */
static const char *
name_of(const char *const *names, int n, int i)
{
	return i >= 0 && i < n ? names[i] : "?";
}

const char *
sweep_state_name(enum sweep_state s)
{
	return name_of(sweep_names, SWEEP__COUNT, (int)s);
}

const char *
trial_state_name(enum trial_state s)
{
	return name_of(trial_names, TRIAL__COUNT, (int)s);
}

const char *
job_state_name(enum job_state s)
{
	return name_of(job_names, JOB__COUNT, (int)s);
}

const char *
job_event_name(enum job_event ev)
{
	return name_of(event_names, JOB_EV__COUNT, (int)ev);
}

const char *
job_action_name(enum job_action a)
{
	return name_of(action_names, JOB_DO_RESUME + 1, (int)a);
}

/* The index of `name` in names[0..n): 0 with *out, or -EINVAL. */
static int
parse(const char *const *names, int n, const char *name, int *out)
{
	for (int i = 0; name != NULL && i < n; i++) {
		if (strcmp(names[i], name) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

#define PARSER(fn, type, names, count)                                         \
	int fn(const char *name, enum type *out)                               \
	{                                                                      \
		int i, rc = parse(names, count, name, &i);                     \
                                                                               \
		if (rc == 0)                                                   \
			*out = (enum type)i;                                   \
		return rc;                                                     \
	}
PARSER(sweep_state_parse, sweep_state, sweep_names, SWEEP__COUNT)
PARSER(trial_state_parse, trial_state, trial_names, TRIAL__COUNT)
PARSER(job_state_parse, job_state, job_names, JOB__COUNT)
#undef PARSER

#define B(s)	(1u << JOB_##s)
#define ENDINGS (B(SUCCEEDED) | B(FAILED) | B(CANCELLED) | B(LOST))
#define LIVE                                                                   \
	(B(VALIDATING) | B(QUEUED) | B(RUNNING) | B(PAUSING) | B(PAUSED) |     \
	 B(CANCELLING))

/*
 * Allowed targets per state.  Polls can miss short states, so a live job
 * may jump to any later live state or an ending.
 */
static const unsigned int allowed[JOB__COUNT] = {
    [JOB_PENDING] = B(SUBMITTING) | B(CANCELLED),
    [JOB_SUBMITTING] = LIVE | ENDINGS | B(UNKNOWN),
    [JOB_UNKNOWN] = LIVE | ENDINGS | B(SUBMITTING),
    [JOB_VALIDATING] = LIVE | ENDINGS,
    [JOB_QUEUED] = (LIVE & ~B(VALIDATING)) | ENDINGS,
    [JOB_RUNNING] = (LIVE & ~B(VALIDATING)) | ENDINGS,
    [JOB_PAUSING] =
	B(PAUSED) | B(RUNNING) | B(QUEUED) | B(CANCELLING) | ENDINGS,
    [JOB_PAUSED] =
	B(QUEUED) | B(RUNNING) | B(CANCELLING) | B(PAUSING) | ENDINGS,
    [JOB_CANCELLING] = B(CANCELLED) | B(FAILED) | B(SUCCEEDED) | B(LOST),
    [JOB_SUCCEEDED] = 0,
    [JOB_FAILED] = 0,
    [JOB_CANCELLED] = 0,
    [JOB_LOST] = 0,
};

bool
job_state_terminal(enum job_state s)
{
	return s < JOB__COUNT && (ENDINGS & (1u << s)) != 0;
}

bool
job_state_active(enum job_state s)
{
	return s < JOB__COUNT && !job_state_terminal(s) && s != JOB_PENDING;
}

bool
job_transition_ok(enum job_state from, enum job_state to)
{
	return from < JOB__COUNT && to < JOB__COUNT &&
	       (allowed[from] & (1u << to)) != 0;
}

/* --- the job record ------------------------------------------------------- */

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct job *
job_from_row(const struct store_job_row *r)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->id = r->id;
	j->trial_id = r->trial_id;
	j->sweep_id = r->sweep_id;
	j->attempt = r->attempt;
	j->retries = r->retries;
	if (job_state_parse(r->state, &j->state) != 0)
		j->state = JOB_PENDING;
	if (sweep_state_parse(r->sweep_state, &j->sweep_state) != 0)
		j->sweep_state = SWEEP_RUNNING;
	j->max_job_hours = r->max_job_hours;
	j->billed_seconds = r->billed_seconds;
	j->rate = r->rate;
	j->reserved = r->reserved;
	j->cost = r->cost;
	j->ledgered = r->ledgered;
	j->budget_paused = r->budget_paused;
	j->early_stopped =
	    r->early_stop != NULL && strcmp(r->early_stop, "stopped") == 0;
	j->early_held =
	    r->early_stop != NULL && strcmp(r->early_stop, "held") == 0;
	j->backend = dup_or_null(r->backend);
	j->intent_key = dup_or_null(r->intent_key);
	j->remote_id = dup_or_null(r->remote_id);
	j->cursor = dup_or_null(r->cursor);
	j->objective_metric = dup_or_null(r->objective_metric);
	j->objective_max = r->objective_max;
	j->model = dup_or_null(r->model);
	j->spec_json = dup_or_null(r->spec_json);
	j->grader_name = dup_or_null(r->grader_name);
	j->grader_json = dup_or_null(r->grader_json);
	j->hps_json = dup_or_null(r->hyperparameters_json);
	j->sweep_name = dup_or_null(r->sweep_name);
	j->has_seed = r->has_seed;
	j->seed = r->seed;
	return j;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->backend);
	free(j->intent_key);
	free(j->remote_id);
	free(j->cursor);
	free(j->objective_metric);
	free(j->model);
	free(j->spec_json);
	free(j->grader_name);
	free(j->grader_json);
	free(j->hps_json);
	free(j->sweep_name);
	free(j);
}

/* --- what an event means: pure -------------------------------------------- */

static struct job_step
stay(const struct job *j, enum job_action then, const char *why)
{
	return (struct job_step){.to = j->state, .then = then, .why = why};
}

static struct job_step
go(enum job_state to, enum job_action then, const char *why)
{
	return (struct job_step){.to = to, .then = then, .why = why};
}

static struct job_step
refuse(const struct job *j, int rc, const char *why)
{
	return (struct job_step){.rc = rc, .to = j->state, .why = why};
}

/* Why a cancel happens, for the job's events. */
static const char *
stop_cause(const struct job_input *in)
{
	if (in->why != NULL)
		return in->why;
	switch (in->cause) {
	case JOB_BY_SWEEP:
		return "the sweep was cancelled";
	case JOB_BY_BUDGET:
		return "a budget was reached";
	case JOB_BY_DEADLINE:
		return "it reached max_job_hours";
	case JOB_BY_EARLY_STOP:
		return "an early-stopping rule stopped it";
	default:
		return "cancelled by the user";
	}
}

/* A job's turn in a tick: what to look at or carry out now. */
static struct job_step
decide_turn(const struct job *j, const struct job_input *in)
{
	if (j->remote_id == NULL)
		return stay(j, JOB_DO_FIND, NULL);
	if (j->state == JOB_CANCELLING)
		return stay(j, in->control_sent ? JOB_DO_POLL : JOB_DO_CANCEL,
			    NULL);
	if (j->sweep_state == SWEEP_CANCELLED)
		return go(JOB_CANCELLING, JOB_DO_CANCEL,
			  "the sweep was cancelled");
	if (j->state == JOB_PAUSING && in->can_pause)
		return stay(j, in->control_sent ? JOB_DO_POLL : JOB_DO_PAUSE,
			    NULL);
	if (j->state == JOB_RUNNING && in->can_pause &&
	    j->sweep_state == SWEEP_PAUSED)
		return go(JOB_PAUSING, JOB_DO_PAUSE, "the sweep was paused");
	return stay(j, JOB_DO_POLL, NULL);
}

/* What the provider's state says; a state we do not know keeps ours. */
static struct job_step
decide_poll(const struct job *j, const struct job_input *in)
{
	enum job_state p = in->poll != NULL ? in->poll->state : JOB__COUNT;

	if (j->remote_id == NULL)
		return refuse(j, -EINVAL, "it has no remote job to poll");
	if (p < JOB__COUNT && p != j->state && job_transition_ok(j->state, p))
		return go(p, JOB_DO_NOTHING, in->poll->error);
	return stay(j, JOB_DO_NOTHING, NULL);
}

struct job_step
job_decide(const struct job *j, enum job_event ev, const struct job_input *in)
{
	static const struct job_input none;
	bool submitting = j->state == JOB_SUBMITTING || j->state == JOB_UNKNOWN;
	bool cancelling = j->state == JOB_CANCELLING;

	if (in == NULL)
		in = &none;
	if (job_state_terminal(j->state))
		return refuse(j,
			      ev == JOB_EV_STOP || ev == JOB_EV_PAUSE ||
				      ev == JOB_EV_RESUME
				  ? -EALREADY
				  : -EINVAL,
			      "it has ended");
	if (j->state == JOB_PENDING || j->state >= JOB__COUNT)
		return refuse(j, -EINVAL, "it was never submitted");
	switch (ev) {
	case JOB_EV_TURN:
		return decide_turn(j, in);
	case JOB_EV_SUBMITTED:
	case JOB_EV_FOUND:
		if (j->remote_id != NULL || in->remote_id == NULL ||
		    (!submitting && !cancelling))
			break;
		if (cancelling) /* no longer wanted: cancel what was made */
			return stay(j, JOB_DO_CANCEL,
				    ev == JOB_EV_FOUND
					? "found by its intent key"
					: "submitted");
		/* The state stays: the next poll says what it is. */
		return stay(j, JOB_DO_NOTHING,
			    ev == JOB_EV_FOUND
				? "found by its intent key; adopted"
				: "submitted");
	case JOB_EV_SUBMIT_UNKNOWN:
		if (j->remote_id != NULL || (!submitting && !cancelling))
			break;
		return go(cancelling ? JOB_CANCELLING : JOB_UNKNOWN,
			  JOB_DO_NOTHING,
			  in->error ? in->error : "outcome not known");
	case JOB_EV_SUBMIT_HELD:
	case JOB_EV_REFUSED:
		if (j->remote_id != NULL || (!submitting && !cancelling))
			break;
		if (cancelling) /* never created: nothing to pay */
			return go(JOB_CANCELLED, JOB_DO_NOTHING,
				  "cancelled before it was created");
		if (ev == JOB_EV_SUBMIT_HELD) /* waits, intent kept */
			return stay(j, JOB_DO_NOTHING,
				    "held by the provider's quota");
		return go(JOB_FAILED, JOB_DO_NOTHING,
			  in->error ? in->error : "refused");
	case JOB_EV_DUPLICATE:
		if (j->remote_id != NULL || (!submitting && !cancelling))
			break;
		return go(JOB_FAILED, JOB_DO_NOTHING,
			  "the provider answered with another job's id");
	case JOB_EV_NOT_FOUND:
		if (j->remote_id != NULL)
			break;
		if (cancelling || j->sweep_state == SWEEP_CANCELLED)
			return go(JOB_CANCELLED, JOB_DO_NOTHING,
				  "cancelled before it was submitted");
		if (j->sweep_state == SWEEP_PAUSED) /* goes on resume */
			return stay(j, JOB_DO_NOTHING, NULL);
		return go(JOB_SUBMITTING, JOB_DO_SUBMIT,
			  j->state == JOB_UNKNOWN ? "not found; resubmitting"
						  : NULL);
	case JOB_EV_POLLED:
		return decide_poll(j, in);
	case JOB_EV_GONE:
		if (j->remote_id == NULL)
			break;
		return go(JOB_LOST, JOB_DO_NOTHING,
			  "the backend has no such job");
	case JOB_EV_STOP:
		if (cancelling)
			return refuse(j, -EALREADY,
				      "it is already being cancelled");
		return go(JOB_CANCELLING,
			  j->remote_id != NULL ? JOB_DO_CANCEL : JOB_DO_FIND,
			  stop_cause(in));
	case JOB_EV_PAUSE:
		if (!in->can_pause)
			return refuse(j, -EOPNOTSUPP,
				      "its backend cannot pause jobs");
		if (j->state != JOB_RUNNING || j->remote_id == NULL)
			return refuse(j, -EALREADY,
				      "only a running job can be paused");
		return go(JOB_PAUSING, JOB_DO_PAUSE,
			  in->why ? in->why : "paused by the user");
	case JOB_EV_RESUME:
		if (!in->can_pause)
			return refuse(j, -EOPNOTSUPP,
				      "its backend cannot pause jobs");
		if (j->state != JOB_PAUSED)
			return refuse(j, -EALREADY, "it is not paused");
		return stay(j, JOB_DO_RESUME, NULL);
	case JOB_EV_CONTROLLED:
		if (j->remote_id == NULL)
			break;
		if (in->done == JOB_DO_RESUME)
			return j->state == JOB_PAUSED
				   ? go(JOB_QUEUED, JOB_DO_NOTHING,
					in->why ? in->why : "resumed")
				   : stay(j, JOB_DO_NOTHING, NULL);
		if (in->done == JOB_DO_CANCEL || in->done == JOB_DO_PAUSE)
			/* The bill up to the stop, and the state, from the
			 * backend. */
			return stay(j, JOB_DO_POLL, NULL);
		break;
	default:
		break;
	}
	return refuse(j, -EINVAL, "the event makes no sense in this state");
}

/* --- entry actions -------------------------------------------------------- */

/*
 * Records that the job now costs `cost`; ledgers what is not in the
 * ledger yet when enough has gathered or the job ended.  Sets *ledgered.
 */
static int
accrue(struct lifecycle *lc, const struct job *j, double cost,
       const char *quality, bool ended, double now, double *ledgered)
{
	double step = fmax(LEDGER_STEP_MIN, LEDGER_STEP_SHARE * j->reserved);
	bool to_ledger = ended || cost - j->ledgered >= step;
	int rc = 0;

	*ledgered = j->ledgered;
	if (cost != j->cost || (to_ledger && cost != j->ledgered))
		rc = store_job_cost(lc->store, j->id, j->sweep_id, cost,
				    quality, j->ledgered, to_ledger, now);
	if (rc == 0 && to_ledger)
		*ledgered = cost;
	return rc;
}

/* Tells [notify] of the trial's end, in the transaction recording it. */
static int
notify(struct lifecycle *lc, const struct job *j, const char *type, int rc,
       const char *error)
{
	if (rc != 0 || lc->d == NULL)
		return rc;
	return notifier_trial_event(lc->d, type, j->sweep_id, j->trial_id,
				    j->id, error);
}

/* What the job's new state means for its trial. */
static int
trial_follow(struct lifecycle *lc, const struct job *j, enum job_state to,
	     bool final, const char *error, double now)
{
	struct store *st = lc->store;
	char reason[256];
	double delay;
	int rc;

	/* A job held by early stopping that ends otherwise (it finished
	 * while its pause went out, or failed): the rule holds it no more,
	 * and a retry starts free of it. */
	if (job_state_terminal(to) && j->early_held &&
	    (rc = store_trial_early_release(st, j->trial_id, now)) != 0)
		return rc;
	switch (to) {
	case JOB_SUCCEEDED:
		return store_trial_set_state(st, j->trial_id, "succeeded", 0,
					     NULL, now);
	case JOB_FAILED:
	case JOB_LOST:
		if (j->state == JOB_CANCELLING) { /* stopped on purpose */
			rc = store_trial_set_state(
			    st, j->trial_id,
			    j->early_stopped ? "stopped" : "cancelled", 0, NULL,
			    now);
			return j->early_stopped
				   ? notify(lc, j, "trial.early_stopped", rc,
					    NULL)
				   : rc;
		}
		if (j->attempt <= j->retries && !final &&
		    j->sweep_state != SWEEP_CANCELLED) {
			delay = fmin(lc->retry_max_s,
				     lc->retry_base_s * pow(2, j->attempt - 1));
			snprintf(reason, sizeof(reason),
				 "retry %d of %d in %.0f s after: %.180s",
				 j->attempt, j->retries, delay,
				 error ? error : job_state_name(to));
			log_info("trial %lld: %s", (long long)j->trial_id,
				 reason);
			return store_trial_set_state(st, j->trial_id, "pending",
						     now + delay, reason, now);
		}
		rc = store_trial_set_state(st, j->trial_id, "failed", 0, NULL,
					   now);
		return notify(lc, j, "job.failed", rc,
			      error ? error : job_state_name(to));
	case JOB_CANCELLED:
		rc = store_trial_set_state(
		    st, j->trial_id, j->early_stopped ? "stopped" : "cancelled",
		    0, NULL, now);
		return j->early_stopped
			   ? notify(lc, j, "trial.early_stopped", rc, NULL)
			   : rc;
	case JOB_PAUSED:
		return store_trial_set_state(st, j->trial_id, "paused", 0, NULL,
					     now);
	default:
		if (j->state == JOB_PAUSED || j->state == JOB_PAUSING)
			return store_trial_set_state(st, j->trial_id, "running",
						     0, NULL, now);
		return 0;
	}
}

/* The poll's news: events, metrics, checkpoints, the trial's objective. */
static int
record_poll(struct lifecycle *lc, const struct job *j,
	    const struct backend_poll *p, double now)
{
	struct store *st = lc->store;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < p->nevents; i++) {
		const struct backend_event *e = &p->events[i];

		rc = store_job_event_add(st, j->id,
					 &(struct store_event){
					     .remote_id = e->remote_id,
					     .created_at = e->created_at,
					     .level = e->level,
					     .type = e->type,
					     .message = e->message,
					     .data = e->data,
					 });
	}
	for (size_t i = 0; rc == 0 && i < p->nmetrics; i++) {
		const struct backend_metric *m = &p->metrics[i];

		rc = store_metric_add(st, j->id, m->step, m->name, m->value);
		if (rc == 0 && j->objective_metric != NULL &&
		    strcmp(m->name, j->objective_metric) == 0)
			rc = store_trial_objective(st, j->trial_id, m->value,
						   m->step, j->objective_max);
	}
	for (size_t i = 0; rc == 0 && i < p->ncheckpoints; i++) {
		const struct backend_checkpoint *k = &p->checkpoints[i];

		rc = store_checkpoint_add(st, j->id, k->step, k->remote_id,
					  k->model, k->metrics, now);
	}
	return rc;
}

/* The event text of a move, or of a change that is not one. */
static const char *
event_text(const struct job *j, enum job_event ev, const struct job_step *s,
	   const struct job_input *in, char *buf, size_t len)
{
	if (s->to != j->state) {
		snprintf(buf, len, "%s -> %s%s%s", job_state_name(j->state),
			 job_state_name(s->to), s->why ? ": " : "",
			 s->why ? s->why : "");
		return buf;
	}
	switch (ev) {
	case JOB_EV_SUBMITTED:
	case JOB_EV_FOUND:
		return s->why;
	case JOB_EV_SUBMIT_HELD:
		snprintf(buf, len, "held by the provider's quota: %s",
			 in->error ? in->error : "");
		return buf;
	default:
		return NULL;
	}
}

/*
 * Whether the event sets or clears the mark of a budget's pause: a pause
 * sets it (when a budget asks), a resume done or an ending clears it.
 */
static bool
marks_pause(enum job_event ev, const struct job_input *in, bool ended)
{
	return ev == JOB_EV_PAUSE ||
	       (ev == JOB_EV_CONTROLLED && in->done == JOB_DO_RESUME) || ended;
}

/*
 * Enters the step's state: the job's row and event, the poll's data, the
 * bill, the trial.  Inside a unit of writes opened by the caller.
 */
static int
change_state(struct lifecycle *lc, struct job *j, enum job_event ev,
	     const struct job_step *s, const struct job_input *in, double now,
	     double *cost, double *ledgered)
{
	const struct backend_poll *p = ev == JOB_EV_POLLED ? in->poll : NULL;
	struct store_job_change c = {.billed_seconds = -1};
	bool ended = job_state_terminal(s->to);
	bool final =
	    ev == JOB_EV_DUPLICATE || (ev == JOB_EV_REFUSED && in->final);
	char event[300], err[300];
	int rc;

	*cost = j->cost;
	*ledgered = j->ledgered;
	/* Compare and set: a decision made on a stale copy is caught. */
	c.from = job_state_name(j->state);
	if (s->to != j->state)
		c.state = job_state_name(s->to);
	c.event = event_text(j, ev, s, in, event, sizeof(event));
	if (ev == JOB_EV_SUBMITTED || ev == JOB_EV_FOUND)
		c.remote_id = in->remote_id;
	if (ev == JOB_EV_REFUSED || ev == JOB_EV_SUBMIT_HELD)
		c.error = in->error;
	if (ev == JOB_EV_DUPLICATE) {
		snprintf(err, sizeof(err), "%s", in->error ? in->error : "");
		c.error = err;
	}
	if (p != NULL) {
		c.provider_status = p->provider_status;
		c.error = p->error;
		c.fine_tuned_model = p->fine_tuned_model;
		c.billed_seconds = p->billed_seconds;
		c.cursor = p->cursor;
		rc = record_poll(lc, j, p, now);
		if (rc != 0)
			return rc;
		if (p->cost_usd >= 0 || p->billed_seconds >= 0)
			/* The provider's figure when it gives one, else time x
			 * rate. */
			*cost = p->cost_usd >= 0
				    ? p->cost_usd
				    : p->billed_seconds / 3600.0 * j->rate;
	}
	if (c.state != NULL || c.event != NULL || c.remote_id != NULL ||
	    c.error != NULL || p != NULL) {
		rc = store_job_change(lc->store, j->id, &c, now);
		if (rc != 0)
			return rc;
	}
	if (*cost != j->cost || ended) {
		rc = accrue(lc, j, *cost,
			    p != NULL && p->cost_usd >= 0 ? "provider"
							  : "estimated",
			    ended, now, ledgered);
		if (rc != 0)
			return rc;
	}
	if (ended && j->reserved > 0) {
		/* The bill is final: the reservation goes. */
		rc = store_ledger_job(lc->store, j->id, j->sweep_id, "release",
				      -j->reserved, "the job ended",
				      "estimated", now);
		if (rc != 0)
			return rc;
	}
	if (marks_pause(ev, in, ended)) {
		bool held = ev == JOB_EV_PAUSE && in->cause == JOB_BY_BUDGET;

		if (held != j->budget_paused) {
			rc = store_job_budget_paused(lc->store, j->id, held);
			if (rc != 0)
				return rc;
		}
	}
	if (s->to != j->state)
		return trial_follow(lc, j, s->to, final,
				    p != NULL ? p->error : in->error, now);
	return 0;
}

struct job_step
job_fsm(struct lifecycle *lc, struct job *j, enum job_event ev,
	const struct job_input *in, double now)
{
	static const struct job_input none;
	struct job_step s;
	double cost, ledgered;
	bool outer;
	int rc;

	if (in == NULL)
		in = &none;
	s = job_decide(j, ev, in);
	assert(s.rc != 0 || s.to == j->state ||
	       job_transition_ok(j->state, s.to));
	if (s.rc != 0) {
		if (s.rc == -EINVAL)
			log_warnx("job %lld: %s in state %s refused: %s",
				  (long long)j->id, job_event_name(ev),
				  job_state_name(j->state), s.why);
		return s;
	}
	if (store_unit_begin(lc->store, &outer) != 0) {
		s.rc = -EIO;
		return s;
	}
	rc = change_state(lc, j, ev, &s, in, now, &cost, &ledgered);
	if (store_unit_end(lc->store, outer, rc == 0) != 0)
		rc = -EIO;
	if (rc != 0) {
		/* Nothing of it was kept: neither is it here. */
		s.rc = rc;
		s.to = j->state;
		s.then = JOB_DO_NOTHING;
		return s;
	}
	/* Committed (or part of the caller's transaction, whose failure
	 * the caller answers by reading the spend again). */
	if (cost > j->cost)
		budget_spend(lc->budget, j->sweep_id, cost - j->cost, now);
	j->cost = cost;
	j->ledgered = ledgered;
	if (ev == JOB_EV_POLLED && in->poll->billed_seconds >= 0)
		j->billed_seconds = in->poll->billed_seconds;
	if (ev == JOB_EV_POLLED && in->poll->cursor != NULL) {
		free(j->cursor);
		j->cursor = xstrdup(in->poll->cursor);
	}
	if ((ev == JOB_EV_SUBMITTED || ev == JOB_EV_FOUND) &&
	    in->remote_id != NULL) {
		free(j->remote_id);
		j->remote_id = xstrdup(in->remote_id);
	}
	if (marks_pause(ev, in, job_state_terminal(s.to)))
		j->budget_paused =
		    ev == JOB_EV_PAUSE && in->cause == JOB_BY_BUDGET;
	if (s.to != j->state) {
		char *line =
		    xasprintf("job %lld: %s -> %s%s%s", (long long)j->id,
			      job_state_name(j->state), job_state_name(s.to),
			      s.why ? ": " : "", s.why ? s.why : "");

		if (outer) {
			log_info("%s", line);
			free(line);
		} else {
			lc->held = xrealloc(lc->held, (lc->nheld + 1) *
							  sizeof(*lc->held));
			lc->held[lc->nheld++] = line;
		}
		j->state = s.to;
	} else if (ev == JOB_EV_SUBMITTED || ev == JOB_EV_FOUND) {
		log_info("job %lld: %s as %s", (long long)j->id,
			 ev == JOB_EV_FOUND ? "found by its intent key"
					    : "submitted",
			 in->remote_id);
	}
	return s;
}

void
lifecycle_settle(struct lifecycle *lc, bool committed)
{
	for (size_t i = 0; i < lc->nheld; i++) {
		if (committed)
			log_info("%s", lc->held[i]);
		free(lc->held[i]);
	}
	if (!committed && lc->nheld > 0)
		log_info("store: %zu state change%s not kept; made again once "
			 "writes succeed",
			 lc->nheld, lc->nheld == 1 ? " was" : "s were");
	free(lc->held);
	lc->held = NULL;
	lc->nheld = 0;
}
