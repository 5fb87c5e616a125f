/*
 * The scheduler (see scheduler.h): when to poll, find, submit and stop.
 * What each outcome means is the lifecycle's (lifecycle.h); this file
 * only decides when to ask and carries out the steps it is given.
 */
#include "scheduler.h"

#include "config.h"
#include "daemon.h"
#include "early.h"
#include "lifecycle.h"
#include "log.h"
#include "meter.h"
#include "notifier.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define ADMIT_CHUNK   256   /* jobs created per tick at most; the rest next */
#define RETRY_BASE_S  1	    /* first retry delay; doubles per attempt */
#define RETRY_MAX_S   300   /* the longest retry delay */
#define TICK_ROWS     50000 /* metric rows ingested per tick at most */
#define CHECKPOINT_MS 1000  /* how often the store's log is copied back */
#define PAGE_JOBS     64    /* live jobs read at a time by a tick */
/* The longest a tick holds the loop at a time, give or take a job's turn. */
#define SLICE_NS 3000000

/*
 * What the scheduler remembers of a live job between ticks.  A stop may
 * go out while a poll is under way (it must not wait for one); any other
 * call waits until the job has none.
 */
struct slot {
	int64_t id;	      /* 0: free */
	unsigned int calls;   /* backend calls under way */
	bool controlling;     /* one of them is a cancel, pause or resume */
	bool replay;	      /* its turn again once its calls end */
	enum job_action owed; /* a cancel, pause or resume the next tick
				 sends (JOB_DO_NOTHING: none) */
	enum job_cause resume_cause; /* of an owed resume */
	enum job_state sent_in;	     /* a stop or pause went out in this state;
					JOB__COUNT: none */
	double due;		     /* monotonic seconds: not polled before */
	double deadline; /* monotonic seconds: max_job_hours; 0: none */
	char *answer;	 /* a create's answer not yet recorded */
};

/* Start-up reconciliation of a backend: its live jobs listed first. */
struct reconcile {
	bool done;		 /* orphans adopted; submissions may start */
	bool listing;		 /* list_owned() under way */
	double retry_at;	 /* monotonic seconds, after a failed listing */
	char error[200];	 /* why the last listing failed */
	unsigned int unrecorded; /* created jobs whose answer is not stored */
};

/* The store refuses writes (a full disk, an I/O error). */
struct fault {
	bool on;
	double since; /* wall clock */
	char why[256];
};

/* The last few durations of something, in microseconds. */
struct durations {
	uint64_t count; /* since the start */
	uint32_t us[TICK_HISTORY];
};

/* The tick under way: its pass over the live jobs. */
struct pass {
	bool on;	   /* a tick is under way */
	bool turning;	   /* its pass over the live jobs is */
	bool again;	   /* another was asked for meanwhile */
	bool whole;	   /* not cut into slices */
	bool wrapped;	   /* the pass went round to the lowest ids */
	int64_t start;	   /* the pass began after this job id */
	int64_t after;	   /* and has reached this one */
	uint64_t busy_ns;  /* the time its slices held the loop */
	uint64_t began_ns; /* monotonic: when it began */
};

/* A few ids, without repeats. */
struct idset {
	int64_t *ids;
	size_t n, cap;
};

struct scheduler {
	struct daemon *d;
	struct lifecycle lc;
	uv_timer_t tick_timer;	   /* the periodic tick */
	uv_timer_t deadline_timer; /* the next job to reach max_job_hours */
	/* The next slice of the tick under way: an idle handle runs once
	 * per loop iteration, after that iteration's I/O (a 0 ms timer
	 * started from a timer would run before any). */
	uv_idle_t slice;
	/* Checkpoints of the store's log, on a thread of the pool. */
	struct {
		uv_timer_t timer;
		uv_work_t work;
		struct store_checkpointer *c;
		bool running;
		int left;     /* frames the last one could not copy, or -EIO */
		bool failing; /* the last one failed (said once) */
	} ckpt;
	struct pass pass;
	int64_t resume_after; /* where the next pass begins (a job id) */
	bool admit_more;      /* the last admission left more to start */
	double deadline_at;   /* monotonic seconds it is set for; 0 */
	struct slot *slots;   /* open addressing by job id */
	size_t nslots, slots_cap;
	struct reconcile *rec; /* parallel to d->backends */
	struct fault fault;
	bool round_open;	/* a backend's round holds a transaction */
	int closing;		/* handles still to close */
	uint64_t last_tick_ns;	/* when the last tick finished */
	struct durations ticks; /* how long each tick worked, all slices */
	struct durations holds; /* how long each slice held the loop */
	size_t tick_rows;	/* metric rows ingested in this tick */
	/* Sweeps with news for their early-stopping rule (all: every one,
	 * as after a start), and those whose pending trials the last
	 * admission could not start (a budget, a price). */
	struct {
		struct idset news, starved;
		bool all;
	} early;
};

/* A backend call under way about a job. */
struct call {
	struct scheduler *s;
	struct job *job;
	enum job_action action;
};

/* --- what the scheduler remembers of jobs --------------------------------- */

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
	s->slots[i] = (struct slot){.id = id, .sent_in = JOB__COUNT};
	return &s->slots[i];
}

/* Forgets a job (it ended): backward-shift deletion keeps probes whole. */
static void
slot_del(struct scheduler *s, int64_t id)
{
	struct slot *hit = slot_get(s, id, false);
	size_t i, j, mask = s->slots_cap - 1;

	if (hit == NULL || hit->answer != NULL)
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

static struct reconcile *
rec_of(struct scheduler *s, const char *backend)
{
	for (size_t i = 0; i < s->d->nbackends; i++)
		if (strcmp(s->d->backends[i]->name, backend) == 0)
			return &s->rec[i];
	return NULL;
}

/* --- the store's health --------------------------------------------------- */

/*
 * A write failed: work that writes waits; one log line per change.  A
 * failed unit of writes left memory as it was (lifecycle.h).
 */
static void
fault_begin(struct scheduler *s)
{
	const char *why = store_last_error(s->d->store);

	if (s->fault.on)
		return;
	s->fault.on = true;
	s->fault.since = now_wall();
	snprintf(s->fault.why, sizeof(s->fault.why), "%s",
		 why[0] ? why : "a write failed");
	log_warnx("store: writes fail (%s); polls and submissions wait until "
		  "one succeeds, budgets stay enforced",
		  s->fault.why);
}

/*
 * Commits the transaction a tick opened.  When that fails, its units'
 * effects on the spend held in memory go too: it is read again.
 */
static bool
commit(struct scheduler *s)
{
	if (store_commit(s->d->store) == 0) {
		lifecycle_settle(&s->lc, true);
		return true;
	}
	lifecycle_settle(&s->lc, false);
	meter_resync(s->d);
	fault_begin(s);
	return false;
}

void
scheduler_round(struct scheduler *s, bool begin)
{
	if (begin) {
		s->round_open = !s->fault.on &&
				!store_in_transaction(s->d->store) &&
				store_begin(s->d->store) == 0;
	} else if (s->round_open) {
		s->round_open = false;
		commit(s);
	}
}

/* Whether writes go through (again); false while they still fail. */
static bool
fault_over(struct scheduler *s)
{
	char why[256];

	if (!s->fault.on)
		return true;
	if (store_probe(s->d->store, why, sizeof(why)) != 0) {
		snprintf(s->fault.why, sizeof(s->fault.why), "%s", why);
		return false;
	}
	log_info("store: writes succeed again after %.0f s; work resumes",
		 now_wall() - s->fault.since);
	s->fault.on = false;
	return true;
}

bool
scheduler_backend_waits(const struct scheduler *s, const struct backend *be,
			char *why, size_t len)
{
	for (size_t i = 0; i < s->d->nbackends; i++) {
		if (s->d->backends[i] != be)
			continue;
		if (s->rec[i].unrecorded > 0) {
			snprintf(why, len,
				 "%u created job%s whose answer could not be "
				 "recorded yet",
				 s->rec[i].unrecorded,
				 s->rec[i].unrecorded > 1 ? "s" : "");
			return true;
		}
		if (!s->rec[i].done) {
			snprintf(why, len,
				 "its live jobs are not listed yet after the "
				 "start%s%s",
				 s->rec[i].error[0] ? "; the last try: " : "",
				 s->rec[i].error);
			return true;
		}
	}
	return false;
}

bool
scheduler_store_fault(const struct scheduler *s, double *since, char *why,
		      size_t len)
{
	if (!s->fault.on)
		return false;
	*since = s->fault.since;
	snprintf(why, len, "%s", s->fault.why);
	return true;
}

/* --- running the machine -------------------------------------------------- */

static void carry_out(struct scheduler *s, struct job **jp,
		      enum job_action then);

/* The job's row again, or NULL. */
static void
take_row(const struct store_job_row *row, void *arg)
{
	*(struct job **)arg = job_from_row(row);
}

static struct job *
reload(struct scheduler *s, int64_t id)
{
	struct job *j = NULL;

	store_job_get(s->d->store, id, take_row, &j);
	return j;
}

/*
 * Runs an event through the machine and carries out its step.  Takes
 * *jp over when a call starts (then *jp is NULL); may replace it with
 * the job read again.  A stop that cannot be recorded is sent anyway:
 * it saves money, and a later poll records its outcome.
 */
static struct job_step
run(struct scheduler *s, struct job **jp, enum job_event ev,
    const struct job_input *in)
{
	struct job_step want = job_decide(*jp, ev, in);
	struct job_step step = job_fsm(&s->lc, *jp, ev, in, now_wall());

	if (step.rc == -ESTALE) {
		/* Changed meanwhile (a user's stop while a call ran). */
		struct job *fresh = reload(s, (*jp)->id);

		if (fresh != NULL) {
			job_free(*jp);
			*jp = fresh;
			want = job_decide(*jp, ev, in);
			step = job_fsm(&s->lc, *jp, ev, in, now_wall());
		}
	}
	if (step.rc == -EIO && store_failing(s->d->store)) {
		fault_begin(s);
		if (ev == JOB_EV_STOP || ev == JOB_EV_PAUSE)
			step.then = want.then;
	} else if (step.rc == -EIO) {
		/* Not the store's health: this job's data would not fit. */
		log_warnx("job %lld: %s cannot be recorded (%s); the job is "
			  "left as it was",
			  (long long)(*jp)->id, job_event_name(ev),
			  store_last_error(s->d->store));
		step.then = JOB_DO_NOTHING;
	}
	if (step.rc == 0 && job_state_terminal((*jp)->state))
		slot_del(s, (*jp)->id);
	if (step.rc == 0 || step.rc == -EIO)
		carry_out(s, jp, step.then);
	return step;
}

/* The job's turn again, read from the store, once its call ended. */
static void
after_call(struct scheduler *s, int64_t id)
{
	struct slot *sl = slot_get(s, id, false);
	struct job *j;

	if (sl == NULL || sl->calls > 0 || s->closing || s->fault.on)
		return;
	if (sl->replay) {
		struct backend *be;

		sl->replay = false;
		j = reload(s, id);
		be = j != NULL ? backend_find(s->d, j->backend) : NULL;
		sl = slot_get(s, id, false);
		if (be != NULL && sl != NULL && job_state_active(j->state))
			run(s, &j, JOB_EV_TURN,
			    &(struct job_input){
				.can_pause =
				    backend_can_pause(be, j->remote_id),
				.control_sent = sl->sent_in == j->state});
		job_free(j);
	}
}

/*
 * A call ended: the job is next due at the next multiple of the poll
 * interval, so that a backend's jobs fall due together and are polled
 * as one batch.
 */
static bool
is_control(enum job_action a)
{
	return a == JOB_DO_CANCEL || a == JOB_DO_PAUSE || a == JOB_DO_RESUME;
}

static void
call_ended(struct scheduler *s, const struct call *c)
{
	struct slot *sl = slot_get(s, c->job->id, false);
	struct backend *be = backend_find(s->d, c->job->backend);
	double every = be != NULL ? be->poll_interval : 0;

	if (sl == NULL)
		return;
	if (sl->calls > 0)
		sl->calls--;
	if (is_control(c->action))
		sl->controlling = false;
	sl->due = every > 0 ? (floor(now_mono_s() / every) + 1) * every : 0;
}

static struct call *
call_new(struct scheduler *s, struct job **jp, enum job_action action)
{
	struct call *c = xcalloc(1, sizeof(*c));
	struct slot *sl;

	c->s = s;
	c->job = *jp;
	c->action = action;
	*jp = NULL;
	sl = slot_get(s, c->job->id, true);
	sl->calls++;
	if (is_control(action))
		sl->controlling = true;
	return c;
}

static void
call_free(struct call *c)
{
	job_free(c->job);
	free(c);
}

/* --- deadlines: max_job_hours --------------------------------------------- */

static void on_deadline(uv_timer_t *t);

static void
arm_deadline(struct scheduler *s, double at)
{
	double now = now_mono_s();

	if (s->closing || (s->deadline_at > 0 && s->deadline_at <= at))
		return;
	s->deadline_at = at;
	uv_timer_start(&s->deadline_timer, on_deadline,
		       at > now ? (uint64_t)ceil((at - now) * 1000) : 0, 0);
}

/* A job stops at max_job_hours: a stop when it is there. */
static void
stop_at_deadline(struct scheduler *s, struct job **jp)
{
	struct backend *be = backend_find(s->d, (*jp)->backend);
	double hours = meter_max_hours(s->d, (*jp)->max_job_hours);
	char why[96];

	snprintf(why, sizeof(why), "reached max_job_hours (%g h)", hours);
	run(s, jp, JOB_EV_STOP,
	    &(struct job_input){.cause = JOB_BY_DEADLINE,
				.why = why,
				.can_pause =
				    backend_can_pause(be, (*jp)->remote_id)});
}

/*
 * After a poll: when does the job reach max_job_hours, in real time?  Its
 * backend bills `time_scale` seconds per real second while it runs.
 */
static void
plan_deadline(struct scheduler *s, struct job **jp)
{
	struct job *j = *jp;
	struct backend *be = backend_find(s->d, j->backend);
	struct slot *sl = slot_get(s, j->id, false);
	double left =
	    meter_max_hours(s->d, j->max_job_hours) * 3600 - j->billed_seconds;
	double scale = be != NULL && be->time_scale > 0 ? be->time_scale : 1;

	if (sl == NULL)
		return;
	sl->deadline = 0;
	if (j->state != JOB_RUNNING)
		return;
	if (left <= 0) {
		stop_at_deadline(s, jp);
		return;
	}
	sl->deadline = now_mono_s() + left / scale;
	arm_deadline(s, sl->deadline);
}

static void
on_deadline(uv_timer_t *t)
{
	struct scheduler *s = t->data;
	double now = now_mono_s(), next = 0;
	int64_t *due = NULL;
	size_t n = 0, cap = 0;

	s->deadline_at = 0;
	for (size_t i = 0; i < s->slots_cap; i++) {
		struct slot *sl = &s->slots[i];

		if (sl->id == 0 || sl->deadline <= 0)
			continue;
		if (sl->deadline > now) {
			if (next == 0 || sl->deadline < next)
				next = sl->deadline;
		} else {
			sl->deadline = 0;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				due = xrealloc(due, cap * sizeof(*due));
			}
			due[n++] = sl->id;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = reload(s, due[i]);

		if (j != NULL && j->state == JOB_RUNNING)
			stop_at_deadline(s, &j);
		job_free(j);
	}
	free(due);
	if (next > 0)
		arm_deadline(s, next);
}

/* --- early stopping: the rules decide, the machine carries out ----------- */

static bool
idset_has(const struct idset *set, int64_t id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->ids[i] == id)
			return true;
	return false;
}

static void
idset_add(struct idset *set, int64_t id)
{
	if (idset_has(set, id))
		return;
	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 16;
		set->ids = xrealloc(set->ids, set->cap * sizeof(*set->ids));
	}
	set->ids[set->n++] = id;
}

/* Sweep `id` has news (metrics, a job's move) for its rule, if it has one. */
static void
early_news(struct scheduler *s, int64_t id)
{
	idset_add(&s->early.news, id);
}

static bool
early_can_pause(void *arg, int64_t job_id)
{
	struct scheduler *s = arg;
	struct job *j = reload(s, job_id);
	struct backend *be = j ? backend_find(s->d, j->backend) : NULL;
	bool can = be != NULL && backend_can_pause(be, j->remote_id);

	job_free(j);
	return can;
}

static void
early_act(void *arg, int64_t job_id, int ev, const char *why)
{
	struct scheduler *s = arg;
	char err[256];
	int rc = scheduler_job_event(s, job_id, (enum job_event)ev,
				     JOB_BY_EARLY_STOP, why, err, sizeof(err));

	if (rc != 0 && rc != -EALREADY)
		log_warnx("early stopping: %s", err);
}

struct early_sweeps {
	struct scheduler *s;
	int64_t *ids;
	char **rules;
	size_t n, cap;
};

static void
take_early_sweep(int64_t sweep_id, const char *json, void *arg)
{
	struct early_sweeps *es = arg;
	struct scheduler *s = es->s;

	if (!(s->early.all || idset_has(&s->early.news, sweep_id)) ||
	    json == NULL)
		return;
	if (es->n == es->cap) {
		es->cap = es->cap ? 2 * es->cap : 8;
		es->ids = xrealloc(es->ids, es->cap * sizeof(*es->ids));
		es->rules = xrealloc(es->rules, es->cap * sizeof(*es->rules));
	}
	es->ids[es->n] = sweep_id;
	es->rules[es->n++] = xstrdup(json);
}

/*
 * Lets the rule of each sweep with news judge what its trials reported.
 * News that could not be looked at stays for the next tick.
 */
static void
early_reviews(struct scheduler *s)
{
	struct early_sweeps es = {.s = s};
	struct early_ops ops = {early_can_pause, early_act, s};
	bool tx, ok;
	int rc = 0;

	if (s->early.news.n == 0 && !s->early.all)
		return;
	if (store_sweeps_early(s->d->store, take_early_sweep, &es) != 0) {
		fault_begin(s);
		return;
	}
	tx = store_begin(s->d->store) == 0;
	for (size_t i = 0; i < es.n; i++) {
		struct early_config c;
		cJSON *json = cJSON_Parse(es.rules[i]);

		if (early_config_from_json(json, &c) != 0)
			log_warnx("sweep %lld: its early-stopping rule cannot "
				  "be read; no trial is judged",
				  (long long)es.ids[i]);
		else if (rc == 0)
			rc = early_review(
			    s->d->store, es.ids[i], &c, &ops,
			    idset_has(&s->early.starved, es.ids[i]),
			    now_wall());
		cJSON_Delete(json);
		free(es.rules[i]);
	}
	ok = rc == 0;
	if (tx) {
		commit(s);
		ok = ok && !s->fault.on;
	}
	if (ok) {
		s->early.news.n = 0;
		s->early.all = false;
	} else if (store_failing(s->d->store)) {
		fault_begin(s);
	}
	free(es.ids);
	free(es.rules);
}

/* --- the backend's answers ------------------------------------------------ */

static void
on_polled(void *arg, int rc, const struct backend_poll *p, const char *error)
{
	struct call *c = arg;
	struct scheduler *s = c->s;
	int64_t id = c->job->id;

	call_ended(s, c);
	if (rc == -ECANCELED || s->closing) { /* shutting down */
		call_free(c);
		return;
	}
	if (rc != 0) {
		log_warnx("job %lld: poll: %s", (long long)id,
			  error ? error : strerror(-rc));
		if (rc == -ENOENT)
			run(s, &c->job, JOB_EV_GONE, NULL);
	} else {
		enum job_state was = c->job->state;
		int64_t sweep_id = c->job->sweep_id;
		struct job_step step = run(s, &c->job, JOB_EV_POLLED,
					   &(struct job_input){.poll = p});

		s->tick_rows += p->nmetrics;
		if (step.rc == 0 && (p->nmetrics > 0 || step.to != was))
			early_news(s, sweep_id);
		if (step.rc == 0 && c->job != NULL)
			plan_deadline(s, &c->job);
	}
	call_free(c);
	after_call(s, id);
}

static void
on_controlled(void *arg, int rc, const char *error)
{
	struct call *c = arg;
	struct scheduler *s = c->s;
	struct slot *sl;
	int64_t id = c->job->id;

	call_ended(s, c);
	if (rc == -ECANCELED || s->closing) {
		call_free(c);
		return;
	}
	if (rc == 0 || rc == -EALREADY || rc == -EINVAL) {
		/* Done, or refused for the job's state (it ended, say): the
		 * poll that follows says where it stands. */
		if (rc != 0)
			log_info("job %lld: %s: %s", (long long)id,
				 job_action_name(c->action),
				 error ? error : strerror(-rc));
		run(s, &c->job, JOB_EV_CONTROLLED,
		    &(struct job_input){.done = c->action});
	} else if (rc == -ENOENT) {
		log_warnx("job %lld: %s: %s", (long long)id,
			  job_action_name(c->action),
			  error ? error : strerror(-rc));
		run(s, &c->job, JOB_EV_GONE, NULL);
	} else {
		/* Failed on the way: the next tick sends it again. */
		log_warnx("job %lld: %s: %s; trying again", (long long)id,
			  job_action_name(c->action),
			  error ? error : strerror(-rc));
		sl = slot_get(s, id, false);
		if (sl != NULL) {
			sl->sent_in = JOB__COUNT;
			sl->owed = c->action;
		}
	}
	call_free(c);
	after_call(s, id);
}

/* A create that was answered is never sent again: its answer is kept
 * until it is recorded, and the backend's submissions wait meanwhile. */
static void
keep_answer(struct scheduler *s, int64_t id, const char *backend,
	    const char *remote_id)
{
	struct slot *sl = slot_get(s, id, true);
	struct reconcile *r = rec_of(s, backend);

	if (sl->answer != NULL)
		return;
	sl->answer = xstrdup(remote_id);
	if (r != NULL)
		r->unrecorded++;
	log_warnx("job %lld: created as %s, but that could not be recorded "
		  "(%s); it is not sent again, and backend %s submits nothing "
		  "until it is recorded",
		  (long long)id, remote_id, store_last_error(s->d->store),
		  backend);
}

static void
answer_recorded(struct scheduler *s, int64_t id, const char *backend)
{
	struct slot *sl = slot_get(s, id, false);
	struct reconcile *r = rec_of(s, backend);

	if (sl == NULL || sl->answer == NULL)
		return;
	free(sl->answer);
	sl->answer = NULL;
	if (r != NULL && r->unrecorded > 0 && --r->unrecorded == 0)
		log_info("backend %s: answers recorded; submissions resume",
			 backend);
}

/* The cancel of a job made for an attempt that had ended. */
static void
on_stray_cancelled(void *arg, int rc, const char *error)
{
	char *remote_id = arg;

	if (rc != 0 && rc != -ECANCELED)
		log_warnx("cannot cancel %s at the provider (%s); cancel it "
			  "there by hand",
			  remote_id, error ? error : strerror(-rc));
	free(remote_id);
}

/*
 * The provider answered a create or a find with `remote_id`: recorded,
 * or kept in memory to be recorded later (and never asked again).  An id
 * another job holds fails this attempt, saying which; a job made for an
 * attempt that has ended here is cancelled at the provider.  Only a
 * backend that keeps its jobs in this store (the simulator) answers
 * inside a tick's transaction, so that its answer stands or falls with it.
 */
static void
answered(struct scheduler *s, struct job **jp, enum job_event ev,
	 const char *remote_id)
{
	int64_t id = (*jp)->id, owner = 0;
	char *backend = xstrdup((*jp)->backend);
	struct backend *be = backend_find(s->d, backend);
	bool kept = false, ended = false;
	char why[300];
	struct job_step step =
	    run(s, jp, ev, &(struct job_input){.remote_id = remote_id});

	if (step.rc == -EEXIST && *jp != NULL) {
		store_job_owner(s->d->store, backend, remote_id, &owner);
		snprintf(why, sizeof(why),
			 "the provider answered with job %s, which job %lld "
			 "already holds; this attempt is not sent again",
			 remote_id, (long long)owner);
		log_warnx("job %lld: %s", (long long)id, why);
		step = run(
		    s, jp, JOB_EV_DUPLICATE,
		    &(struct job_input){.remote_id = remote_id, .error = why});
	}
	if (step.rc == -EINVAL && *jp != NULL &&
	    job_state_terminal((*jp)->state)) {
		/* Made for an attempt that has ended: it bills for nothing. */
		log_warnx("job %lld: %s as %s after it ended; cancelling that "
			  "at the provider",
			  (long long)id,
			  ev == JOB_EV_FOUND ? "found" : "created", remote_id);
		if (be != NULL)
			be->ops->control(be, remote_id, BACKEND_CANCEL,
					 on_stray_cancelled,
					 xstrdup(remote_id));
	} else if (step.rc == -EINVAL) {
		log_warnx("job %lld: an answer %s that it cannot take; not "
			  "recorded",
			  (long long)id, remote_id);
	} else if (step.rc != 0) {
		kept = true; /* the store's to take later */
	}
	ended = step.rc == 0 && *jp != NULL && job_state_terminal((*jp)->state);
	if (kept) {
		keep_answer(s, id, backend, remote_id);
	} else {
		answer_recorded(s, id, backend);
		if (ended)
			slot_del(s, id);
	}
	free(backend);
}

static void
on_submitted(void *arg, int rc, const char *remote_id, const char *error)
{
	struct call *c = arg;
	struct scheduler *s = c->s;
	int64_t id = c->job->id;

	call_ended(s, c);
	if (rc == 0) {
		/* Even while shutting down: an answered create is kept. */
		answered(s, &c->job, JOB_EV_SUBMITTED, remote_id);
	} else if (rc == -ECANCELED || s->closing) {
		/* Shutting down: the restart finds it, or submits it. */
	} else if (rc == -EDQUOT) {
		/* Refused by a quota, so not created: it waits, intent kept,
		 * and goes when the backend's hold ends. */
		run(s, &c->job, JOB_EV_SUBMIT_HELD,
		    &(struct job_input){.error = error});
	} else if (rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -EAGAIN) {
		/* Sent, outcome unknown: find() settles it before any retry. */
		run(s, &c->job, JOB_EV_SUBMIT_UNKNOWN,
		    &(struct job_input){.error = error});
	} else {
		/* Refused for what it is: trying it again would not help. */
		run(s, &c->job, JOB_EV_REFUSED,
		    &(struct job_input){.error = error ? error : strerror(-rc),
					.final = rc == -EINVAL});
	}
	call_free(c);
	after_call(s, id);
}

/* After a crash: was the intent ever submitted?  Adopt, or submit now. */
static void
on_found(void *arg, int rc, const char *remote_id, const char *error)
{
	struct call *c = arg;
	struct scheduler *s = c->s;
	int64_t id = c->job->id;

	call_ended(s, c);
	if (rc == -ECANCELED || s->closing) {
		call_free(c);
		return;
	}
	if (rc == 0)
		answered(s, &c->job, JOB_EV_FOUND, remote_id);
	else if (rc == -ENOENT) {
		if (job_decide(c->job, JOB_EV_NOT_FOUND, NULL).then ==
		    JOB_DO_SUBMIT)
			log_info("job %lld: intent %s was never submitted; "
				 "submitting it",
				 (long long)id, c->job->intent_key);
		run(s, &c->job, JOB_EV_NOT_FOUND, NULL);
	} else
		log_warnx("job %lld: find: %s", (long long)id,
			  error ? error : strerror(-rc));
	call_free(c);
	after_call(s, id);
}

/* --- carrying out a step -------------------------------------------------- */

static const char *
spec_string(const cJSON *spec, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Hands a job whose intent is committed to its backend. */
static void
submit(struct scheduler *s, struct job **jp, struct backend *be)
{
	struct job *j = *jp;
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
	    .response_format =
		cJSON_GetObjectItemCaseSensitive(spec, "response_format"),
	    .has_seed = j->has_seed,
	    .seed = j->seed,
	    .sweep_id = j->sweep_id,
	    .trial_id = j->trial_id,
	    .attempt = j->attempt,
	    .sweep_name = j->sweep_name,
	};

	be->ops->submit(be, &bj, on_submitted, call_new(s, jp, JOB_DO_SUBMIT));
	cJSON_Delete(spec);
	cJSON_Delete(grader);
	cJSON_Delete(hps);
}

static void
carry_out(struct scheduler *s, struct job **jp, enum job_action then)
{
	struct job *j = *jp;
	struct backend *be = backend_find(s->d, j->backend);
	struct slot *sl;
	static const enum backend_action control[] = {
	    [JOB_DO_CANCEL] = BACKEND_CANCEL,
	    [JOB_DO_PAUSE] = BACKEND_PAUSE,
	    [JOB_DO_RESUME] = BACKEND_RESUME,
	};

	if (then == JOB_DO_NOTHING || be == NULL || s->closing)
		return;
	sl = slot_get(s, j->id, true);
	if (is_control(then) && sl->controlling) {
		sl->owed = then; /* the next tick sends it */
		return;
	}
	if (!is_control(then) && sl->calls > 0) {
		sl->replay = true; /* its turn again once the calls end */
		return;
	}
	switch (then) {
	case JOB_DO_SUBMIT:
		submit(s, jp, be);
		break;
	case JOB_DO_FIND:
		if (sl->answer != NULL) {
			/* The answer we hold says where it is. */
			char *answer = xstrdup(sl->answer);

			answered(s, jp, JOB_EV_FOUND, answer);
			free(answer);
			break;
		}
		be->ops->find(be, j->intent_key, on_found,
			      call_new(s, jp, then));
		break;
	case JOB_DO_POLL:
		if (s->tick_rows >= TICK_ROWS)
			break; /* this tick's batch is full: next tick */
		be->ops->poll(be, j->remote_id, j->cursor, on_polled,
			      call_new(s, jp, then));
		break;
	case JOB_DO_CANCEL:
	case JOB_DO_PAUSE:
	case JOB_DO_RESUME:
		if (then != JOB_DO_RESUME)
			sl->sent_in = j->state;
		be->ops->control(be, j->remote_id, control[then], on_controlled,
				 call_new(s, jp, then));
		break;
	default:
		break;
	}
}

/* One live job's turn in a tick. */
static void
turn(struct scheduler *s, struct job **jp)
{
	struct job *j = *jp;
	struct backend *be = backend_find(s->d, j->backend);
	struct slot *sl = slot_get(s, j->id, false);

	if (be == NULL || (sl != NULL && (sl->calls > 0 || sl->answer)))
		return; /* a call says; or its answer waits for the store */
	if (j->remote_id == NULL && be->hold_until > now_wall() &&
	    j->state != JOB_CANCELLING && j->sweep_state != SWEEP_CANCELLED)
		return; /* found, or submitted, when the hold ends */
	run(s, jp, JOB_EV_TURN,
	    &(struct job_input){
		.can_pause = backend_can_pause(be, j->remote_id),
		.control_sent = sl != NULL && sl->sent_in == j->state});
}

/* --- what a tick owes from the last ----------------------------------------
 */

/* Sends the cancel, pause or resume a job is owed, when it still is. */
static void
send_owed(struct scheduler *s, int64_t id)
{
	struct slot *sl = slot_get(s, id, false);
	enum job_action a = sl->owed;
	enum job_cause cause = sl->resume_cause;
	struct job *j = reload(s, id);
	struct backend *be = j != NULL ? backend_find(s->d, j->backend) : NULL;

	if (be == NULL || job_state_terminal(j->state) ||
	    j->remote_id == NULL) {
		/* Gone, ended, or not created: its turn finds it. */
		sl->owed = JOB_DO_NOTHING;
	} else if (a == JOB_DO_RESUME && j->state == JOB_PAUSED) {
		sl->owed = JOB_DO_NOTHING;
		if (run(s, &j, JOB_EV_RESUME,
			&(struct job_input){
			    .cause = cause,
			    .can_pause = backend_can_pause(be, j->remote_id)})
			    .rc == -EIO &&
		    (sl = slot_get(s, id, false)) != NULL)
			sl->owed = JOB_DO_RESUME; /* when it can be recorded */
	} else if (a == JOB_DO_RESUME) {
		/* A pausing job is resumed once paused; any other runs. */
		if (j->state != JOB_PAUSING)
			sl->owed = JOB_DO_NOTHING;
	} else {
		/* Decided already (perhaps while writes failed): sent as is. */
		sl->owed = JOB_DO_NOTHING;
		carry_out(s, &j, a);
	}
	job_free(j);
}

/*
 * What earlier ticks left owed: answers to record, each in a transaction
 * of its own so that nothing later can undo it; then the stops, pauses
 * and resumes to send, which need no write and go while the store
 * refuses writes too.
 */
static void
settle(struct scheduler *s)
{
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < s->slots_cap; i++) {
		const struct slot *sl = &s->slots[i];

		if (sl->id == 0 ||
		    (sl->answer == NULL && sl->owed == JOB_DO_NOTHING))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		ids[n++] = sl->id;
	}
	for (size_t i = 0; i < n; i++) {
		struct slot *sl = slot_get(s, ids[i], false);

		if (sl != NULL && sl->answer != NULL && sl->calls == 0 &&
		    !s->fault.on) {
			struct job *j = reload(s, ids[i]);
			char *answer = xstrdup(sl->answer);

			if (j != NULL)
				answered(s, &j, JOB_EV_SUBMITTED, answer);
			free(answer);
			job_free(j);
			sl = slot_get(s, ids[i], false);
		}
		if (sl != NULL && sl->owed != JOB_DO_NOTHING &&
		    !sl->controlling)
			send_owed(s, ids[i]);
	}
	free(ids);
}

/* --- the tick ------------------------------------------------------------- */

struct job_list {
	struct job **items;
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
	l->items[l->n++] = job_from_row(row);
}

/* A live job, unless a call about it is under way or it is not due. */
static void
collect_due(const struct store_job_row *row, void *arg)
{
	struct job_list *l = arg;
	struct backend *be = backend_find(l->s->d, row->backend);
	struct slot *sl = slot_get(l->s, row->id, false);

	if (sl != NULL && be != NULL &&
	    (sl->calls > 0 || sl->answer != NULL ||
	     (be->poll_interval > 0 && sl->due > now_mono_s())))
		return;
	collect(row, arg);
}

/* Live jobs per backend (parallel to d->backends) and the trials chosen. */
struct admission {
	struct scheduler *s;
	int *backends;
	struct job_list chosen;
	double now;
	struct budget_job *live; /* live jobs, and those chosen this tick */
	size_t nlive, cap;
	int left;     /* jobs this tick may still create */
	bool counted; /* the live jobs per backend are */
	bool unknown; /* and could not be: nothing starts */
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
	if (i < s->d->nbackends && s->rec[i].unrecorded > 0) {
		snprintf(why, sizeof(why),
			 "backend %s: a created job's answer could not be "
			 "recorded yet (%s); submissions wait until it is",
			 be->name, store_last_error(s->d->store));
	} else if (i < s->d->nbackends && !s->rec[i].done) {
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
		/* Its early-stopping rule may be waiting on this trial. */
		idset_add(&a->s->early.starved, t->sweep_id);
		early_news(a->s, t->sweep_id);
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

	if (!a->counted) {
		/* Counted once there is a sweep to start trials of. */
		a->counted = true;
		a->unknown =
		    store_active_counts(a->s->d->store, count_live, a) != 0;
	}
	if (a->unknown || be == NULL || bn == NULL || held(a, be, sweep_id))
		return;
	room = (int)be->max_concurrent - *bn;
	if (max_concurrent > 0 && max_concurrent - live < room)
		room = max_concurrent - live;
	if (room > a->left)
		room = a->left;
	if (room <= 0)
		return;
	a->chosen.s = a->s;
	{
		size_t before = a->chosen.n;

		a->blocked = false;
		store_trials_admissible(a->s->d->store, sweep_id, a->now, room,
					choose, a);
		*bn += (int)(a->chosen.n - before);
		a->left -= (int)(a->chosen.n - before);
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

/*
 * Starts the trials that fit.  Their intents are committed together, to
 * the disk, before any backend hears of one; then they are submitted, and
 * what an in-process backend answers at once is recorded in one more
 * commit (a light one: a create lost with it is found by its intent).
 * Returns whether more may be waiting (the chunk was full).
 */
static bool
admit(struct scheduler *s, struct budget_job *live, size_t nlive)
{
	struct daemon *d = s->d;
	struct admission a = {.s = s,
			      .now = now_wall(),
			      .live = live,
			      .nlive = nlive,
			      .cap = nlive,
			      .left = ADMIT_CHUNK};
	size_t made = 0;
	bool tx;

	a.backends = xcalloc(d->nbackends ? d->nbackends : 1, sizeof(int));
	s->early.starved.n = 0;
	store_sweeps_runnable(d->store, consider_sweep, &a);
	tx = a.chosen.n > 0 && !s->fault.on && store_begin(d->store) == 0;
	for (size_t i = 0; i < a.chosen.n; i++) {
		struct job *j = a.chosen.items[i];
		struct backend *be = backend_find(d, j->backend);
		char key[48], basis[160];
		struct store_price price = {.sweep_id = j->sweep_id,
					    .rate = j->rate,
					    .reserved = j->reserved,
					    .basis = basis};
		int rc;

		new_intent_key(key);
		snprintf(basis, sizeof(basis),
			 "worst case: $%.2f/h x %g h max_job_hours", j->rate,
			 meter_max_hours(d, j->max_job_hours));
		rc = s->fault.on ? -EIO
				 : store_job_create(
				       d->store, j->trial_id, j->backend, key,
				       (be->caps & BACKEND_SIMULATED) != 0,
				       &price, now_wall(), &j->id, &j->attempt);
		if (rc == -EIO && store_failing(d->store))
			fault_begin(s);
		if (rc != 0) {
			job_free(j);
			continue;
		}
		j->intent_key = xstrdup(key);
		j->state = JOB_SUBMITTING;
		a.chosen.items[made++] = j;
	}
	if (tx && !commit(s)) {
		/* No intent is durable: none is sent. */
		for (size_t i = 0; i < made; i++)
			job_free(a.chosen.items[i]);
		made = 0;
	}
	tx = made > 0 && !s->fault.on && store_begin_light(d->store) == 0;
	for (size_t i = 0; i < made; i++) {
		struct job *j = a.chosen.items[i];

		log_info("job %lld: trial %lld attempt %d on %s (intent %s)",
			 (long long)j->id, (long long)j->trial_id, j->attempt,
			 j->backend, j->intent_key);
		submit(s, &j, backend_find(d, j->backend));
		job_free(j);
	}
	if (tx)
		commit(s);
	free(a.chosen.items);
	free(a.backends);
	free(a.live);
	return a.left == 0;
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
		s->rec[l->index].retry_at = now_mono_s() + 10;
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

		if (r->done || r->listing || r->retry_at > now_mono_s())
			continue;
		r->listing = true;
		l = xcalloc(1, sizeof(*l));
		l->s = s;
		l->index = i;
		be->ops->list_owned(be, on_owned, on_listed, l);
	}
}

/* --- enforcement: the meter decides, the machine carries out ------------- */

/*
 * Stops what would cross a budget before the next tick can act.  While
 * writes fail, spend since the failure is not known: the look-ahead
 * covers that time too.
 */
static void
enforce(struct scheduler *s, const struct budget_job *jobs, size_t n)
{
	struct daemon *d = s->d;
	/* Until the next enforcement: a tick, and a pass as long as this
	 * one has been (its slices share the loop). */
	double horizon = d->cfg.tick_ms / 1000.0 +
			 (double)(now_mono_ns() - s->pass.began_ns) / 1e9 +
			 d->cfg.cancel_latency;
	struct meter_stop *stops;
	size_t nstops;
	uint64_t started = now_mono_ns();
	bool tx;

	if (s->fault.on)
		horizon += now_wall() - s->fault.since;
	nstops = meter_enforce(d, jobs, n, horizon, &stops);
	if (nstops == 0)
		return;
	/* Stopping a thousand jobs is a thousand changes: one commit. */
	tx = !s->fault.on && store_begin(d->store) == 0;
	for (size_t i = 0; i < nstops; i++) {
		struct meter_stop *m = &stops[i];
		struct job *j = reload(s, m->job_id);
		struct backend *be = j ? backend_find(d, j->backend) : NULL;
		char why[64];

		if (be == NULL) {
			job_free(j);
			continue;
		}
		snprintf(why, sizeof(why), "%s budget reached", m->name);
		m->done =
		    run(s, &j, m->pause ? JOB_EV_PAUSE : JOB_EV_STOP,
			&(struct job_input){
			    .cause = JOB_BY_BUDGET,
			    .why = why,
			    .can_pause = backend_can_pause(be, j->remote_id)})
			.rc != -EALREADY;
		job_free(j);
	}
	meter_halted(d, stops, nstops, started);
	if (tx)
		commit(s);
	free(stops);
}

/*
 * A tick is a pass over the live jobs, a page at a time, then the meter,
 * enforcement and admission.  The pass is cut into slices that hold the
 * loop SLICE_NS at most; the control socket and the backends' answers
 * are served between them.  Each page is read afresh when its slice
 * runs, so nothing acts on a copy older than the slice.  A pass that
 * stops at the tick's row cap leaves a cursor: the next begins where it
 * stopped and wraps round, so every job gets its turn.
 */
static void
turns_done(struct scheduler *s, int64_t resume_after)
{
	s->pass.turning = false;
	s->resume_after = resume_after;
}

/*
 * One page of the pass: the due jobs' turns, until the page ends or
 * `until` (monotonic ns; 0: no limit) passes, for a poll may bring much
 * (a job that was not polled for a while catches up).
 */
static void
turn_page(struct scheduler *s, uint64_t until)
{
	struct pass *p = &s->pass;
	struct job_list live = {.s = s};
	int64_t upto = p->wrapped ? p->start : INT64_MAX, last;
	int read = store_jobs_live_page(s->d->store, p->after, upto, PAGE_JOBS,
					collect_due, &live, &last);
	bool cut = false;
	size_t i = 0;

	for (; i < live.n && !s->fault.on && !cut; i++) {
		int64_t id = live.items[i]->id;

		if (s->tick_rows >= TICK_ROWS) {
			/* This tick's batch is full: the next tick goes on
			 * from this job. */
			turns_done(s, id - 1);
			break;
		}
		turn(s, &live.items[i]);
		job_free(live.items[i]);
		if (until > 0 && i + 1 < live.n && now_mono_ns() >= until) {
			p->after = id; /* the next slice goes on after it */
			cut = true;
		}
	}
	for (; i < live.n; i++)
		job_free(live.items[i]);
	free(live.items);
	if (read < 0)
		turns_done(s, 0); /* unreadable: the meter's turn */
	if (!p->turning || s->fault.on || cut)
		return;
	p->after = last;
	if (read < PAGE_JOBS) {
		if (!p->wrapped && p->start > 0) {
			p->wrapped = true; /* round to where the pass began */
			p->after = 0;
		} else {
			turns_done(s, 0);
		}
	}
}

/* The rest of a tick, once every live job had its turn. */
static void
tick_end(struct scheduler *s)
{
	struct daemon *d = s->d;
	struct budget_job *jobs;
	size_t n;

	if (!s->fault.on)
		early_reviews(s);
	/* The meter, then admission, on the jobs as they are now. */
	n = meter_live(d, &jobs);
	enforce(s, jobs, n);
	if (d->stopping || s->fault.on)
		free(jobs);
	else if (admit(s, jobs, n))		      /* takes `jobs` over */
		s->pass.again = s->admit_more = true; /* the rest at once */
	notifier_holds(d);
	if (!s->fault.on && notifier_sweeps_refresh(d, now_wall()) != 0)
		fault_begin(s);
}

static void on_slice(uv_idle_t *h);

static void
durations_add(struct durations *d, uint64_t ns)
{
	d->us[d->count++ % TICK_HISTORY] =
	    ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);
}

/*
 * Runs the tick under way, from `started`, until it ends or its slice is
 * used up.  The turns of a slice are one commit: polls of in-process
 * backends answer at once.
 */
static void
tick_slice(struct scheduler *s, uint64_t started)
{
	struct pass *p = &s->pass;
	bool tx = p->turning && !s->fault.on && !s->closing &&
		  store_begin_light(s->d->store) == 0;
	uint64_t held;

	while (p->turning && !s->fault.on && !s->closing) {
		turn_page(s, p->whole ? 0 : started + SLICE_NS);
		held = now_mono_ns() - started;
		if (p->turning && !p->whole && held >= SLICE_NS)
			break;
	}
	if (tx)
		commit(s);
	if (p->turning && !s->fault.on && !s->closing) {
		/* More to do: the socket's turn first. */
		held = now_mono_ns() - started;
		p->busy_ns += held;
		durations_add(&s->holds, held);
		uv_idle_start(&s->slice, on_slice);
		return;
	}
	if (!s->closing)
		tick_end(s);
	p->on = false;
	s->last_tick_ns = now_mono_ns();
	held = s->last_tick_ns - started;
	p->busy_ns += held;
	durations_add(&s->holds, held);
	durations_add(&s->ticks, p->busy_ns);
	if (p->again && !s->closing) {
		/* Asked for while this one ran: at once, after the socket. */
		p->again = false;
		uv_idle_start(&s->slice, on_slice);
	}
}

/* A tick: `whole` in one go; `turns` for the live jobs, or admission only
 * (when the last tick's admission left more to start). */
static void
tick_begin(struct scheduler *s, bool whole, bool turns)
{
	struct pass *p = &s->pass;
	uint64_t started = now_mono_ns();

	s->admit_more = false;
	*p = (struct pass){.on = true,
			   .began_ns = started,
			   .turning = turns,
			   .whole = whole,
			   .after = s->resume_after,
			   .start = s->resume_after};
	s->tick_rows = 0;
	fault_over(s);
	settle(s);
	if (s->fault.on)
		p->turning = false;
	else
		reconcile(s);
	tick_slice(s, started);
}

static void
on_slice(uv_idle_t *h)
{
	struct scheduler *s = h->data;

	uv_idle_stop(h);
	if (s->pass.on)
		tick_slice(s, now_mono_ns());
	else
		tick_begin(s, false, !s->admit_more);
}

/* The periodic tick: none while one is under way (it covers it). */
static void
tick(uv_timer_t *t)
{
	struct scheduler *s = t->data;

	if (!s->pass.on)
		tick_begin(s, false, true);
}

uint64_t
scheduler_last_tick_ns(const struct scheduler *s)
{
	return s->last_tick_ns;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
durations_stats(const struct durations *d, struct duration_stats *out)
{
	size_t n = d->count < TICK_HISTORY ? (size_t)d->count : TICK_HISTORY;
	uint32_t sorted[TICK_HISTORY];

	memset(out, 0, sizeof(*out));
	out->count = d->count;
	if (n == 0)
		return;
	memcpy(sorted, d->us, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u32);
	out->last = d->us[(d->count - 1) % TICK_HISTORY] / 1000.0;
	out->p50 = sorted[(n - 1) / 2] / 1000.0;
	out->p99 = sorted[(size_t)((double)(n - 1) * 0.99 + 0.5)] / 1000.0;
	out->max = sorted[n - 1] / 1000.0;
}

void
scheduler_tick_stats(const struct scheduler *s, struct tick_stats *out)
{
	durations_stats(&s->ticks, &out->ticks);
	durations_stats(&s->holds, &out->holds);
}

/* --- checkpoints: the log copied into the store, off the loop ------------ */

static void
checkpoint_run(uv_work_t *w)
{
	struct scheduler *s = w->data;

	s->ckpt.left = store_checkpoint(s->ckpt.c);
}

static void on_closed(uv_handle_t *h);

static void
checkpoint_done(uv_work_t *w, int status)
{
	struct scheduler *s = w->data;

	(void)status;
	s->ckpt.running = false;
	if (s->ckpt.left < 0 && !s->ckpt.failing)
		log_warnx("store: a checkpoint failed; the log grows until one "
			  "succeeds");
	else if (s->ckpt.left >= 0 && s->ckpt.failing)
		log_info("store: checkpoints succeed again");
	s->ckpt.failing = s->ckpt.left < 0;
	if (s->closing)
		on_closed((uv_handle_t *)&s->ckpt.timer); /* its share */
}

static void
on_checkpoint(uv_timer_t *t)
{
	struct scheduler *s = t->data;

	if (s->ckpt.running || s->ckpt.c == NULL)
		return;
	s->ckpt.running = uv_queue_work(&s->d->loop, &s->ckpt.work,
					checkpoint_run, checkpoint_done) == 0;
}

struct scheduler *
scheduler_new(struct daemon *d)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));

	s->d = d;
	s->lc = (struct lifecycle){.store = d->store,
				   .budget = d->budget,
				   .d = d,
				   .retry_base_s = RETRY_BASE_S,
				   .retry_max_s = RETRY_MAX_S};
	s->rec = xcalloc(d->nbackends ? d->nbackends : 1, sizeof(*s->rec));
	uv_timer_init(&d->loop, &s->tick_timer);
	uv_timer_init(&d->loop, &s->deadline_timer);
	uv_idle_init(&d->loop, &s->slice);
	uv_timer_init(&d->loop, &s->ckpt.timer);
	s->ckpt.timer.data = s;
	s->ckpt.work.data = s;
	s->ckpt.c = store_checkpointer_open(d->store);
	if (s->ckpt.c != NULL)
		uv_timer_start(&s->ckpt.timer, on_checkpoint, CHECKPOINT_MS,
			       CHECKPOINT_MS);
	s->tick_timer.data = s;
	s->deadline_timer.data = s;
	s->slice.data = s;
	s->early.all = true; /* what a crash left undone is asked again */
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
	if (s->pass.on)
		s->pass.again = true; /* it may have passed what changed */
	else
		tick_begin(s, false, true);
}

void
scheduler_tick_whole(struct scheduler *s)
{
	if (s->pass.on) {
		s->pass.whole = true;
		tick_slice(s, now_mono_ns());
	}
	uv_idle_stop(&s->slice);
	s->pass.again = false;
	tick_begin(s, true, true);
}

static void
on_closed(uv_handle_t *h)
{
	struct scheduler *s = h->data;

	if (--s->closing > 0)
		return;
	store_checkpointer_close(s->d->store, s->ckpt.c);
	for (size_t i = 0; i < s->slots_cap; i++)
		free(s->slots[i].answer);
	lifecycle_settle(&s->lc, false);
	free(s->slots);
	free(s->rec);
	free(s->early.news.ids);
	free(s->early.starved.ids);
	free(s);
}

void
scheduler_close(struct scheduler *s)
{
	if (s == NULL || s->closing)
		return;
	/* Each handle's close, and a checkpoint under way, end it. */
	s->closing = 4 + (s->ckpt.running ? 1 : 0);
	uv_timer_stop(&s->tick_timer);
	uv_timer_stop(&s->deadline_timer);
	uv_idle_stop(&s->slice);
	uv_timer_stop(&s->ckpt.timer);
	uv_close((uv_handle_t *)&s->tick_timer, on_closed);
	uv_close((uv_handle_t *)&s->deadline_timer, on_closed);
	uv_close((uv_handle_t *)&s->slice, on_closed);
	uv_close((uv_handle_t *)&s->ckpt.timer, on_closed);
}

/* --- what rftctl, sweeps and budgets ask of a job ------------------------- */

/* The sentence a refusal gets. */
static void
explain(const struct job *j, const struct backend *be, enum job_event ev,
	const struct job_step *step, char *err, size_t len)
{
	long long id = (long long)j->id;

	if (step->rc == -EOPNOTSUPP && (be->caps & BACKEND_CAN_PAUSE))
		snprintf(err, len,
			 "job %lld cannot pause yet: its run has kept no "
			 "checkpoint to resume from (cancel it instead)",
			 id);
	else if (step->rc == -EOPNOTSUPP)
		snprintf(err, len, "backend %s cannot pause jobs", be->name);
	else if (job_state_terminal(j->state))
		snprintf(err, len, "job %lld has ended (%s)", id,
			 job_state_name(j->state));
	else if (ev == JOB_EV_STOP)
		snprintf(err, len, "job %lld is already being cancelled", id);
	else if (ev == JOB_EV_PAUSE)
		snprintf(err, len,
			 "job %lld is %s; only a running job can be paused", id,
			 job_state_name(j->state));
	else if (ev == JOB_EV_RESUME)
		snprintf(err, len, "job %lld is %s, not paused", id,
			 job_state_name(j->state));
	else
		snprintf(err, len, "job %lld: %s", id,
			 step->why ? step->why : "refused");
}

int
scheduler_job_event(struct scheduler *s, int64_t job_id, enum job_event ev,
		    enum job_cause cause, const char *why, char *err,
		    size_t errlen)
{
	struct job *j = reload(s, job_id);
	struct backend *be;
	struct slot *sl;
	struct job_input in = {.cause = cause, .why = why};
	struct job_step step;

	if (j == NULL) {
		snprintf(err, errlen, "no job %lld", (long long)job_id);
		return -ENOENT;
	}
	be = backend_find(s->d, j->backend);
	if (be == NULL && !job_state_terminal(j->state)) {
		snprintf(err, errlen, "job %lld: backend %s is not configured",
			 (long long)job_id, j->backend);
		job_free(j);
		return -ENOENT;
	}
	in.can_pause = backend_can_pause(be, j->remote_id);
	if (ev == JOB_EV_RESUME && j->early_held && cause != JOB_BY_USER &&
	    cause != JOB_BY_EARLY_STOP) {
		/* Only its rule, or a person, resumes it. */
		snprintf(err, errlen,
			 "job %lld is held paused by early stopping",
			 (long long)job_id);
		job_free(j);
		return -EALREADY;
	}
	step = job_decide(j, ev, &in);
	if (ev == JOB_EV_RESUME && (step.rc == 0 || j->state == JOB_PAUSING) &&
	    in.can_pause) {
		sl = slot_get(s, job_id, true);
		sl->resume_cause = cause;
		if (j->state == JOB_PAUSING) {
			/* Resumed once its pause is done. */
			sl->owed = JOB_DO_RESUME;
			job_free(j);
			return 0;
		}
	}
	if (step.rc == 0 && ev == JOB_EV_RESUME && j->early_held &&
	    store_trial_early_release(s->d->store, j->trial_id, now_wall()) !=
		0)
		step.rc = -EIO;
	if (step.rc == 0)
		step = run(s, &j, ev, &in); /* may take j over */
	if (step.rc == -EIO)
		snprintf(err, errlen,
			 "job %lld: the store cannot record this (%s)%s",
			 (long long)job_id, store_last_error(s->d->store),
			 ev == JOB_EV_STOP ? "; the cancel was sent anyway"
					   : "");
	else if (step.rc != 0)
		explain(j, be, ev, &step, err, errlen);
	job_free(j);
	return step.rc == -EINVAL ? -EALREADY : step.rc;
}
