/* Placeholder until the dashboard lands. */
#include "dashboard.h"
#include "daemon.h"

#include <stdio.h>

int
dashboard_open(struct daemon *d, char *err, size_t errlen)
{
	if (d->cfg.http_listen == NULL)
		return 0;
	snprintf(err, errlen, "[http] listen: this rftd has no dashboard");
	return -1;
}

void
dashboard_close(struct daemon *d)
{
	(void)d;
}

void
dashboard_free(struct daemon *d)
{
	(void)d;
}
