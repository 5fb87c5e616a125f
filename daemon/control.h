/*
 * The control server: a Unix stream socket speaking the protocol of
 * common/PROTOCOL.md to rftctl and any other client.
 *
 * Each client is bounded: a frame cap (PROTO_MAX_FRAME), an output
 * high-water mark above which the client's input is no longer read, and
 * an idle timeout.  A bad frame gets an error reply and harms no one else.
 * Loop thread only.
 */
#ifndef RFTD_CONTROL_H
#define RFTD_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

struct daemon;
struct control;

/*
 * Creates the socket at `path`: refuses (-EADDRINUSE) when another rftd
 * answers there, removes a stale socket file, binds with mode 0600, or
 * 0660 and group `gid` when `gid` is not (gid_t)-1, and listens.  Returns
 * NULL with `err` filled on failure.
 */
struct control *control_open(struct daemon *d, const char *path, gid_t gid,
			     char *err, size_t errlen);

/*
 * Serves on `fd`, a listening socket handed over by the service manager
 * (socket activation).  The manager owns its path and mode; rftd does not
 * remove it.  Returns NULL with `err` filled on failure.
 */
struct control *control_open_fd(struct daemon *d, int fd, gid_t gid, char *err,
				size_t errlen);

/* Applies the reloadable limits of the current configuration. */
void control_set_limits(struct control *c, unsigned int idle_timeout_s,
			unsigned int max_clients);

/* The socket's path (NULL when a passed socket has none). */
const char *control_path(const struct control *c);

/* Connected clients right now. */
unsigned int control_clients(const struct control *c);

/*
 * A reply that will be sent later.  control_defer() records where to
 * (connection and request id); control_answer() sends it, if the client
 * is still connected, and frees the handle.  The control outlives every
 * handle.  `result` (success) or `data` (error) is taken over.
 */
struct control_reply_to;
struct control_reply_to *control_defer(struct control *c,
				       unsigned int client_id, const cJSON *id);
void control_answer(struct control_reply_to *to, int code, const char *message,
		    cJSON *result);
/* Lets the handle go without a reply: another handle answers instead. */
void control_forget(struct control_reply_to *to);

/*
 * Stops listening, removes the socket file and closes every client.  The
 * memory goes in libuv's close callbacks; run the loop to finish.
 */
void control_close(struct control *c);

#endif
