/*
 * `rftctl watch`: follows a sweep by polling sweep.show until the sweep is
 * completed or cancelled.  Blocks; prints on stdout as it goes.
 */
#ifndef RFTCTL_WATCH_H
#define RFTCTL_WATCH_H

#include <stdint.h>

struct call_ctx;

/*
 * Follows sweep `id` (0: the newest running or paused one), asking every
 * `interval` seconds: a line per trial state change, on a terminal a live
 * progress line, and a last line when the sweep ends.  Returns an exit
 * status (call.h); when it is not EXIT_OK, why was said on stderr.
 */
int watch_sweep(struct call_ctx *ctx, int64_t id, double interval);

#endif
