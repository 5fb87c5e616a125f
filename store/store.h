/*
 * The store: rftd's SQLite database.  This module (and only this module)
 * talks to SQLite.  The daemon holds one store, its single writer.
 *
 * All functions run on the caller's thread (the daemon's loop thread) and
 * return 0 or a negative errno-style code unless said otherwise.
 */
#ifndef RFTD_STORE_H
#define RFTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct store;

/*
 * Opens (creating it and its directory if needed) the database at `path`,
 * sets WAL, synchronous=FULL, foreign_keys=ON and a busy timeout, and
 * applies pending migrations.  Refuses, without writing to it, a file that
 * is not an SQLite database, an SQLite database rftd did not create, and
 * a schema newer than this binary knows.  Returns NULL with a sentence in
 * `err` on failure.  The caller owns the result; free with store_close().
 */
struct store *store_open(const char *path, char *err, size_t errlen);

/* Closes the database; NULL is a no-op. */
void store_close(struct store *st);

/* The path the store was opened with (owned by the store). */
const char *store_path(const struct store *st);

/*
 * Checkpoints of the write-ahead log, run by a connection of their own so
 * that they can run on another thread than the writer's: once one is
 * open, the writer no longer checkpoints by itself (closing it restores
 * that).  store_checkpoint() copies what it can without waiting for the
 * writer (a passive checkpoint) and returns the frames left, or -EIO;
 * it may run on any one thread at a time.
 */
struct store_checkpointer;
struct store_checkpointer *store_checkpointer_open(struct store *st);
int store_checkpoint(struct store_checkpointer *c);
void store_checkpointer_close(struct store *st, struct store_checkpointer *c);

/* The schema version of the open database (PRAGMA user_version). */
int store_schema_version(const struct store *st);

/* The newest schema version this binary can create. */
int store_latest_version(void);

/*
 * Calls `fn` once per table of the store at `path` with its row count, in
 * name order, read on a connection of its own: it may run on any thread,
 * and a large store takes a while.  Returns 0, or -EIO when a count could
 * not be read.
 */
int store_table_counts(const char *path,
		       void (*fn)(const char *table, int64_t rows, void *arg),
		       void *arg);

/*
 * Transactions on the writer connection.  A commit waits until the disk
 * has it; one begun with store_begin_light() does not: a crash of rftd
 * keeps it, a power cut may lose it, and the next commit that waits
 * makes it durable too.  Light transactions hold what a later poll
 * would report again (metrics, progress, spend so far), never an intent
 * or anything a backend call depends on.
 */
int store_begin(struct store *st);
int store_begin_light(struct store *st);
int store_commit(struct store *st); /* rolls back when it fails */
void store_rollback(struct store *st);

/*
 * A unit of writes that is all or nothing: its own transaction, or a
 * savepoint inside the one open (`outer` says which, for the end).
 * store_unit_end() keeps the writes when `ok` (0, or -EIO when they could
 * not be kept: then they are gone) or drops them (0).
 */
int store_unit_begin(struct store *st, bool *outer);
int store_unit_end(struct store *st, bool outer, bool ok);
bool store_in_transaction(const struct store *st);

/*
 * Whether the database takes a write now (a full disk, an I/O error do
 * not): 0, or -EIO with SQLite's word in `err`.  Changes nothing and
 * logs nothing.
 */
int store_probe(struct store *st, char *err, size_t errlen);

/* SQLite's message for the last failure the store logged ("" if none). */
const char *store_last_error(const struct store *st);

/*
 * Whether that failure was the database's health (a full disk, an I/O
 * error, a file that cannot be written, a lock), not the data written
 * (a constraint, a value too big): then every write may fail alike.
 */
bool store_failing(const struct store *st);

/* --- sweeps and trials (sweeps.c) --------------------------------------- */

struct store_sweep_new {
	const char *name;
	const char *backend;
	const char *model;
	const char *spec_json; /* as submitted */
	const char *spec_sha256;
	int priority;
	int max_concurrent;   /* 0: none of its own */
	double max_job_hours; /* 0: none */
	int retries;
	bool has_budget;
	double budget_usd;
	const char *objective_metric;
	bool objective_max;
	bool simulated;
	bool allow_unpriced;
	const char *early_stopping_json; /* the rule, or NULL */
};

struct store_grader_new {
	const char *sha256;
	const char *type;
	const char *json;
};

struct store_trial_new {
	const char *sha256;
	const char *grader_name;
	const char *grader_sha256;
	const char *hyperparameters_json;
	bool has_seed;
	int64_t seed;
};

/*
 * Stores a sweep and its trials in one transaction.  Trials whose
 * identity is already stored are linked to the new sweep when `reuse` is
 * true (a failed or cancelled one is handed to the new sweep to run
 * again; *reused counts the others); otherwise nothing is stored, -EEXIST is
 * returned and *existing is set to a JSON array of {ordinal, trial_id,
 * sweep_id, state} (caller frees).  Returns 0 with *sweep_id and *reused set,
 * or -EIO.
 */
int store_sweep_create(struct store *st, const struct store_sweep_new *sw,
		       const struct store_grader_new *graders, size_t ngraders,
		       const struct store_trial_new *trials, size_t n,
		       bool reuse, double now, int64_t *sweep_id,
		       size_t *reused, cJSON **existing);

/*
 * Whether a stored trial in `state` runs again when a sweep reuses it
 * (it failed or was cancelled: it never finished), rather than being
 * linked as it is.
 */
bool store_trial_runs_again(const char *state);

/*
 * The trials among `trials` that are already stored: a JSON array of
 * {ordinal, trial_id, sweep_id, state}, or NULL on a store error.
 */
cJSON *store_trials_known(struct store *st,
			  const struct store_trial_new *trials, size_t n);

/*
 * Sets a sweep's state: 'running', 'paused' or 'cancelled'.  Cancelling
 * also cancels the sweep's pending trials.  -ENOENT for no such sweep,
 * -EALREADY when it has ended.
 */
int store_sweep_set_state(struct store *st, int64_t sweep_id, const char *state,
			  double now);

/*
 * Marks running sweeps whose trials have all ended as completed.  With
 * `completed` set, *completed gets their ids (*n of them; caller frees).
 */
int store_sweeps_refresh(struct store *st, double now, int64_t **completed,
			 size_t *n);

/* --- jobs (jobs.c) -------------------------------------------------------- */

/* A job the scheduler watches; strings valid during the callback only. */
struct store_job_row {
	int64_t id;
	int64_t trial_id;
	int64_t sweep_id; /* the trial's owner */
	int attempt;
	const char *backend;
	const char *intent_key;
	const char *remote_id; /* NULL before the backend answered */
	const char *state;
	const char *sweep_state;
	double max_job_hours;	/* 0: none */
	int max_concurrent;	/* of the sweep; 0: none */
	int retries;		/* of the sweep */
	const char *cursor;	/* the backend's poll cursor, or NULL */
	double rate;		/* USD per training hour, fixed at admission */
	double reserved;	/* its worst case, USD */
	double cost;		/* USD so far */
	double ledgered;	/* of which in the ledger */
	bool budget_paused;	/* a budget holds it paused */
	const char *early_stop; /* its trial's: "held", "stopped" or NULL */
	bool allow_unpriced;	/* of the sweep */
	const char *objective_metric;
	bool objective_max;
	double billed_seconds;
	/* For (re)submission: */
	const char *model;
	const char *spec_json;
	const char *grader_name;
	const char *grader_json;
	const char *hyperparameters_json;
	bool has_seed;
	int64_t seed;
	const char *sweep_name;
};

/*
 * Every live job (not 'pending', nor ended), as the meter needs it: of a
 * store_job_row, only id, trial_id, sweep_id, backend, remote_id, state,
 * rate, reserved and cost are set.
 */
int store_jobs_live_money(struct store *st,
			  void (*fn)(const struct store_job_row *job,
				     void *arg),
			  void *arg);

/*
 * A page of the live jobs, whole rows: at most `limit` with ids in
 * (after, upto], in id order.  Returns how many were read, with
 * *last the id of the last (`after` when none), or -EIO.
 */
int store_jobs_live_page(struct store *st, int64_t after, int64_t upto,
			 int limit,
			 void (*fn)(const struct store_job_row *job, void *arg),
			 void *arg, int64_t *last);

/* The job that holds `remote_id` on `backend`: 0 with *job_id, or -ENOENT. */
int store_job_owner(struct store *st, const char *backend,
		    const char *remote_id, int64_t *job_id);

/* One job by id, for control actions; -ENOENT when there is none. */
int store_job_get(struct store *st, int64_t job_id,
		  void (*fn)(const struct store_job_row *job, void *arg),
		  void *arg);

/*
 * Calls `fn` for each running sweep that has pending trials, in
 * admission order (priority, then submission time), with its count of
 * live jobs.
 */
int store_sweeps_runnable(struct store *st,
			  void (*fn)(int64_t sweep_id, const char *backend,
				     int max_concurrent, int live, void *arg),
			  void *arg);

/*
 * Calls `fn` for up to `limit` pending trials of sweep `sweep_id` that may
 * start now (a retry waits for its time), in expansion order.  The row's
 * id, attempt, intent_key, remote_id and state are unset.
 */
int store_trials_admissible(
    struct store *st, int64_t sweep_id, double now, int limit,
    void (*fn)(const struct store_job_row *trial, void *arg), void *arg);

/* A job's price, reserved with its intent. */
struct store_price {
	int64_t sweep_id;  /* the trial's sweep, for the ledger's scope */
	double rate;	   /* USD per training hour */
	double reserved;   /* the worst case, USD */
	const char *basis; /* how it was computed, for the ledger */
};

/*
 * Records the intent to submit: a new job row ('submitting', attempt =
 * the trial's attempts + 1), the trial running, and (with `price`) the
 * job's reservation in the ledger: one unit of writes, which the caller
 * commits (with the rest of its batch) before the backend hears of it.
 * Returns 0 with *job_id and *attempt set, or -ESTALE when the trial is
 * no longer pending.
 */
int store_job_create(struct store *st, int64_t trial_id, const char *backend,
		     const char *intent_key, bool simulated,
		     const struct store_price *price, double now,
		     int64_t *job_id, int *attempt);

/*
 * Records a job found at the provider with our tags but missing here
 * (adopted, never submitted again): a new attempt of its trial, already
 * submitted as `remote_id`.  -EEXIST when the intent or remote id is
 * known, -ENOENT when there is no such trial.
 */
int store_job_adopt(struct store *st, int64_t trial_id, const char *backend,
		    const char *intent_key, const char *remote_id,
		    const struct store_price *price, double now,
		    int64_t *job_id);

/* An event the backend reported about a job. */
struct store_event {
	const char *remote_id;
	double created_at;
	const char *level;
	const char *type; /* NULL: "message" */
	const char *message;
	const char *data; /* JSON, or NULL */
};

int store_job_event_add(struct store *st, int64_t job_id,
			const struct store_event *e);

/* What changed about a job; NULL/negative fields are left as they are. */
struct store_job_change {
	const char *state; /* the new state */
	const char *from;  /* compare-and-set: the expected state */
	const char *remote_id;
	const char *provider_status;
	const char *error;
	const char *fine_tuned_model;
	double billed_seconds; /* < 0: unchanged */
	const char *cursor;    /* the backend's poll cursor */
	const char *event;     /* a job_events message, or NULL */
};

/*
 * Applies a change (and records an event when asked).  Sets the job's
 * started_at / finished_at / submitted_at from the state.  Returns 0,
 * -ESTALE when the job is no longer in state `from`, -EEXIST when the
 * remote id is another job's, or -EIO.
 */
int store_job_change(struct store *st, int64_t job_id,
		     const struct store_job_change *c, double now);

/*
 * Sets a trial's state after its job changed.  `not_before` > 0 delays a
 * pending (retried) trial; `reason` says why a pending trial waits.
 */
int store_trial_set_state(struct store *st, int64_t trial_id, const char *state,
			  double not_before, const char *reason, double now);

/* Says why the pending trials of a sweep wait (unchanged rows stay). */
int store_trials_pending_reason(struct store *st, int64_t sweep_id,
				const char *reason, double now);

/* Adds one metric point (insert or replace). */
int store_metric_add(struct store *st, int64_t job_id, int64_t step,
		     const char *name, double value);

/* Adds a checkpoint (a second report of the same step is ignored). */
int store_checkpoint_add(struct store *st, int64_t job_id, int64_t step,
			 const char *remote_id, const char *model,
			 const char *metrics_json, double now);

/* Keeps the trial's best objective value (max or min) and its step. */
int store_trial_objective(struct store *st, int64_t trial_id, double value,
			  int64_t step, bool maximize);

/* Running/paused sweeps' jobs counts per sweep and per backend. */
int store_active_counts(struct store *st,
			void (*fn)(int64_t sweep_id, const char *backend,
				   int count, void *arg),
			void *arg);

struct store_summary {
	int live_jobs;
	int pending_trials;
	int running_sweeps;
};

/* Counts for the service manager's status line. */
int store_summary(struct store *st, struct store_summary *sum);

/* --- early stopping (early.c) ------------------------------------------ */

/* A trial of a sweep with early stopping; strings valid in the callback. */
struct store_early_trial {
	int64_t trial_id;
	const char *state;	/* the trial's */
	const char *early_stop; /* "held", "stopped" or NULL */
	int64_t early_step;	/* the step it was judged at, or 0 */
	int64_t decided;	/* the last step a rule judged it at, or 0 */
	int64_t job_id;		/* its latest job, or 0 */
	const char *job_state;	/* that job's state, or NULL */
	bool resume_owed; /* a rule resumed it; its job has not moved since */
};

/* The trials of sweep `sweep_id`, in expansion order. */
int store_early_trials(struct store *st, int64_t sweep_id,
		       void (*fn)(const struct store_early_trial *t, void *arg),
		       void *arg);

/* Every value of `metric` the sweep's trials' jobs reported, by trial
 * then step (a step may come once per job of a trial). */
int store_early_points(struct store *st, int64_t sweep_id, const char *metric,
		       void (*fn)(int64_t trial_id, int64_t step, double value,
				  void *arg),
		       void *arg);

/* One decision of a rule (a row of early_stops). */
struct store_early_decision {
	int64_t sweep_id, trial_id, job_id; /* job_id 0: none */
	const char *rule, *metric, *action;
	int64_t step;
	int rung; /* < 0: none */
	double value;
	bool has_threshold;
	double threshold;
	int peers;
	bool set_mark;	  /* also set the trial's early_stop to: */
	const char *mark; /* "held", "stopped", or NULL to clear it */
};

/* Records a decision (once: the same trial, step and action again is
 * ignored) and the trial's mark, all or nothing. */
int store_early_decide(struct store *st, const struct store_early_decision *d,
		       double now);

/* A person resumed a held trial: the rule no longer holds it. */
int store_trial_early_release(struct store *st, int64_t trial_id, double now);

/* The running and paused sweeps that have a rule, with its JSON. */
int store_sweeps_early(struct store *st,
		       void (*fn)(int64_t sweep_id, const char *json,
				  void *arg),
		       void *arg);

/* --- money (money.c) ----------------------------------------------------- */

/* Ledger rows for a job's movement: one for 'global', one for its sweep. */
int store_ledger_job(struct store *st, int64_t job_id, int64_t sweep_id,
		     const char *kind, double amount, const char *basis,
		     const char *quality, double now);
/* A job's price and reservation, fixed when it is admitted. */
int store_job_price(struct store *st, int64_t job_id, double rate,
		    double reserved);
/*
 * Records a job's cost so far; with `to_ledger`, writes what is not yet
 * in the ledger (cost - ledgered) as accrue rows and marks it ledgered.
 */
int store_job_cost(struct store *st, int64_t job_id, int64_t sweep_id,
		   double cost, const char *quality, double ledgered,
		   bool to_ledger, double now);
int store_job_budget_paused(struct store *st, int64_t job_id, bool paused);
/* Ids of the jobs a budget holds paused: a JSON array. */
cJSON *store_budget_paused_jobs(struct store *st);
/* Limits set at run time (rows of budgets). */
int store_budget_limits(struct store *st,
			void (*fn)(const char *scope, double limit,
				   const char *action, void *arg),
			void *arg);
/* Sets (limit >= 0) or clears (limit < 0) a run-time limit, in the ledger
 * too. */
int store_budget_set(struct store *st, const char *scope, double limit,
		     const char *action, const char *basis, double now);
int store_halt_add(struct store *st, const char *scope, double limit,
		   double spent, const char *action, const char *jobs_json,
		   double now);
/* Spend of all jobs (sweep_id 0) or of one sweep's jobs, all time. */
int store_spent(struct store *st, int64_t sweep_id, double *usd);
/* Spend by minute since `since`, for the rolling windows. */
int store_spend_minutes(struct store *st, double since, double now,
			void (*fn)(double t, double usd, void *arg), void *arg);
bool store_sweep_exists(struct store *st, int64_t sweep_id);
/* Sweeps whose spec set budget_usd. */
int store_sweep_budgets(struct store *st,
			void (*fn)(int64_t sweep_id, double limit, void *arg),
			void *arg);
/* Every sweep, oldest first, with what it has spent (as store_spent()). */
int store_sweep_spends(struct store *st,
		       void (*fn)(int64_t sweep_id, const char *name,
				  bool simulated, double spent, void *arg),
		       void *arg);

/* --- what rftctl shows (views.c); each returns a new cJSON or NULL ---- */

cJSON *store_sweeps_json(struct store *st);
/* NULL with -ENOENT in *rc when there is no such sweep. */
cJSON *store_sweep_json(struct store *st, int64_t sweep_id, int *rc);
cJSON *store_jobs_json(struct store *st, int64_t sweep_id, const char *state,
		       int limit);
cJSON *store_job_json(struct store *st, int64_t job_id, int *rc);
/* How the leaderboard ranks: by the objective (in the sweep's mode), or
 * by reward per dollar (the leaderboard view's reward_per_usd), best
 * first. */
enum store_rank { STORE_RANK_OBJECTIVE, STORE_RANK_VALUE };
/* The best `limit` trials with cost, reward per dollar and model; NULL
 * with -ENOENT in *rc when there is no such sweep. */
cJSON *store_leaderboard_json(struct store *st, int64_t sweep_id, int limit,
			      enum store_rank by, int *rc);
/* Jobs (id, state) of a sweep, for control actions over a sweep. */
cJSON *store_sweep_job_ids(struct store *st, int64_t sweep_id);

/* --- read-only SQL for users (sql.c) ----------------------------------- */

struct store_sql_limits {
	int max_rows;	  /* rows returned at most */
	size_t max_bytes; /* rows printed as JSON take at most this; one
			   * value at most a quarter of it, up to 8 MiB */
	int timeout_ms;	  /* the query is interrupted after this */
};

enum store_sql_code {
	STORE_SQL_ERROR = -1,	/* a bad query: it does not compile or fails */
	STORE_SQL_REFUSED = -2, /* not allowed: it would write or escape */
	STORE_SQL_TIMEOUT = -3, /* interrupted at the deadline */
	STORE_SQL_FAILED = -4,	/* the database failed: I/O, corrupt, locked */
};

/*
 * Runs one read-only statement on its own hardened connection to the
 * database at `path`.  Returns {columns, rows, row_count, elapsed_ms,
 * truncated?} with *code 0, or NULL with *code an enum store_sql_code
 * and `err` saying why.  Shares no state with any store: callable from
 * any thread.
 */
cJSON *store_sql_run(const char *path, const char *sql,
		     const struct store_sql_limits *lim, int *code, char *err,
		     size_t errlen);

/* --- the simulated backend's jobs (sim.c) ------------------------------- */

struct store_sim_job {
	char remote_id[64];
	char intent_key[128];
	char *request; /* JSON, malloc'd: free with free() */
	double created_at;
	double elapsed;	     /* simulated seconds banked */
	double active_since; /* 0 while not active */
	char control[16];    /* active | paused | cancelled */
};

int store_sim_insert(struct store *st, const struct store_sim_job *job);
/* By remote id, or by intent key when remote_id is NULL: 0 or -ENOENT. */
int store_sim_get(struct store *st, const char *remote_id,
		  const char *intent_key, struct store_sim_job *job);
int store_sim_update(struct store *st, const struct store_sim_job *job);

#endif
