/* The backends of the configuration (see backend.h). */
#include "backend.h"

#include "daemon.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

void
backends_init(struct daemon *d)
{
	d->backends = xcalloc(d->cfg.nbackends, sizeof(*d->backends));
	for (size_t i = 0; i < d->cfg.nbackends; i++) {
		const struct config_backend *c = &d->cfg.backends[i];

		if (strcmp(c->type, "sim") == 0)
			d->backends[i] = sim_backend_new(d, c);
		else if (strcmp(c->type, "openai") == 0)
			d->backends[i] = openai_backend_new(d, c);
		else
			fatalx("backend %s: type %s is not implemented",
			       c->name, c->type);
		d->nbackends++;
		log_info("backend %s: %s%s, at most %u jobs at once", c->name,
			 c->type,
			 d->backends[i]->caps & BACKEND_SIMULATED
			     ? " (simulated)"
			     : "",
			 d->backends[i]->max_concurrent);
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
