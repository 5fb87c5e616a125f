/*
 * The lifecycle of sweeps, trials and jobs: their states, and the one
 * machine that decides what an outcome means for a job.
 *
 * Glossary:
 *   event    what happened to a job, or what is asked of it: a create
 *            answered, a find's answer, a poll's provider state, a stop
 *            asked by the user, a sweep, a budget, a deadline...
 *   step     the machine's answer to an event: the state to move to and
 *            what the scheduler must do next (submit, find, poll, cancel,
 *            pause, resume, or nothing).  job_decide() computes it and
 *            touches nothing.
 *   entry    what entering a state does, in change_state(): record the
 *   actions  move and its event, settle the bill and release the
 *            reservation of a job that ended, and make its trial follow
 *            (succeeded, paused, running, cancelled, failed, or pending
 *            again for a retry).
 *
 * The machine never calls a backend and never looks at a clock other
 * than the `now` it is given: the scheduler decides when to ask, and
 * carries out the step's action.  Loop thread only.
 *
 *   pending -> submitting -> validating -> queued -> running -> succeeded
 *   submitting -> unknown (outcome not known) -> (found) ... | submitting
 *   running <-> pausing -> paused -> queued/running
 *   any active -> cancelling -> cancelled;  any active -> failed | lost
 */
#ifndef RFTD_LIFECYCLE_H
#define RFTD_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The states, as the store's CHECK lists spell them (a test compares). */
#define SWEEP_STATES(X)                                                        \
	X(RUNNING, "running")                                                  \
	X(PAUSED, "paused")                                                    \
	X(CANCELLED, "cancelled")                                              \
	X(COMPLETED, "completed")

#define TRIAL_STATES(X)                                                        \
	X(PENDING, "pending")                                                  \
	X(RUNNING, "running")                                                  \
	X(PAUSED, "paused")                                                    \
	X(SUCCEEDED, "succeeded")                                              \
	X(FAILED, "failed")                                                    \
	X(CANCELLED, "cancelled")                                              \
	X(STOPPED, "stopped") /* by an early-stopping rule */

#define JOB_STATES(X)                                                          \
	X(PENDING, "pending")                                                  \
	X(SUBMITTING, "submitting")                                            \
	X(VALIDATING, "validating")                                            \
	X(QUEUED, "queued")                                                    \
	X(RUNNING, "running")                                                  \
	X(PAUSING, "pausing")                                                  \
	X(PAUSED, "paused")                                                    \
	X(CANCELLING, "cancelling")                                            \
	X(SUCCEEDED, "succeeded")                                              \
	X(FAILED, "failed")                                                    \
	X(CANCELLED, "cancelled")                                              \
	X(UNKNOWN, "unknown")                                                  \
	X(LOST, "lost")

#define LC_ENUM_SWEEP(id, name) SWEEP_##id,
#define LC_ENUM_TRIAL(id, name) TRIAL_##id,
#define LC_ENUM_JOB(id, name)	JOB_##id,
enum sweep_state { SWEEP_STATES(LC_ENUM_SWEEP) SWEEP__COUNT };
enum trial_state { TRIAL_STATES(LC_ENUM_TRIAL) TRIAL__COUNT };
enum job_state { JOB_STATES(LC_ENUM_JOB) JOB__COUNT };
#undef LC_ENUM_SWEEP
#undef LC_ENUM_TRIAL
#undef LC_ENUM_JOB

const char *sweep_state_name(enum sweep_state s);
const char *trial_state_name(enum trial_state s);
const char *job_state_name(enum job_state s);
/* The state called `name`: 0, or -EINVAL when it is not one of ours. */
int sweep_state_parse(const char *name, enum sweep_state *out);
int trial_state_parse(const char *name, enum trial_state *out);
int job_state_parse(const char *name, enum job_state *out);
bool job_state_terminal(enum job_state s);
/* True for the states in which the backend holds (or may hold) a job. */
bool job_state_active(enum job_state s);
/* Whether the machine allows old -> new (old == new is not a move). */
bool job_transition_ok(enum job_state from, enum job_state to);

/* What happened to a job, or what is asked of it. */
#define JOB_EVENTS(X)                                                          \
	X(TURN, "turn")			    /* its turn in a tick */           \
	X(SUBMITTED, "submitted")	    /* the create was answered */      \
	X(SUBMIT_UNKNOWN, "submit-unknown") /* sent; outcome not known */      \
	X(SUBMIT_HELD, "submit-held")	    /* a quota refused it */           \
	X(REFUSED, "refused")		    /* refused for what it is */       \
	X(DUPLICATE, "duplicate")	    /* the answer is another's job */  \
	X(FOUND, "found")		    /* find(): it exists */            \
	X(NOT_FOUND, "not-found")	    /* find(): never created */        \
	X(POLLED, "polled")		    /* the provider's state */         \
	X(GONE, "gone")			    /* the provider has no such job */ \
	X(STOP, "stop")			    /* cancel it, for in->cause */     \
	X(PAUSE, "pause")		    /* pause it, for in->cause */      \
	X(RESUME, "resume")		    /* resume it, for in->cause */     \
	X(CONTROLLED, "controlled")	    /* a cancel/pause/resume is done */

#define LC_ENUM_EV(id, name) JOB_EV_##id,
enum job_event { JOB_EVENTS(LC_ENUM_EV) JOB_EV__COUNT };
#undef LC_ENUM_EV

/* Who asked for a stop, a pause or a resume. */
enum job_cause {
	JOB_BY_USER,
	JOB_BY_SWEEP,	   /* the sweep was cancelled, paused or resumed */
	JOB_BY_BUDGET,	   /* a budget scope would be crossed, or has room */
	JOB_BY_DEADLINE,   /* it reached max_job_hours */
	JOB_BY_EARLY_STOP, /* an early-stopping rule */
};

/* What the scheduler must do next. */
enum job_action {
	JOB_DO_NOTHING,
	JOB_DO_SUBMIT,
	JOB_DO_FIND,
	JOB_DO_POLL,
	JOB_DO_CANCEL,
	JOB_DO_PAUSE,
	JOB_DO_RESUME,
};

const char *job_event_name(enum job_event ev);
const char *job_action_name(enum job_action a);

struct backend_poll;
struct store_job_row;

/* A job as the machine sees it: a copy of its row, owned by the caller. */
struct job {
	int64_t id, trial_id, sweep_id;
	int attempt, retries; /* this attempt; retries the sweep allows */
	enum job_state state;
	enum sweep_state sweep_state;
	double max_job_hours; /* the sweep's, or 0: the default */
	double billed_seconds;
	double rate, reserved, cost, ledgered; /* USD; see meter.h */
	bool budget_paused;
	bool early_stopped; /* a rule stopped its trial: it ends "stopped" */
	bool early_held;    /* a rule holds its trial paused */
	char *backend, *intent_key, *remote_id, *cursor;
	char *objective_metric;
	bool objective_max;
	/* For (re)submission. */
	char *model, *spec_json, *grader_name, *grader_json, *hps_json;
	char *sweep_name;
	bool has_seed;
	int64_t seed;
};

/* A new copy of a store row (or a trial about to get a job). */
struct job *job_from_row(const struct store_job_row *r);
void job_free(struct job *j);

/* The details of an event; which fields count depends on the event. */
struct job_input {
	enum job_cause cause;  /* STOP, PAUSE, RESUME */
	const char *remote_id; /* SUBMITTED, FOUND, DUPLICATE */
	const char *error;     /* the backend's word, or NULL */
	bool final;	       /* REFUSED: not worth a retry */
	bool can_pause;	       /* PAUSE, RESUME, TURN */
	bool control_sent;     /* TURN: a stop or pause is under way */
	enum job_action done;  /* CONTROLLED: what was carried out */
	const struct backend_poll *poll; /* POLLED */
	const char *why; /* STOP, PAUSE, RESUME: for the events */
};

/* The machine's answer to an event. */
struct job_step {
	int rc; /* 0; or refused, nothing changes: -EALREADY (done or under
		   way), -EOPNOTSUPP (the backend cannot pause), -EINVAL
		   (the event makes no sense in this state) */
	enum job_state to;    /* == the job's state: it stays */
	enum job_action then; /* for the scheduler */
	const char *why;      /* for the job's events and the log */
};

/* What `ev` means for `j`; pure. */
struct job_step job_decide(const struct job *j, enum job_event ev,
			   const struct job_input *in);

struct store;
struct budget;

/* What the machine writes through, and the spend it keeps in memory. */
struct lifecycle {
	struct store *store;
	struct budget *budget; /* follows what was committed */
	struct daemon *d;      /* for notifications; NULL: none */
	unsigned int retry_base_s, retry_max_s;
	/* Moves made inside a transaction someone else commits: logged
	 * when it is (lifecycle_settle), so a log never tells of a move
	 * that was rolled back. */
	char **held;
	size_t nheld;
};

/*
 * The transaction the moves were made in ended: `committed` logs them,
 * else they are dropped (they were not kept; they are made again).
 */
void lifecycle_settle(struct lifecycle *lc, bool committed);

/*
 * Runs event `ev` on job `j`: decides, then records the move, the poll's
 * data, the bill and the trial's state in one transaction (a savepoint
 * when one is open), and updates `j` to match.  Returns the step; its rc
 * is also -ESTALE when the stored job is no longer in j->state (read it
 * again), -EEXIST when an answer's remote id is another job's, -EIO when
 * the store could not record it (nothing of it is kept, in the store or
 * in memory; the caller holds what it must retry).
 */
struct job_step job_fsm(struct lifecycle *lc, struct job *j, enum job_event ev,
			const struct job_input *in, double now);

#endif
