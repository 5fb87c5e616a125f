/*
 * `rftctl watch`: follows a sweep by polling sweep.show until the sweep is
 * completed or cancelled.  Blocks; prints on stdout as it goes: text, or
 * under --json one JSON object a line (NDJSON; the objects are described
 * in rftctl(1)).
 */
#ifndef RFTCTL_WATCH_H
#define RFTCTL_WATCH_H

#include <stdint.h>

struct call_ctx;

struct watch_opts {
	double interval;  /* seconds between two questions to rftd */
	double heartbeat; /* a line at least this often (seconds) */
	double reconnect; /* give up when rftd is away longer; 0: at once */
};

/*
 * Follows sweep `id` (0: the newest running or paused one): a line per
 * trial state change, why pending trials wait (when that changes), a
 * heartbeat when nothing else was said for a while, on a terminal a live
 * progress line, and a last line when the sweep ends.  A connection lost
 * once rftd has answered (a restart) is said, and made again.  Returns
 * an exit status (call.h); when it is not EXIT_OK, why was told.
 */
int watch_sweep(struct call_ctx *ctx, int64_t id, const struct watch_opts *o);

#endif
