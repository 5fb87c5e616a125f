/*
 * The service manager's protocols, written directly (no libsystemd):
 * sd_notify(3) messages (READY=1, STATUS=..., WATCHDOG=1, STOPPING=1)
 * and socket activation (sd_listen_fds(3)).
 */
#ifndef RFTD_NOTIFY_H
#define RFTD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Sends `msg` (newline-separated assignments) to $NOTIFY_SOCKET.
 * Returns 0 when sent, 1 when there is no NOTIFY_SOCKET, or -errno.
 */
int notify_send(const char *msg);

/*
 * The watchdog interval in microseconds from $WATCHDOG_USEC (when
 * $WATCHDOG_PID is unset or ours), or 0.
 */
uint64_t notify_watchdog_usec(void);

/*
 * The listening socket passed by the service manager: fd 3 when
 * $LISTEN_PID is ours and $LISTEN_FDS is 1 or more, after checking that
 * it is a listening Unix stream socket.  Returns the fd, -1 when none was
 * passed, or -EINVAL (with `err` filled) for one we cannot use.  Unsets
 * the variables so that children do not inherit them.
 */
int notify_listen_fd(char *err, size_t errlen);

#endif
