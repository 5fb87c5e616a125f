/* The backend types, and the backends of the configuration (backend.h). */
#include "backend.h"

#include "daemon.h"
#include "log.h"
#include "scheduler.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct backend_type *const backend_types[] = {
    &sim_backend_type,
    &openai_backend_type,
    &process_backend_type,
    NULL,
};

const struct backend_type *
backend_type_find(const char *name)
{
	for (size_t i = 0; backend_types[i] != NULL; i++)
		if (strcmp(backend_types[i]->name, name) == 0)
			return backend_types[i];
	return NULL;
}

bool
backend_can_pause(struct backend *be, const char *remote_id)
{
	if (be == NULL || !(be->caps & BACKEND_CAN_PAUSE))
		return false;
	return be->ops->can_pause == NULL || be->ops->can_pause(be, remote_id);
}

/* Whether `name` is grader.KEY.SPLIT_reward_mean with KEY in `graders`. */
static bool
per_grader_name(const char *name, const char *const *graders)
{
	static const char *const splits[] = {".train_reward_mean",
					     ".valid_reward_mean"};
	size_t len = strlen(name);

	if (strncmp(name, "grader.", 7) != 0 || graders == NULL)
		return false;
	for (size_t i = 0; i < ARRAY_LEN(splits); i++) {
		size_t slen = strlen(splits[i]);

		if (len <= 7 + slen ||
		    strcmp(name + len - slen, splits[i]) != 0)
			continue;
		for (const char *const *g = graders; *g != NULL; g++)
			if (strlen(*g) == len - 7 - slen &&
			    strncmp(name + 7, *g, len - 7 - slen) == 0)
				return true;
	}
	return false;
}

enum backend_reports
backend_reports(const struct backend *be, const char *name,
		const char *const *graders)
{
	const struct backend_metrics *m = be->ops->metrics;

	if (m == NULL)
		return BACKEND_REPORTS_UNKNOWN;
	for (const char *const *n = m->names; *n != NULL; n++)
		if (strcmp(*n, name) == 0)
			return BACKEND_REPORTS_YES;
	if (m->per_grader && per_grader_name(name, graders))
		return BACKEND_REPORTS_YES;
	return m->open ? BACKEND_REPORTS_MAYBE : BACKEND_REPORTS_NO;
}

/* A round of answers is one unit of the scheduler's store writes. */
static void
env_round(void *arg, bool begin)
{
	struct daemon *d = arg;

	if (d->sched != NULL)
		scheduler_round(d->sched, begin);
}

int
backends_check_host(const struct config *cfg, char *err, size_t errlen)
{
	char why[512];

	for (size_t i = 0; i < cfg->nbackends; i++) {
		const struct config_backend *be = &cfg->backends[i];

		if (be->type->check_host != NULL &&
		    be->type->check_host(be, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "backend %s: %s", be->name, why);
			return -EINVAL;
		}
	}
	return 0;
}

void
backends_init(struct daemon *d)
{
	struct backend_env *env = xcalloc(1, sizeof(*env));

	*env = (struct backend_env){
	    .loop = &d->loop,
	    .store = d->store,
	    .round = env_round,
	    .arg = d,
	};
	d->backend_env = env;
	d->backends = xcalloc(d->cfg.nbackends, sizeof(*d->backends));
	for (size_t i = 0; i < d->cfg.nbackends; i++) {
		const struct config_backend *c = &d->cfg.backends[i];
		struct backend *be = c->type->create(env, c);

		d->backends[d->nbackends++] = be;
		log_info("backend %s: %s%s, at most %u jobs at once", c->name,
			 c->type->name,
			 be->caps & BACKEND_SIMULATED ? " (simulated)" : "",
			 be->max_concurrent);
	}
}

void
backends_reconfigure(struct daemon *d)
{
	for (size_t i = 0; i < d->nbackends; i++) {
		const struct config_backend *c =
		    config_backend(&d->cfg, d->backends[i]->name);

		if (c != NULL && d->backends[i]->ops->reconfigure != NULL)
			d->backends[i]->ops->reconfigure(d->backends[i], c);
	}
}

void
backends_close(struct daemon *d)
{
	for (size_t i = 0; i < d->nbackends; i++)
		if (d->backends[i]->ops->close != NULL)
			d->backends[i]->ops->close(d->backends[i]);
}

void
backends_free(struct daemon *d)
{
	for (size_t i = 0; i < d->nbackends; i++)
		d->backends[i]->ops->destroy(d->backends[i]);
	free(d->backends);
	free(d->backend_env);
	d->backend_env = NULL;
	d->backends = NULL;
	d->nbackends = 0;
}

struct backend *
backend_find(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->nbackends; i++)
		if (strcmp(d->backends[i]->name, name) == 0)
			return d->backends[i];
	return NULL;
}
