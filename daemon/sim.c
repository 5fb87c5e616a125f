/*
 * The simulated backend: jobs that behave like RFT jobs in simulated
 * time, for rehearsals, the demo and tests.  Nothing is trained and
 * nothing is paid; everything it makes is marked simulated.
 *
 * A job's whole life is a pure function of what was submitted and of its
 * elapsed simulated time, so its state and metrics are reproducible from
 * the trial's seed.  The jobs themselves are kept in the store (sim_jobs)
 * so that, like a provider's, they outlive an rftd restart.
 *
 * Life of a job, in simulated seconds E:
 *   [0, V)        validating_files
 *   [V, V+Q)      queued
 *   [V+Q, ...)    running: step k ends at V+Q+k*step_secs, total S steps
 *   then          succeeded, or failed at fail_step (failure_rate)
 * Each step reports train_reward_mean; every eval_interval steps (and the
 * last) valid_reward_mean; with per-grader scores and the provider's raw
 * names next to the canonical ones.  Rewards follow a saturating curve,
 * as fast as the steps of an epoch and the learning rate make it, toward
 * a plateau that depends on the grader and hyperparameters (an optimum
 * near learning_rate_multiplier 1.2, gains from epochs, a little
 * overfitting beyond 6) plus seeded noise.
 */
#include "backend.h"

#include "config.h"
#include "jsonutil.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SIM_EXAMPLES	   300 /* training examples assumed per epoch */
#define SIM_MAX_STEPS	   2000
#define SIM_VALIDATING	   300.0 /* simulated seconds */
#define SIM_MAX_POLL_STEPS 500	 /* steps reported by one poll */
#define SIM_MAX_GRADERS	   8	 /* per-grader scores reported */

struct sim {
	double speed;
	double failure_rate;
	double pause_after_hours; /* the provider's own pause; 0: none */
	struct sim_known *known;  /* models worked out, by remote id */
	size_t nknown, known_cap; /* (open addressing; cap a power of 2) */
	char **names;		  /* grader and model names, each once */
	size_t nnames;
};

/* `name`, kept once for the simulator's life: jobs share a few names. */
static const char *
sim_name(struct sim *sim, const char *name)
{
	for (size_t i = 0; i < sim->nnames; i++)
		if (strcmp(sim->names[i], name) == 0)
			return sim->names[i];
	sim->names =
	    xrealloc(sim->names, (sim->nnames + 1) * sizeof(*sim->names));
	return sim->names[sim->nnames++] = xstrdup(name);
}

/* What a submitted job will do, derived from its request. */
struct sim_model {
	int64_t steps;
	double step_secs;
	double queued_secs;
	int64_t eval_interval;
	int64_t fail_step; /* 0: it does not fail */
	double plateau;
	double tau;
	uint64_t noise_seed;
	int ngraders;
	const char *grader_names[SIM_MAX_GRADERS]; /* in the sim's names */
	double grader_bias[SIM_MAX_GRADERS];
};

/*
 * A job's model, kept once worked out: it follows from the job's request,
 * which never changes, and the failure rate (a new one forgets them all).
 */
struct sim_known {
	char remote_id[64]; /* "": a free entry */
	struct sim_model m;
	const char *model; /* the request's base model, in the sim's names */
};

#define SIM_KNOWN_MAX 65536 /* models kept at most; then forgotten */

static uint64_t
mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return mix(h);
}

/* A uniform number in [0, 1) from a key. */
static double
uniform(uint64_t key)
{
	return (double)(mix(key) >> 11) / 9007199254740992.0;
}

/* A standard normal number from a key (Box-Muller). */
static double
normal(uint64_t key)
{
	double u1 = uniform(key) + 1e-12, u2 = uniform(key ^ 0x5bd1e995ull);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static const char *
hp_string(const cJSON *hps, const char *name, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(hps, name);

	return cJSON_IsString(v) && strcmp(v->valuestring, "auto") != 0
		   ? v->valuestring
		   : def;
}

static double
grader_level(const char *type)
{
	static const struct {
		const char *type;
		double level;
	} levels[] = {{"string_check", 0.62},
		      {"text_similarity", 0.70},
		      {"python", 0.74},
		      {"score_model", 0.78},
		      {"multi", 0.80}};

	for (size_t i = 0; i < ARRAY_LEN(levels); i++)
		if (type != NULL && strcmp(type, levels[i].type) == 0)
			return levels[i].level;
	return 0.65;
}

static void
model_graders(struct sim *sim, struct sim_model *m, const cJSON *grader,
	      const char *name)
{
	const cJSON *subs = cJSON_GetObjectItemCaseSensitive(grader, "graders");
	const cJSON *g;

	if (!cJSON_IsObject(subs)) {
		m->grader_names[0] = sim_name(sim, name);
		m->grader_bias[0] = 0;
		m->ngraders = 1;
		return;
	}
	cJSON_ArrayForEach(g, subs)
	{
		if (m->ngraders == SIM_MAX_GRADERS)
			break;
		m->grader_names[m->ngraders] = sim_name(sim, g->string);
		m->grader_bias[m->ngraders] =
		    0.15 * (uniform(hash_str(g->string)) - 0.5);
		m->ngraders++;
	}
}

static void
model_init(struct sim *sim, struct sim_model *m, const cJSON *req)
{
	double failure_rate = sim->failure_rate;
	const cJSON *hps =
	    cJSON_GetObjectItemCaseSensitive(req, "hyperparameters");
	const cJSON *grader = cJSON_GetObjectItemCaseSensitive(req, "grader");
	const cJSON *gtype = cJSON_GetObjectItemCaseSensitive(grader, "type");
	const cJSON *gname =
	    cJSON_GetObjectItemCaseSensitive(req, "grader_name");
	const cJSON *intent =
	    cJSON_GetObjectItemCaseSensitive(req, "intent_key");
	double epochs = json_number(hps, "n_epochs", 2);
	double batch = json_number(hps, "batch_size", 16);
	double lr = json_number(hps, "learning_rate_multiplier", 1.0);
	double compute = json_number(hps, "compute_multiplier", 1.0);
	const char *effort = hp_string(hps, "reasoning_effort", "medium");
	double effort_time = 1.0, effort_gain = 1.0;
	char *canon = json_canonical(req);
	uint64_t trial_key;
	double lr_fit;

	memset(m, 0, sizeof(*m));
	if (strcmp(effort, "low") == 0) {
		effort_time = 0.7;
		effort_gain = 0.96;
	} else if (strcmp(effort, "high") == 0) {
		effort_time = 1.4;
		effort_gain = 1.02;
	}
	m->steps = (int64_t)epochs * (int64_t)ceil(SIM_EXAMPLES / batch);
	if (m->steps > SIM_MAX_STEPS)
		m->steps = SIM_MAX_STEPS;
	if (m->steps < 1)
		m->steps = 1;
	m->step_secs = 45.0 * compute * effort_time * sqrt(batch / 16.0);
	m->eval_interval = (int64_t)json_number(hps, "eval_interval",
						fmax(1, (double)m->steps / 10));
	if (m->eval_interval < 1)
		m->eval_interval = 1;

	/* The trial (not the attempt) decides the curve: seed + settings. */
	{
		cJSON *trial = cJSON_Duplicate(req, 1);
		char *t;

		/* Identity's view: the grader's key is only a label. */
		cJSON_DeleteItemFromObjectCaseSensitive(trial, "intent_key");
		cJSON_DeleteItemFromObjectCaseSensitive(trial, "grader_name");
		t = json_canonical(trial);
		trial_key = hash_str(t);
		free(t);
		cJSON_Delete(trial);
	}
	m->noise_seed = trial_key;
	lr_fit = exp(-pow(log(lr / 1.2), 2) / (2 * 0.7 * 0.7));
	m->plateau =
	    grader_level(cJSON_IsString(gtype) ? gtype->valuestring : NULL) +
	    0.06 * (uniform(trial_key ^ 17) - 0.5);
	m->plateau *= (0.55 + 0.45 * lr_fit) * effort_gain;
	m->plateau *= 1.0 - 0.25 * exp(-epochs / 1.5);
	if (epochs > 6)
		m->plateau -= 0.01 * (epochs - 6);
	m->plateau = fmin(0.98, fmax(0.05, m->plateau));
	/* Learning goes with the updates made, not with the epochs
	 * planned: at a given step, runs that differ only in n_epochs are
	 * alike (early stopping compares trials at equal steps). */
	m->tau =
	    fmax(1.0, ceil(SIM_EXAMPLES / batch) * 0.5 / sqrt(fmax(lr, 0.01)));

	/* The attempt decides queueing and failures, so a retry can work. */
	{
		uint64_t attempt_key = hash_str(
		    cJSON_IsString(intent) ? intent->valuestring : canon);

		m->queued_secs = 120.0 + 600.0 * uniform(attempt_key ^ 3);
		if (uniform(attempt_key ^ 7) < failure_rate)
			m->fail_step =
			    1 +
			    (int64_t)((double)m->steps *
				      (0.1 + 0.8 * uniform(attempt_key ^ 11)));
	}
	model_graders(sim, m, grader,
		      cJSON_IsString(gname) ? gname->valuestring : "grader");
	free(canon);
}

static double
reward(const struct sim_model *m, int64_t step, uint64_t stream, double sd)
{
	double base = m->plateau * (1.0 - exp(-(double)step / m->tau));
	double r =
	    base + sd * normal(m->noise_seed ^ mix((uint64_t)step) ^ stream);

	return fmin(1.0, fmax(0.0, r));
}

/* --- metrics of a poll ---------------------------------------------------- */

struct metric_buf {
	struct backend_metric *items;
	size_t n, cap;
	char *names; /* storage for per-grader names */
	size_t names_used, names_cap;
};

/* Stores "grader.NAME.SPLIT_reward_mean" in the buffer's name storage. */
static const char *
intern(struct metric_buf *b, const char *grader, const char *split)
{
	char name[160];
	size_t len;

	snprintf(name, sizeof(name), "grader.%.64s.%s_reward_mean", grader,
		 split);
	len = strlen(name) + 1;
	if (b->names_used + len > b->names_cap)
		return NULL; /* sized up front; cannot happen */
	memcpy(b->names + b->names_used, name, len);
	b->names_used += len;
	return b->names + b->names_used - len;
}

static void
add_metric(struct metric_buf *b, int64_t step, const char *name, double v)
{
	if (name == NULL)
		return;
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 256;
		b->items = xrealloc(b->items, b->cap * sizeof(*b->items));
	}
	b->items[b->n++] = (struct backend_metric){step, name, v};
}

static void
step_metrics(const struct sim_model *m, struct metric_buf *b, int64_t step,
	     const char *const *train_names, const char *const *valid_names)
{
	double train = reward(m, step, 1, 0.03);
	bool eval = step % m->eval_interval == 0 || step == m->steps;

	add_metric(b, step, "train_reward_mean", train);
	add_metric(b, step, "train_mean_reward", train);
	for (int g = 0; g < m->ngraders; g++)
		add_metric(b, step, train_names[g],
			   fmin(1, fmax(0, train + m->grader_bias[g])));
	if (!eval)
		return;
	{
		double valid = reward(m, step, 2, 0.015) - 0.02;

		valid = fmax(0, valid);
		add_metric(b, step, "valid_reward_mean", valid);
		add_metric(b, step, "full_valid_mean_reward", valid);
		for (int g = 0; g < m->ngraders; g++)
			add_metric(b, step, valid_names[g],
				   fmin(1, fmax(0, valid + m->grader_bias[g])));
	}
}

/* --- checkpoints: one at each evaluation, as RFT keeps them -------------- */

struct checkpoint_buf {
	struct backend_checkpoint *items;
	size_t n;
};

static const char *
model_of(const cJSON *req)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(req, "model");

	return cJSON_IsString(m) ? m->valuestring : "model";
}

static void
add_checkpoint(struct checkpoint_buf *c, const struct sim_model *m,
	       const char *remote_id, const char *model, int64_t step)
{
	struct backend_checkpoint *k;
	cJSON *metrics = cJSON_CreateObject();

	c->items = xrealloc(c->items, (c->n + 1) * sizeof(*c->items));
	k = &c->items[c->n++];
	k->step = step;
	k->remote_id =
	    xasprintf("ftckpt_sim_%s_%lld", remote_id + 7, (long long)step);
	k->model = xasprintf("ft:%.200s:sim::%.40s:ckpt-step-%lld", model,
			     remote_id + 7, (long long)step);
	cJSON_AddNumberToObject(metrics, "step", (double)step);
	cJSON_AddNumberToObject(metrics, "train_reward_mean",
				reward(m, step, 1, 0.03));
	cJSON_AddNumberToObject(metrics, "valid_reward_mean",
				fmax(0, reward(m, step, 2, 0.015) - 0.02));
	k->metrics = cJSON_PrintUnformatted(metrics);
	cJSON_Delete(metrics);
}

static void
checkpoints_free(struct checkpoint_buf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free((char *)c->items[i].remote_id);
		free((char *)c->items[i].model);
		free((char *)c->items[i].metrics);
	}
	free(c->items);
}

/* --- the operations ------------------------------------------------------- */

static void
random_hex(char *out, size_t bytes)
{
	unsigned char buf[32];

	if (bytes > sizeof(buf) || getrandom(buf, bytes, 0) != (ssize_t)bytes)
		fatal("getrandom");
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", buf[i]);
}

static void
sim_submit(struct backend *be, const struct backend_job *job,
	   backend_submit_cb cb, void *arg)
{
	struct store_sim_job sj = {0};
	cJSON *req = cJSON_CreateObject();
	char hex[25];
	int rc;

	cJSON_AddStringToObject(req, "intent_key", job->intent_key);
	cJSON_AddStringToObject(req, "model", job->model);
	cJSON_AddStringToObject(req, "grader_name", job->grader_name);
	cJSON_AddItemToObject(req, "grader", cJSON_Duplicate(job->grader, 1));
	cJSON_AddItemToObject(req, "hyperparameters",
			      cJSON_Duplicate(job->hyperparameters, 1));
	if (job->has_seed)
		cJSON_AddNumberToObject(req, "seed", (double)job->seed);
	random_hex(hex, 12);
	snprintf(sj.remote_id, sizeof(sj.remote_id), "simjob-%s", hex);
	snprintf(sj.intent_key, sizeof(sj.intent_key), "%s", job->intent_key);
	sj.request = cJSON_PrintUnformatted(req);
	sj.created_at = now_wall();
	sj.active_since = sj.created_at;
	snprintf(sj.control, sizeof(sj.control), "active");
	rc = store_sim_insert(be->env->store, &sj);
	cb(arg, rc, rc == 0 ? sj.remote_id : NULL,
	   rc == 0 ? NULL : "simulator: cannot record the job");
	free(sj.request);
	cJSON_Delete(req);
}

static void
sim_find(struct backend *be, const char *intent_key, backend_submit_cb cb,
	 void *arg)
{
	struct store_sim_job sj;
	int rc = store_sim_get(be->env->store, NULL, intent_key, &sj);

	cb(arg, rc, rc == 0 ? sj.remote_id : NULL, NULL);
	if (rc == 0)
		free(sj.request);
}

static double
sim_elapsed(const struct sim *sim, const struct store_sim_job *sj, double now)
{
	double e = sj->elapsed;

	if (sj->active_since > 0 && now > sj->active_since)
		e += (now - sj->active_since) * sim->speed;
	return e;
}

static void
known_forget(struct sim *sim)
{
	free(sim->known);
	sim->known = NULL;
	sim->nknown = sim->known_cap = 0;
}

static struct sim_known *
known_slot(struct sim_known *known, size_t cap, const char *remote_id)
{
	size_t i = (size_t)hash_str(remote_id) & (cap - 1);

	while (known[i].remote_id[0] != '\0' &&
	       strcmp(known[i].remote_id, remote_id) != 0)
		i = (i + 1) & (cap - 1);
	return &known[i];
}

/* The model of a recorded job, worked out once. */
static const struct sim_known *
sim_known(struct sim *sim, const struct store_sim_job *sj)
{
	struct sim_known *k;
	cJSON *req;

	if (sim->known_cap > 0) {
		k = known_slot(sim->known, sim->known_cap, sj->remote_id);
		if (k->remote_id[0] != '\0')
			return k;
	}
	if (4 * (sim->nknown + 1) > 3 * sim->known_cap) {
		struct sim_known *old = sim->known;
		size_t cap = sim->known_cap;

		if (sim->nknown >= SIM_KNOWN_MAX) {
			known_forget(sim);
			old = NULL;
			cap = 0;
		}
		sim->known_cap = sim->known_cap ? 2 * sim->known_cap : 64;
		sim->known = xcalloc(sim->known_cap, sizeof(*sim->known));
		for (size_t i = 0; i < cap; i++)
			if (old[i].remote_id[0] != '\0')
				*known_slot(sim->known, sim->known_cap,
					    old[i].remote_id) = old[i];
		free(old);
	}
	k = known_slot(sim->known, sim->known_cap, sj->remote_id);
	req = cJSON_Parse(sj->request);
	model_init(sim, &k->m, req);
	k->model = sim_name(sim, model_of(req));
	snprintf(k->remote_id, sizeof(k->remote_id), "%s", sj->remote_id);
	sim->nknown++;
	cJSON_Delete(req);
	return k;
}

static void
sim_poll(struct backend *be, const char *remote_id, const char *cursor,
	 backend_poll_cb cb, void *arg)
{
	struct sim *sim = be->priv;
	struct store_sim_job sj;
	struct sim_model m;
	struct backend_poll p = {.billed_seconds = 0, .cost_usd = -1};
	struct metric_buf b = {0};
	struct checkpoint_buf ck = {0};
	const char *train_names[SIM_MAX_GRADERS], *valid_names[SIM_MAX_GRADERS];
	char next_cursor[32], model_name[320];
	int64_t done, from = 0, last_step;
	const struct sim_known *k;
	double e, run;
	int rc;

	rc = store_sim_get(be->env->store, remote_id, NULL, &sj);
	if (rc != 0) {
		cb(arg, rc, NULL, "simulator: no such job");
		return;
	}
	k = sim_known(sim, &sj);
	m = k->m;
	e = sim_elapsed(sim, &sj, now_wall());
	run = e - SIM_VALIDATING - m.queued_secs;
	/* The cap bites once: when training crosses it while active. */
	if (sim->pause_after_hours > 0 && sj.active_since > 0 &&
	    strcmp(sj.control, "resumed") != 0 &&
	    sj.elapsed - SIM_VALIDATING - m.queued_secs <
		sim->pause_after_hours * 3600 &&
	    run >= sim->pause_after_hours * 3600 &&
	    run < (double)m.steps * m.step_secs) {
		/* The provider pauses the job on its own (once, at the cap). */
		double over = (run - sim->pause_after_hours * 3600);

		sj.elapsed = e - over;
		sj.active_since = 0;
		snprintf(sj.control, sizeof(sj.control), "provider-paused");
		store_sim_update(be->env->store, &sj);
		e = sj.elapsed;
		run = e - SIM_VALIDATING - m.queued_secs;
	}
	last_step = m.fail_step ? m.fail_step : m.steps;
	done = run <= 0 ? 0 : (int64_t)(run / m.step_secs);
	if (done > last_step)
		done = last_step;
	p.billed_seconds = fmin(fmax(run, 0), (double)last_step * m.step_secs);

	if (strcmp(sj.control, "cancelled") == 0) {
		p.state = JOB_CANCELLED;
		p.provider_status = "cancelled";
	} else if (m.fail_step && done >= m.fail_step) {
		p.state = JOB_FAILED;
		p.provider_status = "failed";
		p.error = "simulated failure: the grader timed out";
	} else if (done >= m.steps) {
		p.state = JOB_SUCCEEDED;
		p.provider_status = "succeeded";
		snprintf(model_name, sizeof(model_name), "ft:%.200s:sim::%.40s",
			 k->model, sj.remote_id + 7);
		p.fine_tuned_model = model_name;
	} else if (strcmp(sj.control, "paused") == 0 ||
		   strcmp(sj.control, "provider-paused") == 0) {
		p.state = JOB_PAUSED;
		p.provider_status = "paused";
	} else if (e < SIM_VALIDATING) {
		p.state = JOB_VALIDATING;
		p.provider_status = "validating_files";
	} else if (run < 0) {
		p.state = JOB_QUEUED;
		p.provider_status = "queued";
	} else {
		p.state = JOB_RUNNING;
		p.provider_status = "running";
	}

	if (cursor != NULL && parse_i64(cursor, 0, INT64_MAX, &from) != 0)
		from = 0;
	if (done > from + SIM_MAX_POLL_STEPS)
		done = from + SIM_MAX_POLL_STEPS;
	b.names_cap = (size_t)m.ngraders * 2 * 160;
	b.names = xmalloc(b.names_cap ? b.names_cap : 1);
	for (int g = 0; g < m.ngraders; g++) {
		train_names[g] = intern(&b, m.grader_names[g], "train");
		valid_names[g] = intern(&b, m.grader_names[g], "valid");
	}
	for (int64_t step = from + 1; step <= done; step++) {
		step_metrics(&m, &b, step, train_names, valid_names);
		if (step % m.eval_interval == 0 || step == m.steps)
			add_checkpoint(&ck, &m, sj.remote_id, k->model, step);
	}
	snprintf(next_cursor, sizeof(next_cursor), "%lld",
		 (long long)(done > from ? done : from));
	p.metrics = b.items;
	p.nmetrics = b.n;
	p.checkpoints = ck.items;
	p.ncheckpoints = ck.n;
	p.cursor = next_cursor;
	cb(arg, 0, &p, NULL);
	free(b.items);
	free(b.names);
	checkpoints_free(&ck);
	free(sj.request);
}

/* Whether the job has ended by `now`: all its steps trained, or failed. */
static bool
sim_ended(struct sim *sim, const struct store_sim_job *sj, double now)
{
	const struct sim_model *m = &sim_known(sim, sj)->m;
	double run =
	    sim_elapsed(sim, sj, now) - SIM_VALIDATING - m->queued_secs;

	return run >=
	       (double)(m->fail_step ? m->fail_step : m->steps) * m->step_secs;
}

static void
sim_control(struct backend *be, const char *remote_id,
	    enum backend_action action, backend_done_cb cb, void *arg)
{
	struct sim *sim = be->priv;
	struct store_sim_job sj;
	double now = now_wall();
	const char *error = NULL;
	int rc;

	rc = store_sim_get(be->env->store, remote_id, NULL, &sj);
	if (rc != 0) {
		cb(arg, rc, "simulator: no such job");
		return;
	}
	if (strcmp(sj.control, "cancelled") == 0) {
		rc = -EALREADY;
		error = "the job is cancelled";
	} else if (sim_ended(sim, &sj, now)) {
		/* As a provider refuses to stop a job that has ended. */
		rc = -EALREADY;
		error = "the job has ended";
	} else if (action == BACKEND_CANCEL || action == BACKEND_PAUSE) {
		if (action == BACKEND_PAUSE &&
		    strcmp(sj.control, "paused") == 0) {
			rc = -EALREADY;
			error = "the job is already paused";
		} else {
			sj.elapsed = sim_elapsed(sim, &sj, now);
			sj.active_since = 0;
			snprintf(sj.control, sizeof(sj.control), "%s",
				 action == BACKEND_CANCEL ? "cancelled"
							  : "paused");
		}
	} else if (strcmp(sj.control, "paused") != 0 &&
		   strcmp(sj.control, "provider-paused") != 0) {
		rc = -EALREADY;
		error = "the job is not paused";
	} else {
		/* After the provider's own pause, no further cap applies. */
		bool capped = strcmp(sj.control, "provider-paused") == 0;

		sj.active_since = now;
		snprintf(sj.control, sizeof(sj.control), "%s",
			 capped ? "resumed" : "active");
	}
	if (rc == 0)
		rc = store_sim_update(be->env->store, &sj);
	free(sj.request);
	cb(arg, rc, error);
}

static void
sim_list_owned(struct backend *be, backend_owned_cb each, backend_done_cb done,
	       void *arg)
{
	/* Every simulated job is recorded with its job row; none to adopt. */
	(void)be;
	(void)each;
	done(arg, 0, NULL);
}

/* The model a job would follow, from what a plan knows of it. */
static void
model_of_job(struct backend *be, const struct backend_job *job,
	     struct sim_model *m)
{
	struct sim *sim = be->priv;
	cJSON *req = cJSON_CreateObject();

	cJSON_AddItemToObject(req, "hyperparameters",
			      cJSON_Duplicate(job->hyperparameters, 1));
	cJSON_AddItemToObject(req, "grader", cJSON_Duplicate(job->grader, 1));
	model_init(sim, m, req);
	cJSON_Delete(req);
}

static double
sim_estimate_hours(struct backend *be, const struct backend_job *job)
{
	struct sim_model m;

	model_of_job(be, job, &m);
	return (double)m.steps * m.step_secs / 3600.0;
}

static int64_t
sim_estimate_steps(struct backend *be, const struct backend_job *job)
{
	struct sim_model m;

	model_of_job(be, job, &m);
	return m.steps;
}

/* What step_metrics() reports, the provider's raw names included. */
static const char *const sim_metric_names[] = {
    "train_reward_mean",
    "valid_reward_mean",
    "train_mean_reward",
    "full_valid_mean_reward",
    NULL,
};

static const struct backend_metrics sim_metrics = {
    .names = sim_metric_names,
    .per_grader = true,
};

/* The options of a [backend] of type sim. */
struct sim_config {
	double speed;		  /* simulated seconds per real second */
	double failure_rate;	  /* probability that a job fails */
	double pause_after_hours; /* the provider pauses jobs (0: never) */
};

#define SC(field) offsetof(struct sim_config, field)

static const struct config_option sim_options[] = {
    {"speed", CONFIG_DOUBLE, SC(speed), 1, 1e7, true,
     "sim: simulated seconds per real second (3600: an hour a second)", "3600"},
    {"failure_rate", CONFIG_DOUBLE, SC(failure_rate), 0, 1, true,
     "sim: probability that a job fails part way", "0"},
    {"pause_after_hours", CONFIG_DOUBLE, SC(pause_after_hours), 0, 1e6, true,
     "sim: the provider pauses a job after this much training, as Azure "
     "does at its cost cap (0: never)",
     "0"},
};

static void
sim_reconfigure(struct backend *be, const struct config_backend *cfg)
{
	struct sim *sim = be->priv;
	const struct sim_config *sc = cfg->opts;

	sim->speed = sc->speed;
	be->time_scale = sc->speed;
	if (sim->failure_rate != sc->failure_rate)
		known_forget(sim); /* worked out with the old rate */
	sim->failure_rate = sc->failure_rate;
	sim->pause_after_hours = sc->pause_after_hours;
	be->max_concurrent = cfg->max_concurrent;
}

static void
sim_destroy(struct backend *be)
{
	struct sim *sim = be->priv;

	known_forget(sim);
	for (size_t i = 0; i < sim->nnames; i++)
		free(sim->names[i]);
	free(sim->names);
	free(be->priv);
	free(be->name);
	free(be);
}

static const struct backend_ops sim_ops = {
    .type = "sim",
    .submit = sim_submit,
    .find = sim_find,
    .poll = sim_poll,
    .control = sim_control,
    .list_owned = sim_list_owned,
    .estimate_hours = sim_estimate_hours,
    .estimate_steps = sim_estimate_steps,
    .metrics = &sim_metrics,
    .reconfigure = sim_reconfigure,
    .destroy = sim_destroy,
};

static struct backend *
sim_create(const struct backend_env *env, const struct config_backend *cfg)
{
	struct backend *be = xcalloc(1, sizeof(*be));

	be->ops = &sim_ops;
	be->name = xstrdup(cfg->name);
	be->caps = BACKEND_CAN_PAUSE | BACKEND_SIMULATED;
	be->env = env;
	be->priv = xcalloc(1, sizeof(struct sim));
	sim_reconfigure(be, cfg);
	return be;
}

/* Simulated jobs cost simulated dollars: $100 an hour, like o4-mini,
 * unless the configuration prices the backend. */
static void
sim_check_config(struct config_backend *cfg, struct config_check *check)
{
	(void)cfg;
	config_check_default_price(check, "*", 100);
}

const struct backend_type sim_backend_type = {
    .name = "sim",
    .help = "the built-in simulator: nothing is trained or paid",
    .options = sim_options,
    .noptions = ARRAY_LEN(sim_options),
    .opts_size = sizeof(struct sim_config),
    .check_config = sim_check_config,
    .create = sim_create,
};
