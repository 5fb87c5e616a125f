/*
 * Handlers of the control protocol's methods (one per entry of
 * PROTO_METHODS in common/proto.h).  Loop thread only.
 */
#ifndef RFTD_METHODS_H
#define RFTD_METHODS_H

#include <cjson/cJSON.h>

#include "proto.h"

struct daemon;

/* Who sent the request, from the kernel (SO_PEERCRED). */
struct peer {
	unsigned int uid;
	unsigned int gid;
	unsigned int groups[64]; /* supplementary groups (SO_PEERGROUPS) */
	unsigned int ngroups;
	int pid;
	unsigned int client_id; /* the control connection it came on */
};

/* Returned by methods_dispatch() when the reply will come later. */
#define METHODS_DEFERRED 1

/*
 * Runs `req` and returns 0 with *result set (caller owns it), or a
 * negative protocol error code with `err` filled; then *result, when not
 * NULL, holds details for the error's data (caller owns it).  Returns
 * METHODS_DEFERRED when the method answers later through
 * control_answer() (queries run off the loop thread).
 */
int methods_dispatch(struct daemon *d, const struct peer *peer,
		     const struct proto_request *req, cJSON **result,
		     struct proto_error *err);

#endif
