/* The scheduler tick (see scheduler.h). */
#include "scheduler.h"

#include "config.h"
#include "daemon.h"
#include "job.h"
#include "log.h"
#include "meter.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ADMIT_SCAN   512   /* pending trials looked at per tick */
#define RETRY_BASE_S 1.0   /* first retry delay; doubles per attempt */
#define TICK_ROWS    50000 /* metric rows ingested per tick at most */
#define RETRY_MAX_S  300.0

/* What the scheduler remembers of a live job between ticks. */
struct slot {
	int64_t id;    /* 0: free */
	bool inflight; /* a backend call is under way */
	double due;    /* monotonic seconds: not to be polled before */
};

/* Start-up reconciliation of a backend: its live jobs listed first. */
struct reconcile {
	bool done;	 /* orphans adopted; submissions may start */
	bool listing;	 /* list_owned() under way */
	double retry_at; /* monotonic seconds, after a failed listing */
	char error[200]; /* why the last listing failed */
};

struct scheduler {
	struct daemon *d;
	uv_timer_t tick_timer; /* the periodic tick */
	struct slot *slots;    /* open addressing by job id */
	size_t nslots, slots_cap;
	struct reconcile *rec; /* parallel to d->backends */
	bool closing;
	uint64_t last_tick_ns; /* when the last tick finished */
	size_t tick_rows;      /* metric rows ingested in this tick */
};

/* A job row copied out of the store, for calls that outlive a query. */
struct job_ref {
	struct scheduler *s;
	int64_t id, trial_id, sweep_id;
	int attempt, retries;
	double max_job_hours, billed_seconds;
	double rate, reserved, cost, ledgered; /* money, see meter.h */
	enum job_state state;
	char *backend, *intent_key, *remote_id, *sweep_state, *cursor;
	char *objective_metric;
	bool objective_max;
	/* For (re)submission. */
	char *model, *spec_json, *grader_name, *grader_json, *hps_json;
	char *sweep_name;
	bool has_seed;
	int64_t seed;
	enum backend_action action; /* for control calls */
	bool final;		    /* its failure is not worth a retry */
};

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static struct job_ref *
ref_new(struct scheduler *s, const struct store_job_row *r)
{
	struct job_ref *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->id = r->id;
	j->trial_id = r->trial_id;
	j->sweep_id = r->sweep_id;
	j->attempt = r->attempt;
	j->retries = r->retries;
	j->max_job_hours = r->max_job_hours;
	j->billed_seconds = r->billed_seconds;
	j->rate = r->rate;
	j->reserved = r->reserved;
	j->cost = r->cost;
	j->ledgered = r->ledgered;
	if (r->state == NULL || job_state_parse(r->state, &j->state) != 0)
		j->state = JOB_PENDING;
	j->backend = dup_or_null(r->backend);
	j->intent_key = dup_or_null(r->intent_key);
	j->remote_id = dup_or_null(r->remote_id);
	j->sweep_state = dup_or_null(r->sweep_state);
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

static void
ref_free(struct job_ref *j)
{
	if (j == NULL)
		return;
	free(j->backend);
	free(j->intent_key);
	free(j->remote_id);
	free(j->sweep_state);
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

/* --- what the scheduler remembers of jobs --------------------------------- */

static double
mono_s(void)
{
	return (double)now_mono_ns() / 1e9;
}

static size_t
slot_hash(int64_t id, size_t cap)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 20) &
	       (cap - 1);
}

static struct slot *slot_get(struct scheduler *s, int64_t id, bool create);

static void
slots_grow(struct scheduler *s)
{
	struct slot *old = s->slots;
	size_t cap = s->slots_cap;

	s->slots_cap = cap ? 2 * cap : 64;
	s->slots = xcalloc(s->slots_cap, sizeof(*s->slots));
	s->nslots = 0;
	for (size_t i = 0; i < cap; i++)
		if (old[i].id != 0)
			*slot_get(s, old[i].id, true) = old[i];
	free(old);
}

static struct slot *
slot_get(struct scheduler *s, int64_t id, bool create)
{
	size_t i;

	if (create && 2 * (s->nslots + 1) > s->slots_cap)
		slots_grow(s);
	if (s->slots_cap == 0)
		return NULL;
	for (i = slot_hash(id, s->slots_cap); s->slots[i].id != 0;
	     i = (i + 1) & (s->slots_cap - 1))
		if (s->slots[i].id == id)
			return &s->slots[i];
	if (!create)
		return NULL;
	s->nslots++;
	s->slots[i] = (struct slot){.id = id};
	return &s->slots[i];
}

/* Forgets a job (it ended): backward-shift deletion keeps probes whole. */
static void
slot_del(struct scheduler *s, int64_t id)
{
	struct slot *hit = slot_get(s, id, false);
	size_t i, j, mask = s->slots_cap - 1;

	if (hit == NULL)
		return;
	i = (size_t)(hit - s->slots);
	for (j = (i + 1) & mask; s->slots[j].id != 0; j = (j + 1) & mask) {
		size_t home = slot_hash(s->slots[j].id, s->slots_cap);

		/* Move j into the hole at i unless its home lies in (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && home <= i && home > j)) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	s->slots[i].id = 0;
	s->nslots--;
}

static bool
inflight_has(struct scheduler *s, int64_t id)
{
	struct slot *sl = slot_get(s, id, false);

	return sl != NULL && sl->inflight;
}

static void
inflight_add(struct scheduler *s, int64_t id)
{
	slot_get(s, id, true)->inflight = true;
}

/*
 * A call ended: the job is next due at the next multiple of the poll
 * interval, so that a backend's jobs fall due together and are polled
 * as one batch.
 */
static void
inflight_del(struct scheduler *s, const struct job_ref *j)
{
	struct slot *sl = slot_get(s, j->id, false);
	struct backend *be = backend_find(s->d, j->backend);
	double every = be != NULL ? be->poll_interval : 0;

	if (sl == NULL)
		return;
	sl->inflight = false;
	sl->due = every > 0 ? (floor(mono_s() / every) + 1) * every : 0;
}

/* Whether the job's backend wants it left alone for now. */
static bool
not_due(struct scheduler *s, const struct job_ref *j, const struct backend *be)
{
	struct slot *sl;

	if (be->poll_interval <= 0)
		return false;
	sl = slot_get(s, j->id, false);
	return sl != NULL && sl->due > mono_s();
}

/* --- what a job's end means for its trial --------------------------------- */

static void
trial_follow_job(struct scheduler *s, struct job_ref *j, enum job_state to,
		 const char *error, double now)
{
	struct store *st = s->d->store;
	char reason[256];
	double delay;

	if (job_state_terminal(to)) {
		/* The bill is final: ledger the rest, free the reservation. */
		j->ledgered =
		    meter_cost(s->d, j->id, j->sweep_id, j->cost, j->cost,
			       j->ledgered, j->reserved, "estimated", true);
		meter_release(s->d, j->id, j->sweep_id, j->reserved);
	}
	switch (to) {
	case JOB_SUCCEEDED:
		store_trial_set_state(st, j->trial_id, "succeeded", 0, NULL,
				      now);
		break;
	case JOB_FAILED:
	case JOB_LOST:
		if (j->attempt <= j->retries && !j->final &&
		    strcmp(j->sweep_state, "cancelled") != 0) {
			delay = fmin(RETRY_MAX_S,
				     RETRY_BASE_S * pow(2, j->attempt - 1));
			snprintf(reason, sizeof(reason),
				 "retry %d of %d in %.0f s after: %.180s",
				 j->attempt, j->retries, delay,
				 error ? error : job_state_name(to));
			store_trial_set_state(st, j->trial_id, "pending",
					      now + delay, reason, now);
			log_info("trial %lld: %s", (long long)j->trial_id,
				 reason);
		} else {
			store_trial_set_state(st, j->trial_id, "failed", 0,
					      NULL, now);
		}
		break;
	case JOB_CANCELLED:
		store_trial_set_state(st, j->trial_id, "cancelled", 0, NULL,
				      now);
		break;
	case JOB_PAUSED:
		store_trial_set_state(st, j->trial_id, "paused", 0, NULL, now);
		break;
	default:
		if (j->state == JOB_PAUSED || j->state == JOB_PAUSING)
			store_trial_set_state(st, j->trial_id, "running", 0,
					      NULL, now);
		break;
	}
}

/* Moves a job and its trial; an illegal move is logged and skipped. */
static int
move(struct scheduler *s, struct job_ref *j, enum job_state to,
     const struct store_job_change *c, const char *why)
{
	double now = now_wall();
	int rc;

	if (to == j->state) {
		if (c != NULL)
			return store_job_change(s->d->store, j->id, c, now);
		return 0;
	}
	rc = job_transition(s->d->store, j->id, j->state, to, c, why, now);
	if (rc == -EINVAL && c != NULL) {
		struct store_job_change rest = *c;

		rest.state = NULL;
		rest.event = NULL;
		return store_job_change(s->d->store, j->id, &rest, now);
	}
	if (rc != 0)
		return rc;
	trial_follow_job(s, j, to, why, now);
	j->state = to;
	if (job_state_terminal(to))
		slot_del(s, j->id);
	return 0;
}

/* --- polling -------------------------------------------------------------- */

static void
on_polled(void *arg, int rc, const struct backend_poll *p, const char *error)
{
	struct job_ref *j = arg;
	struct scheduler *s = j->s;
	struct store *st = s->d->store;
	struct store_job_change c = {.billed_seconds = -1};

	inflight_del(s, j);
	if (rc == -ECANCELED) { /* shutting down */
		ref_free(j);
		return;
	}
	if (rc != 0) {
		log_warnx("job %lld: poll: %s", (long long)j->id,
			  error ? error : strerror(-rc));
		if (rc == -ENOENT)
			move(s, j, JOB_LOST, NULL,
			     "the backend has no such job");
		ref_free(j);
		return;
	}
	for (size_t i = 0; i < p->nevents; i++) {
		const struct backend_event *e = &p->events[i];

		store_job_event_add(st, j->id,
				    &(struct store_event){
					.remote_id = e->remote_id,
					.created_at = e->created_at,
					.level = e->level,
					.type = e->type,
					.message = e->message,
					.data = e->data,
				    });
	}
	s->tick_rows += p->nmetrics;
	for (size_t i = 0; i < p->nmetrics; i++) {
		const struct backend_metric *m = &p->metrics[i];

		store_metric_add(st, j->id, m->step, m->name, m->value);
		if (j->objective_metric != NULL &&
		    strcmp(m->name, j->objective_metric) == 0)
			store_trial_objective(st, j->trial_id, m->value,
					      m->step, j->objective_max);
	}
	for (size_t i = 0; i < p->ncheckpoints; i++) {
		const struct backend_checkpoint *k = &p->checkpoints[i];

		store_checkpoint_add(st, j->id, k->step, k->remote_id, k->model,
				     k->metrics, now_wall());
	}
	c.provider_status = p->provider_status;
	c.error = p->error;
	c.fine_tuned_model = p->fine_tuned_model;
	c.billed_seconds = p->billed_seconds;
	c.cursor = p->cursor;
	if (p->cost_usd >= 0 || p->billed_seconds >= 0) {
		/* The provider's figure when it gives one, else time x rate. */
		double cost = p->cost_usd >= 0
				  ? p->cost_usd
				  : p->billed_seconds / 3600.0 * j->rate;

		j->ledgered = meter_cost(
		    s->d, j->id, j->sweep_id, j->cost, cost, j->ledgered,
		    j->reserved, p->cost_usd >= 0 ? "provider" : "estimated",
		    false);
		j->cost = cost;
	}
	/* A status we do not know is kept raw; the state stays. */
	move(s, j, p->state < JOB__COUNT ? p->state : j->state, &c, p->error);
	ref_free(j);
}

/* --- control actions ------------------------------------------------------ */

static void
on_controlled(void *arg, int rc, const char *error)
{
	struct job_ref *j = arg;
	struct scheduler *s = j->s;
	static const char *const verbs[] = {"cancel", "pause", "resume"};

	inflight_del(s, j);
	if (rc == -ECANCELED) {
		ref_free(j);
		return;
	}
	if (rc != 0) {
		log_warnx("job %lld: %s: %s", (long long)j->id,
			  verbs[j->action], error ? error : strerror(-rc));
	} else if (j->action != BACKEND_RESUME &&
		   backend_find(s->d, j->backend) != NULL) {
		/*
		 * Stopped: poll once more, so that the bill up to the stop
		 * (and the final state) comes from the backend.
		 */
		struct backend *be = backend_find(s->d, j->backend);

		inflight_add(s, j->id);
		be->ops->poll(be, j->remote_id, j->cursor, on_polled, j);
		return;
	} else if (j->action != BACKEND_RESUME) {
		move(s, j,
		     j->action == BACKEND_CANCEL ? JOB_CANCELLED : JOB_PAUSED,
		     NULL, NULL);
	} else {
		move(s, j, JOB_QUEUED, NULL, "resumed");
	}
	ref_free(j);
}

/* Starts a control call on a job we hold a reference to (taken over). */
static void
control(struct scheduler *s, struct job_ref *j, struct backend *be,
	enum backend_action action, const char *why)
{
	enum job_state via = action == BACKEND_CANCEL  ? JOB_CANCELLING
			     : action == BACKEND_PAUSE ? JOB_PAUSING
						       : j->state;

	if (via != j->state && move(s, j, via, NULL, why) != 0) {
		ref_free(j);
		return;
	}
	j->action = action;
	inflight_add(s, j->id);
	be->ops->control(be, j->remote_id, action, on_controlled, j);
}

/* --- submission ----------------------------------------------------------- */

static void
on_submitted(void *arg, int rc, const char *remote_id, const char *error)
{
	struct job_ref *j = arg;
	struct scheduler *s = j->s;
	struct store_job_change c = {.billed_seconds = -1};
	char held[400];

	inflight_del(s, j);
	if (rc == 0) {
		c.remote_id = remote_id;
		c.event = "submitted";
		if (store_job_change(s->d->store, j->id, &c, now_wall()) == 0)
			log_info("job %lld: submitted as %s", (long long)j->id,
				 remote_id);
	} else if (rc == -ECANCELED) {
		/* Shutting down: the restart finds it, or submits it. */
	} else if (rc == -EDQUOT) {
		/* Refused by a quota, so not created: it waits, intent kept,
		 * and goes when the backend's hold ends. */
		snprintf(held, sizeof(held), "held by the provider's quota: %s",
			 error ? error : "");
		c.error = error;
		c.event = held;
		store_job_change(s->d->store, j->id, &c, now_wall());
		log_info("job %lld: %s", (long long)j->id, held);
	} else if (rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -EAGAIN) {
		/* Sent, outcome unknown: find() settles it before any retry. */
		move(s, j, JOB_UNKNOWN, NULL, error);
	} else {
		/* Refused for what it is: trying it again would not help. */
		c.error = error;
		j->final = rc == -EINVAL;
		move(s, j, JOB_FAILED, &c, error ? error : strerror(-rc));
	}
	ref_free(j);
}

static const char *
spec_string(const cJSON *spec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Hands a job whose intent is committed to its backend (ref taken over). */
static void
submit(struct scheduler *s, struct job_ref *j, struct backend *be)
{
	cJSON *spec = cJSON_Parse(j->spec_json);
	cJSON *grader = cJSON_Parse(j->grader_json);
	cJSON *hps = cJSON_Parse(j->hps_json);
	struct backend_job bj = {
	    .intent_key = j->intent_key,
	    .model = j->model,
	    .training_file = spec_string(spec, "training_file"),
	    .validation_file = spec_string(spec, "validation_file"),
	    .grader_name = j->grader_name,
	    .grader = grader,
	    .hyperparameters = hps,
	    .has_seed = j->has_seed,
	    .seed = j->seed,
	    .sweep_id = j->sweep_id,
	    .trial_id = j->trial_id,
	    .sweep_name = j->sweep_name,
	};

	inflight_add(s, j->id);
	be->ops->submit(be, &bj, on_submitted, j);
	cJSON_Delete(spec);
	cJSON_Delete(grader);
	cJSON_Delete(hps);
}

/* After a crash: was the intent ever submitted?  Adopt, or submit now. */
static void
on_found(void *arg, int rc, const char *remote_id, const char *error)
{
	struct job_ref *j = arg;
	struct scheduler *s = j->s;
	struct backend *be = backend_find(s->d, j->backend);
	struct store_job_change c = {.billed_seconds = -1};

	inflight_del(s, j);
	if (rc == -ECANCELED) {
		ref_free(j);
		return;
	}
	if (rc == 0) {
		c.remote_id = remote_id;
		c.event = "found by its intent key; adopted";
		store_job_change(s->d->store, j->id, &c, now_wall());
		log_info("job %lld: found %s by intent key %s",
			 (long long)j->id, remote_id, j->intent_key);
		ref_free(j);
		return;
	}
	if (rc != -ENOENT || be == NULL) {
		log_warnx("job %lld: find: %s", (long long)j->id,
			  error ? error : strerror(-rc));
		ref_free(j);
		return;
	}
	if (j->state == JOB_CANCELLING ||
	    strcmp(j->sweep_state, "cancelled") == 0) {
		/* Never created, and no longer wanted: nothing to pay. */
		move(s, j, JOB_CANCELLED, NULL,
		     "cancelled before it was submitted");
		ref_free(j);
		return;
	}
	if (strcmp(j->sweep_state, "paused") == 0) {
		ref_free(j); /* submitted when the sweep resumes */
		return;
	}
	log_info("job %lld: intent %s was never submitted; submitting it",
		 (long long)j->id, j->intent_key);
	if (j->state == JOB_UNKNOWN &&
	    move(s, j, JOB_SUBMITTING, NULL, "not found; resubmitting") != 0) {
		ref_free(j);
		return;
	}
	submit(s, j, be);
}

/* --- the tick ------------------------------------------------------------- */

struct job_list {
	struct job_ref **items;
	size_t n, cap;
	struct scheduler *s;
};

static void
collect(const struct store_job_row *row, void *arg)
{
	struct job_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
	}
	l->items[l->n++] = ref_new(l->s, row);
}

/* A live job, unless its backend wants it left alone for now. */
static void
collect_due(const struct store_job_row *row, void *arg)
{
	struct job_list *l = arg;
	struct backend *be = backend_find(l->s->d, row->backend);
	struct slot *sl = slot_get(l->s, row->id, false);

	if (sl != NULL && be != NULL &&
	    (sl->inflight || (be->poll_interval > 0 && sl->due > mono_s())))
		return;
	collect(row, arg);
}

/* One live job: reconcile, enforce, poll.  Takes the ref over. */
static void
handle_job(struct scheduler *s, struct job_ref *j)
{
	struct backend *be = backend_find(s->d, j->backend);

	if (be == NULL || inflight_has(s, j->id) || not_due(s, j, be) ||
	    (j->remote_id == NULL && be->hold_until > now_wall() &&
	     j->state != JOB_CANCELLING &&
	     strcmp(j->sweep_state, "cancelled") != 0)) {
		ref_free(j);
		return;
	}
	if (j->remote_id == NULL) {
		inflight_add(s, j->id);
		be->ops->find(be, j->intent_key, on_found, j);
		return;
	}
	if (j->state != JOB_CANCELLING &&
	    strcmp(j->sweep_state, "cancelled") == 0) {
		control(s, j, be, BACKEND_CANCEL, "the sweep was cancelled");
		return;
	}
	if (j->state == JOB_CANCELLING) {
		control(s, j, be, BACKEND_CANCEL, NULL);
		return;
	}
	if (j->billed_seconds >
	    meter_max_hours(s->d, j->max_job_hours) * 3600) {
		char why[96];

		snprintf(why, sizeof(why), "ran past max_job_hours (%g h)",
			 meter_max_hours(s->d, j->max_job_hours));
		control(s, j, be, BACKEND_CANCEL, why);
		return;
	}
	if (j->state == JOB_RUNNING && (be->caps & BACKEND_CAN_PAUSE) &&
	    strcmp(j->sweep_state, "paused") == 0) {
		control(s, j, be, BACKEND_PAUSE, "the sweep was paused");
		return;
	}
	if (s->tick_rows >= TICK_ROWS) {
		/* The tick's batch is full: this job is polled next tick. */
		ref_free(j);
		return;
	}
	inflight_add(s, j->id);
	be->ops->poll(be, j->remote_id, j->cursor, on_polled, j);
}

/* Live jobs per backend (parallel to d->backends) and the trials chosen. */
struct admission {
	struct scheduler *s;
	int *backends;
	struct job_list chosen;
	double now;
	struct budget_job *live; /* live jobs, and those chosen this tick */
	size_t nlive, cap;
	bool blocked; /* the sweep being looked at waits */
	int64_t sweep_id;
};

/* The hold of a backend: trials wait, saying why; false when none. */
static bool
held(struct admission *a, struct backend *be, int64_t sweep_id)
{
	struct scheduler *s = a->s;
	size_t i = 0;
	char why[400];

	while (i < s->d->nbackends && s->d->backends[i] != be)
		i++;
	if (i < s->d->nbackends && !s->rec[i].done) {
		snprintf(why, sizeof(why),
			 "backend %s: waiting to list its jobs after the "
			 "start%s%s",
			 be->name, s->rec[i].error[0] ? "; the last try: " : "",
			 s->rec[i].error);
	} else if (be->hold_until > a->now) {
		char until[32];
		time_t t = (time_t)be->hold_until;
		struct tm tm;

		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&t, &tm));
		snprintf(why, sizeof(why),
			 "backend %s holds submissions until %s: %s", be->name,
			 until, be->hold_reason);
	} else {
		if (be->hold_until > 0) {
			log_info("backend %s: the hold on submissions ended",
				 be->name);
			be->hold_until = 0;
			be->hold_reason[0] = '\0';
		}
		return false;
	}
	store_trials_pending_reason(s->d->store, sweep_id, why, a->now);
	return true;
}

static int *
backend_count(struct admission *a, const char *name)
{
	for (size_t i = 0; i < a->s->d->nbackends; i++)
		if (strcmp(a->s->d->backends[i]->name, name) == 0)
			return &a->backends[i];
	return NULL;
}

static void
count_live(int64_t sweep_id, const char *backend, int n, void *arg)
{
	int *b = backend_count(arg, backend);

	(void)sweep_id;
	if (b != NULL)
		*b += n;
}

/*
 * A pending trial of the sweep being looked at, in order: it starts when
 * it is priced and its worst case fits every budget; otherwise it and
 * the rest of the sweep wait, with the reason on the trial.
 */
static void
choose(const struct store_job_row *t, void *arg)
{
	struct admission *a = arg;
	struct daemon *d = a->s->d;
	cJSON *grader;
	double rate, worst;
	char why[256];
	int rc;

	if (a->blocked)
		return;
	grader = cJSON_Parse(t->grader_json);
	rc = meter_price(d, t->backend, t->model, grader,
			 meter_max_hours(d, t->max_job_hours),
			 t->allow_unpriced, &rate, &worst, why, sizeof(why));
	cJSON_Delete(grader);
	if (rc == 0 && !budget_admit(d->budget, t->sweep_id, worst, a->live,
				     a->nlive, a->now, why, sizeof(why)))
		rc = -ENOSPC;
	if (rc != 0) {
		a->blocked = true;
		store_trial_set_state(d->store, t->trial_id, "pending", 0, why,
				      a->now);
		return;
	}
	collect(t, &a->chosen);
	a->chosen.items[a->chosen.n - 1]->rate = rate;
	a->chosen.items[a->chosen.n - 1]->reserved = worst;
	if (a->nlive == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->live = xrealloc(a->live, a->cap * sizeof(*a->live));
	}
	a->live[a->nlive++] = (struct budget_job){
	    .sweep_id = t->sweep_id, .rate = rate, .worst = worst};
}

/*
 * A runnable sweep, in admission order: it may start as many trials as
 * both its own limit and its backend's leave room for.
 */
static void
consider_sweep(int64_t sweep_id, const char *backend, int max_concurrent,
	       int live, void *arg)
{
	struct admission *a = arg;
	struct backend *be = backend_find(a->s->d, backend);
	int *bn = backend_count(a, backend);
	int room;

	if (be == NULL || bn == NULL || held(a, be, sweep_id))
		return;
	room = (int)be->max_concurrent - *bn;
	if (max_concurrent > 0 && max_concurrent - live < room)
		room = max_concurrent - live;
	if (room <= 0)
		return;
	a->chosen.s = a->s;
	{
		size_t before = a->chosen.n;

		a->blocked = false;
		store_trials_admissible(a->s->d->store, sweep_id, a->now, room,
					choose, a);
		*bn += (int)(a->chosen.n - before);
	}
}

static void
new_intent_key(char out[48])
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom");
	memcpy(out, "rftd-", 5);
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 5 + 2 * i, 3, "%02x", r[i]);
}

static void
admit(struct scheduler *s, struct budget_job *live, size_t nlive)
{
	struct daemon *d = s->d;
	struct admission a = {.s = s,
			      .now = now_wall(),
			      .live = live,
			      .nlive = nlive,
			      .cap = nlive};

	a.backends = xcalloc(d->nbackends ? d->nbackends : 1, sizeof(int));
	if (store_active_counts(d->store, count_live, &a) == 0)
		store_sweeps_runnable(d->store, consider_sweep, &a);
	for (size_t i = 0; i < a.chosen.n; i++) {
		struct job_ref *j = a.chosen.items[i];
		struct backend *be = backend_find(d, j->backend);
		char key[48];
		int rc;

		new_intent_key(key);
		char basis[160];
		struct store_price price = {.sweep_id = j->sweep_id,
					    .rate = j->rate,
					    .reserved = j->reserved,
					    .basis = basis};

		snprintf(basis, sizeof(basis),
			 "worst case: $%.2f/h x %g h max_job_hours", j->rate,
			 meter_max_hours(d, j->max_job_hours));
		rc = store_job_create(d->store, j->trial_id, j->backend, key,
				      (be->caps & BACKEND_SIMULATED) != 0,
				      &price, now_wall(), &j->id, &j->attempt);
		if (rc != 0) {
			ref_free(j);
			continue;
		}
		j->intent_key = xstrdup(key);
		j->state = JOB_SUBMITTING;
		log_info("job %lld: trial %lld attempt %d on %s (intent %s)",
			 (long long)j->id, (long long)j->trial_id, j->attempt,
			 j->backend, key);
		submit(s, j, be);
	}
	free(a.chosen.items);
	free(a.backends);
	free(a.live);
}

/* --- start-up reconciliation: jobs at the provider the store lacks -------- */

struct listing {
	struct scheduler *s;
	size_t index; /* in d->backends */
	int adopted;
};

static void
on_owned(void *arg, const struct backend_owned *o)
{
	struct listing *l = arg;
	struct daemon *d = l->s->d;
	struct backend *be = d->backends[l->index];
	double rate = 0, worst = 0;
	char why[256], basis[160];
	int64_t job_id = 0;
	int rc;

	if (o->trial_id <= 0) {
		log_warnx("backend %s: job %s carries intent %s but no trial; "
			  "not adopted",
			  be->name, o->remote_id, o->intent_key);
		return;
	}
	meter_price(d, be->name, o->model ? o->model : "", NULL,
		    meter_max_hours(d, 0), true, &rate, &worst, why,
		    sizeof(why));
	snprintf(basis, sizeof(basis),
		 "adopted: $%.2f/h x %g h default_max_job_hours", rate,
		 meter_max_hours(d, 0));
	rc = store_job_adopt(d->store, o->trial_id, be->name, o->intent_key,
			     o->remote_id,
			     &(struct store_price){.sweep_id = o->sweep_id,
						   .rate = rate,
						   .reserved = worst,
						   .basis = basis},
			     now_wall(), &job_id);
	if (rc == 0) {
		l->adopted++;
		log_warnx("backend %s: job %s (intent %s, trial %lld) was not "
			  "in the store; adopted as job %lld, not submitted "
			  "again",
			  be->name, o->remote_id, o->intent_key,
			  (long long)o->trial_id, (long long)job_id);
	} else if (rc == -ENOENT) {
		log_warnx("backend %s: job %s carries intent %s of trial %lld, "
			  "which this store does not have; not adopted (it "
			  "runs, and bills, until cancelled at the provider)",
			  be->name, o->remote_id, o->intent_key,
			  (long long)o->trial_id);
	}
}

static void
on_listed(void *arg, int rc, const char *error)
{
	struct listing *l = arg;
	struct scheduler *s = l->s;

	if (s->closing || rc == -ECANCELED) {
		free(l);
		return;
	}
	s->rec[l->index].listing = false;
	if (rc == 0) {
		s->rec[l->index].done = true;
		log_info("backend %s: live jobs listed; %d adopted",
			 s->d->backends[l->index]->name, l->adopted);
	} else {
		s->rec[l->index].retry_at = mono_s() + 10;
		snprintf(s->rec[l->index].error, sizeof(s->rec[l->index].error),
			 "%s", error ? error : strerror(-rc));
		log_warnx("backend %s: cannot list its jobs (%s); submissions "
			  "wait, next try in 10 s",
			  s->d->backends[l->index]->name,
			  error ? error : strerror(-rc));
	}
	free(l);
}

/* Lists each backend's live jobs once, before anything is submitted. */
static void
reconcile(struct scheduler *s)
{
	for (size_t i = 0; i < s->d->nbackends; i++) {
		struct reconcile *r = &s->rec[i];
		struct backend *be = s->d->backends[i];
		struct listing *l;

		if (r->done || r->listing || r->retry_at > mono_s())
			continue;
		r->listing = true;
		l = xcalloc(1, sizeof(*l));
		l->s = s;
		l->index = i;
		be->ops->list_owned(be, on_owned, on_listed, l);
	}
}

static void
tick(uv_timer_t *t)
{
	struct scheduler *s = t->data;
	struct daemon *d = s->d;
	struct job_list live = {.s = s};

	s->tick_rows = 0;
	reconcile(s);
	if (store_jobs_active(d->store, collect_due, &live) == 0) {
		/* Polls of in-process backends answer at once: one commit. */
		bool tx = store_begin(d->store) == 0;

		for (size_t i = 0; i < live.n; i++)
			handle_job(s, live.items[i]);
		if (tx)
			store_commit(d->store);
	} else {
		for (size_t i = 0; i < live.n; i++)
			ref_free(live.items[i]);
	}
	free(live.items);
	{
		/* The meter, then admission, on the jobs as they are now. */
		struct budget_job *jobs;
		size_t n = meter_live(d, &jobs);

		meter_enforce(d, jobs, n);
		if (!d->stopping)
			admit(s, jobs, n); /* takes `jobs` over */
		else
			free(jobs);
	}
	store_sweeps_refresh(d->store, now_wall());
	s->last_tick_ns = now_mono_ns();
}

uint64_t
scheduler_last_tick_ns(const struct scheduler *s)
{
	return s->last_tick_ns;
}

struct scheduler *
scheduler_new(struct daemon *d)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));

	s->d = d;
	s->rec = xcalloc(d->nbackends ? d->nbackends : 1, sizeof(*s->rec));
	uv_timer_init(&d->loop, &s->tick_timer);
	s->tick_timer.data = s;
	return s;
}

void
scheduler_configure(struct scheduler *s, unsigned int tick_ms)
{
	/* A new configuration (a new key, say) deserves a try at once. */
	for (size_t i = 0; i < s->d->nbackends; i++)
		s->rec[i].retry_at = 0;
	uv_timer_start(&s->tick_timer, tick, 0, tick_ms);
}

void
scheduler_kick(struct scheduler *s)
{
	tick(&s->tick_timer);
}

static void
on_closed(uv_handle_t *h)
{
	struct scheduler *s = h->data;

	free(s->slots);
	free(s->rec);
	free(s);
}

void
scheduler_close(struct scheduler *s)
{
	if (s == NULL || s->closing)
		return;
	s->closing = true;
	uv_timer_stop(&s->tick_timer);
	uv_close((uv_handle_t *)&s->tick_timer, on_closed);
}

/* --- control actions from rftctl ------------------------------------------ */

struct lookup {
	struct scheduler *s;
	struct job_ref *ref;
};

static void
take_ref(const struct store_job_row *row, void *arg)
{
	struct lookup *l = arg;

	l->ref = ref_new(l->s, row);
}

int
scheduler_job_action(struct scheduler *s, int64_t job_id,
		     enum backend_action action, const char *why, char *err,
		     size_t errlen)
{
	struct lookup l = {.s = s};
	struct backend *be;
	struct job_ref *j;
	int rc = store_job_get(s->d->store, job_id, take_ref, &l);

	if (rc != 0) {
		snprintf(err, errlen,
			 rc == -ENOENT ? "no job %lld" : "cannot read job %lld",
			 (long long)job_id);
		return rc;
	}
	j = l.ref;
	be = backend_find(s->d, j->backend);
	if (job_state_terminal(j->state)) {
		snprintf(err, errlen, "job %lld has ended (%s)",
			 (long long)job_id, job_state_name(j->state));
		rc = -EALREADY;
	} else if (be == NULL) {
		snprintf(err, errlen, "job %lld: backend %s is not configured",
			 (long long)job_id, j->backend);
		rc = -ENOENT;
	} else if (inflight_has(s, j->id) ||
		   (j->remote_id == NULL && action != BACKEND_CANCEL)) {
		snprintf(err, errlen,
			 "job %lld is being submitted or changed; try again",
			 (long long)job_id);
		rc = -EAGAIN;
	} else if (action != BACKEND_CANCEL &&
		   !(be->caps & BACKEND_CAN_PAUSE)) {
		snprintf(err, errlen, "backend %s cannot pause jobs",
			 j->backend);
		rc = -EOPNOTSUPP;
	} else if (action == BACKEND_PAUSE && j->state != JOB_RUNNING) {
		snprintf(err, errlen,
			 "job %lld is %s; only a running job can be paused",
			 (long long)job_id, job_state_name(j->state));
		rc = -EALREADY;
	} else if (action == BACKEND_RESUME && j->state != JOB_PAUSED) {
		snprintf(err, errlen, "job %lld is %s, not paused",
			 (long long)job_id, job_state_name(j->state));
		rc = -EALREADY;
	} else if (action == BACKEND_CANCEL && j->state == JOB_CANCELLING) {
		snprintf(err, errlen, "job %lld is already being cancelled",
			 (long long)job_id);
		rc = -EALREADY;
	}
	if (rc != 0) {
		ref_free(j);
		return rc;
	}
	if (why == NULL)
		why = action == BACKEND_CANCEL	? "cancelled by the user"
		      : action == BACKEND_PAUSE ? "paused by the user"
						: "resumed by the user";
	if (j->remote_id == NULL) {
		/* Not created yet, or not known to be: the next tick looks it
		 * up by its intent key, and cancels it or ends it. */
		rc = move(s, j, JOB_CANCELLING, NULL, why);
		ref_free(j);
		if (rc != 0)
			snprintf(err, errlen, "job %lld changed; try again",
				 (long long)job_id);
		return rc;
	}
	control(s, j, be, action, why);
	return 0;
}
