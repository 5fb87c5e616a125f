/*
 * An HTTP client on the daemon's loop: libcurl's multi socket interface
 * driven by libuv (one uv_poll_t per socket libcurl asks us to watch, one
 * uv_timer_t for libcurl's timeout).  Completions are delivered from our
 * own loop callbacks, never from inside libcurl, so a completion may
 * start new requests.
 *
 * Every request has connect and total timeouts and a bounded response
 * body; TLS is verified; redirects are not followed; libcurl reads the
 * proxy environment (https_proxy, no_proxy...) as usual.
 */
#ifndef RFTD_HTTP_H
#define RFTD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct http;
struct http_req;

/* What one request sends.  Borrowed for the http_start() call only. */
struct http_request {
	const char *method; /* "GET", "POST" */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated */
	const char *body;	    /* sent as is; or NULL */
	size_t body_len;
	/* A multipart/form-data upload instead of `body` (upload_path set):
	 * the file goes in field "file" as `upload_name`, next to the
	 * text fields (name, value pairs, NULL-terminated). */
	const char *upload_path;
	const char *upload_name;
	const char *const *form_fields;
	long timeout_ms; /* the whole transfer; 0: the client's default */
	/* On a connection of its own: libcurl silently sends a request again
	 * when a reused connection dies before any answer, which a request
	 * that must not happen twice cannot afford. */
	bool fresh_connection;
};

/* What came back.  Borrowed for the callback only. */
struct http_result {
	int rc;		  /* 0: a response came; else a negative errno */
	bool maybe_sent;  /* the server may have seen the request */
	long status;	  /* HTTP status, when rc == 0 */
	const char *body; /* NUL-terminated */
	size_t len;
	const char *error;	    /* what went wrong, when rc != 0 */
	const struct http_req *req; /* for http_header() */
};

typedef void (*http_cb)(void *arg, const struct http_result *res);

struct http_limits {
	long connect_timeout_ms;
	long timeout_ms;	/* default total per request */
	size_t max_body;	/* response bytes kept at most */
	bool cut_body;		/* a longer response is cut there and read to
				 * its end, not failed: for calls where only
				 * the status counts */
	const char *ca_file;	/* or NULL: the system's */
	const char *user_agent; /* or NULL */
};

struct http *http_new(uv_loop_t *loop, const struct http_limits *lim);
/*
 * Cancels every transfer (each completes with -ECANCELED before this
 * returns) and closes the handles; the memory is freed once the loop has
 * run their close callbacks.
 */
void http_close(struct http *h);

/* Starts a request; `cb` is called exactly once, never from within. */
struct http_req *http_start(struct http *h, const struct http_request *rq,
			    http_cb cb, void *arg);
/* Ends a transfer now: its callback runs with -ECANCELED before return. */
void http_cancel(struct http_req *r);

/* The last value of response header `name` (case-insensitive), or NULL. */
const char *http_header(const struct http_req *r, const char *name, char *buf,
			size_t len);

/* Transfers under way. */
size_t http_inflight(const struct http *h);
/* Requests started since http_new(). */
unsigned long long http_started(const struct http *h);

#endif
