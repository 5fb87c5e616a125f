/*
 * The dashboard's pages: which route a request names (page_route(), on
 * the loop, pure) and the page's HTML (page_render(), on a worker
 * thread: it reads the store through a reader of its own and builds the
 * whole answer).  Every value put into HTML is escaped.
 *
 * Glossary:
 *   part    ?part=main: only the inner HTML of the page's <main>, which
 *           /static/dash.js fetches to refresh a live page in place.
 *   live    the page shows something still running (a running sweep, a
 *           job not ended): it says so with <body data-live="1"> and
 *           refreshes by itself.
 */
#ifndef RFTD_PAGES_H
#define RFTD_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum page_kind {
	PAGE_SWEEPS,  /* / */
	PAGE_SWEEP,   /* /sweeps/ID */
	PAGE_JOB,     /* /jobs/ID */
	PAGE_BUDGETS, /* /budgets */
	PAGE_STATIC,  /* /static/dash.css, /static/dash.js */
};

#define PAGE_METRIC_MAX 64
#define PAGE_TOKEN_MAX	128

/* What a request asks for, filled by page_route(). */
struct page_req {
	enum page_kind kind;
	int64_t id;			  /* PAGE_SWEEP, PAGE_JOB */
	char metric[PAGE_METRIC_MAX + 1]; /* ?metric=, "" for the default */
	bool part;			  /* ?part=main */
	bool has_token;			  /* ?token= was given */
	char token[PAGE_TOKEN_MAX + 1];	  /* its value */
	const char *static_path;	  /* PAGE_STATIC: which */
};

/*
 * Parses a request target (path and query, as sent): 0 with `r` filled;
 * 404 when no route matches; 400 with `why` filled when the target is
 * malformed (a bad id, bad percent-encoding, a bad metric name).
 */
int page_route(const char *target, size_t len, struct page_req *r, char *why,
	       size_t whylen);

/* A static file compiled into rftd: its text and type, or NULL. */
const char *page_static(const char *path, const char **type, size_t *len);

/* What the worker reads with: copied on the loop, owned by the caller. */
struct page_env {
	const char *db_path;
	const cJSON *scopes; /* PAGE_BUDGETS: meter_scopes() as of the
			      * request */
	const char *token;   /* for links: the ?token= the request used,
			      * or NULL */
};

/* The answer: status, its type and body (malloc'd; caller frees). */
struct page_out {
	int status;
	const char *type;
	char *body;
	size_t len;
};

/* Reads and renders the page; may run on any thread.  Always fills
 * `out` (a 404, 500 or 503 page on failure). */
void page_render(const struct page_req *r, const struct page_env *env,
		 struct page_out *out);

/* An error page (HTML) for `status`, with `why` (escaped) as its text. */
void page_error(int status, const char *why, const char *token,
		struct page_out *out);

/* HTML-escapes `s` (&, <, >, ", ') into a malloc'd string. */
char *page_escape(const char *s);

#endif
