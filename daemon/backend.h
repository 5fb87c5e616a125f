/*
 * The backend contract: what rftd asks of anything that trains models.
 * Every backend (the simulator now, the OpenAI-compatible API next)
 * implements these operations; the scheduler knows nothing else.
 *
 * Operations are asynchronous: each takes a completion callback that is
 * called exactly once, possibly before the operation returns (the
 * simulator answers at once).  Callbacks run on the loop thread.  The
 * strings an operation is given (remote id, cursor, intent key) may be
 * freed by its callback: a backend does not touch them after calling it.
 * A backend that answers at once may be called inside the scheduler's
 * transaction, so it keeps its jobs in the same store (as the simulator
 * does): its answers then stand or fall with that transaction.
 *
 * Crash safety rests on the intent key: the job row carrying it is
 * committed before submit() is called, the backend tags the remote job
 * with it, and find() looks a job up by it after a crash, so that a job
 * whose submission outcome is unknown is adopted, never submitted twice.
 */
#ifndef RFTD_BACKEND_H
#define RFTD_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "config.h"
#include "lifecycle.h"

struct daemon;
struct backend;
struct store;

enum backend_caps {
	BACKEND_CAN_PAUSE = 1 << 0, /* pause() and resume() work */
	BACKEND_SIMULATED = 1 << 1, /* nothing real is trained or paid */
};

enum backend_action {
	BACKEND_CANCEL,
	BACKEND_PAUSE,
	BACKEND_RESUME,
};

/* What a trial asks the backend to run.  Borrowed for the call only. */
struct backend_job {
	const char *intent_key;
	const char *model;
	const char *training_file;   /* path or file id, from the spec */
	const char *validation_file; /* or NULL */
	const char *grader_name;
	const cJSON *grader;
	const cJSON *hyperparameters;
	const cJSON *response_format; /* the spec's, or NULL */
	bool has_seed;
	int64_t seed;
	int64_t sweep_id;
	int64_t trial_id;
	int attempt;
	const char *sweep_name;
};

struct backend_metric {
	int64_t step;
	const char *name;
	double value;
};

/* A checkpoint the backend kept: a model at a step, with its metrics. */
struct backend_checkpoint {
	int64_t step;
	const char *remote_id;
	const char *model;   /* the fine-tuned model at this step */
	const char *metrics; /* JSON object */
};

/* An event the provider reported about a job. */
struct backend_event {
	const char *remote_id;
	double created_at; /* Unix seconds */
	const char *level;
	const char *type;
	const char *message;
	const char *data; /* JSON, as reported, or NULL */
};

/* One poll's answer.  Borrowed for the callback only. */
struct backend_poll {
	enum job_state state;	      /* JOB__COUNT: a status we do not know */
	const char *provider_status;  /* the provider's word, kept raw */
	const char *error;	      /* why it failed, or NULL */
	const char *fine_tuned_model; /* or NULL */
	double billed_seconds;	      /* training time so far; < 0 unknown */
	double cost_usd;	      /* the provider's own figure; < 0 none */
	const struct backend_metric *metrics; /* new since the cursor */
	size_t nmetrics;
	const struct backend_checkpoint *checkpoints; /* new since the cursor */
	size_t ncheckpoints;
	const struct backend_event *events; /* new since the cursor, oldest
					       first */
	size_t nevents;
	const char *cursor; /* to pass to the next poll */
};

typedef void (*backend_submit_cb)(void *arg, int rc, const char *remote_id,
				  const char *error);
typedef void (*backend_poll_cb)(void *arg, int rc,
				const struct backend_poll *poll,
				const char *error);
typedef void (*backend_done_cb)(void *arg, int rc, const char *error);
/* A live job at the provider carrying an rftd's tags. */
struct backend_owned {
	const char *remote_id;
	const char *intent_key;
	const char *model;
	int64_t sweep_id; /* from its tags; 0: none */
	int64_t trial_id;
};

typedef void (*backend_owned_cb)(void *arg, const struct backend_owned *job);

/*
 * The metric names the jobs of a type of backend report, so that a plan
 * can tell a spec whose objective no job will ever report (a typo, a
 * valid_* metric without validation data) before anything is spent.
 */
struct backend_metrics {
	/* NULL-ended: the canonical names, then the provider's own. */
	const char *const *names;
	/* Also grader.KEY.train_reward_mean and grader.KEY.valid_reward_mean,
	 * KEY a grader of the spec (of a multi grader: one of its graders). */
	bool per_grader;
	/* Jobs may report names of their own as well (a trainer's): a name
	 * not listed is not known to rftd, but may still come. */
	bool open;
};

struct backend_ops {
	const char *type;
	/* Hyperparameters are the user's own names with JSON scalar values
	 * (not OpenAI's set). */
	bool any_hyperparameters;
	/* Creates the remote job tagged with job->intent_key. */
	void (*submit)(struct backend *be, const struct backend_job *job,
		       backend_submit_cb cb, void *arg);
	/* Whether the job can pause now (BACKEND_CAN_PAUSE is then a
	 * question per job); optional. */
	bool (*can_pause)(struct backend *be, const char *remote_id);
	/* Whether the backend can run `job` as the spec gives it: 0, or
	 * -EINVAL with the reason; optional, asked by plan and submit. */
	int (*check_job)(struct backend *be, const struct backend_job *job,
			 char *err, size_t errlen);
	/* Finds the job tagged with `intent_key`: rc 0, or -ENOENT. */
	void (*find)(struct backend *be, const char *intent_key,
		     backend_submit_cb cb, void *arg);
	/* Status, and metrics after `cursor` (NULL: from the start). */
	void (*poll)(struct backend *be, const char *remote_id,
		     const char *cursor, backend_poll_cb cb, void *arg);
	void (*control)(struct backend *be, const char *remote_id,
			enum backend_action action, backend_done_cb cb,
			void *arg);
	/* Every live job of ours the provider holds, then done(). */
	void (*list_owned)(struct backend *be, backend_owned_cb each,
			   backend_done_cb done, void *arg);
	/* Asks the provider whether it accepts each grader (an object of
	 * name -> grader); rc -EINVAL with the provider's word when not.
	 * Optional. */
	void (*preflight)(struct backend *be, const cJSON *graders,
			  backend_done_cb cb, void *arg);
	/* Expected training hours of a job (the worst case is the sweep's
	 * max_job_hours). */
	double (*estimate_hours)(struct backend *be,
				 const struct backend_job *job);
	/* The training steps a job will take, spread evenly over its hours:
	 * > 0, or 0 when the backend cannot say.  Optional (a plan's
	 * expected cost under early stopping needs it). */
	int64_t (*estimate_steps)(struct backend *be,
				  const struct backend_job *job);
	/* What its jobs report; NULL: not known, nothing is checked. */
	const struct backend_metrics *metrics;
	/* Applies a reloaded configuration of the same type. */
	void (*reconfigure)(struct backend *be,
			    const struct config_backend *cfg);
	/* Ends every call under way (callbacks get -ECANCELED) and closes
	 * loop handles; optional. */
	void (*close)(struct backend *be);
	/* Frees it, once the loop has stopped. */
	void (*destroy)(struct backend *be);
};

/*
 * What a backend may use of the daemon, and no more: the loop, the store
 * (its own tables: the simulator's jobs, the provider file cache), and
 * a way to deliver a round of answers in one unit of store writes, which
 * the scheduler opens (a backend never opens a transaction itself).
 */
struct backend_env {
	uv_loop_t *loop;
	struct store *store;
	/* Around the callbacks of one round of polls: begin, then end. */
	void (*round)(void *arg, bool begin);
	void *arg;
};

struct backend {
	const struct backend_ops *ops;
	char *name;		     /* the [backend "NAME"] */
	unsigned int caps;	     /* enum backend_caps */
	unsigned int max_concurrent; /* jobs running at once */
	double time_scale;	     /* billed seconds per real second */
	double poll_interval;	     /* seconds between polls; 0: each tick */
	double gpus_per_job;	     /* GPUs a job holds, for per_gpu_hour */
	/* Submissions wait until then (a provider's quota); 0: none. */
	double hold_until;
	char hold_reason[256];
	const struct backend_env *env;
	void *priv; /* the implementation's state */
};

/*
 * A type of backend: one file implements it, one line of backend.c
 * registers it.  Its option table (struct config_option, offsets into a
 * struct of opts_size bytes) is read, defaulted and printed by config.c.
 */
struct config_check;
struct backend_type {
	const char *name;
	const char *help; /* one line, printed by `rftd -n` */
	const struct config_option *options;
	size_t noptions;
	size_t opts_size;
	/* After the options are read: defaults that depend on others, and
	 * how they fit; problems go to config_check_error().  Optional. */
	void (*check_config)(struct config_backend *cfg,
			     struct config_check *check);
	/* Before the daemon starts or takes a reloaded configuration: what
	 * the host must provide (a readable key, a writable directory).
	 * 0, or -EINVAL with the reason in `err`.  Optional. */
	int (*check_host)(const struct config_backend *cfg, char *err,
			  size_t errlen);
	struct backend *(*create)(const struct backend_env *env,
				  const struct config_backend *cfg);
};

/* The registry: NULL-terminated. */
extern const struct backend_type *const backend_types[];
const struct backend_type *backend_type_find(const char *name);

extern const struct backend_type sim_backend_type;
extern const struct backend_type openai_backend_type;
extern const struct backend_type process_backend_type;

/* Creates the backends of the configuration; fatal on failure. */
void backends_init(struct daemon *d);
/* Applies a reloaded configuration to the backends (same names/types). */
void backends_reconfigure(struct daemon *d);
/* Ends their calls under way, at shutdown. */
void backends_close(struct daemon *d);
void backends_free(struct daemon *d);
/* The backend called `name`, or NULL. */
struct backend *backend_find(struct daemon *d, const char *name);
/* Whether job `remote_id` (NULL: none yet) of `be` can pause. */
bool backend_can_pause(struct backend *be, const char *remote_id);

enum backend_reports {
	BACKEND_REPORTS_NO,
	BACKEND_REPORTS_YES,
	BACKEND_REPORTS_MAYBE, /* not a name rftd knows; a trainer's may come */
	BACKEND_REPORTS_UNKNOWN, /* the type does not say what it reports */
};

/*
 * Whether the jobs of `be` report metric `name`.  `graders` (NULL-ended)
 * are the keys that per-grader names may carry.
 */
enum backend_reports backend_reports(const struct backend *be, const char *name,
				     const char *const *graders);
/* Every backend's check_host(): 0, or -EINVAL with "backend NAME: why". */
int backends_check_host(const struct config *cfg, char *err, size_t errlen);

#endif
