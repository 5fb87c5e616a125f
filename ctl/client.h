/*
 * rftctl's side of the control socket: connect, send one request, wait
 * for its reply.  Blocking I/O with a deadline; never opens the database.
 */
#ifndef RFTCTL_CLIENT_H
#define RFTCTL_CLIENT_H

#include <cjson/cJSON.h>

#include "proto.h"

struct client;

/*
 * Connects to `path`.  Returns NULL with `err` filled (connect's own
 * error text included) when nothing answers there.
 */
struct client *client_connect(const char *path, char *err, size_t errlen);
void client_free(struct client *c);

/*
 * The pid of the process that serves the socket (the last to call
 * listen() on it), as the kernel says (SO_PEERCRED), in this process's
 * pid namespace.  0 when it cannot be known.
 */
int client_peer_pid(const struct client *c);

/* The deadline for each reply, in milliseconds (default 30000). */
void client_set_timeout(struct client *c, int timeout_ms);

/*
 * Sends `method` with `params` (taken over; may be NULL) and waits for the
 * reply with the same id.  Returns 0 with `rep` filled (the daemon may
 * still have answered with an error: rep->code != 0), or -errno with
 * `err` filled when the exchange failed (timeout, closed, bad reply).
 * Free `rep` with proto_reply_free() after a 0 return.
 */
int client_call(struct client *c, const char *method, cJSON *params,
		struct proto_reply *rep, char *err, size_t errlen);

#endif
