/*
 * rftctl's context and its calls to rftd: the options every verb shares,
 * the one connection (opened on first use), and a request whose failure
 * is told to the user.  Builds on client.h (the socket) and render.h (the
 * text); neither includes this.
 *
 * Exit status: what these return is what rftctl exits with.
 *
 * A failure is told as text on stderr ("rftctl: MESSAGE (KIND)"), or,
 * under --json, as one JSON object on stdout:
 *   {"error": {"code": C, "kind": K, "message": M, "data": D}}
 * where C is rftd's error code (negative, common/PROTOCOL.md) when rftd
 * answered with an error, else the exit status (rftctl's own failure);
 * K is the code's word ("not found", "usage", "unreachable"); D is rftd's
 * data (a spec's problems, …) or null.
 */
#ifndef RFTCTL_CALL_H
#define RFTCTL_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "proto.h"
#include "render.h"

enum {
	EXIT_OK = 0,
	EXIT_DAEMON_ERROR = 1, /* rftd answered with an error */
	EXIT_USAGE = 2,	       /* bad command line, or an unreadable spec */
	EXIT_UNREACHABLE = 3,  /* rftd did not answer properly, or at all */
	EXIT_TRUNCATED = 4,    /* the output was cut at a row or byte cap */
};

struct client;

/* main() sets the options; `sent_ns` and `client` are this module's. */
struct call_ctx {
	const char *socket;
	const char *spec_path; /* for messages about a spec */
	bool json;	       /* --json: print results as they came */
	bool tty;	       /* stdout is a terminal */
	int timeout_ms;	       /* for each reply */
	uint64_t sent_ns;      /* when the last request left, for ping */
	struct client *client; /* connected on first use */
};

/*
 * Sends `method` with `params` (taken over; may be NULL) and waits for
 * the reply, connecting first if need be.  Returns EXIT_OK with `rep`
 * filled (free with proto_reply_free()), or an exit status after
 * telling why (a daemon error with its details).
 */
int call_method(struct call_ctx *ctx, const char *method, cJSON *params,
		struct proto_reply *rep);

/*
 * call_method() that tells nothing: EXIT_OK with `rep` filled whenever
 * rftd answered, an error included (rep->code != 0); else
 * EXIT_UNREACHABLE with `err` saying why, for the user, and the
 * connection closed (the next call connects again).
 */
int call_try(struct call_ctx *ctx, const char *method, cJSON *params,
	     struct proto_reply *rep, char *err, size_t errlen);

/*
 * Tells the failure: "rftctl: MESSAGE" on stderr, or under --json the
 * error object on stdout, with `status` as its code and `kind` as its
 * word.  Returns `status`.
 */
int call_fail(const struct call_ctx *ctx, int status, const char *kind,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Tells rftd's error reply (rep->code != 0) and frees `rep`; returns
 * EXIT_DAEMON_ERROR. */
int call_fail_reply(const struct call_ctx *ctx, struct proto_reply *rep);

/*
 * call_method(), then the result on stdout: with `render`, or as JSON
 * under --json.  Returns the exit status.
 */
int call_render(struct call_ctx *ctx, const char *method, cJSON *params,
		render_fn render);

/*
 * The renderer's options for stdout and stderr: the terminal's width
 * (asked now; 0 when stdout is not a terminal), tty and spec_path.
 */
void call_render_opts(const struct call_ctx *ctx, struct render_opts *ro);

/* Milliseconds since the last request left. */
double call_elapsed_ms(const struct call_ctx *ctx);

/* Closes the connection, if any; the options stay. */
void call_close(struct call_ctx *ctx);

#endif
