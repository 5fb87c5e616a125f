/*
 * The control protocol shared by rftd and rftctl: newline-delimited
 * JSON-RPC 2.0 over a Unix stream socket (common/PROTOCOL.md).
 *
 * Glossary:
 *   frame    one line of UTF-8 JSON ending in '\n' (a trailing '\r' is
 *            tolerated); at most PROTO_MAX_FRAME bytes without the newline.
 *   reader   a bounded, incremental frame splitter for one connection.
 *   method   an entry of the one method table below; each is marked
 *            read-only or mutating.
 *
 * Nothing here touches a socket; both sides do their own I/O.
 */
#ifndef RFTD_PROTO_H
#define RFTD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define PROTO_MAX_FRAME (4u << 20) /* bytes, newline excluded */
#define PROTO_MAX_DEPTH 64	   /* JSON nesting accepted in a frame */

enum proto_access {
	PROTO_READONLY, /* reads state; allowed to every authorised peer */
	PROTO_MUTATING, /* changes state or spends money */
};

/* The one method table: X(ID, "wire.name", access, "summary"). */
#define PROTO_METHODS(X)                                                       \
	X(DAEMON_PING, "daemon.ping", PROTO_READONLY,                          \
	  "check that the daemon answers")                                     \
	X(DAEMON_STATUS, "daemon.status", PROTO_READONLY,                      \
	  "version, pid, uptime, database and row counts")                     \
	X(DAEMON_RELOAD, "daemon.reload", PROTO_MUTATING,                      \
	  "re-read the configuration; keep the old one if the new is bad")     \
	X(SWEEP_PLAN, "sweep.plan", PROTO_READONLY,                            \
	  "validate and expand a spec; nothing is stored")                     \
	X(SWEEP_SUBMIT, "sweep.submit", PROTO_MUTATING,                        \
	  "store a sweep and start running its trials")                        \
	X(SWEEP_LIST, "sweep.list", PROTO_READONLY, "every sweep")             \
	X(SWEEP_SHOW, "sweep.show", PROTO_READONLY, "a sweep with its trials") \
	X(SWEEP_LEADERBOARD, "sweep.leaderboard", PROTO_READONLY,              \
	  "a sweep's trials ranked by the objective")                          \
	X(SWEEP_CANCEL, "sweep.cancel", PROTO_MUTATING,                        \
	  "cancel a sweep's pending trials and live jobs")                     \
	X(SWEEP_PAUSE, "sweep.pause", PROTO_MUTATING,                          \
	  "stop admitting a sweep's trials and pause its jobs")                \
	X(SWEEP_RESUME, "sweep.resume", PROTO_MUTATING,                        \
	  "resume a paused sweep")                                             \
	X(JOB_LIST, "job.list", PROTO_READONLY, "jobs, newest first")          \
	X(JOB_SHOW, "job.show", PROTO_READONLY,                                \
	  "a job with its events and metrics")                                 \
	X(JOB_CANCEL, "job.cancel", PROTO_MUTATING, "cancel a job")            \
	X(JOB_PAUSE, "job.pause", PROTO_MUTATING, "pause a running job")       \
	X(JOB_RESUME, "job.resume", PROTO_MUTATING, "resume a paused job")     \
	X(SQL_QUERY, "sql.query", PROTO_READONLY,                              \
	  "run one read-only SQL statement on the store")                      \
	X(BUDGET_SHOW, "budget.show", PROTO_READONLY,                          \
	  "every budget scope: limit, reserved, spent, remaining")             \
	X(BUDGET_SET, "budget.set", PROTO_MUTATING,                            \
	  "change a budget limit at run time")                                 \
	X(NOTIFY_TEST, "notify.test", PROTO_MUTATING,                          \
	  "send a test notification to each [notify] target")

enum proto_method {
#define PROTO_X(id, name, access, summary) PROTO_M_##id,
	PROTO_METHODS(PROTO_X)
#undef PROTO_X
	    PROTO_M__COUNT
};

struct proto_method_info {
	const char *name;	  /* wire name, e.g. "daemon.status" */
	enum proto_access access; /* read-only or mutating */
	const char *summary;	  /* one line for help texts */
};

/* Returns the table entry of `m` (m < PROTO_M__COUNT). */
const struct proto_method_info *proto_method_info(enum proto_method m);
/* Finds a method by wire name: 0, or -ENOENT. */
int proto_method_lookup(const char *name, enum proto_method *out);

/* Error codes: JSON-RPC 2.0's, then ours (-32000 and below). */
#define PROTO_ERRORS(X)                                                        \
	X(PARSE_ERROR, -32700, "parse error")                                  \
	X(INVALID_REQUEST, -32600, "invalid request")                          \
	X(METHOD_NOT_FOUND, -32601, "method not found")                        \
	X(INVALID_PARAMS, -32602, "invalid params")                            \
	X(INTERNAL, -32603, "internal error")                                  \
	X(FRAME_TOO_LARGE, -32000, "frame too large")                          \
	X(NOT_FOUND, -32001, "not found")                                      \
	X(CONFLICT, -32002, "conflict")                                        \
	X(STORE, -32003, "store error")                                        \
	X(PERMISSION, -32004, "permission denied")                             \
	X(SHUTTING_DOWN, -32005, "shutting down")                              \
	X(BUSY, -32006, "busy")                                                \
	X(REFUSED, -32007, "refused")                                          \
	X(TIMEOUT, -32008, "timed out")                                        \
	X(OVER_BUDGET, -32009, "over budget")

enum proto_error_code {
#define PROTO_X(id, code, text) PROTO_E_##id = code,
	PROTO_ERRORS(PROTO_X)
#undef PROTO_X
};

/* Short text of a code ("invalid params"); "unknown error" otherwise. */
const char *proto_error_text(int code);

/* An error to be sent back: a code and a sentence for a person. */
struct proto_error {
	int code;
	char message[512];
};

/* Fills `err` with printf-style text; returns err->code. */
int proto_error_set(struct proto_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Frame reader.  Bytes are fed as they arrive; complete frames come out
 * in order.  Memory is bounded by max + one fed chunk: a frame longer
 * than `max` is dropped up to its newline and reported once, in its
 * place, as -EMSGSIZE.
 */
struct proto_reader {
	char *buf;	    /* pending bytes */
	size_t len;	    /* bytes in buf */
	size_t cap;	    /* allocated size of buf */
	size_t pos;	    /* start of the first unreturned frame */
	size_t frame_start; /* start of the frame still being received */
	size_t max;	    /* frame cap */
	bool discarding;    /* inside an oversized frame */
	size_t *marks;	    /* offsets in buf of oversized frames' places */
	size_t nmarks;
};

void proto_reader_init(struct proto_reader *r, size_t max);
void proto_reader_free(struct proto_reader *r);
void proto_reader_feed(struct proto_reader *r, const char *data, size_t len);
/*
 * Returns 1 and points *frame at the next frame (len bytes, not
 * NUL-terminated, valid until the next feed or next call), 0 when no
 * complete frame is buffered, -EMSGSIZE for an oversized frame.  Empty
 * lines are skipped.
 */
int proto_reader_next(struct proto_reader *r, const char **frame, size_t *len);
/* True when a partial frame is buffered (bytes without a newline yet). */
bool proto_reader_partial(const struct proto_reader *r);

/* A decoded request.  All pointers borrow from `root`. */
struct proto_request {
	cJSON *root;	 /* owned; free with proto_request_free() */
	const cJSON *id; /* NULL for a notification (no reply expected) */
	enum proto_method method;
	const cJSON *params; /* an object, or NULL when absent */
};

/*
 * Decodes and validates one frame.  Returns 0, or a negative JSON-RPC
 * code with `err` filled.  On failure req->id is still set when the id
 * could be read, so the error reply can carry it.  Call
 * proto_request_free() in every case.
 */
int proto_request_parse(const char *frame, size_t len,
			struct proto_request *req, struct proto_error *err);
void proto_request_free(struct proto_request *req);

/*
 * Reply frames, newline included; the result is malloc'd and *len set.
 * proto_result_frame() takes ownership of `result` (NULL means null);
 * proto_error_frame() takes ownership of `data` (may be NULL).  `id` is
 * copied; NULL is sent as null.
 */
char *proto_result_frame(const cJSON *id, cJSON *result, size_t *len);
char *proto_error_frame(const cJSON *id, int code, const char *message,
			cJSON *data, size_t *len);

/* Client side: a request frame (takes ownership of `params`, may be NULL). */
char *proto_request_frame(int64_t id, const char *method, cJSON *params,
			  size_t *len);

/* A decoded reply.  Pointers borrow from `root`. */
struct proto_reply {
	cJSON *root;	     /* owned; free with proto_reply_free() */
	int64_t id;	     /* -1 when the reply's id was null */
	const cJSON *result; /* set on success */
	int code;	     /* 0 on success, else the error code */
	const char *message; /* error message, or NULL */
	const cJSON *data;   /* error data, or NULL */
};

/* Decodes a reply frame: 0, or a negative JSON-RPC code with `err` filled. */
int proto_reply_parse(const char *frame, size_t len, struct proto_reply *rep,
		      struct proto_error *err);
void proto_reply_free(struct proto_reply *rep);

#endif
