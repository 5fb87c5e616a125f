/*
 * The dashboard's pages (pages.h): routes, and HTML built on a worker
 * thread from the store's reader (store/reader.h) and chart_svg().  The
 * pages hold no inline script or style, so that the strict
 * Content-Security-Policy the server sends allows them.
 */
#include "pages.h"
#include "reader.h"
#include "svg.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_METRIC	 "valid_reward_mean"
#define LIST_MAX	 200   /* sweeps on the first page */
#define BOARD_MAX	 100   /* leaderboard rows */
#define JOB_LIST_MAX	 100   /* a job's events, checkpoints, metrics */
#define CURVES_MAX	 1000  /* curves on one chart */
#define CHART_POINTS	 60000 /* points on one chart, all curves */
#define CURVE_POINTS_MIN 16
#define CURVE_POINTS_MAX 1440 /* two per pixel column of the chart */
#define READ_TIMEOUT_MS	 5000
#define SPEND_BUCKETS	 360

/* --- routes -------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX and '+' of a query value into out (size outlen): the
 * length, or -1 when malformed or too long. */
static int
query_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0' || k + 1 >= outlen)
			return -1;
		out[k++] = c;
	}
	out[k] = '\0';
	return (int)k;
}

/* A metric's name as trainers report them: printable ASCII.  It is
 * bound into queries and escaped into pages, never spliced. */
static bool
metric_ok(const char *m)
{
	if (*m == '\0')
		return false;
	for (; *m != '\0'; m++)
		if (*m < ' ' || *m > '~')
			return false;
	return true;
}

static int
parse_query(const char *q, size_t n, struct page_req *r, char *why,
	    size_t whylen)
{
	char value[PAGE_TOKEN_MAX + 1];

	while (n > 0) {
		const char *amp = memchr(q, '&', n);
		size_t len = amp ? (size_t)(amp - q) : n;
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;
		const char *v = eq ? eq + 1 : q + len;
		size_t vlen = eq ? len - klen - 1 : 0;

#define KEY(k) (klen == sizeof(k) - 1 && memcmp(q, k, klen) == 0)
		if (KEY("metric") || KEY("part") || KEY("token")) {
			if (query_decode(v, vlen, value, sizeof(value)) < 0) {
				snprintf(why, whylen,
					 "the query's %.*s: malformed or too "
					 "long",
					 (int)klen, q);
				return 400;
			}
			if (KEY("metric")) {
				if (strlen(value) > PAGE_METRIC_MAX ||
				    !metric_ok(value)) {
					snprintf(why, whylen,
						 "metric: a metric's name is "
						 "1 to %d printable ASCII "
						 "characters",
						 PAGE_METRIC_MAX);
					return 400;
				}
				memcpy(r->metric, value, strlen(value) + 1);
			} else if (KEY("part")) {
				if (strcmp(value, "main") != 0) {
					snprintf(why, whylen,
						 "part: only main is served");
					return 400;
				}
				r->part = true;
			} else {
				r->has_token = true;
				memcpy(r->token, value, strlen(value) + 1);
			}
		}
#undef KEY
		q += len;
		n -= len;
		if (n > 0)
			q++, n--;
	}
	return 0;
}

/* A positive decimal id of at most 18 digits: 0 or 400. */
static int
parse_id(const char *s, size_t n, int64_t *id, char *why, size_t whylen)
{
	int64_t v = 0;

	if (n == 0 || n > 18)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		v = v * 10 + (s[i] - '0');
	}
	if (v <= 0)
		goto bad;
	*id = v;
	return 0;
bad:
	snprintf(why, whylen, "an id is a positive number of 1 to 18 digits");
	return 400;
}

int
page_route(const char *target, size_t len, struct page_req *r, char *why,
	   size_t whylen)
{
	const char *q = memchr(target, '?', len);
	size_t plen = q ? (size_t)(q - target) : len;
	int rc;

	memset(r, 0, sizeof(*r));
	why[0] = '\0';
	/* The query first: it may hold the token, which every answer
	 * but a bad query's needs. */
	if (q != NULL) {
		rc = parse_query(q + 1, len - plen - 1, r, why, whylen);
		if (rc != 0)
			return rc;
	}
#define IS(p) (plen == sizeof(p) - 1 && memcmp(target, p, plen) == 0)
#define STARTS(p)                                                              \
	(plen > sizeof(p) - 1 && memcmp(target, p, sizeof(p) - 1) == 0)
	if (IS("/")) {
		r->kind = PAGE_SWEEPS;
	} else if (IS("/budgets")) {
		r->kind = PAGE_BUDGETS;
	} else if (IS("/static/dash.css")) {
		r->kind = PAGE_STATIC;
		r->static_path = "/static/dash.css";
	} else if (IS("/static/dash.js")) {
		r->kind = PAGE_STATIC;
		r->static_path = "/static/dash.js";
	} else if (STARTS("/sweeps/")) {
		r->kind = PAGE_SWEEP;
		rc = parse_id(target + 8, plen - 8, &r->id, why, whylen);
		if (rc != 0)
			return rc;
	} else if (STARTS("/jobs/")) {
		r->kind = PAGE_JOB;
		rc = parse_id(target + 6, plen - 6, &r->id, why, whylen);
		if (rc != 0)
			return rc;
	} else {
		return 404;
	}
#undef IS
#undef STARTS
	return 0;
}

/* --- static files ------------------------------------------------------- */

static const char dash_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;"
    "background:#fafafa}\n"
    "header{background:#263238;padding:.5em 1em}\n"
    "header a{color:#eceff1;margin-right:1.5em;text-decoration:none;"
    "font-weight:600}\n"
    "main{padding:1em 1.5em;max-width:1200px}\n"
    "h1{font-size:1.4em;margin:.2em 0 .6em}\n"
    "h2{font-size:1.1em;margin:1.4em 0 .4em}\n"
    "table{border-collapse:collapse;background:#fff;margin:.3em 0}\n"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}\n"
    "th{background:#eceff1}\n"
    "td.text,th.text{text-align:left}\n"
    "tr.best td{font-weight:700;background:#fff8e1}\n"
    "dl.summary{display:grid;grid-template-columns:max-content auto;"
    "gap:.2em 1em}\n"
    "dl.summary dt{font-weight:600}\n"
    "dl.summary dd{margin:0}\n"
    ".stamp{color:#666;font-size:.9em}\n"
    ".note{color:#666;font-style:italic}\n"
    ".state-running{color:#1565c0}.state-failed{color:#c62828}\n"
    ".state-succeeded,.state-completed{color:#2e7d32}\n"
    "figure{margin:.5em 0;background:#fff;border:1px solid #ddd;"
    "max-width:720px}\n"
    "figure svg{display:block;width:100%;height:auto}\n"

    "nav.metrics a{margin-right:1em}\n"
    "pre{white-space:pre-wrap;margin:0}\n";

/*
 * Refreshes a live page: every 2 s fetches the page's <main> alone
 * (?part=main) and swaps it in, while the page says it is live.  The
 * stamp inside <main> carries the new state.
 */
static const char dash_js[] =
    "\"use strict\";\n"
    "(function () {\n"
    "  var body = document.body;\n"
    "  var busy = false;\n"
    "  function url() {\n"
    "    var u = new URL(window.location.href);\n"
    "    u.searchParams.set(\"part\", \"main\");\n"
    "    return u.toString();\n"
    "  }\n"
    "  function apply(html) {\n"
    "    var main = document.getElementById(\"main\");\n"
    "    if (main === null) return;\n"
    "    main.innerHTML = html;\n"
    "    var stamp = document.getElementById(\"stamp\");\n"
    "    if (stamp !== null) {\n"
    "      body.setAttribute(\"data-live\", "
    "stamp.getAttribute(\"data-live\"));\n"
    "      body.setAttribute(\"data-generated\",\n"
    "                        stamp.getAttribute(\"data-generated\"));\n"
    "    }\n"
    "  }\n"
    "  function tick() {\n"
    "    if (body.getAttribute(\"data-live\") !== \"1\" || busy) return;\n"
    "    busy = true;\n"
    "    fetch(url(), {cache: \"no-store\", credentials: \"omit\"})\n"
    "      .then(function (r) { return r.ok ? r.text() : null; })\n"
    "      .then(function (t) { if (t !== null) apply(t); })\n"
    "      .catch(function () {})\n"
    "      .then(function () { busy = false; });\n"
    "  }\n"
    "  window.setInterval(tick, 2000);\n"
    "})();\n";

const char *
page_static(const char *path, const char **type, size_t *len)
{
	if (strcmp(path, "/static/dash.css") == 0) {
		*type = "text/css; charset=utf-8";
		*len = sizeof(dash_css) - 1;
		return dash_css;
	}
	if (strcmp(path, "/static/dash.js") == 0) {
		*type = "text/javascript; charset=utf-8";
		*len = sizeof(dash_js) - 1;
		return dash_js;
	}
	return NULL;
}

/* --- HTML ---------------------------------------------------------------- */

struct html {
	char *p;
	size_t len, cap;
	const char *token; /* appended to links as ?token= (escaped) */
};

static void
put(struct html *h, const char *s, size_t n)
{
	if (h->len + n + 1 > h->cap) {
		while (h->len + n + 1 > h->cap)
			h->cap = h->cap ? 2 * h->cap : 8192;
		h->p = xrealloc(h->p, h->cap);
	}
	memcpy(h->p + h->len, s, n);
	h->len += n;
	h->p[h->len] = '\0';
}

static void
puts_(struct html *h, const char *s)
{
	put(h, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct html *h, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		put(h, small, (size_t)n);
		return;
	}
	{
		char *big = xmalloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		put(h, big, (size_t)n);
		free(big);
	}
}

/* Escaped text; NULL as an empty string. */
static void
esc(struct html *h, const char *s)
{
	const char *run = s;

	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		const char *rep;

		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			continue;
		}
		put(h, run, (size_t)(s - run));
		puts_(h, rep);
		run = s + 1;
	}
	put(h, run, (size_t)(s - run));
}

char *
page_escape(const char *s)
{
	struct html h = {0};

	put(&h, "", 0);
	esc(&h, s);
	return h.p;
}

/* `s` percent-encoded for a query value: a token of one's own or a
 * metric's name may hold any printable character. */
static void
put_query_value(struct html *h, const char *s)
{
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s))
			put(h, s, 1);
		else
			putf(h, "%%%02X", (unsigned char)*s);
	}
}

/* The query a link carries: the token, and a metric when not NULL. */
static void
link_query(struct html *h, const char *metric)
{
	char sep = '?';

	if (h->token != NULL) {
		puts_(h, "?token=");
		put_query_value(h, h->token);
		sep = '&';
	}
	if (metric != NULL) {
		putf(h, "%s", sep == '?' ? "?" : "&amp;");
		puts_(h, "metric=");
		put_query_value(h, metric);
	}
}

/* A link to `prefix`, followed by `id` when > 0. */
static void
link_to(struct html *h, const char *prefix, int64_t id, const char *text)
{
	puts_(h, "<a href=\"");
	puts_(h, prefix);
	if (id > 0)
		putf(h, "%lld", (long long)id);
	link_query(h, NULL);
	puts_(h, "\">");
	esc(h, text);
	puts_(h, "</a>");
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
num(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

static double
num0(const cJSON *o, const char *key)
{
	double v = 0;

	num(o, key, &v);
	return v;
}

enum numfmt { N_INT, N_REAL, N_USD };

/* A number cell, or an empty one when the value is missing. */
static void
td_num(struct html *h, const cJSON *o, const char *key, enum numfmt f)
{
	double v;

	puts_(h, "<td>");
	if (str(o, key) != NULL) /* "auto" */
		esc(h, str(o, key));
	if (num(o, key, &v)) {
		if (f == N_INT)
			putf(h, "%.0f", v);
		else if (f == N_USD)
			putf(h, "$%.2f", v);
		else
			putf(h, "%.4g", v);
	}
	puts_(h, "</td>");
}

static void
td_text(struct html *h, const char *s)
{
	puts_(h, "<td class=\"text\">");
	esc(h, s);
	puts_(h, "</td>");
}

static void
td_state(struct html *h, const char *state)
{
	puts_(h, "<td class=\"text state-");
	esc(h, state ? state : "unknown");
	puts_(h, "\">");
	esc(h, state);
	puts_(h, "</td>");
}

static void
fmt_time(char *buf, size_t len, double t)
{
	time_t s = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&s, &tm) == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* The document's head; `assets`: with the stylesheet and the script. */
static void
page_head(struct html *h, const char *title, bool live, bool assets)
{
	puts_(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		 "<meta charset=\"utf-8\">\n"
		 "<meta name=\"viewport\" content=\"width=device-width, "
		 "initial-scale=1\">\n"
		 "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
	esc(h, title);
	puts_(h, " - rftd</title>\n<link rel=\"icon\" href=\"data:,\">\n");
	if (assets) {
		puts_(h, "<link rel=\"stylesheet\" href=\"/static/dash.css");
		link_query(h, NULL);
		puts_(h, "\">\n<script src=\"/static/dash.js");
		link_query(h, NULL);
		puts_(h, "\" defer></script>\n");
	}
	if (live)
		puts_(h, "<noscript><meta http-equiv=\"refresh\" "
			 "content=\"5\"></noscript>\n");
	puts_(h, "</head>\n");
}

/* The stamp at the top of <main>: when, and whether still live. */
static void
stamp(struct html *h, bool live, double now)
{
	char when[64];

	fmt_time(when, sizeof(when), now);
	putf(h,
	     "<p class=\"stamp\" id=\"stamp\" data-live=\"%d\" "
	     "data-generated=\"%.6f\">%s %s</p>\n",
	     live ? 1 : 0, now, live ? "Live, updated" : "As of", when);
}

/* Wraps the inside of <main> into a whole page, unless only the part
 * was asked for. */
static void
finish(const struct page_req *r, struct html *inner, const char *title,
       bool live, double now, struct page_out *out)
{
	struct html h = {.token = inner->token};

	if (r->part) {
		out->body = inner->p;
		out->len = inner->len;
		return;
	}
	page_head(&h, title, live, true);
	putf(&h, "<body data-live=\"%d\" data-generated=\"%.6f\">\n",
	     live ? 1 : 0, now);
	puts_(&h, "<header><nav>");
	link_to(&h, "/", 0, "Sweeps");
	link_to(&h, "/budgets", 0, "Budgets");
	puts_(&h, "</nav></header>\n<main id=\"main\">\n");
	put(&h, inner->p ? inner->p : "", inner->len);
	puts_(&h, "</main>\n</body>\n</html>\n");
	free(inner->p);
	out->body = h.p;
	out->len = h.len;
}

void
page_error(int status, const char *why, const char *token, struct page_out *out)
{
	struct html h = {.token = token};
	const char *title = status == 404   ? "Not found"
			    : status == 400 ? "Bad request"
			    : status == 401 ? "Unauthorized"
			    : status == 405 ? "Method not allowed"
			    : status == 503 ? "Busy"
					    : "Error";

	/* Without the token, the stylesheet would be refused too. */
	page_head(&h, title, false, status != 401);
	puts_(&h, "<body data-live=\"0\">\n<header><nav>");
	if (status != 401) {
		link_to(&h, "/", 0, "Sweeps");
		link_to(&h, "/budgets", 0, "Budgets");
	}
	puts_(&h, "</nav></header>\n<main id=\"main\">\n<h1>");
	putf(&h, "%d ", status);
	esc(&h, title);
	puts_(&h, "</h1>\n<p>");
	esc(&h, why);
	puts_(&h, "</p>\n</main>\n</body>\n</html>\n");
	out->status = status;
	out->type = "text/html; charset=utf-8";
	out->body = h.p;
	out->len = h.len;
}

/* --- the sweeps ---------------------------------------------------------- */

static double
count_of(const cJSON *sweep, const char *state)
{
	return num0(cJSON_GetObjectItemCaseSensitive(sweep, "counts"), state);
}

static void
money(struct html *h, const cJSON *o, const char *key)
{
	double v;

	if (num(o, key, &v))
		putf(h, "$%.2f", v);
	else
		puts_(h, "-");
}

static bool
render_sweeps(struct store_reader *rd, struct html *h, int *status, char *err,
	      size_t errlen)
{
	cJSON *res, *list;
	const cJSON *s;
	bool live = false;
	int rc;
	double total;

	res = store_page_sweeps(rd, LIST_MAX, &rc, err, errlen);
	if (res == NULL) {
		*status = rc == -ETIMEDOUT ? 503 : 500;
		return false;
	}
	list = cJSON_GetObjectItemCaseSensitive(res, "sweeps");
	total = num0(res, "total");
	puts_(h, "<h1>Sweeps</h1>\n");
	if (cJSON_GetArraySize(list) == 0) {
		puts_(h, "<p class=\"note\">No sweeps yet.</p>\n");
		cJSON_Delete(res);
		return false;
	}
	puts_(h, "<table id=\"sweeps\">\n<thead><tr><th>Sweep</th>"
		 "<th class=\"text\">Name</th><th class=\"text\">State</th>"
		 "<th class=\"text\">Backend</th><th>Trials</th>"
		 "<th>Done</th><th>Running</th><th>Failed</th>"
		 "<th>Stopped</th><th>Pending</th><th>Best</th>"
		 "<th>Spent</th><th>Budget</th></tr></thead>\n<tbody>\n");
	cJSON_ArrayForEach(s, list)
	{
		const char *state = str(s, "state");
		double id = num0(s, "id");
		char text[32];

		if (state != NULL && strcmp(state, "running") == 0)
			live = true;
		snprintf(text, sizeof(text), "%.0f", id);
		puts_(h, "<tr><td>");
		link_to(h, "/sweeps/", (int64_t)id, text);
		puts_(h, "</td>");
		td_text(h, str(s, "name"));
		td_state(h, state);
		td_text(h, str(s, "backend"));
		td_num(h, s, "trials", N_INT);
		putf(h, "<td>%.0f</td><td>%.0f</td><td>%.0f</td>",
		     count_of(s, "succeeded"), count_of(s, "running"),
		     count_of(s, "failed"));
		putf(h, "<td>%.0f</td><td>%.0f</td>",
		     count_of(s, "cancelled") + count_of(s, "stopped"),
		     count_of(s, "pending") + count_of(s, "paused"));
		td_num(h, s, "best", N_REAL);
		puts_(h, "<td>");
		money(h, s, "spent_usd");
		puts_(h, "</td><td>");
		money(h, s, "budget_usd");
		puts_(h, "</td></tr>\n");
	}
	puts_(h, "</tbody></table>\n");
	if (total > cJSON_GetArraySize(list))
		putf(h,
		     "<p class=\"note\">Showing the newest %d of %.0f "
		     "sweeps.</p>\n",
		     cJSON_GetArraySize(list), total);
	cJSON_Delete(res);
	return live;
}

/* --- charts -------------------------------------------------------------- */

/* Adds id="ID" to the chart's <svg> element. */
static void
put_chart(struct html *h, const char *id, char *svg)
{
	const char *open = svg ? strstr(svg, "<svg") : NULL;

	if (open == NULL) {
		free(svg);
		return;
	}
	put(h, svg, (size_t)(open - svg) + 4);
	putf(h, " id=\"%s\"", id);
	puts_(h, open + 4);
	free(svg);
}

/* The curves' chart, coloured by grader variant (its legend is the
 * chart's); `best` (a trial id, or 0) is highlighted; with `links`,
 * each curve links to its job's page. */
static void
render_curves(struct html *h, const struct store_curves *cv, const char *metric,
	      int64_t best, bool links)
{
	struct chart_series *s = xcalloc(cv->n ? cv->n : 1, sizeof(*s));
	char **labels = xcalloc(cv->n ? cv->n : 1, sizeof(*labels));
	char **hrefs = xcalloc(cv->n ? cv->n : 1, sizeof(*hrefs));
	struct chart c = {0};

	for (size_t i = 0; i < cv->n; i++) {
		const struct store_curve *k = &cv->curves[i];

		labels[i] = xasprintf("trial %lld (%s)", (long long)k->trial_id,
				      k->grader);
		s[i].label = labels[i];
		s[i].group = k->grader;
		s[i].x = k->x;
		s[i].y = k->y;
		s[i].n = k->n;
		s[i].highlight = best > 0 && k->trial_id == best;
		s[i].trial = k->trial_id;
		s[i].job = k->job_id;
		if (links) {
			/* chart_svg() escapes it; the token is
			 * percent-encoded here. */
			struct html href = {.token = h->token};

			putf(&href, "/jobs/%lld", (long long)k->job_id);
			link_query(&href, NULL);
			hrefs[i] = href.p;
			s[i].href = hrefs[i];
		}
	}
	c.x_label = "step";
	c.y_label = metric;
	c.series = s;
	c.nseries = cv->n;
	puts_(h, "<figure>");
	put_chart(h, "curves", chart_svg(&c));
	puts_(h, "</figure>\n");
	if (cv->more)
		putf(h,
		     "<p class=\"note\">Showing the curves of the first %zu "
		     "trials.</p>\n",
		     cv->n);
	if (cv->cut)
		puts_(h, "<p class=\"note\">A curve is drawn from its first "
			 "1048576 points only.</p>\n");
	if (cv->n == 0)
		puts_(h, "<p class=\"note\">No points of this metric "
			 "yet.</p>\n");
	for (size_t i = 0; i < cv->n; i++) {
		free(labels[i]);
		free(hrefs[i]);
	}
	free(labels);
	free(hrefs);
	free(s);
}

static void
metric_links(struct html *h, const char *prefix, int64_t id,
	     const char *current, const char *objective)
{
	const char *names[] = {DEFAULT_METRIC, "train_reward_mean", objective};

	puts_(h, "<nav class=\"metrics\">Metric: ");
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		if (names[i] == NULL ||
		    (i == 2 && (strcmp(names[i], names[0]) == 0 ||
				strcmp(names[i], names[1]) == 0)))
			continue;
		if (strcmp(names[i], current) == 0) {
			puts_(h, "<strong>");
			esc(h, names[i]);
			puts_(h, "</strong> ");
			continue;
		}
		puts_(h, "<a href=\"");
		puts_(h, prefix);
		putf(h, "%lld", (long long)id);
		link_query(h, names[i]);
		puts_(h, "\">");
		esc(h, names[i]);
		puts_(h, "</a> ");
	}
	puts_(h, "</nav>\n");
}

/* --- one sweep ----------------------------------------------------------- */

static void
summary_row(struct html *h, const char *name, const char *value)
{
	puts_(h, "<dt>");
	esc(h, name);
	puts_(h, "</dt><dd>");
	esc(h, value ? value : "-");
	puts_(h, "</dd>");
}

static void
value_text(char *buf, size_t len, const cJSON *v)
{
	if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.6g", v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else
		snprintf(buf, len, "-");
}

/*
 * The hyperparameter x grader table: a row per value of each
 * hyperparameter that varies in the sweep, a column per grader, the
 * mean best objective in each cell.
 */
static void
render_grid(struct html *h, const cJSON *grid)
{
	const char *graders[32];
	size_t ng = 0;
	bool more = false;
	const cJSON *row;

	cJSON_ArrayForEach(row, grid)
	{
		const char *g = cJSON_GetArrayItem(row, 2)->valuestring;
		size_t i;

		for (i = 0; i < ng; i++)
			if (strcmp(graders[i], g) == 0)
				break;
		if (i == ng && ng < ARRAY_LEN(graders))
			graders[ng++] = g;
		else if (i == ng)
			more = true;
	}
	puts_(h, "<h2>Mean best objective by hyperparameter and grader</h2>\n"
		 "<table id=\"grid\">\n<thead><tr><th class=\"text\">"
		 "Hyperparameter</th><th class=\"text\">Value</th>");
	for (size_t i = 0; i < ng; i++) {
		puts_(h, "<th>");
		esc(h, graders[i]);
		puts_(h, "</th>");
	}
	puts_(h, "</tr></thead>\n<tbody>\n");
	/* Rows come ordered by key, value, grader: one <tr> per key and
	 * value, its cells filled as the graders come. */
	row = grid ? grid->child : NULL;
	while (row != NULL) {
		const cJSON *key = cJSON_GetArrayItem(row, 0);
		const cJSON *val = cJSON_GetArrayItem(row, 1);
		char vbuf[128], kbuf[128];
		const cJSON *cells[ARRAY_LEN(graders)] = {0};
		const cJSON *r2 = row;

		value_text(kbuf, sizeof(kbuf), key);
		value_text(vbuf, sizeof(vbuf), val);
		while (r2 != NULL) {
			const char *g;

			/* The values themselves, not their text: 1e-5 and
			 * 1.0000001e-5 are two rows. */
			if (!cJSON_Compare(cJSON_GetArrayItem(r2, 0), key,
					   true) ||
			    !cJSON_Compare(cJSON_GetArrayItem(r2, 1), val,
					   true))
				break;
			g = cJSON_GetArrayItem(r2, 2)->valuestring;
			for (size_t i = 0; i < ng; i++)
				if (strcmp(graders[i], g) == 0)
					cells[i] = r2;
			r2 = r2->next;
		}
		puts_(h, "<tr>");
		td_text(h, kbuf);
		td_text(h, vbuf);
		for (size_t i = 0; i < ng; i++) {
			const cJSON *mean =
			    cells[i] ? cJSON_GetArrayItem(cells[i], 3) : NULL;
			const cJSON *n =
			    cells[i] ? cJSON_GetArrayItem(cells[i], 4) : NULL;

			if (cJSON_IsNumber(mean))
				putf(h,
				     "<td>%.4g <span class=\"note\">(%d)"
				     "</span></td>",
				     mean->valuedouble,
				     cJSON_IsNumber(n) ? n->valueint : 0);
			else
				puts_(h, "<td></td>");
		}
		puts_(h, "</tr>\n");
		row = r2;
	}
	puts_(h, "</tbody></table>\n");
	if (more)
		putf(h,
		     "<p class=\"note\">The first %zu graders are shown; "
		     "the leaderboard has every trial.</p>\n",
		     ng);
}

/* Keeps the grid's rows of hyperparameters with more than one value. */
static void
grid_varying(cJSON *grid)
{
	cJSON *row = grid ? grid->child : NULL;

	while (row != NULL) {
		const char *key = cJSON_GetArrayItem(row, 0)->valuestring;
		char first[128], v[128];
		bool varies = false;
		cJSON *r2 = row;

		value_text(first, sizeof(first), cJSON_GetArrayItem(row, 1));
		while (r2 != NULL &&
		       strcmp(cJSON_GetArrayItem(r2, 0)->valuestring, key) ==
			   0) {
			value_text(v, sizeof(v), cJSON_GetArrayItem(r2, 1));
			if (strcmp(v, first) != 0)
				varies = true;
			r2 = r2->next;
		}
		while (row != r2) {
			cJSON *next = row->next;

			if (!varies)
				cJSON_Delete(
				    cJSON_DetachItemViaPointer(grid, row));
			row = next;
		}
	}
}

/* Whether each grid row is [string, value, string, ...]. */
static bool
grid_valid(const cJSON *grid)
{
	const cJSON *row;

	cJSON_ArrayForEach(
	    row,
	    grid) if (!cJSON_IsString(cJSON_GetArrayItem(row, 0)) ||
		      !cJSON_IsString(cJSON_GetArrayItem(row, 2))) return false;
	return true;
}

static size_t
curve_points(double trials)
{
	double per = trials > 0 ? CHART_POINTS / trials : CURVE_POINTS_MAX;

	if (per < CURVE_POINTS_MIN)
		per = CURVE_POINTS_MIN;
	if (per > CURVE_POINTS_MAX)
		per = CURVE_POINTS_MAX;
	return (size_t)per;
}

/* A page whose sweep or job could not be read: 404 when there is none,
 * 503 past the deadline, else 500. */
static bool
unread(int rc, const char *what, int64_t id, int *status, char *err,
       size_t errlen)
{
	*status = rc == -ENOENT ? 404 : rc == -ETIMEDOUT ? 503 : 500;
	if (rc == -ENOENT)
		snprintf(err, errlen, "There is no %s %lld.", what,
			 (long long)id);
	return false;
}

static bool
render_sweep(struct store_reader *rd, const struct page_req *r, struct html *h,
	     char **title, int *status, char *err, size_t errlen)
{
	const char *metric = r->metric[0] ? r->metric : DEFAULT_METRIC;
	struct store_curves cv;
	cJSON *s, *board, *grid, *graders;
	const cJSON *row;
	char buf[160];
	int64_t best = 0;
	double trials, shown;
	bool live;
	int rc;

	s = store_page_sweep(rd, r->id, BOARD_MAX, &rc, err, errlen);
	if (s == NULL)
		return unread(rc, "sweep", r->id, status, err, errlen);
	live = str(s, "state") && strcmp(str(s, "state"), "running") == 0;
	*title = xasprintf("Sweep %lld: %s", (long long)r->id,
			   str(s, "name") ? str(s, "name") : "");
	board = cJSON_GetObjectItemCaseSensitive(s, "leaderboard");
	grid = cJSON_GetObjectItemCaseSensitive(s, "grid");
	graders = cJSON_GetObjectItemCaseSensitive(s, "graders");
	trials = num0(s, "trials");
	if (cJSON_GetArraySize(board) > 0 &&
	    cJSON_IsNumber(
		cJSON_GetObjectItemCaseSensitive(board->child, "objective")))
		best = (int64_t)num0(board->child, "trial_id");

	puts_(h, "<h1>");
	esc(h, *title);
	puts_(h, "</h1>\n<dl class=\"summary\">");
	summary_row(h, "State", str(s, "state"));
	summary_row(h, "Backend", str(s, "backend"));
	summary_row(h, "Model", str(s, "model"));
	snprintf(buf, sizeof(buf), "%s (%s)",
		 str(s, "objective_metric") ? str(s, "objective_metric") : "-",
		 str(s, "objective_mode") ? str(s, "objective_mode") : "max");
	summary_row(h, "Objective", buf);
	snprintf(buf, sizeof(buf),
		 "%.0f: %.0f done, %.0f running, %.0f failed, %.0f stopped, "
		 "%.0f pending",
		 trials, count_of(s, "succeeded"), count_of(s, "running"),
		 count_of(s, "failed"),
		 count_of(s, "cancelled") + count_of(s, "stopped"),
		 count_of(s, "pending") + count_of(s, "paused"));
	summary_row(h, "Trials", buf);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "budget_usd")))
		snprintf(buf, sizeof(buf), "$%.2f of $%.2f%s",
			 num0(s, "spent_usd"), num0(s, "budget_usd"),
			 num0(s, "simulated") ? " (simulated)" : "");
	else
		snprintf(buf, sizeof(buf), "$%.2f, no budget%s",
			 num0(s, "spent_usd"),
			 num0(s, "simulated") ? " (simulated)" : "");
	summary_row(h, "Spent", buf);
	puts_(h, "</dl>\n");

	puts_(h, "<h2>Reward curves</h2>\n");
	metric_links(h, "/sweeps/", r->id, metric, str(s, "objective_metric"));
	rc = store_page_curves(rd, r->id, 0, metric, CURVES_MAX,
			       curve_points(trials), &cv, err, errlen);
	if (rc != 0) {
		*status = rc == -ETIMEDOUT ? 503 : 500;
		cJSON_Delete(s);
		return false;
	}
	render_curves(h, &cv, metric, best, true);
	store_curves_free(&cv);

	puts_(h, "<h2>Leaderboard</h2>\n<table id=\"leaderboard\">\n"
		 "<thead><tr><th>Rank</th><th>Trial</th>"
		 "<th class=\"text\">Grader</th><th>LR mult.</th>"
		 "<th>Epochs</th><th>Batch</th><th>Seed</th>"
		 "<th class=\"text\">State</th><th>Objective</th>"
		 "<th>Best step</th><th>Jobs</th><th>Cost</th>"
		 "<th>Reward per $</th><th>Latest job</th></tr></thead>\n"
		 "<tbody>\n");
	shown = 0;
	cJSON_ArrayForEach(row, board)
	{
		int64_t tid = (int64_t)num0(row, "trial_id");
		double job;

		shown++;
		putf(h, "<tr%s data-trial=\"%lld\"><td>%.0f</td><td>%lld</td>",
		     tid == best ? " class=\"best\"" : "", (long long)tid,
		     shown, (long long)tid);
		td_text(h, str(row, "grader"));
		td_num(h, row, "learning_rate_multiplier", N_REAL);
		td_num(h, row, "n_epochs", N_INT);
		td_num(h, row, "batch_size", N_INT);
		td_num(h, row, "seed", N_INT);
		td_state(h, str(row, "state"));
		td_num(h, row, "objective", N_REAL);
		td_num(h, row, "best_step", N_INT);
		td_num(h, row, "jobs", N_INT);
		td_num(h, row, "cost_usd", N_USD);
		td_num(h, row, "reward_per_usd", N_REAL);
		puts_(h, "<td>");
		if (num(row, "job_id", &job)) {
			snprintf(buf, sizeof(buf), "job %.0f", job);
			link_to(h, "/jobs/", (int64_t)job, buf);
		}
		puts_(h, "</td></tr>\n");
	}
	puts_(h, "</tbody></table>\n");
	if (trials > shown)
		putf(h,
		     "<p class=\"note\">Showing the best %.0f of %.0f "
		     "trials.</p>\n",
		     shown, trials);

	if (grid_valid(grid)) {
		grid_varying(grid);
		render_grid(h, grid);
		if (cJSON_GetArraySize(grid) >= 2000)
			puts_(h, "<p class=\"note\">Showing the first 2000 "
				 "rows.</p>\n");
	}

	puts_(h, "<h2>Grader variants</h2>\n<table id=\"graders\">\n"
		 "<thead><tr><th class=\"text\">Grader</th>"
		 "<th class=\"text\">Type</th><th>Trials</th>"
		 "<th>Succeeded</th><th>Best</th><th>Mean</th></tr></thead>\n"
		 "<tbody>\n");
	cJSON_ArrayForEach(row, graders)
	{
		puts_(h, "<tr>");
		td_text(h, str(row, "grader"));
		td_text(h, str(row, "type"));
		td_num(h, row, "trials", N_INT);
		td_num(h, row, "succeeded", N_INT);
		td_num(h, row, "best_objective", N_REAL);
		td_num(h, row, "mean_objective", N_REAL);
		puts_(h, "</tr>\n");
	}
	puts_(h, "</tbody></table>\n");
	cJSON_Delete(s);
	return live;
}

/* --- one job ------------------------------------------------------------- */

static bool
render_job(struct store_reader *rd, const struct page_req *r, struct html *h,
	   char **title, int *status, char *err, size_t errlen)
{
	const char *metric = r->metric[0] ? r->metric : DEFAULT_METRIC;
	struct store_curves cv;
	cJSON *j;
	const cJSON *row, *hp;
	char buf[256], when[64];
	char *hps;
	bool live;
	int rc;

	j = store_page_job(rd, r->id, JOB_LIST_MAX, &rc, err, errlen);
	if (j == NULL)
		return unread(rc, "job", r->id, status, err, errlen);
	live = num0(j, "live") != 0;
	*title = xasprintf("Job %lld", (long long)r->id);
	puts_(h, "<h1>");
	esc(h, *title);
	puts_(h, "</h1>\n<dl class=\"summary\"><dt>Sweep</dt><dd>");
	snprintf(buf, sizeof(buf), "%.0f: %s", num0(j, "sweep_id"),
		 str(j, "sweep") ? str(j, "sweep") : "");
	link_to(h, "/sweeps/", (int64_t)num0(j, "sweep_id"), buf);
	puts_(h, "</dd>");
	snprintf(buf, sizeof(buf), "%.0f, attempt %.0f", num0(j, "trial_id"),
		 num0(j, "attempt"));
	summary_row(h, "Trial", buf);
	summary_row(h, "State", str(j, "state"));
	summary_row(h, "Backend", str(j, "backend"));
	summary_row(h, "Remote id", str(j, "remote_id"));
	snprintf(buf, sizeof(buf), "%s (%s)",
		 str(j, "grader") ? str(j, "grader") : "-",
		 str(j, "grader_type") ? str(j, "grader_type") : "-");
	summary_row(h, "Grader", buf);
	hp = cJSON_GetObjectItemCaseSensitive(j, "hyperparameters");
	hps = hp ? cJSON_PrintUnformatted(hp) : NULL;
	summary_row(h, "Hyperparameters", hps);
	free(hps);
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "objective")))
		snprintf(buf, sizeof(buf), "%.4g at step %.0f (%s)",
			 num0(j, "objective"), num0(j, "best_step"),
			 str(j, "objective_metric") ? str(j, "objective_metric")
						    : "");
	else
		snprintf(buf, sizeof(buf), "-");
	summary_row(h, "Trial's best objective", buf);
	snprintf(buf, sizeof(buf), "$%.2f (%s), %.2f h billed%s",
		 num0(j, "cost_usd"),
		 str(j, "cost_quality") ? str(j, "cost_quality") : "estimated",
		 num0(j, "billed_seconds") / 3600.0,
		 num0(j, "simulated") ? ", simulated" : "");
	summary_row(h, "Cost", buf);
	summary_row(h, "Fine-tuned model", str(j, "fine_tuned_model"));
	summary_row(h, "Error", str(j, "error"));
	puts_(h, "</dl>\n<h2>Curve</h2>\n");
	metric_links(h, "/jobs/", r->id, metric, str(j, "objective_metric"));
	rc = store_page_curves(rd, 0, r->id, metric, 1, CURVE_POINTS_MAX, &cv,
			       err, errlen);
	if (rc != 0) {
		*status = rc == -ETIMEDOUT ? 503 : 500;
		cJSON_Delete(j);
		return false;
	}
	render_curves(h, &cv, metric, 0, false);
	store_curves_free(&cv);

	puts_(h, "<h2>Scores</h2>\n<p class=\"note\">Each metric's latest "
		 "value; a grader's scores are among them.</p>\n"
		 "<table id=\"scores\">\n<thead><tr><th class=\"text\">Metric"
		 "</th><th>Step</th><th>Value</th></tr></thead>\n<tbody>\n");
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(j, "latest"))
	{
		const cJSON *v = cJSON_GetArrayItem(row, 2);

		puts_(h, "<tr>");
		td_text(h, cJSON_GetArrayItem(row, 0)->valuestring);
		putf(h, "<td>%.0f</td>",
		     cJSON_GetArrayItem(row, 1)->valuedouble);
		if (cJSON_IsNumber(v))
			putf(h, "<td>%.6g</td>", v->valuedouble);
		else
			puts_(h, "<td></td>");
		puts_(h, "</tr>\n");
	}
	puts_(h, "</tbody></table>\n");

	puts_(h, "<h2>Checkpoints</h2>\n<table id=\"checkpoints\">\n<thead>"
		 "<tr><th>Step</th><th class=\"text\">Model</th>"
		 "<th class=\"text\">Metrics</th><th class=\"text\">At</th>"
		 "</tr></thead>\n<tbody>\n");
	cJSON_ArrayForEach(row,
			   cJSON_GetObjectItemCaseSensitive(j, "checkpoints"))
	{
		const cJSON *m =
		    cJSON_GetObjectItemCaseSensitive(row, "metrics");
		char *ms =
		    m && !cJSON_IsNull(m) ? cJSON_PrintUnformatted(m) : NULL;

		puts_(h, "<tr>");
		td_num(h, row, "step", N_INT);
		td_text(h, str(row, "model"));
		td_text(h, ms);
		fmt_time(when, sizeof(when), num0(row, "at"));
		td_text(h, when);
		puts_(h, "</tr>\n");
		free(ms);
	}
	puts_(h, "</tbody></table>\n");
	if (num0(j, "checkpoints_total") > JOB_LIST_MAX)
		putf(h,
		     "<p class=\"note\">Showing the last %d of %.0f "
		     "checkpoints.</p>\n",
		     JOB_LIST_MAX, num0(j, "checkpoints_total"));

	puts_(h, "<h2>Events</h2>\n<table id=\"events\">\n<thead><tr>"
		 "<th class=\"text\">At</th><th class=\"text\">Level</th>"
		 "<th class=\"text\">Type</th><th class=\"text\">Message</th>"
		 "</tr></thead>\n<tbody>\n");
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(j, "events"))
	{
		puts_(h, "<tr>");
		fmt_time(when, sizeof(when), num0(row, "at"));
		td_text(h, when);
		td_text(h, str(row, "level"));
		td_text(h, str(row, "type"));
		td_text(h, str(row, "message"));
		puts_(h, "</tr>\n");
	}
	puts_(h, "</tbody></table>\n");
	if (num0(j, "events_total") > JOB_LIST_MAX)
		putf(h,
		     "<p class=\"note\">Showing the newest %d of %.0f "
		     "events.</p>\n",
		     JOB_LIST_MAX, num0(j, "events_total"));
	cJSON_Delete(j);
	return live;
}

/* --- budgets ------------------------------------------------------------- */

static bool
render_budgets(struct store_reader *rd, const struct page_env *env,
	       struct html *h, int *status, char *err, size_t errlen)
{
	struct chart_series s = {0};
	struct chart c = {0};
	const cJSON *row;
	cJSON *spend;
	double *x, *y, t0 = 0;
	size_t n = 0;
	int rc;

	puts_(h, "<h1>Budgets</h1>\n<table id=\"budgets\">\n<thead><tr>"
		 "<th class=\"text\">Scope</th><th>Limit</th><th>Spent</th>"
		 "<th>Reserved</th><th>Remaining</th>"
		 "<th class=\"text\">Action</th></tr></thead>\n<tbody>\n");
	cJSON_ArrayForEach(row, env->scopes)
	{
		const char *scope = str(row, "scope");
		const cJSON *name =
		    cJSON_GetObjectItemCaseSensitive(row, "name");

		puts_(h, "<tr><td class=\"text\">");
		if (scope != NULL && strncmp(scope, "sweep:", 6) == 0) {
			char text[200];

			snprintf(text, sizeof(text), "%s%s%s", scope,
				 cJSON_IsString(name) ? " " : "",
				 cJSON_IsString(name) ? name->valuestring : "");
			link_to(h, "/sweeps/", strtoll(scope + 6, NULL, 10),
				text);
		} else {
			esc(h, scope);
		}
		puts_(h, "</td><td>");
		money(h, row, "limit_usd");
		puts_(h, "</td><td>");
		money(h, row, "spent_usd");
		puts_(h, "</td><td>");
		money(h, row, "reserved_usd");
		puts_(h, "</td><td>");
		money(h, row, "remaining_usd");
		puts_(h, "</td>");
		td_text(h, str(row, "action"));
		puts_(h, "</tr>\n");
	}
	puts_(h, "</tbody></table>\n<h2>Spend over time</h2>\n");
	spend = store_page_spend(rd, SPEND_BUCKETS, &rc, err, errlen);
	if (spend == NULL) {
		*status = rc == -ETIMEDOUT ? 503 : 500;
		return false;
	}
	x = xcalloc((size_t)cJSON_GetArraySize(spend) + 1, sizeof(double));
	y = xcalloc((size_t)cJSON_GetArraySize(spend) + 1, sizeof(double));
	cJSON_ArrayForEach(row, spend)
	{
		double at = cJSON_GetArrayItem(row, 0)->valuedouble;

		if (n == 0)
			t0 = at;
		x[n] = (at - t0) / 3600.0;
		y[n] = cJSON_GetArrayItem(row, 1)->valuedouble;
		n++;
	}
	s.label = "all jobs";
	s.x = x;
	s.y = y;
	s.n = n;
	c.x_label = "hours since the first spend";
	c.y_label = "USD spent";
	c.series = &s;
	c.nseries = n > 0 ? 1 : 0;
	puts_(h, "<figure>");
	put_chart(h, "spend", chart_svg(&c));
	puts_(h, "</figure>\n");
	if (n > 0) {
		char when[64];

		fmt_time(when, sizeof(when), t0);
		puts_(h, "<p class=\"note\">From ");
		esc(h, when);
		putf(h, "; $%.2f in all.</p>\n", y[n - 1]);
	} else {
		puts_(h, "<p class=\"note\">Nothing spent yet.</p>\n");
	}
	free(x);
	free(y);
	cJSON_Delete(spend);
	/* Spend moves while anything runs; refreshing is cheap. */
	cJSON_ArrayForEach(row, env->scopes) if (num0(row, "reserved_usd") >
						 0) return true;
	return false;
}

/* --- the page ------------------------------------------------------------ */

void
page_render(const struct page_req *r, const struct page_env *env,
	    struct page_out *out)
{
	struct html h = {.token = env->token}, inner = {.token = env->token};
	struct store_reader *rd;
	char err[512] = "", *title = NULL;
	int status = 200;
	bool live = false;
	double now = now_wall();

	memset(out, 0, sizeof(*out));
	rd = store_reader_open(env->db_path, READ_TIMEOUT_MS, err, sizeof(err));
	if (rd == NULL) {
		page_error(503, "The store cannot be read now.", env->token,
			   out);
		return;
	}
	put(&h, "", 0);
	switch (r->kind) {
	case PAGE_SWEEPS:
		live = render_sweeps(rd, &h, &status, err, sizeof(err));
		title = xstrdup("Sweeps");
		break;
	case PAGE_SWEEP:
		live =
		    render_sweep(rd, r, &h, &title, &status, err, sizeof(err));
		break;
	case PAGE_JOB:
		live = render_job(rd, r, &h, &title, &status, err, sizeof(err));
		break;
	case PAGE_BUDGETS:
		live = render_budgets(rd, env, &h, &status, err, sizeof(err));
		title = xstrdup("Budgets");
		break;
	case PAGE_STATIC:
		status = 404;
		break;
	}
	store_reader_close(rd);
	if (status != 200) {
		free(h.p);
		free(title);
		page_error(status,
			   status == 404   ? err
			   : status == 503 ? "The store is busy; try again."
					   : "The page could not be read.",
			   env->token, out);
		return;
	}
	/* The stamp opens <main>, once whether the page is live is known. */
	stamp(&inner, live, now);
	put(&inner, h.p, h.len);
	free(h.p);
	out->status = 200;
	out->type = "text/html; charset=utf-8";
	finish(r, &inner, title, live, now, out);
	free(title);
}
