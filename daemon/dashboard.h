/*
 * The read-only dashboard: HTTP served from the daemon's own loop by
 * libh2o (built on libuv), off unless [http] listen is set.  Pages read
 * the store off the loop, as `rftctl sql` does (pages.h).
 */
#ifndef RFTD_DASHBOARD_H
#define RFTD_DASHBOARD_H

#include <stddef.h>

struct daemon;

/*
 * Starts listening when [http] listen is set (d->dashboard stays NULL
 * otherwise).  Returns 0, or -1 with `err` saying why (rftd then stops:
 * a dashboard asked for and not served is a configuration error).
 */
int dashboard_open(struct daemon *d, char *err, size_t errlen);

/* "http://HOST:PORT/" while the dashboard is served, else NULL. */
const char *dashboard_url(const struct daemon *d);

/*
 * Stops listening and closes every connection (idle ones at once, busy
 * ones after their answer); pages being read answer 503.  The loop can
 * end once all are gone.  Safe when not open, and more than once.
 */
void dashboard_close(struct daemon *d);

/* Frees what is left after the loop has ended. */
void dashboard_free(struct daemon *d);

#endif
